"""Ledger access for track: what invite wrote, what track records, the WeCom token cache.

Invite owns ``invitations`` and ``holdouts``; track only reads them and tolerates their absence
(a workspace that has not invited yet). Track owns ``wecom_contacts`` and ``conversions``
(migration ``track_0001_wecom_conversions``). Other commands read ``converted_customer_ids``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pandas as pd

from privmigrate.ledger import transaction
from privmigrate.track.attribution import (
    CONVERSION_COLUMNS,
    HOLDOUT_COLUMNS,
    INVITATION_COLUMNS,
    MergePlan,
    with_columns,
)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _read(conn: sqlite3.Connection, table: str, wanted: list[str]) -> pd.DataFrame | None:
    if not table_exists(conn, table):
        return None
    have = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    cols = [c for c in wanted if c in have]
    if "segment" in have and "segment" not in cols:
        cols.append("segment")
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=cols, dtype="object")
    return with_columns(frame, wanted)


def read_invitations(conn: sqlite3.Connection) -> pd.DataFrame | None:
    """invite's invitations (None when invite never ran in this workspace)."""
    return _read(conn, "invitations", INVITATION_COLUMNS)


def read_holdouts(conn: sqlite3.Connection) -> pd.DataFrame | None:
    return _read(conn, "holdouts", HOLDOUT_COLUMNS)


def read_conversions(conn: sqlite3.Connection) -> pd.DataFrame:
    frame = _read(conn, "conversions", [*CONVERSION_COLUMNS, "recorded_at"])
    assert frame is not None  # our own migration created it
    frame["attributed"] = frame["attributed"].fillna(0).astype(bool)
    return frame


def converted_customer_ids(conn: sqlite3.Connection) -> set[str]:
    """Customers already in the private domain: invite skips them, audience removes them."""
    rows = conn.execute("SELECT customer_id FROM conversions WHERE customer_id IS NOT NULL")
    return {str(r[0]) for r in rows}


def _values(frame: pd.DataFrame, columns: list[str]) -> list[list[object]]:
    """Rows as plain Python values sqlite3 can bind (no numpy scalars, NaT or NA)."""
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime(TIME_FORMAT)
        elif pd.api.types.is_bool_dtype(s):
            s = s.astype("int64")
        s = s.astype(object)
        out[col] = s.where(s.notna(), None)
    return [[v.item() if hasattr(v, "item") else v for v in row]
            for row in out.itertuples(index=False, name=None)]


def record_contacts(conn: sqlite3.Connection, contacts: pd.DataFrame, now: datetime) -> int:
    """Upsert every add seen; returns how many were new. Keeps a state/phone once seen."""
    if contacts.empty:
        return 0
    stamp = now.strftime(TIME_FORMAT)
    cols = ["external_userid", "staff", "added_at", "state", "remark_phones", "source",
            "source_ref"]
    frame = contacts.assign(staff=contacts["staff"].fillna(""))
    frame = frame.drop_duplicates(["external_userid", "staff", "added_at"], keep="last")
    rows = [[*r, stamp, stamp] for r in _values(frame, cols)]
    before = conn.execute("SELECT count(*) FROM wecom_contacts").fetchone()[0]
    conn.executemany(
        """INSERT INTO wecom_contacts (external_userid, staff, added_at, state, remark_phones,
               source, source_ref, first_seen_at, last_seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (external_userid, staff, added_at) DO UPDATE SET
               state = coalesce(excluded.state, wecom_contacts.state),
               remark_phones = coalesce(excluded.remark_phones, wecom_contacts.remark_phones),
               last_seen_at = excluded.last_seen_at""",
        rows,
    )
    after = conn.execute("SELECT count(*) FROM wecom_contacts").fetchone()[0]
    return int(after - before)


def apply_plan(conn: sqlite3.Connection, plan: MergePlan, now: datetime) -> None:
    """Write a merge plan (call inside ``transaction``)."""
    stamp = now.strftime(TIME_FORMAT)
    cols = [c for c in CONVERSION_COLUMNS]
    if len(plan.inserts):
        conn.executemany(
            f"INSERT INTO conversions ({', '.join(cols)}, recorded_at) "
            f"VALUES ({', '.join('?' * (len(cols) + 1))})",
            [[*r, stamp] for r in _values(plan.inserts, cols)],
        )
    if len(plan.upgrades):
        sets = [c for c in cols if c not in ("external_userid", "added_at", "adds")]
        conn.executemany(
            f"UPDATE conversions SET {', '.join(f'{c} = ?' for c in sets)}, updated_at = ? "
            "WHERE external_userid = ? AND customer_id IS NULL",
            [[*r[:-1], stamp, r[-1]]
             for r in _values(plan.upgrades, [*sets, "external_userid"])],
        )
    if len(plan.adds_updates):
        conn.executemany(
            "UPDATE conversions SET adds = max(adds, ?) WHERE external_userid = ?",
            [[r[1], r[0]] for r in _values(plan.adds_updates, ["external_userid", "adds"])],
        )


class LedgerTokenCache:
    """WeCom access tokens in the 0600 ledger, so nightly runs reuse a live token."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> tuple[str, float] | None:
        row = self._conn.execute(
            "SELECT token, expires_at FROM wecom_tokens WHERE key = ?", (key,)).fetchone()
        return (str(row[0]), float(row[1])) if row else None

    def put(self, key: str, token: str, expires_at: float) -> None:
        with transaction(self._conn):
            self._conn.execute(
                "INSERT INTO wecom_tokens (key, token, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET token = excluded.token, "
                "expires_at = excluded.expires_at", (key, token, expires_at))

    def drop(self, key: str) -> None:
        with transaction(self._conn):
            self._conn.execute("DELETE FROM wecom_tokens WHERE key = ?", (key,))
