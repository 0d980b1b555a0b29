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
from privmigrate.workspace import private_dir

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
    (
        "track_0001_wecom_conversions",
        """
        -- Every WeCom add seen (API read-back or export file); one row per add event, so a
        -- re-add after deletion or an add to a second staff member is a new row.
        -- remark_phones holds normalised mobiles typed by staff (personal data: it stays in
        -- this 0600 database and is never printed).
        CREATE TABLE wecom_contacts (
            external_userid TEXT NOT NULL,
            staff           TEXT NOT NULL DEFAULT '',
            added_at        TEXT NOT NULL,          -- Asia/Shanghai wall time, ISO
            state           TEXT,                   -- 联系我 state or 获客链接 customer_channel
            remark_phones   TEXT,                   -- ';'-joined normalised mobiles, or NULL
            source          TEXT NOT NULL,          -- api, file
            source_ref      TEXT,                   -- file name or link_id
            first_seen_at   TEXT NOT NULL,
            last_seen_at    TEXT NOT NULL,
            PRIMARY KEY (external_userid, staff, added_at)
        );
        -- One row per converted person: the first add counts, later adds only bump `adds`.
        -- customer_id is NULL for a per-batch (customer_channel) add nobody could be matched to.
        CREATE TABLE conversions (
            conversion_id   INTEGER PRIMARY KEY,
            customer_id     TEXT UNIQUE,
            external_userid TEXT NOT NULL UNIQUE,
            staff           TEXT,
            added_at        TEXT NOT NULL,
            state           TEXT,
            source          TEXT NOT NULL CHECK (source IN ('api', 'file')),
            match_method    TEXT NOT NULL
                            CHECK (match_method IN ('state', 'remark_mobile', 'customer_channel')),
            invitation_id,                          -- NULL unless attributed (no type:
                                                    -- stored as invitations has it)
            attributed      INTEGER NOT NULL CHECK (attributed IN (0, 1)),
            reason          TEXT NOT NULL,          -- attributed, late, before_invitation,
                                                    -- holdout, organic
            nearest_invitation_id,                  -- invitation a late/early add was near
            batch_id        TEXT,
            campaign        TEXT,
            template_id     TEXT,
            variant         TEXT,
            adds            INTEGER NOT NULL DEFAULT 1,
            recorded_at     TEXT NOT NULL,
            updated_at      TEXT
        );
        CREATE INDEX conversions_invitation ON conversions (invitation_id);
        -- Cached WeCom access tokens (2 h lifetime), keyed by a hash of corp id + secret.
        CREATE TABLE wecom_tokens (
            key         TEXT PRIMARY KEY,
            token       TEXT NOT NULL,
            expires_at  REAL NOT NULL               -- unix seconds
        );
        """,
    ),
    (
        "invite_0001_invitations",
        """
        -- One row per planned invitation; written before anything is sent (docs/invite.md).
        CREATE TABLE invitations (
            invitation_id TEXT PRIMARY KEY,        -- <yyyymmdd>-<channel>-<customer_id>
            night         TEXT NOT NULL,           -- YYYY-MM-DD the plan is for
            batch_id      TEXT NOT NULL,           -- <yyyymmdd>-<channel>
            campaign      TEXT NOT NULL,
            customer_id   TEXT NOT NULL,
            channel       TEXT NOT NULL CHECK (channel IN ('sms', 'call')),
            template_id   TEXT NOT NULL,
            variant       TEXT,
            offer         TEXT,
            staff         TEXT,                    -- staff userid (WeCom)
            state         TEXT,                    -- 联系我 state (call) / customer_channel (sms)
            planned_at    TEXT NOT NULL,
            status        TEXT NOT NULL DEFAULT 'planned'
                          CHECK (status IN ('planned', 'sending', 'accepted', 'failed',
                                            'unknown', 'called')),
            provider      TEXT,
            provider_code TEXT,
            provider_ref  TEXT,
            sent_at       TEXT
        );
        CREATE INDEX invitations_customer ON invitations (customer_id, night);
        CREATE INDEX invitations_night ON invitations (night, channel, status);
        CREATE INDEX invitations_state ON invitations (state);
        -- The control group: customers held out of a campaign, recorded on the night they
        -- would have been invited; never invited afterwards.
        CREATE TABLE holdouts (
            night       TEXT NOT NULL,
            campaign    TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            segment     TEXT,
            PRIMARY KEY (campaign, customer_id)
        );
        CREATE TABLE suppressions (
            phone      TEXT NOT NULL,              -- normalised mobile (personal data)
            channel    TEXT NOT NULL CHECK (channel IN ('sms', 'call', 'all')),
            reason     TEXT NOT NULL,
            source     TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (phone, channel)
        );
        -- One row per planned night: its summary (manifest) and the plan file's checksum.
        CREATE TABLE invite_nights (
            night       TEXT PRIMARY KEY,
            campaign    TEXT NOT NULL,
            planned_at  TEXT NOT NULL,
            plan_sha256 TEXT NOT NULL,
            summary     TEXT NOT NULL              -- JSON
        );
        """,
    ),
    (
        "audience_0001_sync",
        """
        -- One row per (platform, audience name): what the platform holds, as the ledger knows it.
        CREATE TABLE audiences (
            audience_key        TEXT PRIMARY KEY,       -- platform:name
            platform            TEXT NOT NULL,
            name                TEXT NOT NULL,
            id_type             TEXT NOT NULL,          -- md5, sha256
            definition          TEXT NOT NULL,          -- JSON: segments, include, exclusions
            remote_id           TEXT,                   -- Tencent audience_id, Ocean Engine
                                                        -- data_source_id, 千川 audience_id
            remote_audience_id  TEXT,                   -- Ocean Engine custom_audience_id
            held_set_id         INTEGER,                -- audience_sets: ids the platform holds
            held_count          INTEGER NOT NULL DEFAULT 0,
            last_build_at       TEXT,
            last_build_dir      TEXT,
            last_sync_at        TEXT,                   -- last push that finished its uploads
            processing          TEXT,                   -- remote state: processing, done, error
            uploaded_count      INTEGER,                -- ids the platform counted
            matched_count       INTEGER,                -- ids it matched to users
            match_detail        TEXT,                   -- JSON of the platform's figures
            last_publish_at     TEXT,                   -- Ocean Engine: at most once per 24 h
            publish_pending     INTEGER NOT NULL DEFAULT 0,
            publish_due_at      TEXT,
            pushed_to           TEXT,                   -- JSON list of advertiser ids pushed to
            updated_at          TEXT NOT NULL
        );
        -- Member sets: sorted binary digests (16 or 32 bytes each), never phones.
        CREATE TABLE audience_sets (
            set_id        INTEGER PRIMARY KEY,
            audience_key  TEXT NOT NULL,
            digest_size   INTEGER NOT NULL,
            count         INTEGER NOT NULL,
            created_at    TEXT NOT NULL
        );
        CREATE TABLE audience_set_chunks (
            set_id  INTEGER NOT NULL REFERENCES audience_sets (set_id) ON DELETE CASCADE,
            seq     INTEGER NOT NULL,
            data    BLOB NOT NULL,
            PRIMARY KEY (set_id, seq)
        );
        -- One row per push; its steps are recorded before and after each remote call.
        CREATE TABLE audience_pushes (
            push_id        INTEGER PRIMARY KEY,
            audience_key   TEXT NOT NULL,
            started_at     TEXT NOT NULL,
            finished_at    TEXT,
            status         TEXT NOT NULL,               -- running, done, failed
            base_set_id    INTEGER,                     -- held set when planned
            add_set_id     INTEGER,
            remove_set_id  INTEGER,
            added          INTEGER NOT NULL DEFAULT 0,
            removed        INTEGER NOT NULL DEFAULT 0,
            directory      TEXT,                        -- where its package files are
            detail         TEXT
        );
        CREATE INDEX audience_pushes_key ON audience_pushes (audience_key, push_id);
        CREATE TABLE audience_steps (
            step_id      INTEGER PRIMARY KEY,
            push_id      INTEGER NOT NULL REFERENCES audience_pushes (push_id),
            seq          INTEGER NOT NULL,
            kind         TEXT NOT NULL,                 -- create, upload, apply, publish, push
            operation    TEXT,                          -- add, remove
            files        TEXT,                          -- JSON list of package file names
            id_offset    INTEGER,                       -- first id (in the add/remove set)
            ids          INTEGER NOT NULL DEFAULT 0,
            status       TEXT NOT NULL,                 -- planned, started, done, failed
            attempts     INTEGER NOT NULL DEFAULT 0,
            remote_ref   TEXT,                          -- JSON: file ids, file paths …
            started_at   TEXT,
            finished_at  TEXT,
            detail       TEXT,
            UNIQUE (push_id, seq)
        );
        """,
    ),
    (
        "invite_0002_lifecycle",
        """
        -- The invitation lifecycle (privmigrate/invite/lifecycle.py): delivery receipts,
        -- call outcomes, the wecom_add channel, expiry, and the client-side request id that
        -- is recorded before a request leaves. SQLite cannot alter a CHECK: rebuild.
        CREATE TABLE invitations_v2 (
            invitation_id TEXT PRIMARY KEY,
            night         TEXT NOT NULL,
            batch_id      TEXT NOT NULL,
            campaign      TEXT NOT NULL,
            customer_id   TEXT NOT NULL,
            channel       TEXT NOT NULL CHECK (channel IN ('sms', 'call', 'wecom_add')),
            template_id   TEXT NOT NULL,
            variant       TEXT,
            offer         TEXT,
            staff         TEXT,
            state         TEXT,
            planned_at    TEXT NOT NULL,
            status        TEXT NOT NULL DEFAULT 'planned'
                          CHECK (status IN ('planned', 'sending', 'accepted', 'delivered',
                                            'undelivered', 'failed', 'unknown', 'called',
                                            'expired')),
            provider      TEXT,
            provider_code TEXT,
            provider_ref  TEXT,                    -- provider's id: BizId / SerialNo
            sent_at       TEXT,
            request_id    TEXT,                    -- ours, sent as OutId / SessionContext
            delivered_at  TEXT,                    -- receipt time (delivered or not)
            receipt_code  TEXT,                    -- receipt's status / error code
            call_outcome  TEXT,                    -- lifecycle.CALL_OUTCOME_CODES
            outcome_note  TEXT,                    -- agent's remark (no phone numbers)
            outcome_at    TEXT,                    -- when the call / add / expiry happened
            expires_at    TEXT                     -- wecom_add: not added by then → expired
        );
        INSERT INTO invitations_v2 (invitation_id, night, batch_id, campaign, customer_id,
            channel, template_id, variant, offer, staff, state, planned_at, status, provider,
            provider_code, provider_ref, sent_at)
        SELECT invitation_id, night, batch_id, campaign, customer_id, channel, template_id,
            variant, offer, staff, state, planned_at, status, provider, provider_code,
            provider_ref, sent_at
        FROM invitations;
        DROP TABLE invitations;
        ALTER TABLE invitations_v2 RENAME TO invitations;
        CREATE INDEX invitations_customer ON invitations (customer_id, night);
        CREATE INDEX invitations_night ON invitations (night, channel, status);
        CREATE INDEX invitations_state ON invitations (state);
        CREATE INDEX invitations_request ON invitations (request_id);
        """,
    ),
    (
        "invite_0003_wecom_notices",
        """
        -- WeCom application messages telling a staff member tonight's wecom_add list
        -- (invite/add_notify.py): one per (night, account), so a rerun never sends twice.
        CREATE TABLE wecom_notices (
            night    TEXT NOT NULL,
            staff    TEXT NOT NULL,               -- the member's WeCom userid
            msgtype  TEXT NOT NULL,               -- textcard | text
            rows     INTEGER NOT NULL,            -- buyers on the member's list
            msgid    TEXT,                        -- WeCom's msgid
            sent_at  TEXT NOT NULL,
            PRIMARY KEY (night, staff)
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
    private_dir(path.parent)
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
