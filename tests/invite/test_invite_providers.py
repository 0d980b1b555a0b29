"""`invite --send` over real sockets against the Aliyun and Tencent fake servers.

The fakes verify each request's signature and count deliveries per phone, also across
processes: a run killed with SIGKILL in the middle of a provider call, then rerun, must
deliver every planned message exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from tests.fakes.aliyun_sms import FakeAliyunSms
from tests.fakes.tencent_sms import FakeTencentSms
from tests.invite import invite_world as w

runner = CliRunner()
SEND_NOW = "2026-11-25T10:00"
FAKES = {"aliyun": FakeAliyunSms, "tencent": FakeTencentSms}


def _workspace(root: Path, fake, *, n: int = 300, sms: int = 40, timeout: float = 5,
               attempts: int = 2) -> Path:
    raw = w.config(daily_limit=sms + 10, budgets={"call": 10, "sms": sms})
    raw["invite"]["staff"] = [{"id": "a", "name": "小美", "daily_capacity": sms + 10}]
    raw["invite"]["sms"] = {**fake.config(), "timeout_seconds": timeout,
                            "max_attempts": attempts}
    return w.workspace(root, raw, w.customers(n))


def _env(fake) -> dict[str, str]:
    return {**fake.env(), "PRIVMIGRATE_NOW": SEND_NOW}


def _sms_phones(ws: Path) -> list[str]:
    sms = pd.read_csv(ws / "batches" / "2026-11-25" / "sms.csv", dtype=str, encoding="utf-8-sig")
    return sms["phone"].tolist()


def _statuses(ws: Path) -> dict[str, int]:
    with sqlite3.connect(ws / "state.db") as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM invitations WHERE channel='sms' "
                               "GROUP BY status").fetchall())


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_send_through_the_provider_fake(tmp_path, provider):
    with FAKES[provider](sign_names={"测试旗舰店"}, templates={"SMS_100001", "SMS_100002"}) as fake:
        ws = _workspace(tmp_path / "ws", fake)
        result = runner.invoke(app, ["invite", "--send", "--json", "-w", str(ws)],
                               env=_env(fake))
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        phones = _sms_phones(ws)
        assert out["send"]["accepted"] == len(phones) > 0
        assert fake.rejected_auth == []  # every request's signature verified
        assert sorted(fake.delivered) == sorted(phones)
        assert set(fake.delivered.values()) == {1}
        assert _statuses(ws) == {"accepted": len(phones)}
        # params reach the provider exactly as rendered (Aliyun: JSON per number)
        if provider == "aliyun":
            assert fake.requests[0]["action"] == "SendBatchSms"
        assert "1380" not in result.output.replace(result.stdout, "")


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_blacklisted_number_is_recorded_and_suppressed(tmp_path, provider):
    code = {"aliyun": "isv.BLACK_KEY_CONTROL_LIMIT",
            "tencent": "FailedOperation.PhoneNumberInBlacklist"}[provider]
    with FAKES[provider]() as fake:
        ws = _workspace(tmp_path / "ws", fake)
        dry = runner.invoke(app, ["invite", "-w", str(ws)], env=_env(fake))
        assert dry.exit_code == 0
        victim = _sms_phones(ws)[3]
        fake.number_codes[victim] = code
        result = runner.invoke(app, ["invite", "--send", "--json", "-w", str(ws)],
                               env=_env(fake))
        assert result.exit_code == 3  # some messages failed; the rest went out
        out = json.loads(result.stdout)
        assert out["send"]["failed"] == 1 and out["send"]["suppressed"] == 1
        assert victim not in fake.delivered
        with sqlite3.connect(ws / "state.db") as db:
            rows = db.execute("SELECT phone, channel FROM suppressions").fetchall()
        assert rows == [(victim, "sms")]


def test_template_refusal_stops_the_batch_with_exit_4(tmp_path):
    with FakeAliyunSms(templates={"SMS_100001"}) as fake:  # SMS_100002 not approved
        ws = _workspace(tmp_path / "ws", fake)
        result = runner.invoke(app, ["invite", "--send", "-w", str(ws)], env=_env(fake))
        assert result.exit_code == 4
        assert "Error:" in result.output
        status = _statuses(ws)
        assert "sending" not in status and status.get("planned", 0) > 0


def _send_now_stamp() -> float:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(SEND_NOW).replace(tzinfo=ZoneInfo("Asia/Shanghai")
                                                    ).timestamp()


def _start_send(ws: Path, fake) -> subprocess.Popen:
    env = {**os.environ, **_env(fake)}
    return subprocess.Popen(
        [sys.executable, "-m", "privmigrate", "invite", "--send", "-w", str(ws)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_kill_9_during_send_then_rerun_delivers_each_message_exactly_once(tmp_path, provider):
    with FAKES[provider](ledger_path=tmp_path / "delivered.jsonl") as fake:
        # Aliyun: 250 messages → four SendBatchSms calls; Tencent: one call per message.
        ws = _workspace(tmp_path / "ws", fake, n=800, sms=250, timeout=60)
        fake.record_clock = _send_now_stamp
        fake.pass_next(times=1)
        fake.slow_next(60)  # the second call is delivered but answered only after 60 s
        proc = _start_send(ws, fake)
        try:
            deadline = time.monotonic() + 60
            while len(fake.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(fake.requests) >= 2, "the run never reached the second provider call"
            time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        killed = _statuses(ws)
        assert killed.get("sending", 0) > 0  # the call in flight when the run died
        phones = _sms_phones(ws)
        assert 0 < sum(fake.delivered.values()) < len(phones)

        result = runner.invoke(app, ["invite", "--send", "--json", "-w", str(ws)],
                               env=_env(fake))
        out = json.loads(result.stdout)
        assert out["send"]["recovered_unknown"] == killed["sending"]
        # the call in flight was delivered: QuerySendDetails / the receipts list it by the
        # request id recorded before it left, so it is known without resending anything
        assert out["send"]["looked_up"] == {"delivered": killed["sending"]}
        assert result.exit_code == 0, result.output
        assert sorted(fake.delivered) == sorted(phones)
        assert set(fake.delivered.values()) == {1}  # exactly once, counted by the fake
        from tests.fakes.sms_server import read_delivered

        assert read_delivered(tmp_path / "delivered.jsonl") == fake.delivered
        final = _statuses(ws)
        assert final == {"accepted": len(phones) - killed["sending"],
                         "delivered": killed["sending"]}
        # a third run sends nothing
        again = runner.invoke(app, ["invite", "--send", "--json", "-w", str(ws)],
                              env=_env(fake))
        assert json.loads(again.stdout)["send"]["attempted"] == 0
        assert set(fake.delivered.values()) == {1}


@pytest.mark.parametrize(("provider", "body"), [("aliyun", "xml"), ("aliyun", "empty"),
                                               ("tencent", "html"), ("tencent", "empty")])
def test_an_unreadable_2xx_is_never_sent_again(tmp_path, provider, body):
    """Regression (#14): a 2xx without the provider's JSON may follow an accepted send; it
    must not put the rows back to planned, so three runs deliver each message once (every
    answer, the look-ups' too, is unreadable: the rows stay unknown, never resent)."""
    with FAKES[provider]() as fake:
        ws = _workspace(tmp_path / "ws", fake, n=120, sms=12, attempts=1)  # no backoff waits
        phones = _sms_phones_after_plan(ws, fake)
        for _ in range(3):
            fake.garble_next(body, times=500)
            runner.invoke(app, ["invite", "--send", "--json", "-w", str(ws)], env=_env(fake))
        assert sorted(fake.delivered) == sorted(phones)
        assert set(fake.delivered.values()) == {1}, "a message was delivered twice"
        assert _statuses(ws) == {"unknown": len(phones)}


def _sms_phones_after_plan(ws: Path, fake) -> list[str]:
    dry = runner.invoke(app, ["invite", "-w", str(ws)], env=_env(fake))
    assert dry.exit_code == 0, dry.output
    return _sms_phones(ws)
