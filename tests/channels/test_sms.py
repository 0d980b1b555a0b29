"""The shared SMS interface: settings from config, call planning, redaction."""

from __future__ import annotations

import pytest

from privmigrate.channels.sms import (
    SendResult,
    SmsMessage,
    SmsSettings,
    make_sms_provider,
    plan_calls,
    redact_phones,
    should_retry_later,
)
from privmigrate.errors import ConfigError


def test_settings_default_to_aliyun() -> None:
    settings = SmsSettings.from_config({})
    assert (settings.provider, settings.base_url, settings.timeout, settings.max_attempts) == (
        "aliyun", "https://dysmsapi.aliyuncs.com", 10.0, 4)


def test_settings_read_invite_sms() -> None:
    raw = {"invite": {"sms": {"provider": "tencent", "base_url": "https://sms.example/",
                              "region": "ap-beijing", "sdk_app_id": 1400000001,
                              "timeout_seconds": 3, "max_attempts": 2}}}
    settings = SmsSettings.from_config(raw)
    assert settings == SmsSettings("tencent", "https://sms.example", "ap-beijing",
                                   "1400000001", 3.0, 2)
    assert SmsSettings.from_config({"invite": {"sms": {"provider": "tencent",
                                                       "sdk_app_id": "1"}}}).base_url == (
        "https://sms.tencentcloudapi.com")


@pytest.mark.parametrize(("sms", "key"), [
    ({"provider": "tencent"}, "invite.sms.sdk_app_id"),
    ({"provider": "huawei"}, "invite.sms.provider"),
    ({"endpoint": "dysmsapi.aliyuncs.com"}, "invite.sms.endpoint"),
    ({"timeout_seconds": 0}, "invite.sms.timeout_seconds"),
    ({"endpoint": "https://a", "base_url": "https://b"}, "invite.sms.endpoint"),
])
def test_settings_errors_name_the_key(sms: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        SmsSettings.from_config({"invite": {"sms": sms}})


def test_missing_credentials_name_the_env_var(monkeypatch) -> None:
    monkeypatch.delenv("PRIVMIGRATE_ALIYUN_ACCESS_KEY_ID", raising=False)
    with pytest.raises(ConfigError, match="PRIVMIGRATE_ALIYUN_ACCESS_KEY_ID"):
        make_sms_provider(SmsSettings())


def _msg(i: int, phone: str, key: str) -> SmsMessage:
    return SmsMessage(f"m{i}", phone, "测试品牌", key, {})


def test_plan_calls_groups_in_order_and_splits_repeated_numbers() -> None:
    batch = [_msg(0, "13800000000", "A"), _msg(1, "13800000001", "B"),
             _msg(2, "13800000000", "A"), _msg(3, "13800000002", "A"),
             _msg(4, "13800000003", "A")]
    key = lambda m: m.template_code  # noqa: E731
    assert plan_calls(batch, key, 2, unique_phones=True) == [[0, 3], [4], [2], [1]]
    assert plan_calls(batch, key, 2, unique_phones=False) == [[0, 2], [3, 4], [1]]


def test_plan_calls_is_linear_for_large_batches() -> None:
    batch = [_msg(i, str(13800000000 + i), "A") for i in range(100_000)]
    calls = plan_calls(batch, lambda m: m.template_code, 200, unique_phones=True)
    assert len(calls) == 500 and sum(map(len, calls)) == 100_000


def test_redact_phones() -> None:
    assert redact_phones("号码+8613800000001在黑名单, 13912345678") == (
        "号码1**********在黑名单, 1**********")
    assert redact_phones("BizId 900619746936498440^0") == "BizId 900619746936498440^0"


def test_should_retry_later_only_for_frequency_caps() -> None:
    capped = SendResult("m", "failed", "isv.BUSINESS_LIMIT_CONTROL", "", None, False)
    bad = SendResult("m", "failed", "isv.MOBILE_NUMBER_ILLEGAL", "", None, False)
    assert should_retry_later(capped) and not should_retry_later(bad)


def test_unknown_sms_key_is_a_config_error_naming_it() -> None:
    import pytest

    from privmigrate.channels.sms import SmsSettings
    from privmigrate.errors import ConfigError

    with pytest.raises(ConfigError, match=r"invite\.sms\.sdk_appid is not a known key"):
        SmsSettings.from_config({"invite": {"sms": {"provider": "tencent", "sdk_appid": "1"}}})
