"""The missed call written in Core (services/burst_writes) is written as the ORM path does.

The same calls are made with ``Engine.writes_in_core`` off (every call recorded by
``Engine._call_for`` and decided by ``Engine._mark_missed``, its status and the send's
outcome written through the ORM) and on, from different callers in one database, and
every row each call wrote is compared once ids, numbers and times are set aside.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services import burst_writes
from services.storage.database import UnitOfWork
from services.storage.models import AuditEntry, Call, Contact, Conversation, Job, Message
from tests.harness import BUSINESS, TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

TIMES = {"started_at", "ended_at", "created_at", "updated_at", "due_at", "claimed_at", "at"}
TIMES |= {"maybe_sent_since", "finished_at", "sent_at", "last_message_at", "last_inbound_at"}
IDS = {"id", "sid", "contact_id", "call_id", "message_id", "conversation_id", "phone", "from_raw"}


def shape(row: Any) -> dict[str, Any]:
    """A row's columns, with ids and numbers dropped and times reduced to set/unset."""
    values = {c.key: getattr(row, c.key) for c in type(row).__table__.columns}
    out = {k: v for k, v in values.items() if k not in IDS and k not in TIMES}
    out.update({k: values[k] is not None for k in TIMES if k in values})
    out.update({k: values[k] is not None for k in IDS - {"id", "phone", "from_raw"} if k in values})
    return out


async def written(app: TestApp, call_sid: str) -> dict[str, Any]:
    """Everything about the call ``call_sid``: its row, its caller, thread, texts, jobs."""

    def read(uow: UnitOfWork) -> dict[str, Any]:
        s = uow.session
        call = s.scalar(select(Call).where(Call.sid == call_sid))
        assert call is not None and call.contact_id is not None
        contact = s.get(Contact, call.contact_id)
        assert contact is not None
        thread = s.scalar(
            select(Conversation).where(
                Conversation.contact_id == contact.id,
                Conversation.location_id == (call.location_id or 1),
            )
        )
        assert thread is not None
        messages = s.scalars(
            select(Message).where(Message.conversation_id == thread.id).order_by(Message.id)
        )
        # The call's jobs wherever they leave from: a follow-up that lost its location
        # must show, not drop out of the comparison.
        jobs = s.scalars(select(Job).where(Job.call_id == call.id).order_by(Job.id))
        audit = s.scalars(select(AuditEntry).where(AuditEntry.subject == call_sid))
        return {
            "call": shape(call),
            "contact": shape(contact),
            "tags": sorted(t.name for t in contact.tags),
            "thread": shape(thread),
            "messages": [shape(m) for m in messages],
            "jobs": [shape(j) for j in jobs],
            "audit": sorted((a.action, a.actor, repr(sorted(a.detail.items()))) for a in audit),
        }

    return await app.runtime.db.run(read)


