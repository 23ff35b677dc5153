"""“This office shares a database”: the PostgreSQL address every PC of the office uses.

A thin view over :class:`services.api.OfficeDatabaseApi`: the address and password are
tested on the spot (:meth:`OfficeDatabaseBox.test`), stored for this PC's next start
only when the test passes (:meth:`join`), or dropped (:meth:`leave`). The password field
is never filled from storage.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
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

from services.api import ConnectionRefused, OfficeDatabaseApi
from services.health import DatabaseCheck, OfficeDatabaseDetails
from ui import theme
from ui.widgets.tasks import TaskRunner

INTRO = (
    "Several PCs in one office work on the same customers when they share one "
    "PostgreSQL database: one of them receives the calls and texts, every PC sees every "
    "change within a second. Each PC stores the address for itself; the password goes to "
    "this PC's keyring. SQLite, the single-PC default, cannot be shared."
)


class OfficeDatabaseBox(QGroupBox):
    """``first_run``: shown by the first-run wizard, where the app starts on the joined
    database right after (no restart to ask for). :attr:`joined` is emitted once a
    database passed the test and was stored for this PC, :attr:`left` once it was dropped."""

    joined = Signal(object)  # the DatabaseCheck that passed
    left = Signal()  # this PC uses its own database again

    def __init__(
        self, api: OfficeDatabaseApi, parent: QWidget | None = None, *, first_run: bool = False
    ) -> None:
        super().__init__("This office shares a database", parent)
        self.setObjectName("officeDatabaseBox")
        self._api = api
        self._first_run = first_run
        self.tasks = TaskRunner(self)
        self.details: OfficeDatabaseDetails | None = None
        self.last_check: DatabaseCheck | None = None

        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        self.in_use = QLabel("—")
        self.in_use.setWordWrap(True)
        self.url = QLineEdit()
        self.url.setObjectName("officeDatabaseUrl")
        self.url.setPlaceholderText("postgresql://frontdesk@office-server:5432/frontdesk")
        self.url.setAccessibleName("Office database address")
        self.password = QLineEdit()
        self.password.setObjectName("officeDatabasePassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("The database user's password")
        self.password.setAccessibleName("Office database password")
        self.test_button = QPushButton("Test")
        self.test_button.clicked.connect(self.test)
        self.join_button = QPushButton("Use this database")
        self.join_button.setObjectName("joinOfficeDatabase")
        self.join_button.clicked.connect(self.join)
        self.leave_button = QPushButton("Use this PC's own database")
        self.leave_button.clicked.connect(self.leave)
        self.result = QLabel("")
        self.result.setObjectName("officeDatabaseResult")
        self.result.setWordWrap(True)

        form = QFormLayout()
        form.addRow("In use:", self.in_use)
        form.addRow("Address:", self.url)
        form.addRow("Password:", self.password)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.join_button)
        buttons.addStretch(1)
        buttons.addWidget(self.leave_button)
        column = QVBoxLayout(self)
        column.addWidget(intro)
        column.addLayout(form)
        column.addLayout(buttons)
        column.addWidget(self.result)

    def load(self) -> None:
        self.tasks.spawn(
            self._api.details(), what="read the database in use", done=self.show_details
        )

    def show_details(self, details: OfficeDatabaseDetails) -> None:
        self.details = details
        where = details.in_use
        if details.source == "environment":
            text = f"{where} (set by FRONTDESK_DATABASE_URL on this PC: it overrides this box)"
        elif details.shared:
            text = f"{where}: the office's database"
        elif self._first_run and details.joined:
            text = f"{details.joined}: the office's database, from when you finish"
        else:
            text = f"this PC's own database ({where})"
        if details.restart_needed and not self._first_run:
            text += "\nRestart Frontdesk to switch to " + (
                details.joined or "this PC's own database"
            )
        self.in_use.setText(text)
        if details.joined and not self.url.text():
            self.url.setText(details.joined)
        self.leave_button.setEnabled(bool(details.joined))

    def _busy(self, busy: bool, text: str = "") -> None:
        for button in (self.test_button, self.join_button, self.leave_button):
            button.setEnabled(not busy)
        if busy:
            self._say(text)
        elif self.details is not None:
            self.leave_button.setEnabled(bool(self.details.joined))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.result.setText(text)
        self.result.setStyleSheet(theme.error_style() if error else "")

    def _checked(self, check: DatabaseCheck, success: str) -> None:
        self.last_check = check
        if check.ok:
            self._say(success.format(version=check.server_version))
        else:
            self._say(check.problem, error=True)

    def test(self) -> None:
        self._busy(True, "Testing…")
        self.tasks.spawn(
            self._api.test(self.url.text(), self.password.text()),
            what="test the office database",
            done=lambda c: self._checked(c, "Works: PostgreSQL {version}, ready to share."),
            always=lambda: self._busy(False),
        )

    def join(self) -> None:
        self._busy(True, "Testing…")

        def done(check: DatabaseCheck) -> None:
            self._checked(
                check,
                "Saved for this PC: Frontdesk works on the office's database when you "
                "finish (PostgreSQL {version})."
                if self._first_run
                else "Saved for this PC. Restart Frontdesk to work on the office's database "
                "(PostgreSQL {version}).",
            )
            if check.ok:
                self.password.clear()
                self.load()
                self.joined.emit(check)

        def refused(exc: BaseException) -> bool:
            if isinstance(exc, ConnectionRefused):
                self._say(str(exc), error=True)
                return True
            return False

        self.tasks.spawn(
            self._api.join(self.url.text(), self.password.text()),
            what="join the office database",
            done=done,
            failed=refused,
            always=lambda: self._busy(False),
        )

    def leave(self) -> None:
        self._busy(True, "")

        def done(details: OfficeDatabaseDetails) -> None:
            self.url.clear()
            self.show_details(details)
            self._say("This PC uses its own database from the next start.")
            self.left.emit()

        self.tasks.spawn(
            self._api.leave(),
            what="leave the office database",
            done=done,
            always=lambda: self._busy(False),
        )

    def shutdown(self) -> None:
        self.tasks.cancel_all()
