"""QA fixes: invite and suppress on a workspace without privmigrate.toml, and bad reply files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from privmigrate.cli import app

runner = CliRunner()


def _suppress(root: Path, *args: str):
    """suppress in a workspace with an all-defaults config (nothing sendable in it)."""
    (root / "privmigrate.toml").touch()
    return runner.invoke(app, ["suppress", *args, "--workspace", str(root)])


def test_invite_without_config_says_to_run_init(tmp_path: Path) -> None:
    result = runner.invoke(app, ["invite", "--dry-run", "--workspace", str(tmp_path)])
    assert result.exit_code == 1
    assert "privmigrate.toml not found" in result.output
    assert "privmigrate init" in result.output


def test_suppress_import_needs_no_sendable_config(tmp_path: Path) -> None:
    replies = tmp_path / "replies.csv"
    replies.write_text("手机号码,回复内容\n13800000001,R\n13800000002,好的\n", encoding="utf-8")
    result = _suppress(tmp_path, "import", str(replies), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 1


def test_suppress_add_with_no_valid_number_is_an_error(tmp_path: Path) -> None:
    result = _suppress(tmp_path, "add", "12345")
    assert result.exit_code == 1
    assert "none of the numbers given is a valid mainland mobile" in result.output
    listed = _suppress(tmp_path, "list", "--json")
    assert json.loads(listed.stdout)["count"] == 0


def test_suppress_import_of_bad_files_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    broken.write_bytes(buf.getvalue())
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(buf.getvalue()[:40])
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = {
        str(broken): "not a readable Excel workbook",
        str(truncated): "not a readable Excel workbook",
        str(folder): "is a directory",
        str(tmp_path / "missing.csv"): "no such file; check the path",
    }
    for path, expected in cases.items():
        result = _suppress(tmp_path, "import", path)
        assert result.exit_code == 1, (path, result.output)
        assert expected in result.output, (path, result.output)
        assert "Traceback" not in result.output
        assert result.output.count("Error:") == 1
