"""``audience push`` and ``audience status``, and the nightly run's entry point.

These are the edges: they read customers.parquet and the ledger, create the platform clients
(tokens from environment variables) and hand over to the push engine (sync.py).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privmigrate.audience import state
from privmigrate.audience.build import (
    Target,
    audience_dir,
    build_audience,
    compute_target,
    load_settings,
    read_customers,
)
from privmigrate.audience.diff import as_set, diff
from privmigrate.audience.packages import platform_spec
from privmigrate.audience.settings import AudienceDef, AudienceSettings, check_definition
from privmigrate.audience.sync import PushReport, SyncContext, refresh, sync
from privmigrate.config import env_secret
from privmigrate.errors import InputError, PartialFailure, PrivmigrateError
from privmigrate.ledger import open_ledger
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.workspace import Workspace

ClientFactory = Callable[[str, AudienceSettings], Any]


# --- push --------------------------------------------------------------------------------

def make_client(platform: str, settings: AudienceSettings) -> Any:
    """The platform's API client, token from its environment variable."""
    cfg = settings.platform(platform)
    if platform == "tencent":
        from privmigrate.channels.tencent_ads import TencentAdsClient

        token = env_secret(cfg.token_env, "pushing to Tencent Ads")
        return TencentAdsClient(cfg.base_url, token, cfg.account_id, token_env=cfg.token_env)
    from privmigrate.channels.oceanengine import OceanEngineClient

    token = env_secret(cfg.token_env, f"pushing to {platform_spec(platform).label}")
    return OceanEngineClient(cfg.base_url, token, cfg.account_id, token_env=cfg.token_env)


def resolve_definition(ws: Workspace, settings: AudienceSettings, platform: str, name: str
                       ) -> AudienceDef:
    """The audience as configured, else as it was last built or pushed."""
    configured = settings.audience(platform, name)
    if configured is not None:
        return configured
    with open_ledger(ws.state_db) as conn:
        row = state.get_audience(conn, f"{platform}:{name}")
    if row is None:
        raise InputError(
            f"no audience {name!r} for {platform}: add it to [[audience.audiences]] in "
            f"privmigrate.toml, or build it first with `privmigrate audience build "
            f"--platform {platform} --name {name} --segment …`")
    return AudienceDef.from_dict(json.loads(row["definition"]))


def push_audience(ws: Workspace, definition: AudienceDef, *, now: datetime,
                  dry_run: bool = False, settings: AudienceSettings | None = None,
                  client: Any = None, client_factory: ClientFactory = make_client,
                  progress: Progress = NULL_PROGRESS,
                  sleep: Callable[[float], Any] = time.sleep,
                  monotonic: Callable[[], float] = time.monotonic,
                  customers: pd.DataFrame | None = None) -> PushReport:
    """Bring the platform's audience to the current selection (see sync.py)."""
    check_definition(definition)
    settings = settings or load_settings(ws)
    if definition.platform == "alimama":
        return _alimama(ws, definition, settings, now, dry_run, customers)
    with open_ledger(ws.state_db) as conn:
        target = compute_target(ws, definition, state.converted_customer_ids(conn),
                                customers)
        members = as_set(target.ids.digests)
        if dry_run:
            return _dry_run(conn, definition, members, target)
        state.ensure_audience(conn, definition, now)
        own_client = client is None
        client = client or client_factory(definition.platform, settings)
        ctx = SyncContext(conn, definition, settings, audience_dir(ws, definition), client,
                          now, sleep=sleep, monotonic=monotonic, progress=progress)
        try:
            report = sync(ctx, members)
        finally:
            if own_client:
                client.close()
        report.counts = target.manifest_counts()
        _prune(audience_dir(ws, definition), settings.keep_pushes)
        return report


def _dry_run(conn: Any, definition: AudienceDef, members: np.ndarray, target: Target
             ) -> PushReport:
    audience = state.get_audience(conn, definition.key)
    size = members.dtype.itemsize
    held = state.load_set(conn, audience["held_set_id"] if audience else None, size)
    change = diff(members, held)
    report = PushReport(definition.platform, definition.name, "dry_run",
                        added=len(change.add), removed=len(change.remove), held=len(held),
                        target=len(members), counts=target.manifest_counts())
    if definition.platform == "qianchuan" and not change.empty:
        report.notes.append("千川 has no incremental update: a new audience of all "
                            f"{len(members)} ids would be created")
    running = state.running_push(conn, definition.key) if audience else None
    if running is not None:
        left = [s for s in state.steps(conn, running["push_id"])
                if s["status"] in ("planned", "started")]
        report.notes.append(f"push #{running['push_id']} is unfinished ({len(left)} steps "
                            "left); it would be finished first")
    if audience is None or not audience["remote_id"]:
        report.notes.append("the audience does not exist on the platform yet; it would be "
                            "created")
    return report


