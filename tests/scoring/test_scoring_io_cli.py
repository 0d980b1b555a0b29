"""customers.parquet I/O, exports for people, and the `segment` command."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scoring_helpers import cid, orders, phone

from privmigrate.cli import app
from privmigrate.scoring import build_customers
from privmigrate.scoring.customers_io import (
    customers_metadata,
    export_customers,
    read_customers,
    write_customers,
)
from privmigrate.scoring.rules import parse_rule
from privmigrate.tables import ORDERS_SCHEMA, write_table_atomic
from privmigrate.workspace import Workspace

ROWS = [
    {"customer": 1, "paid_at": "2026-01-05 10:00", "yuan": 600.01, "phone": phone(1),
     "name": "测试用户001", "product": "保温杯", "source": "taobao"},
    {"customer": 1, "paid_at": "2026-02-05 10:00", "yuan": 600, "phone": phone(1),
     "source": "jd"},
    {"customer": 2, "paid_at": "2025-06-01 10:00", "yuan": 80},
    {"customer": 3, "paid_at": "2026-03-01 10:00", "yuan": 20, "phone": phone(3),
     "source": "youzan", "wecom_friend": True},
    {"customer": 4, "paid_at": "2026-03-02 10:00", "yuan": 99, "status": "refunded"},
]


def write_orders(ws: Workspace, rows: list[dict] = ROWS) -> None:
    frame = orders(rows)
    arrays = []
    for fld in ORDERS_SCHEMA:
        if fld.name == "amount":
            fen = frame["amount_fen"]
            arrays.append(pa.array([f / 100 for f in fen]).cast(pa.decimal128(18, 2)))
        elif fld.name in frame:
            arrays.append(pa.array(frame[fld.name], type=fld.type, from_pandas=True))
        else:
            arrays.append(pa.nulls(len(frame), fld.type))
    write_table_atomic(pa.Table.from_arrays(arrays, schema=ORDERS_SCHEMA), ws.orders_path)


def test_write_and_read_back_exactly(tmp_path: Path):
    c = build_customers(orders(ROWS), rules=[parse_rule("复购", "orders >= 2")])
    path = tmp_path / "customers.parquet"
    write_customers(c, path, split="mean")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pq.read_schema(path).field("total_amount").type == pa.decimal128(18, 2)
    back = read_customers(path)
    pd.testing.assert_frame_equal(back, c)
    assert back.attrs["as_of"] == date(2026, 3, 1)
    assert customers_metadata(path)["segments"][0] == "复购"
    assert str(pq.read_table(path, columns=["total_amount"])[0][0]) == "1200.01"


def test_read_customers_of_an_empty_table(tmp_path: Path):
    c = build_customers(orders(ROWS), as_of=date(2020, 1, 1))
    write_customers(c, tmp_path / "c.parquet")
    assert read_customers(tmp_path / "c.parquet").empty


def test_csv_export_masks_phones_unless_revealed(tmp_path: Path):
    c = build_customers(orders(ROWS))
    out = tmp_path / "客户.csv"
    assert export_customers(c, out) == 3
    text = out.read_text(encoding="utf-8-sig")
    assert "138****0001" in text and phone(1) not in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert list(frame.columns[:5]) == ["客户ID", "手机号", "手机状态", "姓名", "来源平台"]
    assert frame.set_index("客户ID").loc[cid(1), "来源平台"] == "jd、taobao"
    export_customers(c, out, reveal_phones=True)
    assert phone(1) in out.read_text(encoding="utf-8-sig")


def test_xlsx_export_has_a_frozen_header_and_masked_phones(tmp_path: Path):
    c = build_customers(orders(ROWS))
    out = tmp_path / "客户.xlsx"
    export_customers(c, out)
    sheet = openpyxl.load_workbook(out).active
    assert sheet.freeze_panes == "A2"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:2] == ["客户ID", "手机号"]
    flat = [str(v) for row in values for v in row]
    assert "138****0001" in flat and phone(1) not in flat
    assert len(values) == 4


def test_segment_command_on_a_workspace(ws: Workspace, runner, tmp_path: Path):
    write_orders(ws)
    result = runner.invoke(app, ["segment", "-w", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    # the one as-of rule: today in Asia/Shanghai, not the latest order's date
    from privmigrate.clock import shanghai_now

    assert payload["customers"] == 3 and payload["as_of"] == shanghai_now().date().isoformat()
    assert payload["in_private_domain"] == 1 and payload["reachable_by_sms"] == 2
    assert sum(s["customers"] for s in payload["segments"]) == 3
    assert {"segment", "customers", "share", "revenue_share", "mean_orders", "mean_spend",
            "median_recency"} <= set(payload["segments"][0])
    customers = read_customers(ws.customers_path)
    assert set(customers["customer_id"]) == {cid(1), cid(2), cid(3)}
    assert phone(1) not in result.output


def test_segment_command_prints_a_table_and_writes_output(ws: Workspace, runner, tmp_path):
    write_orders(ws)
    out = tmp_path / "客户.csv"
    result = runner.invoke(app, ["segment", "-w", str(ws.root), "--as-of", "2026-03-31",
                                 "--split", "median", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "Segments as of 2026-03-31 (split: median)" in result.output
    assert "重要" in result.output or "一般" in result.output
    assert "138****0001" in out.read_text(encoding="utf-8-sig")
    assert phone(1) not in result.output
    assert customers_metadata(ws.customers_path)["split"] == "median"


def test_segment_uses_rules_from_config_and_names_a_bad_rule(ws: Workspace, runner):
    write_orders(ws)
    ws.config_path.write_text(
        '[[segment.rules]]\nname = "复购"\nwhen = "orders >= 2"\n', encoding="utf-8")
    result = runner.invoke(app, ["segment", "-w", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["segments"][0]["segment"] == "复购"
    ws.config_path.write_text(
        '[[segment.rules]]\nname = "复购"\nwhen = "ordrs >= 2"\n', encoding="utf-8")
    result = runner.invoke(app, ["segment", "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "复购" in result.output and "unknown column 'ordrs'" in result.output


def test_segment_reads_conversions_from_the_ledger(ws: Workspace, runner):
    write_orders(ws)
    conn = sqlite3.connect(ws.state_db)
    conn.execute("CREATE TABLE conversions (customer_id TEXT, added_at TEXT)")
    conn.execute("INSERT INTO conversions VALUES (?, '2026-03-02')", (cid(2),))
    conn.commit()
    conn.close()
    result = runner.invoke(app, ["segment", "-w", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    c = read_customers(ws.customers_path).set_index("customer_id")
    assert c.loc[cid(2), "in_private_domain"] and c.loc[cid(3), "in_private_domain"]
    assert not c.loc[cid(1), "in_private_domain"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--as-of", "2026-13-01"], 1, "--as-of '2026-13-01' is not a date"),
    (["--split", "mode"], 2, "mean or median"),
    (["--output", "x.pdf"], 2, ".csv or .xlsx"),
    (["--as-of", "2020-01-01"], 1, "no paid orders"),
])
def test_segment_option_errors(ws: Workspace, runner, args, code, message):
    write_orders(ws)
    result = runner.invoke(app, ["segment", "-w", str(ws.root), *args])
    assert result.exit_code == code
    assert message in result.output


def test_segment_without_orders_says_to_load_first(ws: Workspace, runner):
    result = runner.invoke(app, ["segment", "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "privmigrate load" in result.output


def test_segment_loads_raw_exports_first(ws: Workspace, runner, example_exports):
    files = [str(example_exports[k]) for k in ("taobao_csv", "youzan", "youzan_customers", "jd")]
    result = runner.invoke(app, ["segment", *files, "-w", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["load"]["orders_total"] > 0
    assert payload["customers"] > 0
    customers = read_customers(ws.customers_path)
    assert len(customers) == payload["customers"]
    assert customers["customer_id"].is_unique
    assert (customers["orders"] >= 1).all()


def test_segment_with_a_generic_csv_and_maps(ws: Workspace, runner, tmp_path: Path):
    csv = tmp_path / "crm.csv"
    csv.write_text(
        "单号,客户,手机,时间,钱,状态\n"
        f"A1,会员1,{phone(1)},2026-01-01 10:00:00,10.50,交易成功\n"
        f"A2,会员1,{phone(1)},2026-01-01 10:00:00,20.00,交易成功\n"
        f"A3,会员2,{phone(2)},2026-01-03 10:00:00,5.00,交易成功\n",
        encoding="utf-8",
    )
    maps = ["--map", "order_id=单号", "--map", "buyer_id=客户", "--map", "phone=手机",
            "--map", "paid_at=时间", "--map", "amount=钱", "--map", "status=状态"]
    result = runner.invoke(app, ["segment", str(csv), *maps, "-w", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    c = read_customers(ws.customers_path)
    assert sorted(c["orders"]) == [1, 2] and sorted(c["total_fen"]) == [500, 3050]


def test_help_has_an_example(runner):
    result = runner.invoke(app, ["segment", "--help"])
    assert result.exit_code == 0 and "Example: privmigrate segment" in result.output


def test_decimal_fen_reads_exact_fen_with_nulls_negatives_and_slices():
    from decimal import Decimal

    from privmigrate.scoring.customers_io import decimal_fen

    values = [Decimal("12.34"), None, Decimal("-0.01"), Decimal("9999999999999999.99")]
    arr = pa.chunked_array([pa.array(values, type=pa.decimal128(18, 2)).slice(1),
                            pa.array([Decimal("1.00")], type=pa.decimal128(18, 2))])
    assert decimal_fen(arr).tolist() == [0, -1, 999999999999999999, 100]


def test_one_shot_segment_scores_the_loaded_table_like_a_reread(ws: Workspace, runner,
                                                                 tmp_path: Path):
    """`segment FILE` hands load's in-memory table to scoring; the result must be the same
    as scoring orders.parquet read back (a later `segment` without files)."""
    csv = tmp_path / "crm.csv"
    lines = ["单号,客户,手机,时间,钱,状态"]
    for i in range(60):
        who = i % 7
        tel = phone(who) if who % 3 else ("138****0001" if who else "")
        status = "已退款" if i % 11 == 0 else "交易成功"
        lines.append(f"A{i},会员{who},{tel},2026-01-{1 + i % 28:02d} 10:00:00,{i}.5,{status}")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    maps = ["--map", "order_id=单号", "--map", "buyer_id=客户", "--map", "phone=手机",
            "--map", "paid_at=时间", "--map", "amount=钱", "--map", "status=状态"]
    first = runner.invoke(app, ["segment", str(csv), *maps, "-w", str(ws.root), "--json"])
    assert first.exit_code == 0, first.output
    one_shot = read_customers(ws.customers_path)
    again = runner.invoke(app, ["segment", "-w", str(ws.root), "--json"])
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(one_shot, read_customers(ws.customers_path))
    assert json.loads(first.output)["load"]["orders_total"] == 60
    assert len(one_shot) == 7  # 会员0 … 会员6


def test_one_shot_segment_of_several_platforms_matches_a_reread(ws: Workspace, runner,
                                                                example_exports):
    files = [str(example_exports[k]) for k in ("taobao_csv", "youzan", "youzan_customers", "jd")]
    first = runner.invoke(app, ["segment", *files, "-w", str(ws.root), "--json"])
    assert first.exit_code == 0, first.output
    one_shot = read_customers(ws.customers_path)
    again = runner.invoke(app, ["segment", "-w", str(ws.root), "--json"])
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(one_shot, read_customers(ws.customers_path))


def test_xlsx_export_reads_well_and_keeps_names_as_text(tmp_path: Path):
    c = build_customers(orders(ROWS))
    c["name"] = c["name"].astype(object)
    c.loc[c.index[0], "name"] = '=HYPERLINK("http://x","点我")'
    out = tmp_path / "客户.xlsx"
    export_customers(c, out)
    sheet = openpyxl.load_workbook(out).active
    header = [cell.value for cell in sheet[1]]
    name_col = header.index("姓名") + 1
    name_cell = sheet.cell(row=2, column=name_col)
    assert name_cell.data_type == "s" and name_cell.value.startswith("=HYPERLINK")
    statuses = {sheet.cell(row=r, column=header.index("手机状态") + 1).value
                for r in range(2, sheet.max_row + 1)}
    assert statuses <= {"有效", "已脱敏", "虚拟号", "无效", "缺失"} and statuses
    assert sheet.column_dimensions["A"].width and sheet.column_dimensions["A"].width > 10


def test_one_shot_segment_without_paid_orders_still_completes_the_load(ws: Workspace, runner,
                                                                       tmp_path: Path):
    """Scoring runs while orders.parquet is written; when scoring fails the load still
    lands whole (orders, ledger) and no customers.parquet appears."""
    csv = tmp_path / "unpaid.csv"
    csv.write_text("单号,客户,时间,钱,状态\nU1,会员1,2026-01-02 10:00:00,5,已退款\n"
                   "U2,会员2,2026-01-03 10:00:00,6,已退款\n", encoding="utf-8")
    maps = ["--map", "order_id=单号", "--map", "buyer_id=客户", "--map", "paid_at=时间",
            "--map", "amount=钱", "--map", "status=状态"]
    result = runner.invoke(app, ["segment", str(csv), *maps, "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "no paid orders" in result.output
    assert pq.read_table(ws.orders_path).num_rows == 2
    assert not ws.customers_path.exists()
    with sqlite3.connect(ws.state_db) as conn:
        assert conn.execute("SELECT count(*) FROM loaded_files").fetchone()[0] == 1


def test_load_runs_the_caller_s_work_while_writing_and_reports_its_error(ws: Workspace,
                                                                           tmp_path: Path):
    from privmigrate.ingest.load import LoadOptions, load_files

    csv = tmp_path / "crm.csv"
    csv.write_text("单号,客户,时间,钱\nA1,会员1,2026-01-02 10:00:00,5\n"
                   "A2,会员1,2026-01-03 10:00:00,7\n", encoding="utf-8")
    options = LoadOptions(mapping={"order_id": "单号", "buyer_id": "客户", "paid_at": "时间",
                                   "amount": "钱"})
    seen = []

    def scoring(kept):
        seen.append((len(kept.orders), int(kept.orders["amount_fen"].sum()),
                     len(set(kept.customer_codes.tolist()))))
        return "scored"

    summary = load_files(ws, [csv], options, while_writing=scoring)
    assert seen == [(2, 1200, 1)] and summary.during_write == "scored"
    assert summary.during_write_error is None
    assert pq.read_table(ws.orders_path).num_rows == 2

    def broken(kept):
        raise ValueError("scoring broke")

    again = load_files(ws, [csv], options, while_writing=broken)
    assert isinstance(again.during_write_error, ValueError)
    assert pq.read_table(ws.orders_path).num_rows == 2 and again.orders_total == 2
