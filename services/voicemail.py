"""Voicemail recordings: fetched from Twilio into the data dir, kept for the retention
period, deleted with the contact (:meth:`Voicemails.forget_contact` deletes the contact).

A recording is fetched with the account's credentials (``Recordings/{Sid}.mp3``), at
most :data:`MAX_BYTES`, and written as ``<data dir>/voicemail/<RecordingSid>.mp3``
(0600, in a 0700 folder; written to a temporary name, then renamed, so a half-written
file is never played). The number holder fetches each one as soon as Twilio says it is
complete; any other PC of an office fetches it into its own data dir the first time
someone plays it there (:meth:`Voicemails.local_file`).

Retention (``voicemail.retention_days``, 0 = keep): :meth:`Voicemails.prune` deletes
the files of older voicemails and marks their rows ``removed_at`` (the transcript and
duration stay in the thread), and deletes files whose row no longer exists (a contact
deleted on another PC). The number holder prunes when it takes the number and then once
a day (:meth:`Voicemails.prune_daily`, on the injected clock) for as long as it holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from services import private_files, records
from services.clock import Clock
from services.events import CallChanged, ContactChanged, Event, EventBus
from services.ports import Carrier, CarrierError
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Contact, NumberLookup, Voicemail

log = logging.getLogger(__name__)

#: Twilio's <Record> stops at maxLength (120 s here): an MP3 of that is well under 2 MB.
MAX_BYTES: Final = 10 * 1024 * 1024
SUFFIX: Final = ".mp3"
#: A failed fetch is tried again after each of these delays (seconds).
FETCH_RETRIES: Final = (2.0, 10.0, 60.0, 300.0)
#: Retention runs this often while this process holds the number.
PRUNE_EVERY: Final = timedelta(days=1)
#: ...waking at least this often to look at the clock: a monotonic sleep does not count
#: the hours a suspended PC spent asleep, the wall clock does.
PRUNE_CHECK: Final = timedelta(hours=1)


class VoicemailGone(LookupError):
    """The voicemail's recording was deleted (retention) or never arrived."""


def file_name(recording_sid: str) -> str:
    if not (recording_sid.isascii() and recording_sid.isalnum() and len(recording_sid) <= 64):
        raise ValueError(f"{recording_sid!r} is not a recording SID")
    return recording_sid + SUFFIX


