"""`privmigrate report`: the morning Excel workbook."""

from __future__ import annotations

from pathlib import Path

import typer

from privmigrate.cli.common import (
    AsOfOption,
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    output_file,
    parse_day,
    progress,
    stderr,
    workspace,
)
from privmigrate.clock import as_of_date
from privmigrate.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("report")(report)


@handle_errors
def report(
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE",
        help="Workbook to write (default: "
        "reports/privmigrate-<as-of>.xlsx in the workspace, and reports/latest.xlsx).",
        dir_okay=False, show_default=False),
    lang: str | None = typer.Option(
        None, "--lang", metavar="zh|en",
        help="Labels and sheet names: zh or en (default: [report] lang, else zh).",
        show_default=False),
    as_of: str | None = AsOfOption,
    ws_path: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Write the Excel workbook: 概览, 分层, 邀约, 人群包, 数据质量 and 明细 (phones masked).

    Sheets whose inputs are missing say what to run instead of failing. Output files are
    owner-only (0600). Prints the workbook's path on stdout (with --json: a summary).

    Example: privmigrate report --lang en -o morning.xlsx
    """
    from privmigrate.config import read_config
    from privmigrate.report import write_report
    from privmigrate.report.settings import report_settings

    day = as_of_date(parse_day(as_of, "--as-of"))
    ws = workspace(ws_path, must_exist=True)
    settings = report_settings(read_config(ws.config_path))
    chosen = lang or settings.lang
    if chosen not in ("zh", "en"):
        raise InputError(f"--lang {chosen!r} is not known; use --lang zh or --lang en")
    if output is not None and output.suffix.lower() != ".xlsx":
        raise InputError(f"{output}: the workbook must end in .xlsx; choose another --output")
    output_file(output)
    with progress(not as_json) as bar:
        summary = write_report(ws, output=output, lang=chosen,
                               as_of=day, progress=bar,
                               latest=settings.latest)
    if as_json:
        emit_json(summary)
        return
    for warning in summary["warnings"]:
        stderr.print(f"Warning: {warning}")
    stderr.print(f"{len(summary['sheets'])} sheets, {summary['customers']:,} customers; wrote:")
    # NOTE: the path is the command's result, so it goes to stdout (scripts, the demo's end).
    typer.echo(summary["path"])

