"""Priority: one number that ranks whom to invite first (higher = sooner).

    priority = 100 · (w_v·V + w_f·F + w_r·R + w_s·S) / (w_v + w_f + w_r + w_s)

V = order value: percentile of avg_amount (客单价) among customers
F = repurchase:  percentile of orders (one-order customers are 0: nobody orders less)
R = recency:     percentile of recency (most recent = 1)
S = reachable:   1 when the customer has a valid mobile for SMS, else 0

Each percentile is the share of the customers *with a different value* that are worse: 0 for
the worst value, 1 for the best, so ties share a value (one-order customers all get F = 0) and
the result does not depend on row order. Weights live in ``[segment.priority]`` (docs/segment.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PriorityWeights:
    order_value: float = 0.35
    repurchase: float = 0.30
    recency: float = 0.25
    reachable: float = 0.10

    @property
    def total(self) -> float:
        return self.order_value + self.repurchase + self.recency + self.reachable


def priority_scores(value_pct: np.ndarray, repurchase_pct: np.ndarray, recency_pct: np.ndarray,
                    reachable: np.ndarray, weights: PriorityWeights | None = None) -> np.ndarray:
    """0–100, rounded to 4 decimals so equal inputs give exactly equal priorities."""
    w = weights or PriorityWeights()
    if w.total <= 0:
        raise ValueError("priority weights must not all be zero")
    raw = (w.order_value * value_pct + w.repurchase * repurchase_pct
           + w.recency * recency_pct + w.reachable * reachable.astype(np.float64))
    return np.round(100.0 * raw / w.total, 4)
