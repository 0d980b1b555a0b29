"""The pure planner: eligibility, holdout, caps, capacity, variants, staff."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from privmigrate.invite.plan import History, customer_hashes, plan_night
from privmigrate.invite.settings import InviteSettings
from tests.invite import invite_world as w

NIGHT = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 2, 0)


def _plan(raw=None, frame=None, history=History(), limit=None, night=NIGHT):
    s = InviteSettings.from_config(raw or w.config())
    return plan_night(frame if frame is not None else w.customers(), s, history, night, NOW,
                      limit)


def test_only_eligible_customers_are_invited():
    frame = w.customers(400)
    plan = _plan(frame=frame)
    inv = plan.invitations.merge(frame, on="customer_id", suffixes=("", "_c"))
    assert len(inv) > 0
    assert (inv["phone_status"] == "valid").all()
    assert inv["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert not inv["in_private_domain"].any()
    assert inv["segment"].isin(w.INVITED_SEGMENTS).all()
    skipped = plan.summary["skipped"]
    assert skipped["no_valid_phone"] == int((frame["phone_status"] != "valid").sum())
    assert skipped["segment_not_targeted"] > 0 and skipped["in_private_domain"] > 0


def test_caps_daily_limit_budgets_and_staff_capacity():
    raw = w.config(daily_limit=1000, budgets={"call": 7, "sms": 1000})
    raw["invite"]["staff"] = [{"id": "a", "name": "甲", "daily_capacity": 20},
                              {"id": "b", "name": "乙", "daily_capacity": 5}]
    plan = _plan(raw, frame=w.customers(500))
    inv = plan.invitations
    assert len(inv) == 25  # total staff capacity
    assert (inv["channel"] == "call").sum() == 7
    assert inv["staff_id"].value_counts().to_dict() == {"a": 20, "b": 5}
    assert plan.summary["skipped"]["over_limit"] > 0
    assert _plan(raw, frame=w.customers(500), limit=9).invitations.shape[0] == 9


def test_calls_go_to_the_best_ranked_then_sms_in_rank_order():
    plan = _plan(frame=w.customers(400))
    inv = plan.invitations
    calls, sms = inv[inv["channel"] == "call"], inv[inv["channel"] == "sms"]
    assert len(calls) == 10
    assert calls["priority"].min() >= sms["priority"].max()
    assert sms["priority"].is_monotonic_decreasing


def test_holdout_is_deterministic_and_never_invited():
    frame = w.customers(2000)
    a, b = _plan(frame=frame), _plan(frame=frame.sample(frac=1, random_state=3))
    assert a.holdouts["customer_id"].tolist() == b.holdouts["customer_id"].tolist()
    assert a.invitations["customer_id"].tolist() == b.invitations["customer_id"].tolist()
    assert not set(a.holdouts["customer_id"]) & set(a.invitations["customer_id"])
    bucket, _ = customer_hashes(frame["customer_id"], "test-campaign")
    share = (bucket < 1000).mean()
    assert 0.07 < share < 0.13  # 10 % of everyone, by hash
    assert len(a.holdouts) > 0
    assert (a.holdouts["night"] == NIGHT.isoformat()).all()


def test_hash_is_stable_across_versions():
    bucket, uniform = customer_hashes(pd.Series(["C0000000000000001"]), "test-campaign")
    again = customer_hashes(pd.Series(["C0000000000000001"]), "test-campaign")
    assert bucket[0] == again[0][0] and uniform[0] == again[1][0]
    # pinned value: BLAKE2b-64 of "test-campaign\x1fC0000000000000001"
    import hashlib

    d = hashlib.blake2b(b"test-campaign\x1fC0000000000000001", digest_size=8).digest()
    assert bucket[0] == int.from_bytes(d[:4], "big") % 10_000


def test_history_excludes_cooldown_suppressed_converted_and_earlier_holdouts():
    frame = w.customers(400)
    first = _plan(frame=frame).invitations
    ids = frozenset(first["customer_id"])
    sup_phone = first.loc[first["channel"] == "sms", "phone"].iloc[0]
    converted = frozenset(frame["customer_id"].iloc[[0, 1, 2]])
    history = History(
        recently_invited=ids,
        suppressed=pd.DataFrame({"phone": [sup_phone], "channel": ["all"]}, dtype="string"),
        converted=converted,
        held_out=frozenset(frame["customer_id"].iloc[10:20]),
    )
    second = _plan(frame=frame, history=history)
    got = set(second.invitations["customer_id"])
    assert not got & ids
    assert not got & converted
    assert not got & set(frame["customer_id"].iloc[10:20])
    assert sup_phone not in set(second.invitations["phone"])
    assert second.summary["skipped"]["cooldown"] > 0


def test_sms_suppression_still_allows_a_call():
    frame = w.customers(60)
    raw = w.config(channels=["sms", "call"], budgets={"sms": 0, "call": 100}, holdout_percent=0)
    target = frame[(frame["phone_status"] == "valid") & ~frame["in_private_domain"]
                   & frame["segment"].isin(w.INVITED_SEGMENTS)].iloc[0]
    sup = pd.DataFrame({"phone": [target["phone"]], "channel": ["sms"]}, dtype="string")
    plan = _plan(raw, frame=frame, history=History(suppressed=sup))
    row = plan.invitations[plan.invitations["customer_id"] == target["customer_id"]]
    assert row["channel"].tolist() == ["call"]
    sup_all = sup.assign(channel="all")
    plan = _plan(raw, frame=frame, history=History(suppressed=sup_all))
    assert target["customer_id"] not in set(plan.invitations["customer_id"])
    assert plan.summary["skipped"]["suppressed"] == 1


def test_variants_split_by_weight():
    raw = w.config(daily_limit=5000, budgets={"call": 0, "sms": 5000}, holdout_percent=0)
    raw["invite"]["staff"] = [{"id": "a", "name": "甲", "daily_capacity": 5000}]
    raw["invite"]["templates"][0]["weight"] = 3
    plan = _plan(raw, frame=w.customers(3000))
    counts = plan.invitations["template_id"].value_counts()
    share = counts["sms_a"] / counts.sum()
    assert 0.70 < share < 0.80
    assert set(plan.summary["templates"]) == {"sms_a", "sms_b"}


def test_sms_rows_are_compliant_and_calls_carry_a_state():
    plan = _plan(frame=w.customers(400))
    inv = plan.invitations
    sms = inv[inv["channel"] == "sms"]
    assert sms["message"].str.startswith("【测试旗舰店】").all()
    assert sms["message"].str.endswith("拒收请回复R").all()
    assert (sms["length"] == sms["message"].str.len()).all()
    assert sms["parts"].between(1, 2).all()
    assert not sms["message"].str.slice(7).str.contains("【|】|\\*").any()
    calls = inv[inv["channel"] == "call"]
    assert calls["state"].str.len().le(30).all()
    assert calls["state"].is_unique
    assert calls["state"].str.startswith("pm261125").all()
    assert calls["honorific"].notna().all()
    assert set(sms["state"]) <= {"sms_a", "sms_b"}


@pytest.mark.parametrize("holdout", [0, 50])
def test_invitation_ids_are_deterministic(holdout):
    raw = w.config(holdout_percent=holdout)
    a = _plan(raw).invitations
    b = _plan(raw).invitations
    pd.testing.assert_frame_equal(a, b)
    assert a["invitation_id"].str.match(r"^20261125-(sms|call)-C[0-9a-f]{16}$").all()


def test_selection_reaches_deep_into_the_ranking_when_caps_need_it():
    frame = w.customers(4000)
    frame["segment"] = "重要价值客户"
    frame["priority"] = frame.index.to_numpy()[::-1] / 4000  # row 0 best
    rare = frame.index[-40:]  # the 40 worst-ranked are the only ones the call template wants
    frame.loc[rare, "segment"] = "重要发展客户"
    raw = w.config(daily_limit=200, budgets={"call": 12, "sms": 50})
    raw["invite"]["templates"][2]["segments"] = ["重要发展客户"]
    raw["invite"]["staff"] = [{"id": "a", "name": "甲", "daily_capacity": 500}]
    plan = _plan(raw, frame=frame)
    inv = plan.invitations
    assert (inv["channel"] == "call").sum() == 12
    assert set(inv.loc[inv["channel"] == "call", "customer_id"]) <= set(
        frame.loc[rare, "customer_id"])
    assert (inv["channel"] == "sms").sum() == 50
    s = plan.summary
    assert s["customers"] == s["invited"] + s["holdout"] + sum(s["skipped"].values())
    # everyone between the best SMS and the last call who was held out is recorded
    assert len(plan.holdouts) > 100


def test_missing_priority_ranks_last():
    frame = w.customers(300)
    frame.loc[frame.index[:150], "priority"] = float("nan")
    raw = w.config(holdout_percent=0)
    inv = _plan(raw, frame=frame).invitations
    assert inv["priority"].notna().all()
