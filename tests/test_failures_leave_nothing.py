"""A failed command writes nothing, creates no folder and no lock; only init/demo/load make a
workspace. And init's example values (示例旗舰店, SMS_000000001, the demo links, 小美/小林)
refuse to run, send or push, naming each key to fill; --dry-run only warns."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.config import example_values
from privmigrate.demo import demo_config_text
from privmigrate.sample_config import sample_config_text

runner = CliRunner()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("args", [
    ["segment"], ["report"], ["track", "--dry-run"], ["run"], ["invite"],
    ["calls", "import", "calls.xlsx"], ["suppress", "list"],
])
def test_a_mistyped_workspace_is_not_created(tmp_path, args):
    typo = tmp_path / "typo-dir"
    result = runner.invoke(app, [*args, "-w", str(typo)])
    assert result.exit_code == 1, result.output
    assert "privmigrate init" in result.output  # says how to make one
    assert not typo.exists()


def test_a_failed_segment_leaves_no_lock_that_makes_a_workspace(tmp_path):
    folder = tmp_path / "just-a-folder"
    folder.mkdir()
    assert runner.invoke(app, ["segment", "-w", str(folder)]).exit_code == 1
    assert _files(folder) == []
    # so report does not take the folder for a workspace either
    result = runner.invoke(app, ["report", "-w", str(folder)])
    assert result.exit_code == 1 and "no workspace at" in result.output
    assert _files(folder) == []


@pytest.mark.parametrize(("args", "name"), [
    (["segment", "-o"], "x.csv"), (["report", "-o"], "x.xlsx")])
def test_an_output_in_a_missing_folder_creates_no_folder(tmp_path, args, name):
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", "-w", str(ws)]).exit_code == 0
    before = _files(ws)
    target = tmp_path / "no-such-dir" / name
    result = runner.invoke(app, [*args, str(target), "-w", str(ws)])
    assert result.exit_code == 1 and "does not exist" in result.output, result.output
    assert not target.parent.exists()
    assert _files(ws) == before


EXAMPLE_KEYS = ("invite.sign_name (示例旗舰店)", "invite.templates[0].code (SMS_000000001)",
                "invite.templates[1].text", "invite.staff[0] (id advisor01, name 小美)",
                "invite.staff[1] (id advisor02, name 小林)")


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    ws = tmp_path / "brand"
    assert runner.invoke(app, ["init", "-w", str(ws)]).exit_code == 0
    return ws


def test_run_refuses_init_example_values_naming_each_key(fresh):
    before = _files(fresh)
    result = runner.invoke(app, ["run", "-w", str(fresh)])
    assert result.exit_code == 1
    for key in EXAMPLE_KEYS:
        assert key in result.output, key
    assert _files(fresh) == before  # refused before the lock, the ledger or any step


def test_run_dry_run_warns_and_goes_on(fresh):
    result = runner.invoke(app, ["run", "--dry-run", "--json", "-w", str(fresh)])
    assert "Warning:" in result.output and "invite.sign_name (示例旗舰店)" in result.output
    assert '"steps"' in result.stdout


def test_invite_send_refuses_init_example_values(fresh):
    result = runner.invoke(app, ["invite", "--send", "-w", str(fresh)])
    assert result.exit_code == 1
    assert "`privmigrate invite --send` will not run" in result.output
    assert "invite.templates[0].code (SMS_000000001)" in result.output


def test_audience_push_refuses_an_empty_account(fresh):
    result = runner.invoke(app, ["audience", "push", "--platform", "tencent", "--name", "x",
                                 "-w", str(fresh)])
    assert result.exit_code == 1
    assert "audience.tencent.account_id (empty)" in result.output


def test_filled_values_pass_and_the_demo_has_its_own():
    sample = tomllib.loads(sample_config_text())
    # sign name, two template codes, two links, two staff members
    assert len(example_values(sample)) == 7
    assert example_values(tomllib.loads(demo_config_text())) == []
    sample["invite"]["sign_name"] = "测试品牌"
    assert not any("sign_name" in key for key in example_values(sample))
