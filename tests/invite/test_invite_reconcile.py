"""Unknown SMS outcomes are looked up in the provider's records (Aliyun QuerySendDetails,
Tencent PullSmsSendStatusByPhoneNumber) before anything is sent again, over real sockets
against the fakes; a kill before the request leaves is found unsent; batches halve after an
unknown and grow back."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from privmigrate.channels.aliyun_sms import AliyunSmsProvider
from privmigrate.channels.sms import SmsSettings
from privmigrate.channels.tencent_sms import TencentSmsProvider
from privmigrate.invite import run_invite
from privmigrate.workspace import Workspace
from tests.fakes import aliyun_sms as ali
from tests.fakes import tencent_sms as ten
from tests.invite import invite_world as w

SH = ZoneInfo("Asia/Shanghai")
NIGHT = date(2026, 11, 25)
PLAN_AT = datetime(2026, 11, 25, 2, 0, tzinfo=SH)
SEND_AT = datetime(2026, 11, 25, 10, 0, tzinfo=SH)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def stamp(self) -> float:
        return self.now.timestamp()


def client(fake: Any, provider: str, *, timeout: float = 1.0) -> Any:
    if provider == "aliyun":
        settings = SmsSettings(provider="aliyun", base_url=fake.base_url, timeout=timeout,
                               max_attempts=2)
        return AliyunSmsProvider(settings, access_key_id=ali.ACCESS_KEY_ID,
                                 access_key_secret=ali.ACCESS_KEY_SECRET, sleep=lambda s: None)
    settings = SmsSettings(provider="tencent", base_url=fake.base_url, timeout=timeout,
                           max_attempts=2, sdk_app_id=fake.sdk_app_id)
    return TencentSmsProvider(settings, secret_id=ten.SECRET_ID, secret_key=ten.SECRET_KEY,
                              sleep=lambda s: None)


FAKES = {"aliyun": ali.FakeAliyunSms, "tencent": ten.FakeTencentSms}
# past each provider's listing delay (10 min Aliyun, 120 min Tencent)
LATER = {"aliyun": timedelta(minutes=11), "tencent": timedelta(minutes=121)}


def statuses(ws: Workspace) -> dict[str, int]:
    with sqlite3.connect(ws.state_db) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM invitations WHERE channel='sms' "
                               "GROUP BY status"))


def sms_count(ws: Workspace) -> int:
    return sum(statuses(ws).values())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return planned_workspace(tmp_path)


def planned_workspace(tmp_path: Path) -> Workspace:
    """A workspace whose night is planned: about 60 SMS invitations, 5 calls."""
    raw = w.config(daily_limit=70, budgets={"call": 5, "sms": 60})
    raw["invite"]["staff"] = [{"id": "a", "name": "小美", "daily_capacity": 70}]
    space = Workspace.at(w.workspace(tmp_path / "ws", raw, w.customers(300)))
    run_invite(space, NIGHT, now=PLAN_AT)
    return space


def send(ws: Workspace, provider: Any, clock: Clock, **kw: Any) -> dict[str, Any]:
    return run_invite(ws, NIGHT, now=clock(), send=True, provider=provider, clock=clock, **kw)


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_lost_answers_are_known_at_once_from_the_providers_records(ws, provider):
    clock = Clock(SEND_AT)
    with FAKES[provider]() as fake:
        fake.record_clock = clock.stamp
        fake.pass_next()
        fake.drop_next()  # the second call is delivered, its answer lost
        fake.pass_next()
        fake.garble_next("xml")  # the fourth is delivered with an unreadable answer
        with client(fake, provider) as sms:
            out = send(ws, sms, clock)
        looked = out["send"]["looked_up"]
        assert out["send"]["unknown"] > 0 and sum(looked.values()) == out["send"]["unknown"]
        assert "unknown" not in statuses(ws) and "planned" not in statuses(ws)
        assert set(fake.delivered.values()) == {1} and len(fake.delivered) == sms_count(ws)
        with sqlite3.connect(ws.state_db) as db:
            ids = {r[0] for r in db.execute("SELECT request_id FROM invitations "
                                            "WHERE channel='sms'")}
        assert None not in ids and {r["out_id"] for r in fake.sent} <= ids


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_kill_before_the_request_leaves_is_found_unsent_and_sent_once(ws, provider):
    clock = Clock(SEND_AT)
    with FAKES[provider]() as fake:
        fake.record_clock = clock.stamp
        with client(fake, provider) as sms:
            real_send = sms.send
            calls: list[int] = []

            def dies_before_the_second_request(messages):
                calls.append(len(messages))
                if len(calls) == 2:
                    raise KeyboardInterrupt  # killed after `sending` was committed
                return real_send(messages)

            sms.send = dies_before_the_second_request
            with pytest.raises(KeyboardInterrupt):
                send(ws, sms, clock)
            assert statuses(ws)["sending"] == calls[1]
            sms.send = real_send
            soon = send(ws, sms, clock)  # too early to tell: nothing is resent
            assert soon["send"]["recovered_unknown"] == calls[1]
            assert statuses(ws).get("unknown") == calls[1]
            listed = soon["send"]["still_unknown"]  # what the operator is shown
            assert len(listed) == calls[1] and len({r["request_id"] for r in listed}) == 1
            assert {r["provider_code"] for r in listed} == {"interrupted"}
            clock.now += LATER[provider]
            later = send(ws, sms, clock)
        assert later["send"]["looked_up"] == {"not_received": calls[1]}
        assert later["send"]["still_unknown"] == []
        assert statuses(ws) == {"accepted": sms_count(ws)}
        assert set(fake.delivered.values()) == {1} and len(fake.delivered) == sms_count(ws)


def test_tencent_unknowns_wait_for_receipts_then_become_delivered(ws):
    clock = Clock(SEND_AT)
    with ten.FakeTencentSms() as fake:
        fake.record_clock = clock.stamp
        fake.receipt_delay = 300  # receipts come back five minutes after the send
        fake.undeliverable = {w.phone(i) for i in range(300)}  # …saying "not delivered"
        fake.drop_next(times=3)
        with client(fake, "tencent") as sms:
            first = send(ws, sms, clock)
            lost = first["send"]["unknown"]
            assert lost > 0 and statuses(ws)["unknown"] == lost  # no receipt yet
            clock.now += timedelta(minutes=6)
            second = send(ws, sms, clock)
        assert second["send"]["looked_up"] == {"undelivered": lost}
        with sqlite3.connect(ws.state_db) as db:
            rows = db.execute("SELECT receipt_code, delivered_at FROM invitations "
                              "WHERE status = 'undelivered'").fetchall()
        assert len(rows) == lost and all(code == "MK:0001" and at for code, at in rows)
        assert set(fake.delivered.values()) == {1}


def test_batches_halve_after_an_unknown_and_grow_back(ws):
    from tests.invite.test_invite_night import FakeProvider

    fake = FakeProvider(max_batch=8)
    fake.unknown_on_call = 1
    out = send(ws, fake, Clock(SEND_AT))
    sizes = [len(c) for c in fake.calls]
    assert sizes[:4] == [8, 4, 4, 8], sizes
    assert out["send"]["smallest_batch"] == 4
