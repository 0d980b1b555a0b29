"""Who is invited tonight, on which channel, with which template, offer and staff — pure.

Eligibility, ranking, the holdout, channel budgets, staff capacity and A/B variants are
vectorised over the whole customer table; only the (small) selection is rendered.

Holdout and variants come from one stable hash per customer: BLAKE2b-64 of
``"<campaign>\\x1f<customer_id>"`` (hashlib, so identical across runs, machines and pandas
versions). Bytes 0–3 give the holdout bucket (mod 10,000), bytes 4–7 a uniform number
that picks the variant by weight.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.invite import calls, render, wecom_add
from privmigrate.invite.lifecycle import CHANNELS
from privmigrate.invite.settings import InviteSettings

MOBILE_RE = r"^1[3-9]\d{9}$"
SKIP_REASONS = (
    "no_valid_phone", "in_private_domain", "converted", "segment_not_targeted",
    "suppressed", "not_reachable", "cooldown", "holdout_earlier", "over_limit",
)
CUSTOMER_COLUMNS = (
    "customer_id", "phone", "phone_status", "name", "segment", "priority", "reachable_by_sms",
    "in_private_domain", "avg_amount", "last_paid_at", "last_product",
)
INVITATION_COLUMNS = (
    "invitation_id", "night", "batch_id", "campaign", "customer_id", "channel", "template_id",
    "template_code", "variant", "offer", "staff_id", "staff", "state", "phone", "name",
    "honorific", "segment", "last_order_date", "last_product", "priority", "message", "length",
    "parts", "params", "talking_points", "remark", "expires_at",
)
# Suppressions that keep a buyer off each channel: a staff member adding by phone is a
# personal approach like a call, so a call refusal keeps the buyer off wecom_add too.
BLOCKED_BY = {"sms": ("sms", "all"), "call": ("call", "all"), "wecom_add": ("call", "all")}


@dataclass(frozen=True)
class History:
    """What the ledger says about earlier nights (all optional for a fresh workspace)."""

    recently_invited: frozenset[str] = frozenset()  # customer_ids within the cooldown
    suppressed: pd.DataFrame = field(  # phone, channel (sms|call|all)
        default_factory=lambda: pd.DataFrame({"phone": [], "channel": []}, dtype="string")
    )
    converted: frozenset[str] = frozenset()
    held_out: frozenset[str] = frozenset()  # already in this campaign's control group
    friends_held: dict[str, int] = field(default_factory=dict)  # staff id → customers (track)
    pending_adds: dict[str, int] = field(default_factory=dict)  # staff id → adds not yet seen


@dataclass(frozen=True)
class NightPlan:
    invitations: pd.DataFrame  # INVITATION_COLUMNS, in rank order
    holdouts: pd.DataFrame  # night, campaign, customer_id, segment
    summary: dict


def customer_hashes(ids: pd.Series, campaign: str) -> tuple[np.ndarray, np.ndarray]:
    """(holdout bucket 0–9999, variant uniform in [0, 1)) per customer id; stable forever."""
    prefix = f"{campaign}\x1f".encode()
    digests = b"".join(
        hashlib.blake2b(prefix + cid.encode(), digest_size=8).digest()
        for cid in ids.astype(str).tolist()
    )
    words = np.frombuffer(digests, dtype=">u4").reshape(-1, 2).astype(np.uint64)
    return (words[:, 0] % 10_000).astype(np.int64), words[:, 1] / float(2**32)


def plan_night(customers: pd.DataFrame, settings: InviteSettings, history: History,
               night: date, now: datetime, limit: int | None = None) -> NightPlan:
    """The invitations of ``night`` (not yet recorded anywhere)."""
    df = customers.loc[:, list(CUSTOMER_COLUMNS)].reset_index(drop=True)
    masks = _channel_masks(df, settings, history)
    reason = _skip_reasons(df, settings, history, masks)
    pool = reason.isna()

    ranked = _ranking(df, pool.to_numpy())
    cap = settings.daily_limit if limit is None else min(settings.daily_limit, limit)
    accounts = account_room(settings, history)
    cand, held, channel, staff_idx = _select(df, ranked, masks, settings, cap, accounts)
    selected = cand.assign(channel=channel, _staff=staff_idx)[channel != ""]
    cutoff = int(selected["_rank"].max()) if len(selected) else -1
    tonight_held = cand[held & (cand["_rank"].to_numpy() <= cutoff)]

    reason = reason.copy()
    reason[pool & ~reason.index.isin(selected.index) & ~reason.index.isin(tonight_held.index)] \
        = "over_limit"
    invitations = _build(selected, settings, night)
    accounts = _account_summary(accounts, invitations, settings)
    holdouts = pd.DataFrame({
        "night": night.isoformat(), "campaign": settings.campaign,
        "customer_id": tonight_held["customer_id"].astype(str).to_numpy(),
        "segment": tonight_held["segment"].astype(str).to_numpy(),
    })
    summary = _summary(df, reason, invitations, holdouts, settings, night, now, accounts)
    return NightPlan(invitations, holdouts, summary)


def account_room(s: InviteSettings, h: History) -> pd.DataFrame:
    """Per staff account: friends held, adds pending, the ceiling and the room left.

    ``room`` = max_customers − friends held (track's read-back) − wecom_add requests still
    open (each may yet be accepted): what the account can still take before it is full.
    """
    ids = [st.id for st in s.staff]
    held = np.array([int(h.friends_held.get(i, 0)) for i in ids], dtype=np.int64)
    pending = np.array([int(h.pending_adds.get(i, 0)) for i in ids], dtype=np.int64)
    ceiling = np.array([st.max_customers for st in s.staff], dtype=np.int64)
    return pd.DataFrame({
        "staff_id": ids, "staff": [st.name for st in s.staff],
        "agent": [st.owner for st in s.staff],
        "friends_held": held, "pending_adds": pending, "max_customers": ceiling,
        "room": np.maximum(ceiling - held - pending, 0),
        "daily_capacity": [st.daily_capacity for st in s.staff],
        "daily_add_budget": [st.daily_add_budget for st in s.staff],
    })


def _ranking(df: pd.DataFrame, pool: np.ndarray) -> np.ndarray:
    """Row positions of the pool, best first: priority descending, then customer_id."""
    positions = np.flatnonzero(pool)
    keys = pa.table({
        "priority": pa.array(np.nan_to_num(df["priority"].to_numpy(dtype="float64",
                                                                    na_value=np.nan),
                                           nan=-np.inf)[positions]),
        "customer_id": pc.take(_arrow(df["customer_id"]), pa.array(positions)),
    })
    order = pc.sort_indices(keys, sort_keys=[("priority", "descending"),
                                             ("customer_id", "ascending")])
    return positions[order.to_numpy()]


def _select(df: pd.DataFrame, ranked: np.ndarray, masks: dict[str, np.ndarray],
            s: InviteSettings, cap: int,
            accounts: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Hash and assign only as deep into the ranking as tonight's caps need.

    The result equals hashing everyone: the selection of the top ``size`` rows is final
    once every channel has filled its room, since lower-ranked rows could only come after.
    Returns (the hashed top rows with _u and _rank, held-out flags, channel and staff
    index per row).
    """
    wanted = min(cap, sum(s.budgets[ch] for ch in s.channel_order))
    threshold = round(s.holdout_percent * 100)
    size = min(len(ranked), 2 * wanted + 1024)
    while True:
        top = df.iloc[ranked[:size]]
        bucket, uniform = customer_hashes(top["customer_id"], s.campaign)
        held = bucket < threshold
        channel, staff, full = _assign_channels(top, held, masks, s, cap, accounts)
        if full or size >= len(ranked):
            break
        size = min(len(ranked), size * 4)
    top = top.assign(_u=uniform, _rank=np.arange(len(top)))
    return top, held, channel, staff


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column as Arrow strings (zero-copy for pyarrow-backed strings)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    return pa.array(values, type=pa.string(), from_pandas=True) \
        if values.dtype == object else pa.array(values)


def _isin(values: pa.Array | pa.ChunkedArray, wanted: object) -> np.ndarray:
    """Vectorised membership (Arrow hash set): False for nulls."""
    items = [str(v) for v in wanted]  # type: ignore[attr-defined]
    if not items:
        return np.zeros(len(values), dtype=bool)
    hit = pc.is_in(values, value_set=pa.array(items, pa.string()), skip_nulls=True)
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)


