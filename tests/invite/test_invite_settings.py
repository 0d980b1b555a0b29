"""[invite] parsing: a template that cannot comply is a config error naming the key."""

from __future__ import annotations

import copy
import tomllib
from datetime import time
from pathlib import Path

import pytest

from privmigrate.errors import ConfigError
from privmigrate.invite.settings import InviteSettings
from tests.invite import invite_world as w

SAMPLE = Path(__file__).parents[2] / "privmigrate" / "sample_config" / "30_invite.toml"


def _with_template(**changes):
    raw = w.config()
    raw["invite"]["templates"][0].update(changes)
    return raw


def test_base_config_parses_with_defaults():
    s = InviteSettings.from_config(w.config())
    assert s.window.start == time(9, 0) and s.window.end == time(20, 0)
    assert s.window.timezone == "Asia/Shanghai"
    assert [t.id for t in s.templates_for("sms")] == ["sms_a", "sms_b"]
    assert s.templates[0].variables == ("name", "product", "offer", "staff")


def test_sample_config_is_valid_on_its_own():
    raw = tomllib.loads(SAMPLE.read_text(encoding="utf-8"))
    s = InviteSettings.from_config(raw)
    assert s.sign_name and s.templates_for("sms") and s.templates_for("call")
    assert raw["invite"]["sms"]["provider"] in ("aliyun", "tencent")


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"text": "{name}您好，领券 拒收请回复"}, "拒收请回复R"),
        ({"text": "【品牌】{name}您好 拒收请回复R"}, "【】"),
        ({"text": "{name}{offer}到账 拒收请回复R"}, "adjacent"),
        ({"text": "{nick}您好 拒收请回复R"}, "{nick}"),
        ({"text": "{name}您好{name}再见 拒收请回复R"}, "more than once"),
        ({"text": "您好" * 260 + "拒收请回复R"}, "billed characters"),
        ({"code": ""}, "template code"),
        ({"segments": ["不存在的分层"]}, "not in invite.segments"),
        ({"colour": "red"}, "not a known key"),
    ],
)
def test_non_compliant_templates_are_config_errors(changes, needle):
    with pytest.raises(ConfigError) as err:
        InviteSettings.from_config(_with_template(**changes))
    assert needle in str(err.value)
    assert "invite.templates[0]" in str(err.value) or "template 'sms_a'" in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"sign_name": "【测试】"}, "invite.sign_name"),
        ({"sign_name": "x"}, "invite.sign_name"),
        ({"window": {"start": "07:30", "end": "20:00"}}, "08:00"),
        ({"window": {"start": "09:00", "end": "22:00"}}, "21:00"),
        ({"holdout_percent": 95}, "invite.holdout_percent"),
        ({"channels": ["sms", "email"]}, "invite.channels"),
        ({"dailylimit": 5}, "not a known key"),
        ({"max_parts": 1}, "parts"),
    ],
)
def test_bad_invite_keys_name_the_key(overrides, needle):
    with pytest.raises(ConfigError) as err:
        InviteSettings.from_config(w.config(**overrides))
    assert needle in str(err.value)


def test_offer_text_over_35_characters_is_rejected():
    raw = w.config()
    raw["invite"]["offers"] = [{"segments": ["重要价值客户"], "text": "超长" * 20, "value": 5}]
    with pytest.raises(ConfigError, match="35"):
        InviteSettings.from_config(raw)


def test_channel_without_templates_is_rejected():
    raw = copy.deepcopy(w.config())
    raw["invite"]["templates"] = [t for t in raw["invite"]["templates"] if t["channel"] == "sms"]
    with pytest.raises(ConfigError, match="channel = 'call'"):
        InviteSettings.from_config(raw)
