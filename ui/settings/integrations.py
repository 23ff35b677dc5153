"""Settings → Integrations: outbound webhook endpoints with their delivery log, and HubSpot.

Talks only to :class:`services.integrations.api.IntegrationsApi`. The log shows each
delivery's time, event, status, response code and the line saying what happened, with a
Replay button; it refreshes every few seconds while shown.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from services.integrations.api import DeliveryView, EndpointView, IntegrationsApi
from ui.settings.fields import ErrorLabel, hint_label
from ui.widgets.tasks import TaskRunner

STATE_WORDS = {
    "pending": "Retrying",
    "sending": "Sending",
    "delivered": "Delivered",
    "failed": "Failed",
}
COLUMNS = ("Time", "Event", "Status", "Code", "What happened", "")


def _status(view: EndpointView) -> str:
    if not view.enabled:
        return "off"
    if view.failing_since is not None:
        return "failing"
    return "on"


class IntegrationsBox(QWidget):
    def __init__(self, api: IntegrationsApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("integrationsBox")
        self._api = api
        self.tasks = TaskRunner(self)
        self._endpoints: list[EndpointView] = []
        self.deliveries: list[DeliveryView] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)

        hooks = QGroupBox("Outbound webhooks")
        layout = QVBoxLayout(hooks)
        layout.addWidget(
            hint_label(
                "Frontdesk POSTs each event (missed call, text sent / delivered / failed, "
                "reply, voicemail and its transcript, contact updated or booked, "
                "conversation closed) to these URLs, "
                "signed per the Standard Webhooks spec. https only (http to localhost "
                "for development). Zapier, Make and n8n accept them as catch hooks."
            )
        )
        add_row = QHBoxLayout()
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://hooks.example.com/frontdesk")
        self.url.setAccessibleName("Endpoint URL")
        self.add_button = QPushButton("Add endpoint")
        self.add_button.clicked.connect(self._add)
        self.url.returnPressed.connect(self._add)
        add_row.addWidget(self.url, 1)
        add_row.addWidget(self.add_button)
        layout.addLayout(add_row)
        self.url_error = ErrorLabel()
        layout.addWidget(self.url_error)
        self.secret_note = QLabel()
        self.secret_note.setWordWrap(True)
        self.secret_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.secret_note.hide()
        layout.addWidget(self.secret_note)

        self.list = QListWidget()
        self.list.setObjectName("endpointList")
        self.list.currentRowChanged.connect(lambda _row: self._load_log())
        layout.addWidget(self.list)
        self.notice = QLabel()
        self.notice.setObjectName("endpointNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b3261e;")
        self.notice.hide()
        layout.addWidget(self.notice)
        buttons = QHBoxLayout()
        self.test_button = QPushButton("Send a test event")
        self.test_button.clicked.connect(self._send_test)
        self.toggle_button = QPushButton("Turn off")
        self.toggle_button.clicked.connect(self._toggle)
        self.secret_button = QPushButton("Copy signing secret")
        self.secret_button.clicked.connect(self._copy_secret)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove)
        for button in (self.test_button, self.toggle_button, self.secret_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        layout.addLayout(buttons)

        layout.addWidget(QLabel("<b>Delivery log</b>"))
        self.log = QTableWidget(0, len(COLUMNS))
        self.log.setObjectName("deliveryLog")
        self.log.setHorizontalHeaderLabels(COLUMNS)
        self.log.verticalHeader().hide()
        self.log.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.log.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.log.setWordWrap(False)
        self.log.setMinimumHeight(220)
        header = self.log.horizontalHeader()
        for i in range(len(COLUMNS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.log, 1)
        column.addWidget(hooks, 1)

        hub = QGroupBox("HubSpot")
        hub_layout = QVBoxLayout(hub)
        hub_layout.addWidget(
            hint_label(
                "Missed calls and texts are logged on the HubSpot contact (found by phone "
                "number, created if new); a booking becomes a closed-won deal with its "
                "value. Create a private app in HubSpot (contacts and deals read/write) and "
                "paste its access token: it is kept in this PC's keyring."
            )
        )
        token_row = QHBoxLayout()
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("pat-na1-…")
        self.token.setAccessibleName("HubSpot access token")
        self.token_button = QPushButton("Save token")
        self.token_button.clicked.connect(self._save_token)
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.token_button)
        hub_layout.addLayout(token_row)
        self.hub_status = QLabel("Not connected.")
        self.hub_status.setObjectName("hubspotStatus")
        self.hub_status.setWordWrap(True)
        hub_layout.addWidget(self.hub_status)
        column.addWidget(hub)

        self._timer = QTimer(self)
        self._timer.setInterval(3000)
        self._timer.timeout.connect(self.refresh)
        self._update_buttons()

    # ---- loading ----------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()

    def refresh(self) -> None:
        self.tasks.spawn(self._api.endpoints(), what="load the integrations", done=self._show)

    def _current(self) -> EndpointView | None:
        row = self.list.currentRow()
        return self._endpoints[row] if 0 <= row < len(self._endpoints) else None

    def _show(self, views: list[EndpointView]) -> None:
        current = self._current()
        keep = current.id if current else None
        self._endpoints = views
        self.list.blockSignals(True)
        self.list.clear()
        select = 0
        for i, view in enumerate(views):
            counts = f"{view.delivered} delivered, {view.pending} waiting, {view.failed} failed"
            item = QListWidgetItem(f"{view.title}  ·  {_status(view)}  ·  {counts}")
            self.list.addItem(item)
            if view.id == keep:
                select = i
        self.list.blockSignals(False)
        # As tall as its endpoints (2 to 4 rows, then it scrolls): the delivery log
        # below gets the rest, which matters on a 1024x700 screen.
        shown = max(2, min(4, len(views)))
        row_height = self.list.sizeHintForRow(0) if views else self.list.fontMetrics().height()
        self.list.setFixedHeight(row_height * shown + 2 * self.list.frameWidth() + 6)
        if views:
            self.list.setCurrentRow(select)
        hub = next((v for v in views if v.kind == "hubspot"), None)
        if hub is None:
            self.hub_status.setText("Not connected.")
        else:
            last = f" Last: {hub.last_result}." if hub.last_result else ""
            state = "Connected" if hub.enabled else "Turned off"
            self.hub_status.setText(f"{state}: {hub.delivered} sent, {hub.pending} waiting.{last}")
        self._update_buttons()
        self._load_log()

    def _load_log(self) -> None:
        view = self._current()
        self._update_buttons()
        if view is None:
            self._fill_log([])
            return
        self.tasks.spawn(
            self._api.deliveries(view.id), what="load the delivery log", done=self._fill_log
        )

    def _fill_log(self, rows: list[DeliveryView]) -> None:
        self.deliveries = rows
        self.log.setRowCount(len(rows))
        today = datetime.now().astimezone().date()
        for i, row in enumerate(rows):
            local = row.at.astimezone()
            # Today's rows by the clock alone: the narrow log keeps room for what happened.
            when = local.strftime("%H:%M:%S" if local.date() == today else "%b %d %H:%M")
            status = STATE_WORDS.get(row.state, row.state)
            if row.state == "pending" and row.attempts == 0:
                status = "Queued"
            if row.attempts > 1:
                status += f" ({row.attempts} tries)"
            happened = row.result or ""
            if row.state == "delivered":
                # "delivered: HTTP 200" says again what Status and Code say: keep the rest.
                happened = happened.removeprefix("delivered: ")
            cells = (when, row.event_type, status, str(row.response_code or "—"), happened)
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(row.result or "")
                if j == 2 and row.state == "failed":
                    item.setForeground(Qt.GlobalColor.red)
                self.log.setItem(i, j, item)
            replay = QPushButton("Replay")
            replay.setObjectName(f"replay-{row.id}")
            replay.setEnabled(row.state in ("delivered", "failed"))
            replay.clicked.connect(lambda _=False, rid=row.id: self.replay(rid))
            self.log.setCellWidget(i, 5, replay)

    def _update_buttons(self) -> None:
        view = self._current()
        has = view is not None
        for button in (self.test_button, self.toggle_button, self.remove_button):
            button.setEnabled(has)
        self.secret_button.setEnabled(has and view is not None and view.kind == "webhook")
        self.toggle_button.setText(
            "Turn on" if view is not None and not view.enabled else "Turn off"
        )
        if view is not None and view.disabled_reason:
            self.notice.setText(view.disabled_reason)
            self.notice.show()
        else:
            self.notice.hide()

    # ---- actions -----------------------------------------------------------------------
    def _refused(self, exc: BaseException) -> bool:
        if isinstance(exc, ValueError):
            self.url_error.show_error(str(exc))
            return True
        return False

    def _add(self) -> None:
        url = self.url.text()
        self.url_error.show_error(None)

        def added(new: object) -> None:
            self.url.clear()
            secret = getattr(new, "secret", "")
            self.secret_note.setText(
                "Added. Its signing secret (verify the webhook-signature header with it; "
                f"also under “Copy signing secret”):<br><code>{secret}</code>"
            )
            self.secret_note.show()
            self.refresh()

        self.tasks.spawn(
            self._api.add_webhook(url), what="add the endpoint", done=added, failed=self._refused
        )

    def _send_test(self) -> None:
        view = self._current()
        if view is not None:
            self.tasks.spawn(
                self._api.send_test(view.id),
                what="send a test event",
                done=lambda _: self.refresh(),
            )

    def _toggle(self) -> None:
        view = self._current()
        if view is not None:
            self.tasks.spawn(
                self._api.set_enabled(view.id, not view.enabled),
                what="turn the endpoint on or off",
                done=lambda _: self.refresh(),
            )

    def _remove(self) -> None:
        view = self._current()
        if view is not None:
            self.tasks.spawn(
                self._api.remove(view.id), what="remove the endpoint", done=lambda _: self.refresh()
            )

    def _copy_secret(self) -> None:
        view = self._current()
        if view is None:
            return

        def copy(secret: str | None) -> None:
            QGuiApplication.clipboard().setText(secret or "")
            self.secret_note.setText(
                "Signing secret copied." if secret else "This PC's keyring has no secret for it."
            )
            self.secret_note.show()

        self.tasks.spawn(self._api.signing_secret(view.id), what="read the secret", done=copy)

    def replay(self, delivery_id: int) -> None:
        self.tasks.spawn(
            self._api.replay(delivery_id), what="replay the delivery", done=lambda _: self.refresh()
        )

    def _save_token(self) -> None:
        token = self.token.text()

        def saved(_view: object) -> None:
            self.token.clear()
            self.refresh()

        def refused(exc: BaseException) -> bool:
            if isinstance(exc, ValueError):
                self.hub_status.setText(str(exc))
                return True
            return False

        self.tasks.spawn(
            self._api.set_hubspot_token(token), what="save the token", done=saved, failed=refused
        )
