"""Attribution: which WeCom adds are conversions, whose, and which invitation earned them.

Pure pandas: contacts, customers, invitations and holdouts in; one row per converted person
out. The rules (docs/track.md "Attribution"):

1. **Who** (per person, across all of that WeCom user's adds): a 联系我 state that belongs to
   exactly one customer's call invitations (``state``) beats a staff-typed remark mobile equal to
   a customer's phone (``remark_mobile``). With neither, a state that is a batch/template
   ``customer_channel`` makes a per-batch conversion with no customer (``customer_channel``).
   Anything else is not a conversion (it stays in the raw contact table).
2. **When**: the person's *first* add is the conversion. Adds to a second staff member and
   re-adds after deletion are counted in ``adds`` but never re-attributed or double counted.
   A customer reached through two WeCom accounts converts once (the earlier add).
3. **Which invitation**: among the customer's *attempted* invitations (``lifecycle.ATTEMPTED``:
   a planned call or an SMS never taken by the provider earned nothing), one sent
   at most ``window_days`` before the add; preferring the one whose state the add carries,
   then the most recent (last touch). An add after the window is ``late``: still a conversion
   (the buyer is in the private domain, so invite and audience drop them) but not attributed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privmigrate.invite.lifecycle import ATTEMPTED

CONTACT_COLUMNS = ["external_userid", "staff", "added_at", "state", "remark_phones", "source",
                   "source_ref"]
INVITATION_COLUMNS = ["invitation_id", "night", "batch_id", "campaign", "customer_id", "channel",
                      "template_id", "variant", "offer", "staff", "state", "planned_at", "status",
                      "sent_at", "outcome_at"]
HOLDOUT_COLUMNS = ["night", "campaign", "customer_id", "segment"]
CONVERSION_COLUMNS = ["customer_id", "external_userid", "staff", "added_at", "state", "source",
                      "match_method", "invitation_id", "attributed", "reason",
                      "nearest_invitation_id", "batch_id", "campaign", "template_id", "variant",
                      "adds"]

STATE, REMARK_MOBILE, CUSTOMER_CHANNEL = "state", "remark_mobile", "customer_channel"
ATTRIBUTED, LATE, BEFORE, HOLDOUT, ORGANIC = (
    "attributed", "late", "before_invitation", "holdout", "organic")
LOCAL_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class AttributionRules:
    """The knobs of attribution ([track] in privmigrate.toml)."""

    window_days: float = 7.0

    @property
    def window(self) -> pd.Timedelta:
        return pd.Timedelta(days=self.window_days)


@dataclass(frozen=True)
class Attribution:
    """The conversions found, and counts of what was set aside."""

    conversions: pd.DataFrame
    persons: int  # distinct WeCom users seen
    unmatched: int  # persons that are neither a customer nor from a known channel
    duplicate_persons: int  # second WeCom account of an already converted customer
    repeat_adds: int  # adds beyond each person's first (other staff, re-adds)


def local_times(values: pd.Series) -> pd.Series:
    """Timestamps as naive Asia/Shanghai wall time (the house convention).

    Accepts datetimes, ISO strings with or without an offset (mixed is fine) and dates.
    Unparseable values become NaT. Distinct strings are parsed once (ledger columns repeat).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
        return out.astype("datetime64[us]")
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    parsed = _parse_local(pd.Series(uniques, dtype="string")).to_numpy()
    if not len(parsed):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    nat = np.datetime64("NaT", "us")
    out = np.where(codes >= 0, parsed.astype("datetime64[us]")[np.maximum(codes, 0)], nat)
    return pd.Series(out, index=values.index, dtype="datetime64[us]")


