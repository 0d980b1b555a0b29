"""One function per summary sheet: 概览, 分层, 邀约, 人群包, 数据质量.

Each takes the write-only worksheet, the gathered ``ReportData`` and the labels, and writes
something even when its inputs are missing (a sentence saying what to run).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from privmigrate.report.data import ReportData
from privmigrate.report.excel import SheetWriter

Labels = dict[str, str]


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[list[Any]]:
    return frame[columns].astype(object).where(frame[columns].notna(), None).values.tolist()


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _customer_totals(customers: pa.Table) -> dict[str, float]:
    names = set(customers.column_names)
    total = customers.column("total_amount") if "total_amount" in names else None
    revenue = float(pc.sum(pc.cast(total, pa.float64())).as_py() or 0) if total else 0.0
    covered = 0.0
    if total is not None and "in_private_domain" in names:
        inside = pc.fill_null(pc.cast(customers.column("in_private_domain"), pa.bool_()), False)
        covered = float(pc.sum(pc.cast(pc.filter(total, inside), pa.float64())).as_py() or 0)
    reachable = 0
    if "reachable_by_sms" in names:
        flags = pc.fill_null(pc.cast(customers.column("reachable_by_sms"), pa.bool_()), False)
        reachable = int(pc.sum(pc.cast(flags, pa.int64())).as_py() or 0)
    return {"customers": customers.num_rows, "reachable": reachable, "revenue": revenue,
            "covered": covered}


def overview(ws: WriteOnlyWorksheet, data: ReportData, t: Labels) -> None:
    """Headline figures, the as-of date and the freshness of each source."""
    w = SheetWriter(ws)
    w.title(t["title"])
    w.add([t["as_of"], data.as_of], ["text", "date"])
    w.add([t["generated_for"], data.workspace.name])
    w.blank()
    w.section(t["headline"])
    if data.customers is None:
        w.note(t["no_customers"])
    totals = _customer_totals(data.customers) if data.customers is not None else {
        "customers": 0, "reachable": 0, "revenue": 0.0, "covered": 0.0}
    lift = data.lift
    f = data.figures
    lift_note = t["n.lift_track"] if lift.method == "track" else t["n.lift_none"]
    if lift.method == "track" and lift.value is None:
        lift_note = t["n.lift_pending"]
    if lift.low is not None and lift.high is not None:
        lift_note += f" (95% CI {lift.low:+.1%} … {lift.high:+.1%})"
    w.table([t["metric"], t["value"], t["note"]], [], ["text"] * 3)
    for values, kinds in (
        ([t["m.customers"], totals["customers"], ""], ["text", "int", "text"]),
        ([t["m.reachable"], totals["reachable"], t["n.reachable"]], ["text", "int", "text"]),
        ([t["m.invited"], data.invited, t["n.invited"]], ["text", "int", "text"]),
        ([t["m.converted"], data.converted, t["n.converted"]], ["text", "int", "text"]),
        ([t["m.conversion"], f.conversion_rate if f else None, t["n.conversion"]],
         ["text", "percent", "text"]),
        ([t["m.holdout"], data.holdout, t["n.holdout"]], ["text", "int", "text"]),
        ([t["m.holdout_rate"], f.holdout_rate if f else None, t["n.holdout_rate"]],
         ["text", "percent", "text"]),
        ([t["m.lift"], lift.value, lift_note], ["text", "percent", "text"]),
        ([t["m.revenue_total"], totals["revenue"], ""], ["text", "money", "text"]),
        ([t["m.revenue_covered"], totals["covered"], t["n.revenue_covered"]],
         ["text", "money", "text"]),
        ([t["m.revenue_share"], _ratio(totals["covered"], totals["revenue"]), ""],
         ["text", "percent", "text"]),
    ):
        w.add(values, kinds)
    w.blank()
    w.section(t["freshness"])
    if data.orders_by_source is None or data.orders_by_source.empty:
        w.note(t["no_orders"])
    else:
        frame = data.orders_by_source.copy()
        frame["last_loaded"] = _last_loaded(data, frame["source"])
        w.header([t["source"], t["orders"], t["last_loaded"], t["latest_order"], t["days_old"]])
        for values in _rows(frame, ["source", "orders", "last_loaded", "latest", "days_old"]):
            # column C also holds the long notes above: keep its dates left-aligned
            w.add(values, ["text", "int", "datetime", "date", "int"], left=(2,))
    w.widen(0, 14)
    w.flush()


def _last_loaded(data: ReportData, sources: pd.Series) -> pd.Series:
    files = data.loaded_files
    if files is None or files.empty:
        return pd.Series([None] * len(sources), index=sources.index, dtype=object)
    last = pd.to_datetime(files["loaded_at"], errors="coerce").groupby(files["source"]).max()
    return sources.map(last)


def segments(ws: WriteOnlyWorksheet, data: ReportData, t: Labels) -> None:
    """Segment table with a bar chart, and the R×F heat map with a colour scale."""
    w = SheetWriter(ws)
    customers = data.customers
    if customers is None or customers.num_rows == 0:
        w.note(t["no_customers"])
        w.flush()
        return
    frame = _segment_frame(customers)
    first, last = w.table(
        [t["segment"], t["customers"], t["share"], t["reachable"], t["revenue"],
         t["revenue_share"], t["avg_amount"]],
        _rows(frame, ["segment", "customers", "share", "reachable", "revenue", "revenue_share",
                      "avg_amount"]),
        ["text", "int", "percent", "int", "money", "percent", "money"])
    w.blank()
    heat_top = _rf_heat(w, customers, t)
    w.widen(0, 16)
    w.flush()
    ws.freeze_panes = "A2"
    if last > first:
        chart = BarChart()
        chart.type = "bar"
        chart.title = t["chart.segments"]
        chart.legend = None
        chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=first + 1, max_row=last))
        chart.height, chart.width = 9, 16
        chart.y_axis.scaling.min = 0
        chart.x_axis.scaling.orientation = "maxMin"  # largest segment on top, as in the table
        chart.x_axis.delete = chart.y_axis.delete = False
        ws.add_chart(chart, "I2")
    if heat_top:
        top, bottom = heat_top
        ws.conditional_formatting.add(
            f"B{top}:F{bottom}",
            ColorScaleRule(start_type="min", start_color="FFFFFF", mid_type="percentile",
                           mid_value=50, mid_color="FFD966", end_type="max", end_color="F8696B"))


def _segment_frame(customers: pa.Table) -> pd.DataFrame:
    names = set(customers.column_names)
    key = "segment" if "segment" in names else "rfm_segment"
    cols = [c for c in (key, "reachable_by_sms", "total_amount", "orders") if c in names]
    frame = customers.select(cols).to_pandas()
    frame["total_amount"] = pd.to_numeric(frame.get("total_amount", 0), errors="coerce")
    frame["orders"] = pd.to_numeric(frame.get("orders", 0), errors="coerce")
    frame["reachable"] = frame.get("reachable_by_sms", False)
    frame["reachable"] = frame["reachable"].fillna(False).astype(bool)
    frame["segment"] = frame[key].astype("string").fillna("—")
    out = frame.groupby("segment", as_index=False).agg(
        customers=("segment", "size"), reachable=("reachable", "sum"),
        revenue=("total_amount", "sum"), orders=("orders", "sum"))
    out = out.sort_values("customers", ascending=False, ignore_index=True)
    out["share"] = out["customers"] / out["customers"].sum()
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total else None
    out["avg_amount"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    return out


def _rf_heat(w: SheetWriter, customers: pa.Table, t: Labels) -> tuple[int, int] | None:
    if not {"r_score", "f_score"} <= set(customers.column_names):
        return None
    frame = customers.select(["r_score", "f_score"]).to_pandas()
    grid = pd.crosstab(frame["r_score"], frame["f_score"]).reindex(
        index=[5, 4, 3, 2, 1], columns=[1, 2, 3, 4, 5], fill_value=0)
    w.section(t["rf_heat"])
    top = w.header(["R \\ F", "F1", "F2", "F3", "F4", "F5"]) + 1
    for r, counts in grid.iterrows():
        w.add([f"R{r}", *counts.tolist()], ["text", "int", "int", "int", "int", "int"])
    return top, top + 4


def invitations(ws: WriteOnlyWorksheet, data: ReportData, t: Labels) -> None:
    """Per night, channel, template, variant and staff: planned, sent, failed, converted."""
    w = SheetWriter(ws)
    frame = data.invitations
    if frame is None or frame.empty:
        w.note(t["no_invitations"])
        w.flush()
        return
    frame = frame.copy()
    frame["conversion"] = frame["converted"] / frame["sent"].where(frame["sent"] > 0)
    frame["channel"] = frame["channel"].map(lambda c: t.get(f"channel.{c}", c))
    frame["staff"] = frame["staff"].map(lambda s: data.staff_names.get(s, s))
    nights = pd.to_datetime(frame["night"], errors="coerce")
    frame["night"] = nights.where(nights.notna(), frame["night"])  # a date cell filters by date
    w.table([t["night"], t["channel"], t["template"], t["variant"], t["staff"], t["planned"],
             t["sent"], t["failed"], t["unknown"], t["converted"], t["conversion"]],
            _rows(frame, ["night", "channel", "template_id", "variant", "staff", "planned", "sent",
                          "failed", "unknown", "converted", "conversion"]),
            ["date"] + ["text"] * 4 + ["int"] * 5 + ["percent"])
    lift = data.lift.by_group
    if lift is not None and not lift.empty:
        w.blank()
        w.section(t["m.lift"])
        lift = lift.assign(dimension=lift["dimension"].map(lambda d: t.get(f"dim.{d}", d)))
        w.table([t["dimension"], t["group"], t["invited_n"], t["converted"], t["conversion"],
                 t["holdout"], t["holdout"] + " " + t["conversion"], t["m.lift"]],
                _rows(lift, ["dimension", "group", "invited_n", "invited_converted",
                             "invited_rate", "holdout_n", "holdout_rate", "lift_abs"]),
                ["text", "text", "int", "int", "percent", "int", "percent", "percent"])
    w.flush()
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:K{len(frame) + 1}"


def audiences(ws: WriteOnlyWorksheet, data: ReportData, t: Labels) -> None:
    """Each audience's last sync, size and match rate."""
    w = SheetWriter(ws)
    frame = data.audiences
    if frame is None or frame.empty:
        w.note(t["no_audiences"])
        w.flush()
        return
    frame = frame.assign(last_sync=pd.to_datetime(frame["last_sync"], errors="coerce"))
    w.table([t["platform"], t["audience"], t["last_sync"], t["size"], t["matched"],
             t["match_rate"], t["processing"]],
            _rows(frame, ["platform", "audience", "last_sync", "size", "matched", "match_rate",
                          "processing"]),
            ["text", "text", "datetime", "int", "int", "percent", "text"])
    w.flush()
    ws.freeze_panes = "A2"


