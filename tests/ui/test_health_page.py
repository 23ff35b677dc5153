"""Webhook health page and the connection box on the real runtime (stand-in over HTTP)."""

from __future__ import annotations

import json
import threading
from typing import Any

from keyring.backends import null
from pytestqt.qtbot import QtBot

from desktop.connection import DesktopConnection
from desktop.health import RuntimeHealth
from services.credentials import CredentialStore
from tests.harness import BUSINESS, PUBLIC_URL, TestApp
from tests.services.test_credentials import MemoryKeyring
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.ui.conftest import run
from ui.connection_box import ConnectionBox
from ui.health_page import HealthPage

ME = "+14155550177"


class ThreadCheckingKeyring(MemoryKeyring):
    """Records the thread of every keyring call: none may be the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.threads.append(threading.current_thread())
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self.threads.append(threading.current_thread())
        super().set_password(service, username, password)


def test_health_page_shows_the_wiring_rejections_and_sends_a_test_text(
    qtbot: QtBot, ui_app: TestApp
) -> None:
    page = HealthPage(RuntimeHealth(ui_app.runtime), refresh_seconds=0)
    page._tasks.quiet = True
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.snapshot is not None, timeout=5000)
    snap = page.snapshot
    assert snap is not None and snap.healthy
    assert page.public_url.text() == PUBLIC_URL
    assert page.tunnel_state.text() == "Connected"
    assert page.voice_url.text() == PUBLIC_URL + "/twilio/voice"
    assert page.points_here.text() == "Yes"
    assert page.fallback_url.text().startswith("https://twimlets.com/")
    assert page.summary.text().startswith("Healthy")
    assert page.last_accepted.text() == "No webhook received since Frontdesk started."

    # One good webhook and one signed with the wrong token.
    run(qtbot, ui_app.reply("+14155550123", "hello"))
    status, _ = run(
        qtbot,
        ui_app.post(
            "sms",
            {"MessageSid": "SM" + "1" * 32, "From": "+14155550124", "Body": "x"},
            token="wrong-token",
        ),
    )
    assert status == 403
    run(qtbot, ui_app.idle())
    page.refresh()
    qtbot.waitUntil(lambda: page.rejected.rowCount() == 1, timeout=5000)
    cells = [page.rejected.item(0, col) for col in range(4)]
    texts = [c.text() if c is not None else "" for c in cells]
    assert texts[1] == "/twilio/sms"
    assert texts[2].startswith("403")
    assert texts[3] == PUBLIC_URL + "/twilio/sms"
    assert "/twilio/sms" in page.last_accepted.text()

    # The number moved elsewhere behind our back: the page says so.
    sid = next(n["sid"] for n in ui_app.standin.numbers if n["phone_number"] == BUSINESS)
    admin = ui_app.runtime.number_admin
    assert admin is not None
    run(qtbot, admin.update_number(sid, voice_url="https://else.example.com/v"))
    page.refresh()
    qtbot.waitUntil(lambda: page.points_here.text().startswith("No"), timeout=5000)
    assert "point somewhere else" in page.summary.text()

    # Send me a test text.
    page.test_to.setText("415 555 0177")
    page.test_button.click()
    qtbot.waitUntil(lambda: page.test_result.text().startswith("Sent to"), timeout=5000)
    sent = ui_app.standin.messages_sent
    assert [(m["to"], m["from"]) for m in sent] == [(ME, BUSINESS)]
    page.test_to.setText("12")
    page.test_button.click()
    qtbot.waitUntil(lambda: "is not a phone number" in page.test_result.text(), timeout=5000)


def test_health_page_lists_every_locations_number(qtbot: QtBot, ui_app: TestApp) -> None:
    """With two locations (issue 13): each number and whether it points here; one the
    account lost is named with its problem."""
    north = "+15005550007"
    run(qtbot, ui_app.add_location("North", north, {}))
    wiring = ui_app.runtime.numbers
    assert wiring is not None
    qtbot.waitUntil(lambda: north in wiring.wired, timeout=5000)  # the holder wired it
    page = HealthPage(RuntimeHealth(ui_app.runtime), refresh_seconds=0)
    page._tasks.quiet = True
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(
        lambda: page.snapshot is not None and len(page.snapshot.numbers) == 2, timeout=5000
    )
    assert page.locations_line.isVisibleTo(page)
    qtbot.waitUntil(
        lambda: (
            page.locations_line.text()
            == f"Main · {BUSINESS}: receiving here\nNorth · {north}: receiving here"
        ),
        timeout=5000,
    )
    sid = next(n["sid"] for n in ui_app.standin.numbers if n["phone_number"] == north)
    admin = ui_app.runtime.number_admin
    assert admin is not None
    run(qtbot, admin.update_number(sid, voice_url="https://else.example.com/v"))
    page.refresh()
    qtbot.waitUntil(lambda: "North · " + north + ": " in page.locations_line.text(), timeout=5000)
    qtbot.waitUntil(
        lambda: "North · " + north + ": receiving here" not in page.locations_line.text(),
        timeout=5000,
    )
    assert not page.summary.text().startswith("Healthy")


def _box(qtbot: QtBot, ui_app: TestApp, store: CredentialStore) -> ConnectionBox:
    api = DesktopConnection(
        store, ui_app.inbox, ui_app.runtime, twilio_base_url=ui_app.standin.base_url
    )
    box = ConnectionBox(api)
    box._tasks.quiet = True
    qtbot.addWidget(box)
    qtbot.waitUntil(lambda: box.details is not None, timeout=5000)
    return box


def test_connection_box_saves_tests_and_disconnects(qtbot: QtBot, ui_app: TestApp) -> None:
    keyring = ThreadCheckingKeyring()
    store = CredentialStore(keyring_backend=keyring, environ={})
    box = _box(qtbot, ui_app, store)
    assert box.account_sid.text() == ""
    assert box.auth_token.echoMode() == box.auth_token.EchoMode.Password

    standin = ui_app.standin
    box.account_sid.setText(standin.account_sid)
    box.auth_token.setText("wrong-token-value")
    box.test_button.click()
    qtbot.waitUntil(lambda: "20003" in box.status.text(), timeout=5000)

    box.auth_token.setText(standin.auth_token)
    box.ngrok_token.setText("ngrok-token-abcdef")
    box.save_button.click()
    qtbot.waitUntil(lambda: box.status.text() == "Saved in the system keyring.", timeout=5000)
    assert box.auth_token.text() == ""  # never filled back
    assert box.auth_token.placeholderText().startswith("stored")
    stored = json.loads(keyring.store[("frontdesk", "twilio")])
    assert stored["auth_token"] == standin.auth_token
    assert keyring.store[("frontdesk", "ngrok-authtoken")] == "ngrok-token-abcdef"
    assert "Restart Frontdesk" in box.source.text()

    # Empty token field: the stored token is used.
    box.test_button.click()
    qtbot.waitUntil(lambda: box.status.text().startswith("Connection works"), timeout=5000)

    assert keyring.threads and threading.main_thread() not in keyring.threads

    box.disconnect_button.click()
    qtbot.waitUntil(lambda: box.status.text().startswith("Disconnected"), timeout=5000)
    number: dict[str, Any] = next(n for n in standin.numbers if n["phone_number"] == BUSINESS)
    assert number["voice_url"] == ""  # the stand-in number had no webhooks before
    assert ui_app.runtime.disconnected


def test_connection_box_without_a_keyring_says_what_to_do(qtbot: QtBot, ui_app: TestApp) -> None:
    store = CredentialStore(keyring_backend=null.Keyring(), environ={})  # type: ignore[no-untyped-call]
    box = _box(qtbot, ui_app, store)
    assert "No secure keyring" in box.source.text()
    box.account_sid.setText(ui_app.standin.account_sid)
    box.auth_token.setText("some-token-value")
    box.save_button.click()
    qtbot.waitUntil(lambda: "No secure keyring" in box.status.text(), timeout=5000)
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in box.status.text()
    assert "some-token-value" not in box.status.text()
