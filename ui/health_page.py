"""Webhook health: can Twilio reach us, does the number point here, what was refused.

Shows a :class:`services.health.HealthSnapshot` from a :class:`services.api.HealthApi`:
the public URL and tunnel state, the number's webhook URLs as Twilio has them (and
whether they point here), the last webhook accepted, the rejected requests with the URL
the signature was checked against, and a "Send me a test text" button.

In an office (several PCs on one PostgreSQL database) it also says which PC holds the
number; on a desk client it offers "Take over the number" (the composition root calls
:meth:`HealthPage.refresh` when the holder changes).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from services.api import ConnectionRefused, HealthApi
from services.health import HealthSnapshot, LocationNumber, RefusalCount, WebhookRow
from ui import theme
from ui.messaging_banner import problem_text
from ui.widgets.tasks import TaskRunner

TUNNEL_WORDS = {
    "up": "Connected",
    "connecting": "Connecting…",
    "down": "Down, reconnecting",
    "stopped": "Stopped",
    "none": "No public endpoint",
}
TAKEOVER_PATIENCE_MS = 20_000
REFUSAL_KINDS_SHOWN = 6
UNSAVED_SHOWN = 5


def _when(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def refused_words(counts: list[RefusalCount]) -> str:
    """The refused-request totals in plain words (most first), a line per path and reason."""
    if not counts:
        return "No request has been refused."
    total = sum(c.count for c in counts)
    lines = [f"Refused in all: {total:,} request{'s' if total != 1 else ''}."]
    for c in counts[:REFUSAL_KINDS_SHOWN]:
        lines.append(
            f"• {c.count:,} to {c.path}: {c.reason} (answered {c.status}, last {_when(c.last_at)})"
        )
    if len(counts) > REFUSAL_KINDS_SHOWN:
        rest = sum(c.count for c in counts[REFUSAL_KINDS_SHOWN:])
        lines.append(f"• {rest:,} more for other reasons")
    return "\n".join(lines)


def unsaved_words(call_sids: Sequence[str], text_sids: Sequence[str] = ()) -> str:
    """Calls answered and texts received whose record is not saved, in plain words
    ("" when none)."""
    parts = []
    for sids, one, many in (
        (call_sids, "call answered", "calls answered"),
        (text_sids, "text received", "texts received"),
    ):
        if not sids:
            continue
        n = len(sids)
        shown = ", ".join(sids[-UNSAVED_SHOWN:])
        more = f" and {n - UNSAVED_SHOWN} more" if n > UNSAVED_SHOWN else ""
        parts.append(f"{n} {one if n == 1 else many} but not saved yet ({shown}{more}).")
    if not parts:
        return ""
    return " ".join(parts) + (
        " Frontdesk keeps trying for a while; one still listed here was not saved: the "
        "caller's number is in the log. Free some disk space or check the database "
        "connection."
    )


def numbers_words(numbers: Sequence[LocationNumber], *, desk_client: bool) -> str:
    """One line per location's number: where its calls and texts go, or what is wrong."""
    lines = []
    for n in numbers:
        if n.points_here:
            state = "receiving here" if not desk_client else "at the PC holding the numbers"
        elif n.error:
            state = n.error
        elif desk_client:
            state = "at the PC holding the numbers"
        else:
            state = "not pointed here yet"
        lines.append(f"{n.location} · {n.phone_number}: {state}")
    return "\n".join(lines)


