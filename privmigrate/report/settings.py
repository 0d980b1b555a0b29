"""The [report] section of privmigrate.toml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from privmigrate.config import Section
from privmigrate.report.labels import LANGS


@dataclass(frozen=True)
class ReportSettings:
    lang: str = "zh"  # zh or en: labels and sheet names
    latest: bool = True  # also refresh reports/latest.xlsx when writing the dated default file


def report_settings(raw: dict[str, Any]) -> ReportSettings:
    section = Section.of(raw, "report")
    section.unknown_keys(("lang", "latest"))
    return ReportSettings(lang=section.choice("lang", LANGS, "zh"),
                          latest=section.get("latest", bool, True))
