"""Current time, and dates in China Standard Time for working-day counts.

Production uses the machine's clock. Tests and the demo may set the time
(``set_now``), to show and check supervision on real dates: the clock then
keeps running from the time set. A node whose configuration allows it
stores the offset in its database, so that its web and worker processes
agree (see ``node.clock``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

# Added to the machine's clock; zero unless a test or the demo set the time.
_offset = dt.timedelta(0)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + _offset


def set_now(moment: dt.datetime) -> None:
    """Make ``utcnow()`` return ``moment`` now and run on from there."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}; pass an aware value")
    set_offset(moment - dt.datetime.now(dt.UTC))


def set_offset(offset: dt.timedelta) -> None:
    global _offset
    _offset = offset


def offset() -> dt.timedelta:
    return _offset


def reset() -> None:
    """Go back to the machine's clock."""
    set_offset(dt.timedelta(0))


def local_date(moment: dt.datetime) -> dt.date:
    """Return the calendar date in China of an aware timestamp."""
    return moment.astimezone(CHINA).date()


def today() -> dt.date:
    """Return today's date in China."""
    return local_date(utcnow())
