"""Pushing an audience: diff against what the ledger says the platform holds, upload the
difference step by step, then poll the platform for its processing result and match figures.

A push is planned once (package files written, steps recorded) and then executed step by
step; each step is recorded as started before its remote call and done after it. A rerun
first finishes an unfinished push: a step left ``started`` is checked with the platform
(Tencent: is a file of that name in the audience? Ocean Engine: does a change log carry
those file paths?) before it is sent again, so the same diff is never applied twice. Only
when no step is left does the held set move, by exactly the steps that were applied.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from privmigrate.audience import state
from privmigrate.audience.diff import AudienceDiff, apply, as_rows, diff
from privmigrate.audience.packages import platform_spec, write_package
from privmigrate.audience.remote import OutcomeUnknown, RemoteRefused, TokenError
from privmigrate.audience.settings import AudienceDef, AudienceSettings
from privmigrate.errors import PartialFailure, RemoteError
from privmigrate.ledger import transaction
from privmigrate.progress import NULL_PROGRESS, Progress

UNKNOWN_OUTCOME_RETRIES = 3
TENCENT_OPERATION = {"add": "APPEND", "remove": "REDUCE"}
OCEAN_OPERATION = {"add": 1, "remove": 2}
FINAL_FILE_STATES = {"SUCCESS", "ERROR"}
SETTLED = {"SUCCESS", "2"}  # Tencent file processed / Ocean Engine change log 生效


@dataclass
class PushReport:
    """What a push did (or, with --dry-run, would do)."""

    platform: str
    name: str
    status: str  # dry_run, up_to_date, done, processing, failed, manual
    added: int = 0
    removed: int = 0
    held: int = 0
    target: int = 0
    directory: str | None = None
    files: list[str] = field(default_factory=list)
    processing: str | None = None
    uploaded_count: int | None = None
    matched_count: int | None = None
    publish_due_at: str | None = None
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def match_rate(self) -> float | None:
        if self.matched_count is None or not self.uploaded_count:
            return None
        return round(self.matched_count / self.uploaded_count, 4)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        out["match_rate"] = self.match_rate
        return out


@dataclass
class SyncContext:
    """Everything one audience's push needs; ``client`` is the platform's API client."""

    conn: sqlite3.Connection
    definition: AudienceDef
    settings: AudienceSettings
    directory: Path  # <workspace>/audiences/<platform>/<name>
    client: Any
    now: datetime
    sleep: Callable[[float], Any] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    progress: Progress = NULL_PROGRESS
    reverted: list[str] = field(default_factory=list)  # rejections found while polling

    @property
    def key(self) -> str:
        return self.definition.key

    def audience(self) -> dict[str, Any]:
        row = state.get_audience(self.conn, self.key)
        assert row is not None
        return row

    @property
    def digest_size(self) -> int:
        return 16 if self.definition.id_type == "md5" else 32


# --- planning ----------------------------------------------------------------------------

def plan_push(ctx: SyncContext, target: np.ndarray, held: np.ndarray, change: AudienceDiff
              ) -> dict[str, Any]:
    """Write the push's package files and record the push and its steps (not run yet)."""
    platform = ctx.definition.platform
    audience = ctx.audience()
    directory = _push_directory(ctx)
    limits = ctx.settings.platform(platform).max_zip_bytes
    token = secrets.token_hex(4)
    planned: list[dict[str, Any]] = []

    def parts(members: np.ndarray, operation: str) -> list[dict[str, Any]]:
        files = write_package(platform, as_rows(members), ctx.definition.id_type, directory,
                              f"{operation}-{token}", ctx.now, max_zip_bytes=limits)
        offset, out = 0, []
        for f in files:
            out.append({"file": f.name, "md5": f.md5, "offset": offset, "ids": f.ids})
            offset += f.ids
        return out

    if platform == "qianchuan":  # no incremental update: a new audience of the full set
        full = parts(target, "full")
        for p in full:
            planned.append(_step("upload", "add", [p["file"]], p["offset"], p["ids"]))
        planned.append(_step("apply", "replace", [p["file"] for p in full], 0, len(target)))
        add_set, remove_set = target, held
    else:
        if platform == "tencent" and not audience["remote_id"]:
            planned.append(_step("create", None, [], 0, 0))
        for operation, members in (("remove", change.remove), ("add", change.add)):
            if len(members) == 0:
                continue
            files = parts(members, operation)
            if platform == "tencent":
                planned += [_step("apply", operation, [p["file"]], p["offset"], p["ids"])
                            for p in files]
            else:  # oceanengine: upload every part, then one create/update call
                planned += [_step("upload", operation, [p["file"]], p["offset"], p["ids"])
                            for p in files]
                planned.append(_step("apply", operation, [p["file"] for p in files], 0,
                                     len(members)))
        add_set, remove_set = change.add, change.remove
    with transaction(ctx.conn):
        base_id = audience["held_set_id"]
        add_id = state.save_set(ctx.conn, ctx.key, add_set, ctx.now)
        remove_id = state.save_set(ctx.conn, ctx.key, remove_set, ctx.now)
        cur = ctx.conn.execute(
            "INSERT INTO audience_pushes (audience_key, started_at, status, base_set_id, "
            "add_set_id, remove_set_id, added, removed, directory) "
            "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
            (ctx.key, state.iso(ctx.now), base_id, add_id, remove_id, len(change.add),
             len(change.remove), str(directory)))
        push_id = int(cur.lastrowid or 0)
        for seq, step in enumerate(planned):
            ctx.conn.execute(
                "INSERT INTO audience_steps (push_id, seq, kind, operation, files, id_offset, "
                "ids, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'planned')",
                (push_id, seq, step["kind"], step["operation"], json.dumps(step["files"]),
                 step["offset"], step["ids"]))
    push = state.running_push(ctx.conn, ctx.key)
    assert push is not None
    return push


