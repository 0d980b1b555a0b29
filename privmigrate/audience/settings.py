"""The ``[audience]`` section of privmigrate.toml: audiences to keep in sync, and where each
platform's API is. Credentials are never here: tokens come from environment variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from privmigrate.audience.ids import ID_TYPES
from privmigrate.audience.packages import MB, PLATFORMS, platform_spec
from privmigrate.config import Section
from privmigrate.errors import ConfigError

INCLUDE = ("not_in_private_domain", "in_private_domain", "all")
NAME_RE = re.compile(r"^[\w\-\u4e00-\u9fff]{1,30}$")
ALL_SEGMENTS = ("*",)

DEFAULTS: dict[str, dict[str, Any]] = {
    "tencent": {
        "base_url": "https://api.e.qq.com/v3.0",
        "token_env": "PRIVMIGRATE_TENCENT_ADS_TOKEN",
    },
    "oceanengine": {
        "base_url": "https://api.oceanengine.com",
        "token_env": "PRIVMIGRATE_OCEANENGINE_TOKEN",
    },
    "qianchuan": {
        "base_url": "https://api.oceanengine.com",
        "token_env": "PRIVMIGRATE_OCEANENGINE_TOKEN",
    },
    "alimama": {},
}


@dataclass(frozen=True)
class AudienceDef:
    """One audience: who is in it and where it goes."""

    name: str
    platform: str
    segments: tuple[str, ...] = ALL_SEGMENTS
    id_type: str = "md5"
    include: str = "not_in_private_domain"

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "platform": self.platform, "segments": list(self.segments),
                "id_type": self.id_type, "include": self.include}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AudienceDef:
        return cls(raw["name"], raw["platform"], tuple(raw.get("segments") or ALL_SEGMENTS),
                   raw.get("id_type", "md5"), raw.get("include", "not_in_private_domain"))


@dataclass(frozen=True)
class PlatformSettings:
    """Where one platform's API is and which account the audiences belong to."""

    platform: str
    base_url: str = ""
    token_env: str = ""
    account_id: str = ""  # Tencent account_id; Ocean Engine / 千川 advertiser_id
    push_to: tuple[str, ...] = ()  # Ocean Engine: advertiser ids to push_v2 the audience to
    max_zip_bytes: int | None = None
    data_source_type: str = "UID"  # Ocean Engine
    audience_group: str = "privmigrate"  # 千川


@dataclass(frozen=True)
class AudienceSettings:
    audiences: tuple[AudienceDef, ...] = ()
    platforms: dict[str, PlatformSettings] = field(default_factory=dict)
    poll_seconds: float = 20.0
    poll_interval: float = 5.0
    publish_interval_hours: float = 24.0
    keep_pushes: int = 14

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> AudienceSettings:
        return parse_audience_settings(raw)

    def platform(self, name: str) -> PlatformSettings:
        return self.platforms.get(name) or PlatformSettings(name, **DEFAULTS.get(name, {}))

    def audience(self, platform: str, name: str) -> AudienceDef | None:
        for audience in self.audiences:
            if audience.platform == platform and audience.name == name:
                return audience
        return None


def check_definition(definition: AudienceDef, where: str = "audience") -> AudienceDef:
    """Validate one audience definition; errors name ``where``."""
    spec = platform_spec(definition.platform)
    if not NAME_RE.match(definition.name):
        raise ConfigError(
            f"{where}: name {definition.name!r} must be 1-30 letters, digits, 汉字, - or _ "
            "(the platforms cap names at 30 characters)"
        )
    if definition.id_type not in ID_TYPES:
        raise ConfigError(f"{where}: id_type must be md5 or sha256, got {definition.id_type!r}")
    spec.check_id_type(definition.id_type)
    if definition.include not in INCLUDE:
        raise ConfigError(f"{where}: include must be one of {', '.join(INCLUDE)}")
    return definition


def default_id_type(platform: str) -> str:
    return platform_spec(platform).id_types[0]


def parse_audience_settings(raw: dict[str, Any]) -> AudienceSettings:
    """``[audience]`` → AudienceSettings; every error names its dotted key."""
    section = Section.of(raw, "audience")
    section.unknown_keys({"poll_seconds", "poll_interval", "publish_interval_hours",
                          "keep_pushes", "audiences", *PLATFORMS})
    platforms = {name: _platform(section.table(name), name) for name in PLATFORMS}
    audiences = []
    seen: set[str] = set()
    for entry in section.tables("audiences"):
        entry.unknown_keys({"name", "platform", "segments", "id_type", "include"})
        platform = entry.choice("platform", PLATFORMS, "tencent")
        segments = entry.get("segments", list, list(ALL_SEGMENTS))
        if not all(isinstance(s, str) and s for s in segments):
            raise entry.fail("segments", "must be a list of segment names (\"*\" for all)")
        definition = AudienceDef(
            name=entry.get("name", str, ""),
            platform=platform,
            segments=tuple(segments) or ALL_SEGMENTS,
            id_type=entry.get("id_type", str, default_id_type(platform)),
            include=entry.choice("include", INCLUDE, "not_in_private_domain"),
        )
        check_definition(definition, f"{section.path}: {entry.name}")
        if definition.key in seen:
            raise entry.fail("name", f"{definition.name!r} is listed twice for {platform}")
        seen.add(definition.key)
        audiences.append(definition)
    return AudienceSettings(
        audiences=tuple(audiences),
        platforms=platforms,
        poll_seconds=section.number("poll_seconds", 20.0, lo=0, hi=3600),
        poll_interval=section.number("poll_interval", 5.0, lo=0.01, hi=600),
        publish_interval_hours=section.number("publish_interval_hours", 24.0, lo=0, hi=720),
        keep_pushes=int(section.number("keep_pushes", 14, lo=1, hi=1000)),
    )


def _platform(section: Section, name: str) -> PlatformSettings:
    section.unknown_keys({"base_url", "token_env", "account_id", "advertiser_id", "push_to",
                          "max_zip_mb", "data_source_type", "audience_group"})
    defaults = PlatformSettings(name, **DEFAULTS.get(name, {}))
    account = section.get("account_id", (str, int), "") or section.get(
        "advertiser_id", (str, int), "")
    push_to = section.get("push_to", list, [])
    if not all(isinstance(v, str | int) for v in push_to):
        raise section.fail("push_to", "must be a list of advertiser ids")
    if len(push_to) > 100:
        raise section.fail("push_to", "may list at most 100 advertiser ids (push_v2 limit)")
    cap = section.get("max_zip_mb", (int, float), 0)
    spec_cap = PLATFORMS[name].max_zip_bytes
    if cap and spec_cap and cap * MB > spec_cap:
        raise section.fail("max_zip_mb", f"must not exceed the platform's {spec_cap // MB} MB")
    return replace(
        defaults,
        base_url=section.get("base_url", str, defaults.base_url).rstrip("/"),
        token_env=section.get("token_env", str, defaults.token_env),
        account_id=str(account),
        push_to=tuple(str(v) for v in push_to),
        max_zip_bytes=int(cap * MB) if cap else None,
        data_source_type=section.choice("data_source_type", ("UID", "DID"), "UID"),
        audience_group=section.get("audience_group", str, defaults.audience_group),
    )
