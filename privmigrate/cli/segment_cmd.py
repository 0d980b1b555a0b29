"""`privmigrate segment`: orders in, scored and segmented customers out."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer

from privmigrate.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit_json,
    handle_errors,
    output_file,
    parse_day,
    stderr,
)
from privmigrate.cli.common import workspace as open_workspace
from privmigrate.clock import as_of_date
from privmigrate.workspace import Workspace


def run_segment(
    ws: Workspace,
    as_of: date | None = None,
    split: str | None = None,
    output: Path | None = None,
    reveal_phones: bool = False,
) -> dict[str, Any]:
    """The segment step on the workspace's orders, under the lock; the summary payload."""
    from privmigrate.scoring.run import segment_workspace

    with ws.lock("segment"):
        return segment_workspace(ws, as_of, split, output, reveal_phones)


def _load_and_segment(
    ws: Workspace, files: list[Path], source: str | None, maps: list[str] | None,
    encoding: str | None, as_json: bool, as_of: date | None, split: str | None,
    output: Path | None, reveal_phones: bool,
) -> tuple[dict[str, Any], Any]:
    """`segment FILE…`: load, score the loaded table in memory while orders.parquet is
    being written (no re-read, no re-hashing of the ids), then write the customers."""
    from privmigrate.cli.load_cmd import load_summary
    from privmigrate.scoring.run import publish_scored, score_workspace

    with ws.lock("segment"):
        loaded = load_summary(
            ws, files, source, maps, encoding, as_json,
            while_writing=lambda kept: score_workspace(ws, as_of, split, kept))
        if loaded.during_write_error is not None:
            raise loaded.during_write_error
        result = publish_scored(ws, loaded.during_write, as_of, output, reveal_phones)
    return result, loaded


def print_summary(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        title=f"Segments as of {result['as_of']} (split: {result['split']})",
        title_justify="left",
    )
    for col in ("segment", "customers", "share", "revenue share", "mean orders", "mean spend",
                "median recency", "reachable"):
        table.add_column(col, justify="left" if col == "segment" else "right")
    for s in result["segments"]:
        table.add_row(
            s["segment"], f"{s['customers']:,}", f"{s['share']:.1%}", f"{s['revenue_share']:.1%}",
            f"{s['mean_orders']:.2f}", f"¥{s['mean_spend']:,.2f}",
            f"{s['median_recency']:g} d", f"{s['reachable_by_sms']:,}",
        )
    stderr.print(table)
    stderr.print(
        f"{result['customers']:,} customers, ¥{result['revenue']:,.2f} revenue, "
        f"{result['reachable_by_sms']:,} reachable by SMS, "
        f"{result['in_private_domain']:,} already in the private domain → "
        f"{result['customers_path']}"
    )
    if result["output"]:
        stderr.print(f"wrote {result['output_rows']:,} customers to {result['output']}")


def register(app: typer.Typer) -> None:
    from privmigrate.cli.load_cmd import EncodingOption, MapOption, SourceOption

    @app.command("segment")
    @handle_errors
    def segment(
        files: list[Path] | None = typer.Argument(
            None, metavar="FILE",
            help="Export files to load first (exactly as `load` does); optional."),
        source: str | None = SourceOption,
        maps: list[str] | None = MapOption,
        encoding: str | None = EncodingOption,
        workspace_dir: Path | None = WorkspaceOption,
        as_of: str | None = typer.Option(
            None, "--as-of", metavar="DATE",
            help="Score as of this date (YYYY-MM-DD); later orders are ignored. "
                 "Default: today (Asia/Shanghai), as for every command."),
        split: str | None = typer.Option(
            None, "--split", metavar="mean|median",
            help="Split R/F/M into high/low at the mean or the median "
                 "(default: segment.split in privmigrate.toml, else mean)."),
        output: Path | None = typer.Option(
            None, "--output", "-o", metavar="FILE",
            help="Also write the customer table for people (.csv or .xlsx), phones masked."),
        reveal_phones: bool = typer.Option(
            False, "--reveal-phones", help="Write full phone numbers in --output."),
        as_json: bool = JsonOption,
    ) -> None:
        """Score and segment customers: RFM, 8 segments, your rules, invitation priority.

        Reads data/orders.parquet (loading FILEs first if given) and writes
        data/customers.parquet, one row per customer with a paid order, then prints the
        segment summary. Rules and priority weights come from [segment] in privmigrate.toml.

        Example: privmigrate segment ExportOrderList202601.csv --as-of 2026-01-31 -o 客户.xlsx
        """
        if split is not None and split not in ("mean", "median"):
            raise typer.BadParameter("use mean or median", param_hint="--split")
        if output is not None and output.suffix.lower() not in (".csv", ".xlsx"):
            raise typer.BadParameter("write a .csv or .xlsx file", param_hint="--output")
        day = as_of_date(parse_day(as_of, "--as-of"))
        output = output_file(output)
        ws = open_workspace(workspace_dir, must_exist=not files)
        if files:
            result, loaded = _load_and_segment(ws, files, source, maps, encoding, as_json, day,
                                               split, output, reveal_phones)
        else:
            result, loaded = run_segment(ws, day, split, output, reveal_phones), None
        if as_json:
            emit_json({**result, "load": loaded.to_dict()} if loaded is not None else result)
        else:
            print_summary(result)
