"""The one clock of the program: every "now" comes from here, in Asia/Ho_Chi_Minh.

Tests move it with time-machine (which moves ``time.time``); the demo runs the real jobs over
two simulated weeks with :func:`simulate`. Nothing else calls ``datetime.now()`` directly.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_simulated: datetime | None = None


def now() -> datetime:
    """The current moment, timezone-aware, in Vietnam's time whatever the host's zone."""
    if _simulated is not None:
        return _simulated
    return datetime.now(TZ)


def today() -> date:
    return now().date()


def local(moment: datetime) -> datetime:
    """``moment`` seen in Vietnam's time; a naive moment is taken to be Vietnam's already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=TZ)
    return moment.astimezone(TZ)


@contextmanager
def simulate(moment: datetime):
    """Within the block, "now" is ``moment`` (for rehearsals and the demo, never in production)."""
    global _simulated
    previous, _simulated = _simulated, local(moment)
    try:
        yield
    finally:
        _simulated = previous
