"""Everything the workbook shows, gathered from the workspace files and the ledger.

Each input is optional: a workspace that has only loaded orders still gets a workbook, whose
sheets say what is missing. Ledger tables are found by name and their columns read from the
schema, so a column another engineer has not added yet degrades to "unknown" instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from privmigrate.errors import InputError, PrivmigrateError
from privmigrate.ledger import open_ledger
from privmigrate.workspace import Workspace

SENT_STATUSES = ("accepted", "called")  # the provider took the SMS, or the call was made
# A call list is handed to the agents when the batch is written; privmigrate does not hear
# back from the outbound tool, so a planned call counts as issued (sent).
CALL_ISSUED_STATUSES = ("planned", "called")
UNSURE_STATUSES = ("unknown", "sending")  # no answer from the provider / a send cut short
INVITE_DIMENSIONS = ("night", "channel", "template_id", "variant", "staff")


@dataclass
class Lift:
    """Invited-vs-holdout conversion difference, and how it was computed."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: str = "none"  # track (lift_table), simple, none
    by_group: pd.DataFrame | None = None


@dataclass
class ReportData:
    as_of: date
    workspace: Path
    customers: pa.Table | None = None
    orders_by_source: pd.DataFrame | None = None
    phone_mix: pd.DataFrame | None = None
    loaded_files: pd.DataFrame | None = None
    rejects: pd.DataFrame | None = None
    invitations: pd.DataFrame | None = None  # per night·channel·template·variant·staff
    customer_invites: pd.DataFrame | None = None  # last invitation per customer
    audiences: pd.DataFrame | None = None
    staff_names: dict[str, str] = field(default_factory=dict)  # userid → "name (userid)"
    invited: int = 0
    converted: int = 0
    holdout: int = 0
    lift: Lift = field(default_factory=lambda: Lift(None))


def gather(ws: Workspace, as_of: date | None, today: date) -> ReportData:
    """Read what the workspace has; missing inputs stay None.

    ``as_of`` None: the as-of date `segment` stored in customers.parquet, else ``today``.
    """
    customers = _read_customers(ws.customers_path)
    as_of = as_of or (customers_as_of(customers) if customers is not None else None) or today
    data = ReportData(as_of=as_of, workspace=ws.root, customers=customers)
    data.staff_names = _staff_names(ws)
    _read_orders(ws.orders_path, data)
    data.rejects = _read_rejects(ws.rejects_path)
    if ws.state_db.exists():
        with open_ledger(ws.state_db) as conn:
            _read_ledger(conn, data)
    return data


def _staff_names(ws: Workspace) -> dict[str, str]:
    """WeCom userid → "name (userid)" from [[invite.staff]], as the batch files show staff."""
    from privmigrate.config import read_config

    try:
        staff = read_config(ws.config_path).get("invite", {}).get("staff", [])
    except PrivmigrateError:
        return {}
    return {str(s["id"]): f"{s['name']} ({s['id']})" for s in staff
            if isinstance(s, dict) and s.get("id") and s.get("name")}


def _read_customers(path: Path) -> pa.Table | None:
    if not path.exists():
        return None
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: cannot read ({exc}); run `privmigrate segment` again") from exc


def customers_as_of(customers: pa.Table) -> date | None:
    """The as-of date in customers.parquet's metadata (``privmigrate`` key), if any."""
    raw = (customers.schema.metadata or {}).get(b"privmigrate")
    try:
        return date.fromisoformat(json.loads(raw)["as_of"]) if raw else None
    except (ValueError, KeyError, TypeError):
        return None


def _read_orders(path: Path, data: ReportData) -> None:
    if not path.exists():
        return
    try:
        table = pq.read_table(path, columns=["source", "ordered_at", "paid_at", "phone_status"])
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise InputError(f"{path}: cannot read ({exc}); run `privmigrate load` again") from exc
    when = pc.coalesce(table.column("paid_at"), table.column("ordered_at"))
    table = table.append_column("when", when)
    by_source = table.group_by("source").aggregate([("source", "count"), ("when", "max")])
    frame = by_source.to_pandas().rename(columns={"source_count": "orders", "when_max": "latest"})
    latest = pd.to_datetime(frame["latest"])
    frame["days_old"] = (pd.Timestamp(data.as_of) - latest.dt.normalize()).dt.days
    data.orders_by_source = frame[["source", "orders", "latest", "days_old"]].sort_values("source")
    mix = table.group_by("phone_status").aggregate([("phone_status", "count")]).to_pandas()
    data.phone_mix = mix.rename(columns={"phone_status_count": "orders"}).sort_values(
        "orders", ascending=False, ignore_index=True)