def _flags(values: pd.Series) -> np.ndarray:
    return values.fillna(False).to_numpy(dtype=bool)


def _channel_masks(df: pd.DataFrame, s: InviteSettings, h: History) -> dict[str, np.ndarray]:
    phone = _arrow(df["phone"])
    is_mobile = pc.fill_null(pc.match_substring_regex(phone, MOBILE_RE), False)
    valid = (df["phone_status"].eq("valid").fillna(False).to_numpy(dtype=bool)
             & np.asarray(is_mobile.to_numpy(zero_copy_only=False), dtype=bool))
    sup = h.suppressed
    out: dict[str, np.ndarray] = {"valid": valid}
    for ch in CHANNELS:
        segs = sorted({x for t in s.templates_for(ch) for x in t.segments})
        base = valid & _flags(df["segment"].isin(segs)) & (ch in s.channel_order)
        if ch == "sms":
            base &= _flags(df["reachable_by_sms"])
        blocked = sup.loc[sup["channel"].isin(BLOCKED_BY[ch]), "phone"].dropna().unique()
        out[f"{ch}_base"] = base
        out[ch] = base & ~_isin(phone, blocked)
    return out


def _skip_reasons(df: pd.DataFrame, s: InviteSettings, h: History,
                  m: dict[str, np.ndarray]) -> pd.Series:
    """The first reason each customer is not in tonight's pool (NA: in the pool)."""
    cid = _arrow(df["customer_id"])
    base = np.logical_or.reduce([m[f"{ch}_base"] for ch in CHANNELS])
    open_ = np.logical_or.reduce([m[ch] for ch in CHANNELS])
    checks = [
        ("no_valid_phone", ~m["valid"]),
        ("in_private_domain", _flags(df["in_private_domain"])),
        ("converted", _isin(cid, h.converted)),
        ("segment_not_targeted", ~_flags(df["segment"].isin(list(s.segments)))),
        ("suppressed", base & ~open_),
        ("not_reachable", ~open_),
        ("cooldown", _isin(cid, h.recently_invited)),
        ("holdout_earlier", _isin(cid, h.held_out)),
    ]
    codes = np.full(len(df), -1, dtype=np.int8)
    for i, (_, mask) in enumerate(checks):
        codes[(codes == -1) & mask] = i
    names = np.array([name for name, _ in checks] + [None], dtype=object)
    return pd.Series(names[codes], index=df.index, dtype="string")


