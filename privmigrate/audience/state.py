"""The audience tables of the ledger: audiences, member sets, pushes and their steps.

Member sets are stored as sorted binary digests in chunks of a few MB (never phones). Every
remote step is written as ``started`` before the call and ``done`` (with what the platform
returned) after it, each in its own transaction, so a run killed in between leaves a step
whose outcome the next run checks with the platform before doing anything again.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

import numpy as np

from privmigrate.audience.diff import empty_set
from privmigrate.audience.settings import AudienceDef
from privmigrate.ledger import transaction

_CHUNK_ITEMS = 250_000


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def converted_customer_ids(conn: sqlite3.Connection) -> list[str]:
    """Customers the ``track`` step saw join the private domain (empty before it ran)."""
    if not table_exists(conn, "conversions"):
        return []
    columns = {row[1] for row in conn.execute("PRAGMA table_info(conversions)")}
    if "customer_id" not in columns:
        return []
    rows = conn.execute("SELECT customer_id FROM conversions WHERE customer_id IS NOT NULL")
    return [row[0] for row in rows]


# --- audiences ---------------------------------------------------------------------------

def get_audience(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM audiences WHERE audience_key = ?", (key,)).fetchone()
    return dict(row) if row else None


def all_audiences(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT * FROM audiences ORDER BY platform, name")]


def ensure_audience(conn: sqlite3.Connection, definition: AudienceDef, now: datetime
                    ) -> dict[str, Any]:
    """The audience's row, created or with its definition brought up to date."""
    existing = get_audience(conn, definition.key)
    if existing and existing["id_type"] != definition.id_type and existing["held_set_id"]:
        from privmigrate.errors import ConfigError

        raise ConfigError(
            f"audience {definition.name} on {definition.platform} was synced as "
            f"{existing['id_type']}; a platform audience holds one id type, so keep "
            f"id_type = \"{existing['id_type']}\" or give the audience a new name"
        )
    with transaction(conn):
        if existing is None:
            conn.execute(
                "INSERT INTO audiences (audience_key, platform, name, id_type, definition, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (definition.key, definition.platform, definition.name, definition.id_type,
                 json.dumps(definition.to_dict(), ensure_ascii=False), iso(now)),
            )
        else:
            conn.execute(
                "UPDATE audiences SET id_type = ?, definition = ?, updated_at = ? "
                "WHERE audience_key = ?",
                (definition.id_type, json.dumps(definition.to_dict(), ensure_ascii=False),
                 iso(now), definition.key),
            )
    audience = get_audience(conn, definition.key)
    assert audience is not None
    return audience


def update_audience(conn: sqlite3.Connection, key: str, **values: Any) -> None:
    """Set columns of one audience (call inside a transaction when grouping writes)."""
    if not values:
        return
    columns = ", ".join(f"{name} = ?" for name in values)
    conn.execute(f"UPDATE audiences SET {columns} WHERE audience_key = ?",
                 (*values.values(), key))


# --- member sets -------------------------------------------------------------------------

def save_set(conn: sqlite3.Connection, key: str, members: np.ndarray, now: datetime) -> int:
    """Store a sorted ``V<size>`` set; call inside a transaction. Returns its id."""
    size = members.dtype.itemsize
    cur = conn.execute(
        "INSERT INTO audience_sets (audience_key, digest_size, count, created_at) "
        "VALUES (?, ?, ?, ?)", (key, size, len(members), iso(now)),
    )
    set_id = int(cur.lastrowid or 0)
    raw = np.ascontiguousarray(members).view(np.uint8)
    step = _CHUNK_ITEMS * size
    conn.executemany(
        "INSERT INTO audience_set_chunks (set_id, seq, data) VALUES (?, ?, ?)",
        ((set_id, i, raw[start : start + step].tobytes())
         for i, start in enumerate(range(0, len(raw), step))),
    )
    return set_id


def load_set(conn: sqlite3.Connection, set_id: int | None, size: int) -> np.ndarray:
    if set_id is None:
        return empty_set(size)
    row = conn.execute("SELECT digest_size, count FROM audience_sets WHERE set_id = ?",
                       (set_id,)).fetchone()
    if row is None:
        return empty_set(size)
    parts = [bytes(r[0]) for r in conn.execute(
        "SELECT data FROM audience_set_chunks WHERE set_id = ? ORDER BY seq", (set_id,))]
    members = np.frombuffer(b"".join(parts), dtype=f"V{row['digest_size']}")
    if len(members) != row["count"]:
        from privmigrate.ledger import LedgerError

        raise LedgerError(f"audience member set {set_id} is damaged; restore state.db")
    return members


def drop_sets(conn: sqlite3.Connection, set_ids: list[int | None]) -> None:
    for set_id in {s for s in set_ids if s is not None}:
        conn.execute("DELETE FROM audience_set_chunks WHERE set_id = ?", (set_id,))
        conn.execute("DELETE FROM audience_sets WHERE set_id = ?", (set_id,))


# --- pushes and steps --------------------------------------------------------------------

def running_push(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM audience_pushes WHERE audience_key = ? AND status = 'running' "
        "ORDER BY push_id DESC LIMIT 1", (key,)).fetchone()
    return dict(row) if row else None


def last_push(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM audience_pushes WHERE audience_key = ? ORDER BY push_id DESC LIMIT 1",
        (key,)).fetchone()
    return dict(row) if row else None


def steps(conn: sqlite3.Connection, push_id: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM audience_steps WHERE push_id = ? ORDER BY seq",
                        (push_id,))
    return [dict(r) for r in rows]


def mark_step(conn: sqlite3.Connection, step_id: int, status: str, now: datetime,
              **values: Any) -> None:
    """Record a step's new status (and anything else) in its own transaction."""
    fields: dict[str, Any] = {"status": status, **values}
    if status == "started":
        fields["started_at"] = iso(now)
    elif status in ("done", "failed"):
        fields["finished_at"] = iso(now)
    columns = ", ".join(f"{name} = ?" for name in fields)
    extra = ", attempts = attempts + 1" if status == "started" else ""
    with transaction(conn):
        conn.execute(f"UPDATE audience_steps SET {columns}{extra} WHERE step_id = ?",
                     (*fields.values(), step_id))


def refs(step: dict[str, Any]) -> dict[str, Any]:
    return json.loads(step["remote_ref"]) if step.get("remote_ref") else {}
