"""[audience] parsing, and the library entry points the nightly run and the demo call."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

import pytest

import privmigrate.sample_config
from privmigrate.audience.build import build_audience
from privmigrate.audience.run import push_configured_audiences
from privmigrate.audience.settings import AudienceSettings, parse_audience_settings
from privmigrate.errors import ConfigError, ExitCode, PartialFailure
from privmigrate.sample_config import sample_config_text
from privmigrate.workspace import Workspace
from tests.audience.world import customers, tencent_config, write_config, write_customers
from tests.fakes.tencent_ads import FakeTencentAds

NOW = datetime(2026, 11, 25, 3, 0)


def test_sample_section_parses_and_defaults_apply() -> None:
    sample = Path(privmigrate.sample_config.__file__).parent / "40_audience.toml"
    settings = AudienceSettings.from_config(tomllib.loads(sample.read_text(encoding="utf-8")))
    assert settings.audiences == () and settings.publish_interval_hours == 24
    assert settings.platform("tencent").base_url == "https://api.e.qq.com/v3.0"
    assert settings.platform("oceanengine").max_zip_bytes == 50_000_000
    assert "[audience]" in sample_config_text()


@pytest.mark.parametrize("snippet,needle", [
    ('[[audience.audiences]]\nname = "x"\nplatform = "oceanengine"\nid_type = "md5"\n',
     "sha256"),
    ('[[audience.audiences]]\nname = "a/b"\nplatform = "tencent"\n', "30 letters"),
    ('[[audience.audiences]]\nname = "x"\nplatform = "weibo"\n', "audience.audiences[0].platform"),
    ('[audience]\npoll_secs = 3\n', "audience.poll_secs"),
    ('[audience.tencent]\nmax_zip_mb = 500\n', "audience.tencent.max_zip_mb"),
    ('[[audience.audiences]]\nname = "x"\n[[audience.audiences]]\nname = "x"\n', "twice"),
])
def test_config_errors_name_the_key(snippet: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_audience_settings(tomllib.loads(snippet))


def test_demo_style_build_call(ws: Workspace) -> None:
    write_customers(ws, customers(list(range(30))))
    manifest = build_audience(ws, platform="qianchuan", segments=["重要价值客户"],
                              name="demo-high-value", now=NOW)
    assert manifest["path"].endswith("20261125T030000")
    assert manifest["platform_id_type"] == "17" and manifest["counts"]["ids"] == 10


def test_nightly_entry_point(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    write_customers(ws, customers(list(range(30))))
    assert push_configured_audiences(ws, now=NOW) == {"audiences": [], "failed": []}
    fake = FakeTencentAds()
    url = fake.start()
    try:
        write_config(ws, tencent_config(url) + """
[[audience.audiences]]
name = "broken"
platform = "tencent"
segments = ["没有这个分组"]
""")
        monkeypatch.setenv("PRIVMIGRATE_TENCENT_ADS_TOKEN", fake.token)
        try:
            dry = push_configured_audiences(ws, now=NOW, dry_run=True)["audiences"]
        except PartialFailure as exc:
            dry = None
            assert "没有这个分组" in exc.message
        assert dry is None and fake.requests == []
        with pytest.raises(PartialFailure) as err:
            push_configured_audiences(ws, now=NOW, sleep=lambda s: None)
        assert err.value.exit_code == ExitCode.PARTIAL and "tencent:broken" in err.value.message
        assert fake.audience_by_name("lapsed") is not None  # the good one went through
    finally:
        fake.stop()


def test_changing_the_id_type_of_a_synced_audience_is_refused(ws: Workspace) -> None:
    import numpy as np

    from privmigrate.audience import state
    from privmigrate.audience.diff import as_set
    from privmigrate.audience.settings import AudienceDef
    from privmigrate.ledger import open_ledger, transaction

    md5 = AudienceDef("lapsed", "tencent", ("*",), "md5")
    with open_ledger(ws.state_db) as conn:
        state.ensure_audience(conn, md5, NOW)
        with transaction(conn):
            held = state.save_set(conn, md5.key, as_set(np.zeros((1, 16), np.uint8)), NOW)
            state.update_audience(conn, md5.key, held_set_id=held, held_count=1)
        with pytest.raises(ConfigError, match='keep id_type = "md5"'):
            state.ensure_audience(conn, AudienceDef("lapsed", "tencent", ("*",), "sha256"), NOW)