def _read_rejects(path: Path) -> pd.DataFrame | None:
    """Rejected rows counted by reason and column (the file can be large: counted, not kept)."""
    if not path.exists():
        return None
    wanted = ["reason", "column"]
    options = pacsv.ConvertOptions(include_columns=wanted, include_missing_columns=True,
                                   column_types=dict.fromkeys(wanted, pa.string()))
    try:
        table = pacsv.read_csv(path, convert_options=options)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: cannot read ({exc}); run `privmigrate load` again") from exc
    table = pa.table({c: pc.fill_null(pc.cast(table.column(c), pa.string()), "") for c in wanted})
    # Reasons quote the offending cell: collapse the quote so like reasons count together and
    # no cell content (a phone typed in the wrong column) reaches the workbook.
    reason = pc.replace_substring_regex(table.column("reason"), r"'[^']*'", "'…'")
    reason = pc.replace_substring_regex(reason, r"\d{7,}", "…")
    table = table.set_column(0, "reason", reason)
    counts = table.group_by(wanted).aggregate([([], "count_all")]).to_pandas()
    return counts.rename(columns={"count_all": "rows"}).sort_values(
        ["rows", "reason"], ascending=[False, True], ignore_index=True)


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _select(conn: sqlite3.Connection, table: str, wanted: list[str]) -> pd.DataFrame:
    """``wanted`` columns of ``table``; the ones it lacks come back all-NA."""
    have = set(_columns(conn, table))
    exprs = [f'"{c}"' if c in have else f'NULL AS "{c}"' for c in wanted]
    cur = conn.execute(f'SELECT {", ".join(exprs)} FROM "{table}"')
    return pd.DataFrame([tuple(r) for r in cur.fetchall()], columns=wanted)


def _read_ledger(conn: sqlite3.Connection, data: ReportData) -> None:
    tables = _tables(conn)
    if "loaded_files" in tables:
        data.loaded_files = _select(conn, "loaded_files", ["path", "source", "rows", "loaded",
                                                           "rejected", "unlinked", "loaded_at"])
    invitations = holdouts = conversions = None
    if "invitations" in tables:
        invitations = _select(conn, "invitations", _invitation_columns(conn))
    if "holdouts" in tables:
        holdouts = _select(conn, "holdouts", ["night", "campaign", "customer_id", "segment"])
    if "conversions" in tables:
        conversions = _select(conn, "conversions", ["customer_id", "added_at", "invitation_id",
                                                    "attributed", "staff", "state"])
    if invitations is not None and len(invitations):
        _summarise_invitations(invitations, conversions, data)
    data.lift = _lift(invitations, holdouts, conversions, data)
    data.holdout = 0 if holdouts is None else int(holdouts["customer_id"].nunique())
    data.audiences = _read_audiences(conn, tables)


def _invitation_columns(conn: sqlite3.Connection) -> list[str]:
    base = ["invitation_id", "night", "batch_id", "campaign", "customer_id", "channel",
            "template_id", "variant", "offer", "staff", "state", "planned_at", "status", "sent_at"]
    return base + [c for c in ("segment",) if c in _columns(conn, "invitations")]


