"""The marketing-SMS sending window (default 09:00–20:00 Asia/Shanghai, never outside 08:00–21:00).

Providers reject marketing SMS outside their hours (Tencent 08:00–22:00, reference §3.4);
ours is stricter and configurable within the hard floor and ceiling.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from privmigrate.errors import PrivmigrateError
from privmigrate.invite.settings import Window

NOW_ENV = "PRIVMIGRATE_NOW"


class OutsideWindowError(PrivmigrateError):
    """--send outside the sending window (exit 1): nothing was sent."""


def local(now: datetime, window: Window) -> datetime:
    zone = ZoneInfo(window.timezone)
    return now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)


def is_open(now: datetime, window: Window) -> bool:
    t = local(now, window).time()
    return window.start <= t < window.end


def next_opening(now: datetime, window: Window) -> datetime:
    """When the window next opens (``now`` itself when it is open)."""
    here = local(now, window)
    if is_open(here, window):
        return here
    opening = here.replace(hour=window.start.hour, minute=window.start.minute, second=0,
                           microsecond=0)
    return opening if here < opening else opening + timedelta(days=1)


def check_window(now: datetime, window: Window, night: date | None = None) -> None:
    """Raise OutsideWindowError saying when the window opens (and how to send ``night``)."""
    if is_open(now, window):
        return
    here = local(now, window)
    opens = next_opening(here, window)
    wait = opens - here
    hours, rest = divmod(int(wait.total_seconds()) // 60, 60)
    raise OutsideWindowError(
        f"outside the sending window {window.start:%H:%M}–{window.end:%H:%M} {window.timezone} "
        f"(now {here:%Y-%m-%d %H:%M}); it opens at {opens:%Y-%m-%d %H:%M} (in {hours} h "
        f"{rest} min). Nothing was sent; run `privmigrate invite --send"
        + (f" --date {night.isoformat()}" if night else "") + "` again then"
    )


def resolve_now(env_value: str | None, timezone: str = "Asia/Shanghai") -> datetime:
    """The current time in ``timezone``; PRIVMIGRATE_NOW (ISO) overrides it, for tests only."""
    zone = ZoneInfo(timezone)
    if not env_value:
        return datetime.now(zone)
    try:
        parsed = datetime.fromisoformat(env_value)
    except ValueError as exc:
        raise PrivmigrateError(
            f"{NOW_ENV}={env_value!r} is not an ISO date-time (e.g. 2026-11-25T10:00); "
            "unset it outside tests"
        ) from exc
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)
