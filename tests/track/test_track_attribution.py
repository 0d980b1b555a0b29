"""Attribution on fixtures: per-person, remark mobile, per-batch, late, duplicate, holdout."""

from __future__ import annotations

import pandas as pd
import pytest

from privmigrate.track.attribution import (
    AttributionRules,
    attribute,
    local_times,
    merge_with_ledger,
    person_level_states,
)
from tests.track import track_world as w


@pytest.fixture
def result():
    return attribute(w.contacts(), w.customers(), w.invitations(), w.holdouts())


def _row(result, external_userid):
    conv = result.conversions
    rows = conv[conv["external_userid"] == external_userid]
    assert len(rows) == 1, f"{external_userid}: {len(rows)} conversion rows"
    return rows.iloc[0]


def test_per_person_call_state_is_attributed_to_that_invitation(result):
    row = _row(result, "wx1")
    assert (row["customer_id"], row["match_method"], row["invitation_id"]) == ("C001", "state",
                                                                               "I1")
    assert row["attributed"] and row["reason"] == "attributed"
    assert row["template_id"] == "call_v1"


def test_remark_mobile_identifies_the_sms_customer(result):
    row = _row(result, "wx2")
    assert (row["customer_id"], row["match_method"], row["invitation_id"]) == (
        "C002", "remark_mobile", "I2")
    assert row["attributed"]


def test_customer_channel_without_a_person_is_a_batch_conversion(result):
    row = _row(result, "wx3")
    assert pd.isna(row["customer_id"]) and pd.isna(row["invitation_id"])
    assert row["match_method"] == "customer_channel"
    assert row["attributed"] and row["template_id"] == "sms_a" and row["batch_id"] == "B1"


def test_late_add_converts_but_is_not_attributed(result):
    row = _row(result, "wx5")
    assert row["customer_id"] == "C005" and row["reason"] == "late"
    assert not row["attributed"] and pd.isna(row["invitation_id"])
    assert row["nearest_invitation_id"] == "I5"


def test_wider_window_attributes_the_late_add():
    res = attribute(w.contacts(), w.customers(), w.invitations(), w.holdouts(),
                    AttributionRules(window_days=14))
    row = _row(res, "wx5")
    assert row["attributed"] and row["invitation_id"] == "I5"


def test_duplicate_adds_count_once(result):
    conv = result.conversions
    assert (conv["customer_id"] == "C002").sum() == 1  # second account wx2b not a conversion
    assert "wx2b" not in set(conv["external_userid"])
    assert _row(result, "wx2")["adds"] == 2  # also added staff s2: counted, not re-attributed
    assert result.duplicate_persons == 1 and result.repeat_adds == 1


def test_holdout_customer_adding_organically(result):
    row = _row(result, "wx7")
    assert row["customer_id"] == "C007" and row["reason"] == "holdout"
    assert not row["attributed"] and pd.isna(row["invitation_id"])


def test_failed_invitation_earns_nothing(result):
    row = _row(result, "wx6")
    assert row["reason"] == "organic" and not row["attributed"]


def test_non_buyer_is_not_a_conversion(result):
    assert "wx9" not in set(result.conversions["external_userid"])
    assert result.unmatched == 1
    assert result.persons == 8  # wx1 wx2 wx2b wx3 wx5 wx6 wx7 wx9


def test_add_before_the_invitation_is_not_credited():
    contacts = w.contacts()
    contacts.loc[contacts["external_userid"] == "wx1", "added_at"] = pd.Timestamp(
        "2026-11-09 08:00")
    row = _row(attribute(contacts, w.customers(), w.invitations(), w.holdouts()), "wx1")
    assert row["reason"] == "before_invitation" and not row["attributed"]
    assert row["customer_id"] == "C001"  # still a conversion: stop inviting them


def test_state_beats_remark_mobile_and_last_touch_wins():
    inv = pd.concat([w.invitations(), pd.DataFrame([{
        "invitation_id": "I7", "night": "2026-11-11", "batch_id": "B2", "campaign": "winback",
        "customer_id": "C002", "channel": "call", "template_id": "call_v1", "variant": "A",
        "staff": "agent2", "state": "pm-C002", "planned_at": "2026-11-11 10:00:00",
        "status": "called", "sent_at": "2026-11-11 10:00:00"}])], ignore_index=True)
    contacts = w.contacts()
    contacts.loc[contacts["external_userid"] == "wx2", "state"] = "pm-C002"
    row = _row(attribute(contacts, w.customers(), inv, w.holdouts()), "wx2")
    # the add carried the call's state: the call (I7) is credited, not the earlier SMS (I2)
    assert (row["match_method"], row["invitation_id"]) == ("state", "I7")


def test_shared_call_state_is_not_person_level():
    inv = w.invitations()
    inv.loc[inv["invitation_id"] == "I2", ["channel", "state"]] = ["call", "pm-C001"]
    assert "pm-C001" not in set(person_level_states(inv)["state"])


def test_person_without_invitations_or_customers_is_tolerated():
    empty = pd.DataFrame()
    res = attribute(w.contacts(), w.customers(), empty, empty)
    assert set(res.conversions["reason"]) == {"organic"}
    assert set(res.conversions["match_method"]) == {"remark_mobile"}
    assert len(attribute(w.contacts().iloc[0:0], w.customers(), w.invitations(),
                         w.holdouts()).conversions) == 0


def test_rerun_is_idempotent_and_a_batch_conversion_gains_its_customer():
    first = attribute(w.contacts(), w.customers(), w.invitations(), w.holdouts())
    plan = merge_with_ledger(first.conversions, pd.DataFrame())
    assert len(plan.inserts) == 6 and plan.upgrades.empty
    ledger = plan.inserts
    again = merge_with_ledger(first.conversions, ledger)
    assert again.inserts.empty and again.upgrades.empty
    # staff later type C003's mobile on wx3: the per-batch row learns its customer
    contacts = w.contacts()
    contacts.loc[contacts["external_userid"] == "wx3", "remark_phones"] = w.phone(3)
    later = attribute(contacts, w.customers(), w.invitations(), w.holdouts())
    plan = merge_with_ledger(later.conversions, ledger)
    assert plan.inserts.empty
    assert list(plan.upgrades["customer_id"]) == ["C003"]
    assert plan.upgrades.iloc[0]["invitation_id"] == "I3"


def test_a_customer_converted_earlier_is_not_converted_again():
    first = attribute(w.contacts(), w.customers(), w.invitations(), w.holdouts())
    ledger = first.conversions
    contacts = pd.concat([w.contacts(), pd.DataFrame([{
        "external_userid": "wx1-new", "staff": "s9", "added_at": pd.Timestamp("2026-11-15"),
        "state": None, "remark_phones": w.phone(1), "source": "file", "source_ref": "x"}])])
    later = attribute(contacts, w.customers(), w.invitations(), w.holdouts())
    plan = merge_with_ledger(later.conversions, ledger)
    assert plan.inserts.empty


def test_local_times_accepts_offsets_and_naive_text():
    out = local_times(pd.Series(["2026-11-10 20:00:00", "2026-11-10T12:00:00+00:00", None]))
    assert out.iloc[0] == pd.Timestamp("2026-11-10 20:00")
    assert out.iloc[1] == pd.Timestamp("2026-11-10 20:00")
    assert pd.isna(out.iloc[2])
