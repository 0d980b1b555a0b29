"""`privmigrate audience build|push|status` through the CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.workspace import Workspace
from tests.audience.world import customers, phone, tencent_config, write_config, write_customers
from tests.fakes.tencent_ads import FakeTencentAds


@pytest.fixture
def shop(ws: Workspace) -> Workspace:
    write_customers(ws, customers(list(range(60)), joined={1}, no_phone={3}))
    return ws


def run(runner: CliRunner, ws: Workspace, *args: str, env: dict[str, str] | None = None
        ) -> Any:
    return runner.invoke(app, ["audience", *args, "--workspace", str(ws.root)], env=env)


@pytest.mark.parametrize("platform,id_type,suffix", [
    ("tencent", "md5", ".zip"), ("oceanengine", "sha256", ".zip"),
    ("qianchuan", "sha256", ".zip"), ("alimama", "md5", ".txt")])
def test_build_each_platform(runner: CliRunner, shop: Workspace, platform: str, id_type: str,
                             suffix: str) -> None:
    result = run(runner, shop, "build", "--platform", platform, "--segment", "重要挽留客户",
                 "--segment", "重要价值客户", "--name", "lapsed", "--id-type", id_type, "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    counts = manifest["counts"]
    assert counts["customers_in_segments"] == 40 and counts["excluded_in_private_domain"] == 1
    assert counts["missing_phone"] == 1 and counts["ids"] == 38
    folder = Path(manifest["directory"])
    assert folder.parent == shop.audiences_dir / platform / "lapsed"
    (entry,) = manifest["files"]
    assert entry["name"].endswith(suffix) and entry["ids"] == 38
    assert stat.S_IMODE((folder / entry["name"]).stat().st_mode) == 0o600
    assert json.loads((folder / "manifest.json").read_text())["files"] == manifest["files"]
    assert phone(0) not in result.output


def test_build_human_output_and_exclusion_audience(runner: CliRunner, shop: Workspace) -> None:
    result = run(runner, shop, "build", "-p", "tencent", "--include", "in_private_domain",
                 "--name", "wecom-friends")
    assert result.exit_code == 0, result.output
    assert "1 ids" in result.output and "wecom-friends-001.zip" in result.output


def test_unknown_segment_is_a_clean_error(runner: CliRunner, shop: Workspace) -> None:
    result = run(runner, shop, "build", "-p", "tencent", "-s", "不存在的分组")
    assert result.exit_code == 1 and "known segments" in result.output


def test_ocean_engine_md5_is_refused(runner: CliRunner, shop: Workspace) -> None:
    result = run(runner, shop, "build", "-p", "oceanengine", "--id-type", "md5")
    assert result.exit_code == 1 and "sha256" in result.output


def test_push_dry_run_then_push_then_status(runner: CliRunner, shop: Workspace) -> None:
    fake = FakeTencentAds()
    url = fake.start()
    try:
        write_config(shop, tencent_config(url).replace("poll_seconds = 0.5",
                                                       "poll_seconds = 0"))
        env = {"PRIVMIGRATE_TENCENT_ADS_TOKEN": fake.token}
        dry = run(runner, shop, "push", "-p", "tencent", "--name", "lapsed", "--dry-run",
                  env=env)
        assert dry.exit_code == 0, dry.output
        assert "would add 38 and remove 0" in dry.output and fake.requests == []
        pushed = run(runner, shop, "push", "-p", "tencent", "--name", "lapsed", "--json",
                     env=env)
        assert pushed.exit_code == 0, pushed.output
        assert json.loads(pushed.stdout)["added"] == 38
        status = run(runner, shop, "status", "--refresh", "--json", env=env)
        (row,) = json.loads(status.stdout)["audiences"]
        assert row["size"] == 38 and row["processing"] == "done"
        assert row["match_rate"] is not None
        human = run(runner, shop, "status")
        assert "lapsed" in human.output and "tencent" in human.output
        fake.token_expired = True
        write_customers(shop, customers(list(range(70))))
        expired = run(runner, shop, "push", "-p", "tencent", "--name", "lapsed", env=env)
        assert expired.exit_code == 4 and "refresh_token" in expired.output
    finally:
        fake.stop()


def test_push_without_token_says_which_variable(runner: CliRunner, shop: Workspace) -> None:
    write_config(shop, tencent_config("http://127.0.0.1:9"))
    result = run(runner, shop, "push", "-p", "tencent", "--name", "lapsed",
                 env={"PRIVMIGRATE_TENCENT_ADS_TOKEN": ""})
    assert result.exit_code == 1 and "PRIVMIGRATE_TENCENT_ADS_TOKEN" in result.output


def test_alimama_push_uploads_nothing_and_says_where_the_file_is(runner: CliRunner,
                                                                 shop: Workspace) -> None:
    result = run(runner, shop, "push", "-p", "alimama", "--name", "ali", "-s", "重要价值客户")
    assert result.exit_code == 0, result.output
    assert "no public upload API" in result.output and "ali.txt" in result.output


@pytest.mark.parametrize("command", ["build", "push", "status"])
def test_every_command_has_help_with_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, ["audience", command, "--help"])
    assert result.exit_code == 0 and "privmigrate audience " + command in result.output
