"""`privmigrate run`: the nightly job."""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import typer

from privmigrate.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    parse_day,
    progress,
    stderr,
    workspace,
)
from privmigrate.clock import shanghai_now
from privmigrate.errors import ExitCode, InputError


def parse_night(value: str | None) -> date:
    return parse_day(value, "--date") or shanghai_now().date()


def register(app: typer.Typer) -> None:
    @app.command("run")
    @handle_errors
    def run(
        night: str | None = typer.Option(None, "--date", metavar="DATE",
                                         help="Night to run (YYYY-MM-DD; "
                                         "default today, Asia/Shanghai)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Say what each step would do; "
                                     "write and send nothing."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Print the step table "
                                     "even when everything succeeded."),
        print_cron: bool = typer.Option(False, "--print-cron", help="Print the crontab lines "
                                        "for this workspace and exit."),
        workspace_dir: Path | None = WorkspaceOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Run the nightly job: load new inbox files, segment, invite, push audiences,
        track conversions and write the report — as configured in privmigrate.toml.

        Each step is journaled; a step done tonight is not repeated, so a second run changes
        nothing and a run after a crash resumes. Silent on success unless --verbose (cron
        mails any output). Exit codes: 0 all steps ok, 3 some failed, 1 none succeeded,
        5 another run holds the workspace.

        Example: privmigrate run --workspace /srv/brand   (cron: see --print-cron)
        """
        from privmigrate.config import check_example_values, read_config
        from privmigrate.pipeline import RunSettings, cron_lines, cron_quote, run_night

        ws = workspace(workspace_dir, must_exist=not print_cron)
        if print_cron:
            if not ws.root.is_dir():
                raise InputError(f"no workspace at {ws.root}; check --workspace")
            settings = RunSettings.from_config(read_config(ws.config_path))
            found = shutil.which("privmigrate")
            exe = cron_quote(found) if found else f"{cron_quote(sys.executable)} -m privmigrate"
            lines = list(cron_lines(ws, exe, settings))
            if as_json:
                emit_json({"workspace": str(ws.root), "cron": lines})
            else:  # plain text: a path with [brackets] is not rich markup
                sys.stdout.write("".join(f"{line}\n" for line in lines))
            return
        if not ws.config_path.exists():
            raise InputError(f"{ws.config_path} not found; create it with `privmigrate init`")
        the_night = parse_night(night)
        settings = RunSettings.from_config(read_config(ws.config_path))
        sections = [s for s, on in (("invite", "invite" in settings.steps),
                                    ("audience", "audience" in settings.steps
                                     and settings.audiences)) if on]
        warnings = check_example_values(ws.config_path, "privmigrate run", dry_run=dry_run,
                                        sections=sections)
        for warning in warnings:
            stderr.print(f"Warning: {warning}")
        with ws.lock("run"), progress(verbose and not as_json) as bar:
            result = run_night(ws, the_night, now=shanghai_now(), dry_run=dry_run, progress=bar)
        code = result.exit_code
        if as_json:
            emit_json({**result.to_dict(), "warnings": warnings})
        elif verbose or dry_run or code != ExitCode.OK:
            print_steps(result.to_dict())
        if code != ExitCode.OK:
            raise typer.Exit(int(code))


def print_steps(result: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"privmigrate run {result['night']}", title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    colours = {"ok": "green", "done-earlier": "green", "partial": "yellow", "failed": "red",
               "skipped": "yellow"}
    for s in result["steps"]:
        detail = s["detail"]
        if isinstance(detail, dict):
            detail = ", ".join(
                f"{k}={v}" for k, v in detail.items()
                if not isinstance(v, dict | list) and v is not None and not str(k).endswith("path")
            )
        status = Text(s["status"], style=colours.get(s["status"], "white"))
        table.add_row(Text(s["step"]), status, Text(str(detail)[:300]))
    stderr.print(table)
    for s in result["steps"]:  # every file a step left out or skipped, one line each
        if isinstance(s["detail"], dict):
            for line in [*s["detail"].get("not_loaded", []), *s["detail"].get("skipped", [])]:
                stderr.print(f"{s['step']}: {line}")
