"""Outbound MMS: a photo the desk attaches is kept privately in the data dir, sent with a
``MediaUrl`` under the receiver's public URL signed with an expiry, and fetched by the
Twilio stand-in over real HTTP from the running receiver (through the tunnel's routing),
exactly as Twilio fetches it. Forged, expired and unknown links are refused; a photo
Twilio cannot fetch fails the message; a create whose answer is lost is adopted, never
resent. SQLite and PostgreSQL; time is a ManualClock."""

from __future__ import annotations

import asyncio
import hashlib
import stat
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from services.api import ReplyRefused
from services.attachments import MAX_BYTES, MEDIA_PATH
from services.clock import ManualClock
from services.gateway import TwilioGateway
from services.ports import CarrierError
from services.send_state import SendState
from services.snapshots import MessageItem
from tests.harness import BUSINESS, PUBLIC_URL, TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

MARIA = "+14155550123"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40
Scenario = Callable[[TestApp, ManualClock], Awaitable[None]]


@pytest.fixture
def run(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    def go(scenario: Scenario, *, gateway_timeout: float = 30.0) -> None:
        clock = ManualClock()

        async def main() -> None:
            async with running_app(
                database_url, data_dir, twilio_standin, clock=clock, gateway_timeout=gateway_timeout
            ) as app:
                await scenario(app, clock)

        asyncio.run(main())

    return go


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "water heater.jpg"
    path.write_bytes(JPEG)
    return path


async def _maria(app: TestApp) -> int:
    await app.reply(MARIA, "Can you send a picture of the part?")
    rows = await app.inbox.conversations()
    return next(r.contact_id for r in rows if r.phone == MARIA)


async def _outbound(app: TestApp, contact_id: int) -> list[MessageItem]:
    return [
        i
        for i in await app.inbox.thread(contact_id)
        if isinstance(i, MessageItem) and i.direction == "out"
    ]


def _local(app: TestApp, public: str) -> str:
    local = app.runtime.receiver.local_url()
    assert local is not None and public.startswith(PUBLIC_URL + MEDIA_PATH)
    return local + public.removeprefix(PUBLIC_URL)


def _create_form(app: TestApp) -> list[tuple[str, str]]:
    (create,) = app.standin.requests_to("/Messages.json", "POST")
    return list(create.form_items)


def test_a_photo_reply_is_fetched_by_twilio_from_the_receiver(
    run: Any, photo: Path, data_dir: Path
) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        message_id = await app.engine.send_reply(
            maria, "This is the part", author="Dana", photo=photo
        )
        await app.idle()
        (fetch,) = await app.standin.wait_for_media_fetches(1)
        assert fetch["status"] == 200 and fetch["error_code"] is None
        assert fetch["content_type"] == "image/jpeg"
        assert fetch["sha256"] == hashlib.sha256(JPEG).hexdigest()

        form = _create_form(app)
        urls = [v for k, v in form if k == "MediaUrl"]
        assert len(urls) == 1 and urls[0] == fetch["url"]
        assert urls[0].startswith(PUBLIC_URL + MEDIA_PATH)
        query = parse_qs(urlsplit(urls[0]).query)
        assert set(query) == {"expires", "sig"}
        assert int(query["expires"][0]) == int((clock.now() + timedelta(hours=4)).timestamp())
        assert app.standin.auth_token not in urls[0]
        assert dict(form)["Body"] == "This is the part"

        (sent,) = app.standin.messages_sent
        assert sent["num_media"] == "1"
        (out,) = await _outbound(app, maria)
        assert out.id == message_id and out.status == "queued"
        assert out.body == "This is the part"
        ((url, ctype),) = out.media
        assert ctype == "image/jpeg"
        kept = Path(urlsplit(url).path)
        assert kept.parent == data_dir / "attachments" and kept.read_bytes() == JPEG
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700

        # A photo alone: no Body at all, still one MMS.
        await app.engine.send_reply(maria, "", author="Dana", photo=photo)
        await app.idle()
        await app.standin.wait_for_media_fetches(2)
        second = app.standin.requests_to("/Messages.json", "POST")[1]
        assert "Body" not in second.form and "MediaUrl" in second.form
        outs = await _outbound(app, maria)
        assert outs[1].body == "" and outs[1].status == "queued" and len(outs[1].media) == 1
        (row,) = [r for r in await app.inbox.conversations() if r.contact_id == maria]
        assert "📷 Photo" in row.preview

    run(scenario)


def test_forged_expired_and_unknown_links_are_refused(run: Any, photo: Path) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        await app.engine.send_reply(maria, "Here", author="Dana", photo=photo)
        await app.idle()
        await app.standin.wait_for_media_fetches(1)
        (url,) = [v for k, v in _create_form(app) if k == "MediaUrl"]
        good = _local(app, url)
        parts = urlsplit(good)
        query = parse_qs(parts.query)
        base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        expires, sig = query["expires"][0], query["sig"][0]
        forged = ("0" if sig[0] != "0" else "1") + sig[1:]
        async with aiohttp.ClientSession() as http:

            async def get(target: str, method: str = "GET") -> tuple[int, str, bytes]:
                async with http.request(method, target) as resp:
                    return resp.status, resp.headers.get("Content-Type", ""), await resp.read()

            assert await get(good) == (200, "image/jpeg", JPEG)
            assert (await get(f"{base}?expires={expires}&sig={forged}"))[0] == 403
            later = int(expires) + 3600  # a longer life than was signed
            assert (await get(f"{base}?expires={later}&sig={sig}"))[0] == 403
            assert (await get(base))[0] == 403
            assert (await get(f"{base}?expires=１２&sig={sig}"))[0] == 403
            assert (await get(f"{base}?expires={expires}&sig=ü{sig[1:]}"))[0] == 403
            unknown = base.rsplit("/", 1)[0] + "/AAAAAAAAAAAAAAAAAAAAAA.jpg"
            assert (await get(f"{unknown}?expires={expires}&sig={sig}"))[0] == 404
            assert (await get(base.rsplit("/", 1)[0] + "/..%2Ffrontdesk.db"))[0] == 404
            assert (await get(good, "POST"))[0] == 405
            clock.advance(4 * 3600 - 5)
            assert (await get(good))[0] == 200  # still inside its life
            clock.advance(10)
            assert (await get(good))[0] == 403  # expired

    run(scenario)


def test_a_photo_twilio_cannot_fetch_fails_the_text_in_the_thread(run: Any, photo: Path) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        app.runtime.photos.ttl = timedelta(seconds=-1)  # every link is born expired
        await app.engine.send_reply(maria, "Here", author="Dana", photo=photo)
        await app.idle()
        (fetch,) = await app.standin.wait_for_media_fetches(1)
        assert fetch["status"] == 403 and fetch["error_code"] == 11200

        async def failed() -> bool:
            (out,) = await _outbound(app, maria)
            return out.status == "failed"

        await app.until("Twilio's failure callback to reach the thread", failed)
        (out,) = await _outbound(app, maria)
        assert (out.error and "11200" in out.error) or "retrieval" in (out.error or "").lower()

    run(scenario)


def test_too_large_or_not_a_photo_is_refused_and_nothing_is_stored(
    run: Any, tmp_path: Path, data_dir: Path
) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(JPEG[:16] + bytes(MAX_BYTES))
    pdf = tmp_path / "invoice.jpg"  # the name says JPEG; the bytes say PDF
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(100))

    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        with pytest.raises(ReplyRefused, match=r"“big.jpg” is 5.0 MB; .* at most 5.0 MB"):
            await app.engine.send_reply(maria, "Here", author="Dana", photo=big)
        with pytest.raises(ReplyRefused, match=r"“invoice\.jpg” is not a JPEG, PNG or GIF"):
            await app.engine.send_reply(maria, "Here", author="Dana", photo=pdf)
        with pytest.raises(ReplyRefused, match="cannot be read"):
            await app.engine.send_reply(maria, "", author="Dana", photo=tmp_path / "gone.png")
        with pytest.raises(ReplyRefused, match="Type a message first"):
            await app.engine.send_reply(maria, "  ", author="Dana")
        await app.idle()
        assert await _outbound(app, maria) == []
        assert app.standin.messages_sent == []
        assert list((data_dir / "attachments").glob("*")) == []

    run(scenario)


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_an_mms_whose_answer_is_lost_is_adopted_not_resent(
    run: Any, photo: Path, fault: str
) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        # A plain text with the same (empty) words exists in the log already: not ours.
        app.standin.fail_after_create(fault)
        await app.engine.send_reply(maria, "", author="Dana", photo=photo)

        async def uncertain() -> bool:
            return ("reply", SendState.UNCERTAIN) in await app.jobs()

        await app.until("the send to become uncertain", uncertain)
        assert len(app.standin.messages_sent) == 1
        clock.advance(app.engine.outbox.settle_seconds + 1)

        async def adopted() -> bool:
            return ("reply", SendState.SENT) in await app.jobs()

        await app.until("the MMS to be adopted", adopted)
        await app.idle()
        (created,) = app.standin.messages_sent
        (out,) = await _outbound(app, maria)
        ((sid, body, status, _kind, _error),) = [o for o in await app.outbound()]
        assert sid == created["sid"] and body == "" and status == "queued"
        assert len(out.media) == 1

    run(scenario, gateway_timeout=0.5)


