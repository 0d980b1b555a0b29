"""The `segment` step on a workspace: orders.parquet in, customers.parquet out.

Shared by the `segment` command and the nightly `run`. It does not take the workspace lock:
the caller holds it (the CLI for one command, the pipeline for the whole night).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from privmigrate.config import read_config
from privmigrate.errors import InputError
from privmigrate.ledger import LedgerError
from privmigrate.workspace import Workspace


@dataclass
class Scored:
    """Customers scored in memory, not yet written (see ``score_workspace``)."""

    customers: Any  # pandas DataFrame
    split: str


def segment_workspace(
    ws: Workspace,
    as_of: date | None = None,
    split: str | None = None,
    output: Path | None = None,
    reveal_phones: bool = False,
) -> dict[str, Any]:
    """Build data/customers.parquet (and ``output`` for people) from orders.parquet; return
    the summary payload.

    ``split`` None means ``segment.split`` from privmigrate.toml. InputError when there is
    no paid order to score.
    """
    return publish_scored(ws, score_workspace(ws, as_of, split), as_of, output, reveal_phones)


def score_workspace(
    ws: Workspace, as_of: date | None = None, split: str | None = None, loaded: Any = None,
) -> Scored:
    """Score the workspace's orders without writing anything.

    ``loaded`` (an ``ingest.load.LoadedOrders``) is the table a `load` in this process is
    writing: scoring takes it and its customer codes instead of reading orders.parquet back
    and hashing every customer_id again. Kept apart from ``publish_scored`` so `segment
    FILE…` and the nightly run can score while orders.parquet is being written, and write
    customers.parquet only once the orders are on disk.
    """
    import pyarrow as pa

    from privmigrate.scoring import build_customers
    from privmigrate.scoring.customers_io import read_orders_for_scoring
    from privmigrate.scoring.settings import SegmentSettings

    settings = SegmentSettings.from_config(read_config(ws.config_path), str(ws.config_path))
    # a `load` just before in this process may leave freed memory in Arrow's pool
    pa.default_memory_pool().release_unused()
    chosen_split = split or settings.split
    if loaded is not None:
        orders, codes = loaded.orders, loaded.customer_codes
    else:
        orders, codes = read_orders_for_scoring(ws.orders_path), None
    customers = build_customers(
        orders, as_of=as_of, split=chosen_split, rules=settings.rules,
        weights=settings.weights, converted=read_converted(ws.state_db), customer_codes=codes,
    )
    return Scored(customers, chosen_split)


def publish_scored(
    ws: Workspace, scored: Scored, as_of: date | None = None, output: Path | None = None,
    reveal_phones: bool = False,
) -> dict[str, Any]:
    """Write customers.parquet (and ``output``) from ``scored``; return the summary payload."""
    from privmigrate.scoring import segment_summary
    from privmigrate.scoring.customers_io import export_customers, write_customers

    customers = scored.customers
    if customers.empty:
        raise InputError(
            f"{ws.orders_path} has no paid orders tied to a buyer"
            + (f" on or before {as_of}" if as_of else "")
            + "; load exports with paid orders (see `privmigrate load --help`)"
        )
    write_customers(customers, ws.customers_path, split=scored.split)
    written = export_customers(customers, output, reveal_phones=reveal_phones) if output else None
    summary = segment_summary(customers)
    return {
        "as_of": customers.attrs.get("as_of"),
        "split": scored.split,
        "customers": len(customers),
        "revenue": round(float(customers["total_fen"].sum()) / 100.0, 2),
        "reachable_by_sms": int(customers["reachable_by_sms"].sum()),
        "in_private_domain": int(customers["in_private_domain"].sum()),
        "customers_path": str(ws.customers_path),
        "output": str(output) if output else None,
        "output_rows": written,
        "segments": summary.to_dict(orient="records"),
    }


def read_converted(state_db: Path) -> set[str] | None:
    """customer_ids in the ledger's conversions table (written by track), if it exists."""
    if not state_db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='conversions'"
            ).fetchone()
            if not found:
                return None
            rows = conn.execute(
                "SELECT DISTINCT customer_id FROM conversions WHERE customer_id IS NOT NULL"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise LedgerError(
            f"{state_db}: cannot read conversions ({exc}); restore the state database from a "
            "backup or move it aside"
        ) from exc
    return {r[0] for r in rows}
