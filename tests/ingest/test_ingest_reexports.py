"""An ERP export that re-exports shop orders: each purchase counts once, buyers link."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.ingest.reexports import reexported_orders
from privmigrate.scoring.customers_io import read_customers
from privmigrate.tables import ORDERS_SCHEMA, SOURCE_DTYPE, read_orders
from privmigrate.workspace import Workspace

PHONE = "13800000001"  # synthetic


def write_taobao(path: Path) -> Path:
    """淘宝 legacy CSV (GBK): phones hidden, as new 淘宝 exports are; T3 fully refunded."""
    pd.DataFrame({
        "订单编号": ['="300000000000000001"', '="300000000000000002"', '="300000000000000003"'],
        "买家会员名": ["tb_测试甲"] * 3,
        "买家实际支付金额": ["100.00", "50.00", "70.00"],
        "订单状态": ["交易成功", "交易成功", "交易关闭"],
        "订单关闭原因": ["", "", "退款"],
        "退款金额": ["0", "0", "70.00"],
        "收货人姓名": ["测试甲"] * 3,
        "收货地址": ["浙江省 杭州市 西湖区 测试路1号"] * 3,
        "联系手机": ["", "", ""],
        "订单创建时间": ["2026-01-01 10:00:00", "2026-02-01 10:00:00", "2026-03-01 10:00:00"],
        "订单付款时间": ["2026-01-01 10:01:00", "2026-02-01 10:01:00", "2026-03-01 10:01:00"],
        "宝贝标题": ["测试商品A"] * 3,
    }).to_csv(path, index=False, encoding="gbk")
    return path


def write_wdt(path: Path) -> Path:
    """旺店通-style ERP export: T1 and T3 re-exported (ERP's own amount and status differ),
    JY9 an order only the ERP has (an offline sale), all with the real phone."""
    pd.DataFrame({
        "客户网名": ["tb_测试甲", "tb_测试甲", "tb_测试甲"],
        "订单编号": ["JY1", "JY3", "JY9"],
        "原始单号": ["300000000000000001", "300000000000000003", ""],
        "收件人": ["测试甲"] * 3,
        "收件人手机": [PHONE] * 3,
        "付款时间": ["2026-01-01 10:01:00", "2026-03-01 10:01:00", "2026-04-01 09:00:00"],
        "货品成交总价": ["99.00", "70.00", "30.00"],
        "出库单状态": ["已发货", "已发货", "已完成"],
        "收货地区": ["浙江省 杭州市 西湖区"] * 3,
    }).to_csv(path, index=False, encoding="utf-8")
    return path


def write_jst(path: Path) -> Path:
    """聚水潭-style ERP export whose 线上订单号 is T2."""
    pd.DataFrame({
        "线上订单号": ["300000000000000002"], "内部订单号": ["88001"], "店铺": ["测试店"],
        "状态": ["已发货"], "订单日期": ["2026-02-01 10:00:00"],
        "付款日期": ["2026-02-01 10:01:00"], "买家账号": ["tb_测试甲"], "收货人": ["测试甲"],
        "收货手机": [PHONE], "已付金额": ["50.00"],
    }).to_csv(path, index=False, encoding="utf-8")
    return path


@pytest.fixture
def exports(tmp_path: Path) -> dict[str, Path]:
    return {"taobao": write_taobao(tmp_path / "ExportOrderList202604.csv"),
            "wdt": write_wdt(tmp_path / "wdt.csv"), "jst": write_jst(tmp_path / "jst.csv")}


def load_and_segment(runner: CliRunner, ws: Workspace, *files: Path) -> dict:
    result = runner.invoke(app, ["load", "-w", str(ws.root), "--json", *map(str, files)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    seg = runner.invoke(app, ["segment", "-w", str(ws.root), "--as-of", "2026-05-01",
                              "--json"])
    assert seg.exit_code == 0, seg.output
    return summary


def test_erp_rows_of_shop_orders_count_once_and_link_the_buyer(
    runner: CliRunner, ws: Workspace, exports: dict[str, Path]
) -> None:
    summary = load_and_segment(runner, ws, exports["taobao"], exports["wdt"], exports["jst"])
    orders = read_orders(ws.orders_path).set_index(["source", "order_id"])
    dup = orders["duplicate_of"]
    assert dup[("erp_wdt", "JY1")] == "taobao" and dup[("erp_wdt", "JY3")] == "taobao"
    assert dup[("erp_jst", "300000000000000002")] == "taobao"
    assert dup.drop([("erp_wdt", "JY1"), ("erp_wdt", "JY3"),
                     ("erp_jst", "300000000000000002")]).isna().all()
    assert orders.loc[("erp_wdt", "JY1"), "platform_order_id"] == "300000000000000001"
    # one person: the 淘宝 rows have no phone and a 淘宝-scoped nick; the ERP rows of the same
    # orders join them to the ERP's nick and phone, and so to the ERP-only order JY9
    assert orders["customer_id"].nunique() == 1
    per_file = {Path(f["file"]).name: f["same_orders"] for f in summary["files"]}
    assert per_file == {"ExportOrderList202604.csv": 3, "wdt.csv": 2, "jst.csv": 1}
    assert summary["reexported"] == 3

    (customer,) = read_customers(ws.customers_path).itertuples()
    # T1 100 + T2 50 from 淘宝 (not the ERP's 99 for T1, not T2 again from 聚水潭), T3 refunded
    # on 淘宝 (the ERP still says 已发货), JY9 30 from the ERP alone
    assert customer.orders == 3
    assert float(customer.total_amount) == 180.0
    assert customer.phone == PHONE and customer.reachable_by_sms


def test_result_does_not_depend_on_which_export_came_first(
    runner: CliRunner, tmp_path: Path, exports: dict[str, Path]
) -> None:
    tables = []
    for name, order in (("a", ["taobao", "wdt", "jst"]), ("b", ["jst", "wdt", "taobao"])):
        ws = Workspace.at(tmp_path / name)
        ws.root.mkdir()
        for key in order:  # one load per export, as a nightly inbox would bring them
            result = runner.invoke(app, ["load", "-w", str(ws.root), str(exports[key])])
            assert result.exit_code == 0, result.output
        seg = runner.invoke(app, ["segment", "-w", str(ws.root), "--as-of", "2026-05-01"])
        assert seg.exit_code == 0, seg.output
        # (ids differ: each workspace has its own secret)
        tables.append(read_customers(ws.customers_path).drop(columns=["customer_id"]))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert tables[0]["orders"].tolist() == [3]


def test_reloading_changes_nothing(runner: CliRunner, ws: Workspace,
                                   exports: dict[str, Path]) -> None:
    load_and_segment(runner, ws, *exports.values())
    first = read_orders(ws.orders_path).sort_values(["source", "order_id"], ignore_index=True)
    summary = load_and_segment(runner, ws, exports["wdt"])
    assert summary["new_orders"] == 0 and summary["files"][0]["same_orders"] == 2
    assert summary["reexported"] == 3  # the whole table's, not just this file's
    again = read_orders(ws.orders_path).sort_values(["source", "order_id"], ignore_index=True)
    pd.testing.assert_frame_equal(first, again)


def test_an_order_table_from_before_these_columns_still_loads_and_scores(
    runner: CliRunner, ws: Workspace, exports: dict[str, Path]
) -> None:
    runner.invoke(app, ["load", "-w", str(ws.root), str(exports["taobao"])])
    old = pq.read_table(ws.orders_path).drop_columns(["platform_order_id", "duplicate_of"])
    pq.write_table(old, ws.orders_path)
    seg = runner.invoke(app, ["segment", "-w", str(ws.root), "--as-of", "2026-05-01"])
    assert seg.exit_code == 0, seg.output
    load_and_segment(runner, ws, exports["wdt"])
    assert pq.read_schema(ws.orders_path).names == ORDERS_SCHEMA.names
    (customer,) = read_customers(ws.customers_path).itertuples()
    assert customer.orders == 3  # T1, T2 from 淘宝 (T3 refunded), JY9


def frame(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    source, order_id, ref = zip(*rows, strict=True)
    return pd.DataFrame({
        "source": pd.Categorical(source, dtype=SOURCE_DTYPE),
        "order_id": pd.array(order_id, dtype="string[pyarrow]"),
        "platform_order_id": pd.array(ref, dtype="string[pyarrow]"),
    })


def test_only_a_number_that_names_one_shop_order_matches() -> None:
    orders = frame([
        ("taobao", "T1", None), ("jd", "X", None), ("douyin", "X", None),  # X: two shops
        ("erp_wdt", "E1", "T1"), ("erp_wdt", "E2", "X"), ("erp_wdt", "E3", "T404"),
        ("erp_jst", "T1", "T1"),  # 聚水潭 keeps the shop's number as its order number too
        ("taobao", "T5", "T1"),  # a shop row is never the re-export
        ("generic", "G1", None),
    ])
    same = reexported_orders(orders)
    assert same.erp_rows.tolist() == [3, 6] and same.shop_rows.tolist() == [0, 0]
    labels = same.duplicate_of(orders)
    assert labels.tolist()[3] == "taobao" and labels.tolist()[6] == "taobao"
    assert labels.isna().sum() == len(orders) - 2


def test_no_erp_rows_means_nothing_to_match() -> None:
    orders = frame([("taobao", "T1", None), ("generic", "G1", None)])
    same = reexported_orders(orders)
    assert len(same.erp_rows) == 0
    assert same.duplicate_of(orders).isna().all()
    assert np.asarray(same.duplicate_of(orders).cat.codes).dtype == np.int8
    assert pa.array(same.duplicate_of(orders)).null_count == 2


def test_the_one_shot_segment_counts_them_once_too(
    runner: CliRunner, ws: Workspace, exports: dict[str, Path]
) -> None:
    # scoring runs on the in-memory table while orders.parquet is written
    result = runner.invoke(app, ["segment", "-w", str(ws.root), "--as-of", "2026-05-01",
                                 "--json", *map(str, exports.values())])
    assert result.exit_code == 0, result.output
    (customer,) = read_customers(ws.customers_path).itertuples()
    assert customer.orders == 3 and float(customer.total_amount) == 180.0
