"""The per-segment summary `segment` prints (and report reuses)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ("segment", "customers", "share", "revenue_share", "mean_orders", "mean_spend",
                   "median_recency", "reachable_by_sms")


def segment_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """One row per segment present, in segment order (user rules first, then the 8 RFM labels).

    share and revenue_share are fractions (0–1) of customers and of total spend; mean_spend is
    yuan per customer; median_recency is days; reachable_by_sms counts valid mobiles.
    """
    if customers.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object if c == "segment" else "float64")
                             for c in SUMMARY_COLUMNS})
    fen = customers["total_fen"] if "total_fen" in customers else customers["total_amount"] * 100
    frame = pd.DataFrame({
        "segment": customers["segment"],
        "fen": fen.to_numpy(dtype=np.float64),
        "orders": customers["orders"].to_numpy(),
        "recency": customers["recency_days"].to_numpy(),
        "reachable": customers["reachable_by_sms"].to_numpy(dtype=bool),
    })
    grouped = frame.groupby("segment", observed=True, sort=True)
    out = pd.DataFrame({
        "customers": grouped.size(),
        "fen": grouped["fen"].sum(),
        "mean_orders": grouped["orders"].mean(),
        "mean_fen": grouped["fen"].mean(),
        "median_recency": grouped["recency"].median(),
        "reachable_by_sms": grouped["reachable"].sum(),
    })
    total_fen = frame["fen"].sum()
    out["share"] = out["customers"] / len(frame)
    out["revenue_share"] = out["fen"] / total_fen if total_fen else 0.0
    out["mean_spend"] = out["mean_fen"] / 100.0
    out = out.reset_index()
    out["segment"] = out["segment"].astype(str)
    out = out[list(SUMMARY_COLUMNS)]
    return out.round({"share": 4, "revenue_share": 4, "mean_orders": 2, "mean_spend": 2,
                      "median_recency": 1}).astype({"customers": "int64",
                                                    "reachable_by_sms": "int64"})
