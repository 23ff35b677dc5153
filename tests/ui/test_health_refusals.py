"""The Connection page says, in plain words, how many requests were refused (per path
and reason) and which answered calls are not saved yet (real runtime, real HTTP)."""

from __future__ import annotations

from collections.abc import Awaitable

from pytestqt.qtbot import QtBot
from sqlalchemy import text

from desktop.health import RuntimeHealth
from services.storage.database import UnitOfWork
from tests.harness import BUSINESS, TestApp, call_sid
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.ui.conftest import run
from ui.health_page import HealthPage

CALLER = "+14155550123"

TABLES = ("calls", "messages")
SQLITE_BLOCK = [
    f"CREATE TRIGGER block_{t} BEFORE INSERT ON {t} BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    for t in TABLES
]
SQLITE_UNBLOCK = [f"DROP TRIGGER block_{t}" for t in TABLES]
PG_BLOCK = [
    "CREATE FUNCTION block_writes() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
    *(
        f"CREATE TRIGGER block_{t} BEFORE INSERT ON {t} "
        "FOR EACH ROW EXECUTE FUNCTION block_writes()"
        for t in TABLES
    ),
]
PG_UNBLOCK = [*(f"DROP TRIGGER block_{t} ON {t}" for t in TABLES), "DROP FUNCTION block_writes()"]


def _execute(app: TestApp, statements: list[str]) -> Awaitable[None]:
    def work(uow: UnitOfWork) -> None:
        for statement in statements:
            uow.session.execute(text(statement))
        uow.commit()

    return app.runtime.db.run(work)


def test_the_connection_page_shows_refused_totals_and_unsaved_calls_in_words(
    qtbot: QtBot, ui_app: TestApp, database_url: str
) -> None:
    page = HealthPage(RuntimeHealth(ui_app.runtime), refresh_seconds=0)
    page._tasks.quiet = True
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.snapshot is not None, timeout=5000)
    assert page.refused_totals.text() == "No request has been refused."
    assert page.unsaved.isHidden()

    # Three texts signed with the wrong token, one call likewise.
    for i in range(3):
        status, _ = run(
            qtbot,
            ui_app.post(
                "sms",
                {"MessageSid": f"SM{i:032d}", "From": "+14155550124", "Body": "x"},
                token="wrong-token",
            ),
        )
        assert status == 403
    status, _ = run(
        qtbot,
        ui_app.post(
            "voice",
            {"CallSid": call_sid(), "From": CALLER, "To": BUSINESS, "CallStatus": "ringing"},
            token="wrong-token",
        ),
    )
    assert status == 403

    # A call whose record cannot be written: answered, and listed as not saved.
    sqlite = database_url.startswith("sqlite")
    engine = ui_app.engine
    engine.voice_record_budget = 0.3
    engine.voice_record_retries = (0.05,) * 200
    run(qtbot, _execute(ui_app, SQLITE_BLOCK if sqlite else PG_BLOCK))
    lost = call_sid()
    status, twiml = run(
        qtbot,
        ui_app.post(
            "voice", {"CallSid": lost, "From": CALLER, "To": BUSINESS, "CallStatus": "ringing"}
        ),
    )
    assert status == 200 and "<Dial" in twiml
    text_sid = "SM" + "7" * 32
    status, _ = run(
        qtbot,
        ui_app.post(
            "sms", {"MessageSid": text_sid, "From": CALLER, "To": BUSINESS, "Body": "hello?"}
        ),
    )
    assert status == 200  # Twilio never sends an inbound text again: no error answer

    page.refresh()
    qtbot.waitUntil(
        lambda: "Refused in all: 4 requests." in page.refused_totals.text(), timeout=5000
    )
    lines = page.refused_totals.text().splitlines()
    assert lines[1].startswith("• 3 to /twilio/sms: invalid signature (answered 403, last ")
    assert lines[2].startswith("• 1 to /twilio/voice: invalid signature (answered 403, last ")
    assert not page.unsaved.isHidden()
    assert page.unsaved.text().startswith(
        f"1 call answered but not saved yet ({lost}). "
        f"1 text received but not saved yet ({text_sid})."
    )
    assert "Free some disk space" in page.unsaved.text()
    assert page.summary.text().startswith("Receiving, but some calls or texts are not saved")

    # The write lands once the database takes it again: the warning goes away.
    run(qtbot, _execute(ui_app, SQLITE_UNBLOCK if sqlite else PG_UNBLOCK))
    qtbot.waitUntil(lambda: not engine.unsaved_calls and not engine.unsaved_texts, timeout=10_000)
    page.refresh()
    qtbot.waitUntil(lambda: page.unsaved.isHidden(), timeout=5000)
    assert page.summary.text().startswith("Healthy")
    run(qtbot, ui_app.idle())
    threads = run(qtbot, ui_app.inbox.conversations(limit=10))
    assert any(row.phone == CALLER for row in threads)  # the text landed after all
