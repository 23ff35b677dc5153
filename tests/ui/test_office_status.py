"""The status bar's office corner, driven as a person would."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from ui.widgets.office_status import OfficeStatus


def test_a_desk_client_sees_the_holder_and_can_ask_for_the_number(qtbot: QtBot) -> None:
    status = OfficeStatus()
    qtbot.addWidget(status)
    status.show()
    status.show_holder("FRONT-PC", holding=False, shared=True)
    assert status.holder.text() == "Number held by FRONT-PC"
    assert status.take_over.isVisible()
    with qtbot.waitSignal(status.takeOverRequested):
        status.take_over.click()
    assert not status.take_over.isEnabled()  # asked once, until the answer comes
    status.show_holder("BACK-PC", holding=True, shared=True)
    assert status.holder.text() == "This PC holds the number"
    assert not status.take_over.isVisible()
    status.show_holder("BACK-PC", holding=True, shared=False)  # SQLite: nothing to say
    assert not status.holder.isVisible()


def test_the_person_switch_names_who_is_at_this_pc(qtbot: QtBot) -> None:
    status = OfficeStatus()
    qtbot.addWidget(status)
    status.show_people(["Dana", "Luis"], "Dana")
    assert status.person.currentText() == "Dana"
    with qtbot.waitSignal(status.personChosen) as chosen:
        status.person.setCurrentIndex(1)
        status.person.activated.emit(1)
    assert chosen.args == ["Luis"]
