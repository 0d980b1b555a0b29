"""Every command reads a bad date the same way: one line naming the option, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from privmigrate.cli import app


@pytest.mark.parametrize("args", [
    ["segment", "--as-of", "2026-02-30"],
    ["invite", "--date", "2026-02-30"],
    ["report", "--as-of", "2026-02-30"],
])
def test_a_bad_date_is_one_line_and_exit_1(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "-w", str(tmp_path)])
    assert result.exit_code == 1, result.output
    option = args[1]
    assert f"{option} '2026-02-30' is not a date; write it as YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output
