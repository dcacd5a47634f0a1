"""The one clock of the program: every "now" comes from here, in Asia/Ho_Chi_Minh.

Tests set it with time-machine (which moves ``time.time``), so nothing else may call
``datetime.now()`` directly.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def now() -> datetime:
    """The current moment, timezone-aware, in Vietnam's time whatever the host's zone."""
    return datetime.now(TZ)


def today() -> date:
    return now().date()


def local(moment: datetime) -> datetime:
    """``moment`` seen in Vietnam's time; a naive moment is taken to be Vietnam's already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=TZ)
    return moment.astimezone(TZ)
