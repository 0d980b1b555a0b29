"""Outbound call lists: the per-person 联系我 state and the columns dialers import.

Calls are the one channel with person-level attribution: the agent sends the customer a
「联系我」 contact way whose ``state`` (≤ 30 characters, reference §4.2) names this
invitation, so the WeCom add event that carries it maps back to exactly one invitation.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pandas as pd

STATE_MAX = 30
# Column order follows what outbound tools import (reference §5.1: phoneNumber, name,
# honorific, referenceId, then variables).
CALL_COLUMNS = (
    ("phone", "phone"),
    ("name", "name"),
    ("honorific", "honorific"),
    ("external_ref", "customer_id"),
    ("segment", "segment"),
    ("last_order_date", "last_order_date"),
    ("last_product", "last_product"),
    ("offer", "offer"),
    ("wecom_state", "state"),
    ("talking_points", "talking_points"),
)
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def contact_states(customer_ids: pd.Series, night: date, prefix: str) -> pd.Series:
    """``<prefix><yymmdd><customer_id>``; ids too long for 30 characters are hashed."""
    head = f"{prefix}{night:%y%m%d}"
    ids = customer_ids.astype(str)
    room = STATE_MAX - len(head)
    short = ids.str.len() <= room
    hashed = ids.map(lambda v: "h" + hashlib.blake2b(v.encode(), digest_size=8).hexdigest())
    return (head + ids.where(short, hashed.str.slice(0, room))).astype("string")


def sheet_name(staff: str, used: set[str]) -> str:
    """An Excel-safe, unique sheet name (≤ 31 characters, no []:*?/\\)."""
    base = _SHEET_BAD.sub("_", staff)[:28] or "agent"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def call_sheets(invitations: pd.DataFrame, staff_order: list[str]) -> dict[str, pd.DataFrame]:
    """One frame per agent (staff name → rows in rank order), columns in import order."""
    rows = invitations[invitations["channel"] == "call"]
    out: dict[str, pd.DataFrame] = {}
    names = [n for n in staff_order if n in set(rows["staff"].astype(str))]
    names += sorted(set(rows["staff"].astype(str)) - set(names))
    for staff in names:
        part = rows[rows["staff"].astype(str) == staff]
        out[staff] = pd.DataFrame(
            {header: part[col].astype("string").to_numpy() for header, col in CALL_COLUMNS}
        )
    return out
