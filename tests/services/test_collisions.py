"""Collisions, the pure part: who is typing (and when it expires), "a colleague just
replied", and the typing messages' throttle and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.collisions import (
    TypingBoard,
    clean_name,
    colleague_reply,
    replying_text,
)
from services.events import ColleagueTyping, Event, EventBus
from services.presence import Presence
from services.snapshots import CallItem, MessageItem

NOW = datetime(2026, 3, 2, 15, 0, 0, tzinfo=UTC)


def _msg(
    id: int,
    seconds_ago: float,
    *,
    direction: str = "out",
    kind: str = "manual",
    author: str | None = "Luis",
    body: str = "On our way",
) -> MessageItem:
    return MessageItem(
        id=id,
        at=NOW - timedelta(seconds=seconds_ago),
        direction=direction,
        body=body,
        status="sent",
        kind=kind,
        error=None,
        media=(),
        author=author,
        segments=1,
    )


def test_typing_board_expires_after_ten_seconds_without_a_repeat() -> None:
    board = TypingBoard()
    board.seen(7, "Dana", now=100.0)
    board.seen(8, "Luis", now=101.0)
    assert board.typing(7, now=105.0) == ["Dana"]
    assert board.typing(7, now=109.9) == ["Dana"]
    board.seen(7, "Luis", now=109.0)
    assert board.typing(7, now=109.95) == ["Dana", "Luis"]  # longest-typing first
    assert board.typing(7, now=110.0) == ["Luis"]  # Dana's signal is 10 s old
    board.seen(7, "Luis", now=115.0)  # a repeat keeps it alive
    assert board.typing(7, now=124.0) == ["Luis"]
    board.stopped(7, "Luis")  # sent: gone at once
    assert board.typing(7, now=124.0) == []
    assert board.typing(8, now=124.0) == []  # expired meanwhile
    assert not board


def test_replying_text() -> None:
    assert replying_text([]) == ""
    assert replying_text(["Dana"]) == "Dana is replying…"
    assert replying_text(["Dana", "Luis"]) == "Dana and Luis are replying…"
    assert replying_text(["A", "B", "C"]) == "A, B and C are replying…"


def test_a_colleagues_reply_in_the_last_30_seconds() -> None:
    call = CallItem.__new__(CallItem)  # calls in the thread are skipped
    thread: list[Any] = [
        call,
        _msg(1, 120, author="Luis"),  # too old
        _msg(2, 20, direction="in", kind="inbound", author=None),  # the customer
        _msg(3, 10, kind="textback", author=None),  # automatic: not a person's reply
    ]
    assert colleague_reply(thread, now=NOW, me="Dana") is None
    luis = _msg(4, 29.5, author="Luis")
    assert colleague_reply([*thread, luis], now=NOW, me="Dana") == luis
    assert colleague_reply([*thread, _msg(5, 30.5)], now=NOW, me="Dana") is None
    # My own reply (by name, or by id when this PC has no name) is not a colleague's.
    assert colleague_reply([*thread, _msg(6, 5, author="Dana")], now=NOW, me="Dana") is None
    assert colleague_reply([*thread, _msg(7, 5, author=None)], now=NOW, me=None, mine={7}) is None
    # With no name on either side, someone else's reply still counts.
    anonymous = _msg(8, 5, author=None)
    assert colleague_reply([anonymous], now=NOW, me=None, mine={7}) == anonymous
    # The newest of several.
    newer = _msg(9, 3, author="Sam")
    assert colleague_reply([luis, newer, _msg(10, 8)], now=NOW, me="Dana") == newer
    # The window is a parameter.
    assert colleague_reply([luis], now=NOW, me="Dana", window_seconds=20) is None


def test_clean_name() -> None:
    assert clean_name("  Dana   Ruiz ") == "Dana Ruiz"
    assert clean_name("x" * 500) == "x" * 60
    assert clean_name("") is None
    assert clean_name("\x00") is None
    assert clean_name(5) is None


def test_presence_throttles_what_it_sends_and_validates_what_it_gets() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    clock = [0.0]
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    presence = Presence(bus, lambda kind, **f: sent.append((kind, f)), monotonic=lambda: clock[0])
    for t in (0.0, 0.5, 1.0, 2.9):
        clock[0] = t
        presence.typing(4, "Dana")
    assert sent == [("typing", {"c": 4, "w": "Dana", "a": 1})]
    clock[0] = 3.0
    presence.typing(4, "Dana")  # typing goes on: repeated every 3 s
    presence.typing(5, "Dana")  # another thread: its own message
    assert len(sent) == 3
    presence.stopped(4, "Dana")
    presence.stopped(4, "Dana")  # said once
    presence.stopped(6, "Dana")  # never typed there: nothing to say
    assert sent[3:] == [("typing", {"c": 4, "w": "Dana", "a": 0})]

    presence.received({"c": 4, "w": "Luis", "a": 1})
    presence.received({"c": 4, "w": "Luis", "a": 0})
    for bad in (
        {"c": "4", "w": "Luis", "a": 1},
        {"c": True, "w": "Luis", "a": 1},
        {"c": 2**70, "w": "Luis", "a": 1},
        {"c": 4, "w": "", "a": 1},
        {"c": 4, "w": ["Luis"], "a": 1},
        {"c": 4, "w": "Luis", "a": "yes"},
        {},
    ):
        presence.received(bad)
    assert seen == [ColleagueTyping(4, "Luis", True), ColleagueTyping(4, "Luis", False)]

    alone = Presence(bus, None)  # one PC (SQLite): nobody to tell
    alone.typing(4, "Dana")
    assert not alone.shared
