"""QA fixes: config mistakes and workspace paths give one clear line, never a traceback."""

from __future__ import annotations

import fcntl
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.config import Section, read_config
from privmigrate.errors import ConfigError, InputError, LockedError
from privmigrate.invite.settings import parse_settings
from privmigrate.ledger import open_ledger
from privmigrate.pipeline import RunSettings, cron_lines
from privmigrate.workspace import Workspace, atomic_path, private_dir

runner = CliRunner()


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "privmigrate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_misspelt_section_names_the_section_and_the_fix(tmp_path: Path) -> None:
    path = _config(tmp_path, '[invte.window]\nstart = "10:00"\n')
    with pytest.raises(ConfigError) as err:
        read_config(path)
    assert "[invte] is not a known section" in err.value.message
    assert "did you mean [invite]?" in err.value.message


def test_known_sections_are_read(tmp_path: Path) -> None:
    path = _config(tmp_path, '[report]\nlang = "en"\n[run]\ncron_time = "03:00"\n')
    assert read_config(path)["report"] == {"lang": "en"}


def test_misspelt_section_through_the_cli_exits_1_without_traceback(tmp_path: Path) -> None:
    _config(tmp_path, '[reprot]\nlang = "en"\n')
    result = runner.invoke(app, ["report", "--workspace", str(tmp_path)])
    assert result.exit_code == 1
    assert "[reprot] is not a known section" in result.output
    assert "Traceback" not in result.output


def test_number_bounds_read_like_the_user_wrote_them() -> None:
    low = Section("invite", {"daily_limit": -3})
    with pytest.raises(ConfigError) as err:
        low.number("daily_limit", 10, lo=0)
    assert err.value.message.endswith("invite.daily_limit must be at least 0, got -3")
    both = Section("invite", {"holdout_percent": 150})
    with pytest.raises(ConfigError) as err:
        both.number("holdout_percent", 10, lo=0, hi=90)
    assert "must be between 0 and 90, got 150" in err.value.message
    text = Section("invite", {"daily_limit": "300"})
    with pytest.raises(ConfigError) as err:
        text.number("daily_limit", 10, lo=0)
    assert "must be a number, got '300'" in err.value.message


def test_unknown_time_zone_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"invite": {"channels": ["call"],
                                   "window": {"timezone": "Asia/Beijing"}}})
    assert "invite.window.timezone is not a known time zone: 'Asia/Beijing'" in err.value.message
    assert "Asia/Shanghai" in err.value.message


def test_workspace_that_is_a_file_is_an_input_error(tmp_path: Path) -> None:
    file = tmp_path / "orders.csv"
    file.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="is a file, not a folder"):
        Workspace.at(file)
    result = runner.invoke(app, ["load", str(file), "--workspace", str(file)])
    assert result.exit_code == 1
    assert "is a file, not a folder" in result.output
    assert "Traceback" not in result.output


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_parent_folders_are_owner_only_too(tmp_path: Path) -> None:
    deep = private_dir(tmp_path / "a" / "b" / "c")
    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", deep)] == [0o700] * 3
    with atomic_path(tmp_path / "batches" / "2026-11-25" / "sms.csv") as tmp:
        tmp.write_text("x", encoding="utf-8")
    assert _mode(tmp_path / "batches") == 0o700
    assert _mode(tmp_path / "batches" / "2026-11-25") == 0o700
    with open_ledger(tmp_path / "new" / "state.db"):
        pass
    assert _mode(tmp_path / "new") == 0o700
    ws = Workspace.at(tmp_path / "fresh" / "brand")
    with ws.lock("test"):
        pass
    assert _mode(tmp_path / "fresh") == _mode(ws.root) == 0o700


def test_locked_message_names_the_command_to_rerun(tmp_path: Path) -> None:
    ws = Workspace.at(tmp_path)
    with (tmp_path / ".privmigrate.lock").open("w") as held:  # as another process would
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockedError) as err, ws.lock("run"):
            pass
    assert err.value.exit_code == 5
    assert "then run `privmigrate run` again" in err.value.message


def test_cron_lines_quote_the_workspace_for_sh_and_cron(tmp_path: Path) -> None:
    ws = Workspace.at(private_dir(tmp_path / "my brand%1"))
    settings = RunSettings.from_config({"run": {"send": True}})
    lines = cron_lines(ws, "/usr/bin/privmigrate", settings)
    quoted = "'" + str(ws.root).replace("%", "\\%") + "'"
    assert lines[1].endswith(f"run --workspace {quoted}")
    assert lines[2].endswith(f"invite --send --workspace {quoted}")


def test_print_cron_json_is_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--print-cron", "--json", "--workspace", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cron"][0] == "CRON_TZ=Asia/Shanghai"
    assert data["cron"][1].startswith("30 2 * * * ")


@pytest.mark.parametrize("command", [
    ["report"], ["track"], ["run"], ["run", "--print-cron"], ["audience", "status"],
    ["audience", "push", "--all"], ["suppress", "list"], ["suppress", "add", "13800000001"],
])
def test_mistyped_workspace_is_not_created(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "brnad"
    result = runner.invoke(app, [*command, "--workspace", str(typo)])
    assert result.exit_code == 1, result.output
    assert f"no workspace at {typo}" in result.output
    assert not typo.exists()
