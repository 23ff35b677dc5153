"""Pages that label things with their location load the office's locations the same way:
once on showing, again when a settings change names them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.api import LocationsApi
from services.locations import Locations
from ui.widgets.tasks import TaskRunner

#: Setting changes after which the locations (names, numbers, how many) may differ.
_LOCATION_KEYS = frozenset({"locations", "business.phone_number", "business.name"})


def load_locations(
    tasks: TaskRunner, api: LocationsApi | None, done: Callable[[Locations], None]
) -> None:
    """Load the locations in the background and hand them to ``done`` (no API: nothing)."""
    if api is not None:
        tasks.spawn(api.locations(), what="load the locations", done=done)


def names_locations(keys: Sequence[str]) -> bool:
    """Whether a settings change may have changed the locations."""
    return any(key in _LOCATION_KEYS for key in keys)
