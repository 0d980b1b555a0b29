"""`privmigrate audience build|push|status`: hashed ad-audience packages and their sync."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from privmigrate.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    progress,
    stderr,
    workspace,
)
from privmigrate.errors import ExitCode, PrivmigrateError

PLATFORM_HELP = "tencent, oceanengine, qianchuan or alimama."
audience_app = typer.Typer(
    help="Hashed ad-audience packages (广点通, 巨量引擎, 千川, 达摩盘) and their sync.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(audience_app, name="audience")


def _now() -> datetime:
    from privmigrate.clock import shanghai_now

    return shanghai_now()


def _definition(ws: Any, platform: str, name: str | None, segments: list[str] | None,
                id_type: str | None, include: str | None, *, known: bool = False) -> Any:
    """The audience from the flags, else as configured or last built (``known``: must be)."""
    from privmigrate.audience.build import default_name, load_settings
    from privmigrate.audience.run import resolve_definition
    from privmigrate.audience.settings import AudienceDef, default_id_type
    from privmigrate.errors import InputError

    settings = load_settings(ws)
    if not segments and name:
        try:
            found = resolve_definition(ws, settings, platform, name)
        except InputError:
            if known:
                raise
        else:
            return AudienceDef(found.name, found.platform, found.segments,
                               id_type or found.id_type, include or found.include), settings
    chosen = tuple(segments or ()) or ("*",)
    return AudienceDef(name or default_name(chosen), platform, chosen,
                       id_type or default_id_type(platform),
                       include or "not_in_private_domain"), settings


@audience_app.command("build")
@handle_errors
def build(
    platform: str = typer.Option(..., "--platform", "-p", metavar="PLATFORM",
                                 help=PLATFORM_HELP),
    segments: list[str] | None = typer.Option(
        None, "--segment", "-s", metavar="SEGMENT",
        help="Segment (customers `segment` or `rfm_segment`); "
        "repeat for several; omit for all buyers.", show_default=False),
    name: str | None = typer.Option(None, "--name", metavar="NAME",
                                    help="Audience name (≤ 30 characters); "
                                    "default: the segments joined by _."),
    id_type: str | None = typer.Option(None, "--id-type", metavar="md5|sha256",
                                       help="md5 or sha256 (default: md5; "
                                       "Ocean Engine takes sha256 only)."),
    include: str | None = typer.Option(
        None, "--include", metavar="WHO",
        help="not_in_private_domain (default: retargeting, leaves out "
        "WeCom friends and converted buyers), in_private_domain (an exclusion audience) "
        "or all."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Write an audience package exactly as the platform accepts it, with a manifest.

    Files go to <workspace>/audiences/<platform>/<name>/<timestamp>/: the package (zip or
    txt) and manifest.json (customers selected, valid phones, duplicates removed, invalid
    dropped, file names, sizes, MD5s). Phones are hashed, never written.

    Examples:

    \b
        privmigrate audience build --platform tencent --segment 重要挽留客户 --name lapsed
        privmigrate audience build -p oceanengine -s 重要价值客户 -s 重要发展客户 --json
    """
    from privmigrate.audience.build import build_audience

    ws = workspace(workspace_dir, must_exist=True)
    definition, settings = _definition(ws, platform, name, segments, id_type, include)
    with ws.lock("audience build"), progress(not as_json) as bar:
        manifest = build_audience(ws, definition, now=_now(), settings=settings, progress=bar)
    if as_json:
        emit_json(manifest)
        return
    _print_manifest(manifest)


def _print_manifest(manifest: dict[str, Any]) -> None:
    counts = manifest["counts"]
    from rich.markup import escape

    stderr.print(f"{escape(manifest['platform_label'])} audience "
                 f"[bold]{escape(manifest['audience'])}[/] "
                 f"({manifest['platform_id_type']}): {counts['ids']} ids", markup=True)
    stderr.print(
        f"  customers selected {counts['customers_selected']} of "
        f"{counts['customers_in_segments']} in the segments (left out: "
        f"{counts['excluded_in_private_domain']} in the private domain, "
        f"{counts['excluded_converted']} converted); valid phones {counts['valid_phones']}, "
        f"duplicates removed {counts['duplicates_removed']}, invalid dropped "
        f"{counts['invalid_dropped']}, no phone {counts['missing_phone']}")
    table = Table("file", "bytes", "ids", "md5", box=None)
    for f in manifest["files"]:
        table.add_row(f["name"], f"{f['bytes']:,}", f"{f['ids']:,}", f["md5"])
    stderr.print(table)
    stderr.print(f"written to {manifest['directory']}")
    if manifest.get("upload"):
        stderr.print(manifest["upload"])


