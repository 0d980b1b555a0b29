"""`privmigrate load`: exports in, one order table out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from privmigrate.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    progress,
    stderr,
    workspace,
)
from privmigrate.errors import ExitCode, InputError
from privmigrate.workspace import Workspace

SourceOption = typer.Option(
    None, "--source", "-s", metavar="NAME",
    help="Platform profile (taobao, jd, youzan, youzan_customers, douyin, pdd, wechat_shop, "
         "erp_wdt, erp_jst, generic); default: detected from the header.",
)
MapOption = typer.Option(
    None, "--map", "-m", metavar="FIELD=COLUMN",
    help="Map an order field to a column, e.g. --map buyer_id=客户编号 --map amount=金额. "
         "Repeatable.",
)
EncodingOption = typer.Option(
    None, "--encoding", metavar="ENCODING",
    help="CSV encoding (default: sniffed: BOM, utf-8, gb18030, utf-16)."
)


def parse_maps(maps: list[str] | None) -> dict[str, str]:
    """``["buyer_id=客户编号", …]`` → ``{"buyer_id": "客户编号"}``."""
    out: dict[str, str] = {}
    for item in maps or []:
        key, sep, column = item.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise InputError(f"--map {item!r}: write it as FIELD=COLUMN, e.g. amount=实付金额")
        out[key.strip()] = column.strip()
    return out


def load_summary(
    ws: Workspace,
    files: list[Path],
    source: str | None,
    maps: list[str] | None,
    encoding: str | None,
    as_json: bool,
    while_writing: Any = None,
    *,
    all_or_nothing: bool = True,
) -> Any:
    """Load files under the workspace lock; print the per-file summary on stderr unless
    ``as_json``; return the ``LoadSummary``. ``while_writing`` (scoring, for
    `segment FILE…`) is passed on to ``load_files``; without ``all_or_nothing`` the files
    that cannot be used are left out and listed in ``LoadSummary.bad_files``."""
    from privmigrate.ingest.load import LoadOptions, load_files

    options = LoadOptions(source=source, mapping=parse_maps(maps), encoding=encoding)
    with ws.lock("load"), progress(not as_json) as bar:
        summary = load_files(ws, files, options, bar, while_writing=while_writing,
                             skip_bad_files=not all_or_nothing)
    if not as_json:
        print_load_summary(summary.to_dict())
    return summary


_FALLBACK_WORDS = {"ordered_at": "order time", "order_id_date": "date their order number "
                   "starts with", "shipped_at": "shipping time", "received_at": "receipt time"}


def print_bad_files(bad: list[dict[str, str]]) -> None:
    """Each file that could not be loaded, one line each (its reason names it)."""
    from rich.markup import escape

    for b in bad:
        stderr.print(f"[red]Not loaded:[/] {escape(b['reason'])}", markup=True)


def print_load_summary(summary: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Loaded exports", title_justify="left")
    table.add_column("file", overflow="fold", min_width=12)
    table.add_column("platform", overflow="fold")
    for col in ("rows", "loaded", "paid", "rejected", "unlinked", "phones"):
        table.add_column(col, justify="right")
    for f in summary["files"]:
        table.add_row(
            Path(f["file"]).name, f["source"], str(f["rows"]), str(f["loaded"]), str(f["paid"]),
            str(f["rejected"]), str(f["unlinked"]), str(f["phone_status"].get("valid", 0)),
        )
    stderr.print(table)
    for f in summary["files"]:
        if f["note"]:
            stderr.print(f"[yellow]Note:[/] {escape(f['note'])}", markup=True)
        name = Path(f["file"]).name  # (plain text: the console prints no markup here)
        for word, count in f.get("unknown_statuses", {}).items():
            stderr.print(f"{name}: unknown status {word!r} on {count} rows, left "
                         "out; add it to [load.status_words] in privmigrate.toml")
        for what, count in f.get("time_fallbacks", {}).items():
            stderr.print(f"{name}: {count} paid orders had no payment time; their time is "
                         f"the {_FALLBACK_WORDS.get(what, what)}")
        if f["same_orders"]:
            stderr.print(f"{escape(Path(f['file']).name)}: {f['same_orders']} orders are in "
                         "both an ERP export and the shop's own export; each counts once "
                         "(the shop's row)")
    rejected = sum(f["rejected"] for f in summary["files"])
    if rejected:
        stderr.print(f"{rejected} rows rejected — see {summary['rejects_path']} "
                     "(file, row, column, reason)")
    reexported = (f"; {summary['reexported']} ERP rows repeat shop orders and count once"
                  if summary["reexported"] else "")
    stderr.print(
        f"{summary['orders_total']} orders ({summary['new_orders']} new), "
        f"{summary['customers_total']} customers in {summary['orders_path']}{reexported}"
    )


def register(app: typer.Typer) -> None:
    @app.command("load")
    @handle_errors
    def load(
        files: list[Path] = typer.Argument(
            ..., metavar="FILE", help="Export files (CSV, xlsx)."
        ),
        source: str | None = SourceOption,
        maps: list[str] | None = MapOption,
        encoding: str | None = EncodingOption,
        all_or_nothing: bool = typer.Option(
            False, "--all-or-nothing",
            help="Load nothing when any file cannot be loaded (default: load the others, "
                 "name the bad ones, exit 3)."),
        workspace_dir: Path | None = WorkspaceOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Load shop and ERP order exports into the workspace's order table.

        Detects each file's platform from its header, maps it to data/orders.parquet
        (de-duplicated on platform + order number, so loading again changes nothing) and
        writes rejected rows to data/rejects.csv with their row, column and reason.

        A file that cannot be loaded at all (unreadable, not an export anyone knows) is
        named with its reason and left out; the others are loaded and the exit code is 3.

        Example: privmigrate load ExportOrderList202601.csv 有赞订单.xlsx
        """
        ws = workspace(workspace_dir)
        result = load_summary(ws, files, source, maps, encoding, as_json,
                              all_or_nothing=all_or_nothing).to_dict()
        if as_json:
            emit_json({**result, **({"exit_code": int(ExitCode.PARTIAL)}
                                    if result["bad_files"] else {})})
        elif result["bad_files"]:
            print_bad_files(result["bad_files"])
        if result["bad_files"]:
            raise typer.Exit(int(ExitCode.PARTIAL))
