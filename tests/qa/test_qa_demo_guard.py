"""QA fix: `privmigrate demo` never runs over a real brand's workspace."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.demo import demo_config_text, is_demo_workspace
from privmigrate.workspace import Workspace

runner = CliRunner()


def test_demo_refuses_a_workspace_made_by_init(tmp_path: Path) -> None:
    root = tmp_path / "brand"
    assert runner.invoke(app, ["init", "--workspace", str(root)]).exit_code == 0
    before = (root / "privmigrate.toml").read_bytes()
    result = runner.invoke(app, ["demo", "--workspace", str(root)])
    assert result.exit_code == 1
    assert "not a demo workspace" in result.output
    assert (root / "privmigrate.toml").read_bytes() == before
    assert not (root / "data").exists()


def test_empty_missing_and_previous_demo_workspaces_are_accepted(tmp_path: Path) -> None:
    assert is_demo_workspace(Workspace.at(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_demo_workspace(Workspace.at(empty))
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "privmigrate.toml").write_text(demo_config_text(), encoding="utf-8")
    assert is_demo_workspace(Workspace.at(previous))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x", encoding="utf-8")
    assert not is_demo_workspace(Workspace.at(other))