def test_a_plain_text_is_never_adopted_as_an_mms_with_the_same_words(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        # An MMS with the same words left the number moments ago (another tool, another
        # PC): it is older, so without the media rule it would be taken for this text.
        other = app.standin.seed_message(
            from_=BUSINESS,
            to=MARIA,
            body="On our way",
            direction="outbound-api",
            status="queued",
            media=["image/jpeg"],
        )
        app.standin.fail_after_create("drop")
        await app.engine.send_reply(maria, "On our way", author="Dana")

        async def uncertain() -> bool:
            return ("reply", SendState.UNCERTAIN) in await app.jobs()

        await app.until("the send to become uncertain", uncertain)
        clock.advance(app.engine.outbox.settle_seconds + 1)

        async def adopted() -> bool:
            return ("reply", SendState.SENT) in await app.jobs()

        await app.until("the look-up", adopted)
        await app.idle()
        (created,) = app.standin.messages_sent
        ((sid, *_rest),) = await app.outbound()
        assert sid == created["sid"] != other["sid"]

    run(scenario, gateway_timeout=0.5)


def test_the_standin_is_as_strict_as_twilio_about_media_urls() -> None:
    """A MediaUrl that is not an absolute http(s) URL is refused at create (21620); one
    Twilio cannot reach (not public: loopback with no tunnel) fails the message (11200)."""

    async def main() -> None:
        async with (
            TwilioStandIn() as standin,
            TwilioGateway(
                standin.account_sid, standin.auth_token, base_url=standin.base_url
            ) as gateway,
        ):
            for bad in ("file:///etc/passwd", "/twilio/media/x.jpg", "ftp://example.com/a"):
                with pytest.raises(CarrierError) as refused:
                    await gateway.send_sms(
                        to=MARIA,
                        from_=BUSINESS,
                        body="",
                        status_callback=None,
                        media_urls=[bad],
                    )
                assert refused.value.code == 21620
            assert standin.messages_sent == []
            sent = await gateway.send_sms(
                to=MARIA,
                from_=BUSINESS,
                body="",
                status_callback=None,
                media_urls=["http://127.0.0.1:9/photo.jpg"],
            )
            (fetch,) = await standin.wait_for_media_fetches(1)
            assert fetch["error_code"] == 11200 and fetch["status"] is None
            (logged,) = [m for m in standin.messages if m["sid"] == sent.sid]
            assert logged["status"] == "failed" and logged["error_code"] == 11200

    asyncio.run(main())