def _assign_channels(cand: pd.DataFrame, held: np.ndarray, m: dict[str, np.ndarray],
                     s: InviteSettings, cap: int,
                     accounts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, bool]:
    """Fill channels in the configured order, best-ranked first, within every limit.

    Limits: the night's cap, each channel's budget, and per staff account its room
    (max_customers − held − pending, shared by all channels), its daily_capacity (SMS and
    call invitees it takes) and its daily_add_budget (wecom_add). Accounts take rows
    round-robin in rank order, so each gets its share of the best-ranked buyers.
    Returns (channel per row, staff index per row (-1: none), every channel filled).
    """
    channel = np.full(len(cand), "", dtype=object)
    staff = np.full(len(cand), -1, dtype=np.int64)
    room = accounts["room"].to_numpy(dtype=np.int64).copy()
    inbound = accounts["daily_capacity"].to_numpy(dtype=np.int64).copy()
    adds = accounts["daily_add_budget"].to_numpy(dtype=np.int64).copy()
    free = ~held
    taken = 0
    full = True
    for ch in s.channel_order:
        per = np.minimum(adds if ch == "wecom_add" else inbound, room)
        limit = min(s.budgets[ch], cap - taken, int(per.sum()))
        if limit <= 0:
            continue
        want = free & m[ch][cand.index.to_numpy()]
        take = want & (np.cumsum(want) <= limit)
        n = int(take.sum())
        who = round_robin(per, n)
        channel[take] = ch
        staff[take] = who
        counts = np.bincount(who, minlength=len(per))
        room -= counts
        if ch == "wecom_add":
            adds -= counts
        else:
            inbound -= counts
        free &= ~take
        taken += n
        full &= n == limit
    return channel, staff, full


