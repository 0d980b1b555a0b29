"""The one wall clock: Asia/Shanghai time, naive, as every timestamp privmigrate records.

The core never reads the clock (``now``/``as_of`` are parameters); the edges call this.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_now() -> datetime:
    """Now as Asia/Shanghai wall time (naive), whatever the machine's own time zone."""
    return datetime.now(SHANGHAI).replace(tzinfo=None)


def as_of_date(chosen: date | None = None) -> date:
    """The one as-of rule of every command: the date given (``--as-of``/``--date``), else
    today in Asia/Shanghai. Events after its end (adds, orders, receipts, calls) are never
    counted."""
    return chosen or shanghai_now().date()