def _step(kind: str, operation: str | None, files: list[str], offset: int, ids: int
          ) -> dict[str, Any]:
    return {"kind": kind, "operation": operation, "files": files, "offset": offset, "ids": ids}


def _push_directory(ctx: SyncContext) -> Path:
    base = ctx.directory / f"push-{ctx.now:%Y%m%dT%H%M%S}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    candidate.mkdir(parents=True, mode=0o700)
    return candidate


# --- running -----------------------------------------------------------------------------

def run_push(ctx: SyncContext, push: dict[str, Any]) -> dict[str, Any]:
    """Run every step not yet done; then move the held set. Returns the finished push."""
    steps = state.steps(ctx.conn, push["push_id"])
    pending = [s for s in steps if s["status"] in ("planned", "started")]
    ctx.progress.start(f"push {ctx.definition.name} to {ctx.definition.platform}",
                       total=len(pending))
    for step in pending:
        _run_step(ctx, push, step)
        ctx.progress.advance()
    return finish_push(ctx, push)


def _run_step(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]) -> None:
    runner = _RUNNERS[(ctx.definition.platform, step["kind"])]
    for attempt in range(UNKNOWN_OUTCOME_RETRIES + 1):
        fresh = _reload_step(ctx, step["step_id"])
        if fresh["status"] in ("done", "failed"):
            return
        uncertain = fresh["status"] == "started"
        if uncertain:
            found = _RECONCILERS.get((ctx.definition.platform, step["kind"]))
            result = found(ctx, push, fresh) if found else None
            if result is not None:
                _done(ctx, fresh, result)
                return
        state.mark_step(ctx.conn, fresh["step_id"], "started", ctx.now)
        try:
            result = runner(ctx, push, fresh)
        except OutcomeUnknown:
            if attempt == UNKNOWN_OUTCOME_RETRIES:
                raise
            continue  # the step stays "started": check with the platform, then retry
        except RemoteRefused as exc:
            state.mark_step(ctx.conn, fresh["step_id"], "failed", ctx.now, detail=exc.message)
            if fresh["kind"] in ("create", "upload"):
                _fail_dependents(ctx, push, fresh, exc.message)
            return
        _done(ctx, fresh, result)
        return


