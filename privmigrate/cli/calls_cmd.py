"""`privmigrate calls import`: the agents' call outcomes back into the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from privmigrate.cli.common import (
    AsOfOption,
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    parse_day,
    stderr,
    workspace,
)

calls_app = typer.Typer(
    help="Call outcomes: read back the calls.xlsx the agents filled in (or an outbound "
         "tool's call-record export).\n\nExample: privmigrate calls import batches/2026-12-04/"
         "calls.xlsx",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(calls_app, name="calls")


@calls_app.command("import")
@handle_errors
def import_calls(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Filled-in calls.xlsx (every "
                                       "agent's sheet is read) or call-record .xlsx/.csv."),
    as_of: str | None = AsOfOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and match; write nothing."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Record each call's outcome: the invitation moves from planned to called.

    Only a call that was made counts as an invitation (in track, the report, run). Rows are
    matched by the 联系我 state, else the customer id (external_ref, or the outId/referenceId
    an outbound tool echoes), else the phone. The outcome is one of the sheet's drop-down
    words (接通, 未接通, 拒绝, 同意加微, 已加微, 空号, 停机, 关机, 忙线, 号码错误, 要求不再联系) or
    an outbound tool's connected flag (是否接通 / callStatus). Rows without an outcome are
    skipped (not called yet). One bad row fails the whole import, naming its file, row and
    column; nothing is written. Importing a corrected file again replaces the outcomes.

    Example: privmigrate calls import batches/2026-12-04/calls.xlsx
    """
    from privmigrate.clock import as_of_date, shanghai_now
    from privmigrate.invite.call_results import import_call_results

    day = as_of_date(parse_day(as_of, "--as-of"))
    ws = workspace(workspace_dir, must_exist=True)
    with ws.lock("calls import"):
        summary = import_call_results(ws, files, now=shanghai_now(), as_of=day,
                                      dry_run=dry_run)
    if as_json:
        emit_json(summary)
        return
    _print(summary)


def _print(summary: dict[str, Any]) -> None:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary["by_outcome"].items())) or "none"
    verb = "Would record" if summary["dry_run"] else "Recorded"
    stderr.print(f"{verb} {summary['calls']} calls ({outcomes}); {summary['blank']} rows "
                 f"without an outcome skipped.")
