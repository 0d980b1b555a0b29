"""RFM scores and the 8-segment model, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from privmigrate.scoring.rfm import (
    SEGMENT_LABELS,
    quintile_scores,
    rfm_segments,
    split_point,
    worse_counts,
)


def scores(values, higher_is_better=True):
    return quintile_scores(worse_counts(np.asarray(values), higher_is_better)).tolist()


def test_distinct_values_are_exact_quintiles():
    assert scores(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores(list(range(10)), higher_is_better=False) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_one_order_majority_gets_f1_and_ties_share_a_score():
    orders = [1] * 80 + [2] * 12 + [3] * 5 + [7] * 3
    s = scores(orders)
    assert set(s[:80]) == {1}
    assert set(s[80:92]) == {5}  # 80% order less than them
    assert s[92:] == [5] * 8


def test_scores_do_not_depend_on_row_order():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 6, 500)
    perm = rng.permutation(500)
    assert np.array_equal(np.asarray(scores(values))[perm], scores(values[perm]))


def test_float_and_large_integer_values_take_the_sort_path():
    assert scores([0.5, 0.5, 2.0, 3.0, 10.0]) == [1, 1, 3, 4, 5]
    big = [10**15, 1, 10**15, 5]
    assert scores(big) == [3, 1, 3, 2]


def test_recency_lower_is_better():
    assert scores([0, 30, 30, 400, 5], higher_is_better=False) == [5, 2, 2, 1, 4]


def test_empty_and_single():
    assert scores([]) == []
    assert scores([42]) == [1]


@pytest.mark.parametrize(
    ("recency", "orders", "fen", "label"),
    [
        (1, 5, 900, "重要价值客户"),
        (1, 1, 900, "重要发展客户"),
        (90, 5, 900, "重要保持客户"),
        (90, 1, 900, "重要挽留客户"),
        (1, 5, 100, "一般价值客户"),
        (1, 1, 100, "一般发展客户"),
        (90, 5, 100, "一般保持客户"),
        (90, 1, 100, "一般挽留客户"),
    ],
)
def test_eight_segments_recent_means_r_high(recency, orders, fen, label):
    # anchors keep every mean between the two test values: recency 34.5, orders 3, fen 500
    seg = rfm_segments(np.array([recency, 1, 91, 46]), np.array([orders, 3, 3, 3]),
                       np.array([fen, 500, 500, 500]), "mean")
    assert seg[0] == label
    assert len(SEGMENT_LABELS) == 8 and len(set(SEGMENT_LABELS)) == 8


def test_ties_at_the_mean_are_low():
    # mean recency 10, mean orders 2, mean fen 200: the middle customer sits on every mean
    seg = rfm_segments(np.array([0, 10, 20]), np.array([1, 2, 3]), np.array([100, 200, 300]))
    assert list(seg) == ["一般发展客户", "一般挽留客户", "重要保持客户"]


def test_median_split_differs_from_mean():
    orders = np.array([1, 1, 1, 1, 20])
    recency = np.array([5, 5, 5, 5, 5])
    fen = np.array([1, 2, 3, 4, 100])
    assert split_point(orders, "mean") == 4.8
    assert split_point(orders, "median") == 1.0
    by_mean = rfm_segments(recency, orders, fen, "mean")
    by_median = rfm_segments(recency, orders, fen, "median")
    # fen 4 is below the mean (22) but above the median (3)
    assert by_mean[3] == "一般挽留客户"
    assert by_median[3] == "重要挽留客户"
    with pytest.raises(ValueError):
        split_point(orders, "mode")