def watch(monkeypatch: pytest.MonkeyPatch, name: str) -> list[bool]:
    """Whether each call of burst_writes' ``name`` wrote (the real function, watched)."""
    seen: list[bool] = []
    real = getattr(burst_writes, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        done = real(*args, **kwargs)
        seen.append(done is not None)
        return done

    monkeypatch.setattr(burst_writes, name, watched)
    return seen


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each Dial result went the Core way."""
    return watch(monkeypatch, "text_now")


@pytest.fixture
def afterwards(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[bool]]:
    """Whether each call's final status and each send's outcome went the Core way."""
    return {name: watch(monkeypatch, name) for name in ("call_status", "record_sent")}


def run(
    database_url: str, data_dir: Path, standin: TwilioStandIn, scenario: Any, **settings: Any
) -> None:
    async def main() -> None:
        async with running_app(database_url, data_dir, standin, settings=settings) as app:
            # Each call's record lands before its Dial result, on PostgreSQL's several
            # workers too: the Core way needs it (without, the general way is taken).
            app.engine.voice_record_budget = 5.0
            await scenario(app)

    asyncio.run(main())


async def texted(app: TestApp, caller: str, n: int, *, to: str = BUSINESS) -> str:
    sid = await app.missed_call(caller, to=to)
    await app.standin.wait_for_messages(n)
    await app.until("the text is recorded", lambda: _all_sent(app))
    return sid


async def _all_sent(app: TestApp) -> bool:
    return all(state == "sent" for kind, state in await app.jobs() if kind == "textback")


def test_a_new_callers_text_back_is_written_alike_both_ways(
    database_url: str,
    data_dir: Path,
    twilio_standin: TwilioStandIn,
    taken: list[bool],
    afterwards: dict[str, list[bool]],
) -> None:
    """With the default 24 h follow-up: the send's outcome also adds it."""

    async def scenario(app: TestApp) -> None:
        app.engine.writes_in_core = False
        general = await texted(app, "+14155550101", 1)
        assert afterwards == {"call_status": [], "record_sent": []}
        app.engine.writes_in_core = True
        core = await texted(app, "+14155550102", 2)
        assert taken == [True]  # the second call went the Core way
        assert afterwards == {"call_status": [True], "record_sent": [True]}
        assert await written(app, core) == await written(app, general)
        assert [kind for kind, _state in await app.jobs()].count("follow_up") == 2

    run(database_url, data_dir, twilio_standin, scenario, **{"lookup.enabled": False})


def test_a_known_callers_text_back_is_written_alike_both_ways(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn, taken: list[bool]
) -> None:
    """A caller who texted before (an open thread, a tag) and whose line was looked up
    on their first call: the second call's text is the Core path's."""
    for caller in ("+14155550111", "+14155550112"):
        twilio_standin.set_lookup(caller, line_type="mobile", caller_name=None)

    async def scenario(app: TestApp) -> None:
        sids = {}
        for caller, core in (("+14155550111", False), ("+14155550112", True)):
            app.engine.writes_in_core = core
            await app.reply(caller, "Are you open on Sunday?")
            sent = len(app.standin.messages_sent)
            await texted(app, caller, sent + 1)
            sids[core] = await texted(app, caller, sent + 2)
        assert taken == [False, True]  # the first call waited for its Lookup
        assert await written(app, sids[True]) == await written(app, sids[False])

    run(
        database_url,
        data_dir,
        twilio_standin,
        scenario,
        **{"textback.repeat_window_minutes": 0, "followup.delay_seconds": 0},
    )


NORTH = "+15005550007"


def test_a_call_to_another_location_is_written_alike_both_ways(
    database_url: str,
    data_dir: Path,
    twilio_standin: TwilioStandIn,
    taken: list[bool],
    afterwards: dict[str, list[bool]],
) -> None:
    """Issue 13: a caller who already has a thread at the first location calls North; the
    Core path writes North's thread (not the first's), North's text, from North, and the
    send's outcome adds North's follow-up (the default 24 h)."""

    async def scenario(app: TestApp) -> None:
        north = await app.add_location(
            "North", NORTH, {"templates.missed_call": "North: [Business Phone]"}
        )
        sids = {}
        for caller, core in (("+14155550121", False), ("+14155550122", True)):
            app.engine.writes_in_core = core
            await app.reply(caller, "Hello Main")
            sids[core] = await texted(app, caller, len(app.standin.messages_sent) + 1, to=NORTH)
        assert taken == [True]
        assert afterwards == {"call_status": [True], "record_sent": [True]}
        core, general = await written(app, sids[True]), await written(app, sids[False])
        assert core == general
        assert core["call"]["location_id"] == north and core["thread"]["location_id"] == north
        assert [(job["kind"], job["location_id"]) for job in core["jobs"]] == [
            ("textback", north),
            ("follow_up", north),  # the follow-up leaves from North too
        ]
        assert [m["body"] for m in core["messages"]] == ["North: (500) 555-0007"]
        assert [(m["from"], m["body"]) for m in app.standin.messages_sent] == [
            (NORTH, "North: (500) 555-0007")
        ] * 2

    run(database_url, data_dir, twilio_standin, scenario, **{"lookup.enabled": False})
