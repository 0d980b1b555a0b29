"""Unusable input: one `Error:` line naming the file, exit 1, no traceback, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.tables import read_orders
from privmigrate.workspace import Workspace


@pytest.fixture
def loaded(runner: CliRunner, ws: Workspace, example_exports: dict[str, Path]) -> Workspace:
    """A workspace with orders already loaded, to check a failed load leaves them alone."""
    result = runner.invoke(app, ["load", "-w", str(ws.root), str(example_exports["youzan"])])
    assert result.exit_code == 0, result.output
    return ws


def _snapshot(ws: Workspace) -> tuple[bytes, int, bytes]:
    return (ws.orders_path.read_bytes(), ws.orders_path.stat().st_mtime_ns,
            ws.rejects_path.read_bytes())


def _fails_cleanly(runner: CliRunner, ws: Workspace, args: list[str], *needles: str) -> str:
    before = _snapshot(ws)
    result = runner.invoke(app, ["load", "-w", str(ws.root), *args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(
        result.exception, SystemExit)
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.stdout == ""
    assert _snapshot(ws) == before
    return lines[0]


def test_missing_path(runner: CliRunner, loaded: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    _fails_cleanly(runner, loaded, [str(path)], str(path), "no such file")


def test_directory(runner: CliRunner, loaded: Workspace, tmp_path: Path) -> None:
    _fails_cleanly(runner, loaded, [str(tmp_path)], str(tmp_path), "is a directory")


def test_empty_file(runner: CliRunner, loaded: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    _fails_cleanly(runner, loaded, [str(path)], "empty.csv", "empty")


def test_binary_junk(runner: CliRunner, loaded: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 40)
    _fails_cleanly(runner, loaded, [str(path)], "junk.csv")


def test_truncated_xlsx(runner: CliRunner, loaded: Workspace, tmp_path: Path,
                        example_exports: dict[str, Path]) -> None:
    data = example_exports["jd"].read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(data[: len(data) // 2])
    _fails_cleanly(runner, loaded, [str(path)], "cut.xlsx", "Excel")


def test_a_header_only_file_adds_nothing(runner: CliRunner, loaded: Workspace,
                                         tmp_path: Path) -> None:
    path = tmp_path / "header_only.csv"
    path.write_text("订单号,订单实付金额,买家付款时间\n", encoding="utf-8")
    before = len(read_orders(loaded.orders_path))
    result = runner.invoke(app, ["load", "-w", str(loaded.root), str(path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["new_orders"] == 0 and payload["files"][0]["rows"] == 0
    assert len(read_orders(loaded.orders_path)) == before


def test_undecodable_text(runner: CliRunner, loaded: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,b\n" + bytes(range(128, 256)) * 20)
    _fails_cleanly(runner, loaded, [str(path)], "latin.csv", "--encoding")


def test_a_wrong_encoding_option(runner: CliRunner, loaded: Workspace,
                                 example_exports: dict[str, Path]) -> None:
    _fails_cleanly(runner, loaded, [str(example_exports["crm"]), "--encoding", "utf-16"],
                   "crm_orders", "utf-16")
    _fails_cleanly(runner, loaded, [str(example_exports["crm"]), "--encoding", "klingon"],
                   "unknown encoding")


def test_all_or_nothing_one_bad_file_among_good_ones_writes_nothing(
    runner: CliRunner, loaded: Workspace, tmp_path: Path, example_exports: dict[str, Path]
) -> None:
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    _fails_cleanly(runner, loaded, [str(example_exports["taobao_csv"]), str(junk),
                                    "--all-or-nothing"], "junk.xlsx")


def test_bad_files_among_good_ones_are_each_named_and_the_rest_is_loaded(
    runner: CliRunner, loaded: Workspace, tmp_path: Path, example_exports: dict[str, Path]
) -> None:
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("列一,列二\n1,2\n", encoding="utf-8")
    before = len(read_orders(loaded.orders_path))
    result = runner.invoke(app, ["load", "-w", str(loaded.root), str(junk),
                                 str(example_exports["taobao_csv"]), str(unknown)])
    assert result.exit_code == 3, result.output
    named = [line for line in result.stderr.splitlines() if line.startswith("Not loaded:")]
    assert len(named) == 2 and "junk.xlsx" in named[0] and "unknown.csv" in named[1]
    assert len(read_orders(loaded.orders_path)) > before
    as_json = runner.invoke(app, ["load", "-w", str(loaded.root), str(junk),
                                  str(example_exports["taobao_csv"]), "--json"])
    assert as_json.exit_code == 3
    payload = json.loads(as_json.stdout)
    assert payload["exit_code"] == 3 and [b["file"] for b in payload["bad_files"]] == [str(junk)]


def test_all_or_nothing_names_every_bad_file(
    runner: CliRunner, loaded: Workspace, tmp_path: Path, example_exports: dict[str, Path]
) -> None:
    junk, empty = tmp_path / "junk.xlsx", tmp_path / "empty.csv"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    empty.write_bytes(b"")
    before = _snapshot(loaded)
    result = runner.invoke(app, ["load", "-w", str(loaded.root), str(junk),
                                 str(example_exports["taobao_csv"]), str(empty),
                                 "--all-or-nothing"])
    assert result.exit_code == 1
    assert "2 files cannot be loaded" in result.stderr
    assert "junk.xlsx" in result.stderr and "empty.csv" in result.stderr
    assert _snapshot(loaded) == before


def test_unknown_source(runner: CliRunner, loaded: Workspace,
                        example_exports: dict[str, Path]) -> None:
    _fails_cleanly(runner, loaded, [str(example_exports["crm"]), "--source", "shopify"],
                   "crm_orders", "shopify", "taobao")


def test_source_that_does_not_fit_the_file(runner: CliRunner, loaded: Workspace,
                                           example_exports: dict[str, Path]) -> None:
    _fails_cleanly(runner, loaded, [str(example_exports["crm"]), "--source", "jd"],
                   "crm_orders", "as jd the file lacks")


@pytest.mark.parametrize(
    ("mapping", "needle"),
    [("amount", "FIELD=COLUMN"), ("price=金额", "crm_orders_20261120.csv: --map price"),
     ("amount=实付", "crm_orders_20261120.csv: --map amount=实付: the file has no column")],
)
def test_bad_map(runner: CliRunner, loaded: Workspace, example_exports: dict[str, Path],
                 mapping: str, needle: str) -> None:
    # a malformed FIELD=COLUMN is an option error, found before any file is opened
    _fails_cleanly(runner, loaded, [str(example_exports["crm"]), "--map", mapping], needle)


def test_a_file_no_profile_matches(runner: CliRunner, loaded: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("编号,备注\n1,测试\n", encoding="utf-8")
    _fails_cleanly(runner, loaded, [str(path)], "mystery.csv", "no export profile matches",
                   "none of its columns is a column of a known export", "--source")
