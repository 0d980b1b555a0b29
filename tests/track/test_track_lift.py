"""Lift: counts per arm, holdout strata, the as-of cut, and the Newcombe interval."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from privmigrate.track.attribution import attribute
from privmigrate.track.lift import newcombe_difference, wilson_interval
from privmigrate.track.metrics import measure
from tests.track import track_world as w

LATER = date(2026, 12, 31)


def lift_table(inv, hold, conv, by, *, as_of=LATER, window_days=7.0, customers=None):
    """The lift rows of one dimension, as every command gets them (track.metrics)."""
    table = measure(inv, hold, conv, as_of=as_of, window_days=window_days,
                    customers=customers, dimensions=(by,)).lift
    return table[table["dimension"] == by].reset_index(drop=True)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2", "low", "high"), [
    # Newcombe (1998) Table II, method 10
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
])
def test_newcombe_matches_the_published_examples(k1, n1, k2, n2, low, high):
    _d, lo, hi = newcombe_difference(k1, n1, k2, n2)
    assert lo == pytest.approx(low, abs=5e-4) and hi == pytest.approx(high, abs=5e-4)


def test_wilson_handles_zero_and_empty():
    lo, hi = wilson_interval(np.array([0, 3]), np.array([10, 0]))
    assert lo[0] == pytest.approx(0, abs=1e-12) and hi[0] == pytest.approx(0.2775, abs=1e-4)
    assert math.isnan(lo[1]) and math.isnan(hi[1])


def _world(n_inv=200, k_inv=40, n_hold=100, k_hold=5):
    """Segment S1, one night: n_inv SMS invitations split over templates a/b, n_hold holdouts."""
    sent = "2026-11-10 20:00:00"
    inv = pd.DataFrame({
        "invitation_id": [f"I{i}" for i in range(n_inv)], "night": "2026-11-10",
        "batch_id": "B1", "campaign": "winback",
        "customer_id": [f"C{i}" for i in range(n_inv)], "channel": "sms",
        "template_id": ["sms_a" if i % 2 == 0 else "sms_b" for i in range(n_inv)],
        "variant": ["A" if i % 2 == 0 else "B" for i in range(n_inv)],
        "state": ["tplA" if i % 2 == 0 else "tplB" for i in range(n_inv)],
        "staff": None, "planned_at": sent, "sent_at": sent, "status": "accepted",
        "segment": "S1"})
    hold = pd.DataFrame({"night": "2026-11-10", "campaign": "winback",
                         "customer_id": [f"H{i}" for i in range(n_hold)], "segment": "S1"})
    conv_ids = [f"C{i}" for i in range(0, 2 * k_inv, 2)] + [f"H{i}" for i in range(k_hold)]
    conv = pd.DataFrame({"customer_id": conv_ids, "external_userid": [f"wx{c}" for c in conv_ids],
                         "added_at": "2026-11-12 10:00:00", "attributed": True, "state": None})
    return inv, hold, conv


def test_overall_and_per_template_counts():
    inv, hold, conv = _world()
    overall = lift_table(inv, hold, conv, "overall").iloc[0]
    assert (overall["invited_n"], overall["invited_converted"]) == (200, 40)
    assert (overall["holdout_n"], overall["holdout_converted"]) == (100, 5)
    assert overall["lift_abs"] == pytest.approx(0.20 - 0.05)
    assert overall["lift_rel"] == pytest.approx(0.20 / 0.05 - 1)
    assert overall["lift_ci_low"] > 0 and overall["significant"]
    by_template = lift_table(inv, hold, conv, "template").set_index("group")
    assert by_template.loc["sms_a", "invited_converted"] == 40  # all even ids converted
    assert by_template.loc["sms_b", "invited_converted"] == 0
    # holdouts have no template: each template is compared with the same holdout strata
    assert list(by_template["holdout_n"]) == [100, 100]
    assert by_template.loc["sms_b", "lift_abs"] == pytest.approx(-0.05)


def test_holdout_of_other_segments_is_not_the_control():
    inv, hold, conv = _world()
    other = pd.DataFrame({"night": "2026-11-10", "campaign": "winback",
                          "customer_id": ["X1", "X2"], "segment": "S2"})
    table = lift_table(inv, pd.concat([hold, other]), conv, "segment")
    assert list(table["group"]) == ["S1"] and table.iloc[0]["holdout_n"] == 100


def test_conversion_outside_the_window_does_not_count_in_either_arm():
    inv, hold, conv = _world()
    conv["added_at"] = "2026-11-25 10:00:00"
    row = lift_table(inv, hold, conv, "overall", window_days=7).iloc[0]
    assert row["invited_converted"] == 0 and row["holdout_converted"] == 0
    row = lift_table(inv, hold, conv, "overall", window_days=30).iloc[0]
    assert row["invited_converted"] == 40 and row["holdout_converted"] == 5


def test_nothing_after_the_as_of_date_counts():
    inv, hold, conv = _world()
    # adds on 11-12: not yet happened on 11-11, in neither arm
    row = lift_table(inv, hold, conv, "overall", as_of=date(2026, 11, 11)).iloc[0]
    assert (row["invited_n"], row["invited_converted"]) == (200, 0)
    assert (row["holdout_n"], row["holdout_converted"]) == (100, 0)
    # the night itself is after 11-09: no invitation, no holdout peer
    assert lift_table(inv, hold, conv, "overall", as_of=date(2026, 11, 9)).empty


def test_only_attempted_invitations_count():
    inv, hold, conv = _world()
    planned = inv.assign(invitation_id=inv["invitation_id"] + "p", night="2026-11-11",
                         status="planned", sent_at=None)
    failed = inv.head(10).assign(invitation_id=inv["invitation_id"].head(10) + "f",
                                 status="failed")
    row = lift_table(pd.concat([inv, planned, failed]), hold, conv, "overall").iloc[0]
    assert (row["invited_n"], row["invited_converted"]) == (200, 40)


def test_per_batch_adds_are_counted_apart_from_every_rate():
    inv, hold, conv = _world()
    anon = pd.DataFrame({"customer_id": [None] * 3, "external_userid": ["a1", "a2", "a3"],
                         "added_at": "2026-11-12 10:00:00", "attributed": True,
                         "state": ["tplB", "tplB", "tplA"]})
    measured = measure(inv, hold, pd.concat([conv, anon]), as_of=LATER)
    assert measured.figures.batch_adds == 3
    assert measured.figures.converted == 40


def test_segment_comes_from_customers_when_invitations_lack_it():
    inv, hold, conv = _world()
    inv = inv.drop(columns="segment")
    customers = pd.DataFrame({"customer_id": inv["customer_id"], "segment": "S1"})
    row = lift_table(inv, hold, conv, "segment", customers=customers).iloc[0]
    assert row["group"] == "S1" and row["holdout_n"] == 100


def test_lift_on_the_attribution_fixture():
    res = attribute(w.contacts(), w.customers(), w.invitations(), w.holdouts())
    measured = measure(w.invitations(), w.holdouts(), res.conversions, as_of=LATER,
                       customers=w.customers(),
                       dimensions=("overall", "segment", "template", "variant", "staff"))
    report = measured.lift
    overall = report[report["dimension"] == "overall"].iloc[0]
    # attempted only: C006's SMS failed, so it is no invitation; C001 and C002 added within
    # 7 days, C005 late; wx3 (per-batch, no customer) is in no rate
    assert overall["invited_n"] == 5 and overall["invited_converted"] == 2
    assert measured.figures.batch_adds == 1
    # holdout strata: night × winback × the segments invited
    seg = report[report["dimension"] == "segment"].set_index("group")
    assert overall["holdout_n"] == seg["holdout_n"].sum()
    assert set(report["dimension"]) == {"overall", "segment", "template", "variant", "staff"}
    staff = report[report["dimension"] == "staff"].set_index("group")
    assert staff.loc["agent1", "invited_converted"] == 1
    assert "(none)" in staff.index


def test_unknown_dimension_is_an_error():
    inv, hold, conv = _world()
    with pytest.raises(ValueError, match="by must be one of"):
        measure(inv, hold, conv, as_of=LATER, dimensions=("colour",))
