"""The workspace's SQLite state: runs and their steps, loaded files, invitations, sends,
suppressions, conversions, audience syncs.

Schema changes are an ordered list of named migrations, applied once each in list order
and recorded in ``schema_migrations``; append new ones at the end, never edit an applied one.
Every write happens inside a transaction, so a killed run leaves the last committed state.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from privmigrate.errors import PrivmigrateError

# (name, sql). Names are unique and stable; order is the order of application.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE runs (
            run_id      INTEGER PRIMARY KEY,
            night       TEXT NOT NULL,          -- the date the run is for (YYYY-MM-DD)
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            outcome     TEXT                    -- ok, partial, failed, NULL while running
        );
        CREATE TABLE run_steps (
            night       TEXT NOT NULL,
            step        TEXT NOT NULL,
            status      TEXT NOT NULL,          -- started, ok, failed, skipped
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            detail      TEXT,                   -- JSON summary or error message
            PRIMARY KEY (night, step)
        );
        CREATE TABLE loaded_files (
            sha256      TEXT NOT NULL,
            path        TEXT NOT NULL,
            source      TEXT NOT NULL,
            rows        INTEGER NOT NULL,
            loaded      INTEGER NOT NULL,
            rejected    INTEGER NOT NULL,
            unlinked    INTEGER NOT NULL,       -- orders that cannot be tied to a buyer
            loaded_at   TEXT NOT NULL,
            PRIMARY KEY (sha256, source)
        );
        """,
    ),
]


class LedgerError(PrivmigrateError):
    """The state database cannot be opened or is damaged."""


def _applied(conn: sqlite3.Connection) -> set[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    return {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    done = _applied(conn)
    applied: list[str] = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        with transaction(conn):  # one transaction per migration, DDL included
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, datetime('now'))", (name,)
            )
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement keeps triggers whole)."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the ledger at ``path`` and bring its schema up to date.

    The connection is in autocommit mode: group writes with ``transaction(conn)``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        if new:
            os.chmod(path, 0o600)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise LedgerError(
            f"{path}: cannot open the state database ({exc}); restore it from a backup "
            "or move it aside to start a fresh ledger"
        ) from exc
    return conn


@contextlib.contextmanager
def open_ledger(path: Path) -> Iterator[sqlite3.Connection]:
    """``with open_ledger(ws.state_db) as conn:`` — closes the connection afterwards."""
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """An explicit IMMEDIATE transaction: all of it commits, or none of it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