def _reload_step(ctx: SyncContext, step_id: int) -> dict[str, Any]:
    row = ctx.conn.execute("SELECT * FROM audience_steps WHERE step_id = ?",
                           (step_id,)).fetchone()
    return dict(row)


def _done(ctx: SyncContext, step: dict[str, Any], result: dict[str, Any]) -> None:
    """Record a step as done, with what it changed on the audience, in one transaction."""
    audience_updates = result.pop("_audience", {})
    with transaction(ctx.conn):
        if audience_updates:
            state.update_audience(ctx.conn, ctx.key, **audience_updates)
        ctx.conn.execute(
            "UPDATE audience_steps SET status = 'done', finished_at = ?, remote_ref = ? "
            "WHERE step_id = ?", (state.iso(ctx.now), json.dumps(result), step["step_id"]))


def _fail_dependents(ctx: SyncContext, push: dict[str, Any], failed: dict[str, Any],
                     reason: str) -> None:
    """A refused create or upload means the apply steps that need it cannot run."""
    for other in state.steps(ctx.conn, push["push_id"]):
        if other["kind"] != "apply" or other["status"] not in ("planned", "started"):
            continue
        if failed["kind"] == "create" or set(json.loads(other["files"])) & set(
                json.loads(failed["files"])):
            state.mark_step(ctx.conn, other["step_id"], "failed", ctx.now,
                            detail=f"not sent: {reason}")


def finish_push(ctx: SyncContext, push: dict[str, Any]) -> dict[str, Any]:
    """Move the held set by the applied steps and close the push (when nothing is left)."""
    steps = state.steps(ctx.conn, push["push_id"])
    if any(s["status"] in ("planned", "started") for s in steps):
        return push
    size = ctx.digest_size
    audience = ctx.audience()
    base = state.load_set(ctx.conn, push["base_set_id"], size)
    add = state.load_set(ctx.conn, push["add_set_id"], size)
    remove = state.load_set(ctx.conn, push["remove_set_id"], size)
    held = _applied(base, add, remove, [s for s in steps if s["kind"] == "apply"])
    failed = [s for s in steps if s["status"] == "failed"]
    status = "failed" if failed else "done"
    detail = "; ".join(sorted({s["detail"] or "" for s in failed})) or None
    with transaction(ctx.conn):
        held_id = state.save_set(ctx.conn, ctx.key, held, ctx.now)
        previous = audience["held_set_id"]
        state.update_audience(ctx.conn, ctx.key, held_set_id=held_id, held_count=len(held),
                              last_sync_at=state.iso(ctx.now), updated_at=state.iso(ctx.now))
        ctx.conn.execute(
            "UPDATE audience_pushes SET status = ?, finished_at = ?, detail = ? "
            "WHERE push_id = ?", (status, state.iso(ctx.now), detail, push["push_id"]))
        drop = [previous] if previous != push["base_set_id"] else []
        drop.append(push["base_set_id"])
        state.drop_sets(ctx.conn, drop)
    finished = dict(push, status=status, detail=detail)
    return finished


def _applied(base: np.ndarray, add: np.ndarray, remove: np.ndarray,
             applies: list[dict[str, Any]]) -> np.ndarray:
    added: list[np.ndarray] = []
    removed: list[np.ndarray] = []
    held = base
    for step in applies:
        if step["status"] != "done":
            continue
        if step["operation"] == "replace":
            return add.copy()
        window = slice(step["id_offset"], step["id_offset"] + step["ids"])
        (added if step["operation"] == "add" else removed).append(
            (add if step["operation"] == "add" else remove)[window])
    empty = base[:0]
    return apply(held, np.concatenate(added) if added else empty,
                 np.concatenate(removed) if removed else empty)


