"""Channel ``wecom_add``: a staff member adds the buyer by phone (企业微信 搜索手机号添加).

The plan gives each account its buyers (plan.py); this module renders what the member types —
the suggested 备注 (remark, ≤ 20 characters: WeCom's limit for ``externalcontact/remark``) —
and sets when an unanswered request expires. The add itself is seen by ``track`` (the member's
``batch/get_by_user`` read-back or the admin-console export, matched to the buyer by the
remark mobile): see :func:`reconcile`.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime, timedelta

import pandas as pd

from privmigrate.invite.render import display_names, surnames
from privmigrate.invite.settings import REMARK_MAX_CHARS
from privmigrate.ledger import transaction

_VAR = re.compile(r"\{([a-z_]+)\}")


def expires_at(night: date, days: int) -> str:
    """The last moment an add still counts: the end of the ``days``-th day after the night."""
    return f"{(night + timedelta(days=days)).isoformat()} 23:59:59"


def remarks(rows: pd.DataFrame, template: str) -> pd.Series:
    """The suggested 备注 per row, never longer than WeCom's 20 characters.

    The name gives way first: everything else is rendered, and the name fills what is left,
    so the phone tail (what a member searches by later) is never cut.
    """
    phone = rows["phone"].astype("string").fillna("")
    last = pd.to_datetime(rows["last_paid_at"], errors="coerce")
    values = {
        "phone_tail": phone.str.slice(-4),
        "segment": rows["segment"].astype("string").fillna(""),
        "last_order_date": last.dt.strftime("%m%d").astype("string").fillna(""),
        "staff": rows["staff"].astype("string").fillna(""),
    }
    # the buyer's real name when it is one, else the surname of a masked name (张**), else ""
    name = display_names(rows["name"], REMARK_MAX_CHARS).fillna(surnames(rows["name"])) \
        .fillna("")
    rest = pd.Series(_VAR.sub("", template), index=rows.index, dtype="string")
    out = pd.Series(template, index=rows.index, dtype="string")
    for var, val in values.items():
        if "{" + var + "}" in template:
            out = _sub(out, var, val)
            rest = rest.str.cat(val)
    room = (REMARK_MAX_CHARS - rest.str.len()).clip(lower=0)
    fitted = name.astype("string")
    for r in room.unique():  # a few distinct lengths: one vectorised slice each
        at = room == r
        fitted[at] = name[at].str.slice(0, int(r))
    out = _sub(out, "name", fitted)
    return out.str.slice(0, REMARK_MAX_CHARS)


def _sub(text: pd.Series, var: str, values: pd.Series) -> pd.Series:
    parts = text.str.split("{" + var + "}", n=1, regex=False)
    head = parts.str[0]
    tail = parts.str[1].fillna("")
    has = text.str.contains("{" + var + "}", regex=False)
    return head.str.cat(values.fillna("")).str.cat(tail).where(has, text)


def reconcile(conn: sqlite3.Connection, now: datetime) -> dict[str, int]:
    """Move open wecom_add invitations on: accepted when the add was seen, else expired.

    *Seen* is track's conversion of the buyer (one rule for every channel: a 联系我 state or
    the remark mobile the member typed matched the buyer; ``batch/get_by_user`` or the
    admin-console export), added on or after the invitation's night, by ``expires_at`` and not
    after ``now`` (the as-of: nothing is dated after it). A buyer added through another account
    still counts — they are in the private domain — and the adding account is noted.
    Not seen by ``expires_at`` (and ``expires_at`` before ``now``) → expired: attempted, not
    converted. Call inside no transaction; this takes its own. Returns the counts moved.
    """
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    if not _has_table(conn, "conversions"):
        accepted = 0
    else:
        with transaction(conn):
            accepted = conn.execute(
                """UPDATE invitations SET status = 'accepted', provider = 'wecom',
                       outcome_at = seen.added_at, sent_at = coalesce(sent_at, planned_at),
                       outcome_note = CASE WHEN seen.staff != invitations.staff
                                           THEN 'added_by:' || seen.staff END
                   FROM (SELECT customer_id, min(added_at) AS added_at, staff
                         FROM conversions WHERE customer_id IS NOT NULL AND added_at <= ?
                         GROUP BY customer_id) AS seen
                   WHERE invitations.channel = 'wecom_add' AND invitations.status = 'planned'
                     AND seen.customer_id = invitations.customer_id
                     AND seen.added_at >= invitations.night
                     AND seen.added_at <= invitations.expires_at""",
                (stamp,),
            ).rowcount
    with transaction(conn):
        expired = conn.execute(
            "UPDATE invitations SET status = 'expired', outcome_at = expires_at, "
            "sent_at = coalesce(sent_at, planned_at) "
            "WHERE channel = 'wecom_add' AND status = 'planned' AND expires_at < ?",
            (stamp,),
        ).rowcount
    return {"accepted": int(accepted), "expired": int(expired)}


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None
