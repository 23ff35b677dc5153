"""Hostile input never costs a 500, a disk or a secret: the running app, real HTTP,
signed (and unsigned) webhooks, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import string
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text

from desktop.health import RuntimeHealth
from services.receiver import OTHER_PATH, PATHS
from services.refusals import KEEP_LAST
from services.storage.models import Call, Contact, Message, Tag, WebhookEvent, WebhookRefusal
from tests.harness import BUSINESS, TestApp, call_sid, message_sid, running_app
from tests.signing import form_body
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"


def run(
    database_url: str,
    data_dir: Path,
    standin: TwilioStandIn,
    scenario: Callable[[TestApp], Awaitable[None]],
    **kwargs: Any,
) -> None:
    async def main() -> None:
        async with running_app(database_url, data_dir, standin, **kwargs) as app:
            await scenario(app)

    asyncio.run(main())


async def count(app: TestApp, model: Any, *where: Any) -> int:
    def query(uow: Any) -> int:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return await app.runtime.db.run(query)


# ---- the hostile values of the issue, one by one --------------------------------------------
def test_hostile_values_from_the_issue_are_stored_cleaned_never_a_500(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario(app: TestApp) -> None:
        base = {"To": BUSINESS, "AccountSid": app.standin.account_sid}
        hostile_calls = [
            {"From": CALLER, "CallStatus": "ringing", "DialCallDuration": "²"},
            {"From": "ACME-PLUMBING-AND-HEATING-DEPT-1234", "CallStatus": "ringing"},  # 35
            {"From": CALLER, "To": "sip:" + "x" * 70 + "@example.com"},  # an 80-char SIP To
            {"From": "+1415\x00555\x000123", "CallStatus": "brand-new-status-value-x" * 3},
        ]
        for extra in hostile_calls:
            sid = call_sid()
            params = {**base, "CallSid": sid, **extra}
            assert (await app.post("voice", params))[0] == 200
            params["DialCallStatus"] = "no-answer"
            params["DialCallDuration"] = "١٢"
            assert (await app.post("dial_result", params))[0] == 200
            params["CallStatus"] = extra.get("CallStatus", "completed")
            params["CallDuration"] = "9" * 5000
            assert (await app.post("call_status", params))[0] == 204
            await app.idle()
            calls = await app.inbox.missed_calls()
            assert sid in {c.sid for c in calls}
        # Messages: a NUL in the body, a 5,000-digit NumMedia, an unknown status, an
        # alphanumeric sender and an ErrorCode that overflows every integer column.
        sid = message_sid()
        body = "Hello\x00 there " + "\x00" * 10
        params = {"MessageSid": sid, "From": "ACME-PLUMBING-AND-HEATING-DEPT-1234", "Body": body}
        status, _ = await app.post("sms", {**params, "NumMedia": "9" * 5000})
        assert status == 200
        sms = {"MessageSid": sid, "MessageStatus": "x" * 100, "ErrorCode": "9" * 300}
        assert (await app.post("sms_status", sms))[0] == 204
        await app.idle()

        def stored(uow: Any) -> tuple[str, int]:
            message = uow.session.scalar(select(Message).where(Message.sid == sid))
            return message.body, len(uow.session.scalars(select(Contact)).all())

        stored_body, contacts = await app.runtime.db.run(stored)
        assert stored_body == "Hello there"
        assert contacts >= 2
        assert await count(app, Call) == len(hostile_calls)
        assert app.engine.unsaved_calls == []

    run(database_url, data_dir, twilio_standin, scenario)


# ---- property-based: any signed webhook on any route -----------------------------------------
_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120
) | st.sampled_from(["", "²", "١٢", "9" * 400, "-1", "\x00", "x" * 3000, "+14155550123"])
_sid_like = st.one_of(
    st.from_regex(r"\A(CA|SM|MM)[0-9a-f]{32}\Z"), _text.filter(lambda s: s.strip() != "")
)
_FIELDS = {
    "voice": ["CallSid", "From", "To", "CallStatus"],
    "dial_result": ["CallSid", "From", "To", "DialCallStatus", "DialBridged", "DialCallDuration"],
    "call_status": ["CallSid", "From", "To", "CallStatus", "CallDuration", "ParentCallSid"],
    "sms": ["MessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0", "MediaContentType0"],
    "sms_status": ["MessageSid", "MessageStatus", "ErrorCode"],
}


@st.composite
def webhooks(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    route = draw(st.sampled_from(sorted(_FIELDS)))
    params: dict[str, str] = {}
    for name in _FIELDS[route]:
        if draw(st.integers(0, 9)) == 0:
            continue  # sometimes missing
        params[name] = draw(_sid_like if name.endswith("Sid") else _text)
    extra = draw(st.dictionaries(st.sampled_from(string.ascii_letters), _text, max_size=2))
    return route, {**extra, **params}


def test_any_signed_webhook_on_any_route_is_never_a_5xx_and_storage_stays_consistent(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    loop = asyncio.new_event_loop()
    context = running_app(database_url, data_dir, twilio_standin)
    app = loop.run_until_complete(context.__aenter__())
    accepted_calls: set[str] = set()
    try:

        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(webhooks())
        def prop(case: tuple[str, dict[str, str]]) -> None:
            route, params = case
            status, _ = loop.run_until_complete(app.post(route, params))
            assert status < 500, (route, params)
            assert status in (200, 204, 400)
            if status < 300 and route in ("voice", "dial_result", "call_status"):
                accepted_calls.add(params["CallSid"].strip())

        prop()
        loop.run_until_complete(app.idle())
        stored = loop.run_until_complete(
            app.runtime.db.run(lambda uow: set(uow.session.scalars(select(Call.sid)).all()))
        )
        # One row per accepted parent CallSid (a child leg's status adds none), nothing else.
        assert stored <= accepted_calls
        assert app.engine.unsaved_calls == []
    finally:
        loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()


# ---- the voice answer and the record never disagree ------------------------------------------
def test_a_call_whose_record_fails_is_answered_retried_until_it_lands_and_shown_meanwhile(
    tmp_path: Path, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    database_url = f"sqlite:///{tmp_path}/frontdesk.db"
    block = (
        "CREATE TRIGGER block_calls BEFORE INSERT ON calls "
        "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
    )

    async def scenario(app: TestApp) -> None:
        app.engine.voice_record_budget = 0.5
        app.engine.voice_record_retries = (0.05,) * 40
        await app.runtime.db.run(lambda uow: (uow.session.execute(text(block)), uow.commit()))
        sid = call_sid()
        params = {"CallSid": sid, "From": CALLER, "To": BUSINESS, "CallStatus": "ringing"}
        status, twiml = await app.post("voice", params)
        assert status == 200 and "<Dial" in twiml  # the caller is not left hanging
        assert app.engine.unsaved_calls == [sid]  # and the lost write is not silent
        health = await RuntimeHealth(app.runtime).health()
        assert health.unsaved_calls == [sid] and not health.healthy
        await app.runtime.db.run(
            lambda uow: (uow.session.execute(text("DROP TRIGGER block_calls")), uow.commit())
        )
        for _ in range(200):
            if not app.engine.unsaved_calls:
                break
            await asyncio.sleep(0.02)
        assert app.engine.unsaved_calls == []
        assert await count(app, Call, Call.sid == sid) == 1

    run(database_url, data_dir, twilio_standin, scenario)


def test_a_call_record_is_written_before_the_voice_answer(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario(app: TestApp) -> None:
        app.engine.voice_record_budget = 5.0  # the order is tested here, not the budget
        for _ in range(5):
            sid = call_sid()
            params = {"CallSid": sid, "From": CALLER, "To": BUSINESS, "CallStatus": "ringing"}
            assert (await app.post("voice", params))[0] == 200
            # Read straight away, through a connection of its own: the row is there.
            seen = await asyncio.to_thread(_call_exists, app.runtime.db.url, sid)
            assert seen

    run(database_url, data_dir, twilio_standin, scenario)


def _call_exists(url: str, sid: str) -> bool:
    from services.storage.database import Database

    db = Database(url)
    try:
        return db.run_sync(
            lambda uow: uow.session.scalar(select(Call.id).where(Call.sid == sid)) is not None
        )
    finally:
        db.close()


# ---- the "missed call" tag race on a fresh shared database -----------------------------------
@pytest.mark.postgres
def test_first_missed_calls_at_once_on_a_fresh_postgresql_never_race_on_the_tag(
    twilio_standin: TwilioStandIn, data_dir: Path, request: pytest.FixtureRequest
) -> None:
    from tests.conftest import _fresh_postgres_database

    urls = _fresh_postgres_database()
    database_url = next(urls)
    request.addfinalizer(lambda: next(urls, None))

    async def scenario(app: TestApp) -> None:
        # No tag rows at all, as on a database where nobody was tagged yet: every one of
        # these first missed calls creates "missed call" at the same moment.
        await app.runtime.db.run(lambda uow: (uow.session.execute(delete(Tag)), uow.commit()))
        callers = [f"+1415555{i:04d}" for i in range(24)]
        results = await asyncio.gather(
            *(_missed(app, caller) for caller in callers), return_exceptions=True
        )
        assert [r for r in results if r is not None] == []
        await app.idle()
        assert await count(app, Tag, Tag.name == "missed call") == 1
        missed = await app.inbox.missed_calls()
        assert len(missed) == len(callers)
        for call in missed:
            assert call.contact_id is not None
            assert "missed call" in (await app.inbox.contact(call.contact_id)).tags

    run(database_url, data_dir, twilio_standin, scenario)


async def _missed(app: TestApp, caller: str) -> None:
    sid = call_sid()
    base = {"CallSid": sid, "From": caller, "To": BUSINESS}
    status, _ = await app.post("dial_result", {**base, "DialCallStatus": "no-answer"})
    assert status == 200, status


# ---- refused requests cost constant storage -------------------------------------------------
def test_a_flood_of_unsigned_requests_costs_constant_storage_and_shows_on_the_health_page(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario(app: TestApp) -> None:
        local = app.runtime.receiver.local_url()
        assert local is not None
        body = form_body({"CallSid": "CA" + "1" * 32, "From": CALLER})

        async def unsigned(i: int) -> int:
            target = PATHS["voice"] if i % 3 else f"/wp-admin/{i}"
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            async with app.session.post(local + target, data=body, headers=headers) as resp:
                return resp.status

        flood = 600
        statuses: list[int] = []
        for start in range(0, flood, 50):
            statuses += await asyncio.gather(*(unsigned(i) for i in range(start, start + 50)))
        assert statuses.count(403) == flood - flood // 3
        assert statuses.count(404) == flood // 3
        await app.runtime.flush_refusals()

        def stored(uow: Any) -> tuple[int, dict[tuple[str, str], int]]:
            events = int(uow.session.scalar(select(func.count()).select_from(WebhookEvent)) or 0)
            counts = {
                (r.path, r.reason): int(r.count)
                for r in uow.session.scalars(select(WebhookRefusal)).all()
            }
            return events, counts

        events, counts = await app.runtime.db.run(stored)
        assert events <= KEEP_LAST
        assert counts == {
            (PATHS["voice"], "invalid signature"): flood - flood // 3,
            (OTHER_PATH, "not found"): flood // 3,
        }
        health = await RuntimeHealth(app.runtime).health()
        assert len(health.rejected) == KEEP_LAST
        assert {(c.path, c.reason, c.count) for c in health.refused} == {
            (PATHS["voice"], "invalid signature", flood - flood // 3),
            (OTHER_PATH, "not found", flood // 3),
        }
        # A signed webhook still gets through.
        assert (await app.post("voice", {"CallSid": call_sid(), "From": CALLER}))[0] == 200

    run(database_url, data_dir, twilio_standin, scenario)


# ---- searches --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "search",
    [
        "\x00",
        "leak\x00ing",
        "x" * 100_000,
        "%" * 60_000,
        "²١٢ 415",
        '" OR 1=1 --',
        "a_b:* & !c | (d",
        "word " * 500,
    ],
)
def test_hostile_searches_never_raise(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn, search: str
) -> None:
    async def scenario(app: TestApp) -> None:
        await app.reply(CALLER, "the sink is leaking")
        await app.idle()
        rows = await app.inbox.conversations(search=search)
        contacts = await app.inbox.contacts(search=search)
        assert isinstance(rows, list) and isinstance(contacts, list)
        if "leak" in search:
            assert [r.phone for r in rows] == [CALLER]

    run(database_url, data_dir, twilio_standin, scenario)


@pytest.mark.postgres
def test_two_first_inserts_of_a_tag_in_open_transactions_both_find_the_one_row(
    request: pytest.FixtureRequest,
) -> None:
    """The race itself, made deterministic: the second insert waits on the first's
    uncommitted row; when the first commits, the second must find it, not fail."""
    import threading

    from services import records
    from services.storage import migrate
    from services.storage.database import Database
    from tests.conftest import _fresh_postgres_database

    urls = _fresh_postgres_database()
    db = Database(next(urls))
    request.addfinalizer(lambda: (db.close(), next(urls, None)))
    migrate.upgrade(db.engine)
    db.run_sync(lambda uow: (uow.session.execute(delete(Tag)), uow.commit()))
    first_inserted, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first(uow: Any) -> None:
        records.tag(uow.session, "missed call")
        first_inserted.set()
        first_may_commit.wait(10)
        uow.commit()

    def second() -> None:
        first_inserted.wait(10)
        try:
            outcome["tag"] = db.run_sync(
                lambda uow: (records.tag(uow.session, "missed call").id, uow.commit())[0]
            )
        except Exception as exc:  # the bug: UniqueViolation -> a 500 for the webhook
            outcome["error"] = exc

    other = threading.Thread(target=second)
    other.start()
    one = threading.Thread(target=lambda: db.run_sync(first))
    one.start()
    first_inserted.wait(10)
    other.join(0.5)  # the second insert is now waiting on the first's row
    first_may_commit.set()
    one.join(10)
    other.join(10)
    assert "error" not in outcome, outcome.get("error")
    assert db.run_sync(lambda uow: uow.session.scalar(select(Tag.id))) == outcome["tag"]