def quality(ws: WriteOnlyWorksheet, data: ReportData, t: Labels) -> None:
    """Files loaded, rows rejected by reason, phone-status mix."""
    w = SheetWriter(ws)
    w.section(t["files_loaded"])
    files = data.loaded_files
    if files is None or files.empty:
        w.note(t["no_files"])
    else:
        files = files.assign(loaded_at=pd.to_datetime(files["loaded_at"], errors="coerce"),
                             path=files["path"].astype(str).str.rsplit("/", n=1).str[-1])
        w.table([t["file"], t["source"], t["rows"], t["loaded"], t["rejected"], t["unlinked"],
                 t["loaded_at"]],
                _rows(files.sort_values("loaded_at"),
                      ["path", "source", "rows", "loaded", "rejected", "unlinked", "loaded_at"]),
                ["text", "text", "int", "int", "int", "int", "datetime"])
    w.blank()
    w.section(t["rejects_by_reason"])
    if data.rejects is None or data.rejects.empty:
        w.note(t["no_rejects"])
    else:
        w.table([t["reason"], t["column"], t["rows"]],
                _rows(data.rejects, ["reason", "column", "rows"]), ["text", "text", "int"])
    w.blank()
    w.section(t["phone_mix"])
    if data.phone_mix is None or data.phone_mix.empty:
        w.note(t["no_orders"])
    else:
        mix = data.phone_mix.copy()
        mix["label"] = mix["phone_status"].map(lambda s: t.get(f"ps.{s}", s))
        mix["share"] = mix["orders"] / mix["orders"].sum()
        w.table([t["phone_status"], t["orders"], t["share"]],
                _rows(mix, ["label", "orders", "share"]), ["text", "int", "percent"])
    w.widen(0, 16)
    w.flush()
