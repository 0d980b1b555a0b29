"""Saved mappings and status words from privmigrate.toml [load]."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.tables import read_orders
from privmigrate.workspace import Workspace

CONFIG = """
[[load.mappings]]
files = "member_*.csv"
source = "generic"
map = { buyer_id = "会员号", paid_at = "消费日期", amount = "消费额", status = "单据状态" }

[load.status_words]
paid = ["已审核待发货"]
refunded = ["售后完成"]
"""


def _member_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text(
        "会员号,消费日期,消费额,单据状态\n"
        "V001,2026-01-02,10.00,已审核待发货\n"
        "V002,2026-01-03,20.00,售后完成\n"
        "V001,2026-02-01,30.00,已完成\n",
        encoding="utf-8")
    return path


def test_a_saved_mapping_applies_to_matching_files_only(
    runner: CliRunner, ws: Workspace, tmp_path: Path
) -> None:
    ws.config_path.write_text(CONFIG, encoding="utf-8")
    path = _member_file(tmp_path, "member_202601.csv")
    result = runner.invoke(app, ["load", "-w", str(ws.root), str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["source"] == "generic"
    orders = read_orders(ws.orders_path).sort_values("paid_at")
    assert orders["status"].tolist() == ["paid", "refunded", "paid"]
    assert orders["amount_fen"].tolist() == [1000, 2000, 3000]
    assert orders["customer_id"].nunique() == 2  # V001 twice
    other = _member_file(tmp_path, "other_202601.csv")
    result = runner.invoke(app, ["load", "-w", str(ws.root), str(other)])
    assert result.exit_code == 1
    assert "other_202601.csv: no export profile matches" in result.stderr


def test_the_command_line_map_wins_over_the_saved_one(
    runner: CliRunner, ws: Workspace, tmp_path: Path
) -> None:
    ws.config_path.write_text(CONFIG.replace('amount = "消费额"', 'amount = "单据状态"'),
                              encoding="utf-8")
    path = _member_file(tmp_path, "member_202602.csv")
    bad = runner.invoke(app, ["load", "-w", str(ws.root), str(path), "--json"])
    assert bad.exit_code == 0 and json.loads(bad.stdout)["files"][0]["rejected"] == 3
    good = runner.invoke(app, ["load", "-w", str(ws.root), str(path), "--map", "amount=消费额",
                               "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["files"][0]["loaded"] == 3


def test_config_mistakes_name_the_key(runner: CliRunner, ws: Workspace, tmp_path: Path) -> None:
    path = _member_file(tmp_path, "member_202603.csv")
    cases = {
        '[[load.mappings]]\nfiles = "*.csv"\nsource = "shopify"\n': "load.mappings",
        '[[load.mappings]]\nfiles = "*.csv"\nmap = { price = "消费额" }\n': "price",
        '[[load.mappings]]\nsource = "generic"\n': "files",
        '[load.status_words]\nshipped = ["已发"]\n': "shipped",
        '[load.status_words]\npaid = "已发"\n': "paid",
    }
    for text, needle in cases.items():
        ws.config_path.write_text(text, encoding="utf-8")
        result = runner.invoke(app, ["load", "-w", str(ws.root), str(path)])
        assert result.exit_code == 1, (text, result.output)
        assert result.stderr.startswith("Error: ") and needle in result.stderr, result.stderr
        assert not ws.orders_path.exists()
