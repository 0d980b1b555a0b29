"""Realistic synthetic exports, one per platform, for the demo, the docs and the tests.

One synthetic population (测试 names, phones in 1380000xxxx–1389999xxxx, real province/city
names) buys on several platforms; each platform's orders are written in that platform's real
export shape with its quirks (see shared/reference/crm-exports-rfm.md Part A): GBK and ``="…"``
in the 淘宝 CSV, a receiver packed into 收货地址 in the 千牛 xlsx, masked 京东 phones, 有赞 refund
columns, 抖店 thousands separators and sub-order rows, 拼多多 tabs and no buyer key, 视频号 line
items and WeCom ids, ERP 合计 rows and 0000-00-00 pay times, a CRM CSV with no order numbers.

Everything is drawn from one seeded numpy Generator and built column-wise, so the same seed
gives byte-identical files, and 100k buyers take seconds. xlsx files are written by a small
inline-string SpreadsheetML writer (cells built with Arrow compute, no per-cell Python).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from privmigrate.examples.douyin_pdd_wechat_erp import (
    WECHAT_HEADER,
    crm,
    douyin,
    erp_jst,
    erp_wdt,
    pdd,
    wechat,
)
from privmigrate.examples.files import Sheet, _csv_bytes, _xlsx_bytes, write_xlsx
from privmigrate.examples.population import PLATFORMS, _ids, _orders, _population, _World
from privmigrate.examples.taobao_jd_youzan import (
    TAOBAO_LEGACY_HEADER,
    YOUZAN_HEADER,
    jd,
    taobao_legacy,
    taobao_new,
    youzan,
    youzan_customers,
)
from privmigrate.workspace import write_bytes_atomic

# ------------------------------------------------------------------ the entry point

def write_example_exports(
    folder: Path,
    *,
    seed: int = 7,
    buyers: int = 3000,
    start: date = date(2024, 1, 1),
    end: date = date(2026, 11, 20),
) -> list[Path]:
    """Write one synthetic export per platform into ``folder``; returns the paths written.

    Deterministic for a given seed and size. Buyers overlap across platforms (the same phone on
    有赞 and 淘宝, the same nick in the ERP), and a few heavy buyers buy often and big.
    """
    if buyers < 1:
        raise ValueError("buyers must be at least 1")
    rng = np.random.default_rng(seed)
    people = _population(rng, buyers)
    orders = _orders(rng, people, start, end)
    world = _World(rng, people, orders, pd.Timestamp(end) + pd.Timedelta(hours=23))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = pd.Timestamp(end).strftime("%Y%m%d")
    by = {p: orders[orders["platform"] == p] for p in PLATFORMS}
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = folder / name
        write_bytes_atomic(path, data)
        written.append(path)

    # 淘宝: the legacy CSV covers the first two thirds of the window, the 千牛 xlsx the second
    # half; the sixth in between is in both, as when a shop exports again to catch up
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    tb = by["taobao"].copy()
    tb["tb_id"] = _ids(rng, 2_024_000_000_000_000_000, len(tb), 100_003).to_numpy()
    cut_csv = tb["ordered_at"] < (t0 + (t1 - t0) * 2 / 3).normalize()
    cut_xlsx = tb["ordered_at"] >= (t0 + (t1 - t0) / 2).normalize()
    put(f"ExportOrderList{stamp}1030.csv",
        _csv_bytes(taobao_legacy(world, tb[cut_csv]), "gbk"))
    put(f"taobao_orders_{stamp}.xlsx",
        _xlsx_bytes([Sheet("订单报表", taobao_new(world, tb[cut_xlsx]))]))
    put(f"jd_orders_{stamp}.xlsx",
        _xlsx_bytes([Sheet("Sheet1", jd(world, by["jd"]), frozenset({"订单号"}))]))
    yz = by["youzan"]
    put(f"youzan_orders_{stamp}.csv", _csv_bytes(youzan(world, yz), "utf-8"))
    idle = people.index[people["home"].to_numpy() == PLATFORMS.index("youzan")]
    idle = idle.difference(pd.Index(yz["buyer"].unique()))
    extra = people.index[rng.random(len(people)) < 0.01].union(idle)
    put(f"youzan_customers_{stamp}.csv",
        _csv_bytes(youzan_customers(world, yz, extra), "utf-8-sig", trailing_comma=True))
    put(f"douyin_orders_{stamp}.csv", _csv_bytes(douyin(world, by["douyin"]), "utf-8"))
    put(f"pdd_orders_{stamp}.xlsx", _xlsx_bytes([Sheet("订单", pdd(world, by["pdd"]))]))
    put(f"wechat_shop_orders_{stamp}.xlsx", _xlsx_bytes(wechat(world, by["wechat"])))
    # the ERP sells on its own shops; its 客户网名 repeat 淘宝 nicks of the same people. It was
    # connected to the 天猫 shop for the last quarter of the window: it re-exports those paid
    # 淘宝 orders too (loaded once: docs/load.md "ERP exports of shop orders")
    relayed = tb[(tb["ordered_at"] >= (t0 + (t1 - t0) * 3 / 4).normalize()).to_numpy()
                 & tb["outcome"].isin(["paid", "partial", "refunded"]).to_numpy()]
    put(f"erp_wdt_orders_{stamp}.xlsx", _xlsx_bytes([Sheet(
        "订单明细", erp_wdt(world, by["erp_wdt"], relayed),
        frozenset({"货品数量"}))]))
    put(f"erp_jst_orders_{stamp}.xlsx", _xlsx_bytes([Sheet(
        "原始数据", erp_jst(world, by["erp_jst"]), frozenset({"收货手机"}),
        title=f"订单导出 {pd.Timestamp(end):%Y-%m-%d}")]))
    put(f"crm_orders_{stamp}.csv", _csv_bytes(crm(world, by["crm"]), "utf-8-sig"))
    return written


__all__ = ["TAOBAO_LEGACY_HEADER", "WECHAT_HEADER", "YOUZAN_HEADER", "Sheet",
           "write_example_exports", "write_xlsx"]
