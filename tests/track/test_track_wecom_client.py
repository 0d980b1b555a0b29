"""The WeCom client against the fake server over a real loopback socket, faults included."""

from __future__ import annotations

import httpx
import pytest

from privmigrate.channels.wecom import MemoryTokenCache, WeComClient, WeComSettings
from privmigrate.errors import ExitCode, RemoteError
from tests.fakes.wecom import CORP_ID, SECRET, FakeWeCom, Relationship

GET_BY_USER = "/cgi-bin/externalcontact/batch/get_by_user"


def _relationships(n_per_user: int = 130) -> list[Relationship]:
    rows = []
    for user in ("s1", "s2"):
        for i in range(n_per_user):
            rows.append(Relationship(f"wm{user}{i:04d}", user, 1762912800 + i,
                                     state="tplA" if i % 3 == 0 else None,
                                     remark_mobiles=[str(13800000000 + i)] if i % 5 == 0 else []))
    return rows


def _client(fake: FakeWeCom, cache=None, secret: str = SECRET, **settings) -> WeComClient:
    defaults = {"base_url": fake.base_url, "timeout_seconds": 2.0, "attempts": 4,
                "calls_per_minute": 10000, "rate_limit_pause_seconds": 0}
    return WeComClient(CORP_ID, secret, settings=WeComSettings(**{**defaults, **settings}),
                       cache=cache or MemoryTokenCache(), sleep=lambda s: None)


def test_reads_every_relationship_across_pages_and_reuses_the_token():
    with FakeWeCom(_relationships()) as fake:
        cache = MemoryTokenCache()
        with _client(fake, cache) as client:
            users = client.follow_users()
            rows = list(client.contacts_by_user(users))
        assert users == ["s1", "s2"]
        assert len(rows) == 260 and len({(r["external_userid"], r["userid"]) for r in rows}) == 260
        assert fake.paths().count(GET_BY_USER) == 3  # 100 + 100 + 60
        assert fake.token_issued == 1
        assert rows[0]["state"] == "tplA" and rows[0]["remark_mobiles"] == "13800000000"
        # a second client with the same cache (the ledger in production) asks for no token
        with _client(fake, cache) as client:
            client.follow_users()
        assert fake.token_issued == 1


def test_token_expiring_mid_pagination_is_refreshed_and_the_page_repeated():
    with FakeWeCom(_relationships()) as fake:
        with _client(fake) as client:
            pages = client.contacts_by_user(["s1", "s2"])
            first = [next(pages) for _ in range(100)]
            fake.expire_tokens()
            rest = list(pages)
            assert client.token_refreshes == 1
        assert len(first) + len(rest) == 260
        assert fake.token_issued == 2
        cursors = [body.get("cursor") for path, body in fake.calls if path == GET_BY_USER]
        assert cursors[1] == cursors[2] != ""  # the refused page was asked again


@pytest.mark.parametrize("fault", [
    {"kind": "errcode", "errcode": 45009},  # API frequency limit
    {"kind": "errcode", "errcode": -1},  # system busy
    {"kind": "http", "status": 502},
    {"kind": "drop"},
    {"kind": "slow", "seconds": 0.6},
])
def test_transient_faults_are_retried(fault):
    with FakeWeCom(_relationships(5)) as fake:
        fake.fault(GET_BY_USER, **fault)
        with _client(fake, timeout_seconds=0.3) as client:
            rows = list(client.contacts_by_user(["s1"]))
        assert len(rows) == 5
        assert fake.paths().count(GET_BY_USER) == 2


def test_rate_limit_waits_the_configured_pause():
    waits: list[float] = []
    with FakeWeCom(_relationships(5)) as fake:
        fake.fault(GET_BY_USER, "errcode", errcode=45009)
        client = WeComClient(CORP_ID, SECRET, settings=WeComSettings(
            base_url=fake.base_url, calls_per_minute=10000, rate_limit_pause_seconds=7),
            sleep=waits.append)
        with client:
            list(client.contacts_by_user(["s1"]))
    assert 7 in waits


def test_persistent_rate_limit_becomes_a_remote_error():
    with FakeWeCom(_relationships(5)) as fake:
        for _ in range(4):
            fake.fault(GET_BY_USER, "errcode", errcode=45009)
        with _client(fake) as client, pytest.raises(RemoteError) as err:
            list(client.contacts_by_user(["s1"]))
        assert err.value.exit_code == ExitCode.REMOTE
        assert "run track again later" in str(err.value)


def test_permission_error_stops_with_a_hint_and_no_secret():
    with FakeWeCom(_relationships(5)) as fake:
        fake.fault(GET_BY_USER, "errcode", errcode=48002)
        with _client(fake) as client, pytest.raises(RemoteError) as err:
            list(client.contacts_by_user(["s1"]))
        assert "48002" in str(err.value) and "可调用应用" in str(err.value)
        assert fake.paths().count(GET_BY_USER) == 1  # not retried


def test_wrong_secret_is_reported_without_leaking_it():
    with (FakeWeCom() as fake, _client(fake, secret="wrong-secret-value") as client,
          pytest.raises(RemoteError) as err):
        client.follow_users()
    assert "40001" in str(err.value) and "PRIVMIGRATE_WECOM_SECRET" in str(err.value)
    assert "wrong-secret-value" not in str(err.value)


def test_unreachable_server_is_a_remote_error():
    with FakeWeCom() as fake:
        url = fake.base_url
    client = WeComClient(CORP_ID, SECRET, settings=WeComSettings(base_url=url, attempts=2,
                                                                 calls_per_minute=10000),
                         sleep=lambda s: None)
    with client, pytest.raises(RemoteError, match="cannot reach"):
        client.follow_users()


def test_acquisition_links_and_customers():
    rels = [Relationship(f"wmL{i}", "s1", 1762912800, state="tplA", link_id="LINK_A")
            for i in range(3)] + [Relationship("wmL9", "s2", 1762912800, state="tplB",
                                               link_id="LINK_B")]
    with FakeWeCom(rels) as fake, _client(fake) as client:
        links = client.acquisition_links()
        customers = [c for link in links for c in client.acquisition_customers(link)]
    assert links == ["LINK_A", "LINK_B"]
    assert [c["state"] for c in customers] == ["tplA"] * 3 + ["tplB"]
    assert customers[0]["link_id"] == "LINK_A"


def test_mock_transport_refusing_json_is_retried():
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/gettoken":
            return httpx.Response(200, json={"errcode": 0, "access_token": "T", "expires_in": 7200})
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(200, text="<html>gateway</html>")
        return httpx.Response(200, json={"errcode": 0, "follow_user": ["s1"]})

    client = WeComClient(CORP_ID, SECRET, settings=WeComSettings(base_url="http://wecom.test",
                                                                 calls_per_minute=10000),
                         transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with client:
        assert client.follow_users() == ["s1"]
    assert calls["n"] == 2
