"""The demo path: example exports → load → segment → invite with the sample config that
`privmigrate init` writes (all of privmigrate/sample_config/*.toml, concatenated)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.invite.settings import InviteSettings

SAMPLES = sorted((Path(__file__).parents[2] / "privmigrate" / "sample_config").glob("*.toml"))
runner = CliRunner()


def test_the_concatenated_sample_config_parses_for_invite():
    text = "\n".join(p.read_text(encoding="utf-8") for p in SAMPLES)
    s = InviteSettings.from_config(tomllib.loads(text))
    assert s.campaign and s.templates_for("sms")


def test_demo_produces_a_nights_batch(tmp_path, example_exports):
    ws = tmp_path / "demo"
    ws.mkdir()
    (ws / "privmigrate.toml").write_text(
        "\n".join(p.read_text(encoding="utf-8") for p in SAMPLES), encoding="utf-8")
    env = {"PRIVMIGRATE_NOW": "2026-11-25T02:00"}
    loaded = runner.invoke(app, ["load", *map(str, example_exports.values()), "-w", str(ws)],
                           env=env)
    assert loaded.exit_code in (0, 3), loaded.output
    segmented = runner.invoke(app, ["segment", "-w", str(ws)], env=env)
    assert segmented.exit_code == 0, segmented.output
    result = runner.invoke(app, ["invite", "--json", "-w", str(ws)], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["invited"] > 0
    folder = ws / "batches" / "2026-11-25"
    assert {p.name for p in folder.iterdir()} == {"sms.csv", "sms.xlsx", "calls.xlsx",
                                                  "wecom_add.xlsx", "manifest.json"}
    lines = (folder / "sms.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + out["by_channel"]["sms"]
    assert all("拒收请回复R" in line and "****" not in line for line in lines[1:])
    from openpyxl import load_workbook

    calls = load_workbook(folder / "calls.xlsx")
    assert sum(ws.max_row - 1 for ws in calls.worksheets) == out["by_channel"]["call"]
    adds = load_workbook(folder / "wecom_add.xlsx")
    # the example exports are small: the calls take every eligible buyer, no adds are left
    assert out["by_channel"]["wecom_add"] == 0 and adds.sheetnames == ["加好友"]
    assert json.loads((folder / "manifest.json").read_text())["invited"] == out["invited"]
