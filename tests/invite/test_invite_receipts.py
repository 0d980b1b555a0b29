"""`privmigrate receipts import`: the providers' receipt records (Aliyun SmsReport, Tencent
PullSmsSendStatus, a console CSV export) turn sent invitations into delivered /
undelivered, and unknown ones the report lists into accepted or delivered."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.invite import run_invite
from tests.invite.test_invite_reconcile import (
    FAKES,
    NIGHT,
    SEND_AT,
    Clock,
    client,
    planned_workspace,
    statuses,
)

runner = CliRunner()
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def ws(tmp_path):
    return planned_workspace(tmp_path)


def _sent_with_unknowns(ws, provider):
    """Send the night with one lost answer; the look-up cannot settle it (records of
    another day), so those rows stay unknown."""
    clock = Clock(SEND_AT)
    fake = FAKES[provider]().__enter__()
    fake.pass_next()
    fake.drop_next()
    with client(fake, provider) as sms:
        run_invite(ws, NIGHT, now=clock(), send=True, provider=sms, clock=clock)
    return fake


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, SH).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_receipts_settle_sent_and_unknown_invitations(ws, tmp_path, provider):
    fake = _sent_with_unknowns(ws, provider)
    try:
        before = statuses(ws)
        assert before.get("unknown", 0) > 0
        failed = {r["phone"] for r in fake.sent[::5]}
        if provider == "aliyun":
            records = [{"phone_number": r["phone"], "send_time": _when(r["at"]),
                        "report_time": _when(r["at"] + 3), "success": r["phone"] not in failed,
                        "err_code": "MK:0001" if r["phone"] in failed else "DELIVERED",
                        "err_msg": "", "sms_size": "1", "biz_id": r["ref"],
                        "out_id": r["out_id"]} for r in fake.sent]
            report = tmp_path / "smsreport.json"
            report.write_text(json.dumps(records, ensure_ascii=False))
        else:
            records = [{"UserReceiveTime": int(r["at"]) + 3, "CountryCode": "86",
                        "SubscriberNumber": r["phone"], "PhoneNumber": f"+86{r['phone']}",
                        "SerialNo": r["ref"], "Description":
                            "MK:0001" if r["phone"] in failed else "DELIVRD",
                        "ReportStatus": "FAIL" if r["phone"] in failed else "SUCCESS",
                        "SessionContext": r["out_id"]} for r in fake.sent]
            report = tmp_path / "pull.json"
            report.write_text(json.dumps({"Response": {"PullSmsSendStatusSet": records}}))
        stray = tmp_path / "other.json"  # a receipt of a message privmigrate never sent
        stray.write_text(json.dumps([{"phone_number": "13900000009", "success": True,
                                      "out_id": "x", "biz_id": "y"}]))
        result = runner.invoke(app, ["receipts", "import", str(report), str(stray), "--json",
                                     "-w", str(ws.root)])
        assert result.exit_code == 0, result.output
        files = json.loads(result.stdout)["files"]
        assert files[0]["matched"] == len(records) and files[1]["unmatched"] == 1
        after = statuses(ws)
        assert after == {"delivered": len(records) - len(failed), "undelivered": len(failed)}
        with sqlite3.connect(ws.state_db) as db:
            codes = {r[0] for r in db.execute(
                "SELECT receipt_code FROM invitations WHERE status = 'undelivered'")}
        assert codes == {"MK:0001"}
    finally:
        fake.__exit__(None, None, None)


def test_a_console_export_with_chinese_headers(ws, tmp_path):
    fake = _sent_with_unknowns(ws, "aliyun")
    try:
        frame = pd.DataFrame({
            "手机号码": [r["phone"] for r in fake.sent],
            "发送状态": ["发送成功"] * len(fake.sent),
            "状态码": ["DELIVERED"] * len(fake.sent),
            "接收时间": [_when(r["at"]) for r in fake.sent],
            "外部流水号": [r["out_id"] for r in fake.sent],
        })
        path = tmp_path / "发送记录.csv"
        frame.to_csv(path, index=False, encoding="gb18030")
        result = runner.invoke(app, ["receipts", "import", str(path), "-w", str(ws.root)])
        assert result.exit_code == 0, result.output
        assert statuses(ws) == {"delivered": len(fake.sent)}
    finally:
        fake.__exit__(None, None, None)


def test_a_file_that_is_not_a_receipt_report_is_refused(ws, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("订单号,手机号\n1,13800000001\n")
    result = runner.invoke(app, ["receipts", "import", str(path), "-w", str(ws.root)])
    assert result.exit_code == 1 and "no delivery state column" in result.output
