"""Channel wecom_add: staff add buyers by phone, within each account's budget and room."""

from __future__ import annotations

import copy
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privmigrate.errors import ConfigError
from privmigrate.invite.plan import History, plan_night, round_robin
from privmigrate.invite.settings import REMARK_MAX_CHARS, InviteSettings
from tests.invite import invite_world as w

NIGHT = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 2, 0)
ADD_TEMPLATE = {"id": "add_a", "channel": "wecom_add",
                "text": "您好{name}，我是{staff}，您购买过{product}，通过后送您{offer}"}


def add_config(staff=None, channels=("call", "wecom_add", "sms"), **over) -> dict:
    raw = w.config(channels=list(channels), daily_limit=over.pop("daily_limit", 1000),
                   budgets=over.pop("budgets", {"call": 10, "sms": 100, "wecom_add": 1000}),
                   **over)
    raw["invite"]["templates"] = [*raw["invite"]["templates"], dict(ADD_TEMPLATE)]
    if staff is not None:
        raw["invite"]["staff"] = staff
    return raw


def _plan(raw, frame=None, history=History(), limit=None):
    s = InviteSettings.from_config(raw)
    return plan_night(frame if frame is not None else w.customers(600), s, history, NIGHT, NOW,
                      limit)


def test_staff_settings_parse_with_defaults_and_agent_mapping():
    raw = add_config(staff=[
        {"id": "u1", "name": "小美", "daily_capacity": 10, "agent": "王测试"},
        {"id": "u2", "name": "小林", "daily_capacity": 10, "agent": "王测试",
         "max_customers": 20000, "daily_add_budget": 40},
        {"id": "u3", "name": "小周", "daily_capacity": 10},
    ])
    s = InviteSettings.from_config(raw)
    u1, u2, u3 = s.staff
    assert (u1.max_customers, u1.daily_add_budget) == (5000, 20)
    assert (u2.max_customers, u2.daily_add_budget) == (20000, 40)
    assert s.agent_accounts() == {"王测试": ("u1", "u2"), "小周": ("u3",)}
    assert u3.owner == "小周"


@pytest.mark.parametrize(("patch", "needle"), [
    ({"max_customers": -1}, "max_customers"),
    ({"daily_add_budget": "20"}, "daily_add_budget"),
    ({"agent": "王[测试]"}, "agent"),
    ({"colour": "red"}, "colour"),
])
def test_bad_staff_settings_name_the_key(patch, needle):
    raw = add_config(staff=[{"id": "u1", "name": "小美", "daily_capacity": 10, **patch}])
    with pytest.raises(ConfigError, match=needle):
        InviteSettings.from_config(raw)


def test_wecom_add_needs_a_template_and_a_short_enough_greeting():
    raw = add_config()
    raw["invite"]["templates"] = [t for t in raw["invite"]["templates"]
                                  if t["channel"] != "wecom_add"]
    with pytest.raises(ConfigError, match="wecom_add"):
        InviteSettings.from_config(raw)
    raw = add_config(wecom_add={"greeting_max_chars": 20})
    with pytest.raises(ConfigError, match="申请语"):
        InviteSettings.from_config(raw)
    with pytest.raises(ConfigError, match="remark"):
        InviteSettings.from_config(add_config(wecom_add={"remark": "{name}{order_no}"}))
    with pytest.raises(ConfigError, match="agent_id"):
        InviteSettings.from_config(add_config(wecom_add={"notify": True}))


def test_each_account_gets_its_add_budget_best_ranked_first():
    staff = [{"id": "a", "name": "甲", "daily_capacity": 0, "daily_add_budget": 7},
             {"id": "b", "name": "乙", "daily_capacity": 0, "daily_add_budget": 3}]
    frame = w.customers(600)
    plan = _plan(add_config(staff=staff, channels=("wecom_add",)), frame)
    inv = plan.invitations
    assert (inv["channel"] == "wecom_add").all()
    assert inv["staff_id"].value_counts().to_dict() == {"a": 7, "b": 3}
    assert inv["priority"].is_monotonic_decreasing
    # round-robin: the two accounts alternate while both have budget
    assert inv["staff_id"].head(6).tolist() == ["a", "b"] * 3
    # every eligible buyer not chosen ranks below the chosen ones
    eligible = frame[(frame["phone_status"] == "valid") & ~frame["in_private_domain"]
                     & frame["segment"].isin(w.INVITED_SEGMENTS)]
    assert len(eligible) > 10 * 3