def _summarise_invitations(inv: pd.DataFrame, conv: pd.DataFrame | None,
                           data: ReportData) -> None:
    status = inv["status"].astype("string").fillna("unknown")
    is_call = inv["channel"].astype("string").eq("call").fillna(False)
    status = status.mask(is_call & status.isin(CALL_ISSUED_STATUSES), "called")
    attributed = set()
    converted_customers: set[str] = set()
    if conv is not None and len(conv):
        flag = pd.to_numeric(conv["attributed"], errors="coerce").fillna(0).astype(bool)
        hit = conv[flag & conv["invitation_id"].notna()]
        attributed = set(hit["invitation_id"].astype(str))
        converted_customers = set(hit["customer_id"].dropna().astype(str))
    frame = pd.DataFrame({
        **{d: inv[d].astype("string").fillna("") for d in INVITE_DIMENSIONS},
        "planned": 1,
        "sent": status.isin(SENT_STATUSES).astype("int64"),
        "failed": (status == "failed").astype("int64"),
        "unknown": status.isin(UNSURE_STATUSES).astype("int64"),
        "converted": inv["invitation_id"].astype(str).isin(attributed).astype("int64"),
    })
    grouped = frame.groupby(list(INVITE_DIMENSIONS), as_index=False, sort=True).sum()
    data.invitations = grouped.sort_values(["night", "channel"], ascending=[False, True],
                                           ignore_index=True)
    sent = inv[status.isin(SENT_STATUSES)]
    invited = set(sent["customer_id"].dropna().astype(str))
    data.invited = len(invited)
    data.converted = len(invited & converted_customers)
    last = inv.assign(_status=status).sort_values(["night", "invitation_id"]).drop_duplicates(
        "customer_id", keep="last")
    data.customer_invites = pd.DataFrame({
        "customer_id": last["customer_id"].astype(str),
        "last_invited": pd.to_datetime(last["night"], errors="coerce"),
        "invite_status": last["_status"],
        "converted": last["customer_id"].astype(str).isin(converted_customers),
    })


def _lift(inv: pd.DataFrame | None, hold: pd.DataFrame | None, conv: pd.DataFrame | None,
          data: ReportData) -> Lift:
    if inv is None or hold is None or not len(inv) or not len(hold):
        return Lift(None)
    conv = conv if conv is not None else pd.DataFrame(columns=["customer_id", "added_at"])
    try:
        from privmigrate.track.lift import lift_report
    except ImportError:
        return _simple_lift(inv, hold, conv)
    segments = None
    if data.customers is not None and "segment" in data.customers.column_names:
        segments = data.customers.select(["customer_id", "segment"]).to_pandas()
    table = lift_report(inv, hold, conv, dimensions=("overall", "template", "variant", "staff"),
                        customers=segments, as_of=pd.Timestamp(data.as_of))
    overall = table[table["dimension"] == "overall"]
    if overall.empty:
        return Lift(None, method="track", by_group=table)
    row = overall.iloc[0]
    return Lift(_num(row["lift_abs"]), _num(row["lift_ci_low"]), _num(row["lift_ci_high"]),
                "track", table)


def _simple_lift(inv: pd.DataFrame, hold: pd.DataFrame, conv: pd.DataFrame) -> Lift:
    """Fallback when track.lift is absent: converted share of invited minus of held-out."""
    added = set(conv["customer_id"].dropna().astype(str))
    invited = set(inv["customer_id"].dropna().astype(str))
    held = set(hold["customer_id"].dropna().astype(str))
    if not invited or not held:
        return Lift(None)
    rate_i = len(invited & added) / len(invited)
    rate_h = len(held & added) / len(held)
    return Lift(rate_i - rate_h, method="simple")


def _num(value: object) -> float | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)


def _read_audiences(conn: sqlite3.Connection, tables: set[str]) -> pd.DataFrame | None:
    """Each audience as the ledger knows it (audience_0001_sync: ``audiences``)."""
    if "audiences" not in tables:
        return None
    frame = _select(conn, "audiences", ["platform", "name", "last_sync_at", "held_count",
                                        "uploaded_count", "matched_count", "processing"])
    if frame.empty:
        return None
    frame = frame.rename(columns={"name": "audience", "last_sync_at": "last_sync",
                                  "held_count": "size", "matched_count": "matched"})
    for col in ("size", "uploaded_count", "matched"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    # never pushed: the platform holds nothing yet, so "0" would read as an empty audience
    frame.loc[frame["last_sync"].isna(), "size"] = float("nan")
    # the platform's own figures: matched of what it counted as uploaded
    base = frame["uploaded_count"].where(frame["uploaded_count"] > 0, frame["size"])
    frame["match_rate"] = frame["matched"] / base.where(base > 0)
    return frame[["platform", "audience", "last_sync", "size", "matched", "match_rate",
                  "processing"]].sort_values(["platform", "audience"], ignore_index=True)
