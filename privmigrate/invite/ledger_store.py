"""Reading and writing the invite tables of the ledger: invitations, holdouts, suppressions.

Every write is one transaction: a night's plan is recorded all at once before anything is
sent, and each provider call's outcome is recorded right after the call returns.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import pandas as pd

from privmigrate.invite.plan import History, NightPlan
from privmigrate.ledger import transaction

SUPPRESSION_CHANNELS = ("sms", "call", "all")
_INVITATION_FIELDS = (
    "invitation_id", "night", "batch_id", "campaign", "customer_id", "channel", "template_id",
    "variant", "offer", "staff_id", "state", "expires_at",
)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def load_history(conn: sqlite3.Connection, night: date, campaign: str,
                 cooldown_days: int) -> History:
    """What earlier (and later) nights decided, as the planner needs it."""
    lo = (night - timedelta(days=cooldown_days)).isoformat()
    hi = (night + timedelta(days=cooldown_days)).isoformat()
    recent = conn.execute(
        "SELECT DISTINCT customer_id FROM invitations WHERE night BETWEEN ? AND ? "
        "AND night != ? AND status != 'failed'",
        (lo, hi, night.isoformat()),
    ).fetchall() if cooldown_days > 0 else []
    converted: list[tuple] = []
    if _has_table(conn, "conversions"):
        converted = conn.execute(
            "SELECT customer_id FROM conversions WHERE customer_id IS NOT NULL"
        ).fetchall()
    held = conn.execute(
        "SELECT customer_id FROM holdouts WHERE campaign = ?", (campaign,)
    ).fetchall()
    return History(
        recently_invited=frozenset(r[0] for r in recent),
        suppressed=suppressions_frame(conn),
        converted=frozenset(r[0] for r in converted),
        held_out=frozenset(r[0] for r in held),
        friends_held=friends_held(conn),
        pending_adds=pending_adds(conn, night),
    )


def friends_held(conn: sqlite3.Connection) -> dict[str, int]:
    """Customers per staff account (WeCom userid) as track has read them back.

    Every customer ever read back counts, also one who has since deleted the account (the
    read-back keeps no deletion marker), so an account's room is never overstated.
    """
    if not _has_table(conn, "wecom_contacts"):
        return {}
    rows = conn.execute(
        "SELECT staff, COUNT(DISTINCT external_userid) FROM wecom_contacts "
        "WHERE staff IS NOT NULL AND staff != '' GROUP BY staff"
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def pending_adds(conn: sqlite3.Connection, night: date) -> dict[str, int]:
    """wecom_add requests of earlier nights still open (neither added nor expired) per account."""
    rows = conn.execute(
        "SELECT staff, COUNT(*) FROM invitations WHERE channel = 'wecom_add' "
        "AND status = 'planned' AND night < ? GROUP BY staff", (night.isoformat(),)
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def stored_night(conn: sqlite3.Connection, night: date) -> dict | None:
    """The recorded plan summary of ``night`` (with its plan checksum), or None."""
    row = conn.execute(
        "SELECT plan_sha256, summary FROM invite_nights WHERE night = ?", (night.isoformat(),)
    ).fetchone()
    if row is None:
        return None
    return {"plan_sha256": row[0], "summary": json.loads(row[1])}


def record_plan(conn: sqlite3.Connection, plan: NightPlan, plan_sha256: str) -> None:
    """Record every planned invitation and tonight's holdouts in one transaction."""
    s = plan.summary
    inv = plan.invitations
    rows = inv.loc[:, list(_INVITATION_FIELDS)].astype(object).where(inv.notna(), None)
    with transaction(conn):
        conn.executemany(
            "INSERT OR IGNORE INTO invitations (invitation_id, night, batch_id, campaign, "
            "customer_id, channel, template_id, variant, offer, staff, state, expires_at, "
            "planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r, s["planned_at"]) for r in rows.itertuples(index=False, name=None)],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO holdouts (night, campaign, customer_id, segment) "
            "VALUES (?, ?, ?, ?)",
            plan.holdouts.loc[:, ["night", "campaign", "customer_id", "segment"]]
            .itertuples(index=False, name=None),
        )
        conn.execute(
            "INSERT INTO invite_nights VALUES (?, ?, ?, ?, ?)",
            (s["night"], s["campaign"], s["planned_at"], plan_sha256,
             json.dumps(s, ensure_ascii=False, sort_keys=True)),
        )


