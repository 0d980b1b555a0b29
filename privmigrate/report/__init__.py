"""The morning Excel workbook: 概览, 分层, 邀约, 人群包, 数据质量, 客服绩效, 明细.

``write_report`` is the library entry (the CLI and the nightly pipeline call it). It gathers
the figures (``data``), writes the summary sheets with openpyxl (``sheets``), the customer
detail with the streaming writer (``detail``), and saves atomically with mode 0600.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from privmigrate.clock import as_of_date
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.workspace import Workspace, atomic_path

LATEST_NAME = "latest.xlsx"


def default_output(ws: Workspace, as_of: date) -> Path:
    return ws.reports_dir / f"privmigrate-{as_of.isoformat()}.xlsx"


def write_report(ws: Workspace, output: Path | None = None, lang: str = "zh",
                 as_of: date | None = None, progress: Progress = NULL_PROGRESS, *,
                 latest: bool = True, row_limit: int | None = None) -> dict[str, Any]:
    """Write the workbook; return a summary (path, sheets, figures) for --json and the pipeline.

    ``as_of`` None: today in Asia/Shanghai (``clock.as_of_date``, every command's rule).
    ``output`` None writes ``reports/privmigrate-<as_of>.xlsx`` and, with ``latest``, refreshes
    ``reports/latest.xlsx`` — unless a report of a later as-of date is there: latest.xlsx
    never goes back in time (the summary's ``warnings`` says so). ``row_limit`` (rows per
    sheet, header included) exists for tests.
    """
    from openpyxl import Workbook

    from privmigrate.report import detail, scorecard, sheets
    from privmigrate.report.data import gather
    from privmigrate.report.excel import print_setup
    from privmigrate.report.labels import labels

    t = labels(lang)
    progress.start("report: reading", total=None)
    as_of = as_of_date(as_of)
    data = gather(ws, as_of)
    wb = Workbook(write_only=True)
    wb.properties.creator = "privmigrate"
    wb.properties.title = t["title"]
    for key, write in (("sheet.overview", sheets.overview), ("sheet.segments", sheets.segments),
                       ("sheet.invitations", sheets.invitations),
                       ("sheet.audiences", sheets.audiences), ("sheet.quality", sheets.quality)):
        sheet = wb.create_sheet(t[key])
        print_setup(sheet)
        write(sheet, data, t)
    sheet = wb.create_sheet(scorecard.sheet_name(lang))
    print_setup(sheet)
    staff = scorecard.write(sheet, ws, data.as_of, lang)
    parts: list[detail.DetailSheet] = []
    kinds: list[str] = []
    if data.customers is not None:
        table, kinds, headers = detail.detail_table(data.customers, data.customer_invites, t)
        parts = detail.add_detail_sheets(wb, table, kinds, headers, t["sheet.detail"],
                                         row_limit or detail.EXCEL_MAX_ROWS)
    else:
        sheet = wb.create_sheet(t["sheet.detail"])
        print_setup(sheet)
        sheet.append([t["no_customers"]])
    target = output or default_output(ws, as_of)
    names = list(wb.sheetnames)
    with atomic_path(target) as tmp:
        if parts:
            with _scratch(target) as base:
                wb.save(base)
                detail.splice_rows(base, tmp, parts, kinds, progress)
        else:
            wb.save(tmp)
    latest_path = None
    warnings: list[str] = []
    if output is None and latest:
        newer = newest_report(target.parent)
        if newer is not None and newer[0] > as_of:
            warnings.append(f"reports/{LATEST_NAME} kept as it is: it is meant to show the "
                            f"newest as-of date, and {newer[1].name} is newer than {as_of}")
        else:
            latest_path = target.parent / LATEST_NAME
            _refresh_latest(target, latest_path)
    progress.finish()
    return {
        "path": str(target), "latest": str(latest_path) if latest_path else None, "lang": lang,
        "as_of": as_of.isoformat(), "sheets": names,
        "customers": 0 if data.customers is None else data.customers.num_rows,
        "detail_sheets": len(parts), "invited": data.invited, "converted": data.converted,
        "lift": data.lift.value, "lift_method": data.lift.method, "staff": staff,
        "figures": data.figures.to_dict() if data.figures else None, "warnings": warnings,
    }


def newest_report(folder: Path) -> tuple[date, Path] | None:
    """The dated report (privmigrate-YYYY-MM-DD.xlsx) with the latest as-of in ``folder``."""
    found = []
    for path in folder.glob("privmigrate-*.xlsx"):
        try:
            found.append((date.fromisoformat(path.stem.removeprefix("privmigrate-")), path))
        except ValueError:
            continue
    return max(found) if found else None


@contextlib.contextmanager
def _scratch(target: Path):  # type: ignore[no-untyped-def]
    """A 0600 temporary file beside ``target``, removed afterwards."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".base", dir=target.parent)
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _refresh_latest(source: Path, latest: Path) -> None:
    """Point reports/latest.xlsx at the new file: a hard link renamed into place, else a copy."""
    with atomic_path(latest) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            tmp.write_bytes(source.read_bytes())
