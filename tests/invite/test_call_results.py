"""`privmigrate calls import`: the agents' outcomes move calls from planned to called."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.invite import lifecycle
from privmigrate.ledger import open_ledger, transaction
from privmigrate.workspace import Workspace

runner = CliRunner()
NIGHT = "2026-11-20"
PHONES = {"C1": "13800000001", "C2": "13800000002", "C3": "13800000003"}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace.at(tmp_path / "ws")
    ws.data_dir.mkdir(parents=True)
    pd.DataFrame({"customer_id": list(PHONES), "phone": list(PHONES.values())}).to_parquet(
        ws.customers_path)
    with open_ledger(ws.state_db) as conn, transaction(conn):
        for cid in PHONES:
            conn.execute(
                "INSERT INTO invitations (invitation_id, night, batch_id, campaign, customer_id, "
                "channel, template_id, staff, state, planned_at) VALUES (?, ?, ?, 'winback', ?, "
                "'call', 'call_a', 'advisor01', ?, ?)",
                (f"20261120-call-{cid}", NIGHT, "20261120-call", cid, f"pm261120{cid}",
                 f"{NIGHT} 02:30:00"))
        conn.execute(
            "INSERT INTO invitations (invitation_id, night, batch_id, campaign, customer_id, "
            "channel, template_id, state, planned_at) VALUES ('20261120-sms-C9', ?, "
            "'20261120-sms', 'winback', 'C9', 'sms', 'sms_a', 'sms_a', ?)",
            (NIGHT, f"{NIGHT} 02:30:00"))
    return ws


def _sheet(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append(["phone", "name", "external_ref", "wecom_state",
                      lifecycle.CALL_OUTCOME_HEADERS[0], lifecycle.CALL_NOTE_HEADERS[0],
                      lifecycle.CALL_TIME_HEADERS[0]])
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _calls(ws: Workspace) -> dict[str, tuple]:
    with sqlite3.connect(ws.state_db) as conn:
        rows = conn.execute("SELECT customer_id, status, call_outcome, outcome_note, outcome_at "
                            "FROM invitations WHERE channel = 'call'").fetchall()
    return {r[0]: r[1:] for r in rows}


def _import(ws: Workspace, *paths: Path, extra: tuple[str, ...] = ()):
    return runner.invoke(app, ["calls", "import", *map(str, paths), "-w", str(ws.root),
                               "--as-of", "2026-11-22", "--json", *extra])


def test_the_agents_sheet_records_outcomes(ws, tmp_path):
    path = _sheet(tmp_path / "calls.xlsx", {
        "小美": [["138****0001", "测试甲", "C1", "pm261120C1", "同意加微", "回访 13800000001",
                 "2026-11-21 10:05"],
                ["138****0002", "测试乙", "C2", "pm261120C2", "未接通", None, None]],
        "小林": [["138****0003", "测试丙", "C3", "pm261120C3", None, None, None]],
    })
    result = _import(ws, path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["calls"], summary["blank"]) == (2, 1)
    assert summary["by_outcome"] == {"agreed": 1, "no_answer": 1}
    calls = _calls(ws)
    assert calls["C1"][:2] == ("called", "agreed")
    assert "13800000001" not in calls["C1"][2]  # a phone in the remark is not kept
    assert calls["C1"][3] == "2026-11-21 10:05:00"
    assert calls["C2"][:2] == ("called", "no_answer") and calls["C2"][3]  # import time
    assert calls["C3"][0] == "planned"  # blank row: not called yet
    # a corrected sheet imported again replaces the outcome
    again = _sheet(tmp_path / "again.xlsx", {"小美": [[None, None, "C2", None, "接通", None,
                                                      "2026-11-21 15:00"]]})
    assert _import(ws, again).exit_code == 0
    assert _calls(ws)["C2"][:3] == ("called", "answered", None)


def test_a_bad_outcome_names_file_sheet_row_and_column_and_writes_nothing(ws, tmp_path):
    path = _sheet(tmp_path / "calls.xlsx", {
        "小美": [[None, None, "C1", "pm261120C1", "接通", None, None],
                [None, None, "C2", "pm261120C2", "打不通啦", None, None]]})
    result = _import(ws, path)
    assert result.exit_code == 1
    assert f"{path} sheet 小美 row 3 column 外呼结果" in result.output
    assert "打不通啦" in result.output and "同意加微" in result.output
    assert all(c[0] == "planned" for c in _calls(ws).values())


@pytest.mark.parametrize(("row", "message"), [
    ([None, None, None, "pm261120C7", "接通", None, None], "state 'pm261120C7' is no call"),
    ([None, None, "C9", None, "接通", None, None], "customer 'C9' has no call invitation"),
    ([None, None, "C1", None, "接通", None, "2026-11-23 09:00"], "after the as-of date"),
    ([None, None, "C1", None, "接通", None, "昨天"], "column 外呼时间: '昨天' is not a date"),
])
def test_rows_that_match_no_call_fail_the_import(ws, tmp_path, row, message):
    path = _sheet(tmp_path / "calls.xlsx", {"小美": [row]})
    result = _import(ws, path)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "row 2" in result.output
    assert all(c[0] == "planned" for c in _calls(ws).values())


def test_an_outbound_tool_export_is_matched_by_phone(ws, tmp_path):
    # kf5-style call records: 被叫号码, 是否接通 (0/1), 通话开始时间
    path = tmp_path / "records.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["主叫号码", "被叫号码", "是否接通", "通话时长", "通话开始时间"])
        writer.writerow(["01082167014", "13800000001", "1", "50", "2026-11-21 10:00:00"])
        writer.writerow(["01082167014", "+86 138 0000 0002", "0", "0", "2026-11-21 10:05:00"])
    result = _import(ws, path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["by_method"] == {"phone": 2}
    assert "13800000001" not in result.output
    calls = _calls(ws)
    assert calls["C1"][:2] == ("called", "answered") and calls["C2"][:2] == ("called",
                                                                             "no_answer")


def test_do_not_contact_suppresses_the_number(ws, tmp_path):
    path = _sheet(tmp_path / "calls.xlsx", {"小美": [[None, None, "C1", None, "要求不再联系",
                                                     None, None]]})
    assert _import(ws, path).exit_code == 0
    with sqlite3.connect(ws.state_db) as conn:
        rows = conn.execute("SELECT phone, channel FROM suppressions").fetchall()
    assert rows == [("13800000001", "all")]


def test_dry_run_writes_nothing(ws, tmp_path):
    path = _sheet(tmp_path / "calls.xlsx", {"小美": [[None, None, "C1", None, "接通", None,
                                                     None]]})
    result = _import(ws, path, extra=("--dry-run",))
    assert result.exit_code == 0 and json.loads(result.stdout)["calls"] == 1
    assert _calls(ws)["C1"][0] == "planned"


def test_a_file_without_an_outcome_column_is_refused(ws, tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("external_ref,wecom_state\nC1,pm261120C1\n", encoding="utf-8")
    result = _import(ws, path)
    assert result.exit_code == 1 and "no header row with a call outcome column" in result.output


def test_only_a_called_call_counts_as_an_invitation(ws, tmp_path):
    from privmigrate.track.run import measure_workspace

    before = measure_workspace(ws, pd.Timestamp("2026-11-22").date()).figures
    path = _sheet(tmp_path / "calls.xlsx", {"小美": [[None, None, "C1", None, "接通", None,
                                                     "2026-11-21 10:00"]]})
    assert _import(ws, path).exit_code == 0
    after = measure_workspace(ws, pd.Timestamp("2026-11-22").date()).figures
    assert (before.invited, after.invited) == (0, 1)