def revert_step(ctx: SyncContext, push_id: int, step: dict[str, Any], reason: str) -> None:
    """The platform rejected an applied step while processing it: the held set loses it."""
    ctx.reverted.append(reason)
    push = ctx.conn.execute("SELECT * FROM audience_pushes WHERE push_id = ?",
                            (push_id,)).fetchone()
    if push is None or step["operation"] not in ("add", "remove"):
        state.mark_step(ctx.conn, step["step_id"], "failed", ctx.now, detail=reason)
        return
    size = ctx.digest_size
    members = state.load_set(ctx.conn, push["add_set_id" if step["operation"] == "add"
                                             else "remove_set_id"], size)
    window = members[step["id_offset"] : step["id_offset"] + step["ids"]]
    audience = ctx.audience()
    held = state.load_set(ctx.conn, audience["held_set_id"], size)
    if step["operation"] == "add":
        held = apply(held, window[:0], window)
    else:
        held = apply(held, window, window[:0])
    with transaction(ctx.conn):
        held_id = state.save_set(ctx.conn, ctx.key, held, ctx.now)
        state.update_audience(ctx.conn, ctx.key, held_set_id=held_id, held_count=len(held))
        state.drop_sets(ctx.conn, [audience["held_set_id"]])
        ctx.conn.execute(
            "UPDATE audience_steps SET status = 'failed', detail = ? WHERE step_id = ?",
            (reason, step["step_id"]))
        ctx.conn.execute("UPDATE audience_pushes SET status = 'failed', detail = ? "
                         "WHERE push_id = ?", (reason, push_id))


def _file_path(ctx: SyncContext, push: dict[str, Any], name: str) -> Path:
    return Path(push["directory"]) / name


# --- Tencent -----------------------------------------------------------------------------

def _tencent_create(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                    ) -> dict[str, Any]:
    audience_id = ctx.client.create_audience(
        ctx.definition.name, "privmigrate: past buyers (customer file)")
    return {"audience_id": audience_id, "_audience": {"remote_id": audience_id}}


def _tencent_find_created(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                          ) -> dict[str, Any] | None:
    found = ctx.client.find_audience(ctx.definition.name)
    if not found:
        return None
    audience_id = str(found["audience_id"])
    return {"audience_id": audience_id, "_audience": {"remote_id": audience_id}}


def _tencent_apply(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                   ) -> dict[str, Any]:
    name = json.loads(step["files"])[0]
    spec = platform_spec("tencent")
    file_id = ctx.client.upload_file(
        ctx.audience()["remote_id"], spec.remote_id_type(ctx.definition.id_type),
        TENCENT_OPERATION[step["operation"]], _file_path(ctx, push, name))
    return {"file_id": file_id, "processing": "PENDING"}


def _tencent_find_file(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                       ) -> dict[str, Any] | None:
    name = json.loads(step["files"])[0]
    for item in ctx.client.list_files(ctx.audience()["remote_id"]):
        if item.get("name") == name:
            return {"file_id": str(item["custom_audience_file_id"]),
                    "processing": item.get("process_status", "PENDING")}
    return None


def poll_tencent(ctx: SyncContext) -> dict[str, Any]:
    """Per-file processing states of unsettled uploads, and the audience's user count."""
    audience = ctx.audience()
    if not audience["remote_id"]:
        return {}
    unsettled = _unsettled_steps(ctx)
    files = {str(f["custom_audience_file_id"]): f
             for f in ctx.client.list_files(audience["remote_id"])} if unsettled else {}
    pending = 0
    for push_id, step in unsettled:
        info = files.get(str(state.refs(step).get("file_id")))
        status = (info or {}).get("process_status", "PENDING")
        ref = dict(state.refs(step), processing=status,
                   line_count=(info or {}).get("line_count"),
                   valid_line_count=(info or {}).get("valid_line_count"),
                   user_count=(info or {}).get("user_count"))
        with transaction(ctx.conn):
            ctx.conn.execute("UPDATE audience_steps SET remote_ref = ? WHERE step_id = ?",
                             (json.dumps(ref), step["step_id"]))
        if status == "ERROR":
            revert_step(ctx, push_id, step, "Tencent Ads rejected file "
                        f"{json.loads(step['files'])[0]}: {(info or {}).get('error_message')}")
        elif status not in FINAL_FILE_STATES:
            pending += 1
    remote = ctx.client.get_audience(audience["remote_id"])
    processing = "processing" if pending or remote.get("status") in (
        "PENDING", "PROCESSING") else ("error" if remote.get("status") == "ERROR" else "done")
    figures = {"status": remote.get("status"), "user_count": remote.get("user_count"),
               "online_status": remote.get("online_status")}
    return {"processing": processing, "uploaded_count": ctx.audience()["held_count"],
            "matched_count": remote.get("user_count"), "match_detail": json.dumps(figures)}


