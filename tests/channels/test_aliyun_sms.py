"""Aliyun SMS client against the loopback fake (real sockets, signature checked by the fake)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from privmigrate.channels.aliyun_sms import (
    AliyunSmsProvider,
    acs3_authorization,
    acs3_signature,
    sha256_hex,
)
from privmigrate.channels.sms import SmsMessage, SmsSettings, SmsStopError, make_sms_provider
from privmigrate.errors import ExitCode
from tests.fakes.aliyun_sms import ACCESS_KEY_ID, ACCESS_KEY_SECRET, FakeAliyunSms
from tests.fakes.sms_server import read_delivered


def messages(n: int, *, template: str = "SMS_100001", start: int = 0,
             personal: bool = True) -> list[SmsMessage]:
    return [
        SmsMessage(f"inv-{i:05d}", str(13800000000 + i), "测试品牌", template,
                   {"name": f"测试用户{i:03d}"} if personal else {})
        for i in range(start, start + n)
    ]


@pytest.fixture
def fake() -> Iterator[FakeAliyunSms]:
    with FakeAliyunSms() as server:
        yield server


def provider_for(fake: FakeAliyunSms, *, secret: str = ACCESS_KEY_SECRET, timeout: float = 2.0,
                 attempts: int = 4, sleeps: list[float] | None = None,
                 clock=time.time) -> AliyunSmsProvider:
    settings = SmsSettings(provider="aliyun", base_url=fake.base_url, timeout=timeout,
                           max_attempts=attempts)
    return AliyunSmsProvider(settings, access_key_id=ACCESS_KEY_ID, access_key_secret=secret,
                             sleep=(sleeps.append if sleeps is not None else lambda s: None),
                             clock=clock)


def test_signature_matches_the_documented_v3_vector() -> None:
    # help.aliyun.com "V3版本请求体&签名机制", 固定参数示例 (RunInstances).
    empty = sha256_hex(b"")
    headers = {"host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances",
               "x-acs-content-sha256": empty, "x-acs-date": "2023-10-26T10:22:32Z",
               "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
               "x-acs-version": "2014-05-26"}
    query = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
             "RegionId": "cn-shanghai"}
    signature = acs3_signature(method="POST", query=query, headers=headers,
                               signed_headers=list(headers), payload_hash=empty,
                               secret="YourAccessKeySecret")
    assert signature == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    assert acs3_authorization("YourAccessKeyId", list(headers), signature) == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")


def test_250_messages_go_out_in_three_signed_batch_calls(fake: FakeAliyunSms) -> None:
    batch = messages(250)
    results = provider_for(fake).send(batch)

    assert [r.message_id for r in results] == [m.message_id for m in batch]
    assert {r.status for r in results} == {"accepted"}
    assert fake.rejected_auth == []
    assert [(r["action"], len(r["phones"])) for r in fake.requests] == [
        ("SendBatchSms", 100), ("SendBatchSms", 100), ("SendBatchSms", 50)]
    assert all(fake.delivered[m.phone] == 1 for m in batch)
    # one BizId per call, shared by its numbers
    assert len({r.provider_ref for r in results}) == 3
    assert results[0].provider_ref == results[99].provider_ref != results[100].provider_ref


def test_batch_carries_personalised_params_signatures_and_trace_id(fake: FakeAliyunSms) -> None:
    batch = messages(3)
    provider_for(fake).send(batch)
    params = fake.requests[0]["params"]
    assert json.loads(params["TemplateParamJson"]) == [m.params for m in batch]
    assert json.loads(params["SignNameJson"]) == ["测试品牌"] * 3
    assert params["TemplateCode"] == "SMS_100001"
    assert params["OutId"] == "inv-00000,inv-00001,inv-00002"


def test_templates_are_never_mixed_in_one_batch(fake: FakeAliyunSms) -> None:
    batch = messages(2, template="SMS_A") + messages(2, template="SMS_B", start=2)
    provider_for(fake).send(batch)
    assert [r["params"]["TemplateCode"] for r in fake.requests] == ["SMS_A", "SMS_B"]


def test_a_single_message_uses_sendsms_with_its_own_out_id(fake: FakeAliyunSms) -> None:
    [result] = provider_for(fake).send(messages(1))
    assert result.status == "accepted" and result.code == "OK" and result.provider_ref
    [request] = fake.requests
    assert request["action"] == "SendSms"
    assert request["params"]["OutId"] == "inv-00000"
    assert json.loads(request["params"]["TemplateParam"]) == {"name": "测试用户000"}


def test_wrong_secret_stops_and_names_the_env_var(fake: FakeAliyunSms) -> None:
    with pytest.raises(SmsStopError) as info:
        provider_for(fake, secret="not-the-secret").send(messages(3))
    assert info.value.exit_code == ExitCode.REMOTE
    assert "SignatureDoesNotMatch" in str(info.value)
    assert "PRIVMIGRATE_ALIYUN_ACCESS_KEY_SECRET" in str(info.value)
    assert info.value.results == []
    assert sum(fake.delivered.values()) == 0


def test_throttling_is_retried_with_a_fresh_nonce(fake: FakeAliyunSms) -> None:
    fake.fail_next("Throttling.User", "Request was denied due to user flow control.",
                   times=2, status=400)
    sleeps: list[float] = []
    results = provider_for(fake, sleeps=sleeps).send(messages(5))
    assert {r.status for r in results} == {"accepted"}
    assert len(fake.requests) == 3 and len(sleeps) == 2
    assert fake.rejected_auth == []  # a reused nonce would have been refused
    assert all(count == 1 for count in fake.delivered.values())


def test_http_503_is_retried(fake: FakeAliyunSms) -> None:
    fake.http_error_next(503)
    results = provider_for(fake).send(messages(2))
    assert {r.status for r in results} == {"accepted"}
    assert len(fake.requests) == 2


def test_throttling_that_never_ends_stops_but_keeps_earlier_results(fake: FakeAliyunSms
                                                                     ) -> None:
    fake.pass_next()
    fake.fail_next("Throttling.User", times=10, status=400)
    with pytest.raises(SmsStopError) as info:
        provider_for(fake, attempts=3).send(messages(150))
    assert "after 3 attempts" in str(info.value)
    assert len(info.value.results) == 100
    assert {r.status for r in info.value.results} == {"accepted"}
    assert sum(fake.delivered.values()) == 100


def test_timeout_after_sending_is_unknown_and_never_resent(fake: FakeAliyunSms) -> None:
    fake.slow_next(3.0)
    started = time.monotonic()
    results = provider_for(fake, timeout=0.3).send(messages(3))
    assert time.monotonic() - started < 2.5
    assert {r.status for r in results} == {"unknown"}
    assert {r.code for r in results} == {"TIMEOUT"}
    assert "looked up by its request id" in results[0].detail
    assert fake.wait_delivered(3) == 3
    assert len(fake.requests) == 1  # not retried
    assert all(fake.delivered[m.phone] == 1 for m in messages(3))  # …and it did go out


def test_dropped_connection_after_sending_is_unknown(fake: FakeAliyunSms) -> None:
    fake.drop_next()
    results = provider_for(fake).send(messages(2))
    assert {r.status for r in results} == {"unknown"}
    assert {r.code for r in results} == {"CONNECTION_LOST"}
    assert len(fake.requests) == 1 and sum(fake.delivered.values()) == 2


def test_connect_errors_are_retried_read_timeouts_are_not() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["x-acs-action"])
        if len(calls) <= 2:
            raise httpx.ConnectError("connection refused", request=request)
        if len(calls) == 3:
            return httpx.Response(200, json={"Code": "OK", "Message": "OK", "BizId": "1^0"})
        raise httpx.ReadTimeout("read timed out", request=request)

    settings = SmsSettings(base_url="https://dysmsapi.aliyuncs.com")
    provider = AliyunSmsProvider(settings, access_key_id="ak", access_key_secret="sk",
                                 transport=httpx.MockTransport(handler), sleep=lambda s: None)
    assert provider.send(messages(2))[0].status == "accepted"
    assert len(calls) == 3
    assert {r.status for r in provider.send(messages(2))} == {"unknown"}
    assert len(calls) == 4


def test_gateway_timeout_504_is_unknown_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(504, text="Gateway Time-out")

    provider = AliyunSmsProvider(SmsSettings(), access_key_id="ak", access_key_secret="sk",
                                 transport=httpx.MockTransport(handler), sleep=lambda s: None)
    assert {r.code for r in provider.send(messages(2))} == {"HTTP_504"}
    assert len(calls) == 1


def test_unknown_template_stops_the_batch() -> None:
    with FakeAliyunSms(templates={"SMS_APPROVED"}) as fake, pytest.raises(SmsStopError) as info:
        provider_for(fake).send(messages(4, template="SMS_UNAPPROVED"))
    assert "isv.SMS_TEMPLATE_ILLEGAL" in str(info.value)
    assert "SMS_UNAPPROVED" in str(info.value) and "template" in str(info.value)
    assert sum(fake.delivered.values()) == 0


@pytest.mark.parametrize("code", ["isv.AMOUNT_NOT_ENOUGH", "isv.SMS_SIGNATURE_ILLEGAL",
                                  "isv.DAY_LIMIT_CONTROL", "isp.RAM_PERMISSION_DENY"])
def test_account_and_signature_errors_stop(fake: FakeAliyunSms, code: str) -> None:
    fake.fail_next(code)
    with pytest.raises(SmsStopError, match=code.replace(".", r"\.")):
        provider_for(fake).send(messages(1))


def test_a_bad_number_in_a_batch_is_found_by_sending_one_by_one(fake: FakeAliyunSms) -> None:
    batch = messages(3)
    batch[1] = SmsMessage("inv-bad", "12345", "测试品牌", "SMS_100001", {"name": "测试用户"})
    results = provider_for(fake).send(batch)
    assert [r.status for r in results] == ["accepted", "failed", "accepted"]
    assert results[1].code == "isv.MOBILE_NUMBER_ILLEGAL" and not results[1].suppress
    assert [r["action"] for r in fake.requests] == ["SendBatchSms"] + ["SendSms"] * 3
    assert sum(fake.delivered.values()) == 2


def test_blacklisted_and_capped_numbers_fail_with_their_codes(fake: FakeAliyunSms) -> None:
    batch = messages(3)
    fake.number_codes[batch[0].phone] = "isv.BLACK_KEY_CONTROL_LIMIT"
    fake.number_codes[batch[2].phone] = "isv.BUSINESS_LIMIT_CONTROL"
    results = provider_for(fake).send(batch)
    assert [(r.status, r.code, r.suppress) for r in results] == [
        ("failed", "isv.BLACK_KEY_CONTROL_LIMIT", True),
        ("accepted", "OK", False),
        ("failed", "isv.BUSINESS_LIMIT_CONTROL", False),
    ]


def test_batch_taken_whole_maps_every_number_to_accepted() -> None:
    with FakeAliyunSms(batch_bad_number="accept") as fake:
        batch = messages(3)
        fake.number_codes[batch[1].phone] = "isv.MOBILE_NUMBER_ILLEGAL"
        results = provider_for(fake).send(batch)
    # SendBatchSms reports no per-number errors: the failure would only show in receipts.
    assert {r.status for r in results} == {"accepted"}
    assert fake.delivered[batch[1].phone] == 0


def test_stop_error_keeps_results_of_calls_already_made(fake: FakeAliyunSms) -> None:
    fake.pass_next()
    fake.fail_next("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
    batch = messages(150)
    with pytest.raises(SmsStopError) as info:
        provider_for(fake).send(batch)
    done = {r.message_id for r in info.value.results}
    assert done == {m.message_id for m in batch[:100]}
    assert sum(fake.delivered.values()) == 100


def test_phone_numbers_never_reach_messages(fake: FakeAliyunSms) -> None:
    fake.fail_next("isv.SMS_CONTENT_ILLEGAL", "号码13800000001的短信内容包含禁止发送内容")
    with pytest.raises(SmsStopError) as info:
        provider_for(fake).send(messages(2))
    assert "13800000001" not in str(info.value)
    fake.number_codes["13800000005"] = "isv.MOBILE_NUMBER_ILLEGAL"
    [result] = provider_for(fake).send(messages(1, start=5))
    assert "13800000005" not in result.detail + result.code


def test_clock_skew_is_a_stop_error_saying_fix_the_clock(fake: FakeAliyunSms) -> None:
    with pytest.raises(SmsStopError, match="NTP"):
        provider_for(fake, clock=lambda: time.time() - 3600).send(messages(1))


def test_deliveries_persist_across_fake_instances(tmp_path) -> None:
    ledger = tmp_path / "delivered.jsonl"
    with FakeAliyunSms(ledger_path=ledger) as fake:
        provider_for(fake).send(messages(3))
    with FakeAliyunSms(ledger_path=ledger) as again:
        assert again.delivered["13800000000"] == 1
        provider_for(again).send(messages(1))
    assert read_delivered(ledger)["13800000000"] == 2


def test_factory_reads_credentials_from_env(fake: FakeAliyunSms, monkeypatch) -> None:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    settings = SmsSettings.from_config({"invite": {"sms": fake.config()}})
    provider = make_sms_provider(settings, sleep=lambda s: None)
    assert (provider.name, provider.max_batch, provider.params_per_call) == ("aliyun", 100, False)
    assert provider.send(messages(1))[0].status == "accepted"


def test_a_separate_process_can_send_through_the_fake(tmp_path) -> None:
    """What the invite tests do: the CLI in a subprocess, the fake and its file in the test."""
    script = (
        "import json, sys\n"
        "from privmigrate.channels.sms import SmsMessage, SmsSettings, make_sms_provider\n"
        "settings = SmsSettings.from_config(json.loads(sys.argv[1]))\n"
        "batch = [SmsMessage(f'm{i}', str(13800000000 + i), '测试品牌', 'SMS_1', {})"
        " for i in range(3)]\n"
        "print(sorted({r.status for r in make_sms_provider(settings).send(batch)}))\n"
    )
    ledger = tmp_path / "delivered.jsonl"
    with FakeAliyunSms(ledger_path=ledger) as fake:
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps({"invite": {"sms": fake.config()}})],
            env={**os.environ, **fake.env()}, capture_output=True, text=True, timeout=60,
            check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['accepted']"
    assert read_delivered(ledger) == {str(13800000000 + i): 1 for i in range(3)}


def test_json_is_asked_for_and_an_unreadable_2xx_is_unknown(fake: FakeAliyunSms) -> None:
    fake.pass_next()
    fake.garble_next("xml")
    with provider_for(fake) as client:
        first = client.send(messages(3))
        second = client.send(messages(1, start=5))
    assert [r.status for r in first] == ["accepted"] * 3
    assert fake.requests[0]["params"]["Format"] == "JSON"
    assert fake.requests[0]["accept"] == "application/json"
    (only,) = second
    assert only.status == "unknown" and only.code == "UNREADABLE_ANSWER"
    assert fake.delivered[messages(1, start=5)[0].phone] == 1
