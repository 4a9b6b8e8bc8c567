"""Current time, and dates in China Standard Time for working-day counts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_date(moment: dt.datetime) -> dt.date:
    """Return the calendar date in China of an aware timestamp."""
    return moment.astimezone(CHINA).date()