def test_rows_carry_phone_remark_greeting_and_expiry():
    plan = _plan(add_config(channels=("wecom_add",), wecom_add={"expire_days": 5}))
    inv = plan.invitations
    assert len(inv) > 0
    assert inv["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert (inv["remark"].str.len() <= REMARK_MAX_CHARS).all()
    # default remark: name then the phone's last four digits, which are never cut
    tails = inv["phone"].str.slice(-4)
    assert all(r.endswith(t) for r, t in zip(inv["remark"], tails, strict=True))
    assert inv["message"].str.startswith("您好").all()
    assert inv["message"].str.contains("通过后送您").all()
    assert (inv["expires_at"] == "2026-11-30 23:59:59").all()
    assert inv["talking_points"].isna().all() and inv["params"].isna().all()


def test_long_names_give_way_in_the_remark():
    raw = add_config(channels=("wecom_add",),
                     wecom_add={"remark": "{segment}{name}{phone_tail}"})
    frame = w.customers(60)
    frame["name"] = "测试" * 10
    inv = _plan(raw, frame).invitations
    assert len(inv) > 0
    assert (inv["remark"].str.len() == REMARK_MAX_CHARS).all()
    assert all(r.startswith(s) and r.endswith(p[-4:]) for r, s, p in
               zip(inv["remark"], inv["segment"], inv["phone"], strict=True))


def test_a_full_account_gets_nothing_and_is_named():
    staff = [{"id": "a", "name": "甲", "daily_capacity": 30, "max_customers": 100},
             {"id": "b", "name": "乙", "daily_capacity": 30, "max_customers": 100}]
    history = History(friends_held={"a": 100, "b": 95}, pending_adds={"b": 2})
    plan = _plan(add_config(staff=staff), history=history)
    inv = plan.invitations
    assert "a" not in set(inv["staff_id"])  # full: neither adds nor SMS/call invitees
    assert (inv["staff_id"] == "b").sum() == 3  # room 100 − 95 − 2, across channels
    acc = plan.summary["accounts"]
    assert acc["甲"]["room"] == 0 and acc["乙"]["room"] == 3 and acc["乙"]["room_left"] == 0
    assert plan.summary["full_accounts"] == ["甲", "乙"]


def test_suppressed_by_call_or_all_is_not_added_but_sms_only_suppression_is():
    frame = w.customers(200)
    raw = add_config(channels=("wecom_add",))
    first = _plan(raw, frame).invitations
    call_blocked, sms_blocked = first["phone"].iloc[0], first["phone"].iloc[1]
    sup = pd.DataFrame({"phone": [call_blocked, sms_blocked], "channel": ["call", "sms"]},
                       dtype="string")
    again = _plan(raw, frame, History(suppressed=sup)).invitations
    assert call_blocked not in set(again["phone"])
    assert sms_blocked in set(again["phone"])


def test_cooldown_and_holdout_apply_as_for_other_channels():
    frame = w.customers(400)
    raw = add_config(channels=("wecom_add",))
    first = _plan(raw, frame)
    ids = set(first.invitations["customer_id"])
    held = set(first.holdouts["customer_id"])
    assert ids and held and not ids & held
    again = _plan(raw, frame, History(recently_invited=frozenset(ids),
                                      held_out=frozenset(held)))
    assert not set(again.invitations["customer_id"]) & (ids | held)
    assert again.summary["skipped"]["cooldown"] == len(ids)


def test_round_robin_respects_caps():
    assert round_robin(np.array([2, 0, 3]), 5).tolist() == [0, 2, 0, 2, 2]
    assert round_robin(np.array([2, 0, 3]), 3).tolist() == [0, 2, 0]
    assert round_robin(np.array([1, 1]), 0).tolist() == []


_staff = st.fixed_dictionaries({
    "daily_capacity": st.integers(0, 40),
    "daily_add_budget": st.integers(0, 40),
    "max_customers": st.integers(0, 120),
    "held": st.integers(0, 130),
    "pending": st.integers(0, 30),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts=st.lists(_staff, min_size=1, max_size=5),
       order=st.permutations(["call", "wecom_add", "sms"]),
       budgets=st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 200)),
       daily_limit=st.integers(0, 300))
def test_property_never_over_budget_or_room(accounts, order, budgets, daily_limit):
    staff = [{"id": f"u{i}", "name": f"顾问{i}", "daily_capacity": a["daily_capacity"],
              "daily_add_budget": a["daily_add_budget"], "max_customers": a["max_customers"]}
             for i, a in enumerate(accounts)]
    raw = add_config(staff=staff, channels=tuple(order), daily_limit=daily_limit,
                     budgets={"call": budgets[0], "wecom_add": budgets[1], "sms": budgets[2]})
    history = History(friends_held={f"u{i}": a["held"] for i, a in enumerate(accounts)},
                      pending_adds={f"u{i}": a["pending"] for i, a in enumerate(accounts)})
    plan = _plan(copy.deepcopy(raw), _FRAME, history)
    inv = plan.invitations
    assert len(inv) <= daily_limit
    by = inv.groupby(["staff_id", "channel"]).size()
    for i, a in enumerate(accounts):
        sid = f"u{i}"
        adds = int(by.get((sid, "wecom_add"), 0))
        inbound = int(by.get((sid, "sms"), 0)) + int(by.get((sid, "call"), 0))
        room = max(a["max_customers"] - a["held"] - a["pending"], 0)
        assert adds <= a["daily_add_budget"]
        assert inbound <= a["daily_capacity"]
        assert adds + inbound <= room
        assert plan.summary["accounts"][f"顾问{i}"]["room_left"] == room - adds - inbound
    for ch, b in zip(("call", "wecom_add", "sms"), budgets, strict=True):
        assert int((inv["channel"] == ch).sum()) <= b
    # and as full as the limits allow: with wecom_add first every buyer in the pool can be
    # added, so a buyer left over means the adds hit a limit exactly
    if order[0] == "wecom_add" and plan.summary["skipped"]["over_limit"]:
        per = sum(min(a["daily_add_budget"], max(a["max_customers"] - a["held"] - a["pending"], 0))
                  for a in accounts)
        assert int((inv["channel"] == "wecom_add").sum()) == min(budgets[1], daily_limit, per)


_FRAME = w.customers(400)


def test_cli_names_a_full_account(tmp_path):
    from typer.testing import CliRunner

    from privmigrate.cli import app

    staff = [{"id": "a", "name": "甲", "daily_capacity": 30, "max_customers": 3},
             {"id": "b", "name": "乙", "daily_capacity": 30}]
    ws = w.workspace(tmp_path / "ws", add_config(staff=staff), w.customers(300))
    result = CliRunner().invoke(app, ["invite", "-w", str(ws)],
                                env={"PRIVMIGRATE_NOW": "2026-11-25T02:00"})
    assert result.exit_code == 0, result.output
    assert "account 甲 (a) is full: 0 friends + 0 open adds + 3 tonight = max_customers 3" \
        in result.output
    assert "乙 (b) is full" not in result.output