def round_robin(caps: np.ndarray, n: int) -> np.ndarray:
    """Account index for ``n`` rows in rank order: one each in turn, within each cap."""
    caps = np.asarray(caps, dtype=np.int64)
    if n <= 0 or not len(caps):
        return np.zeros(0, dtype=np.int64)
    # turn t gives one row to every account with cap > t; only the first n rows are needed
    depth = int(min(caps.max(), n))
    turns = np.arange(depth)
    grid = caps[None, :] > turns[:, None]  # (turn, account)
    return np.nonzero(grid)[1][:n].astype(np.int64)


def _assign_variants(sel: pd.DataFrame, s: InviteSettings) -> pd.Series:
    template = pd.Series("", index=sel.index, dtype=object)
    for ch in CHANNELS:
        for seg in s.segments:
            group = [t for t in s.templates_for(ch) if seg in t.segments and t.weight > 0]
            rows = (sel["channel"] == ch) & (sel["segment"].astype(str) == seg)
            if not group or not rows.any():
                continue
            edges = np.cumsum([t.weight for t in group]) / sum(t.weight for t in group)
            pick = np.searchsorted(edges, sel.loc[rows, "_u"].to_numpy(), side="right")
            pick = np.minimum(pick, len(group) - 1)
            template[rows] = np.array([t.id for t in group], dtype=object)[pick]
    return template


def _build(sel: pd.DataFrame, s: InviteSettings, night: date) -> pd.DataFrame:
    if sel.empty:
        numeric = {"length": "int64", "parts": "int64", "priority": "float64"}
        return pd.DataFrame({c: pd.Series(dtype=numeric.get(c, "string"))
                             for c in INVITATION_COLUMNS})
    sel = sel.copy()
    sel["template_id"] = _assign_variants(sel, s)
    staff_idx = sel["_staff"].to_numpy()
    sel["staff_id"] = np.array([st.id for st in s.staff], dtype=object)[staff_idx]
    sel["staff"] = np.array([st.name for st in s.staff], dtype=object)[staff_idx]
    day = night.strftime("%Y%m%d")
    cid = sel["customer_id"].astype(str)
    sel["invitation_id"] = day + "-" + sel["channel"] + "-" + cid
    sel["batch_id"] = day + "-" + sel["channel"]
    sel["night"] = night.isoformat()
    sel["campaign"] = s.campaign
    sel["offer"] = render.offer_texts(sel["segment"], sel["avg_amount"], s.offers,
                                      s.offer_fallback)
    sel["product_text"] = render.clean_products(sel["last_product"], s.product_max_chars,
                                                s.product_fallback)
    sel["greeting"] = render.display_names(sel["name"], s.name_max_chars).fillna(s.salutation)
    sel["honorific"] = render.honorifics(sel["name"], s.honorific_suffix, s.salutation)
    last = pd.to_datetime(sel["last_paid_at"], errors="coerce")
    sel["last_order_date"] = last.dt.strftime("%Y-%m-%d").astype("string")
    for col in ("template_code", "variant", "state", "message", "params", "talking_points",
                "remark", "expires_at"):
        sel[col] = pd.Series(pd.NA, index=sel.index, dtype="string")
    sel["length"] = 0
    sel["parts"] = 0
    for t in s.templates:
        rows = sel["template_id"] == t.id
        if not rows.any():
            continue
        part = sel.loc[rows]
        values = {"name": part["greeting"], "product": part["product_text"],
                  "offer": part["offer"], "staff": part["staff"]}
        text = render.render(t.text, values, part.index)
        sel.loc[rows, "template_code"] = t.code
        sel.loc[rows, "variant"] = t.variant
        if t.channel == "sms":
            full = render.signature(s.sign_name) + text
            render.check_messages(full, t, values, s.sign_name)
            sel.loc[rows, "message"] = full
            sel.loc[rows, "length"] = full.str.len().to_numpy()
            sel.loc[rows, "parts"] = render.billed_parts(full.str.len())
            sel.loc[rows, "params"] = render.template_params(t, values, part.index)
            sel.loc[rows, "state"] = t.customer_channel
        elif t.channel == "wecom_add":  # the 申请语 the member sends with the add request
            sel.loc[rows, "message"] = text
            sel.loc[rows, "length"] = text.str.len().to_numpy()
            sel.loc[rows, "remark"] = wecom_add.remarks(part, s.wecom_add.remark)
            sel.loc[rows, "expires_at"] = wecom_add.expires_at(night, s.wecom_add.expire_days)
        else:
            sel.loc[rows, "talking_points"] = text
            sel.loc[rows, "state"] = calls.contact_states(part["customer_id"], night,
                                                          s.call_state_prefix)
    out = sel.loc[:, list(INVITATION_COLUMNS)].reset_index(drop=True)
    for col in INVITATION_COLUMNS:
        if col not in ("length", "parts", "priority"):
            out[col] = out[col].astype("string")
    out["length"] = out["length"].astype("int64")
    out["parts"] = out["parts"].astype("int64")
    out["priority"] = out["priority"].astype("float64")
    return out


