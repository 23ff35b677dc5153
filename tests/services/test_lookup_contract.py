"""Contract: the gateway's Lookup v2 request is one Twilio's own spec accepts
(``twilio_lookups_v2.json`` from each source of :mod:`tests.twilio_spec`, served by
Stoplight Prism, as :mod:`tests.services.test_gateway_contract` does for the 2010-04-01
API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services.test_gateway_contract import (
    CALLER,
    Prism,
    serve_prism,
    through_prism,
    usable_source,
)
from tests.twilio_spec import LOOKUPS, SOURCES


@pytest.fixture(scope="module", params=SOURCES)
def prism(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prism]:
    yield from serve_prism(usable_source(request.param, LOOKUPS), LOOKUPS, tmp_path_factory)


def test_lookup_line_type_and_caller_name(prism: Prism) -> None:
    info = through_prism(prism, lambda gw: gw.lookup_number(CALLER, timeout_seconds=10.0))
    # Prism answers the spec's example; what matters is that the request passed the
    # spec's validation (through_prism fails on any logged violation) and was parsed.
    # (Prism validating at all is shown by test_gateway_contract's negative control.)
    if prism.has_examples:
        assert info.phone.startswith("+")
