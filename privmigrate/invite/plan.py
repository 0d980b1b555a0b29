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

from privmigrate.invite import calls, render
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
    "parts", "params", "talking_points",
)


@dataclass(frozen=True)
class History:
    """What the ledger says about earlier nights (all optional for a fresh workspace)."""

    recently_invited: frozenset[str] = frozenset()  # customer_ids within the cooldown
    suppressed: pd.DataFrame = field(  # phone, channel (sms|call|all)
        default_factory=lambda: pd.DataFrame({"phone": [], "channel": []}, dtype="string")
    )
    converted: frozenset[str] = frozenset()
    held_out: frozenset[str] = frozenset()  # already in this campaign's control group


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
    cap = min(settings.daily_limit, sum(s.daily_capacity for s in settings.staff))
    if limit is not None:
        cap = min(cap, limit)
    cand, held, channel = _select(df, ranked, masks, settings, cap)
    selected = cand.assign(channel=channel)[channel != ""]
    cutoff = int(selected["_rank"].max()) if len(selected) else -1
    tonight_held = cand[held & (cand["_rank"].to_numpy() <= cutoff)]

    reason = reason.copy()
    reason[pool & ~reason.index.isin(selected.index) & ~reason.index.isin(tonight_held.index)] \
        = "over_limit"
    invitations = _build(selected, settings, night)
    holdouts = pd.DataFrame({
        "night": night.isoformat(), "campaign": settings.campaign,
        "customer_id": tonight_held["customer_id"].astype(str).to_numpy(),
        "segment": tonight_held["segment"].astype(str).to_numpy(),
    })
    summary = _summary(df, reason, invitations, holdouts, settings, night, now)
    return NightPlan(invitations, holdouts, summary)


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
            s: InviteSettings,
            cap: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Hash and assign only as deep into the ranking as tonight's caps need.

    The result equals hashing everyone: the selection of the top ``size`` rows is final
    once it fills every cap, since lower-ranked rows could only come after them.
    Returns (the hashed top rows with _u and _rank, held-out flags, channel per row).
    """
    wanted = min(cap, sum(s.budgets[ch] for ch in s.channel_order))
    threshold = round(s.holdout_percent * 100)
    size = min(len(ranked), 2 * wanted + 1024)
    while True:
        top = df.iloc[ranked[:size]]
        bucket, uniform = customer_hashes(top["customer_id"], s.campaign)
        held = bucket < threshold
        channel = _assign_channels(top, held, masks, s, cap)
        if int((channel != "").sum()) >= wanted or size >= len(ranked):
            break
        size = min(len(ranked), size * 4)
    top = top.assign(_u=uniform, _rank=np.arange(len(top)))
    return top, held, channel


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
    for ch in ("sms", "call"):
        segs = sorted({x for t in s.templates_for(ch) for x in t.segments})
        base = valid & _flags(df["segment"].isin(segs)) & (ch in s.channel_order)
        if ch == "sms":
            base &= _flags(df["reachable_by_sms"])
        blocked = sup.loc[sup["channel"].isin([ch, "all"]), "phone"].dropna().unique()
        out[f"{ch}_base"] = base
        out[ch] = base & ~_isin(phone, blocked)
    return out


def _skip_reasons(df: pd.DataFrame, s: InviteSettings, h: History,
                  m: dict[str, np.ndarray]) -> pd.Series:
    """The first reason each customer is not in tonight's pool (NA: in the pool)."""
    cid = _arrow(df["customer_id"])
    checks = [
        ("no_valid_phone", ~m["valid"]),
        ("in_private_domain", _flags(df["in_private_domain"])),
        ("converted", _isin(cid, h.converted)),
        ("segment_not_targeted", ~_flags(df["segment"].isin(list(s.segments)))),
        ("suppressed", (m["sms_base"] | m["call_base"]) & ~(m["sms"] | m["call"])),
        ("not_reachable", ~(m["sms"] | m["call"])),
        ("cooldown", _isin(cid, h.recently_invited)),
        ("holdout_earlier", _isin(cid, h.held_out)),
    ]
    codes = np.full(len(df), -1, dtype=np.int8)
    for i, (_, mask) in enumerate(checks):
        codes[(codes == -1) & mask] = i
    names = np.array([name for name, _ in checks] + [None], dtype=object)
    return pd.Series(names[codes], index=df.index, dtype="string")


def _assign_channels(cand: pd.DataFrame, held: np.ndarray, m: dict[str, np.ndarray],
                     s: InviteSettings, cap: int) -> np.ndarray:
    """Fill channels in the configured order, best-ranked first, within budgets and the cap."""
    channel = np.full(len(cand), "", dtype=object)
    free = ~held
    taken = 0
    for ch in s.channel_order:
        room = min(s.budgets[ch], cap - taken)
        if room <= 0:
            continue
        want = free & m[ch][cand.index.to_numpy()]
        take = want & (np.cumsum(want) <= room)
        channel[take] = ch
        free &= ~take
        taken += int(take.sum())
    return channel


def _assign_variants(sel: pd.DataFrame, s: InviteSettings) -> pd.Series:
    template = pd.Series("", index=sel.index, dtype=object)
    for ch in ("sms", "call"):
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


def _assign_staff(n: int, s: InviteSettings) -> np.ndarray:
    """Staff index per selected row (rank order): round-robin over remaining capacity."""
    caps = np.array([st.daily_capacity for st in s.staff], dtype=np.int64)
    who = np.repeat(np.arange(len(caps)), caps)
    turn = np.concatenate([np.arange(c) for c in caps]) if len(caps) else np.array([], int)
    order = np.lexsort((who, turn))
    return who[order][:n]


def _build(sel: pd.DataFrame, s: InviteSettings, night: date) -> pd.DataFrame:
    if sel.empty:
        numeric = {"length": "int64", "parts": "int64", "priority": "float64"}
        return pd.DataFrame({c: pd.Series(dtype=numeric.get(c, "string"))
                             for c in INVITATION_COLUMNS})
    sel = sel.copy()
    sel["template_id"] = _assign_variants(sel, s)
    staff_idx = _assign_staff(len(sel), s)
    sel["staff_id"] = [s.staff[i].id for i in staff_idx]
    sel["staff"] = [s.staff[i].name for i in staff_idx]
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
    for col in ("template_code", "variant", "state", "message", "params", "talking_points"):
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


def _summary(df: pd.DataFrame, reason: pd.Series, inv: pd.DataFrame, holdouts: pd.DataFrame,
             s: InviteSettings, night: date, now: datetime) -> dict:
    skipped = reason.value_counts()
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
        "by_channel": {ch: int((inv["channel"] == ch).sum()) for ch in ("sms", "call")},
        "holdout": len(holdouts),
        "holdout_percent": s.holdout_percent,
        "skipped": {r: int(skipped.get(r, 0)) for r in SKIP_REASONS},
        "templates": templates,
        "staff": {st.name: int((inv["staff_id"] == st.id).sum()) for st in s.staff},
        "sms_parts": int(inv.loc[inv["channel"] == "sms", "parts"].sum()),
    }
