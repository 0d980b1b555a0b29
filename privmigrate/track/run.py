"""``run_track``: read WeCom adds, attribute them, record conversions, measure lift.

Orchestration only (the rules live in ``attribution`` and ``lift``). Called by the CLI and the
nightly pipeline; the caller holds the workspace lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from privmigrate.clock import shanghai_now
from privmigrate.config import env_secret, read_config
from privmigrate.errors import InputError
from privmigrate.invite.wecom_add import reconcile as reconcile_adds
from privmigrate.ledger import open_ledger, transaction
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.track import store
from privmigrate.track.attribution import (
    HOLDOUT_COLUMNS,
    INVITATION_COLUMNS,
    attribute,
    local_times,
    merge_with_ledger,
    with_columns,
)
from privmigrate.track.metrics import Measured, day_end, measure
from privmigrate.track.settings import CORP_ID_ENV, SECRET_ENV, TrackSettings, track_settings
from privmigrate.track.sources import read_contact_files
from privmigrate.workspace import Workspace

FILE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xls", ".xlsm")


def run_track(
    ws: Workspace,
    files: Sequence[Path] | None = None,
    from_api: bool = False,
    now: datetime | None = None,
    progress: Progress = NULL_PROGRESS,
    *,
    dry_run: bool = False,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], Any] | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Track one night: ``files``, else the API when ``from_api``, else ``inbox/<inbox_subdir>/``.

    ``as_of`` (default: the date of ``now``): adds dated after it are set aside, never
    recorded or counted (``future_adds``; they count on the night they are not in the future
    any more). The figures are ``track.metrics``' as of that date.
    ``dry_run`` attributes and measures but writes nothing (the token cache excepted).

    Returns a JSON-ready summary (counts, warnings, lift rows). Raises InputError for a bad
    file, ConfigError for bad config or missing credentials, RemoteError when WeCom refuses.
    """
    now = now or shanghai_now()
    as_of = as_of or now.date()
    settings = track_settings(read_config(ws.config_path))
    warnings: list[str] = []
    summary: dict[str, Any] = {"source": "api" if from_api else "file", "files": [],
                               "dry_run": dry_run}
    with open_ledger(ws.state_db) as conn:
        if from_api:
            contacts = _from_api(conn, settings, progress, summary, transport, sleep)
        else:
            paths = list(files) if files else _inbox_files(ws, settings)
            summary["files"] = [p.name for p in paths]
            if not paths:
                folder = ws.inbox_dir / settings.inbox_subdir
                warnings.append(f"no contact files given or in {folder}; pass FILE… or --from-api")
            contacts = read_contact_files(paths, settings.aliases)
        contacts = _set_aside_future(contacts, as_of, summary, warnings)
        invitations = store.read_invitations(conn)
        holdouts = store.read_holdouts(conn)
        if invitations is None:
            warnings.append("no invitations table in the ledger yet (run `privmigrate invite` "
                            "first): adds are matched to customers by remark mobile only")
        if holdouts is None:
            warnings.append("no holdouts table in the ledger yet: lift has no control group")
        invitations = with_columns(invitations, INVITATION_COLUMNS)
        holdouts = with_columns(holdouts, HOLDOUT_COLUMNS)
        customers = _customers(ws, warnings)
        result = attribute(contacts, customers, invitations, holdouts, settings.rules)
        existing = store.read_conversions(conn)
        plan = merge_with_ledger(result.conversions, existing)
        if dry_run:
            new_contacts = None
            conversions = pd.concat([existing, plan.inserts], ignore_index=True)
        else:
            with transaction(conn):
                new_contacts = store.record_contacts(conn, contacts, now)
                store.apply_plan(conn, plan, now)
            if store.table_exists(conn, "invitations"):  # staff adds seen, or out of time
                summary["wecom_add"] = reconcile_adds(conn, now)
                # the figures count the adds just reconciled, as the report will
                invitations = with_columns(store.read_invitations(conn), INVITATION_COLUMNS)
            conversions = store.read_conversions(conn)
    summary.update(_counts(result, plan, contacts, new_contacts, conversions))
    measured = measure(invitations, holdouts, conversions, as_of=as_of,
                       window_days=settings.rules.window_days, customers=customers,
                       dimensions=settings.lift_dimensions)
    summary["as_of"] = as_of.isoformat()
    summary["figures"] = measured.figures.to_dict()
    summary["lift"] = _records(measured.lift)
    summary["window_days"] = settings.rules.window_days
    summary["warnings"] = warnings
    return summary


