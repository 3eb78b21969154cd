"""Calendar time: ISO dates <-> period numbers.

With a top-level `start_date`, period k covers `period_days` days (default 7) from
start_date + k * period_days; a date stands for the period that contains it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

DEFAULT_PERIOD_DAYS = 7.0
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def as_date(value: Any) -> dt.date | None:
    """The date a cell holds (a date, a datetime, or ISO text 'YYYY-MM-DD'), or None if it
    is not date-like. ValueError for ISO-shaped text that is no real date (2027-02-30)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _ISO.fullmatch(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"'{text}' is not a date (YYYY-MM-DD)") from None
    return None


def period_of(day: dt.date, start: dt.date, period_days: float | None) -> int:
    """The period containing `day` (negative before the start)."""
    length = period_days or DEFAULT_PERIOD_DAYS
    return math.floor((day - start).days / length)


def first_day(period: int, start: dt.date, period_days: float | None) -> dt.date:
    """The first day of a period: the first whole day that `period_of` places in it."""
    length = period_days or DEFAULT_PERIOD_DAYS
    return start + dt.timedelta(days=math.ceil(period * length))


def add_date_columns(tables: dict, start: dt.date, period_days: float | None) -> dict:
    """Every table with a `period` column gets a `date` column beside it: the first day of
    that period (ISO text; empty where the period is)."""
    import pandas as pd

    out = {}
    for name, frame in tables.items():
        if "period" in frame.columns and "date" not in frame.columns:
            frame = frame.copy()
            periods = pd.to_numeric(frame["period"], errors="coerce")
            days = {p: first_day(int(p), start, period_days).isoformat() for p in periods.dropna().unique()
                    if float(p).is_integer()}
            frame.insert(frame.columns.get_loc("period") + 1, "date", periods.map(days).fillna(""))
        out[name] = frame
    return out