def recover_interrupted(conn: sqlite3.Connection, night: date) -> int:
    """A run killed during a provider call left rows ``sending``: their outcome is unknown."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE invitations SET status = 'unknown', provider_code = 'interrupted' "
            "WHERE night = ? AND status = 'sending'", (night.isoformat(),)
        )
    return cur.rowcount


def sms_to_send(conn: sqlite3.Connection, night: date, resend_unknown: bool) -> list[str]:
    """Invitation ids still to send, in id order; ``unknown`` only when asked explicitly."""
    statuses = ("planned", "unknown") if resend_unknown else ("planned",)
    marks = ", ".join("?" for _ in statuses)
    rows = conn.execute(
        f"SELECT invitation_id FROM invitations WHERE night = ? AND channel = 'sms' "
        f"AND status IN ({marks}) ORDER BY invitation_id",
        (night.isoformat(), *statuses),
    ).fetchall()
    return [r[0] for r in rows]


def mark_sending(conn: sqlite3.Connection, ids: Sequence[str], provider: str,
                 request_id: str, when: datetime) -> None:
    """Committed just before the request leaves, with the request id it carries (OutId /
    SessionContext): a kill at any point after this is looked up by that id, and one before
    the request left is found unsent there."""
    stamp = when.isoformat(timespec="seconds")
    with transaction(conn):
        conn.executemany(
            "UPDATE invitations SET status = 'sending', provider = ?, request_id = ?, "
            "sent_at = ? WHERE invitation_id = ?",
            [(provider, request_id, stamp, i) for i in ids],
        )


def unknown_to_look_up(conn: sqlite3.Connection, night: date) -> list[tuple[str, str, str]]:
    """(invitation_id, request_id, sent_at) of the night's SMS whose outcome is unknown and
    that carry a request id (rows sent before request ids existed cannot be looked up)."""
    return [tuple(r) for r in conn.execute(
        "SELECT invitation_id, request_id, sent_at FROM invitations WHERE night = ? "
        "AND channel = 'sms' AND status = 'unknown' AND request_id IS NOT NULL "
        "AND sent_at IS NOT NULL ORDER BY invitation_id", (night.isoformat(),))]


def unknown_rows(conn: sqlite3.Connection, night: date) -> list[dict[str, str | None]]:
    """The night's SMS rows whose outcome is still unknown (no phone numbers)."""
    return [{"invitation_id": r[0], "request_id": r[1], "sent_at": r[2],
             "provider_code": r[3]} for r in conn.execute(
        "SELECT invitation_id, request_id, sent_at, provider_code FROM invitations "
        "WHERE night = ? AND channel = 'sms' AND status = 'unknown' ORDER BY invitation_id",
        (night.isoformat(),))]


def record_looked_up(conn: sqlite3.Connection, statuses: Iterable, when: datetime
                     ) -> dict[str, int]:
    """Apply what the provider's records say about unknown rows, in one transaction.

    accepted / delivered / undelivered: the provider took it (never sent again);
    not_received: back to planned, so the send that follows sends it; unknown: unchanged.
    Only rows still ``unknown`` change. Returns {status: rows changed}.
    """
    counts: dict[str, int] = {}
    stamp = when.isoformat(timespec="seconds")
    with transaction(conn):
        for s in statuses:
            if s.status == "unknown":
                continue
            if s.status == "not_received":
                cur = conn.execute(
                    "UPDATE invitations SET status = 'planned', provider_code = 'not_received' "
                    "WHERE invitation_id = ? AND status = 'unknown'", (s.message_id,))
            else:
                receipt = s.status in ("delivered", "undelivered")
                cur = conn.execute(
                    "UPDATE invitations SET status = ?, provider_code = 'looked_up', "
                    "provider_ref = COALESCE(?, provider_ref), receipt_code = ?, "
                    "delivered_at = ? WHERE invitation_id = ? AND status = 'unknown'",
                    (s.status, s.provider_ref, s.code if receipt else None,
                     (s.receipt_at or stamp) if receipt else None, s.message_id))
            counts[s.status] = counts.get(s.status, 0) + cur.rowcount
    return counts


