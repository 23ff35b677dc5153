"""The composer's photo, on real widgets: a file that is too large or not a JPEG/PNG/GIF
is refused in place before anything is sent; a good one is shown with Remove, goes out
as an MMS that the Twilio stand-in fetches from the running receiver, and the thread
shows it as a thumbnail bubble with its state. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QImage
from pytestqt.qtbot import QtBot

from services.attachments import MAX_BYTES
from services.clock import ManualClock
from services.snapshots import MessageItem
from tests.harness import running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import until
from tests.ui.test_reply_faults import open_the_callers_thread
from ui.event_bridge import EventBridge
from ui.inbox.composer import Composer
from ui.inbox.page import InboxPage


def _jpeg(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    image = QImage(size[0], size[1], QImage.Format.Format_RGB32)
    image.fill(QColor("#3a7bd5"))
    assert image.save(str(path), "JPEG")
    return path


def test_a_too_large_or_wrong_type_file_is_refused_in_place(qtbot: QtBot, tmp_path: Path) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.show()
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES))
    pdf = tmp_path / "estimate.png"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(64))
    sent: list[str] = []
    composer.sendRequested.connect(sent.append)

    assert not composer.attach(big)
    assert composer.attachment is None and composer.attachment_box.isHidden()
    assert composer.error.isVisible()
    assert (
        composer.error.text()
        == "“big.png” is 5.0 MB; a text can carry at most 5.0 MB. Pick a smaller photo."
    )
    assert not composer.send_button.isEnabled()

    assert not composer.attach(pdf)
    assert "“estimate.png” is not a JPEG, PNG or GIF photo" in composer.error.text()
    assert composer.attachment is None
    composer.submit()
    assert sent == []

    good = _jpeg(tmp_path / "leak.jpg")
    assert composer.attach(good)
    assert composer.error.isHidden()
    assert composer.attachment == good and composer.attachment_box.isVisible()
    assert composer.attachment_label.text().startswith("leak.jpg\nJPEG photo · ")
    assert not composer.attachment_thumb.pixmap().isNull()
    assert composer.send_button.isEnabled()  # a photo alone may be sent
    assert composer.counter.text() == "Photo (MMS)"
    # A wrong file after a good one keeps the good one.
    assert not composer.attach(pdf)
    assert composer.attachment == good
    # Scheduling a photo is refused in words, not dropped silently.
    scheduled: list[Any] = []
    composer.scheduleRequested.connect(lambda *a: scheduled.append(a))
    composer.set_text("At 3")
    composer.schedule(datetime.now(UTC) + timedelta(hours=1))
    assert scheduled == [] and "cannot be scheduled" in composer.error.text()

    qtbot.mouseClick(composer.remove_attachment, Qt.MouseButton.LeftButton)
    assert composer.attachment is None and composer.attachment_box.isHidden()


def test_a_dropped_photo_is_attached_not_pasted(qtbot: QtBot, tmp_path: Path) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.show()
    good = _jpeg(tmp_path / "drop.jpg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(good))])
    drop = QDropEvent(
        QPointF(QPoint(10, 10)),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    composer.edit.dropEvent(drop)
    assert composer.attachment == good
    assert composer.text == ""


def test_a_photo_goes_out_as_mms_and_shows_as_a_thumbnail_bubble(
    twilio_standin: TwilioStandIn,
    qtbot: QtBot,
    run: Any,
    database_url: str,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    photo = _jpeg(tmp_path / "water heater.jpg", (320, 240))

    async def scenario() -> None:
        async with running_app(
            database_url,
            data_dir,
            twilio_standin,
            clock=clock,
            settings={"textback.enabled": False},
        ) as app:
            bridge = EventBridge(app.runtime.bus)
            page = InboxPage(app.inbox, app.engine, bridge)
            try:
                await open_the_callers_thread(qtbot, app, page)
                assert page.composer.attach(photo)
                qtbot.keyClicks(page.composer.edit, "This part?")
                qtbot.keyClick(page.composer.edit, Qt.Key.Key_Return)

                def photos() -> list[MessageItem]:
                    return [
                        i
                        for i in page.thread_view.thread_model.items()
                        if isinstance(i, MessageItem) and i.direction == "out" and i.media
                    ]

                await until(lambda: len(photos()) == 1, 10)
                await until(lambda: page.composer.attachment is None)
                (fetch,) = await twilio_standin.wait_for_media_fetches(1)
                assert fetch["status"] == 200 and fetch["content_type"] == "image/jpeg"
                assert fetch["size"] == photo.stat().st_size
                await until(lambda: photos()[0].status == "queued", 10)
                bubble = photos()[0]
                assert bubble.body == "This part?"
                ((url, _ctype),) = bubble.media
                cache = page.thread_view.media
                cache.image(url)
                await until(lambda: cache.image(url) is not None or cache.failed(url), 5)
                assert cache.image(url) is not None and not cache.failed(url)
                # Another thread: the photo does not follow the desk there.
                assert page.composer.attach(photo)
                page.close_conversation()
                assert page.composer.attachment is None
            finally:
                page.shutdown()
                bridge.detach()

    run(scenario())
