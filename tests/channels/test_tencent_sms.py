"""Tencent Cloud SMS client against the loopback fake (real sockets, TC3 checked by the fake)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from privmigrate.channels.sms import SmsMessage, SmsSettings, SmsStopError, make_sms_provider
from privmigrate.channels.tencent_sms import (
    TencentSmsProvider,
    sha256_hex,
    tc3_authorization,
    tc3_canonical_request,
    tc3_signature,
)
from privmigrate.errors import ExitCode
from tests.fakes.tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, FakeTencentSms


def message(i: int, *, params: dict[str, str] | None = None, template: str = "1234567",
            phone: str | None = None) -> SmsMessage:
    return SmsMessage(f"inv-{i:05d}", phone or str(13900000000 + i), "测试品牌", template,
                      params if params is not None else {"1": "会员日"})


@pytest.fixture
def fake() -> Iterator[FakeTencentSms]:
    with FakeTencentSms() as server:
        yield server


def provider_for(fake: FakeTencentSms, *, key: str = SECRET_KEY, timeout: float = 2.0,
                 attempts: int = 4, clock=time.time) -> TencentSmsProvider:
    settings = SmsSettings(provider="tencent", base_url=fake.base_url, region="ap-guangzhou",
                           sdk_app_id=SDK_APP_ID, timeout=timeout, max_attempts=attempts)
    return TencentSmsProvider(settings, secret_id=SECRET_ID, secret_key=key,
                              sleep=lambda s: None, clock=clock)


def test_signature_matches_the_documented_tc3_vector() -> None:
    # cloud.tencent.com "签名方法 v3" worked example (CVM DescribeInstances, EXAMPLE keys).
    payload = (b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
               b'"Name": "instance-name"}]}')
    headers = {"Content-Type": "application/json; charset=utf-8",
               "Host": "cvm.tencentcloudapi.com"}
    canonical = tc3_canonical_request(method="POST", headers=headers,
                                      signed_headers=["content-type", "host"], payload=payload)
    assert sha256_hex(payload) == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    assert sha256_hex(canonical.encode()) == (
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
    signature = tc3_signature(secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", service="cvm",
                              timestamp=1551113065, canonical_request=canonical)
    assert signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    assert tc3_authorization(secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", service="cvm",
                             timestamp=1551113065, signed_headers=["content-type", "host"],
                             signature=signature) == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9b"
        "ddcbaa8e581f516e8da2f66e2c5a96525168")


def test_identical_texts_share_calls_of_at_most_200(fake: FakeTencentSms) -> None:
    batch = [message(i) for i in range(250)]
    results = provider_for(fake).send(batch)
    assert {r.status for r in results} == {"accepted"}
    assert [len(r["phones"]) for r in fake.requests] == [200, 50]
    assert fake.rejected_auth == []
    assert all(fake.delivered[m.phone] == 1 for m in batch)
    assert len({r.provider_ref for r in results}) == 250  # one SerialNo per number
    body = fake.requests[0]["body"]
    assert body["PhoneNumberSet"][0] == "+8613900000000"
    assert body["TemplateParamSet"] == ["会员日"]
    assert body["SmsSdkAppId"] == SDK_APP_ID


def test_personalised_texts_go_one_call_per_parameter_set(fake: FakeTencentSms) -> None:
    batch = [message(0, params={"1": "测试用户001"}), message(1, params={"1": "测试用户002"}),
             message(2, params={"1": "测试用户001"}), message(3, template="7654321")]
    results = provider_for(fake).send(batch)
    assert [r.message_id for r in results] == [m.message_id for m in batch]
    assert sorted(tuple(r["phones"]) for r in fake.requests) == sorted([
        ("13900000000", "13900000002"), ("13900000001",), ("13900000003",)])
    assert fake.requests[0]["params"] == ["测试用户001"]


def test_a_number_never_appears_twice_in_one_call(fake: FakeTencentSms) -> None:
    batch = [message(0), message(1, phone="13900000000"), message(2)]
    results = provider_for(fake).send(batch)
    assert [len(r["phones"]) for r in fake.requests] == [2, 1]
    assert {r.status for r in results} == {"accepted"}
    assert fake.delivered["13900000000"] == 2


def test_per_number_failures_and_suppression(fake: FakeTencentSms) -> None:
    batch = [message(0), message(1), message(2), message(3)]
    fake.number_codes[batch[1].phone] = "FailedOperation.PhoneNumberInBlacklist"
    fake.number_codes[batch[2].phone] = "InvalidParameterValue.IncorrectPhoneNumber"
    fake.number_codes[batch[3].phone] = "LimitExceeded.PhoneNumberDailyLimit"
    results = provider_for(fake).send(batch)
    assert [(r.status, r.code, r.suppress) for r in results] == [
        ("accepted", "Ok", False),
        ("failed", "FailedOperation.PhoneNumberInBlacklist", True),
        ("failed", "InvalidParameterValue.IncorrectPhoneNumber", False),
        ("failed", "LimitExceeded.PhoneNumberDailyLimit", False),
    ]
    assert len(fake.requests) == 1 and sum(fake.delivered.values()) == 1
    assert all(m.phone not in r.detail for m, r in zip(batch, results, strict=True))


def test_request_limit_is_retried(fake: FakeTencentSms) -> None:
    fake.fail_next("RequestLimitExceeded", "请求的次数超过了频率限制", times=2)
    results = provider_for(fake).send([message(0), message(1)])
    assert {r.status for r in results} == {"accepted"}
    assert len(fake.requests) == 3 and sum(fake.delivered.values()) == 2


def test_backend_timeout_code_is_unknown_not_retried(fake: FakeTencentSms) -> None:
    fake.fail_next("InternalError.Timeout", "请求下发短信超时")
    results = provider_for(fake).send([message(0), message(1)])
    assert {(r.status, r.code) for r in results} == {("unknown", "InternalError.Timeout")}
    assert len(fake.requests) == 1


def test_timeout_after_sending_is_unknown_and_counted(fake: FakeTencentSms) -> None:
    fake.slow_next(3.0)
    results = provider_for(fake, timeout=0.3).send([message(0), message(1)])
    assert {(r.status, r.code) for r in results} == {("unknown", "TIMEOUT")}
    assert fake.wait_delivered(2) == 2
    assert len(fake.requests) == 1
    assert fake.delivered["13900000000"] == fake.delivered["13900000001"] == 1


def test_dropped_connection_is_unknown(fake: FakeTencentSms) -> None:
    fake.drop_next()
    results = provider_for(fake).send([message(0)])
    assert results[0].status == "unknown" and results[0].code == "CONNECTION_LOST"


def test_wrong_key_stops_and_names_the_env_var(fake: FakeTencentSms) -> None:
    with pytest.raises(SmsStopError) as info:
        provider_for(fake, key="wrong").send([message(0)])
    assert info.value.exit_code == ExitCode.REMOTE
    assert "AuthFailure.SignatureFailure" in str(info.value)
    assert "PRIVMIGRATE_TENCENTCLOUD_SECRET_KEY" in str(info.value)
    assert sum(fake.delivered.values()) == 0


def test_clock_skew_stops_saying_fix_the_clock(fake: FakeTencentSms) -> None:
    with pytest.raises(SmsStopError, match=r"AuthFailure\.SignatureExpire.*NTP"):
        provider_for(fake, clock=lambda: time.time() + 900).send([message(0)])


def test_unapproved_template_stops() -> None:
    with (FakeTencentSms(templates={"1111111"}) as fake,
          pytest.raises(SmsStopError, match=r"TemplateIncorrectOrUnapproved.*TemplateId")):
        provider_for(fake).send([message(0)])


def test_marketing_window_stops_with_the_hours(fake: FakeTencentSms) -> None:
    fake.fail_next("FailedOperation.MarketingSendTimeConstraint", "营销短信只允许在8点到22点发送")
    with pytest.raises(SmsStopError, match="08:00–22:00"):
        provider_for(fake).send([message(0)])


def test_per_number_stop_code_stops_after_recording_the_call(fake: FakeTencentSms) -> None:
    batch = [message(0), message(1), message(2, params={"1": "其他"})]
    fake.number_codes[batch[1].phone] = "FailedOperation.InsufficientBalanceInSmsPackage"
    with pytest.raises(SmsStopError, match="InsufficientBalance") as info:
        provider_for(fake).send(batch)
    outcomes = {r.message_id: r.status for r in info.value.results}
    assert outcomes == {"inv-00000": "accepted", "inv-00001": "failed"}  # inv-00002 not sent
    assert fake.delivered[batch[2].phone] == 0


def test_a_request_level_number_error_is_resolved_number_by_number(fake: FakeTencentSms
                                                                    ) -> None:
    fake.fail_next("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误")
    results = provider_for(fake).send([message(0), message(1)])
    assert [len(r["phones"]) for r in fake.requests] == [2, 1, 1]
    assert {r.status for r in results} == {"accepted"}


def test_gateway_errors_5xx_retried_504_unknown() -> None:
    answers = [httpx.Response(502, text="bad gateway"), httpx.Response(504, text="timeout")]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    settings = SmsSettings(provider="tencent", base_url="https://sms.tencentcloudapi.com",
                           region="ap-guangzhou", sdk_app_id=SDK_APP_ID)
    provider = TencentSmsProvider(settings, secret_id="id", secret_key="key",
                                  transport=httpx.MockTransport(handler), sleep=lambda s: None)
    [result] = provider.send([message(0)])
    assert (result.status, result.code) == ("unknown", "HTTP_504")
    assert answers == []


def test_factory_builds_tencent_from_config_and_env(fake: FakeTencentSms, monkeypatch) -> None:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    provider = make_sms_provider(SmsSettings.from_config({"invite": {"sms": fake.config()}}))
    assert (provider.name, provider.max_batch, provider.params_per_call) == ("tencent", 200, True)
    assert provider.send([message(0)])[0].status == "accepted"


def test_json_is_asked_for_and_an_unreadable_2xx_is_unknown(fake: FakeTencentSms) -> None:
    fake.garble_next("empty")
    with provider_for(fake) as client:
        (only,) = client.send([message(1)])
    assert fake.requests[0]["accept"] == "application/json"
    assert only.status == "unknown" and only.code == "UNREADABLE_ANSWER"
    assert sum(fake.delivered.values()) == 1