class Voicemails:
    """Fetches, finds, prunes and forgets voicemail files for one data dir."""

    def __init__(
        self,
        db: Database,
        carrier: Carrier,
        bus: EventBus,
        clock: Clock,
        folder: Path,
        *,
        settings: Callable[[Session], Settings],
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self._db = db
        self._carrier = carrier
        self._bus = bus
        self._clock = clock
        self.folder = folder
        self._settings = settings
        self.max_bytes = max_bytes
        self.retries: tuple[float, ...] = FETCH_RETRIES
        self.prune_passes = 0  # daily retention passes made (prune_daily)
        self.tidy_passes = 0  # daily file tidying passes made (tidy_daily)

    def path_of(self, recording_sid: str) -> Path:
        return self.folder / file_name(recording_sid)

    async def _download(self, recording_sid: str) -> int:
        """Fetch the audio into its file; its size. Raises :class:`CarrierError`."""
        data = await self._carrier.fetch_recording(recording_sid, max_bytes=self.max_bytes)
        await asyncio.to_thread(self._write, recording_sid, data)
        return len(data)

    def _write(self, recording_sid: str, data: bytes) -> None:
        private_files.private_dir(self.folder)
        final = self.path_of(recording_sid)
        partial = final.with_suffix(".part")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private_files.FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, final)

    async def fetch(self, recording_sid: str) -> bool:
        """Fetch a completed recording (the number holder, right after Twilio's callback),
        retrying with backoff; records the outcome on its row. True once the file is here."""
        delays = self.retries
        for attempt in range(len(delays) + 1):
            try:
                size = await self._download(recording_sid)
            except (CarrierError, OSError) as exc:
                why = str(exc)[:300] or type(exc).__name__
                log.warning("fetching voicemail %s failed: %s", recording_sid, why)
                await self._db.run(
                    functools.partial(self._mark, sid=recording_sid, size=None, error=why)
                )
                if attempt == len(delays) or (
                    isinstance(exc, CarrierError) and not exc.retryable and exc.status == 404
                ):
                    return False
                await asyncio.sleep(delays[attempt])
            else:
                await self._db.run(
                    functools.partial(self._mark, sid=recording_sid, size=size, error=None)
                )
                return True
        return False

    def _mark(self, uow: UnitOfWork, *, sid: str, size: int | None, error: str | None) -> None:
        recording_sid = sid
        row = uow.session.scalar(select(Voicemail).where(Voicemail.recording_sid == sid))
        if row is None:
            return
        if size is not None:
            row.file_name = file_name(recording_sid)
            row.file_bytes = size
            row.fetched_at = self._clock.now()
            row.fetch_error = None
            # The recording is stored: the integrations recorder (voicemail.received)
            # and every open window learn it from the call's change.
            if row.call_id is not None:
                call_id = row.call_id
                uow.after_commit(lambda: self._bus.publish(CallChanged(call_id)))
        else:
            row.fetch_error = error
        uow.commit()

    async def fetch_missing(self) -> int:
        """Fetch every completed recording not fetched yet (after a restart); how many."""

        def missing(s: Session) -> list[str]:
            return list(
                s.scalars(
                    select(Voicemail.recording_sid).where(
                        Voicemail.status == "completed",
                        Voicemail.file_name.is_(None),
                        Voicemail.removed_at.is_(None),
                    )
                )
            )

        sids = await self._db.run(lambda uow: missing(uow.session))
        done = 0
        for sid in sids:
            done += await self.fetch(sid)
        return done

    async def local_file(self, voicemail_id: int) -> Path:
        """The voicemail's file on this PC, fetched first when this PC has none.
        Raises :class:`VoicemailGone` (deleted, or not recorded), :class:`CarrierError`."""

        def read(s: Session) -> tuple[str, bool]:
            row = s.get(Voicemail, voicemail_id)
            if row is None:
                raise VoicemailGone("That voicemail no longer exists.")
            if row.removed_at is not None:
                raise VoicemailGone("That recording was deleted (voicemail retention).")
            if row.status != "completed":
                raise VoicemailGone("Twilio has not finished the recording yet.")
            return row.recording_sid, True

        sid, _ = await self._db.run(lambda uow: read(uow.session))
        path = self.path_of(sid)
        if not await asyncio.to_thread(path.is_file):
            await self._download(sid)
        return path

    async def prune(self) -> int:
        """Apply ``voicemail.retention_days``; also delete files without a row. How many
        files were deleted."""
        now = self._clock.now()

        def expire(uow: UnitOfWork) -> tuple[list[str], set[str]]:
            s = uow.session
            days = self._settings(s)["voicemail.retention_days"]
            old: list[str] = []
            if days > 0:
                rows = s.scalars(
                    select(Voicemail).where(
                        Voicemail.created_at < now - timedelta(days=days),
                        Voicemail.removed_at.is_(None),
                    )
                ).all()
                for row in rows:
                    row.removed_at = now
                    row.file_name = None
                    old.append(row.recording_sid)
                if rows:
                    records.audit(s, now, "voicemail.expired", count=len(rows))
            kept = {sid for sid in s.scalars(select(Voicemail.recording_sid)) if sid not in old}
            uow.commit()
            return old, kept

        old, kept = await self._db.run(expire)
        return await asyncio.to_thread(self._delete_files, old, kept)

    async def prune_daily(self) -> None:
        """Apply retention every :data:`PRUNE_EVERY` of the injected clock, forever (the
        number holder runs it and cancels it when it gives the number up). A failed pass
        is logged and the next one comes a day later; :attr:`prune_passes` counts them."""

        async def one() -> None:
            deleted = await self.prune()
            if deleted:
                log.info("voicemail retention deleted %d recording(s)", deleted)
            self.prune_passes += 1

        await self._daily("voicemail retention", one)

    async def tidy_daily(self) -> None:
        """Every PC, once a day: :meth:`tidy_files` (a desk client's copies of recordings
        that retention or a deleted contact removed); :attr:`tidy_passes` counts them."""

        async def one() -> None:
            await self.tidy_files()
            self.tidy_passes += 1

        await self._daily("tidying voicemail files", one)

    async def _daily(self, what: str, work: Callable[[], Awaitable[None]]) -> None:
        """``work()`` every :data:`PRUNE_EVERY` of the clock, forever; a pass that fails
        is logged and the next one comes a day later."""
        due = self._clock.now() + PRUNE_EVERY
        while True:
            now = self._clock.now()
            if now < due:
                await self._clock.sleep_until(min(due, now + PRUNE_CHECK))
                continue
            due = now + PRUNE_EVERY
            try:
                await work()
            except Exception:
                log.exception("%s failed; trying again tomorrow", what)

    async def tidy_files(self) -> int:
        """Delete this PC's files of recordings that are gone or removed (no database
        writes: any PC may run it). How many files were deleted."""

        def live(s: Session) -> set[str]:
            return set(
                s.scalars(select(Voicemail.recording_sid).where(Voicemail.removed_at.is_(None)))
            )

        kept = await self._db.run(lambda uow: live(uow.session))
        return await asyncio.to_thread(self._delete_files, [], kept)

    def _delete_files(self, old: list[str], kept: set[str] | None) -> int:
        """Delete the files of ``old``; with ``kept``, also every file not in it."""
        deleted = 0
        for sid in old:
            with contextlib.suppress(FileNotFoundError, ValueError):
                self.path_of(sid).unlink()
                deleted += 1
        if kept is not None and self.folder.is_dir():
            for path in self.folder.iterdir():
                if path.suffix in (SUFFIX, ".part") and path.stem not in kept:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        deleted += 1
        return deleted

    async def forget_contact(self, contact_id: int, *, actor: str) -> bool:
        """Delete a contact with everything of theirs: conversation, texts, notes, tags,
        jobs (a waiting auto-text is never sent), callbacks, calls, voicemails (rows and
        this PC's files; other PCs' copies go at their next :meth:`prune`) and what
        Lookup said about their number. The audit keeps "contact N deleted by whom".
        False when there was no such contact (nothing changed)."""

        def work(uow: UnitOfWork) -> list[str] | None:
            s = uow.session
            contact = s.get(Contact, contact_id)
            if contact is None:
                return None
            call_ids = list(s.scalars(select(Call.id).where(Call.contact_id == contact_id)))
            sids = list(
                s.scalars(
                    select(Voicemail.recording_sid).where(
                        or_(Voicemail.contact_id == contact_id, Voicemail.call_id.in_(call_ids))
                    )
                )
            )
            s.execute(delete(Voicemail).where(Voicemail.recording_sid.in_(sids)))
            # Texts and jobs pointing at these calls go with the contact (cascade).
            s.execute(delete(Call).where(Call.id.in_(call_ids)))
            s.execute(delete(NumberLookup).where(NumberLookup.phone == contact.phone))
            records.audit(
                s, self._clock.now(), "contact.deleted", actor=actor, subject=str(contact_id)
            )
            s.delete(contact)
            events: list[Event] = [ContactChanged(contact_id)]
            events += [CallChanged(call_id) for call_id in call_ids]
            for event in events:
                uow.after_commit(functools.partial(self._bus.publish, event))
            uow.commit()
            return sids

        sids = await self._db.run(work)
        if sids is None:
            return False
        await asyncio.to_thread(self._delete_files, sids, None)
        return True
