"""The fault matrix (#14): {Aliyun SMS, Tencent SMS, Tencent Ads, Ocean Engine, 千川} × each
fault kind × the step it hits, over real sockets against the fakes. Each case is a scripted
sequence followed by reruns; it must end with the platform holding exactly the intended
state, no message delivered twice, no diff applied twice, and every SMS unknown resolved or
listed. The share of SMS invitations still unknown after reconciliation is printed (and
must stay ≤ 1 %)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import pytest

from privmigrate.audience.run import audience_status, load_settings, push_audience
from privmigrate.audience.settings import AudienceDef
from privmigrate.channels.oceanengine import OceanEngineClient
from privmigrate.channels.tencent_ads import TencentAdsClient
from privmigrate.errors import PrivmigrateError
from privmigrate.invite import run_invite
from privmigrate.workspace import Workspace
from tests.audience.test_audience_tencent import lapsed
from tests.audience.world import (
    customers,
    hashed,
    ocean_config,
    tencent_config,
    write_config,
    write_customers,
)
from tests.fakes.oceanengine import FakeOceanEngine
from tests.fakes.tencent_ads import FAULTS, FakeTencentAds, FaultPlan
from tests.invite import invite_world as w
from tests.invite.test_invite_reconcile import (
    FAKES,
    LATER,
    NIGHT,
    PLAN_AT,
    SEND_AT,
    Clock,
    client,
    statuses,
)

NO_SLEEP: Any = lambda seconds: None  # noqa: E731

# --- SMS ----------------------------------------------------------------------------------

SMS_FAULTS = ("throttled", "http_502", "slow", "drop", "garble", "kill_before", "kill_after")
SMS_STEPS = ("first_call", "later_call", "lookup")  # which request the fault hits
RERUNS = 4
UNKNOWN_SHARE_LIMIT = 0.01


def _script(fake: Any, provider: str, fault: str, skip: int) -> None:
    """``fault`` on the request after ``skip`` clean ones (and on the one after it)."""
    if skip:
        fake.pass_next(times=skip)
    for _ in range(2):
        if fault == "throttled":
            fake.fail_next("Throttling.User" if provider == "aliyun" else "RequestLimitExceeded",
                           status=400 if provider == "aliyun" else 200)
        elif fault == "http_502":
            fake.http_error_next(502)
        elif fault == "slow":
            fake.slow_next(0.5)
        elif fault == "drop":
            fake.drop_next()
        elif fault == "garble":
            fake.garble_next("html")


def _sms_case(tmp_path: Any, provider: str, fault: str, step: str) -> tuple[int, int]:
    """One scripted sequence and its reruns; (invitations, still unknown)."""
    raw = w.config(daily_limit=50, budgets={"call": 5, "sms": 40})
    raw["invite"]["staff"] = [{"id": "a", "name": "小美", "daily_capacity": 50}]
    ws = Workspace.at(w.workspace(tmp_path / f"{provider}-{fault}-{step}", raw,
                                  w.customers(200)))
    run_invite(ws, NIGHT, now=PLAN_AT)
    clock = Clock(SEND_AT)
    with FAKES[provider]() as fake:
        fake.record_clock = clock.stamp
        with client(fake, provider, timeout=0.2) as sms:
            real_send = sms.send
            calls: list[int] = []
            victim = 1 if step == "first_call" else 3

            def killing_send(messages: Any) -> Any:
                calls.append(len(messages))
                if fault == "kill_before" and len(calls) == victim:
                    raise KeyboardInterrupt
                out = real_send(messages)
                if fault == "kill_after" and len(calls) == victim:
                    raise KeyboardInterrupt  # sent, killed before the outcome was recorded
                return out

            if fault.startswith("kill"):
                sms.send = killing_send
            elif step == "lookup":  # a clean send whose answers are lost, faulted look-ups
                fake.pass_next()
                fake.drop_next(times=2)
                _script(fake, provider, fault, 0)
            else:
                _script(fake, provider, fault, 0 if step == "first_call" else 2)
            for run in range(RERUNS):
                with contextlib.suppress(KeyboardInterrupt, PrivmigrateError):
                    run_invite(ws, NIGHT, now=clock(), send=True, provider=sms, clock=clock)
                sms.send = real_send
                left = statuses(ws)
                if not left.get("planned") and not left.get("unknown") and run:
                    break
                clock.now += LATER[provider]
        final = statuses(ws)
        fake.wait_delivered(sum(final.get(s, 0) for s in ("accepted", "delivered")))
        assert set(fake.delivered.values()) <= {1}, f"{fault}@{step}: a message went twice"
        taken = sum(final.get(s, 0) for s in ("accepted", "delivered", "undelivered"))
        assert len(fake.delivered) == taken, f"{fault}@{step}: ledger and provider disagree"
        assert not final.get("planned") and not final.get("sending"), final
    return sum(final.values()), final.get("unknown", 0)


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_sms_fault_matrix(tmp_path: Any, provider: str) -> None:
    invitations = unknown = 0
    for fault in SMS_FAULTS:
        for step in SMS_STEPS:
            if fault.startswith("kill") and step == "lookup":
                continue
            n, left = _sms_case(tmp_path, provider, fault, step)
            invitations += n
            unknown += left
    share = unknown / invitations
    print(f"\n{provider} SMS fault matrix: {unknown} of {invitations} invitations still "
          f"unknown after reconciliation ({share:.2%})")
    assert share <= UNKNOWN_SHARE_LIMIT


# --- audiences ----------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 3, 0)
TENCENT_STEPS = {"create": "/custom_audiences/add", "upload": "/custom_audience_files/add",
                 "poll": "/custom_audience_files/get"}
OCEAN_STEPS = {"upload": "/open_api/2/dmp/data_source/file/upload/",
               "apply": "/open_api/2/dmp/data_source/update/",
               "publish": "/open_api/2/dmp/custom_audience/publish/",
               "poll": "/open_api/2/dmp/data_source/read/"}
QIANCHUAN_STEPS = {"upload": "/open_api/v1.0/qianchuan/audience_file/upload/",
                   "create": "/open_api/v1.0/qianchuan/audience/create_by_file/"}


class AdClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now.timestamp()


def _push(ws: Workspace, fake: Any, platform: str, clock: AdClock, definition: Any = None
          ) -> Any:
    if platform == "tencent":
        write_config(ws, tencent_config(fake.url))
        api: Any = TencentAdsClient(fake.url, fake.token, fake.account_id, sleep=NO_SLEEP,
                                    timeout=0.3)
    else:
        write_config(ws, ocean_config(fake.url))
        api = OceanEngineClient(fake.url, fake.token, fake.advertiser_id, sleep=NO_SLEEP,
                                timeout=0.3)
    settings = load_settings(ws)
    try:
        return push_audience(ws, definition or settings.audiences[0], now=clock.now,
                             settings=settings, client=api, sleep=NO_SLEEP)
    finally:
        api.close()


def _converge(ws: Workspace, fake: Any, platform: str, clock: AdClock, definition: Any = None
              ) -> None:
    for _ in range(30):
        clock.now += timedelta(minutes=7)
        try:
            report = _push(ws, fake, platform, clock, definition)
        except PrivmigrateError:
            fake.settle()
            continue
        fake.settle()
        pending = platform == "oceanengine" and audience_status(ws, now=clock.now)[0][
            "publish_pending"]
        if report.status == "up_to_date" and report.processing in ("done", None) and not (
                pending):
            return
    raise AssertionError(f"{platform}: the push did not converge")


def _members(fake: Any, platform: str) -> set[str]:
    if platform == "tencent":
        (audience,) = fake.audiences.values()
        return fake.members(audience["audience_id"])
    if platform == "qianchuan":
        return list(fake.qc_audiences.values())[-1]["members"]
    return fake.source_by_name("lapsed-oe")["published"]


@pytest.mark.parametrize("platform", ["tencent", "oceanengine", "qianchuan"])
def test_audience_fault_matrix(ws: Workspace, platform: str) -> None:
    steps = {"tencent": TENCENT_STEPS, "oceanengine": OCEAN_STEPS,
             "qianchuan": QIANCHUAN_STEPS}[platform]
    definition = (AudienceDef("qc-lapsed", "qianchuan", ("*",), "md5")
                  if platform == "qianchuan" else None)
    cases = 0
    for fault in FAULTS:
        for step, path in steps.items():
            case_ws = Workspace.at(ws.root / f"{platform}-{fault}-{step}")
            case_ws.root.mkdir()
            faults = FaultPlan()
            faults.script(path, fault, fault)
            clock = AdClock()
            fake = (FakeTencentAds(faults=faults) if platform == "tencent"
                    else FakeOceanEngine(faults=faults, clock=clock))
            fake.url = fake.start()
            try:
                write_customers(case_ws, customers(list(range(40))))
                _converge(case_ws, fake, platform, clock, definition)
                first = _expected(platform, range(40))
                assert _members(fake, platform) == first, f"{fault}@{step}: first sync"
                write_customers(case_ws, customers(list(range(20, 70))))
                faults.script(path, fault)
                clock.now += timedelta(hours=25)  # past Ocean Engine's one publish a day
                _converge(case_ws, fake, platform, clock, definition)
                assert _members(fake, platform) == _expected(platform, range(20, 70)), \
                    f"{fault}@{step}: second sync"
                if platform != "qianchuan":
                    assert len(fake.applied) == len(set(fake.applied)), \
                        f"{fault}@{step}: a diff was applied twice"
                cases += 1
            finally:
                fake.stop()
    print(f"\n{platform} audience fault matrix: {cases} cases converged")


def _expected(platform: str, numbers: range) -> set[str]:
    if platform == "tencent":
        return lapsed(numbers)
    if platform == "qianchuan":
        return hashed(set(numbers))
    return hashed(set(numbers), "sha256")
