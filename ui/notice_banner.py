"""Notifications inside the window: what is true about text-back, and what just happened.

Two parts, both above the pages:

- the **state line** ("Text-back is off: …"), read from
  :meth:`services.api.DeskStatusApi.textback_notice`; shown exactly while it is true,
  always in the window (a tray balloon would be gone in seconds). Re-read on
  :meth:`refresh` (settings or the office changed) and every ``refresh_seconds`` (the
  wiring has no event of its own);
- **news** ("Missed call from …", "New text from …") posted with :meth:`notify`, for a PC
  without a system tray (with one, the tray shows them). The newest few are kept; one
  goes away when its conversation is opened (:meth:`seen`) or with its × button.

:attr:`NoticeBanner.openContact` asks to open a notice's conversation;
:attr:`NoticeBanner.openPage` asks for the page where the state line's cause is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from services.api import DeskStatusApi
from services.desk_status import TextbackNotice
from ui import theme
from ui.widgets.tasks import TaskRunner

MAX_NEWS = 3  # the newest few; older ones are in the inbox anyway

_PAGE_WORDS = {"settings": "Open Settings", "connection": "Open Connection"}


@dataclass(frozen=True, slots=True)
class News:
    title: str
    text: str
    contact_id: int | None


class _NewsRow(QWidget):
    def __init__(self, news: News, banner: NoticeBanner) -> None:
        super().__init__(banner)
        self.news = news
        self.label = QLabel(f"<b>{_escape(news.title)}</b> {_escape(news.text)}", self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        if news.contact_id is not None:
            self.open_button = QPushButton("Open", self)
            self.open_button.clicked.connect(lambda: banner.openContact.emit(news.contact_id))
            row.addWidget(self.open_button)
        self.close_button = QToolButton(self)
        self.close_button.setText("×")
        self.close_button.setAccessibleName("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(lambda: banner.dismiss(self))
        row.addWidget(self.close_button)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class NoticeBanner(QFrame):
    """``NoticeBanner(api)``; hidden while there is nothing to say."""

    openContact = Signal(int)
    openPage = Signal(str)

    def __init__(
        self, api: DeskStatusApi, parent: QWidget | None = None, *, refresh_seconds: float = 10.0
    ) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        bg, fg, border = theme.note_colors(self.palette())  # readable light and dark
        self.setStyleSheet(
            f"#noticeBanner {{ background: {bg.name()}; border: 1px solid {border.name()}; }}"
            f"#noticeBanner QLabel {{ color: {fg.name()}; }}"
        )
        self.setAccessibleName("Notifications")
        self._api = api
        self._tasks = TaskRunner(self, quiet=True)
        self.notice: TextbackNotice | None = None
        self.news: list[_NewsRow] = []

        self.state = QLabel(self)
        self.state.setObjectName("textbackState")
        self.state.setWordWrap(True)
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        font = self.state.font()
        font.setBold(True)
        self.state.setFont(font)
        self.fix_button = QPushButton(self)
        self.fix_button.clicked.connect(self._fix)
        self.state_row = QWidget(self)
        state_layout = QHBoxLayout(self.state_row)
        state_layout.setContentsMargins(0, 0, 0, 0)
        state_layout.addWidget(self.state, 1)
        state_layout.addWidget(self.fix_button, 0, Qt.AlignmentFlag.AlignTop)
        self.state_row.hide()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(12, 6, 12, 6)
        self._layout.setSpacing(4)
        self._layout.addWidget(self.state_row)
        self.hide()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        if refresh_seconds > 0:
            self._timer.start(int(refresh_seconds * 1000))

    # ---- the state line --------------------------------------------------------------------
    def refresh(self) -> None:
        """Read what is true now (one read at a time)."""
        if self._tasks.pending:
            return
        self._tasks.spawn(
            self._api.textback_notice(), what="check text-back", done=self.show_notice
        )

    def show_notice(self, notice: TextbackNotice | None) -> None:
        self.notice = notice
        if notice is not None:
            self.state.setText(notice.headline)
            self.fix_button.setText(_PAGE_WORDS.get(notice.fix_page, "Open"))
        self.state_row.setVisible(notice is not None)
        self._update_visible()

    def _fix(self) -> None:
        if self.notice is not None:
            self.openPage.emit(self.notice.fix_page)

    # ---- news ------------------------------------------------------------------------------
    def notify(self, title: str, text: str, contact_id: int | None = None) -> None:
        """Show ``title`` and ``text`` (newest first); a newer one about the same
        conversation replaces the older."""
        for row in [
            r for r in self.news if contact_id is not None and r.news.contact_id == contact_id
        ]:
            self._remove(row)
        row = _NewsRow(News(title, text, contact_id), self)
        self.news.insert(0, row)
        self._layout.insertWidget(1, row)
        for old in self.news[MAX_NEWS:]:
            self._remove(old)
        self._update_visible()

    def seen(self, contact_id: int) -> None:
        """The conversation was opened: its news is no longer news."""
        for row in [r for r in self.news if r.news.contact_id == contact_id]:
            self._remove(row)
        self._update_visible()

    def dismiss(self, row: _NewsRow) -> None:
        self._remove(row)
        self._update_visible()

    def news_titles(self) -> list[str]:
        return [r.news.title for r in self.news]

    def _remove(self, row: _NewsRow) -> None:
        if row in self.news:
            self.news.remove(row)
        row.hide()
        self._layout.removeWidget(row)
        row.deleteLater()

    def _update_visible(self) -> None:
        self.setVisible(self.notice is not None or bool(self.news))

    def shutdown(self) -> None:
        self._timer.stop()
        self._tasks.cancel_all()
