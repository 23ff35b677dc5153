""" "Delete contact…" from the Contacts page and from the Inbox's contact panel, on the
real runtime (Twilio stand-in, webhooks signed as Twilio signs them), on SQLite and
PostgreSQL: the confirmation says what goes and that it cannot be undone, Cancel deletes
nothing, and once confirmed the contact's rows and voicemail files are gone while
another contact's stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import func, or_, select

from services.clock import ManualClock
from services.records import PENDING_CALLBACK
from services.storage.database import UnitOfWork
from services.storage.models import (
    AuditEntry,
    Call,
    Callback,
    Contact,
    Conversation,
    Job,
    Message,
    NumberLookup,
    ThreadNote,
    Voicemail,
    contact_tags,
)
from tests.harness import TestApp, running_app
from tests.services.test_voicemail import _leave_voicemail
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import until
from ui.contact_delete import DeleteContactDialog
from ui.contacts_page import ContactsPage
from ui.event_bridge import EventBridge
from ui.inbox.page import InboxPage

GOING = "+14155550123"
STAYING = "+14155550177"
SETTINGS = {"voicemail.record": True, "textback.delay_seconds": 120}


async def _everything_of(app: TestApp, clock: ManualClock, caller: str) -> tuple[int, str, Path]:
    """``caller`` leaves a voicemail (fetched into the data dir), texts, is tagged, has a
    note, a callback and a reply scheduled for an hour from now. Returns (contact id,
    recording, file)."""
    sid = await app.missed_call(caller)
    recording = await _leave_voicemail(app, sid, app.standin, transcript=f"it's {caller}")
    await app.reply(caller, f"Please call {caller} back")
    path = app.runtime.config.data_dir / "voicemail" / f"{recording}.mp3"

    async def fetched() -> bool:
        return path.is_file()

    await app.until("the recording is fetched", fetched)
    assert await app.engine.lookups.ensure(caller)  # what Lookup said about the number
    rows = await app.inbox.conversations(search=caller[-4:])
    contact_id = rows[0].contact_id
    await app.inbox.add_tag(contact_id, PENDING_CALLBACK, actor="test")
    await app.inbox.add_note(contact_id, "prefers mornings", actor="test")
    await app.engine.call_back(contact_id, actor="test")  # cancels the waiting auto-text
    await app.engine.schedule_reply(
        contact_id, f"Hello {caller}", clock.now() + timedelta(hours=1), author="test"
    )
    return contact_id, recording, path


async def _rows_of(app: TestApp, contact_id: int, phone: str, recording: str) -> dict[str, int]:
    """How many rows of each table still belong to the contact or their number."""

    def count(uow: UnitOfWork) -> dict[str, int]:
        s = uow.session

        def n(query: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)

        conversations = select(Conversation.id).where(Conversation.contact_id == contact_id)
        return {
            "contacts": n(select(Contact.id).where(Contact.id == contact_id)),
            "contacts by phone": n(select(Contact.id).where(Contact.phone == phone)),
            "conversations": n(conversations),
            "messages": n(select(Message.id).where(Message.conversation_id.in_(conversations))),
            "calls": n(
                select(Call.id).where(or_(Call.contact_id == contact_id, Call.phone == phone))
            ),
            "jobs": n(select(Job.id).where(Job.contact_id == contact_id)),
            "voicemails": n(
                select(Voicemail.id).where(
                    or_(Voicemail.contact_id == contact_id, Voicemail.recording_sid == recording)
                )
            ),
            "callbacks": n(
                select(Callback.id).where(
                    or_(Callback.contact_id == contact_id, Callback.phone == phone)
                )
            ),
            "notes": n(select(ThreadNote.id).where(ThreadNote.contact_id == contact_id)),
            "tags": n(select(contact_tags.c.tag_id).where(contact_tags.c.contact_id == contact_id)),
            "lookups": n(select(NumberLookup.phone).where(NumberLookup.phone == phone)),
        }

    return await app.runtime.db.run(count)


def _check_the_confirmation(dialog: DeleteContactDialog | None, who: str) -> DeleteContactDialog:
    assert dialog is not None and dialog.isVisible()
    assert who in dialog.text()
    words = dialog.informativeText()
    assert "texts, calls and voicemail recordings are deleted" in words
    assert "cannot be undone" in words
    cancel = dialog.button(QMessageBox.StandardButton.Cancel)
    assert dialog.defaultButton() is cancel  # Enter deletes nothing
    return dialog


async def _deleted_and_the_other_kept(
    app: TestApp,
    clock: ManualClock,
    gone: tuple[int, str, Path],
    kept: tuple[int, str, Path],
    actor: str,
) -> None:
    contact_id, recording, path = gone
    assert not path.exists()
    left = await _rows_of(app, contact_id, GOING, recording)
    assert set(left.values()) == {0}, left
    other_id, other_recording, other_path = kept
    assert other_path.is_file()
    others = await _rows_of(app, other_id, STAYING, other_recording)
    assert all(others.values()), others

    def audit(uow: UnitOfWork) -> list[tuple[str | None, str | None]]:
        rows = uow.session.execute(
            select(AuditEntry.actor, AuditEntry.subject).where(
                AuditEntry.action == "contact.deleted"
            )
        )
        return [(a, s) for a, s in rows]

    assert await app.runtime.db.run(audit) == [(actor, str(contact_id))]
    # The reply scheduled for them never goes; the other caller's does.
    clock.advance(7200)
    app.runtime.scheduler.wake()
    await app.standin.wait_for_messages(1)
    await app.idle()
    assert [m["to"] for m in app.standin.messages_sent] == [STAYING]


def test_delete_from_the_contacts_page(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, database_url: str, data_dir: Path
) -> None:
    clock = ManualClock()

    async def scenario() -> None:
        async with running_app(
            database_url, data_dir, twilio_standin, clock=clock, settings=SETTINGS
        ) as app:
            gone = await _everything_of(app, clock, GOING)
            kept = await _everything_of(app, clock, STAYING)
            await app.inbox.rename(gone[0], "Jane Going", actor="test")
            bridge = EventBridge(app.runtime.bus)
            page = ContactsPage(app.inbox, bridge, messaging=app.engine, actor="Dana")
            try:
                page.tasks.quiet = True
                page.resize(1024, 700)
                qtbot.addWidget(page)
                page.show()
                await until(lambda: page.model.rowCount() == 2)
                assert not page.delete_button.isEnabled()  # nothing selected
                row = next(
                    r for r in range(2) if (c := page.model.contact_at(r)) and c.id == gone[0]
                )
                page.table.selectRow(row)
                await until(page.delete_button.isEnabled)

                # Cancel: nothing goes.
                qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
                dialog = _check_the_confirmation(page.deletion and page.deletion.dialog, "Jane")
                cancel = dialog.button(QMessageBox.StandardButton.Cancel)
                qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
                await until(lambda: page.deletion is not None and page.deletion.dialog is None)
                await app.idle()
                assert gone[2].is_file()
                assert all((await _rows_of(app, gone[0], GOING, gone[1])).values())

                # Confirmed: everything of theirs goes, the other contact's stays.
                page.table.selectRow(row)
                qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
                dialog = _check_the_confirmation(page.deletion and page.deletion.dialog, "Jane")
                deleted: list[int] = []
                page.contactDeleted.connect(deleted.append)
                qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
                await until(lambda: deleted == [gone[0]], 10)
                await until(lambda: page.model.rowCount() == 1)
                assert page.model.contact_at(0) is not None
                assert page.model.contact_at(0).id == kept[0]  # type: ignore[union-attr]
                await _deleted_and_the_other_kept(app, clock, gone, kept, "Dana")
            finally:
                page.shutdown()
                bridge.detach()

    run(scenario())


def test_delete_from_the_inbox_contact_panel(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, database_url: str, data_dir: Path
) -> None:
    clock = ManualClock()

    async def scenario() -> None:
        async with running_app(
            database_url, data_dir, twilio_standin, clock=clock, settings=SETTINGS
        ) as app:
            gone = await _everything_of(app, clock, GOING)
            kept = await _everything_of(app, clock, STAYING)
            bridge = EventBridge(app.runtime.bus)
            page = InboxPage(app.inbox, app.engine, bridge)
            try:
                page.tasks.quiet = True
                page.resize(1200, 800)
                qtbot.addWidget(page)
                page.show()
                page.start()
                await until(lambda: page.model.rowCount() == 2)
                page.list.setCurrentIndex(page.model.index(page.model.row_of(gone[0]), 0))
                await until(lambda: page.panel.contact is not None)
                assert page.panel.contact is not None and page.panel.contact.id == gone[0]
                page.composer.set_text("We'll be there at 3")
                qtbot.mouseClick(page.panel.delete_button, Qt.MouseButton.LeftButton)
                dialog = _check_the_confirmation(page.deletion.dialog, "(415) 555-0123")
                qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
                await until(lambda: page.model.rowCount() == 1)
                await until(lambda: page.current_contact_id is None)
                assert page.panel.contact is None
                assert page.drafts.get(GOING) == ""  # the draft to them went too
                assert page.model.rows()[0].contact_id == kept[0]
                await _deleted_and_the_other_kept(app, clock, gone, kept, page.actor)
            finally:
                page.shutdown()
                bridge.detach()

    run(scenario())
