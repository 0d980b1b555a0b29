"""`privmigrate load` end to end through the CLI: summary, --json, rejects, idempotence."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.tables import ORDERS_SCHEMA, read_orders
from privmigrate.workspace import Workspace

PHONE_RE = re.compile(r"1[3-9]\d{9}")


def load(runner: CliRunner, ws: Workspace, *args: str | Path) -> object:
    return runner.invoke(app, ["load", "-w", str(ws.root), *map(str, args)])


def _content(ws: Workspace) -> pd.DataFrame:
    orders = read_orders(ws.orders_path)
    return orders.sort_values(["source", "order_id"]).reset_index(drop=True)


def test_loading_every_platform_prints_a_summary_without_phone_numbers(
    runner: CliRunner, ws: Workspace, example_exports: dict[str, Path]
) -> None:
    result = load(runner, ws, *example_exports.values())
    assert result.exit_code == 0, result.output
    out = result.stdout + result.stderr
    assert "Loaded exports" in result.stderr
    for platform in ("taobao", "jd", "youzan", "douyin", "pdd", "erp_wdt", "erp_jst", "generic"):
        assert platform in result.stderr
    assert "no buyer key" in result.stderr  # the 拼多多 note
    assert "rows rejected" in result.stderr and "rejects.csv" in result.stderr
    assert not PHONE_RE.search(out)
    orders = read_orders(ws.orders_path)
    assert pq.read_schema(ws.orders_path).equals(ORDERS_SCHEMA, check_metadata=False)
    assert set(orders["source"]) == {"taobao", "jd", "youzan", "youzan_customers", "douyin",
                                     "pdd", "wechat_shop", "erp_wdt", "erp_jst", "generic"}
    assert set(orders["status"]) <= {"paid", "refunded", "cancelled", "unpaid"}
    assert not orders.duplicated(["source", "order_id"]).any()
    # 淘宝 and 有赞 share buyers through their phones
    both = orders[orders["source"].isin(["taobao", "youzan"])].groupby("customer_id")["source"]
    assert (both.nunique() > 1).any()


def test_json_summary_shape(runner: CliRunner, ws: Workspace,
                            example_exports: dict[str, Path]) -> None:
    result = load(runner, ws, example_exports["youzan"], example_exports["pdd"], "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) >= {"files", "orders_total", "customers_total", "new_orders",
                            "rejects_path", "orders_path"}
    youzan, pdd = payload["files"]
    assert youzan["source"] == "youzan" and pdd["source"] == "pdd"
    assert set(youzan) >= {"file", "source", "encoding", "rows", "loaded", "rejected",
                           "summary_rows", "unlinked", "paid", "phone_status", "note"}
    assert youzan["encoding"] == "utf-8" and pdd["encoding"] is None
    assert pdd["unlinked"] == pdd["loaded"] > 0 and "no buyer key" in pdd["note"]
    assert payload["orders_total"] == payload["new_orders"] == youzan["loaded"] + pdd["loaded"]
    assert sum(youzan["phone_status"].values()) == youzan["loaded"]
    assert "Loaded exports" not in result.stderr
    assert not PHONE_RE.search(result.stdout + result.stderr)


def test_rejects_csv_names_file_row_column_and_reason(
    runner: CliRunner, ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(
        "客户编号,手机号,日期,金额,状态\n"
        "M1,13800000001,2026-01-02,10.00,已完成\n"
        "M2,13800000002,2026-01-02,10.00,已完成,多余\n"  # row 3: too many fields
        "M3,13800000003,2026-01-02,12,3x,已完成\n"  # row 4: the comma split the amount
        "M4,13800000004,昨天,10.00,已完成\n"  # row 5: not a time
        "M5,13800000005,2026-01-02,abc,已完成\n",  # row 6: not an amount
        encoding="utf-8")
    result = load(runner, ws, path)
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(ws.rejects_path, dtype=str, encoding="utf-8-sig").fillna("")
    assert list(rejects.columns) == ["file", "row", "column", "reason"]
    got = {(r.file, int(r.row), r.column) for r in rejects.itertuples()}
    assert got == {("crm.csv", 3, ""), ("crm.csv", 4, ""), ("crm.csv", 5, "日期"),
                   ("crm.csv", 6, "金额")}
    reasons = dict(zip(rejects["row"].astype(int), rejects["reason"], strict=True))
    assert "too many fields" in reasons[3]
    assert reasons[5] == "'昨天' is not a date/time"
    assert reasons[6] == "'abc' is not an amount"
    assert len(read_orders(ws.orders_path)) == 1


def test_reloading_the_same_or_an_overlapping_export_changes_nothing(
    runner: CliRunner, ws: Workspace, example_exports: dict[str, Path], tmp_path: Path
) -> None:
    files = [example_exports[k] for k in ("taobao_csv", "taobao_xlsx", "youzan", "crm", "douyin")]
    assert load(runner, ws, *files).exit_code == 0
    before = _content(ws)
    again = load(runner, ws, *files, "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["new_orders"] == 0
    pd.testing.assert_frame_equal(_content(ws), before)
    # the same file under another name, and the 千牛 xlsx again (it overlaps the legacy CSV)
    copy = tmp_path / "youzan_again.csv"
    shutil.copy(example_exports["youzan"], copy)
    assert load(runner, ws, copy, example_exports["taobao_xlsx"]).exit_code == 0
    pd.testing.assert_frame_equal(_content(ws), before)


def test_the_overlapping_taobao_exports_share_orders(
    runner: CliRunner, ws: Workspace, example_exports: dict[str, Path]
) -> None:
    one = json.loads(load(runner, ws, example_exports["taobao_csv"], "--json").stdout)
    two = json.loads(load(runner, ws, example_exports["taobao_xlsx"], "--json").stdout)
    loaded_xlsx = two["files"][0]["loaded"]
    assert 0 < two["new_orders"] < loaded_xlsx  # some xlsx orders were already in the CSV
    assert two["orders_total"] == one["orders_total"] + two["new_orders"]


def test_output_files_are_owner_only(runner: CliRunner, ws: Workspace,
                                    example_exports: dict[str, Path]) -> None:
    assert load(runner, ws, example_exports["taobao_csv"]).exit_code == 0
    for path in (ws.orders_path, ws.rejects_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_help_has_an_example(runner: CliRunner) -> None:
    result = runner.invoke(app, ["load", "--help"])
    assert result.exit_code == 0
    assert "Example: privmigrate load" in result.stdout


def test_rejects_in_a_workbook_name_the_sheet_and_count_the_title_line(
    runner: CliRunner, ws: Workspace, tmp_path: Path
) -> None:
    from privmigrate.examples import Sheet, write_xlsx

    frame = pd.DataFrame({
        "线上订单号": ["J1", "J2", "J3"], "内部订单号": ["1", "2", "3"],
        "状态": ["已发货", "已发货", "已发货"],
        "付款日期": ["2026-01-02 10:00:00", "2026-01-02 10:00:00", "2026-01-02 10:00:00"],
        "买家账号": ["jst_测试1", "jst_测试2", "jst_测试3"], "已付金额": ["1.00", "1.0x", "3.00"],
    })
    path = write_xlsx(tmp_path / "jst.xlsx", [Sheet("原始数据", frame, title="订单导出")])
    result = load(runner, ws, path, "--json")
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(ws.rejects_path, dtype=str, encoding="utf-8-sig")
    assert rejects[["file", "row", "column"]].values.tolist() == [
        ["jst.xlsx[原始数据]", "4", "已付金额"]]


def test_rejects_of_other_files_survive_and_reloads_do_not_repeat_them(
    runner: CliRunner, ws: Workspace, example_exports: dict[str, Path]
) -> None:
    taobao, youzan = example_exports["taobao_csv"], example_exports["youzan"]
    assert load(runner, ws, taobao).exit_code == 0
    first = pd.read_csv(ws.rejects_path, dtype=str, encoding="utf-8-sig")
    assert len(first) >= 1 and set(first["file"]) == {taobao.name}
    assert load(runner, ws, youzan).exit_code == 0
    assert load(runner, ws, taobao, taobao).exit_code == 0  # the same file twice in one load
    again = pd.read_csv(ws.rejects_path, dtype=str, encoding="utf-8-sig")
    pd.testing.assert_frame_equal(again, first)
    orders = read_orders(ws.orders_path)
    assert not orders.duplicated(["source", "order_id"]).any()


class RecordedProgress:
    """A Progress that writes down what the library reports."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, label: str, total: int | None = None) -> None:
        self.events.append(("start", label, total))

    def advance(self, amount: int = 1) -> None:
        self.events.append(("advance", amount))

    def finish(self) -> None:
        self.events.append(("finish",))


def test_load_reports_each_phase_of_its_work(ws: Workspace,
                                             example_exports: dict[str, Path]) -> None:
    from privmigrate.ingest.load import load_files

    progress = RecordedProgress()
    load_files(ws, [example_exports["taobao_csv"], example_exports["jd"]], progress=progress)
    assert [e[1:] for e in progress.events if e[0] == "start"] == [
        ("reading exports", 2), ("linking buyers into customers", None),
        ("writing orders.parquet", None)]
    assert progress.events.count(("advance", 1)) == 2
    assert progress.events[-1] == ("finish",)


def test_the_terminal_bar_stays_up_between_pieces_of_work() -> None:
    from privmigrate.cli.common import RichProgressAdapter

    bar = RichProgressAdapter()
    try:
        bar.start("reading exports", total=2)
        bar.advance()
        bar.finish()
        bar.start("writing orders.parquet")
        assert bar._bar.live.is_started
        assert [t.description for t in bar._bar.tasks] == ["writing orders.parquet"]
    finally:
        bar.close()
    assert not bar._bar.live.is_started