@audience_app.command("push")
@handle_errors
def push(
    platform: str | None = typer.Option(None, "--platform", "-p", metavar="PLATFORM",
                                        help=PLATFORM_HELP),
    name: str | None = typer.Option(None, "--name", metavar="NAME",
                                    help="The audience (as configured in "
                                    "[[audience.audiences]] or built before)."),
    segments: list[str] | None = typer.Option(
        None, "--segment", "-s", metavar="SEGMENT",
        help="Define the audience here instead of in the config.",
        show_default=False),
    id_type: str | None = typer.Option(None, "--id-type", metavar="md5|sha256",
                                       help="md5 or sha256."),
    include: str | None = typer.Option(None, "--include", metavar="WHO",
                                       help="As for build."),
    all_configured: bool = typer.Option(False, "--all", help="Push every configured "
                                        "audience."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Send nothing; print what would be "
                                 "added and removed."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Bring an audience on its ad platform up to date with the current customers.

    The first push uploads the full set; later pushes upload only the difference from what
    the ledger says the platform holds (add / remove), then poll the platform and record its
    processing result and match figures. An interrupted push is finished by the next one
    without sending anything twice. Tokens come from PRIVMIGRATE_TENCENT_ADS_TOKEN or
    PRIVMIGRATE_OCEANENGINE_TOKEN (docs/audience.md says how to refresh them). Alimama has no
    upload API: push says where the file for manual upload is.

    Examples:

    \b
        privmigrate audience push --platform tencent --name lapsed --dry-run
        privmigrate audience push --all --json
    """
    from privmigrate.audience.run import push_audience, push_configured_audiences

    ws = workspace(workspace_dir, must_exist=True)
    from privmigrate.config import check_example_values

    for warning in check_example_values(ws.config_path, "privmigrate audience push",
                                        dry_run=dry_run, sections=("audience",),
                                        platforms=None if all_configured else [platform or ""]):
        stderr.print(f"Warning: {warning}", markup=False)
    if all_configured:
        if platform or name:
            raise PrivmigrateError("give --all, or --platform and --name, not both",
                                   exit_code=ExitCode.USAGE)
        with ws.lock("audience push"), progress(not as_json) as bar:
            summary = push_configured_audiences(ws, dry_run=dry_run, now=_now(),
                                                progress=bar)
        if as_json:
            emit_json(summary)
        else:
            for report in summary["audiences"]:
                _print_report(report)
            if not summary["audiences"]:
                stderr.print("no audiences configured: add [[audience.audiences]] entries to "
                             "privmigrate.toml (see docs/audience.md); nothing was pushed",
                             markup=False)
        return
    if not platform or not name:
        raise PrivmigrateError("give --platform and --name (or --all)",
                               exit_code=ExitCode.USAGE)
    definition, settings = _definition(ws, platform, name, segments, id_type, include,
                                       known=True)
    with ws.lock("audience push"), progress(not as_json and not dry_run) as bar:
        report = push_audience(ws, definition, now=_now(), dry_run=dry_run,
                               settings=settings, progress=bar)
    if as_json:
        emit_json(report.to_dict())
        return
    _print_report(report.to_dict())


def _print_report(report: dict[str, Any]) -> None:
    where = f"{report['platform']} audience {report['name']}"
    status = report["status"]
    if status == "dry_run":
        stderr.print(f"{where} (dry run, nothing sent): would add {report['added']:,} and "
                     f"remove {report['removed']:,}; the platform would then hold "
                     f"{report['target']:,} ids (now {report['held']:,})")
    elif status == "manual":
        stderr.print(f"{where}: manual upload")
    elif status == "up_to_date":
        stderr.print(f"{where}: already up to date ({report['held']:,} ids)")
    else:
        stderr.print(f"{where}: added {report['added']:,}, removed {report['removed']:,}; "
                     f"holds {report['held']:,} ids; processing: {report['processing'] or '-'}")
    if report.get("match_rate") is not None:
        stderr.print(f"  matched {report['matched_count']:,} of {report['uploaded_count']:,} "
                     f"({report['match_rate']:.1%})")
    for note in report.get("notes") or []:
        stderr.print(f"  {note}")


@audience_app.command("status")
@handle_errors
def status(
    refresh: bool = typer.Option(False, "--refresh", help="Ask the platforms for processing "
                                 "state and match figures first (and publish what is due)."),
    workspace_dir: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Per audience: last sync, size, match rate, and anything still processing.

    Examples:

    \b
        privmigrate audience status
        privmigrate audience status --refresh --json
    """
    from privmigrate.audience.run import audience_status

    ws = workspace(workspace_dir, must_exist=True)
    if refresh:
        with ws.lock("audience status --refresh"):
            rows = audience_status(ws, refresh_remote=True, now=_now())
    else:
        rows = audience_status(ws, now=_now())
    if as_json:
        emit_json({"audiences": rows})
        return
    if not rows:
        stderr.print("no audiences yet; run `privmigrate audience build` or `push`")
        return
    table = Table("platform", "audience", "last sync", "size", "match", "state", box=None)
    for row in rows:
        state = row["processing"] or "-"
        if row["platform"] == "alimama":
            state = f"manual upload (built {row['last_build_at'] or 'never'})"
        if row["unfinished_push"]:
            state = f"push #{row['unfinished_push']} unfinished"
        elif row["last_push_status"] == "failed":
            state = f"last push failed: {row['last_push_detail']}"
        if row["publish_due_at"]:
            state += f", publish due {row['publish_due_at']}"
        rate = f"{row['match_rate']:.1%}" if row["match_rate"] is not None else "-"
        table.add_row(row["platform"], row["name"], row["last_sync_at"] or "never",
                      f"{row['size']:,}", rate, state)
    stderr.print(table)
