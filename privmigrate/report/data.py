"""Everything the workbook shows, gathered from the workspace files and the ledger.

Each input is optional: a workspace that has only loaded orders still gets a workbook, whose
sheets say what is missing. Ledger tables are found by name and their columns read from the
schema, so a column another engineer has not added yet degrades to "unknown" instead of failing.
"""

from __future__ import annotations

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
from privmigrate.track.metrics import Figures
from privmigrate.workspace import Workspace

UNSURE_STATUSES = ("unknown", "sending")  # no answer from the provider / a send cut short
INVITE_DIMENSIONS = ("night", "channel", "template_id", "variant", "staff")


@dataclass
class Lift:
    """Invited-vs-holdout conversion difference (``track.metrics``), and its groups."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: str = "none"  # track (track.metrics), none (no holdout yet)
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
    figures: Figures | None = None  # track.metrics: the one definition of each figure
    lift: Lift = field(default_factory=lambda: Lift(None))

    @property
    def invited(self) -> int:
        return self.figures.invited if self.figures else 0

    @property
    def converted(self) -> int:
        return self.figures.converted if self.figures else 0

    @property
    def holdout(self) -> int:
        return self.figures.holdout if self.figures else 0


def gather(ws: Workspace, as_of: date) -> ReportData:
    """Read what the workspace has as of ``as_of``; missing inputs stay None."""
    customers = _read_customers(ws.customers_path)
    data = ReportData(as_of=as_of, workspace=ws.root, customers=customers)
    data.staff_names = _staff_names(ws)
    _read_orders(ws.orders_path, data)
    data.rejects = _read_rejects(ws.rejects_path)
    if ws.state_db.exists():
        with open_ledger(ws.state_db) as conn:
            _read_ledger(conn, data, ws)
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


def _read_ledger(conn: sqlite3.Connection, data: ReportData, ws: Workspace) -> None:
    from privmigrate.track import store
    from privmigrate.track.run import measure_workspace

    tables = _tables(conn)
    if "loaded_files" in tables:
        data.loaded_files = _select(conn, "loaded_files", ["path", "source", "rows", "loaded",
                                                           "rejected", "unlinked", "loaded_at"])
    segments = None
    if data.customers is not None and "segment" in data.customers.column_names:
        segments = data.customers.select(["customer_id", "segment"]).to_pandas()
    measured = measure_workspace(ws, data.as_of, segments)
    data.figures = f = measured.figures
    invitations = store.read_invitations(conn)
    if invitations is not None and len(invitations):
        _summarise_invitations(invitations, measured.invitations, data)
    holdouts = store.read_holdouts(conn)
    has_control = holdouts is not None and len(holdouts) > 0
    data.lift = Lift(f.lift, f.lift_low, f.lift_high, "track" if has_control else "none",
                     measured.lift if has_control else None)
    data.audiences = _read_audiences(conn, tables)


def _summarise_invitations(inv: pd.DataFrame, attempted: pd.DataFrame,
                           data: ReportData) -> None:
    """Per night·channel·template·variant·staff: planned, attempted ("sent"), failed,
    unsure, converted — attempted and converted are ``track.metrics``' units."""
    status = inv["status"].astype("string").fillna("unknown")
    done = attempted.set_index(attempted["invitation_id"].astype(str))["converted"]
    ids = inv["invitation_id"].astype(str)
    frame = pd.DataFrame({
        **{d: inv[d].astype("string").fillna("") for d in INVITE_DIMENSIONS},
        "planned": 1,
        "sent": ids.isin(done.index).astype("int64"),
        "failed": (status == "failed").astype("int64"),
        "unknown": status.isin(UNSURE_STATUSES).astype("int64"),
        "converted": ids.map(done.astype("int64")).fillna(0).astype("int64"),
    })
    grouped = frame.groupby(list(INVITE_DIMENSIONS), as_index=False, sort=True).sum()
    data.invitations = grouped.sort_values(["night", "channel"], ascending=[False, True],
                                           ignore_index=True)
    converted_customers = set(attempted.loc[attempted["converted"], "customer_id"].astype(str))
    last = inv.assign(_status=status).sort_values(["night", "invitation_id"]).drop_duplicates(
        "customer_id", keep="last")
    data.customer_invites = pd.DataFrame({
        "customer_id": last["customer_id"].astype(str),
        "last_invited": pd.to_datetime(last["night"], errors="coerce"),
        "invite_status": last["_status"],
        "converted": last["customer_id"].astype(str).isin(converted_customers),
    })


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
