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
from pathlib import Path
from typing import Any

import numpy as np

from privmigrate.audience import state
from privmigrate.audience.context import PushReport, SyncContext
from privmigrate.audience.diff import AudienceDiff, apply, as_rows, diff
from privmigrate.audience.packages import write_package
from privmigrate.audience.steps import POLLERS, RECONCILERS, RUNNERS, SETTLED
from privmigrate.channels.outcomes import OutcomeUnknown, RemoteRefused, TokenError
from privmigrate.errors import PartialFailure, RemoteError
from privmigrate.ledger import transaction
from privmigrate.workspace import private_dir

UNKNOWN_OUTCOME_RETRIES = 3


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
    private_dir(candidate.parent)
    candidate.mkdir(mode=0o700)
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
    runner = RUNNERS[(ctx.definition.platform, step["kind"])]
    for attempt in range(UNKNOWN_OUTCOME_RETRIES + 1):
        fresh = _reload_step(ctx, step["step_id"])
        if fresh["status"] in ("done", "failed"):
            return
        uncertain = fresh["status"] == "started"
        if uncertain:
            found = RECONCILERS.get((ctx.definition.platform, step["kind"]))
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
    # the held set as it is now (a rejection found since planning may have changed it)
    base = state.load_set(ctx.conn, audience["held_set_id"], size)
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
        state.drop_sets(ctx.conn, [previous, push["base_set_id"]])
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
    compact(ctx)
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
    elif audience["publish_pending"] and due:
        report.notes.append(f"a publish sent at {due.removeprefix('started:').split('#')[0]} "
                            "got no answer; the next push reads the audience's last publish "
                            "time and publishes again if it did not take effect")
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
    compact(ctx)


def compact(ctx: SyncContext) -> None:
    """Drop the add/remove sets of finished pushes whose every applied step has settled
    (processed by the platform): nothing can be taken back out of the held set any more."""
    pushes = ctx.conn.execute(
        "SELECT push_id, add_set_id, remove_set_id FROM audience_pushes WHERE audience_key = ? "
        "AND status != 'running' AND (add_set_id IS NOT NULL OR remove_set_id IS NOT NULL)",
        (ctx.key,)).fetchall()
    for push in pushes:
        applies = [s for s in state.steps(ctx.conn, push["push_id"])
                   if s["kind"] == "apply" and s["status"] == "done"]
        if any(state.refs(s).get("processing") not in SETTLED for s in applies):
            continue
        with transaction(ctx.conn):
            state.drop_sets(ctx.conn, [push["add_set_id"], push["remove_set_id"]])
            ctx.conn.execute("UPDATE audience_pushes SET add_set_id = NULL, remove_set_id = NULL "
                             "WHERE push_id = ?", (push["push_id"],))

