"""Attribution and lift at brand scale: prints seconds and peak memory.

    /tmp/venv/bin/python benchmarks/track_attribution.py [customers] [invitations] [contacts]
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from privmigrate.track.attribution import attribute
from privmigrate.track.lift import lift_report


def world(n_customers: int, n_inv: int, n_contacts: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.arange(n_customers).astype(str))
    segments = ["重要价值客户", "一般保持客户", "重要挽留客户"]
    customers = pd.DataFrame({"customer_id": ids,
                              "phone": (13000000000 + np.arange(n_customers)).astype(str),
                              "segment": rng.choice(segments, n_customers)})
    who = rng.choice(n_customers, n_inv + n_inv // 10, replace=False)
    inv_who, hold_who = who[:n_inv], who[n_inv:]
    nights = pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.integers(0, 30, n_inv), "D")
    channel = np.where(rng.random(n_inv) < 0.2, "call", "sms")
    template = np.where(channel == "call", "call_v1", rng.choice(["sms_a", "sms_b"], n_inv))
    state = np.where(channel == "call", np.char.add("pm", ids[inv_who]), template)
    sent = nights + pd.Timedelta(hours=20)
    invitations = pd.DataFrame({
        "invitation_id": np.char.add("I", np.arange(n_inv).astype(str)),
        "night": nights.strftime("%Y-%m-%d"), "batch_id": nights.strftime("%Y%m%d"),
        "campaign": "winback", "customer_id": ids[inv_who], "channel": channel,
        "template_id": template, "variant": np.where(template == "sms_b", "B", "A"),
        "staff": np.where(channel == "call", rng.choice(["a1", "a2", "a3"], n_inv), None),
        "state": state, "planned_at": sent.strftime("%Y-%m-%d %H:%M:%S"),
        "sent_at": sent.strftime("%Y-%m-%d %H:%M:%S"), "status": "accepted"})
    holdouts = pd.DataFrame({"night": rng.choice(invitations["night"].unique(), len(hold_who)),
                             "campaign": "winback", "customer_id": ids[hold_who],
                             "segment": customers["segment"].to_numpy()[hold_who]})
    pick = rng.choice(n_inv, n_contacts)
    added = sent[pick] + pd.to_timedelta(rng.integers(0, 14 * 24 * 3600, n_contacts), "s")
    has_phone = rng.random(n_contacts) < 0.4
    contacts = pd.DataFrame({
        "external_userid": np.char.add("wm", np.arange(n_contacts).astype(str)),
        "staff": rng.choice(["s1", "s2", "s3", "s4"], n_contacts), "added_at": added,
        "state": np.where(rng.random(n_contacts) < 0.7, state[pick], None),
        "remark_phones": np.where(has_phone, customers["phone"].to_numpy()[inv_who[pick]], None),
        "source": "api", "source_ref": None})
    return contacts, customers, invitations, holdouts


def main() -> None:
    n_customers, n_inv, n_contacts = (int(a) for a in (sys.argv[1:] or
                                                       ["1000000", "300000", "100000"]))
    contacts, customers, invitations, holdouts = world(n_customers, n_inv, n_contacts)
    t = time.perf_counter()
    res = attribute(contacts, customers, invitations, holdouts)
    t_attr = time.perf_counter() - t
    t = time.perf_counter()
    lift = lift_report(invitations, holdouts, res.conversions, customers=customers)
    t_lift = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"customers={n_customers:,} invitations={n_inv:,} contacts={n_contacts:,}")
    print(f"attribute: {t_attr:.2f} s → {len(res.conversions):,} conversions "
          f"({int(res.conversions['attributed'].sum()):,} attributed)")
    print(f"lift_report (5 dimensions, {len(lift)} rows): {t_lift:.2f} s")
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
