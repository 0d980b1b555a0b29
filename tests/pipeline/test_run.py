"""The nightly run: journal, idempotence, crash-resume, exit codes, lock, cron lines, init."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.demo import prepare_workspace
from privmigrate.ledger import open_ledger
from privmigrate.workspace import Workspace

NIGHT = "2026-11-21"


@pytest.fixture
def night_ws(tmp_path: Path) -> Workspace:
    ws = Workspace.at(tmp_path / "brand")
    prepare_workspace(ws, buyers=300)
    return ws


def _run(
    ws: Workspace, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "privmigrate", "run", "--workspace", str(ws.root), *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600,
    )


def _snapshot(ws: Workspace) -> dict[str, bytes]:
    out = {}
    for path in sorted(ws.root.rglob("*")):
        if path.is_file() and path.suffix in (".parquet", ".csv", ".xlsx", ".json") \
                and "inbox" not in path.parts:
            out[str(path.relative_to(ws.root))] = path.read_bytes()
    return out


def _journal(ws: Workspace) -> dict[str, str]:
    with open_ledger(ws.state_db) as conn:
        return {r["step"]: r["status"] for r in conn.execute(
            "SELECT step, status FROM run_steps WHERE night = ?", (NIGHT,))}


def test_run_twice_changes_nothing(night_ws: Workspace) -> None:
    first = _run(night_ws, "--date", NIGHT, "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert [s["step"] for s in summary["steps"]] == ["load", "segment", "invite", "track",
                                                      "report"]
    assert all(s["status"] == "ok" for s in summary["steps"])
    before = _snapshot(night_ws)
    assert any(name.endswith(".xlsx") and name.startswith("reports") for name in before)
    second = _run(night_ws, "--date", NIGHT, "--json")
    assert second.returncode == 0, second.stderr
    assert {s["status"] for s in json.loads(second.stdout)["steps"]} == {"done-earlier"}
    assert _snapshot(night_ws) == before


def test_silent_on_success_for_cron(night_ws: Workspace) -> None:
    result = _run(night_ws, "--date", NIGHT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_crash_between_steps_then_rerun_completes(night_ws: Workspace) -> None:
    crashed = _run(night_ws, "--date", NIGHT, env={"PRIVMIGRATE_CRASH_AFTER_STEP": "segment"})
    assert crashed.returncode == 9
    assert _journal(night_ws) == {"load": "ok", "segment": "ok"}
    resumed = _run(night_ws, "--date", NIGHT, "--json")
    assert resumed.returncode == 0, resumed.stderr
    statuses = {s["step"]: s["status"] for s in json.loads(resumed.stdout)["steps"]}
    assert statuses["load"] == statuses["segment"] == "done-earlier"
    assert statuses["invite"] == statuses["report"] == "ok"
    assert set(_journal(night_ws).values()) == {"ok"}


def test_a_failing_step_is_partial_and_the_rest_runs(night_ws: Workspace) -> None:
    wecom = night_ws.inbox_dir / "wecom"
    wecom.mkdir()
    (wecom / "contacts.csv").write_bytes(b"\x00\x01\x02 not a contact export")
    result = _run(night_ws, "--date", NIGHT, "--json")
    assert result.returncode == 3
    statuses = {s["step"]: s["status"] for s in json.loads(result.stdout)["steps"]}
    assert statuses["track"] == "failed"
    assert statuses["report"] == statuses["invite"] == "ok"


def test_second_concurrent_run_exits_5(night_ws: Workspace) -> None:
    with night_ws.lock("test"):
        result = _run(night_ws, "--date", NIGHT)
    assert result.returncode == 5
    assert "in use by another privmigrate run" in result.stderr


def test_dry_run_writes_nothing(night_ws: Workspace) -> None:
    result = _run(night_ws, "--date", NIGHT, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert not night_ws.orders_path.exists()
    assert not (night_ws.root / "reports").exists()


def test_print_cron(night_ws: Workspace, runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", "--print-cron", "--workspace", str(night_ws.root)])
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "CRON_TZ=Asia/Shanghai"
    assert lines[1].startswith("30 2 * * * ") and lines[1].endswith(
        f"run --workspace {night_ws.root}")


def test_init_writes_a_commented_valid_config(tmp_path: Path, runner: CliRunner) -> None:
    root = tmp_path / "new"
    result = runner.invoke(app, ["init", "--workspace", str(root)])
    assert result.exit_code == 0, result.output
    config = root / "privmigrate.toml"
    text = config.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    for section in ("load", "segment", "invite", "track", "run"):
        assert section in raw
        assert f"[{section}]" in text
    assert text.count("\n#") > 40  # commented, not bare
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    again = runner.invoke(app, ["init", "--workspace", str(root)])
    assert again.exit_code == 1 and "--force" in again.output


def test_config_error_names_the_key(night_ws: Workspace) -> None:
    text = night_ws.config_path.read_text(encoding="utf-8")
    night_ws.config_path.write_text(text.replace('track = "files"', 'track = "wechat"'),
                                    encoding="utf-8")
    result = _run(night_ws, "--date", NIGHT)
    assert result.returncode == 1
    assert "run.track" in result.stderr and "files" in result.stderr


def test_scoring_during_the_load_fails_the_segment_step_not_the_load(
        night_ws: Workspace) -> None:
    """The night scores customers while the load writes orders.parquet; a scoring error
    (here a rule naming an unknown column) fails the segment step, the load stays done, and
    the steps that need segment are skipped."""
    config = night_ws.config_path.read_text(encoding="utf-8")
    config += '\n[[segment.rules]]\nname = "坏规则"\nwhen = "no_such_column > 1"\n'
    night_ws.config_path.write_text(config, encoding="utf-8")
    result = _run(night_ws, "--date", NIGHT, "--json")
    assert result.returncode == 3, result.stderr
    steps = {s["step"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["load"]["status"] == "ok" and steps["segment"]["status"] == "failed"
    assert "坏规则" in steps["segment"]["detail"]
    assert night_ws.orders_path.exists() and not night_ws.customers_path.exists()
    assert _journal(night_ws)["load"] == "ok"


def test_a_broken_inbox_file_is_moved_aside_and_the_night_goes_on(night_ws: Workspace) -> None:
    inbox = night_ws.inbox_dir
    (inbox / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (inbox / "unknown.csv").write_text("列一,列二,列三\n1,2,3\n", encoding="utf-8")
    (inbox / "说明.txt").write_text("这些是导出的订单文件。\n", encoding="utf-8")
    (inbox / "截图.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = _run(night_ws, "--date", NIGHT, "--json")
    assert result.returncode == 3, result.stderr
    steps = {s["step"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["load"]["status"] == "partial"
    assert steps["load"]["detail"]["new_orders"] > 0  # the good exports were loaded
    assert all(steps[s]["status"] == "ok" for s in ("segment", "invite", "track", "report"))
    not_loaded = steps["load"]["detail"]["not_loaded"]
    assert [line.split(" ")[0] for line in not_loaded] == ["broken.xlsx", "unknown.csv"]
    assert "no export profile matches" in not_loaded[1]
    rejected = inbox / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "broken.xlsx", "broken.xlsx.reason.txt", "unknown.csv", "unknown.csv.reason.txt"]
    assert "Excel" in (rejected / "broken.xlsx.reason.txt").read_text(encoding="utf-8")
    assert (inbox / "说明.txt").exists() and (inbox / "截图.png").exists()
    assert sorted(steps["load"]["detail"]["skipped"]) == [
        "截图.png: skipped, an image or document (exports are CSV or Excel)",
        "说明.txt: skipped, a text file without a table header"]
    # the text output names every bad file too
    again = _run(night_ws, "--date", "2026-11-22")
    assert again.returncode == 0 or "rejected" not in again.stderr


def test_a_night_where_no_inbox_file_loads_still_writes_its_report(
    night_ws: Workspace,
) -> None:
    assert _run(night_ws, "--date", "2026-11-20").returncode == 0  # an earlier night
    (night_ws.inbox_dir / "unknown.csv").write_text("列一,列二\n1,2\n", encoding="utf-8")
    result = _run(night_ws, "--date", NIGHT)
    assert result.returncode == 3
    assert "unknown.csv → rejected/" in result.stderr
    assert (night_ws.inbox_dir / "rejected" / "unknown.csv.reason.txt").exists()
    assert _journal(night_ws)["report"] == "ok"
