"""客服绩效: per account and agent figures from the ledger, as of the report date."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from openpyxl import Workbook, load_workbook

from privmigrate.invite import wecom_add
from privmigrate.invite.settings import InviteSettings
from privmigrate.report import scorecard
from privmigrate.workspace import Workspace
from tests.invite import invite_world as w
from tests.invite.test_invite_wecom_add import add_config
from tests.invite.test_invite_wecom_add_io import _conversion, _ledger_with_plan

STAFF = [{"id": "u_mei", "name": "小美", "daily_capacity": 0, "daily_add_budget": 6,
          "agent": "王测试", "max_customers": 100},
         {"id": "u_lin", "name": "小林", "daily_capacity": 0, "daily_add_budget": 4,
          "agent": "王测试", "max_customers": 100},
         {"id": "u_zhou", "name": "小周", "daily_capacity": 0, "daily_add_budget": 0}]


def _world(tmp_path):
    raw = add_config(staff=STAFF, channels=("wecom_add",),
                     wecom_add={"expire_days": 2, "benchmark_add_rate": 0.3})
    ws = w.workspace(tmp_path / "ws", raw, w.customers(300))
    s = InviteSettings.from_config(raw)
    conn, inv = _ledger_with_plan(ws / "state.db", s)  # night 2026-11-25
    mei = inv[inv["staff_id"] == "u_mei"]["customer_id"].tolist()
    lin = inv[inv["staff_id"] == "u_lin"]["customer_id"].tolist()
    for cid in mei[:3]:
        _conversion(conn, cid, "u_mei", "2026-11-26 10:00:00")
    _conversion(conn, lin[0], "u_lin", "2026-11-29 10:00:00")  # too late: after 11-27
    conn.executemany("INSERT INTO wecom_contacts (external_userid, staff, added_at, source, "
                     "first_seen_at, last_seen_at) VALUES (?, ?, ?, 'api', ?, ?)",
                     [(f"wm{i}", "u_mei", "2026-11-26 10:00:00", "x", "x") for i in range(98)])
    conn.commit()
    wecom_add.reconcile(conn, datetime(2026, 11, 30, 8))
    return Workspace.at(ws), s, conn


def test_figures_per_account_agent_and_brand(tmp_path):
    _ws, s, conn = _world(tmp_path)
    acc = scorecard.scorecard(conn, s, date(2026, 11, 30)).set_index("staff_id")
    assert acc.loc["u_mei", ["assigned", "decided", "added", "open"]].tolist() == [6, 6, 3, 0]
    assert acc.loc["u_mei", "add_rate"] == 0.5
    assert acc.loc["u_mei", "friends_held"] == 98 and acc.loc["u_mei", "room_left"] == 2
    assert acc.loc["u_lin", ["assigned", "added"]].tolist() == [4, 0]
    assert acc.loc["u_lin", "add_rate"] == 0.0
    assert acc.loc["u_zhou", "assigned"] == 0 and pd.isna(acc.loc["u_zhou", "add_rate"])
    agents = scorecard.by_agent(acc.reset_index()).set_index("agent")
    assert agents.loc["王测试", "accounts_n"] == 2
    assert agents.loc["王测试", "add_rate"] == 3 / 10  # from the sums, not a mean of rates
    # as of the night itself nothing was decided yet: open requests hold the room
    early = scorecard.scorecard(conn, s, date(2026, 11, 25)).set_index("staff_id")
    assert early.loc["u_mei", ["decided", "added", "open"]].tolist() == [0, 0, 6]
    assert early.loc["u_mei", "friends_held"] == 0  # the adds came later
    conn.close()


def test_sheet_is_sortable_and_shows_brand_and_benchmark(tmp_path):
    ws, _s, conn = _world(tmp_path)
    conn.close()
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("客服绩效")
    brand = scorecard.write(sheet, ws, date(2026, 11, 30), "zh")
    wb.save(tmp_path / "s.xlsx")
    assert brand["assigned"] == 10 and brand["added"] == 3 and brand["add_rate"] == 0.3
    book = load_workbook(tmp_path / "s.xlsx")["客服绩效"]
    rows = [[c for c in r] for r in book.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows, start=1) if r and r[0] == "账号ID")
    assert book.auto_filter.ref == f"A{header}:K{header + 3}"
    assert rows[header][0:6] == ["u_mei", "小美", "王测试", 6, 6, 3]
    brand_row = next(r for r in rows if r and r[0] == "全品牌")
    assert brand_row[3:7] == [10, 10, 3, 0.3]
    assert next(r for r in rows if r and r[0] == "基准添加率")[1] == 0.3
    assert not any("收入" in str(c) for r in rows for c in r if c)  # no revenue column yet