def _account_summary(accounts: pd.DataFrame, inv: pd.DataFrame,
                     s: InviteSettings) -> pd.DataFrame:
    """The accounts after tonight: what each was given and the room left."""
    out = accounts.copy()
    by = inv.groupby(["staff_id", "channel"]).size()
    for ch in CHANNELS:
        out[f"assigned_{ch}"] = [int(by.get((i, ch), 0)) for i in out["staff_id"]]
    given = out[[f"assigned_{ch}" for ch in CHANNELS]].sum(axis=1)
    out["room_left"] = (out["room"] - given).clip(lower=0)
    return out


def _summary(df: pd.DataFrame, reason: pd.Series, inv: pd.DataFrame, holdouts: pd.DataFrame,
             s: InviteSettings, night: date, now: datetime, accounts: pd.DataFrame) -> dict:
    skipped = reason.value_counts()
    per_staff = inv["staff_id"].value_counts()  # one pass, not one per account
    templates: dict[str, dict] = {}
    for tid, grp in inv.groupby("template_id", sort=True):
        t = s.template(str(tid))
        templates[str(tid)] = {
            "channel": t.channel, "variant": t.variant, "count": len(grp),
            "parts": int(grp["parts"].sum()) if t.channel == "sms" else 0,
        }
    return {
        "night": night.isoformat(),
        "campaign": s.campaign,
        "planned_at": now.isoformat(timespec="seconds"),
        "customers": len(df),
        "invited": len(inv),
        "by_channel": {ch: int((inv["channel"] == ch).sum()) for ch in CHANNELS},
        "holdout": len(holdouts),
        "holdout_percent": s.holdout_percent,
        "skipped": {r: int(skipped.get(r, 0)) for r in SKIP_REASONS},
        "templates": templates,
        "staff": {st.name: int(per_staff.get(st.id, 0)) for st in s.staff},
        "accounts": {
            str(a.staff): {
                "staff_id": str(a.staff_id), "agent": str(a.agent),
                "friends_held": int(a.friends_held), "pending_adds": int(a.pending_adds),
                "max_customers": int(a.max_customers), "room": int(a.room),
                "room_left": int(a.room_left), "wecom_add": int(a.assigned_wecom_add),
                "daily_add_budget": int(a.daily_add_budget),
            } for a in accounts.itertuples(index=False)
        },
        # accounts that can take no new customer after tonight (max_customers reached)
        "full_accounts": [str(a.staff) for a in accounts.itertuples(index=False)
                          if int(a.room_left) <= 0],
        "sms_parts": int(inv.loc[inv["channel"] == "sms", "parts"].sum()),
    }
