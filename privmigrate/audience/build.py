"""``audience build``: the full package of an audience, and its manifest.

Reads customers.parquet (and the ledger's conversions), selects the audience's customers,
turns their phones into ids and writes the platform's package files plus ``manifest.json``
to ``<workspace>/audiences/<platform>/<name>/<YYYYmmddTHHMMSS>/``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from privmigrate.audience import state
from privmigrate.audience.ids import PreparedIds, prepare_ids
from privmigrate.audience.packages import platform_spec, write_package
from privmigrate.audience.selection import COLUMNS, select_customers
from privmigrate.audience.settings import (
    ALL_SEGMENTS,
    AudienceDef,
    AudienceSettings,
    check_definition,
    default_id_type,
    parse_audience_settings,
)
from privmigrate.config import read_config
from privmigrate.errors import InputError
from privmigrate.ledger import open_ledger, transaction
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.workspace import Workspace, private_dir, write_text_atomic


@dataclass(frozen=True)
class Target:
    """The ids an audience should hold now, and how they were arrived at."""

    ids: PreparedIds
    selection: dict[str, int]

    def manifest_counts(self) -> dict[str, int]:
        ids = self.ids.counts()
        return {
            "customers": self.selection["customers"],
            "customers_in_segments": self.selection["in_segments"],
            "excluded_in_private_domain": self.selection.get("excluded_in_private_domain", 0),
            "excluded_converted": self.selection.get("excluded_converted", 0),
            "customers_selected": self.selection["selected"],
            "missing_phone": ids["missing"],
            "invalid_dropped": ids["invalid"],
            "valid_phones": ids["given"] - ids["missing"] - ids["invalid"],
            "duplicates_removed": ids["duplicates"],
            "already_hashed": ids["already_hashed"],
            "ids": ids["ids"],
        }


def load_settings(ws: Workspace) -> AudienceSettings:
    return parse_audience_settings(read_config(ws.config_path))


def audience_dir(ws: Workspace, definition: AudienceDef) -> Path:
    return ws.audiences_dir / definition.platform / definition.name


def read_customers(ws: Workspace) -> pd.DataFrame:
    path = ws.customers_path
    if not path.exists():
        raise InputError(f"{path} does not exist; run `privmigrate segment` first")
    try:
        return pd.read_parquet(path, columns=COLUMNS, dtype_backend="pyarrow")
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: cannot read the columns {', '.join(COLUMNS)} ({exc}); "
                         "run `privmigrate segment` again") from exc


def compute_target(ws: Workspace, definition: AudienceDef, converted: list[str],
                   customers: pd.DataFrame | None = None) -> Target:
    """Select the audience's customers and turn their phones into ids (pure after reading)."""
    frame = read_customers(ws) if customers is None else customers
    chosen = select_customers(frame, definition.segments, definition.include,
                              pd.Series(converted, dtype="string") if converted else None)
    counts = dict(chosen.counts)
    if definition.include == "not_in_private_domain":
        counts["excluded_in_private_domain"] = counts["in_private_domain"]
        counts["excluded_converted"] = counts["converted"]
    return Target(prepare_ids(chosen.phones, definition.id_type), counts)


# --- build -------------------------------------------------------------------------------

def build_audience(ws: Workspace, definition: AudienceDef | None = None, *, now: datetime,
                   platform: str | None = None, segments: list[str] | None = None,
                   name: str | None = None, id_type: str | None = None,
                   include: str = "not_in_private_domain",
                   settings: AudienceSettings | None = None,
                   progress: Progress = NULL_PROGRESS,
                   customers: pd.DataFrame | None = None) -> dict[str, Any]:
    """Write the full package and its manifest to ``audiences/<platform>/<name>/<stamp>/``.

    Give an ``AudienceDef``, or ``platform`` (+ ``segments``, ``name``, ``id_type``,
    ``include``). Returns the manifest (``path`` is its folder). Records the build (never
    the ids) in the ledger, so a later ``push`` knows the audience.
    """
    if definition is None:
        if platform is None:
            raise InputError("build_audience needs a definition or a platform")
        chosen = tuple(segments or ()) or ALL_SEGMENTS
        definition = AudienceDef(name or default_name(chosen), platform, chosen,
                                 id_type or default_id_type(platform), include)
    check_definition(definition)
    settings = settings or load_settings(ws)
    spec = platform_spec(definition.platform)
    with open_ledger(ws.state_db) as conn:
        converted = state.converted_customer_ids(conn)
    progress.start(f"build {definition.name} for {spec.label}")
    target = compute_target(ws, definition, converted, customers)
    directory = audience_dir(ws, definition) / f"{now:%Y%m%dT%H%M%S}"
    if directory.exists():
        shutil.rmtree(directory)
    private_dir(directory.parent)
    directory.mkdir(mode=0o700)
    files = write_package(definition.platform, target.ids.digests, definition.id_type,
                          directory, definition.name, now,
                          max_zip_bytes=settings.platform(definition.platform).max_zip_bytes)
    manifest = {
        "audience": definition.name,
        "platform": definition.platform,
        "platform_label": spec.label,
        "id_type": definition.id_type,
        "platform_id_type": spec.remote_id_type(definition.id_type),
        "segments": list(definition.segments),
        "include": definition.include,
        "created_at": state.iso(now),
        "counts": target.manifest_counts(),
        "files": [f.to_dict() for f in files],
        "directory": str(directory),
        "path": str(directory),
    }
    if definition.platform == "alimama":
        manifest["upload"] = (
            "达摩盘 has no public upload API: upload the .txt by hand in 达摩盘 → 人群 → "
            "自定义人群/上传人群 (choose 手机号 " + definition.id_type.upper() + ")")
    write_text_atomic(directory / "manifest.json",
                      json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    with open_ledger(ws.state_db) as conn:
        state.ensure_audience(conn, definition, now)
        with transaction(conn):
            state.update_audience(conn, definition.key, last_build_at=state.iso(now),
                                  last_build_dir=str(directory))
    progress.finish()
    return manifest




def default_name(segments: tuple[str, ...]) -> str:
    """An audience name from its segments (the platforms allow 30 characters)."""
    if not segments or "*" in segments:
        return "all-buyers"
    return "_".join(segments)[:30]
