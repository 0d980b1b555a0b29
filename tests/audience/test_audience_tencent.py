"""Tencent Ads: the client's protocol and retry rules, and pushes against the local fake —
first full, then diffs, dry runs that send nothing, crashes and faults that converge."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from privmigrate.audience import sync as sync_module
from privmigrate.audience.run import audience_status, load_settings, push_audience
from privmigrate.channels.outcomes import OutcomeUnknown, TokenError
from privmigrate.channels.tencent_ads import TencentAdsClient
from privmigrate.errors import ExitCode, PartialFailure, PrivmigrateError, RemoteError
from privmigrate.workspace import Workspace
from tests.audience.world import customers, hashed, tencent_config, write_config, write_customers
from tests.fakes.tencent_ads import FAULTS, FakeTencentAds, FaultPlan

NOW = datetime(2026, 11, 25, 3, 0)
NO_SLEEP: Any = lambda seconds: None  # noqa: E731


def lapsed(numbers: range | list[int], joined: set[int] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """What the configured audience should hold: segments 重要挽留/重要价值 (n % 3 in 0, 1)."""
    return hashed({n for n in numbers if n % 3 in (0, 1) and n not in joined})


def mock_client(handler: Any, **kwargs: Any) -> TencentAdsClient:
    return TencentAdsClient("https://api.e.qq.com/v3.0", "tok", "2001",
                            transport=httpx.MockTransport(handler), sleep=NO_SLEEP, **kwargs)


# --- the client ----------------------------------------------------------------------------

def test_auth_goes_in_the_query_string() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": 0, "data": {"audience_id": 55}})

    assert mock_client(handler, clock=lambda: 1_764_000_000).create_audience("a") == "55"
    q = seen[0].url.params
    assert q["access_token"] == "tok" and q["timestamp"] == "1764000000" and len(q["nonce"]) == 32
    assert json.loads(seen[0].content)["type"] == "CUSTOMER_FILE"


@pytest.mark.parametrize("code", [11016, 11017, 11018, 11019, 10000, 30001, 30099])
def test_rate_limit_and_system_codes_are_retried(code: int) -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return httpx.Response(200, json={"code": code, "message": "slow down"})
        return httpx.Response(200, json={"code": 0, "data": {"audience_id": 1}})

    assert mock_client(handler).create_audience("a") == "1" and calls["n"] == 3


def test_token_errors_stop_with_how_to_refresh() -> None:
    client = mock_client(lambda r: httpx.Response(200, json={"code": 11000, "message": "x"}))
    with pytest.raises(TokenError) as err:
        client.create_audience("a")
    assert err.value.exit_code == ExitCode.REMOTE
    assert "refresh_token" in err.value.message
    assert "PRIVMIGRATE_TENCENT_ADS_TOKEN" in err.value.message


def test_a_write_without_answer_is_an_unknown_outcome() -> None:
    client = mock_client(lambda r: httpx.Response(502, text="bad gateway"))
    with pytest.raises(OutcomeUnknown):
        client.create_audience("a")


def test_exhausted_retries_become_a_remote_error() -> None:
    client = mock_client(lambda r: httpx.Response(200, json={"code": 11017}), attempts=2)
    with pytest.raises(RemoteError, match="run the push again later"):
        client.list_files("1")


# --- pushes against the fake ----------------------------------------------------------------

@pytest.fixture
def fake() -> Any:
    server = FakeTencentAds()
    server.url = server.start()
    yield server
    server.stop()


def push(ws: Workspace, fake: FakeTencentAds, now: datetime = NOW, *, dry_run: bool = False,
         timeout: float = 5.0) -> Any:
    write_config(ws, tencent_config(fake.url))
    settings = load_settings(ws)
    client = TencentAdsClient(fake.url, fake.token, fake.account_id, sleep=NO_SLEEP,
                              timeout=timeout)
    try:
        return push_audience(ws, settings.audiences[0], now=now, dry_run=dry_run,
                             settings=settings, client=client, sleep=NO_SLEEP)
    finally:
        client.close()


def test_first_push_full_then_diffs(ws: Workspace, fake: FakeTencentAds) -> None:
    write_customers(ws, customers(list(range(90)), joined={3}))
    first = push(ws, fake)
    audience = fake.audience_by_name("lapsed")
    assert audience is not None and fake.members(audience["audience_id"]) == lapsed(range(90), {3})
    assert first.added == len(lapsed(range(90), {3})) and first.removed == 0
    assert first.status == "done" and first.processing == "done"
    assert first.matched_count == sum(1 for m in lapsed(range(90), {3}) if m[0] in "0123456789a")
    # customers 0 and 1 joined the private domain, 90..99 are new buyers
    write_customers(ws, customers(list(range(100)), joined={0, 1, 3}))
    second = push(ws, fake, NOW + timedelta(days=1))
    assert (second.added, second.removed) == (len(lapsed(range(90, 100))), 2)
    assert fake.members(audience["audience_id"]) == lapsed(range(100), {0, 1, 3})
    ops = [op for _, op in fake.applied]
    assert ops == ["APPEND", "REDUCE", "APPEND"]
    assert push(ws, fake, NOW + timedelta(days=2)).status == "up_to_date"


def test_converted_customers_leave_at_the_next_push(ws: Workspace, fake: FakeTencentAds) -> None:
    from privmigrate.ledger import open_ledger

    write_customers(ws, customers(list(range(30))))
    push(ws, fake)
    with open_ledger(ws.state_db) as conn:
        conn.execute(
            "INSERT INTO conversions (customer_id, external_userid, added_at, source, "
            "match_method, attributed, reason, recorded_at) VALUES "
            "(?, 'wm1', '2026-11-25', 'file', 'state', 1, 'attributed', '2026-11-25')",
            (f"C{4:016x}",))
    report = push(ws, fake, NOW + timedelta(days=1))
    assert report.removed == 1 and report.counts["excluded_converted"] == 1
    audience = fake.audience_by_name("lapsed")
    assert fake.members(audience["audience_id"]) == lapsed(range(30), {4})


def test_dry_run_sends_nothing(ws: Workspace, fake: FakeTencentAds) -> None:
    write_customers(ws, customers(list(range(40))))
    report = push(ws, fake, dry_run=True)
    assert fake.requests == [] and report.status == "dry_run"
    assert report.added == len(lapsed(range(40))) and report.removed == 0
    assert not (ws.audiences_dir / "tencent").exists()


def test_crash_after_upload_is_resumed_without_uploading_again(
        ws: Workspace, fake: FakeTencentAds, monkeypatch: pytest.MonkeyPatch) -> None:
    write_customers(ws, customers(list(range(60))))
    real_done = sync_module._done
    crashed = Counter[str]()

    def crash_once(ctx: Any, step: dict[str, Any], result: dict[str, Any]) -> None:
        if step["kind"] == "apply" and not crashed["n"]:
            crashed["n"] += 1
            raise KeyboardInterrupt  # the process dies after the platform took the file
        real_done(ctx, step, result)

    monkeypatch.setattr(sync_module, "_done", crash_once)
    with pytest.raises(KeyboardInterrupt):
        push(ws, fake)
    monkeypatch.setattr(sync_module, "_done", real_done)
    assert audience_status(ws, now=NOW)[0]["unfinished_push"] is not None
    uploads = fake.requests.count(("POST", "/custom_audience_files/add"))
    report = push(ws, fake, NOW + timedelta(minutes=5))
    assert fake.requests.count(("POST", "/custom_audience_files/add")) == uploads
    assert "left unfinished" in report.notes[0]
    audience = fake.audience_by_name("lapsed")
    assert fake.members(audience["audience_id"]) == lapsed(range(60))
    assert len(fake.applied) == 1


def test_rejected_file_is_retried_by_the_next_push(ws: Workspace) -> None:
    fake = FakeTencentAds(error_rate=1.0)
    fake.url = fake.start()
    try:
        write_customers(ws, customers(list(range(30))))
        with pytest.raises(PartialFailure) as err:
            push(ws, fake)
        assert err.value.exit_code == ExitCode.PARTIAL and "rejected" in err.value.message
        assert audience_status(ws, now=NOW)[0]["size"] == 0
        fake.error_rate = 0.0
        report = push(ws, fake, NOW + timedelta(hours=1))
        assert report.added == len(lapsed(range(30)))
        audience = fake.audience_by_name("lapsed")
        assert fake.members(audience["audience_id"]) == lapsed(range(30))
    finally:
        fake.stop()


def converge(ws: Workspace, fake: FakeTencentAds, now: datetime, runs: int = 40) -> int:
    """Push until a push finds nothing to do; the number of pushes it took."""
    for attempt in range(1, runs + 1):
        try:
            report = push(ws, fake, now + timedelta(minutes=attempt), timeout=0.3)
        except PrivmigrateError:
            fake.settle()
            continue
        fake.settle()
        if report.status == "up_to_date" and report.processing == "done":
            return attempt
    raise AssertionError("push did not converge")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_faults_converge_to_the_intended_set(ws: Workspace, seed: int) -> None:
    faults = FaultPlan(seed=seed, rates={"rate_limit": 0.08, "busy": 0.05, "http_502": 0.05,
                                         "http_500_after": 0.06, "slow": 0.04,
                                         "drop_mid_upload": 0.06, "drop_after": 0.06})
    # every kind at least once, on top of the seeded random ones
    faults.script("/custom_audiences/add", "drop_after")
    faults.script("/custom_audience_files/add", "drop_mid_upload", "drop_after", "slow",
                  "http_500_after")
    faults.script("/custom_audience_files/get", "rate_limit", "busy", "http_502")
    fake = FakeTencentAds(faults=faults, error_rate=0.15, seed=seed, slow_seconds=0.5)
    fake.url = fake.start()
    try:
        write_customers(ws, customers(list(range(120)), joined={5}))
        converge(ws, fake, NOW)
        audience = fake.audience_by_name("lapsed")
        assert fake.members(audience["audience_id"]) == lapsed(range(120), {5})
        first_phase = len(fake.applied)
        write_customers(ws, customers(list(range(40, 160)), joined={5, 41, 42}))
        converge(ws, fake, NOW + timedelta(days=1))
        assert fake.members(audience["audience_id"]) == lapsed(range(40, 160), {5, 41, 42})
        for phase in (fake.applied[:first_phase], fake.applied[first_phase:]):
            assert len(phase) == len(set(phase)), "a diff was applied twice"
        assert {kind for _, kind in faults.injected} == set(FAULTS)
        assert not fake.auth_failures
    finally:
        fake.stop()


def test_settled_pushes_keep_only_the_held_set(ws: Workspace, fake: FakeTencentAds) -> None:
    from privmigrate.ledger import open_ledger

    write_customers(ws, customers(list(range(30))))
    push(ws, fake)
    write_customers(ws, customers(list(range(36))))
    push(ws, fake, NOW + timedelta(days=1))
    with open_ledger(ws.state_db) as conn:
        (held,) = conn.execute("SELECT held_set_id FROM audiences").fetchone()
        sets = [r[0] for r in conn.execute("SELECT set_id FROM audience_sets")]
        chunks = conn.execute("SELECT COUNT(*) FROM audience_set_chunks").fetchone()[0]
    assert sets == [held] and chunks == 1


def test_rejection_found_while_a_push_is_unfinished(ws: Workspace,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of an earlier push is rejected while a later push is interrupted: the later
    push still ends with the held set equal to what the platform holds."""
    fake = FakeTencentAds(process_polls=1000)  # files stay PROCESSING until settled
    fake.url = fake.start()
    try:
        write_customers(ws, customers(list(range(30))))
        push(ws, fake)
        fake.settle()
        write_customers(ws, customers(list(range(36))))
        push(ws, fake, NOW + timedelta(hours=1))  # push A: its file is still processing
        write_customers(ws, customers(list(range(40))))
        real_done = sync_module._done

        def crash(ctx: Any, step: dict[str, Any], result: dict[str, Any]) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(sync_module, "_done", crash)
        with pytest.raises(KeyboardInterrupt):
            push(ws, fake, NOW + timedelta(hours=2))  # push B dies after its upload
        monkeypatch.setattr(sync_module, "_done", real_done)
        file_a = list(fake.files.values())[1]
        fake.error_rate = 1.0
        fake._process(file_a)  # the platform rejects push A's file
        fake.error_rate = 0.0
        fake.settle()  # push B's file is applied
        client = TencentAdsClient(fake.url, fake.token, fake.account_id, sleep=NO_SLEEP)
        (row,) = audience_status(ws, refresh_remote=True, now=NOW + timedelta(hours=3),
                                 client_factory=lambda platform, settings: client)
        assert row["unfinished_push"] is not None
        resumed = push(ws, fake, NOW + timedelta(hours=4))  # finishes B, re-adds A's ids
        assert "left unfinished" in resumed.notes[0]
        assert resumed.added == len(lapsed(range(30, 36)))
        fake.settle()
        push(ws, fake, NOW + timedelta(hours=5))
        audience = fake.audience_by_name("lapsed")
        assert fake.members(audience["audience_id"]) == lapsed(range(40))
        assert audience_status(ws, now=NOW)[0]["size"] == len(lapsed(range(40)))
    finally:
        fake.stop()
