"""Big CSVs are streamed in chunks; the result must be exactly what a whole-file read gives."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest

from privmigrate.ingest import load as load_module
from privmigrate.ingest import readers
from privmigrate.ingest.load import LoadOptions, load_files
from privmigrate.workspace import Workspace


def _load(tmp_path: Path, name: str, files: list[Path], *, streamed: bool,
          monkeypatch: pytest.MonkeyPatch) -> tuple[pd.DataFrame, pd.DataFrame]:
    ws = Workspace.at(tmp_path / name)
    ws.root.mkdir()
    with monkeypatch.context() as m:
        if streamed:
            # every CSV is "big", and chunks are a few rows, so orders straddle chunk edges
            m.setattr(load_module, "STREAM_BYTES", 1)
            m.setattr(load_module, "iter_csv_chunks", functools.partial(
                readers.iter_csv_chunks, rows_per_chunk=7, block_size=512))
        load_files(ws, files, LoadOptions())
    orders = pd.read_parquet(ws.orders_path).sort_values(["source", "order_id"])
    rejects = pd.read_csv(ws.rejects_path, dtype=str, keep_default_na=False)
    return orders.reset_index(drop=True), rejects.sort_values(["file", "row"]).reset_index(
        drop=True)


@pytest.mark.parametrize("key", ["taobao_csv", "douyin", "youzan", "crm"])
def test_streamed_load_equals_whole_file_load(
    key: str, example_exports: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = example_exports[key]
    whole, whole_rejects = _load(tmp_path, "whole", [path], streamed=False,
                                 monkeypatch=monkeypatch)
    streamed, streamed_rejects = _load(tmp_path, "streamed", [path], streamed=True,
                                       monkeypatch=monkeypatch)
    assert len(whole) >= 10
    pd.testing.assert_frame_equal(streamed.drop(columns="customer_id"),
                                  whole.drop(columns="customer_id"))
    # customer ids depend on the workspace secret: compare the grouping instead
    assert (streamed.groupby("customer_id", dropna=True).ngroups
            == whole.groupby("customer_id", dropna=True).ngroups)
    pd.testing.assert_frame_equal(streamed_rejects, whole_rejects)


def test_line_items_split_across_chunks_merge_into_one_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = ["订单编号,原始子订单号,客户网名,收件人,收件人手机,付款时间,货品成交总价,货品名称,"
            "出库单状态"]
    for i in range(30):  # one 30-line order, then singles
        rows.append(f"E1,E1-{i},网名甲,测试甲,13800000001,2026-01-02 10:00:00,1.00,货{i},已发货")
    for i in range(10):
        rows.append(f"E{i + 2},E{i + 2}-1,网名{i},测试{i},1380000010{i},2026-01-03 10:00:00,"
                    f"5.00,货,已发货")
    path = tmp_path / "erp.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    orders, _ = _load(tmp_path, "ws", [path], streamed=True, monkeypatch=monkeypatch)
    big = orders[orders["order_id"] == "E1"]
    assert len(big) == 1 and float(big["amount"].iloc[0]) == 30.0
    assert len(orders) == 11


def test_a_bad_row_in_a_streamed_file_falls_back_with_its_row_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["客户编号,手机号,日期,金额"]
    lines += [f"K{i},1380000{i:04d},2026-01-02,{i}.00" for i in range(40)]
    lines.insert(25, "K99,13800009999,2026-01-02,1.00,extra,fields")  # spreadsheet row 26
    path = tmp_path / "crm.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    orders, rejects = _load(tmp_path, "ws", [path], streamed=True, monkeypatch=monkeypatch)
    assert len(orders) == 40
    assert rejects["row"].tolist() == ["26"]
    assert "too many fields" in rejects["reason"].iloc[0]
