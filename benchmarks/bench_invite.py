"""Plan one night for N synthetic customers and print how long each part takes.

    .venv/bin/python benchmarks/bench_invite.py [N] [ACCOUNTS]
        (default 2,000,000 customers; ACCOUNTS > 0 replaces the sample's two staff accounts
         with that many — an SCRM brand runs 一两千个号 — each partly full, so every channel
         is paced per account: daily capacity, daily add budget and room)
"""

from __future__ import annotations

import sys
import time
import tomllib
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from privmigrate.invite.plan import History, customer_hashes, plan_night
from privmigrate.invite.settings import InviteSettings

SAMPLE = Path(__file__).parents[1] / "privmigrate" / "sample_config" / "30_invite.toml"
SEGMENTS = ["重要价值客户", "重要保持客户", "重要发展客户", "重要挽留客户",
            "一般价值客户", "一般保持客户", "一般发展客户", "一般挽留客户"]


def customers(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    idx = np.arange(n)
    return pd.DataFrame({
        "customer_id": pd.Series([f"C{i:016x}" for i in idx], dtype="string[pyarrow]"),
        "phone": pd.Series((13_800_000_000 + idx).astype(str), dtype="string[pyarrow]"),
        "phone_status": pd.Categorical(np.where(idx % 9 == 0, "masked", "valid")),
        "name": pd.Series(np.where(idx % 3 == 0, "测试用户", "张**"), dtype="string[pyarrow]"),
        "segment": pd.Categorical.from_codes(rng.integers(0, 8, n), SEGMENTS),
        "priority": rng.random(n),
        "reachable_by_sms": idx % 9 != 0,
        "in_private_domain": idx % 11 == 0,
        "avg_amount": rng.uniform(20, 800, n),
        "last_paid_at": pd.Timestamp("2026-09-01"),
        "last_product": pd.Series("测试保湿面霜 50ml", index=idx, dtype="string[pyarrow]"),
    })


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    accounts = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    raw = tomllib.loads(SAMPLE.read_text(encoding="utf-8"))
    held: dict[str, int] = {}
    if accounts:
        rng = np.random.default_rng(3)
        raw["invite"]["staff"] = [
            {"id": f"acct{i:05d}", "name": f"顾{i:04d}", "daily_capacity": 40,
             "daily_add_budget": 20, "max_customers": 5000} for i in range(accounts)]
        raw["invite"]["daily_limit"] = 100 * accounts
        raw["invite"]["budgets"] = {"call": 5 * accounts, "wecom_add": 20 * accounts,
                                    "sms": 60 * accounts}
        held = {f"acct{i:05d}": int(v) for i, v in
                enumerate(rng.integers(2000, 5100, accounts))}  # some accounts are full
    settings = InviteSettings.from_config(raw)
    t0 = time.perf_counter()
    frame = customers(n)
    t1 = time.perf_counter()
    customer_hashes(frame["customer_id"], settings.campaign)
    t2 = time.perf_counter()
    history = History(recently_invited=frozenset(frame["customer_id"].iloc[: n // 10]),
                      suppressed=pd.DataFrame({"phone": frame["phone"].iloc[:: 50],
                                               "channel": "all"}, dtype="string"),
                      friends_held=held)
    plan = plan_night(frame, settings, history, date(2026, 11, 25), datetime(2026, 11, 25, 2))
    t3 = time.perf_counter()
    print(f"customers: {n:,} (built in {t1 - t0:.1f} s)")
    print(f"holdout/variant hashes alone: {t2 - t1:.2f} s")
    print(f"plan_night (eligibility, ranking, caps, rendering): {t3 - t2:.2f} s "
          f"→ {plan.summary['invited']:,} invitations {plan.summary['by_channel']}, "
          f"{plan.summary['holdout']:,} held out, {len(settings.staff):,} accounts "
          f"({len(plan.summary['full_accounts']):,} full)")


if __name__ == "__main__":
    main()
