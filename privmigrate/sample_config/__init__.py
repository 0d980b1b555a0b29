"""The commented sample privmigrate.toml, assembled from one file per section."""

from __future__ import annotations

import tomllib
from importlib import resources

HEADER = """\
# privmigrate.toml — configuration of one brand's workspace.
#
# Every key below shows its default. Credentials never go in this file: they are read
# from environment variables (see docs/). Check the file with `privmigrate run --dry-run`.
"""


def sample_config_text() -> str:
    """The sections' sample files, in order, as one TOML document."""
    folder = resources.files(__package__)
    parts = sorted(
        (p for p in folder.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name
    )
    return HEADER + "\n" + "\n".join(p.read_text(encoding="utf-8").strip() + "\n" for p in parts)


def validate_config(text: str) -> dict:
    """Parse ``text`` and run every section's validation (raises ConfigError)."""
    raw = tomllib.loads(text)
    from privmigrate.ingest.settings import LoadSettings
    from privmigrate.pipeline import RunSettings

    LoadSettings.from_config(raw)
    RunSettings.from_config(raw)
    for module, cls in (
        ("privmigrate.scoring.settings", "SegmentSettings"),
        ("privmigrate.invite.settings", "InviteSettings"),
        ("privmigrate.track.settings", "TrackSettings"),
    ):
        import importlib

        try:
            settings_cls = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            continue
        settings_cls.from_config(raw)
    try:
        from privmigrate.audience.settings import parse_audience_settings
    except ImportError:
        return raw
    parse_audience_settings(raw)
    return raw
