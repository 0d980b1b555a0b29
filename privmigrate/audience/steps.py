"""The platforms' steps: what each step kind sends, how an unknown outcome is looked up,
and how processing state and match figures are read back.

Runners take ``(ctx, push, step)`` and return what to record with the step (a ``_audience``
key holds columns to set on the audience in the same transaction). Reconcilers return that
too when the platform shows the step was applied, else None.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from privmigrate.audience import state
from privmigrate.audience.context import SyncContext, file_path, revert_step
from privmigrate.audience.packages import platform_spec
from privmigrate.channels.outcomes import OutcomeUnknown, RemoteRefused
from privmigrate.ledger import transaction

TENCENT_OPERATION = {"add": "APPEND", "remove": "REDUCE"}
OCEAN_OPERATION = {"add": 1, "remove": 2}
FINAL_FILE_STATES = {"SUCCESS", "ERROR"}
SETTLED = {"SUCCESS", "2"}  # Tencent file processed / Ocean Engine change log 生效

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
        TENCENT_OPERATION[step["operation"]], file_path(ctx, push, name))
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
    path = file_path(ctx, push, name)
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
                "_audience": {"remote_id": source_id, **_changed(audience)}}
    ctx.client.update_data_source(audience["remote_id"], OCEAN_OPERATION[step["operation"]],
                                  paths)
    return {"file_paths": paths, "_audience": _changed(audience)}


def _changed(audience: dict[str, Any]) -> dict[str, Any]:
    """A change applied to the data source: one more change waits for a publish.

    ``publish_pending`` counts changes (a generation), so a publish can tell whether a
    change came after it started: only the changes it saw are cleared by it.
    """
    return {"publish_pending": int(audience["publish_pending"] or 0) + 1}


def _ocean_find_apply(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                      ) -> dict[str, Any] | None:
    audience = ctx.audience()
    if not audience["remote_id"]:
        return None  # NOTE: a create cannot be looked up by name; it is sent again
    paths = set(_uploaded_paths(ctx, push, step))
    source = ctx.client.read_data_source(audience["remote_id"])
    for log in source.get("change_logs") or []:
        if paths & set(log.get("file_paths") or []):
            return {"file_paths": sorted(paths), "_audience": _changed(audience)}
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
        started = audience["publish_due_at"] or ""
        if started.startswith("started:"):  # a publish whose answer never came back
            begun_at, seen = _started(started)
            published = _when(source.get("lastest_published_time")
                              or source.get("latest_published_time"))
            begun = _when(begun_at)
            if published and begun and published >= begun:
                _published(ctx, begun_at, seen)
            else:  # it did not take effect: publish again when due
                with transaction(ctx.conn):
                    state.update_audience(ctx.conn, ctx.key, publish_due_at=None)
            audience = ctx.audience()
        last = audience["last_publish_at"]
        due = datetime.fromisoformat(last) + interval if last else ctx.now
        if audience["publish_pending"] and ctx.now >= due:
            seen = int(audience["publish_pending"])
            with transaction(ctx.conn):
                state.update_audience(ctx.conn, ctx.key,
                                      publish_due_at=f"started:{state.iso(ctx.now)}#{seen}")
            try:
                ctx.client.publish(custom_id)
            except OutcomeUnknown:
                return  # checked against lastest_published_time next time
            _published(ctx, state.iso(ctx.now), seen)
            audience = ctx.audience()
        if audience["publish_pending"] and ctx.now < due:
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


def _started(marker: str) -> tuple[str, int]:
    """``started:<time>#<generation>`` → (time, the change generation the publish saw)."""
    body = marker.removeprefix("started:")
    when, _, seen = body.partition("#")
    return when, int(seen) if seen.isdigit() else 0


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


def _published(ctx: SyncContext, when: str, seen: int) -> None:
    """A publish that began at ``when`` took effect; it covers the ``seen`` changes made
    before it began. A change applied after it (a higher generation) stays pending and is
    published at the next allowed time."""
    audience = ctx.audience()
    pending = int(audience["publish_pending"] or 0)
    left = 0 if seen and pending <= seen else (pending if seen else 0)
    with transaction(ctx.conn):
        state.update_audience(ctx.conn, ctx.key, last_publish_at=when, publish_pending=left,
                              publish_due_at=None)


# --- 千川 ---------------------------------------------------------------------------------

def _qianchuan_upload(ctx: SyncContext, push: dict[str, Any], step: dict[str, Any]
                      ) -> dict[str, Any]:
    name = json.loads(step["files"])[0]
    return {"file_key": ctx.client.qianchuan_upload(file_path(ctx, push, name))}


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


RUNNERS: dict[tuple[str, str], Callable[..., dict[str, Any]]] = {
    ("tencent", "create"): _tencent_create,
    ("tencent", "apply"): _tencent_apply,
    ("oceanengine", "upload"): _ocean_upload,
    ("oceanengine", "apply"): _ocean_apply,
    ("qianchuan", "upload"): _qianchuan_upload,
    ("qianchuan", "apply"): _qianchuan_apply,
}
RECONCILERS: dict[tuple[str, str], Callable[..., dict[str, Any] | None]] = {
    ("tencent", "create"): _tencent_find_created,
    ("tencent", "apply"): _tencent_find_file,
    ("oceanengine", "apply"): _ocean_find_apply,
}
POLLERS: dict[str, Callable[[SyncContext], dict[str, Any]]] = {
    "tencent": poll_tencent,
    "oceanengine": poll_ocean,
}


