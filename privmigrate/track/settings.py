"""The ``[track]`` section of privmigrate.toml (keys documented in docs/track.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from privmigrate.channels.wecom import DEFAULT_BASE_URL, WeComSettings
from privmigrate.config import Section
from privmigrate.track.attribution import AttributionRules
from privmigrate.track.sources import DEFAULT_ALIASES

CORP_ID_ENV = "PRIVMIGRATE_WECOM_CORP_ID"
SECRET_ENV = "PRIVMIGRATE_WECOM_SECRET"

_TRACK_KEYS = ("window_days", "inbox_subdir", "lift_dimensions",
               "wecom", "columns")
_WECOM_KEYS = ("base_url", "staff", "link_ids", "acquisition_links", "timeout_seconds",
               "attempts", "calls_per_minute", "rate_limit_pause_seconds")
LIFT_DIMENSIONS = ("overall", "segment", "template", "variant", "staff")


@dataclass(frozen=True)
class TrackSettings:
    rules: AttributionRules = field(default_factory=AttributionRules)
    inbox_subdir: str = "wecom"
    lift_dimensions: tuple[str, ...] = LIFT_DIMENSIONS
    wecom: WeComSettings = field(default_factory=WeComSettings)
    staff: tuple[str, ...] = ()  # empty: every member with customer contact
    link_ids: tuple[str, ...] = ()  # empty: every valid 获客链接
    acquisition_links: bool = True
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> TrackSettings:
        """Parse ``[track]`` of a whole config (what ``validate_config`` calls)."""
        return track_settings(raw)


def _strings(section: Section, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = section.get(key, list, list(default))
    if not all(isinstance(v, str) and v for v in value):
        raise section.fail(key, "must be a list of non-empty strings")
    return tuple(value)


def track_settings(raw: dict[str, Any]) -> TrackSettings:
    """Parse ``[track]``; every error names its dotted key."""
    sec = Section.of(raw, "track")
    if "exclude_statuses" in sec.data:
        raise sec.fail("exclude_statuses", "is no longer read: only attempted invitations "
                       "(an SMS the provider took, a call made, a staff add done) are credited "
                       "or counted; delete the line")
    sec.unknown_keys(_TRACK_KEYS)
    rules = AttributionRules(window_days=sec.number("window_days", 7, lo=0.5, hi=90))
    from privmigrate.track.lift import DIMENSIONS

    dims = _strings(sec, "lift_dimensions", LIFT_DIMENSIONS)
    for d in dims:
        if d not in DIMENSIONS:
            raise sec.fail("lift_dimensions", f"has {d!r}; use any of {', '.join(DIMENSIONS)}")
    wc = sec.table("wecom")
    wc.unknown_keys(_WECOM_KEYS)
    base_url = wc.get("base_url", str, DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise wc.fail("base_url", f"must be an http(s) URL, got {base_url!r}")
    wecom = WeComSettings(
        base_url=base_url,
        timeout_seconds=wc.number("timeout_seconds", 30, lo=0.05, hi=300),
        attempts=int(wc.number("attempts", 5, lo=1, hi=20)),
        calls_per_minute=wc.number("calls_per_minute", 3000, lo=1, hi=10000),
        rate_limit_pause_seconds=wc.number("rate_limit_pause_seconds", 20, lo=0, hi=60),
    )
    cols = sec.table("columns")
    cols.unknown_keys(DEFAULT_ALIASES)
    aliases = {k: _strings(cols, k, ()) for k in cols.data}
    return TrackSettings(
        rules=rules,
        inbox_subdir=sec.get("inbox_subdir", str, "wecom"),
        lift_dimensions=dims,
        wecom=wecom,
        staff=_strings(wc, "staff", ()),
        link_ids=_strings(wc, "link_ids", ()),
        acquisition_links=wc.get("acquisition_links", bool, True),
        aliases=aliases,
    )