def _alimama(ws: Workspace, definition: AudienceDef, settings: AudienceSettings,
             now: datetime, dry_run: bool, customers: pd.DataFrame | None) -> PushReport:
    report = PushReport("alimama", definition.name, "manual")
    with open_ledger(ws.state_db) as conn:
        row = state.get_audience(conn, definition.key)
    directory = row["last_build_dir"] if row else None
    if not dry_run and (directory is None or not Path(directory).exists()):
        directory = build_audience(ws, definition, now=now, settings=settings,
                                   customers=customers)["directory"]
    report.directory = directory
    if directory:
        report.files = sorted(p.name for p in Path(directory).glob("*.txt"))
    report.notes.append(
        "达摩盘 (Alimama) has no public upload API, so nothing was uploaded: upload "
        + (f"{Path(directory) / report.files[0]}" if directory and report.files
           else "the file from `privmigrate audience build --platform alimama`")
        + " by hand in 达摩盘 (人群 → 上传人群)")
    return report


def _prune(directory: Path, keep: int) -> None:
    """Keep the newest ``keep`` push folders of an audience (their files hold hashes)."""
    pushes = sorted((p for p in directory.glob("push-*") if p.is_dir()), key=lambda p: p.name)
    for old in pushes[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def push_configured_audiences(ws: Workspace, *, dry_run: bool = False,
                              now: datetime, progress: Progress = NULL_PROGRESS,
                              client_factory: ClientFactory = make_client,
                              sleep: Callable[[float], Any] = time.sleep) -> dict[str, Any]:
    """Push every audience in [audience] (the nightly run). One failure does not stop the rest.

    Returns ``{"audiences": [report dicts], "failed": [...]}``; raises PartialFailure at the
    end when any audience failed.
    """
    settings = load_settings(ws)
    reports: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    customers = read_customers(ws) if settings.audiences else None
    for definition in settings.audiences:
        try:
            report = push_audience(ws, definition, now=now, dry_run=dry_run,
                                   settings=settings, client_factory=client_factory,
                                   progress=progress, sleep=sleep, customers=customers)
            reports.append(report.to_dict())
        except PrivmigrateError as exc:
            failed.append({"platform": definition.platform, "name": definition.name,
                           "error": exc.message, "exit_code": int(exc.exit_code)})
    summary = {"audiences": reports, "failed": failed}
    if failed:
        raise PartialFailure(
            "audience push failed for " + ", ".join(
                f"{f['platform']}:{f['name']} ({f['error']})" for f in failed)
            + "; the others were pushed; rerun to resume")
    return summary


# --- status ------------------------------------------------------------------------------

def audience_status(ws: Workspace, *, refresh_remote: bool = False, now: datetime,
                    settings: AudienceSettings | None = None,
                    client_factory: ClientFactory = make_client) -> list[dict[str, Any]]:
    """Per audience: last build and sync, size, match rate, anything processing or due."""
    settings = settings or load_settings(ws)
    out: list[dict[str, Any]] = []
    with open_ledger(ws.state_db) as conn:
        if refresh_remote:
            for row in state.all_audiences(conn):
                if row["platform"] not in ("tencent", "oceanengine") or not row["remote_id"]:
                    continue
                definition = AudienceDef.from_dict(json.loads(row["definition"]))
                client = client_factory(row["platform"], settings)
                try:
                    refresh(SyncContext(conn, definition, settings,
                                        audience_dir(ws, definition), client, now))
                finally:
                    client.close()
        for row in state.all_audiences(conn):
            out.append(_status_row(conn, row))
    return out


def _status_row(conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    running = state.running_push(conn, row["audience_key"])
    last = state.last_push(conn, row["audience_key"])
    matched, uploaded = row["matched_count"], row["uploaded_count"]
    due = row["publish_due_at"]
    return {
        "platform": row["platform"],
        "name": row["name"],
        "id_type": row["id_type"],
        "remote_id": row["remote_id"],
        "last_build_at": row["last_build_at"],
        "last_sync_at": row["last_sync_at"],
        "size": row["held_count"],
        "processing": row["processing"],
        "uploaded_count": uploaded,
        "matched_count": matched,
        "match_rate": round(matched / uploaded, 4) if matched is not None and uploaded
        else None,
        "unfinished_push": running["push_id"] if running else None,
        "last_push_status": last["status"] if last else None,
        "last_push_detail": last["detail"] if last else None,
        "publish_pending": bool(row["publish_pending"]),
        "publish_due_at": due if due and not due.startswith("started:") else None,
        "last_publish_at": row["last_publish_at"],
    }