def _unsettled_steps(ctx: SyncContext) -> list[tuple[int, dict[str, Any]]]:
    rows = ctx.conn.execute(
        "SELECT s.*, p.push_id AS push FROM audience_steps s JOIN audience_pushes p "
        "USING (push_id) WHERE p.audience_key = ? AND s.kind = 'apply' AND s.status = 'done'",
        (ctx.key,)).fetchall()
    out = []
    for row in rows:
        step = dict(row)
        ref = state.refs(step)
        if ref.get("processing") not in SETTLED:
            out.append((step["push"], step))
    return out


# --- Ocean Engine ------------------------------------------------------------------------

def _ocean_upload(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                  ) -> dict[str, Any]:
    name = json.loads(step["files"])[0]
    path = _file_path(ctx, push, name)
    from privmigrate.audience.zipstream import file_md5

    return {"file_path": ctx.client.upload_file(path, file_md5(path))}


def _uploaded_paths(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                    ) -> list[str]:
    names = set(json.loads(step["files"]))
    paths = []
    for other in state.steps(ctx.conn, push["push_id"]):
        if other["kind"] == "upload" and set(json.loads(other["files"])) & names:
            if other["status"] != "done":
                raise RemoteRefused(f"file {json.loads(other['files'])[0]} was not uploaded")
            paths.append(state.refs(other)["file_path"])
    return paths


def _ocean_apply(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                 ) -> dict[str, Any]:
    paths = _uploaded_paths(ctx, push, step)
    audience = ctx.audience()
    platform = ctx.settings.platform("oceanengine")
    if not audience["remote_id"]:
        source_id = ctx.client.create_data_source(
            ctx.definition.name, paths, description="privmigrate: past buyers",
            data_source_type=platform.data_source_type)
        return {"file_paths": paths, "data_source_id": source_id,
                "_audience": {"remote_id": source_id, "publish_pending": 1}}
    ctx.client.update_data_source(audience["remote_id"], OCEAN_OPERATION[step["operation"]],
                                  paths)
    return {"file_paths": paths, "_audience": {"publish_pending": 1}}


def _ocean_find_apply(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                      ) -> dict[str, Any] | None:
    audience = ctx.audience()
    if not audience["remote_id"]:
        return None  # NOTE: a create cannot be looked up by name; it is sent again
    paths = set(_uploaded_paths(ctx, push, step))
    source = ctx.client.read_data_source(audience["remote_id"])
    for log in source.get("change_logs") or []:
        if paths & set(log.get("file_paths") or []):
            return {"file_paths": sorted(paths), "_audience": {"publish_pending": 1}}
    return None


def poll_ocean(ctx: SyncContext) -> dict[str, Any]:
    """Processing state and match figures; publish (≤ once per 24 h) and push when ready."""
    audience = ctx.audience()
    if not audience["remote_id"]:
        return {}
    source = ctx.client.read_data_source(audience["remote_id"])
    logs = source.get("change_logs") or []
    pending = 0
    for push_id, step in _unsettled_steps(ctx):
        paths = set(state.refs(step).get("file_paths") or [])
        log_status = next((str(log.get("status")) for log in logs
                           if paths & set(log.get("file_paths") or [])), None)
        if log_status == "3":
            revert_step(ctx, push_id, step, "Ocean Engine could not process "
                        f"{', '.join(json.loads(step['files']))}")
            continue
        if log_status == "2":
            with transaction(ctx.conn):
                ctx.conn.execute("UPDATE audience_steps SET remote_ref = ? WHERE step_id = ?",
                                 (json.dumps(dict(state.refs(step), processing="2")),
                                  step["step_id"]))
            continue
        pending += 1
    default = source.get("default_audience") or {}
    custom_id = default.get("custom_audience_id")
    ready = str(source.get("status")) == "2" and not pending
    updates: dict[str, Any] = {
        "processing": "done" if ready else "processing",
        "uploaded_count": source.get("upload_num"),
        "matched_count": source.get("cover_num"),
        "match_detail": json.dumps({"status": source.get("status"),
                                    "upload_num": source.get("upload_num"),
                                    "cover_num": source.get("cover_num"),
                                    "custom_audience_id": custom_id}),
    }
    if custom_id:
        updates["remote_audience_id"] = str(custom_id)
    with transaction(ctx.conn):
        state.update_audience(ctx.conn, ctx.key, **updates)
    if ready and custom_id:
        _publish_and_push(ctx, str(custom_id), source)
    return updates


