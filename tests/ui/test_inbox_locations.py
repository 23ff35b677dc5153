"""The inbox with two locations (issue 13): one contact who called both numbers has two
threads, each labelled with its location; the list filters by location; the composer
says which number a reply leaves from, and it does leave from there."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from tests.harness import BUSINESS, TestApp
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import run
from ui.inbox.page import InboxPage

CALLER = "+14155550123"
NORTH = "+15005550007"


def _north_and_page(qtbot: QtBot, ui_app: TestApp, bridge: Any) -> tuple[int, InboxPage]:
    """A second location, North, and the inbox once it knows there are two."""
    north = run(qtbot, ui_app.add_location("North", NORTH, {}))
    page = InboxPage(ui_app.inbox, ui_app.engine, bridge, locations=ui_app.runtime.locations)
    page.tasks.quiet = True
    page.resize(1200, 800)
    qtbot.addWidget(page)
    page.show()
    page.start()
    qtbot.waitUntil(lambda: page.model.several and page.delegate.show_locations, timeout=5000)
    return north, page


def test_two_locations_two_threads_labelled_filtered_and_answered_from_their_number(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    north, page = _north_and_page(qtbot, ui_app, bridge)
    assert page.filter_bar.location.isVisibleTo(page)

    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, ui_app.missed_call(CALLER, to=NORTH))
    run(qtbot, ui_app.idle())
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=3000)
    rows = page.model.rows()
    assert {r.contact_id for r in rows} == {rows[0].contact_id}  # one contact
    assert {(r.location_id, r.location_name) for r in rows} == {(1, "Main"), (north, "North")}
    assert "North" in page.model.index(page.model.row_of(rows[0].contact_id, north)).data(
        0x0003  # ToolTipRole
    )

    # The location filter keeps North's thread only (and the counts follow it).
    page.filter_bar.location.setCurrentIndex(page.filter_bar.location.findData(north))
    page.filter_bar.location.activated.emit(page.filter_bar.location.currentIndex())
    qtbot.waitUntil(
        lambda: [r.location_id for r in page.model.rows()] == [north] and not page.model.loading,
        timeout=3000,
    )

    # Opening it: the composer names North's number, and the reply leaves from it.
    page.list.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(lambda: page.current_location_id == north, timeout=2000)
    assert page.composer.sender_line.text() == "Texts leave from North · (500) 555-0007"
    qtbot.waitUntil(lambda: page.header_sub.text().startswith("North"), timeout=2000)
    before = len(twilio_standin.messages_sent)
    page.composer.set_text("We can come by at 3.")
    page.composer.send_button.click()
    qtbot.waitUntil(lambda: len(twilio_standin.messages_sent) > before, timeout=5000)
    sent = twilio_standin.messages_sent[-1]
    assert (sent["from"], sent["to"], sent["body"]) == (NORTH, CALLER, "We can come by at 3.")
    qtbot.waitUntil(
        lambda: any(
            getattr(i, "body", "") == "We can come by at 3."
            for i in page.thread_view.thread_model.items()
        ),
        timeout=3000,
    )

    # Back to every location: Main's thread opens with Main's number in the composer.
    page.filter_bar.location.setCurrentIndex(0)
    page.filter_bar.location.activated.emit(0)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page.model.loading, timeout=3000)
    page.list.setCurrentIndex(page.model.index(page.model.row_of(rows[0].contact_id, 1)))
    qtbot.waitUntil(lambda: page.current_location_id == 1, timeout=2000)
    assert page.composer.sender_line.text() == "Texts leave from Main · (500) 555-0001"
    assert BUSINESS == "+15005550001"


def test_a_new_conversation_starts_at_the_location_picked(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    north, page = _north_and_page(qtbot, ui_app, bridge)
    page.set_location(north)  # the list shows North's threads: a new one starts there
    dialog = page.new_conversation()
    assert dialog.location.isVisibleTo(dialog)
    assert dialog.location.currentData() == north
    dialog.number.setText("(415) 555-0199")
    dialog.submit()
    qtbot.waitUntil(lambda: page.current_contact_id is not None, timeout=3000)
    assert page.current_location_id == north
    assert page.composer.sender_line.text() == "Texts leave from North · (500) 555-0007"
    contact = run(qtbot, ui_app.inbox.contact(page.current_contact_id))
    assert contact.location_ids == (north,)  # no thread at the first location


def test_missed_calls_name_the_location_called_once_there_are_several(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    from ui.missed_calls_page import MissedCallsModel, MissedCallsPage

    page = MissedCallsPage(
        ui_app.inbox, ui_app.engine, bridge, actor="Dana", locations=ui_app.runtime.locations
    )
    page.tasks.quiet = True
    page.resize(1200, 700)
    qtbot.addWidget(page)
    page.show()
    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, ui_app.idle())
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and page.model.locations is not None)
    column = MissedCallsModel.LOCATION
    assert page.table.isColumnHidden(column)  # one location: nothing to tell apart

    # A second location, announced as the Settings page does: the column appears.
    north = run(qtbot, ui_app.add_location("North", NORTH, {}))
    qtbot.waitUntil(lambda: not page.table.isColumnHidden(column), timeout=3000)
    run(qtbot, ui_app.missed_call("+14155550199", to=NORTH))
    run(qtbot, ui_app.idle())
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=3000)
    shown = {
        page.model.call_at(r).location_id: page.model.index(r, column).data() for r in range(2)
    }
    assert shown == {1: "Main", north: "North"}
    row = next(r for r in range(2) if page.model.call_at(r).location_id == north)
    assert page.model.index(row, column).data(0x0003) == "Called (500) 555-0007"  # ToolTipRole

    # North removed: its call is not relabelled as Main's.
    run(qtbot, ui_app.runtime.locations.remove(north, actor="test"))
    qtbot.waitUntil(lambda: page.model.index(row, column).data() == "Removed", timeout=3000)
    assert page.model.index(row, column).data(0x0003) is None


def test_the_thread_header_never_cuts_the_location_and_number(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    """Beside the thread's buttons the line under the name lost its end at some widths
    (200 % on a 1280 px screen showed "Main · (415) 555-012"): at every width, the
    location and the whole number are shown, the buttons going under the name if need be."""
    _north, page = _north_and_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, ui_app.idle())
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=3000)
    contact_id = page.model.rows()[0].contact_id
    run(qtbot, ui_app.inbox.rename(contact_id, "Maria Lopez", actor="Dana"))
    page.list.setCurrentIndex(page.model.index(0))
    whole = "Main · (415) 555-0123"
    qtbot.waitUntil(lambda: page.header_sub.text() == whole, timeout=3000)
    needed = page.header_sub.fontMetrics().horizontalAdvance(whole)
    for width in range(1100, 640, -6):
        page.resize(width, 800)
        qtbot.wait(5)
        assert page.header_sub.width() >= needed, (width, page.header_sub.width(), needed)


def test_replies_from_a_number_they_opted_out_of_are_off_in_that_thread_only(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    """STOP to North, then START to Main: they are opted in, but Twilio still refuses
    North's texts. Once a text from North has been refused, North's composer says so and
    is off; Main's is on."""
    north, page = _north_and_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.reply(CALLER, "STOP", To=NORTH))
    twilio_standin.opt_out(CALLER, sender=NORTH)
    run(qtbot, ui_app.reply(CALLER, "START", To=BUSINESS))
    run(qtbot, ui_app.idle())
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=3000)
    contact_id = page.model.rows()[0].contact_id
    run(
        qtbot,
        ui_app.engine.send_reply(contact_id, "Still on for 3?", author="Dana", location_id=north),
    )
    run(qtbot, ui_app.idle())

    page.list.setCurrentIndex(page.model.index(page.model.row_of(contact_id, north)))
    qtbot.waitUntil(lambda: "START" in page.composer.blocked_reason, timeout=3000)
    assert "North · (500) 555-0007" in page.composer.blocked_reason
    assert not page.composer.send_button.isEnabled()
    page.list.setCurrentIndex(page.model.index(page.model.row_of(contact_id, 1)))
    qtbot.waitUntil(lambda: page.current_location_id == 1, timeout=3000)
    qtbot.waitUntil(lambda: page.composer.blocked_reason == "", timeout=3000)
