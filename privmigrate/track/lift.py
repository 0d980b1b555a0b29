"""Lift: did inviting buyers make more of them add us on WeCom than holding them out?

Pure pandas; which rows count (attempted invitations, the as-of date) is decided by
``track.metrics``, the one caller. The unit is an *assignment*: each invitation row (invited
arm) and each holdout row (control arm). An assignment converted when its customer's first
WeCom add falls within ``window_days`` after it (invitation: sent_at, else outcome_at, else
planned_at, else the night; holdout: the earliest attempt of the same night and campaign,
else the night). The outcome is the same in both
arms whatever matched the add (state or remark mobile), so the comparison is fair; which
invitation got the credit is attribution's business, not lift's.

Holdout rows carry no template, variant or staff, so each invited group is compared with the
holdout rows of the same strata — (night, campaign, segment) triples the group was drawn from.

Intervals: Wilson score interval per arm; the difference uses Newcombe's hybrid score method
(Newcombe 1998, method 10), which behaves at 0% and 100% and small n, unlike the Wald interval.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from privmigrate.track.attribution import (
    CONVERSION_COLUMNS,
    HOLDOUT_COLUMNS,
    INVITATION_COLUMNS,
    invitation_times,
    local_times,
    with_columns,
)

DIMENSIONS = {
    "overall": None,
    "segment": "segment",
    "template": "template_id",
    "variant": "variant",
    "staff": "staff",
    "campaign": "campaign",
    "batch": "batch_id",
    "channel": "channel",
    "night": "night",
}
NONE_LABEL = "(none)"
LIFT_COLUMNS = ["dimension", "group", "invited_n", "invited_converted", "invited_rate",
                "holdout_n", "holdout_converted", "holdout_rate", "lift_abs", "lift_ci_low",
                "lift_ci_high", "lift_rel", "significant", "holdout_basis"]
STRATUM = ["night", "campaign", "segment"]


def wilson_interval(converted: np.ndarray, n: np.ndarray,
                    confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for converted/n (vectorised); NaN where n == 0."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n = np.asarray(n, dtype=float)
    k = np.asarray(converted, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def newcombe_difference(k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray,
                        confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p1 − p2 with Newcombe's hybrid score interval: (difference, low, high)."""
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = np.asarray(k1) / n1, np.asarray(k2) / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def assignments(
    invitations: pd.DataFrame,
    holdouts: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    customers: pd.DataFrame | None = None,
    window_days: float = 7.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both arms' units with their ``t0`` and ``converted``: (invited, holdout peers).

    The caller (``track.metrics.measure``) has already kept only attempted invitations and
    the holdouts and conversions of the as-of date. ``customers`` supplies the segment of
    invitations that carry none.
    """
    window = pd.Timedelta(days=window_days)
    first_add = _first_add_by_customer(conversions)
    invited = _outcome(_invited_units(invitations, customers), first_add, window)
    held = _outcome(_holdout_units(holdouts, invitations), first_add, window)
    return invited, held


def lift_groups(invited: pd.DataFrame, held: pd.DataFrame,
                dimensions: tuple[str, ...] = ("overall",),
                confidence: float = 0.95) -> pd.DataFrame:
    """Invited vs holdout conversion per group of each of ``dimensions`` (keys of
    ``DIMENSIONS``), stacked in that order."""
    for by in dimensions:
        if by not in DIMENSIONS:
            raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}, got {by!r}")
    frames = [_with_rates(_groups(invited, held, by), confidence) for by in dimensions]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _with_rates(pd.DataFrame(columns=LIFT_COLUMNS), confidence)
    return pd.concat(frames, ignore_index=True)


def _groups(invited: pd.DataFrame, held: pd.DataFrame, by: str) -> pd.DataFrame:
    """Counts per group; each group's control = holdout rows of the group's strata."""
    col = DIMENSIONS[by]
    groups = pd.Series("all", index=invited.index) if col is None else _labels(invited[col])
    rows = []
    for group, units in invited.groupby(groups, sort=True):
        strata = units[STRATUM].drop_duplicates()
        control = held.merge(strata, on=STRATUM, how="inner")
        rows.append({"dimension": by, "group": group, "invited_n": len(units),
                     "invited_converted": int(units["converted"].sum()),
                     "holdout_n": len(control),
                     "holdout_converted": int(control["converted"].sum()),
                     "holdout_basis": "same night·campaign·segment strata"})
    return pd.DataFrame(rows, columns=LIFT_COLUMNS)


def _labels(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna(NONE_LABEL).replace("", NONE_LABEL)


def _invited_units(invitations: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    inv = with_columns(invitations, [*INVITATION_COLUMNS, "segment"])
    inv = inv.assign(t0=invitation_times(inv), customer_id=inv["customer_id"].astype("string"))
    if customers is not None and inv["segment"].isna().any():
        # same key dtype on both sides: mixed string dtypes make the join several times slower
        seg = customers[["customer_id", "segment"]].astype({"customer_id": "string"})
        inv = inv.merge(seg.rename(columns={"segment": "_seg"}), on="customer_id", how="left")
        inv["segment"] = inv["segment"].fillna(inv["_seg"])
        inv = inv.drop(columns="_seg")
    inv["night"] = inv["night"].astype("string")
    for col in ("campaign", "segment"):
        inv[col] = _labels(inv[col])
    return inv[inv["customer_id"].notna()]


def _holdout_units(holdouts: pd.DataFrame, invitations: pd.DataFrame) -> pd.DataFrame:
    hold = with_columns(holdouts, HOLDOUT_COLUMNS).copy()
    inv = with_columns(invitations, INVITATION_COLUMNS)
    starts = inv.assign(t0=invitation_times(inv), night=inv["night"].astype("string"),
                        campaign=_labels(inv["campaign"]))
    starts = starts.groupby(["night", "campaign"], as_index=False)["t0"].min()
    hold["night"] = hold["night"].astype("string")
    hold["campaign"] = _labels(hold["campaign"])
    hold["segment"] = _labels(hold["segment"])
    hold["customer_id"] = hold["customer_id"].astype("string")
    hold = hold.merge(starts, on=["night", "campaign"], how="left")
    hold["t0"] = hold["t0"].fillna(local_times(hold["night"]))
    return hold


def _first_add_by_customer(conversions: pd.DataFrame) -> pd.DataFrame:
    conv = with_columns(conversions, CONVERSION_COLUMNS)
    conv = conv[conv["customer_id"].notna()]
    conv = conv.assign(customer_id=conv["customer_id"].astype("string"),
                       added_at=local_times(conv["added_at"]))
    return conv.groupby("customer_id", as_index=False)["added_at"].min()


def _outcome(units: pd.DataFrame, first_add: pd.DataFrame,
             window: pd.Timedelta) -> pd.DataFrame:
    units = units[units["t0"].notna()].merge(first_add, on="customer_id", how="left")
    delta = units["added_at"] - units["t0"]
    converted = (delta >= pd.Timedelta(0)) & (delta <= window)
    return units.assign(converted=converted.fillna(False).astype(bool))


def _with_rates(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    t = table.copy()
    for col in ("invited_n", "invited_converted", "holdout_n", "holdout_converted"):
        t[col] = pd.to_numeric(t[col]).fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        t["invited_rate"] = t["invited_converted"] / t["invited_n"].replace(0, np.nan)
        t["holdout_rate"] = t["holdout_converted"] / t["holdout_n"].replace(0, np.nan)
        d, low, high = newcombe_difference(t["invited_converted"].to_numpy(),
                                           t["invited_n"].to_numpy(),
                                           t["holdout_converted"].to_numpy(),
                                           t["holdout_n"].to_numpy(), confidence)
        t["lift_abs"], t["lift_ci_low"], t["lift_ci_high"] = d, low, high
        t["lift_rel"] = t["invited_rate"] / t["holdout_rate"].replace(0, np.nan) - 1
    t["significant"] = (t["lift_ci_low"] > 0) | (t["lift_ci_high"] < 0)
    return t[LIFT_COLUMNS].reset_index(drop=True)
