"""`privmigrate report` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from privmigrate.cli import app
from tests.report.fixtures import build_workspace

runner = CliRunner()


def test_report_json_summary(tmp_path: Path):
    ws = build_workspace(tmp_path / "ws", customers=30)
    result = runner.invoke(app, ["report", "--workspace", str(ws.root), "--as-of",
                                 "2026-11-20", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["path"].endswith("reports/privmigrate-2026-11-20.xlsx")
    assert summary["customers"] == 30 and summary["lang"] == "zh"
    assert Path(summary["latest"]).exists()


def test_report_prints_the_path_last(tmp_path: Path):
    ws = build_workspace(tmp_path / "ws", customers=10)
    out = tmp_path / "morning.xlsx"
    result = runner.invoke(app, ["report", "-w", str(ws.root), "-o", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(out)
    assert openpyxl.load_workbook(out).sheetnames[0] == "Overview"


def test_report_language_from_config(tmp_path: Path):
    ws = build_workspace(tmp_path / "ws", customers=10, ledger=False)
    ws.config_path.write_text('[report]\nlang = "en"\nlatest = false\n', encoding="utf-8")
    result = runner.invoke(app, ["report", "-w", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["lang"] == "en" and summary["latest"] is None


def test_report_rejects_bad_options(tmp_path: Path):
    ws = build_workspace(tmp_path / "ws", customers=5, ledger=False)
    bad_lang = runner.invoke(app, ["report", "-w", str(ws.root), "--lang", "fr"])
    assert bad_lang.exit_code == 1 and "--lang" in bad_lang.output
    bad_date = runner.invoke(app, ["report", "-w", str(ws.root), "--as-of", "20/11/2026"])
    assert bad_date.exit_code == 1 and "YYYY-MM-DD" in bad_date.output
    bad_ext = runner.invoke(app, ["report", "-w", str(ws.root), "-o", str(tmp_path / "x.csv")])
    assert bad_ext.exit_code == 1 and ".xlsx" in bad_ext.output
    ws.config_path.write_text('[report]\nlang = "de"\n', encoding="utf-8")
    bad_config = runner.invoke(app, ["report", "-w", str(ws.root)])
    assert bad_config.exit_code == 1 and "report.lang" in bad_config.output


def test_report_help_has_an_example():
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