def _publish_and_push(ctx: SyncContext, custom_id: str, source: dict[str, Any]) -> None:
    audience = ctx.audience()
    interval = timedelta(hours=ctx.settings.publish_interval_hours)
    if audience["publish_pending"]:
        last = audience["last_publish_at"]
        due = datetime.fromisoformat(last) + interval if last else ctx.now
        started = audience["publish_due_at"] or ""
        if started.startswith("started:"):  # a publish whose answer never came back
            published = _when(source.get("lastest_published_time")
                              or source.get("latest_published_time"))
            begun = _when(started.removeprefix("started:"))
            if published and begun and published >= begun:
                _published(ctx, started.removeprefix("started:"))
                audience = ctx.audience()
        if audience["publish_pending"] and ctx.now >= due:
            with transaction(ctx.conn):
                state.update_audience(ctx.conn, ctx.key,
                                      publish_due_at=f"started:{state.iso(ctx.now)}")
            try:
                ctx.client.publish(custom_id)
            except OutcomeUnknown:
                return  # checked against lastest_published_time next time
            _published(ctx, state.iso(ctx.now))
        elif audience["publish_pending"]:
            with transaction(ctx.conn):
                state.update_audience(ctx.conn, ctx.key, publish_due_at=state.iso(due))
    audience = ctx.audience()
    if audience["last_publish_at"]:
        targets = ctx.settings.platform("oceanengine").push_to
        done = set(json.loads(audience["pushed_to"] or "[]"))
        todo = [t for t in targets if t not in done]
        if todo:
            ctx.client.push(custom_id, todo)
            with transaction(ctx.conn):
                state.update_audience(ctx.conn, ctx.key,
                                      pushed_to=json.dumps(sorted(done | set(todo))))


def _when(value: Any) -> datetime | None:
    """A platform time (``2026-11-25 03:00:00``, ISO, or unix seconds) as a naive datetime."""
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _published(ctx: SyncContext, when: str) -> None:
    with transaction(ctx.conn):
        state.update_audience(ctx.conn, ctx.key, last_publish_at=when, publish_pending=0,
                              publish_due_at=None)


# --- 千川 ---------------------------------------------------------------------------------

def _qianchuan_upload(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                      ) -> dict[str, Any]:
    name = json.loads(step["files"])[0]
    return {"file_key": ctx.client.qianchuan_upload(_file_path(ctx, push, name))}


def _qianchuan_apply(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                     ) -> dict[str, Any]:
    keys = [state.refs(s)["file_key"] for s in state.steps(ctx.conn, push["push_id"])
            if s["kind"] == "upload" and s["status"] == "done"]
    if len(keys) != 1:
        raise RemoteRefused("the 千川 package was not uploaded")
    spec = platform_spec("qianchuan")
    previous = ctx.audience()["remote_id"]
    name = f"{ctx.definition.name[:21]}-{ctx.now:%m%d%H%M}"
    audience_id = ctx.client.qianchuan_create(
        name, int(spec.remote_id_type(ctx.definition.id_type)), keys[0],
        ctx.settings.platform("qianchuan").audience_group)
    return {"audience_id": audience_id, "audience_name": name, "replaces": previous,
            "processing": "2", "_audience": {"remote_id": audience_id, "processing": "done"}}


