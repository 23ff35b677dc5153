"""The banner that says, in plain words, that every text is failing and how to fix it.

Shows a :class:`services.health.MessagingProblem` read from
:meth:`services.api.HealthApi.messaging_problem`; hidden while there is none. Re-reads
every ``refresh_seconds`` and when :meth:`refresh` is called (a message changed).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from services import phones
from services.api import HealthApi
from services.health import MessagingProblem
from ui.widgets.tasks import TaskRunner


def problem_text(problem: MessagingProblem) -> tuple[str, str]:
    """(headline, details) of the banner, details as simple rich text."""
    since = problem.since.astimezone().strftime("%b %d")
    texts = "text" if problem.failed_count == 1 else "texts"
    headline = f"{problem.title} {problem.failed_count} {texts} failed since {since}."
    if problem.location:  # one location's number, when the office has several
        number = phones.format_for_display(problem.number) if problem.number else ""
        where = f"{problem.location} · {number}" if number else problem.location
        headline = f"{where}: {headline}"
    steps = "".join(f"<li>{step}</li>" for step in problem.steps)
    details = f"{problem.meaning}<br><b>To fix it:</b><ol style='margin:0'>{steps}</ol>"
    return headline, details


class MessagingBanner(QFrame):
    """A strip above the pages; "Details" unfolds what it means and the steps."""

    def __init__(
        self, api: HealthApi, parent: QWidget | None = None, *, refresh_seconds: float = 60.0
    ) -> None:
        super().__init__(parent)
        self.setObjectName("messagingBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#messagingBanner { background: #fdecea; border: 1px solid #e0a39c; }"
            "#messagingBanner QLabel { color: #5f1a12; }"
        )
        self._api = api
        self._tasks = TaskRunner(self, quiet=True)
        self.problem: MessagingProblem | None = None
        self.headline = QLabel(self)
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.hide()
        self.toggle = QPushButton("Details", self)
        self.toggle.setCheckable(True)
        self.toggle.toggled.connect(self.details.setVisible)
        top = QHBoxLayout()
        top.addWidget(self.headline, 1)
        top.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self.setAccessibleName("Texting problem")
        self.hide()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        if refresh_seconds > 0:
            self._timer.start(int(refresh_seconds * 1000))

    def refresh(self) -> None:
        if self._tasks.pending:
            return
        self._tasks.spawn(
            self._api.messaging_problem(), what="check texting health", done=self.show_problem
        )

    def show_problem(self, problem: MessagingProblem | None) -> None:
        self.problem = problem
        if problem is None:
            self.hide()
            return
        headline, details = problem_text(problem)
        self.headline.setText(headline)
        self.details.setText(details)
        self.show()

    def shutdown(self) -> None:
        self._timer.stop()