def _label() -> QLabel:
    label = QLabel("—")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class HealthPage(QWidget):
    """The webhook-health page. ``refresh_seconds`` (0 = off) re-reads while visible."""

    def __init__(
        self, api: HealthApi, parent: QWidget | None = None, *, refresh_seconds: float = 10.0
    ) -> None:
        super().__init__(parent)
        self.setObjectName("healthPage")
        self._api = api
        self._tasks = TaskRunner(self)
        self.snapshot: HealthSnapshot | None = None

        self.summary = QLabel("Checking…")
        self.summary.setObjectName("healthSummary")
        self.summary.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)

        office = QGroupBox("Office")
        office.setObjectName("officeBox")
        oform = QFormLayout(office)
        self.this_pc = _label()
        self.holder = _label()
        self.take_over = QPushButton("Take over the number")
        self.take_over.setObjectName("takeOver")
        self.take_over.setToolTip(
            "Ask the PC holding the number to hand it to this PC: Twilio then sends the "
            "calls and texts here"
        )
        self.take_over.clicked.connect(self.request_takeover)
        holder_row = QHBoxLayout()
        holder_row.addWidget(self.holder, 1)
        holder_row.addWidget(self.take_over)
        oform.addRow("This PC:", self.this_pc)
        oform.addRow("Number held by:", holder_row)
        self.office_box = office
        office.hide()  # shown for a shared office database only
        self.take_over.hide()

        endpoint = QGroupBox("Public endpoint")
        form = QFormLayout(endpoint)
        self.public_url = _label()
        self.tunnel_state = _label()
        self.tunnel_error = _label()
        form.addRow("Public URL:", self.public_url)
        form.addRow("Tunnel:", self.tunnel_state)
        form.addRow("Last problem:", self.tunnel_error)

        number = QGroupBox("Business number webhooks (as Twilio has them)")
        nform = QFormLayout(number)
        self.number_line = _label()
        self.voice_url = _label()
        self.sms_url = _label()
        self.status_callback = _label()
        self.fallback_url = _label()
        self.points_here = _label()
        nform.addRow("Number:", self.number_line)
        nform.addRow("Voice URL:", self.voice_url)
        nform.addRow("SMS URL:", self.sms_url)
        nform.addRow("Status callback:", self.status_callback)
        nform.addRow("Voice fallback:", self.fallback_url)
        nform.addRow("Points here:", self.points_here)
        # With several locations: each one's number, and whether it points here.
        self.locations_line = _label()
        self.locations_line.setObjectName("locationNumbers")
        nform.addRow("Every location:", self.locations_line)
        self._locations_row = nform.rowCount() - 1
        self._number_form = nform
        nform.setRowVisible(self._locations_row, False)

        seen = QGroupBox("Webhooks received")
        sform = QVBoxLayout(seen)
        self.last_accepted = _label()
        sform.addWidget(self.last_accepted)
        self.unsaved = _label()
        self.unsaved.setObjectName("unsavedCalls")
        self.unsaved.setStyleSheet(theme.error_style())
        self.unsaved.hide()
        sform.addWidget(self.unsaved)
        self.refused_totals = _label()
        self.refused_totals.setObjectName("refusedTotals")
        sform.addWidget(self.refused_totals)
        sform.addWidget(QLabel("Refused requests (newest first):"))
        self.rejected = QTableWidget(0, 4)
        self.rejected.setHorizontalHeaderLabels(
            ["Time", "Path", "Why", "Signature checked against"]
        )
        self.rejected.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rejected.verticalHeader().setVisible(False)
        self.rejected.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        sform.addWidget(self.rejected)

        test = QGroupBox("Send me a test text")
        tform = QHBoxLayout(test)
        self.test_to = QLineEdit()
        self.test_to.setPlaceholderText("Your mobile, e.g. +15551234567")
        self.test_button = QPushButton("Send me a test text")
        self.test_button.clicked.connect(self.send_test_text)
        self.test_result = _label()
        self.test_result.setText("")
        tform.addWidget(self.test_to, 1)
        tform.addWidget(self.test_button)
        test_box = QVBoxLayout()
        test_box.addWidget(test)
        test_box.addWidget(self.test_result)

        self.texting = QGroupBox("Texting")
        xform = QVBoxLayout(self.texting)
        self.texting_problem = _label()
        self.texting_problem.setTextFormat(Qt.TextFormat.RichText)
        xform.addWidget(self.texting_problem)
        self.texting.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(office)
        layout.addWidget(self.texting)
        layout.addWidget(endpoint)
        layout.addWidget(number)
        layout.addWidget(seen, 1)
        layout.addLayout(test_box)

        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        if refresh_seconds > 0:
            self._timer.setInterval(int(refresh_seconds * 1000))

    # -- life cycle -----------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        if self._timer.interval() > 0:
            self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop refreshing and cancel what is in flight (the app is closing)."""
        self._timer.stop()
        self._tasks.cancel_all()

    # -- actions ------------------------------------------------------------------------------

    def refresh(self) -> None:
        if not self.refresh_button.isEnabled():
            return  # one read at a time
        self.refresh_button.setEnabled(False)
        self._tasks.spawn(
            self._api.health(),
            what="check the webhook health",
            done=self.show_snapshot,
            always=lambda: self.refresh_button.setEnabled(True),
        )

    def request_takeover(self) -> None:
        """Ask the holder for the number; the page refreshes when the holder changes."""
        self.take_over.setEnabled(False)
        self.take_over.setText("Asking…")
        # Offer it again if the number has not come here meanwhile (the holder is gone
        # and another PC was quicker, or the request got lost).
        QTimer.singleShot(TAKEOVER_PATIENCE_MS, self, self._take_over_again)

        def failed(exc: BaseException) -> bool:
            self.take_over.setEnabled(True)
            self.take_over.setText("Take over the number")
            self.holder.setText(f"{self.holder.text()}\nCould not ask for the number: {exc}")
            return True

        self._tasks.spawn(self._api.request_takeover(), what="take over the number", failed=failed)

    def _take_over_again(self) -> None:
        self.take_over.setEnabled(True)
        self.take_over.setText("Take over the number")

    def send_test_text(self) -> None:
        to = self.test_to.text().strip()
        if not to:
            self.test_result.setText("Type the mobile number to text first.")
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Sending…")

        def refused(exc: BaseException) -> bool:
            if isinstance(exc, ConnectionRefused):
                self.test_result.setText(str(exc))
                return True
            return False

        self._tasks.spawn(
            self._api.send_test_text(to),
            what="send the test text",
            done=lambda sid: self.test_result.setText(
                f"Sent to {to} (Twilio message {sid}). It should arrive within a minute."
                if sid
                else f"Handed to the PC that holds the number; it texts {to} at once."
            ),
            failed=refused,
            always=lambda: self.test_button.setEnabled(True),
        )

    # -- showing ---------------------------------------------------------------------------------

    def show_snapshot(self, snap: HealthSnapshot) -> None:
        self.snapshot = snap
        self._show_office(snap)
        if snap.desk_client:
            summary = (
                f"Desk client: {snap.holder} holds the number and receives the calls and "
                "texts; this PC works the inbox, and its replies go out through it."
                if snap.holder
                else "Nobody holds the number right now: this PC is taking it over…"
            )
        elif snap.disconnected:
            summary = "Disconnected: the number has its previous webhooks back."
        elif snap.healthy and snap.messaging is not None:
            summary = "Receiving calls and texts here, but your texts are not getting through."
        elif snap.healthy:
            summary = "Healthy: Twilio sends this number's calls and texts here."
        elif snap.wiring_error:
            summary = f"Not receiving: {snap.wiring_error}"
        elif snap.public_url is None:
            summary = "Not receiving: Twilio cannot reach this PC yet (no public URL)."
        elif snap.number is not None and not snap.number.points_here:
            summary = "Not receiving: the number's webhooks point somewhere else."
        elif snap.unsaved_calls or snap.unsaved_texts:
            summary = (
                "Receiving, but some calls or texts are not saved yet: see "
                '"Webhooks received" below.'
            )
        else:
            summary = snap.number_error or "Not receiving."
        self.summary.setText(summary)

        self.public_url.setText(
            snap.public_url
            or (
                "none: the PC holding the number receives the webhooks"
                if snap.desk_client
                else "none yet"
            )
        )
        self.tunnel_state.setText(TUNNEL_WORDS.get(snap.tunnel_state, snap.tunnel_state))
        problems = [p for p in (snap.tunnel_error, snap.catchup_error) if p]
        self.tunnel_error.setText("\n".join(problems) or "none")

        number = snap.number
        if number is None:
            self.number_line.setText(
                f"{snap.business_number or 'not set'}: {snap.number_error or 'unknown'}"
            )
            for label in (self.voice_url, self.sms_url, self.status_callback, self.fallback_url):
                label.setText("—")
            self.points_here.setText("—")
        else:
            self.number_line.setText(f"{number.phone_number} ({number.sid})")
            self.voice_url.setText(number.voice_url or "(none)")
            self.sms_url.setText(number.sms_url or "(none: texts wait in Twilio's log)")
            self.status_callback.setText(number.status_callback or "(none)")
            self.fallback_url.setText(number.voice_fallback_url or "(none)")
            if snap.desk_client:
                self.points_here.setText(f"No: at {snap.holder or 'the PC holding the number'}")
            elif number.points_here:
                self.points_here.setText("Yes")
            elif number.expected_voice_url:
                self.points_here.setText(f"No (expected {number.expected_voice_url})")
            else:
                self.points_here.setText("No")

        several = len(snap.numbers) > 1
        self._number_form.setRowVisible(self._locations_row, several)
        if several:
            self.locations_line.setText(numbers_words(snap.numbers, desk_client=snap.desk_client))

        last = snap.last_accepted
        self.last_accepted.setText(
            f"Last webhook received: {_when(last.at)} {last.path}"
            if last is not None
            else "No webhook received since Frontdesk started."
        )
        self.unsaved.setText(unsaved_words(snap.unsaved_calls, snap.unsaved_texts))
        self.unsaved.setVisible(bool(snap.unsaved_calls or snap.unsaved_texts))
        self.refused_totals.setText(refused_words(snap.refused))
        self._fill_rejected(snap.rejected)
        problem = snap.messaging
        self.texting.setVisible(problem is not None)
        if problem is not None:
            headline, details = problem_text(problem)
            self.texting_problem.setText(f"<b>{html.escape(headline)}</b><br>{details}")

    def _show_office(self, snap: HealthSnapshot) -> None:
        self.office_box.setVisible(snap.office_shared)
        if not snap.office_shared:
            return
        self.this_pc.setText(snap.pc_name)
        if snap.holding:
            self.holder.setText(f"{snap.pc_name} (this PC)")
        else:
            self.holder.setText(snap.holder or "nobody right now")
        asking = not self.take_over.isEnabled()
        offer = snap.desk_client and snap.holder is not None
        self.take_over.setVisible(offer)
        if not offer or not asking:
            self.take_over.setEnabled(True)
            self.take_over.setText("Take over the number")

    def _fill_rejected(self, rows: list[WebhookRow]) -> None:
        self.rejected.setRowCount(len(rows))
        for i, row in enumerate(rows):
            values = (
                _when(row.at),
                row.path,
                f"{row.status}: {row.reason or ''}".rstrip(": "),
                row.checked_url or "(no check ran)",
            )
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.rejected.setItem(i, col, item)
