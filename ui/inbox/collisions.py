"""Two people answering one customer, on two PCs: "Dana is replying…" above the composer,
and a question before sending into a thread a colleague answered in the last 30 s.

:class:`CollisionGuard` is the Inbox page's helper: it tells the other PCs when this one
types (:class:`services.api.PresenceApi`), shows who else is typing in the open thread
(the event bridge's ``colleagueTyping``; a name goes away
:data:`~services.collisions.TYPING_TTL_SECONDS` after the last sign of typing), and
checks a send with :func:`services.collisions.colleague_reply` on a fresh read of the
thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from services.api import InboxApi, PresenceApi
from services.collisions import TypingBoard, colleague_reply, replying_text
from services.snapshots import MessageItem, ThreadItem
from ui.widgets.tasks import TaskRunner


def _ago(seconds: float) -> str:
    whole = max(0, int(seconds))
    return "just now" if whole < 2 else f"{whole} seconds ago"


class CollisionGuard(QObject):
    """``now`` gives the time messages are stamped with (the runtime's clock);
    ``monotonic`` times the typing signals (tests drive both)."""

    def __init__(
        self,
        inbox: InboxApi,
        presence: PresenceApi | None,
        tasks: TaskRunner,
        parent: QWidget,
        *,
        now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self._inbox = inbox
        self._presence = presence
        self._tasks = tasks
        self._parent = parent
        self.now = now or (lambda: datetime.now(UTC))
        self.monotonic = monotonic
        self.board = TypingBoard()
        self.contact_id: int | None = None
        self.sent_ids: set[int] = set()  # replies sent from this screen: never a colleague's
        self.box: QMessageBox | None = None  # the open "send anyway?" question (tests answer)
        self.label = QLabel(parent)
        self.label.setObjectName("replyingLabel")
        self.label.setProperty("role", "muted")
        self.label.setContentsMargins(14, 4, 14, 0)
        self.label.setAccessibleName("Who else is replying")
        font = self.label.font()
        font.setItalic(True)
        self.label.setFont(font)
        self.label.hide()
        self._expiry = QTimer(self)
        self._expiry.setInterval(1000)
        self._expiry.timeout.connect(self.refresh)

    # ---- who is typing ----------------------------------------------------------------------
    def show_contact(self, contact_id: int | None) -> None:
        self.contact_id = contact_id
        self.refresh()

    def colleague_typing(self, contact_id: int, who: str, active: bool) -> None:
        """The bridge's ``colleagueTyping``."""
        if active:
            self.board.seen(contact_id, who, self.monotonic())
        else:
            self.board.stopped(contact_id, who)
        self.refresh()

    def refresh(self) -> None:
        """Show who is replying in the open thread; forget signals that ran out."""
        now = self.monotonic()
        self.board.expire(now)
        names = self.board.typing(self.contact_id, now) if self.contact_id is not None else []
        text = replying_text(names)
        self.label.setText(text)
        self.label.setVisible(bool(text))
        if self.board and not self._expiry.isActive():
            self._expiry.start()
        elif not self.board:
            self._expiry.stop()

    def typed(self, contact_id: int, who: str) -> None:
        """This PC's person typed in ``contact_id``'s composer."""
        if self._presence is not None:
            self._presence.typing(contact_id, who)

    def sent(self, contact_id: int, who: str, message_id: int | None) -> None:
        if message_id is not None:
            self.sent_ids.add(message_id)
        if self._presence is not None:
            self._presence.stopped(contact_id, who)

    # ---- before sending ---------------------------------------------------------------------
    def check(
        self,
        contact_id: int,
        me: str | None,
        title: str,
        send: Callable[[], None],
        cancel: Callable[[], None],
    ) -> None:
        """Call ``send()`` at once, or, when a colleague replied into this thread in the
        last 30 s, after the person confirms (``cancel()`` when they do not)."""

        def checked(items: list[ThreadItem]) -> None:
            reply = colleague_reply(items, now=self.now(), me=me, mine=self.sent_ids)
            if reply is None:
                send()
            else:
                self._ask(reply, title, send, cancel)

        def failed(_exc: BaseException) -> bool:
            send()  # the check is a courtesy: never lose a reply to it
            return True

        self._tasks.spawn(
            self._inbox.thread(contact_id),
            what="check for a colleague's reply",
            done=checked,
            failed=failed,
        )

    def _ask(
        self, reply: MessageItem, title: str, send: Callable[[], None], cancel: Callable[[], None]
    ) -> None:
        who = reply.author or "A colleague"
        seconds = (self.now() - reply.at).total_seconds()
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Frontdesk")
        box.setText(f"{who} replied to {title} {_ago(seconds)}.")
        quoted = reply.body if len(reply.body) <= 160 else reply.body[:157] + "…"
        box.setInformativeText(f"“{quoted}”\n\nSend your reply too?")
        box.setTextFormat(Qt.TextFormat.PlainText)
        send_button = box.addButton("Send anyway", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Don't send", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)

        def answered() -> None:
            self.box = None
            if box.clickedButton() is send_button:
                send()
            else:
                cancel()

        box.finished.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.box = box
        box.open()  # not exec(): the loop keeps running while the question is open
