"""`privmigrate track`: read WeCom adds back, attribute them to invitations, show lift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from privmigrate.cli.common import (
    AsOfOption,
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    parse_day,
    progress,
    stderr,
    workspace,
)
from privmigrate.clock import as_of_date, shanghai_now
from privmigrate.errors import ExitCode, PrivmigrateError


def register(app: typer.Typer) -> None:
    app.command("track")(track)


@handle_errors
def track(
    files: list[Path] | None = typer.Argument(
        None, help="WeCom customer exports (admin-console .xlsx/.csv, or a CSV with "
        "external_userid, state/customer_channel, remark_mobiles, add_time, userid).",
        show_default=False, metavar="FILE"),
    from_api: bool = typer.Option(
        False, "--from-api", help="Read customers from the WeCom API (env "
        "PRIVMIGRATE_WECOM_CORP_ID, PRIVMIGRATE_WECOM_SECRET)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Attribute and show lift, write nothing."),
    as_of: str | None = AsOfOption,
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Record who joined WeCom, credit the invitation that brought them, and show lift.

    An add is credited per person when it carries a call's 联系我 state or a staff-typed remark
    mobile equal to a buyer's phone, and per batch when it carries a template's customer_channel,
    within [track] window_days (default 7) after the invitation. Converted buyers leave future
    invitations and ad audiences. Lift compares invited with held-out buyers.

    Without FILE or --from-api, reads every file in inbox/wecom/ (the nightly `run` chooses
    with [run] track = "files" or "api").

    Examples:

    \b
        privmigrate track exports/wecom_customers.xlsx
        privmigrate track --from-api --json
    """
    from privmigrate.track.run import run_track

    if from_api and files:
        raise PrivmigrateError("give FILE… or --from-api, not both", exit_code=ExitCode.USAGE)
    day = as_of_date(parse_day(as_of, "--as-of"))
    ws = workspace(workspace_dir, must_exist=True)
    with ws.lock("track"), progress(not as_json) as bar:
        summary = run_track(ws, files or None, from_api, shanghai_now(), bar, dry_run=dry_run,
                            as_of=day)
    if as_json:
        emit_json(summary)
        return
    _print(summary)


def _print(summary: dict[str, Any]) -> None:
    for warning in summary["warnings"]:
        stderr.print(f"[yellow]Warning:[/] {escape(warning)}", markup=True, highlight=False)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary["new_by_reason"].items())) or "none"
    stderr.print(
        f"{'Would record' if summary['dry_run'] else 'Recorded'}: "
        f"{summary['adds_read']} adds from {summary['persons']} WeCom users → "
        f"{summary['conversions_new']} new conversions ({reasons}); "
        f"{summary['attributed_new']} attributed within {summary['window_days']:g} days.",
        markup=False, highlight=False)
    stderr.print(
        f"Set aside: {summary['repeat_adds']} repeat adds, {summary['duplicate_persons']} second "
        f"accounts of converted buyers, {summary['unmatched_persons']} not buyers. "
        f"Converted buyers in the ledger: {summary['converted_customers_total']}.",
        markup=False, highlight=False)
    f = summary["figures"]
    stderr.print(
        f"As of {f['as_of']}: {f['invited']} invited (attempted), {f['converted']} converted "
        f"({_pct(f['conversion_rate'])}); holdout {f['holdout_converted']}/{f['holdout']} "
        f"({_pct(f['holdout_rate'])}); lift {_pp(f['lift'])} pp.", markup=False, highlight=False)
    rows = summary["lift"]
    if not rows:
        return
    table = Table(title="Lift: invited vs holdout (95% CI, Newcombe)", title_justify="left")
    for name in ("dimension", "group", "invited", "rate", "holdout", "rate ", "lift (pp)",
                 "95% CI (pp)"):
        table.add_column(name, justify="right" if name not in ("dimension", "group") else "left")
    for r in rows:
        table.add_row(str(r["dimension"]), str(r["group"]),
                      f"{r['invited_converted']}/{r['invited_n']}", _pct(r["invited_rate"]),
                      f"{r['holdout_converted']}/{r['holdout_n']}", _pct(r["holdout_rate"]),
                      _pp(r["lift_abs"]), f"{_pp(r['lift_ci_low'])} … {_pp(r['lift_ci_high'])}")
    stderr.print(table)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _pp(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f}"
