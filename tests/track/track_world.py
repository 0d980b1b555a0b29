"""A small synthetic world covering every attribution case (no real people or numbers)."""

from __future__ import annotations

import pandas as pd

NIGHT = "2026-11-10"
SENT = "2026-11-10 20:00:00"


def phone(n: int) -> str:
    return str(13800000000 + n)


def customers() -> pd.DataFrame:
    ids = [f"C{n:03d}" for n in range(1, 11)]
    return pd.DataFrame({
        "customer_id": ids,
        "phone": [phone(n) for n in range(1, 11)],
        "segment": ["重要价值客户"] * 5 + ["一般保持客户"] * 5,
        "name": [f"测试用户{n:03d}" for n in range(1, 11)],
    })


def _inv(iid, cid, channel, state, template, variant, staff=None, status="accepted",
         sent=SENT, night=NIGHT, batch="B1"):
    return {"invitation_id": iid, "night": night, "batch_id": batch, "campaign": "winback",
            "customer_id": cid, "channel": channel, "template_id": template, "variant": variant,
            "offer": None, "staff": staff, "state": state, "planned_at": sent, "status": status,
            "provider_code": None, "provider_ref": None, "sent_at": sent}


def invitations() -> pd.DataFrame:
    return pd.DataFrame([
        _inv("I1", "C001", "call", "pm-C001", "call_v1", "A", staff="agent1", status="called"),
        _inv("I2", "C002", "sms", "tplA", "sms_a", "A"),
        _inv("I3", "C003", "sms", "tplA", "sms_a", "A"),
        _inv("I4", "C004", "sms", "tplB", "sms_b", "B"),
        _inv("I5", "C005", "sms", "tplA", "sms_a", "A"),
        _inv("I6", "C006", "sms", "tplA", "sms_a", "A", status="failed"),
    ])


def holdouts() -> pd.DataFrame:
    return pd.DataFrame({"night": [NIGHT] * 3, "campaign": ["winback"] * 3,
                         "customer_id": ["C007", "C008", "C009"],
                         "segment": ["重要价值客户", "一般保持客户", "一般保持客户"]})


def contacts() -> pd.DataFrame:
    rows = [
        # per-person 联系我 state from a call
        ("wx1", "agent1", "2026-11-11 10:00:00", "pm-C001", None),
        # SMS link + staff typed the buyer's mobile: person level via remark mobile
        ("wx2", "s1", "2026-11-12 09:00:00", "tplA", phone(2)),
        # the same person added a second staff member the next day: not a new conversion
        ("wx2", "s2", "2026-11-13 09:00:00", None, None),
        # a second WeChat account of the same buyer: not a new conversion
        ("wx2b", "s1", "2026-11-14 09:00:00", None, phone(2)),
        # SMS link, nobody typed a mobile: per-batch conversion without a customer
        ("wx3", "s1", "2026-11-12 11:00:00", "tplA", None),
        # invited, but added 10 days later: converted, not attributed
        ("wx5", "s1", "2026-11-20 12:00:00", "tplA", f"+86 {phone(5)}"),
        # only invitation failed: organic
        ("wx6", "s1", "2026-11-12 12:00:00", None, phone(6)),
        # holdout customer who found us anyway
        ("wx7", "s2", "2026-11-12 13:00:00", None, phone(7)),
        # a WeCom friend who is not a buyer
        ("wx9", "s2", "2026-11-12 14:00:00", None, "13900000000"),
    ]
    frame = pd.DataFrame(rows, columns=["external_userid", "staff", "added_at", "state",
                                        "remark_phones"])
    frame["added_at"] = pd.to_datetime(frame["added_at"])
    from privmigrate.track.sources import remark_phones

    frame["remark_phones"] = remark_phones(frame["remark_phones"])
    frame["source"] = "file"
    frame["source_ref"] = "fixture.csv"
    return frame
