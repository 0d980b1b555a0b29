"""What a push's steps share: the context they run in, the report they add to, and how a
step the platform rejected later is taken back out of the held set."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from privmigrate.audience import state
from privmigrate.audience.diff import apply
from privmigrate.audience.settings import AudienceDef, AudienceSettings
from privmigrate.ledger import transaction
from privmigrate.progress import NULL_PROGRESS, Progress


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


def file_path(ctx: SyncContext, push: dict[str, Any], name: str) -> Path:
    return Path(push["directory"]) / name


