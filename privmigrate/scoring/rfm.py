"""RFM: 1–5 scores by quintiles and the classic 8-segment model (docs/segment.md).

Scores: ``score = 1 + floor(5 · worse / n)`` where ``worse`` is the number of customers with a
strictly worse value. Equal values therefore always get equal scores, the result does not
depend on row order, and when most buyers order once they all get F = 1 (nobody is worse than
them). With distinct values it is exactly quintiles.

Segments: each of R, F, M is "high" or "low" against the mean (or median) over the customers
being segmented. R is high when recency_days is strictly *below* the split (recent), F when
orders is strictly above, M when total spend is strictly above; a value equal to the split is
low. 重要价值客户 = recent, frequent, high spend — the widely copied tutorial code that maps
"days since" ≥ mean to R=1 inverts R; this does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("mean", "median")

# (R high, F high, M high) → label
SEGMENTS: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "重要价值客户",
    (True, False, True): "重要发展客户",
    (False, True, True): "重要保持客户",
    (False, False, True): "重要挽留客户",
    (True, True, False): "一般价值客户",
    (True, False, False): "一般发展客户",
    (False, True, False): "一般保持客户",
    (False, False, False): "一般挽留客户",
}
SEGMENT_LABELS: tuple[str, ...] = tuple(SEGMENTS.values())


def worse_counts(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """For each value, how many values are strictly worse (ties count as neither)."""
    return ranks(values, higher_is_better)[0]


def ranks(values: np.ndarray, higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(strictly worse, equal including itself) counts for each value."""
    if len(values) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    inverse, counts = _distinct(values)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])  # strictly smaller
    worse = below if higher_is_better else len(values) - below - counts
    return worse[inverse].astype(np.int64), counts[inverse].astype(np.int64)


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position of each value among the sorted distinct values' slots, count per slot).

    Small integer ranges (orders, days) are counted directly instead of sorted; empty slots
    have count 0, which leaves the strictly-smaller sums unchanged.
    """
    if np.issubdtype(values.dtype, np.integer):
        lo, hi = int(values.min()), int(values.max())
        if hi - lo <= 4 * len(values) + 1024:
            slot = (values - lo).astype(np.int64)
            return slot, np.bincount(slot, minlength=hi - lo + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return inverse, counts


def quintile_scores(worse: np.ndarray) -> np.ndarray:
    """1–5 (5 best) from strictly-worse counts: ``1 + floor(5 · worse / n)``."""
    n = len(worse)
    if n == 0:
        return np.empty(0, dtype=np.int8)
    return (1 + (5 * worse) // n).astype(np.int8)


def percentile(worse: np.ndarray, equal: np.ndarray) -> np.ndarray:
    """Share of the customers with a different value that are worse: 0 for the worst value,
    1 for the best, 0 when everybody is equal."""
    others = len(worse) - equal
    return np.where(others > 0, worse / np.maximum(others, 1), 0.0)


def split_point(values: np.ndarray, split: str) -> float:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if len(values) == 0:
        return 0.0
    return float(np.mean(values)) if split == "mean" else float(np.median(values))


def rfm_segments(recency_days: np.ndarray, orders: np.ndarray, total_fen: np.ndarray,
                 split: str = "mean") -> pd.Categorical:
    """The 8-segment label of each customer."""
    r_high = recency_days < split_point(recency_days, split)
    f_high = orders > split_point(orders, split)
    m_high = total_fen > split_point(total_fen, split)
    code = np.zeros(len(orders), dtype=np.int8)
    for i, (key, _) in enumerate(SEGMENTS.items()):
        code[(r_high == key[0]) & (f_high == key[1]) & (m_high == key[2])] = i
    return pd.Categorical.from_codes(code, categories=list(SEGMENT_LABELS))