_RUNNERS: dict[tuple[str, str], Callable[..., dict[str, Any]]] = {
    ("tencent", "create"): _tencent_create,
    ("tencent", "apply"): _tencent_apply,
    ("oceanengine", "upload"): _ocean_upload,
    ("oceanengine", "apply"): _ocean_apply,
    ("qianchuan", "upload"): _qianchuan_upload,
    ("qianchuan", "apply"): _qianchuan_apply,
}
_RECONCILERS: dict[tuple[str, str], Callable[..., dict[str, Any] | None]] = {
    ("tencent", "create"): _tencent_find_created,
    ("tencent", "apply"): _tencent_find_file,
    ("oceanengine", "apply"): _ocean_find_apply,
}
POLLERS: dict[str, Callable[[SyncContext], dict[str, Any]]] = {
    "tencent": poll_tencent,
    "oceanengine": poll_ocean,
}


# --- the whole push ----------------------------------------------------------------------

def sync(ctx: SyncContext, target: np.ndarray, *, poll: bool = True) -> PushReport:
    """Finish any unfinished push, upload the new difference, poll; a report of it all."""
    report = PushReport(ctx.definition.platform, ctx.definition.name, "up_to_date",
                        target=len(target))
    running = state.running_push(ctx.conn, ctx.key)
    if running is not None:
        report.notes.append(f"finished push #{running['push_id']} left unfinished earlier")
        _note_failure(report, run_push(ctx, running))
    audience = ctx.audience()
    held = state.load_set(ctx.conn, audience["held_set_id"], ctx.digest_size)
    change = diff(target, held)
    needs_audience = ctx.definition.platform == "tencent" and not audience["remote_id"]
    if not change.empty or (needs_audience and len(target)):
        push = plan_push(ctx, target, held, change)
        report.directory = push["directory"]
        report.files = sorted(p.name for p in Path(push["directory"]).iterdir())
        report.added, report.removed = len(change.add), len(change.remove)
        report.status = "done"
        _note_failure(report, run_push(ctx, push))
    if poll and ctx.definition.platform in POLLERS:
        _poll(ctx, report)
    if ctx.reverted:
        report.status = "failed"
        report.notes += ctx.reverted
    audience = ctx.audience()
    report.held = audience["held_count"]
    report.processing = audience["processing"]
    report.uploaded_count = audience["uploaded_count"]
    report.matched_count = audience["matched_count"]
    due = audience["publish_due_at"]
    if audience["publish_pending"] and due and not due.startswith("started:"):
        report.publish_due_at = due
        report.notes.append(f"publish scheduled for {due} (Ocean Engine allows one publish "
                            "per audience per 24 h); the next push or run publishes it")
    if report.status != "failed" and report.processing == "processing":
        report.status = "processing"
    if report.status == "failed":
        raise PartialFailure(
            f"{ctx.definition.platform} audience {ctx.definition.name}: "
            + "; ".join(report.notes) + "; the ids that did not go up are retried by the "
            "next push", exit_code=None)
    return report


def _note_failure(report: PushReport, push: dict[str, Any]) -> None:
    if push.get("status") == "failed":
        report.status = "failed"
        report.notes.append(push.get("detail") or "a step failed")


def _poll(ctx: SyncContext, report: PushReport) -> None:
    poller = POLLERS[ctx.definition.platform]
    deadline = ctx.monotonic() + ctx.settings.poll_seconds
    while True:
        try:
            updates = poller(ctx)
        except TokenError:
            raise
        except RemoteError as exc:  # the uploads stand; the next push or status reads it
            report.notes.append(f"could not read the processing state: {exc.message}")
            return
        if updates.get("processing") and ctx.definition.platform == "tencent":
            with transaction(ctx.conn):
                state.update_audience(ctx.conn, ctx.key, **updates)
        if updates.get("processing") != "processing" or ctx.monotonic() >= deadline:
            return
        ctx.sleep(ctx.settings.poll_interval)


def refresh(ctx: SyncContext) -> None:
    """Poll one audience's platform (status --refresh): processing, match, due publishes."""
    if ctx.definition.platform not in POLLERS:
        return
    updates = POLLERS[ctx.definition.platform](ctx)
    if updates.get("processing") and ctx.definition.platform == "tencent":
        with transaction(ctx.conn):
            state.update_audience(ctx.conn, ctx.key, **updates)
