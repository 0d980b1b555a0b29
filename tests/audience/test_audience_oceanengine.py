"""Ocean Engine DMP and 巨量千川 against the local fake: data-source create/update diffs,
publish at most once per 24 h (scheduled, never an error), push_v2, faults converging."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from privmigrate.audience.run import audience_status, load_settings, push_audience
from privmigrate.audience.settings import AudienceDef
from privmigrate.channels.oceanengine import OceanEngineClient
from privmigrate.channels.outcomes import TokenError
from privmigrate.errors import ExitCode, PrivmigrateError
from privmigrate.workspace import Workspace
from tests.audience.world import customers, hashed, ocean_config, write_config, write_customers
from tests.fakes.oceanengine import FakeOceanEngine
from tests.fakes.tencent_ads import FAULTS, FaultPlan

NOW = datetime(2026, 11, 25, 3, 0)
NO_SLEEP: Any = lambda seconds: None  # noqa: E731


def everyone(numbers: range | list[int], joined: set[int] = frozenset()) -> set[str]:  # type: ignore[assignment]
    return hashed({n for n in numbers if n not in joined}, "sha256")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def fake(clock: Clock) -> Any:
    server = FakeOceanEngine(clock=clock)
    server.url = server.start()
    yield server
    server.stop()


def push(ws: Workspace, fake: FakeOceanEngine, clock: Clock, now: datetime, *,
         definition: AudienceDef | None = None, dry_run: bool = False,
         timeout: float = 5.0) -> Any:
    clock.now = now
    write_config(ws, ocean_config(fake.url))
    settings = load_settings(ws)
    client = OceanEngineClient(fake.url, fake.token, fake.advertiser_id, sleep=NO_SLEEP,
                               timeout=timeout)
    try:
        return push_audience(ws, definition or settings.audiences[0], now=now,
                             dry_run=dry_run, settings=settings, client=client, sleep=NO_SLEEP)
    finally:
        client.close()


def test_client_sends_the_token_header_and_maps_errors() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(200, json={"code": 40100, "message": "请求过于频繁"})
        return httpx.Response(200, json={"code": 40102, "message": "access token 过期"})

    client = OceanEngineClient("https://api.oceanengine.com", "tok", "3001",
                               transport=httpx.MockTransport(handler), sleep=NO_SLEEP)
    with pytest.raises(TokenError) as err:
        client.read_data_source("1")
    assert len(seen) == 2 and seen[0].headers["Access-Token"] == "tok"
    assert err.value.exit_code == ExitCode.REMOTE and "refresh_token" in err.value.message


def test_create_then_diffs_publish_and_push(ws: Workspace, fake: FakeOceanEngine,
                                            clock: Clock) -> None:
    write_customers(ws, customers(list(range(50)), joined={7}))
    first = push(ws, fake, clock, NOW)
    source = fake.source_by_name("lapsed-oe")
    assert source is not None and source["members"] == everyone(range(50), {7})
    assert first.status == "done" and first.processing == "done" and len(fake.publishes) == 1
    assert fake.pushed == {str(source["custom_audience_id"]): {"3002", "3003"}}
    assert first.matched_count == sum(1 for m in everyone(range(50), {7}) if m[0] in
                                      "0123456789a")
    # two hours later: a change is applied to the data source, its publish is scheduled
    write_customers(ws, customers(list(range(60)), joined={7, 8}))
    second = push(ws, fake, clock, NOW + timedelta(hours=2))
    assert (second.added, second.removed) == (10, 1)
    assert source["members"] == everyone(range(60), {7, 8})
    assert len(fake.publishes) == 1 and second.publish_due_at == "2026-11-26T03:00:00"
    assert "publish scheduled" in " ".join(second.notes)
    row = audience_status(ws, now=NOW)[0]
    assert row["publish_pending"] and row["publish_due_at"] == "2026-11-26T03:00:00"
    # the next day's push publishes it without uploading anything
    third = push(ws, fake, clock, NOW + timedelta(hours=25))
    assert third.status == "up_to_date" and len(fake.publishes) == 2
    assert source["published"] == everyone(range(60), {7, 8})
    assert [op for _, op in fake.applied] == [1, 2, 1]


def test_dry_run_sends_nothing(ws: Workspace, fake: FakeOceanEngine, clock: Clock) -> None:
    write_customers(ws, customers(list(range(20))))
    report = push(ws, fake, clock, NOW, dry_run=True)
    assert report.status == "dry_run" and report.added == 20 and fake.requests == []


def test_qianchuan_creates_an_audience_of_the_full_set(ws: Workspace, fake: FakeOceanEngine,
                                                       clock: Clock) -> None:
    write_customers(ws, customers(list(range(25))))
    qc = AudienceDef("qc-lapsed", "qianchuan", ("*",), "md5")
    first = push(ws, fake, clock, NOW, definition=qc)
    (audience,) = fake.qc_audiences.values()
    assert audience["data_type"] == 17 and audience["members"] == hashed(range(25))
    assert first.status == "done"
    assert push(ws, fake, clock, NOW + timedelta(hours=1), definition=qc).status == "up_to_date"
    write_customers(ws, customers(list(range(30))))
    push(ws, fake, clock, NOW + timedelta(days=1), definition=qc)
    assert len(fake.qc_audiences) == 2
    latest = list(fake.qc_audiences.values())[-1]
    assert latest["members"] == hashed(range(30)) and len(latest["name"]) <= 30


def converge(ws: Workspace, fake: FakeOceanEngine, clock: Clock, now: datetime) -> None:
    for attempt in range(1, 40):
        try:
            report = push(ws, fake, clock, now + timedelta(minutes=attempt), timeout=0.3)
        except PrivmigrateError:
            fake.settle()
            continue
        fake.settle()
        if report.status == "up_to_date" and report.processing == "done":
            return
    raise AssertionError("push did not converge")


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_faults_converge_to_the_intended_set(ws: Workspace, seed: int, clock: Clock) -> None:
    faults = FaultPlan(seed=seed, rates={"rate_limit": 0.08, "busy": 0.05, "http_502": 0.05,
                                         "http_500_after": 0.06, "slow": 0.04,
                                         "drop_mid_upload": 0.06, "drop_after": 0.06})
    faults.script("/open_api/2/dmp/data_source/file/upload/", "drop_mid_upload", "slow")
    faults.script("/open_api/2/dmp/data_source/update/", "drop_after", "http_500_after")
    faults.script("/open_api/2/dmp/data_source/read/", "rate_limit", "busy", "http_502")
    fake = FakeOceanEngine(faults=faults, clock=clock, process_polls=2, slow_seconds=0.5)
    fake.url = fake.start()
    try:
        write_customers(ws, customers(list(range(80)), joined={1}))
        converge(ws, fake, clock, NOW)
        source = fake.source_by_name("lapsed-oe")
        assert source is not None and source["members"] == everyone(range(80), {1})
        first_phase = len(fake.applied)
        write_customers(ws, customers(list(range(30, 120)), joined={1, 31}))
        converge(ws, fake, clock, NOW + timedelta(days=1))
        assert source["members"] == everyone(range(30, 120), {1, 31})
        for phase in (fake.applied[:first_phase], fake.applied[first_phase:]):
            assert len(phase) == len(set(phase)), "a diff was applied twice"
        assert {kind for _, kind in faults.injected} == set(FAULTS)
        assert len(fake.sources) == 1
    finally:
        fake.stop()


def test_crash_after_update_is_resumed_without_applying_again(
        ws: Workspace, fake: FakeOceanEngine, clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from privmigrate.audience import sync as sync_module

    write_customers(ws, customers(list(range(40))))
    push(ws, fake, clock, NOW)
    write_customers(ws, customers(list(range(50))))
    real_done = sync_module._done
    crashed: list[int] = []

    def crash_once(ctx: Any, step: dict[str, Any], result: dict[str, Any]) -> None:
        if step["kind"] == "apply" and not crashed:
            crashed.append(1)
            raise KeyboardInterrupt  # dies after data_source/update was accepted
        real_done(ctx, step, result)

    monkeypatch.setattr(sync_module, "_done", crash_once)
    with pytest.raises(KeyboardInterrupt):
        push(ws, fake, clock, NOW + timedelta(hours=1))
    monkeypatch.setattr(sync_module, "_done", real_done)
    updates = fake.requests.count(("POST", "/open_api/2/dmp/data_source/update/"))
    report = push(ws, fake, clock, NOW + timedelta(hours=2))
    assert fake.requests.count(("POST", "/open_api/2/dmp/data_source/update/")) == updates
    assert report.held == 50 and fake.source_by_name("lapsed-oe")["members"] == everyone(
        range(50))
    assert len(fake.applied) == len(set(fake.applied)) == 2


def test_large_qianchuan_zip_goes_up_in_parts(ws: Workspace, fake: FakeOceanEngine,
                                              clock: Clock,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from privmigrate.channels import oceanengine

    monkeypatch.setattr(oceanengine, "QIANCHUAN_SINGLE_MAX", 300)
    monkeypatch.setattr(oceanengine, "QIANCHUAN_PART", 256)
    write_customers(ws, customers(list(range(40))))
    push(ws, fake, clock, NOW, definition=AudienceDef("qc", "qianchuan", ("*",), "sha256"))
    assert fake.requests.count(("POST", "/open_api/v1.0/qianchuan/audience_file/part_upload/")) > 1
    (audience,) = fake.qc_audiences.values()
    assert audience["members"] == everyone(range(40)) and audience["data_type"] == 14


def test_a_change_after_a_lost_publish_answer_is_published_the_next_day(
        ws: Workspace, clock: Clock) -> None:
    """Regression (#14): the first publish takes effect but its answer is lost; a change
    applied before privmigrate learns that must still be published when next allowed."""
    faults = FaultPlan()
    faults.script("/open_api/2/dmp/custom_audience/publish/", "drop_after")
    fake = FakeOceanEngine(faults=faults, clock=clock)
    fake.url = fake.start()
    try:
        write_customers(ws, customers(list(range(40))))
        push(ws, fake, clock, NOW)
        source = fake.source_by_name("lapsed-oe")
        assert source is not None and len(fake.publishes) == 1  # applied, answer lost
        assert source["published"] == everyone(range(40))
        write_customers(ws, customers(list(range(60))))
        second = push(ws, fake, clock, NOW + timedelta(hours=2))
        assert second.added == 20 and source["members"] == everyone(range(60))
        assert second.publish_due_at == "2026-11-26T03:00:00"  # the lost publish counted
        assert audience_status(ws, now=NOW)[0]["publish_pending"]
        third = push(ws, fake, clock, NOW + timedelta(hours=25))
        assert len(fake.publishes) == 2 and third.publish_due_at is None
        assert source["published"] == everyone(range(60))
        assert not audience_status(ws, now=NOW)[0]["publish_pending"]
    finally:
        fake.stop()