def measure_workspace(ws: Workspace, as_of: date,
                      customers: pd.DataFrame | None = None) -> Measured:
    """The figures of the workspace's ledger as of ``as_of`` (what report and run show)."""
    settings = track_settings(read_config(ws.config_path))
    invitations = holdouts = conversions = None
    if ws.state_db.exists():
        with open_ledger(ws.state_db) as conn:
            invitations = store.read_invitations(conn)
            holdouts = store.read_holdouts(conn)
            conversions = store.read_conversions(conn)
    if customers is None and ws.customers_path.exists():
        customers = _customers(ws, [])
    return measure(invitations, holdouts, conversions, as_of=as_of,
                   window_days=settings.rules.window_days, customers=customers,
                   dimensions=settings.lift_dimensions)


def _set_aside_future(contacts: pd.DataFrame, as_of: date, summary: dict[str, Any],
                      warnings: list[str]) -> pd.DataFrame:
    """Adds dated after the as-of date cannot have happened yet: a wrong clock or cell."""
    added = local_times(with_columns(contacts, ["added_at"])["added_at"])
    future = (added >= day_end(as_of)).fillna(False).to_numpy()
    summary["future_adds"] = int(future.sum())
    if future.any():
        first = contacts.loc[future].iloc[0]
        where = f"{first.get('source_ref') or 'the API'}"
        warnings.append(
            f"{int(future.sum())} WeCom adds dated after the as-of date {as_of} set aside, "
            f"not counted (first: {where}, add_time {first['added_at']}); check the export's "
            "dates or pass --as-of")
    return contacts.loc[~future].reset_index(drop=True)


def _from_api(conn: Any, settings: TrackSettings, progress: Progress, summary: dict[str, Any],
              transport: httpx.BaseTransport | None,
              sleep: Callable[[float], Any] | None) -> pd.DataFrame:
    from privmigrate.channels.wecom import WeComClient
    from privmigrate.track.api_source import contacts_from_api

    corp_id = env_secret(CORP_ID_ENV, "track --from-api")
    secret = env_secret(SECRET_ENV, "track --from-api")
    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    with WeComClient(corp_id, secret, settings=settings.wecom,
                     cache=store.LedgerTokenCache(conn), transport=transport, **kwargs) as client:
        read = contacts_from_api(client, settings.staff, settings.link_ids,
                                 settings.acquisition_links, progress)
        summary["api"] = {"staff": read.staff, "links": read.links,
                          "link_customers": read.link_customers,
                          "link_customers_without_time": read.link_customers_without_time,
                          "relationships_without_time": read.relationships_without_time,
                          "calls": client.calls, "token_refreshes": client.token_refreshes}
    return read.contacts


def _inbox_files(ws: Workspace, settings: TrackSettings) -> list[Path]:
    folder = ws.inbox_dir / settings.inbox_subdir
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in FILE_SUFFIXES and not p.name.startswith("."))


def _customers(ws: Workspace, warnings: list[str]) -> pd.DataFrame:
    path = ws.customers_path
    if not path.exists():
        warnings.append("no data/customers.parquet yet (run `privmigrate segment`): "
                        "remark mobiles cannot be matched to customers")
        return pd.DataFrame({"customer_id": pd.Series(dtype="string"),
                             "phone": pd.Series(dtype="string"),
                             "segment": pd.Series(dtype="string")})
    try:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        cols = [c for c in ("customer_id", "phone", "segment") if c in names]
        frame = pd.read_parquet(path, columns=cols)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{path}: cannot read ({type(exc).__name__}); run `privmigrate "
                         "segment` again") from exc
    return with_columns(frame, ["customer_id", "phone", "segment"])


def _counts(result: Any, plan: Any, contacts: pd.DataFrame, new_contacts: int | None,
            conversions: pd.DataFrame) -> dict[str, Any]:
    fresh = plan.inserts
    by_reason = fresh["reason"].value_counts().to_dict() if len(fresh) else {}
    by_method = fresh["match_method"].value_counts().to_dict() if len(fresh) else {}
    return {
        "adds_read": len(contacts),
        "adds_new": new_contacts,
        "persons": result.persons,
        "repeat_adds": result.repeat_adds,
        "duplicate_persons": result.duplicate_persons + plan.already_converted,
        "unmatched_persons": result.unmatched,
        "conversions_new": len(fresh),
        "conversions_matched_later": len(plan.upgrades),
        "attributed_new": int(fresh["attributed"].sum()) if len(fresh) else 0,
        "new_by_reason": {str(k): int(v) for k, v in by_reason.items()},
        "new_by_method": {str(k): int(v) for k, v in by_method.items()},
        "conversions_total": len(conversions),
        "converted_customers_total": int(conversions["customer_id"].notna().sum()),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.astype(object).where(frame.notna(), None)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in out.to_dict(orient="records")]
