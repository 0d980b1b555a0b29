"""One definition per figure: track, report, run and the workbook show the same numbers.

On the demo workspace (a night six days ago: SMS accepted, calls imported, WeCom adds read
back), and again after planning more nights, which must change no invited/converted figure.
The figures are also recomputed here straight from the ledger, the way docs/report.md
defines them, so the shared module cannot agree with itself by accident.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.clock import shanghai_now
from privmigrate.demo import run_demo
from privmigrate.workspace import Workspace

runner = CliRunner()
FIGURES = ("invited", "converted", "conversion_rate", "holdout", "holdout_converted",
           "holdout_rate", "lift", "lift_low", "lift_high")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace.at(tmp_path_factory.mktemp("figures") / "demo")
    run_demo(ws, shanghai_now())
    return ws


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _track(ws: Workspace) -> dict:
    return _json(["track", "--dry-run", "--json", "-w", str(ws.root)])["figures"]


def _report(ws: Workspace, tmp: Path) -> tuple[dict, dict]:
    out = tmp / "morning.xlsx"
    summary = _json(["report", "--json", "-o", str(out), "-w", str(ws.root)])
    book = openpyxl.load_workbook(out)
    cells = {r[0].value: r[1].value for r in book["概览"].iter_rows() if r[0].value}
    return summary["figures"], cells


def _from_the_ledger(ws: Workspace) -> dict:
    """docs/report.md's definitions, in plain SQL and pandas."""
    today = pd.Timestamp(shanghai_now().date())
    end = today + pd.Timedelta(days=1)
    with sqlite3.connect(ws.state_db) as conn:
        inv = pd.read_sql_query(
            "SELECT customer_id, night, campaign, coalesce(sent_at, outcome_at, planned_at) AS t0 "
            "FROM invitations WHERE status IN ('accepted', 'delivered', 'undelivered', "
            "'called', 'expired')", conn)
        hold = pd.read_sql_query("SELECT * FROM holdouts", conn)
        conv = pd.read_sql_query("SELECT customer_id, min(added_at) AS added_at FROM conversions "
                                 "WHERE customer_id IS NOT NULL GROUP BY customer_id", conn)
    inv["t0"] = pd.to_datetime(inv["t0"], format="mixed")
    inv = inv[(pd.to_datetime(inv["night"]) < end) & (inv["t0"] < end)]
    conv["added_at"] = pd.to_datetime(conv["added_at"], format="mixed")
    conv = conv[conv["added_at"] < end]
    seg = pd.read_parquet(ws.customers_path, columns=["customer_id", "segment"])
    strata = inv.merge(seg, on="customer_id")[["night", "campaign", "segment"]]
    peers = hold[pd.to_datetime(hold["night"]) < end].merge(strata.drop_duplicates())
    window = pd.Timedelta(days=7)
    got = inv.merge(conv, on="customer_id", how="left")
    delta = got["added_at"] - got["t0"]
    converted = int(((delta >= pd.Timedelta(0)) & (delta <= window)).sum())
    return {"invited": len(inv), "converted": converted, "holdout": len(peers)}


def test_every_command_shows_the_same_figures(demo: Workspace, tmp_path: Path) -> None:
    track = _track(demo)
    report, cells = _report(demo, tmp_path)
    run = _json(["run", "--dry-run", "--json", "-w", str(demo.root)])["figures"]
    assert track["invited"] > 0 and track["converted"] > 0 and track["holdout"] > 0
    for name in FIGURES:
        assert report[name] == pytest.approx(track[name]), name
        assert run[name] == pytest.approx(track[name]), name
    assert cells["累计已邀约"] == track["invited"]
    assert cells["已添加企微(邀约后窗口内)"] == track["converted"]
    assert cells["转化率"] == pytest.approx(track["conversion_rate"])
    assert cells["对照组(同夜)"] == track["holdout"]
    assert cells["对照组转化率"] == pytest.approx(track["holdout_rate"])
    assert cells["提升(邀约−对照)"] == pytest.approx(track["lift"])
    ledger = _from_the_ledger(demo)
    assert (track["invited"], track["converted"], track["holdout"]) == (
        ledger["invited"], ledger["converted"], ledger["holdout"])


def test_the_demo_records_nothing_after_its_as_of_date(demo: Workspace) -> None:
    end = pd.Timestamp(shanghai_now().date()) + pd.Timedelta(days=1)
    adds = pd.concat(pd.read_csv(p) for p in (demo.inbox_dir / "wecom").glob("*.csv"))
    assert len(adds) and (pd.to_datetime(adds["add_time"]) < end).all()
    with sqlite3.connect(demo.state_db) as conn:
        called = pd.read_sql_query("SELECT outcome_at FROM invitations WHERE status = 'called'",
                                   conn)
    assert len(called) and (pd.to_datetime(called["outcome_at"]) < end).all()


def test_planning_more_nights_changes_no_figure(demo: Workspace, tmp_path: Path) -> None:
    before = _track(demo)
    tomorrow = (shanghai_now().date() + timedelta(days=1)).isoformat()
    result = runner.invoke(app, ["invite", "--date", tomorrow, "-w", str(demo.root)])
    assert result.exit_code == 0, result.output
    # tonight's whole run: plans today's night (nothing sent: the demo does not send)
    result = runner.invoke(app, ["run", "--json", "-w", str(demo.root)])
    assert result.exit_code in (0, 3), result.output
    run = json.loads(result.stdout)["figures"]
    with sqlite3.connect(demo.state_db) as conn:
        planned = conn.execute("SELECT count(*) FROM invitations WHERE status = 'planned'"
                               ).fetchone()[0]
    assert planned > 0  # the nights were planned
    after = _track(demo)
    report, _cells = _report(demo, tmp_path)
    for name in FIGURES:
        assert after[name] == pytest.approx(before[name]), name
        assert report[name] == pytest.approx(before[name]), name
        assert run[name] == pytest.approx(before[name]), name
