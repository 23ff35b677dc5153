"""The thread's voicemail and callback items, the texting banner (pytest-qt, real widgets)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pytestqt.qtbot import QtBot

from services import messaging_health
from services.send_state import Shown
from services.snapshots import CallbackItem, CallItem, VoicemailView
from ui.inbox.thread import ThreadView, call_lines, callback_lines
from ui.messaging_banner import MessagingBanner

AT = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def _call(**changes: Any) -> CallItem:
    base: dict[str, Any] = {
        "id": 7,
        "sid": "CA7",
        "at": AT,
        "from_raw": "+14155550123",
        "phone": "+14155550123",
        "display_phone": "(415) 555-0123",
        "contact_id": 3,
        "name": None,
        "outcome": "missed",
        "after_hours": False,
        "ring_seconds": 20,
        "textback_state": Shown.SENT,
        "textback_reason": None,
        "textback_due_at": None,
        "textback_status": "delivered",
        "replied": False,
        "followup_state": None,
        "followup_due_at": None,
        "source": "live",
    }
    base.update(changes)
    return CallItem(**base)


VOICEMAIL = VoicemailView(
    id=11,
    recording_sid="RE" + "1" * 32,
    duration_seconds=42,
    transcript="Hi, my boiler is leaking, please call me back as soon as you can " * 3,
    playable=True,
    removed=False,
)


def test_voicemail_lines_show_length_play_and_transcript() -> None:
    lines = call_lines(_call(voicemail=VOICEMAIL), AT)
    assert lines[0].startswith("Missed call")
    assert lines[1] == "Left a voicemail (42 s) · double-click to play"
    assert lines[2].startswith("“Hi, my boiler is leaking")
    assert len(lines) <= 2 + 4 + 1  # transcript capped at four lines
    removed = VoicemailView(11, "RE1", 42, None, playable=False, removed=True)
    assert "deleted" in call_lines(_call(voicemail=removed), AT)[1]
    assert call_lines(_call(), AT)[1] == "Auto-text sent"


def test_callback_lines() -> None:
    item = CallbackItem(1, AT, 3, "(415) 555-0123", "connected", "talked", 95, "Dana", "desk")
    assert (
        callback_lines(item, AT)[0].endswith("· talked 1 min 35 s")
        or "talked" in (callback_lines(item, AT)[0])
    )
    assert "by Dana" in callback_lines(item, AT)[0]
    missed = CallbackItem(
        2, AT, 3, "x", "desk_missed", "desk phone not answered", None, None, "log"
    )
    lines = callback_lines(missed, AT)
    assert "desk phone not answered" in lines[0] and "call log" in lines[1]


def test_double_clicking_a_voicemail_asks_to_play_it(qtbot: QtBot) -> None:
    view = ThreadView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    callback = CallbackItem(1, AT, 3, "(415) 555-0123", "connected", "talked", 95, "Dana", "desk")
    view.show_items(3, [_call(voicemail=VOICEMAIL), callback])
    index = view.thread_model.index(0)
    assert "Left a voicemail" in index.data()
    assert "Called back by Dana" in view.thread_model.index(1).data()
    with qtbot.waitSignal(view.playVoicemail) as signal:
        view.doubleClicked.emit(index)
    assert signal.args == [11]
    # A voicemail not playable (still recording) asks nothing.
    view.show_items(3, [_call(voicemail=VoicemailView(12, "RE2", None, None, False, False))])
    with qtbot.assertNotEmitted(view.playVoicemail):
        view.doubleClicked.emit(view.thread_model.index(0))


class _Health:
    def __init__(self, problem: Any) -> None:
        self.problem = problem

    async def messaging_problem(self) -> Any:
        return self.problem


def test_banner_says_what_is_wrong_and_how_to_fix_it(qtbot: QtBot) -> None:
    problem = messaging_health.describe(30034, 12, AT)
    banner = MessagingBanner(_Health(problem), refresh_seconds=0)  # type: ignore[arg-type]
    qtbot.addWidget(banner)
    banner.show_problem(problem)
    assert not banner.isHidden()
    assert "not registered" in banner.headline.text()
    assert "12 texts failed since" in banner.headline.text()
    assert banner.details.isHidden()
    banner.toggle.click()
    assert not banner.details.isHidden() and "A2P 10DLC" in banner.details.text()
    # With several numbers, the banner says whose texts fail.
    north = messaging_health.describe(30034, 2, AT, location="North", number="+15005550007")
    banner.show_problem(north)
    assert banner.headline.text().startswith("North · (500) 555-0007: Your texts are being")
    banner.show_problem(None)
    assert banner.isHidden()
