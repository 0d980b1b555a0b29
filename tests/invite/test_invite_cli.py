"""`privmigrate invite` and `privmigrate suppress` through the real CLI app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from tests.invite import invite_world as w

runner = CliRunner()
NIGHT_ENV = {"PRIVMIGRATE_NOW": "2026-11-25T02:00"}


@pytest.fixture
def ws(tmp_path):
    return w.workspace(tmp_path / "ws", frame=w.customers(300))


def _invite(ws, *args, env=NIGHT_ENV):
    return runner.invoke(app, ["invite", "-w", str(ws), *args], env=env)


def test_help_has_an_example():
    for cmd in (["invite"], ["suppress"], ["suppress", "import"], ["suppress", "add"]):
        result = runner.invoke(app, [*cmd, "--help"])
        assert result.exit_code == 0
        assert "Example: privmigrate" in result.output


def test_invite_json_then_rerun_reuses(ws):
    first = _invite(ws, "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["night"] == "2026-11-25" and data["invited"] > 0 and data["reused"] is False
    assert (ws / "batches" / "2026-11-25" / "sms.csv").exists()
    again = _invite(ws, "--json", "--date", "2026-11-25")
    assert json.loads(again.stdout)["reused"] is True


def test_dry_run_prints_counts_without_phones(ws):
    result = _invite(ws, "--dry-run", "--date", "2026-11-27")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "invitations:" in result.output
    assert "1380" not in result.output
    assert not (ws / "batches").exists()


def test_send_outside_the_window_exits_1_and_says_when_it_opens(ws):
    result = _invite(ws, "--send", env={"PRIVMIGRATE_NOW": "2026-11-25T07:59"})
    assert result.exit_code == 1
    assert "opens at 2026-11-25 09:00" in result.output
    assert "--date 2026-11-25" in result.output
    assert not (ws / "batches").exists()


def test_bad_date_is_a_user_error(ws):
    result = _invite(ws, "--date", "25/11/2026")
    assert result.exit_code == 1 and "YYYY-MM-DD" in result.output


def test_a_second_concurrent_run_exits_5(ws):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from privmigrate.workspace import Workspace\n"
         "with Workspace.at(sys.argv[1]).lock('test'):\n"
         "    print('locked', flush=True)\n"
         "    time.sleep(60)\n", str(ws)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = _invite(ws)
        assert result.exit_code == 5
        assert "in use by another privmigrate run" in result.output
        assert not (ws / "batches").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _invite(ws).exit_code == 0


def test_missing_customers_is_a_clear_error(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    w.write_toml(w.config(), root / "privmigrate.toml")
    result = _invite(root)
    assert result.exit_code == 1 and "privmigrate segment" in result.output


# --- suppress ------------------------------------------------------------------------------


def _suppress(ws, *args):
    return runner.invoke(app, ["suppress", *args, "-w", str(ws)], env=NIGHT_ENV)


def test_suppress_add_list_remove(ws):
    added = _suppress(ws, "add", w.phone(1), "+86 138-0000-0002", "12345", "--channel", "sms",
                      "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"added": 2, "already": 0, "invalid": 1}
    listed = _suppress(ws, "list", "--json")
    rows = json.loads(listed.stdout)["suppressions"]
    assert [r["phone"] for r in rows] == ["138****0001", "138****0002"]
    assert rows[0]["channel"] == "sms" and rows[0]["reason"] == "manual"
    assert w.phone(1) not in listed.output
    full = _suppress(ws, "list", "--full", "--json")
    assert w.phone(1) in full.stdout
    removed = _suppress(ws, "remove", w.phone(1), "--json")
    assert json.loads(removed.stdout)["removed"] == 1
    assert json.loads(_suppress(ws, "list", "--json").stdout)["count"] == 1
    bad = _suppress(ws, "add", w.phone(3), "--channel", "email")
    assert bad.exit_code == 1 and "sms, call or all" in bad.output


def test_import_aliyun_reply_json_adds_only_unsubscribers(ws, tmp_path):
    report = tmp_path / "smsup.json"
    report.write_text(json.dumps([
        {"phone_number": w.phone(10), "content": "R", "sign_name": "测试旗舰店"},
        {"phone_number": w.phone(11), "content": "好的谢谢"},
        {"phone_number": w.phone(12), "content": " ｒ "},
        {"phone_number": w.phone(13), "content": "退订"},
    ], ensure_ascii=False))
    result = _suppress(ws, "import", str(report), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 3
    rows = json.loads(_suppress(ws, "list", "--full", "--json").stdout)["suppressions"]
    assert sorted(r["phone"] for r in rows) == [w.phone(10), w.phone(12), w.phone(13)]
    assert {r["source"] for r in rows} == {"smsup.json"}


def test_import_tencent_pull_reply_and_console_csv(ws, tmp_path):
    tencent = tmp_path / "pull.json"
    tencent.write_text(json.dumps({"Response": {"PullSmsReplyStatusSet": [
        {"PhoneNumber": "+86" + w.phone(20), "ReplyContent": "R", "SignName": "测试旗舰店"},
        {"PhoneNumber": "+86" + w.phone(21), "ReplyContent": "?"},
    ]}}))
    assert json.loads(_suppress(ws, "import", str(tencent), "--json").stdout)["added"] == 1
    console = tmp_path / "上行记录.csv"
    console.write_text("手机号码,回复内容,回复时间\n"
                       f"{w.phone(30)},TD,2026-11-25 10:00:00\n"
                       f"{w.phone(31)},在吗,2026-11-25 10:01:00\n", encoding="gb18030")
    assert json.loads(_suppress(ws, "import", str(console), "--json").stdout)["added"] == 1
    plain = tmp_path / "list.txt"
    plain.write_text(f"{w.phone(40)}\n{w.phone(41)}\n")
    out = _suppress(ws, "import", str(plain), "--channel", "all", "--json")
    assert json.loads(out.stdout)["added"] == 2


def test_suppressed_number_is_never_invited(ws):
    frame = w.customers(300)
    everyone = frame.loc[frame["phone_status"] == "valid", "phone"].tolist()
    keep = everyone[::2]
    result = runner.invoke(app, ["suppress", "add", *keep, "-w", str(ws), "--json"])
    assert result.exit_code == 0
    assert _invite(ws).exit_code == 0
    import pandas as pd
    from openpyxl import load_workbook

    sms = pd.read_csv(ws / "batches" / "2026-11-25" / "sms.csv", dtype=str,
                      encoding="utf-8-sig")
    calls = load_workbook(ws / "batches" / "2026-11-25" / "calls.xlsx")
    called = {row[0] for sheet in calls.worksheets
              for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert len(sms) > 0 and not set(keep) & (set(sms["phone"]) | called)


def test_send_without_sms_needs_no_provider_credentials(tmp_path):
    raw = w.config(channels=["call"])
    raw["invite"]["templates"] = [t for t in raw["invite"]["templates"] if t["channel"] == "call"]
    raw["invite"]["sms"] = {"provider": "aliyun"}
    ws = w.workspace(tmp_path / "calls", raw, w.customers(100))
    result = _invite(ws, "--send", "--json", env={"PRIVMIGRATE_NOW": "2026-11-25T10:00"})
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["by_channel"] == {"sms": 0, "call": out["invited"], "wecom_add": 0}
    assert out["invited"] > 0
    assert out["send"]["attempted"] == 0


def test_send_with_sms_but_no_credentials_says_which_variable(ws, monkeypatch):
    for name in ("PRIVMIGRATE_ALIYUN_ACCESS_KEY_ID", "PRIVMIGRATE_ALIYUN_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = _invite(ws, "--send", env={"PRIVMIGRATE_NOW": "2026-11-25T10:00"})
    assert result.exit_code == 1
    assert "PRIVMIGRATE_ALIYUN_ACCESS_KEY_ID" in result.output


def test_suppress_import_refuses_a_wide_file_without_replies(tmp_path) -> None:
    """An order export given by mistake must not suppress every buyer in it."""
    from typer.testing import CliRunner

    from privmigrate.cli import app

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "privmigrate.toml").write_text("", encoding="utf-8")
    export = tmp_path / "orders.csv"
    export.write_text("订单号,手机号,金额\n1,13800000001,10\n2,13800000002,20\n", encoding="utf-8")
    runner = CliRunner()
    refused = runner.invoke(app, ["suppress", "import", str(export), "-w", str(ws)])
    assert refused.exit_code == 1 and "--plain-list" in refused.output
    listed = runner.invoke(app, ["suppress", "list", "-w", str(ws), "--json"])
    assert '"count": 0' in listed.output
    accepted = runner.invoke(app, ["suppress", "import", str(export), "--plain-list",
                                   "-w", str(ws), "--json"])
    assert accepted.exit_code == 0 and '"added": 2' in accepted.output
