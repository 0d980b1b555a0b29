"""One definition per figure: invited, converted, conversion rate, holdout, lift and its interval.

``track``, ``report``, ``run`` and every ``--json`` take these figures from ``measure`` and
nowhere else, so the same workspace state shows the same numbers everywhere. The
definitions (docs/report.md "Definitions") for an as-of date A:

- **attempted invitation**: a ledger invitation whose status is in ``lifecycle.ATTEMPTED``
  (the provider took the SMS, the call was made, the staff add was seen or expired), whose
  night is on or before A and whose attempt time (sent_at, else outcome_at, else planned_at)
  is on or before A. A planned call, a failed or unconfirmed SMS, a night after A: none is an
  invitation.
- **invited**: the number of attempted invitations.
- **converted**: attempted invitations whose customer's first WeCom add (the ``conversions``
  table, added on or before A) falls within ``window_days`` after the attempt time.
- **conversion rate**: converted / invited.
- **holdout**: holdout rows (night on or before A) of a night·campaign·segment stratum that
  has at least one attempted invitation; **holdout converted**: those whose customer's first
  add falls within ``window_days`` after the stratum's night started sending (its earliest
  attempt), else the night's midnight.
- **lift**: conversion rate − holdout rate, with Newcombe's hybrid score interval (95 %).

Windows still open at A are counted as they stand, in both arms alike (a holdout peer of a
night has as many days to convert as the invitations of that night). Adds that name a
batch but no customer (``customer_channel`` with no match) are shown as ``batch_adds`` and
are in no rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pandas as pd

from privmigrate.invite.lifecycle import ATTEMPTED
from privmigrate.track import lift as lift_stats
from privmigrate.track.attribution import (
    CONVERSION_COLUMNS,
    HOLDOUT_COLUMNS,
    INVITATION_COLUMNS,
    invitation_times,
    isin,
    local_times,
    with_columns,
)


@dataclass(frozen=True)
class Figures:
    """The headline figures of one workspace state as of one date."""

    as_of: date
    window_days: float
    invited: int
    converted: int
    conversion_rate: float | None
    holdout: int
    holdout_converted: int
    holdout_rate: float | None
    lift: float | None
    lift_low: float | None
    lift_high: float | None
    batch_adds: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out


@dataclass(frozen=True)
class Measured:
    """The figures, the lift table per dimension, and the invitation units behind them."""

    figures: Figures
    lift: pd.DataFrame  # track.lift.LIFT_COLUMNS, one block per dimension
    invitations: pd.DataFrame  # attempted invitations with t0 and converted


def day_end(as_of: date) -> pd.Timestamp:
    """The first instant after the as-of date: events strictly before it are on or before A."""
    return pd.Timestamp(as_of) + pd.Timedelta(days=1)


def attempted(invitations: pd.DataFrame | None, as_of: date) -> pd.DataFrame:
    """The invitations that count as invitations as of ``as_of`` (see the module doc)."""
    inv = with_columns(invitations, INVITATION_COLUMNS)
    inv = inv[isin(inv["status"].astype("string"), sorted(ATTEMPTED))]
    night = local_times(inv["night"])
    inv = inv[(night < day_end(as_of)) & (invitation_times(inv) < day_end(as_of))]
    return inv.reset_index(drop=True)


def holdouts_until(holdouts: pd.DataFrame | None, as_of: date) -> pd.DataFrame:
    hold = with_columns(holdouts, HOLDOUT_COLUMNS)
    return hold[local_times(hold["night"]) < day_end(as_of)].reset_index(drop=True)


def conversions_until(conversions: pd.DataFrame | None, as_of: date) -> pd.DataFrame:
    """Conversions whose add happened on or before ``as_of`` (later ones are never counted)."""
    conv = with_columns(conversions, CONVERSION_COLUMNS)
    return conv[local_times(conv["added_at"]) < day_end(as_of)].reset_index(drop=True)


def measure(
    invitations: pd.DataFrame | None,
    holdouts: pd.DataFrame | None,
    conversions: pd.DataFrame | None,
    *,
    as_of: date,
    window_days: float = 7.0,
    customers: pd.DataFrame | None = None,
    dimensions: tuple[str, ...] = ("overall",),
    confidence: float = 0.95,
) -> Measured:
    """Every figure of the module doc, and the lift table for ``dimensions``.

    ``customers`` (customer_id, segment) supplies the segment of invitations that carry none.
    """
    if "overall" not in dimensions:
        dimensions = ("overall", *dimensions)
    inv = attempted(invitations, as_of)
    hold = holdouts_until(holdouts, as_of)
    conv = conversions_until(conversions, as_of)
    units, peers = lift_stats.assignments(inv, hold, conv, customers=customers,
                                          window_days=window_days)
    table = lift_stats.lift_groups(units, peers, dimensions, confidence)
    overall = table[table["dimension"] == "overall"]
    batch_adds = int((conv["customer_id"].isna()
                      & conv["attributed"].fillna(False).astype(bool)).sum())
    figures = _figures(overall, as_of, window_days, batch_adds)
    return Measured(figures, table.reset_index(drop=True), units)


def _figures(overall: pd.DataFrame, as_of: date, window_days: float,
             batch_adds: int) -> Figures:
    if overall.empty:
        return Figures(as_of, window_days, 0, 0, None, 0, 0, None, None, None, None,
                       batch_adds)
    row = overall.iloc[0]
    return Figures(
        as_of=as_of, window_days=window_days,
        invited=int(row["invited_n"]), converted=int(row["invited_converted"]),
        conversion_rate=_num(row["invited_rate"]),
        holdout=int(row["holdout_n"]), holdout_converted=int(row["holdout_converted"]),
        holdout_rate=_num(row["holdout_rate"]),
        lift=_num(row["lift_abs"]), lift_low=_num(row["lift_ci_low"]),
        lift_high=_num(row["lift_ci_high"]), batch_adds=batch_adds,
    )


def _num(value: object) -> float | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)