def _parse_local(text: pd.Series) -> pd.Series:
    has_offset = text.str.contains(r"(?:[+-]\d{2}:?\d{2}|Z)$", regex=True).fillna(False)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if (~has_offset).any():
        naive = pd.to_datetime(text[~has_offset], errors="coerce", format="mixed")
        out.loc[~has_offset] = naive.astype("datetime64[us]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], errors="coerce", utc=True, format="mixed")
        out.loc[has_offset] = aware.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype(
            "datetime64[us]")
    return out


def with_columns(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """``frame`` with every column in ``columns`` (missing ones all-NA); tolerates None."""
    out = pd.DataFrame(columns=columns) if frame is None else frame.copy()
    for col in columns:
        if col not in out.columns:
            out[col] = pd.Series(pd.NA, index=out.index, dtype="object")
    return out


def invitation_times(invitations: pd.DataFrame) -> pd.Series:
    """When each invitation reached the buyer: sent_at (SMS), else outcome_at (the call, the
    staff add), else planned_at, else the night."""
    inv = with_columns(invitations, INVITATION_COLUMNS)
    t0 = local_times(inv["sent_at"])
    t0 = t0.fillna(local_times(inv["outcome_at"]))
    t0 = t0.fillna(local_times(inv["planned_at"]))
    return t0.fillna(local_times(inv["night"]))


def isin(values: pd.Series, among: object) -> pd.Series:
    """``values.isin(among)`` through Python objects: Arrow-string isin is several times slower."""
    pool = pd.unique(np.asarray(pd.Series(among).dropna(), dtype=object))
    return pd.Series(pd.Index(pool).get_indexer(values.astype(object)) >= 0, index=values.index)


def person_level_states(invitations: pd.DataFrame) -> pd.DataFrame:
    """States that name one customer: call invitations whose state no other customer shares."""
    inv = with_columns(invitations, INVITATION_COLUMNS)
    inv = inv.assign(channel=inv["channel"].astype("string").fillna(""))
    calls = inv[(inv["channel"] == "call") & inv["state"].notna() & inv["customer_id"].notna()]
    other = inv[(inv["channel"] != "call") & inv["state"].notna()]["state"].unique()
    owners = calls.groupby("state")["customer_id"].nunique()
    single = owners[(owners == 1) & ~isin(owners.index.to_series(), other).to_numpy()].index
    picked = calls[isin(calls["state"], single)].drop_duplicates("state")
    return picked[["state", "customer_id"]].astype({"state": "string", "customer_id": "string"})


def attribute(
    contacts: pd.DataFrame,
    customers: pd.DataFrame,
    invitations: pd.DataFrame,
    holdouts: pd.DataFrame,
    rules: AttributionRules | None = None,
) -> Attribution:
    """Turn WeCom adds into conversions (one row per converted person); see module doc."""
    rules = rules or AttributionRules()
    c = _prepare_contacts(contacts)
    every = _prepare_invitations(invitations)
    inv = every[isin(every["status"], sorted(ATTEMPTED))]
    persons = _first_adds(c)
    # a call's state names its customer whether or not the call was confirmed back
    people = _resolve_customers(c, customers, every)
    identified = persons.merge(people, on="external_userid", how="inner")
    identified = _pick_invitation(identified, inv, rules)
    identified = _reason_without_invitation(identified, holdouts)
    cohort = persons[~isin(persons["external_userid"], identified["external_userid"])]
    cohort = _cohort_conversions(cohort, inv, rules)
    conv = pd.concat([identified, cohort], ignore_index=True) if len(cohort) else identified
    conv, duplicates = _one_per_customer(conv)
    repeat = int(len(c) - len(persons))
    unmatched = int(len(persons) - len(conv) - duplicates)
    return Attribution(_finish(conv), len(persons), unmatched, duplicates, repeat)


def _prepare_contacts(contacts: pd.DataFrame) -> pd.DataFrame:
    c = with_columns(contacts, CONTACT_COLUMNS)[CONTACT_COLUMNS].copy()
    c = c[c["external_userid"].notna()]
    c["external_userid"] = c["external_userid"].astype("string")
    c["staff"] = c["staff"].astype("string").fillna("")
    c["state"] = c["state"].astype("string").str.strip().replace("", pd.NA)
    c["added_at"] = local_times(c["added_at"])
    c = c[c["added_at"].notna()]
    return c.sort_values(["added_at", "staff", "external_userid"], kind="stable").reset_index(
        drop=True)


def _prepare_invitations(invitations: pd.DataFrame) -> pd.DataFrame:
    inv = with_columns(invitations, INVITATION_COLUMNS).copy()
    inv["t0"] = invitation_times(inv)
    inv["state"] = inv["state"].astype("string")
    inv["customer_id"] = inv["customer_id"].astype("string")
    return inv[inv["t0"].notna()]


def _first_adds(c: pd.DataFrame) -> pd.DataFrame:
    """One row per person: the earliest add, with the first state any add carried."""
    first = c.drop_duplicates("external_userid", keep="first").copy()
    states = c[c["state"].notna()].drop_duplicates("external_userid")
    first = first.drop(columns="state").merge(
        states[["external_userid", "state"]], on="external_userid", how="left")
    adds = c.groupby("external_userid").size().rename("adds").reset_index()
    return first.merge(adds, on="external_userid", how="left")


def _resolve_customers(c: pd.DataFrame, customers: pd.DataFrame,
                       inv: pd.DataFrame) -> pd.DataFrame:
    """Candidate customers per person, best method only: (external_userid, customer_id, method)."""
    by_state = c[["external_userid", "state"]].merge(person_level_states(inv), on="state")
    by_state["match_method"], by_state["prio"] = STATE, 0
    phones = c[["external_userid", "remark_phones"]].dropna()
    phones = phones.assign(phone=phones["remark_phones"].astype("string").str.split(";"))
    phones = phones.explode("phone")
    cust = with_columns(customers, ["customer_id", "phone"])[["customer_id", "phone"]].dropna()
    cust = cust.astype({"customer_id": "string", "phone": "string"})
    by_phone = phones[["external_userid", "phone"]].astype({"phone": "string"}).merge(
        cust, on="phone")
    by_phone["match_method"], by_phone["prio"] = REMARK_MOBILE, 1
    cols = ["external_userid", "customer_id", "match_method", "prio"]
    cand = pd.concat([by_state[cols], by_phone[cols]], ignore_index=True)
    if cand.empty:
        return pd.DataFrame({k: pd.Series(dtype="string") for k in cols[:3]})
    best = cand.groupby("external_userid")["prio"].transform("min")
    cand = cand[cand["prio"] == best].drop_duplicates(["external_userid", "customer_id"])
    return cand[cols[:3]]


def _pick_invitation(people: pd.DataFrame, inv: pd.DataFrame,
                     rules: AttributionRules) -> pd.DataFrame:
    """Per person: the credited invitation (or the nearest one) and the chosen customer."""
    keep = ["customer_id", "invitation_id", "t0", "state", "batch_id", "campaign",
            "template_id", "variant"]
    pairs = people.merge(inv[keep].rename(columns={"state": "inv_state"}),
                         on="customer_id", how="left")
    delta = pairs["added_at"] - pairs["t0"]
    pairs["after"] = (delta >= pd.Timedelta(0)).fillna(False)
    pairs["in_window"] = pairs["after"] & (delta <= rules.window).fillna(False)
    pairs["state_hit"] = (pairs["inv_state"] == pairs["state"]).fillna(False).astype(bool)
    # Last touch: among invitations before the add, the latest; before-add ones rank by
    # closeness, so a "late" add names the invitation it came closest to.
    pairs["closeness"] = np.where(pairs["after"], -delta.abs().dt.total_seconds().fillna(0),
                                  -np.inf)
    pairs["has_inv"] = pairs["invitation_id"].notna()
    pairs = pairs.sort_values(
        ["external_userid", "in_window", "state_hit", "after", "has_inv", "closeness",
         "customer_id"],
        ascending=[True, False, False, False, False, False, True], kind="stable")
    best = pairs.drop_duplicates("external_userid", keep="first").copy()
    best["attributed"] = best["in_window"]
    best["nearest_invitation_id"] = best["invitation_id"].where(~best["in_window"])
    best["invitation_id"] = best["invitation_id"].where(best["in_window"])
    best["reason"] = np.select(
        [best["in_window"], best["after"], best["has_inv"]], [ATTRIBUTED, LATE, BEFORE], "")
    for col in ("batch_id", "campaign", "template_id", "variant"):
        best[col] = best[col].where(best["in_window"])
    return best.drop(columns=["inv_state", "t0", "after", "in_window", "state_hit",
                              "closeness", "has_inv"])


def _reason_without_invitation(people: pd.DataFrame, holdouts: pd.DataFrame) -> pd.DataFrame:
    """Adds of customers never invited: ``holdout`` when held out before the add, else organic."""
    hold = with_columns(holdouts, HOLDOUT_COLUMNS)
    hold = hold.assign(h0=local_times(hold["night"]),
                       customer_id=hold["customer_id"].astype("string"))
    none = people["reason"] == ""
    if not none.any():
        return people
    held = people.loc[none, ["external_userid", "customer_id", "added_at"]].merge(
        hold[["customer_id", "h0"]], on="customer_id")
    held = held[held["h0"] <= held["added_at"]]["external_userid"].unique()
    people = people.copy()
    people.loc[none, "reason"] = np.where(isin(people.loc[none, "external_userid"], held),
                                          HOLDOUT, ORGANIC)
    return people


def _cohort_conversions(persons: pd.DataFrame, inv: pd.DataFrame,
                        rules: AttributionRules) -> pd.DataFrame:
    """Adds nobody could be matched to, through a batch/template customer_channel.

    A template's state is shared by every SMS it sent, so sends are first collapsed to one
    row per (state, send time) and each add finds the latest send before it (merge_asof):
    linear, where a plain join on state would be contacts × invitations.
    """
    personal = person_level_states(inv)["state"]
    shared = inv[inv["state"].notna() & ~isin(inv["state"], personal)]
    cand = persons[isin(persons["state"], shared["state"])]
    if cand.empty:
        return cand.iloc[0:0]
    sends = (shared.sort_values(["t0", "batch_id"], kind="stable")
             .groupby(["state", "t0"], as_index=False, sort=False)
             [["batch_id", "campaign", "template_id", "variant"]].first())
    sends["state"] = sends["state"].astype(cand["state"].dtype)
    sends["t0"] = sends["t0"].astype(cand["added_at"].dtype)
    best = pd.merge_asof(cand.sort_values("added_at"), sends.sort_values("t0"),
                         left_on="added_at", right_on="t0", by="state", direction="backward")
    after = best["t0"].notna()
    in_window = after & (best["added_at"] - best["t0"] <= rules.window)
    best["customer_id"] = pd.NA
    best["match_method"] = CUSTOMER_CHANNEL
    best["attributed"] = in_window.to_numpy()
    best["reason"] = np.select([in_window, after], [ATTRIBUTED, LATE], BEFORE)
    # a batch, not a person: no single invitation earned it (batch/template columns say which)
    best["invitation_id"] = pd.NA
    best["nearest_invitation_id"] = pd.NA
    return best.drop(columns=["t0"])


def _one_per_customer(conv: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A customer converts once: the earliest add among their WeCom accounts."""
    conv = conv.sort_values(["added_at", "external_userid"], kind="stable")
    known = conv["customer_id"].notna()
    dup = known & conv["customer_id"].duplicated(keep="first")
    return conv[~dup], int(dup.sum())


def _finish(conv: pd.DataFrame) -> pd.DataFrame:
    out = with_columns(conv, CONVERSION_COLUMNS)[CONVERSION_COLUMNS].reset_index(drop=True)
    out["attributed"] = out["attributed"].astype(bool)
    out["adds"] = out["adds"].fillna(1).astype("int64")
    for col in ("customer_id", "external_userid", "staff", "state", "source", "match_method",
                "reason", "batch_id", "campaign", "template_id", "variant"):
        out[col] = out[col].astype("string")
    return out.sort_values(["added_at", "external_userid"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class MergePlan:
    """How fresh conversions change the ledger."""

    inserts: pd.DataFrame  # new persons
    upgrades: pd.DataFrame  # per-batch conversions now matched to a customer
    adds_updates: pd.DataFrame  # external_userid, adds for persons already recorded
    already_converted: int  # fresh persons whose customer converted earlier (other account)


def merge_with_ledger(fresh: pd.DataFrame, existing: pd.DataFrame) -> MergePlan:
    """First conversion wins; only a customer-less per-batch row may gain its customer later."""
    existing = with_columns(existing, CONVERSION_COLUMNS)
    known_people = set(existing["external_userid"].dropna().astype(str))
    known_customers = set(existing["customer_id"].dropna().astype(str))
    seen = fresh["external_userid"].astype(str).isin(known_people)
    new = fresh[~seen]
    taken = new["customer_id"].notna() & new["customer_id"].astype(str).isin(known_customers)
    inserts = new[~taken]
    old = fresh[seen]
    blank = set(existing.loc[existing["customer_id"].isna(), "external_userid"].astype(str))
    can_upgrade = (old["customer_id"].notna() & old["external_userid"].astype(str).isin(blank)
                   & ~old["customer_id"].astype(str).isin(known_customers))
    upgrades = old[can_upgrade].drop_duplicates("customer_id")
    return MergePlan(inserts.reset_index(drop=True), upgrades.reset_index(drop=True),
                     old[["external_userid", "adds"]].reset_index(drop=True), int(taken.sum()))
