"""The "Twilio account & connection" group: credentials, tunnel, Test / Disconnect.

Talks to a :class:`services.api.ConnectionApi` only. Secret fields (auth token, API key
secret, ngrok authtoken) are password fields that are never filled from storage: when
a secret is stored the field says so in its placeholder, and leaving it empty keeps it.
Problems (a refused token, no keyring on this machine with the environment-variable
hint, a number that cannot text) are shown in words under the buttons.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.api import ConnectionApi, ConnectionRefused
from services.health import AccountCheckResult, ConnectionDetails, ConnectionEntry
from ui.widgets.tasks import TaskRunner

STORED = "stored: leave empty to keep it"


def _secret(placeholder: str) -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setPlaceholderText(placeholder)
    return field


class ConnectionBox(QGroupBox):
    """Account SID, auth token, optional API key, ngrok authtoken, fixed public URL."""

    saved = Signal(object)  # ConnectionDetails
    number_disconnected = Signal()

    def __init__(
        self,
        api: ConnectionApi,
        parent: QWidget | None = None,
        *,
        title: str = "Twilio account && connection",  # && shows one & (no mnemonic)
    ) -> None:
        super().__init__(title, parent)
        self.setObjectName("connectionBox")
        self._api = api
        self._tasks = TaskRunner(self)
        self.details: ConnectionDetails | None = None

        self.account_sid = QLineEdit()
        self.account_sid.setPlaceholderText("AC… (Twilio Console home page)")
        self.auth_token = _secret("Auth token")
        self.api_key_sid = QLineEdit()
        self.api_key_sid.setPlaceholderText("Optional: SK…")
        self.api_key_secret = _secret("Optional: the API key's secret")
        self.ngrok_token = _secret("ngrok authtoken (dashboard.ngrok.com)")
        self.public_url = QLineEdit()
        self.public_url.setPlaceholderText(
            "Optional: https://frontdesk.example.com (then no ngrok tunnel is opened)"
        )

        form = QFormLayout()
        form.addRow("Account SID:", self.account_sid)
        form.addRow("Auth token:", self.auth_token)
        form.addRow("API key SID:", self.api_key_sid)
        form.addRow("API key secret:", self.api_key_secret)
        form.addRow("ngrok authtoken:", self.ngrok_token)
        form.addRow("Fixed public URL:", self.public_url)

        self.save_button = QPushButton("Save")
        self.test_button = QPushButton("Test connection")
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.setToolTip(
            "Give the Twilio number back the webhooks it had before Frontdesk"
        )
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test_connection)
        self.disconnect_button.clicked.connect(self.disconnect_number)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.disconnect_button)

        self.source = QLabel("")
        self.source.setWordWrap(True)
        self.status = QLabel("")
        self.status.setObjectName("connectionStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.source)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self._buttons = (self.save_button, self.test_button, self.disconnect_button)
        self.load()

    # -- helpers ---------------------------------------------------------------------------

    def _busy(self, busy: bool) -> None:
        for button in self._buttons:
            button.setEnabled(not busy)

    def _refused(self, exc: BaseException) -> bool:
        if isinstance(exc, ConnectionRefused):
            self.status.setText(str(exc))
            return True
        return False

    def entry(self) -> ConnectionEntry:
        return ConnectionEntry(
            account_sid=self.account_sid.text().strip(),
            auth_token=self.auth_token.text().strip(),
            api_key_sid=self.api_key_sid.text().strip(),
            api_key_secret=self.api_key_secret.text().strip(),
            ngrok_authtoken=self.ngrok_token.text().strip(),
            public_url=self.public_url.text().strip(),
        )

    # -- actions -----------------------------------------------------------------------------

    def load(self) -> None:
        self._tasks.spawn(
            self._api.details(), what="read the connection settings", done=self.show_details
        )

    def show_details(self, details: ConnectionDetails) -> None:
        self.details = details
        self.account_sid.setText(details.account_sid)
        self.api_key_sid.setText(details.api_key_sid)
        self.public_url.setText(details.public_url)
        for field, stored, empty in (
            (self.auth_token, details.has_auth_token, "Auth token"),
            (self.api_key_secret, details.has_api_key_secret, "Optional: the API key's secret"),
            (
                self.ngrok_token,
                details.has_ngrok_authtoken,
                "ngrok authtoken (dashboard.ngrok.com)",
            ),
        ):
            field.clear()
            field.setPlaceholderText(STORED if stored else empty)
        lines = []
        if details.source == "environment":
            lines.append("Credentials come from environment variables (they override the keyring).")
        if not details.keyring_usable:
            lines.append(details.keyring_message)
        if details.restart_needed:
            lines.append("Saved. Restart Frontdesk to use the new credentials.")
        self.source.setText("\n".join(lines))

    def save(self) -> None:
        self._busy(True)
        self.status.setText("Saving…")

        def done(details: ConnectionDetails) -> None:
            self.status.setText("Saved in the system keyring.")
            self.show_details(details)
            self.saved.emit(details)

        self._tasks.spawn(
            self._api.save(self.entry()),
            what="save the connection settings",
            done=done,
            failed=self._refused,
            always=lambda: self._busy(False),
        )

    def test_connection(self) -> None:
        self._busy(True)
        self.status.setText("Asking Twilio…")
        self._tasks.spawn(
            self._api.test_connection(self.entry()),
            what="test the connection",
            done=self.show_check,
            failed=self._refused,
            always=lambda: self._busy(False),
        )

    def show_check(self, result: AccountCheckResult) -> None:
        if result.ok:
            self.status.setText(
                f"Connection works: account {result.account_name}, number {result.number_sid}."
            )
        else:
            self.status.setText("\n".join(f"• {p}" for p in result.problems))

    def disconnect_number(self) -> None:
        self._busy(True)
        self.status.setText("Giving the number back its previous webhooks…")

        def done(_: None) -> None:
            self.status.setText(
                "Disconnected: the number has its previous webhooks back. Frontdesk no "
                "longer receives its calls and texts until it is connected again."
            )
            self.number_disconnected.emit()

        self._tasks.spawn(
            self._api.disconnect(),
            what="disconnect the number",
            done=done,
            failed=self._refused,
            always=lambda: self._busy(False),
        )

    def shutdown(self) -> None:
        """Cancel what is still loading or saving (the app is closing)."""
        self._tasks.cancel_all()
