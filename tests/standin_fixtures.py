"""Pytest fixtures for the Twilio stand-in (:mod:`tests.twilio_standin`).

The suite does not use pytest-asyncio, so the stand-in runs in a background thread with
its own loop: it serves tests that drive the gateway with ``asyncio.run(...)`` and
``frontdesk serve`` subprocesses alike. To use the fixtures in a test module, import
the fixture *functions* (their pytest names differ, so nothing is shadowed)::

    from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
    # (and twilio_standin_env_fixture, which needs twilio_standin_fixture imported too)

    def test_something(twilio_standin: TwilioStandIn) -> None:
        twilio_standin.add_number("+15550001111")
        ... TwilioGateway(..., base_url=twilio_standin.base_url) ...

For a test that already runs its own loop, use in-loop mode instead::

    async with TwilioStandIn() as standin: ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.twilio_standin import TwilioStandIn

__all__ = ["twilio_standin_env_fixture", "twilio_standin_fixture"]


@pytest.fixture(name="twilio_standin")
def twilio_standin_fixture() -> Iterator[TwilioStandIn]:
    """A running stand-in (thread mode) with the default account SID and token."""
    standin = TwilioStandIn()
    standin.start_in_thread()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture(name="twilio_standin_env")
def twilio_standin_env_fixture(
    twilio_standin: TwilioStandIn, monkeypatch: pytest.MonkeyPatch
) -> TwilioStandIn:
    """The stand-in, with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and
    FRONTDESK_TWILIO_BASE_URL pointing at it (for subprocesses and the composition root).
    """
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", twilio_standin.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", twilio_standin.auth_token)
    monkeypatch.setenv("FRONTDESK_TWILIO_BASE_URL", twilio_standin.base_url)
    return twilio_standin
