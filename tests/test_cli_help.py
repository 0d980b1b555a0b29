"""Every command has help text with an example (the docstring is the help)."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from privmigrate.cli import app


def _commands() -> list[tuple[list[str], Any]]:
    root = typer.main.get_command(app)
    found: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found.append((path, cmd))

    walk(root, [])
    return found


def test_all_pipeline_commands_exist() -> None:
    names = {" ".join(p) for p, _ in _commands()}
    for expected in ("load", "segment", "invite", "audience build", "audience push",
                     "audience status", "track", "report", "run", "init", "demo",
                     "suppress add", "suppress list"):
        assert expected in names, expected


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for path, cmd in _commands():
        assert cmd.help and len(cmd.help) > 40, path
        assert "Example" in cmd.help or "example" in cmd.help, path
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "--workspace" in result.output or path == ["demo"], path


def test_every_command_offers_json() -> None:
    runner = CliRunner()
    for path, _ in _commands():
        result = runner.invoke(app, [*path, "--help"])
        assert "--json" in result.output, path


def test_a_failing_command_with_json_says_so_on_stdout(tmp_path) -> None:
    import json

    runner = CliRunner()
    result = runner.invoke(app, ["load", str(tmp_path / "missing.csv"), "-w", str(tmp_path),
                                 "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["exit_code"] == 1 and "missing.csv" in payload["error"]
    assert result.stderr.startswith("Error:")


def test_options_name_their_value_in_words_not_python_types() -> None:
    """`--workspace DIR`, `--date DATE` …, never Typer's `<str>` / `<path>` placeholders."""
    import re

    runner = CliRunner()
    for path, _ in _commands():
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, path
        assert not re.search(r"--[a-z-]+ <[a-z\[\]| ]+>", result.output), (path, result.output)