def mark_suppressed(conn: sqlite3.Connection, ids: Sequence[str]) -> None:
    """Planned rows whose number was suppressed after planning: never sent."""
    with transaction(conn):
        conn.executemany(
            "UPDATE invitations SET status = 'failed', provider_code = 'suppressed' "
            "WHERE invitation_id = ? AND status IN ('planned', 'unknown')", [(i,) for i in ids],
        )


def release(conn: sqlite3.Connection, ids: Sequence[str]) -> None:
    """The provider refused the whole call before sending: the rows go back to planned."""
    with transaction(conn):
        conn.executemany(
            "UPDATE invitations SET status = 'planned' WHERE invitation_id = ? "
            "AND status = 'sending'", [(i,) for i in ids],
        )


def record_results(conn: sqlite3.Connection, results: Iterable, phones: dict[str, str],
                   provider: str, sent_at: datetime) -> int:
    """Store each message's outcome; provider blacklist codes add the number to suppressions.

    Returns how many numbers were newly suppressed.
    """
    stamp = sent_at.isoformat(timespec="seconds")
    suppressed = 0
    with transaction(conn):
        for r in results:
            conn.execute(
                "UPDATE invitations SET status = ?, provider = ?, provider_code = ?, "
                "provider_ref = ?, sent_at = ? WHERE invitation_id = ?",
                (r.status, provider, r.code, r.provider_ref, stamp, r.message_id),
            )
            if r.suppress and r.message_id in phones:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO suppressions VALUES (?, 'sms', ?, ?, ?)",
                    (phones[r.message_id], f"provider:{r.code}", provider, stamp),
                )
                suppressed += cur.rowcount
    return suppressed


def night_counts(conn: sqlite3.Connection, night: date) -> dict[str, dict[str, int]]:
    """{channel: {status: n}} for a night."""
    out: dict[str, dict[str, int]] = {}
    for ch, status, n in conn.execute(
        "SELECT channel, status, COUNT(*) FROM invitations WHERE night = ? "
        "GROUP BY channel, status ORDER BY channel, status", (night.isoformat(),)
    ):
        out.setdefault(ch, {})[status] = n
    return out


# --- suppressions -------------------------------------------------------------------------


def suppressions_frame(conn: sqlite3.Connection, channel: str | None = None) -> pd.DataFrame:
    sql = "SELECT phone, channel, reason, source, created_at FROM suppressions"
    args: tuple = ()
    if channel:
        sql += " WHERE channel = ?"
        args = (channel,)
    rows = conn.execute(sql + " ORDER BY created_at, phone, channel", args).fetchall()
    cols = ["phone", "channel", "reason", "source", "created_at"]
    return pd.DataFrame([tuple(r) for r in rows], columns=cols, dtype="string")


def add_suppressions(conn: sqlite3.Connection, phones: Iterable[str], channel: str,
                     reason: str, source: str, now: datetime) -> int:
    """Add phones (already normalised); returns how many were new."""
    stamp = now.isoformat(timespec="seconds")
    added = 0
    with transaction(conn):
        for phone in phones:
            cur = conn.execute(
                "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?, ?)",
                (phone, channel, reason, source, stamp),
            )
            added += cur.rowcount
    return added


def remove_suppressions(conn: sqlite3.Connection, phones: Iterable[str],
                        channel: str | None) -> int:
    removed = 0
    with transaction(conn):
        for phone in phones:
            if channel:
                cur = conn.execute(
                    "DELETE FROM suppressions WHERE phone = ? AND channel = ?", (phone, channel)
                )
            else:
                cur = conn.execute("DELETE FROM suppressions WHERE phone = ?", (phone,))
            removed += cur.rowcount
    return removed
