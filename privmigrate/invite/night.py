"""One night of invitations, end to end, without the CLI (the nightly ``run`` calls this).

The plan of a night is computed once: stored as ``data/invite_plans/<date>.parquet`` and
recorded in the ledger (invitations, holdouts, invite_nights) before any file is written
or anything is sent. Every later run for that date reads the stored plan, so the batch files
come out byte-for-byte the same and sending picks up exactly where it stopped.

The caller holds the workspace lock (``ws.lock("invite")``); this function does not take it,
so the nightly pipeline can call it while holding its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from privmigrate.config import read_config
from privmigrate.errors import ConfigError, InputError
from privmigrate.invite import batches, ledger_store, wecom_add, window
from privmigrate.invite.plan import CUSTOMER_COLUMNS, plan_night
from privmigrate.invite.send import send_night
from privmigrate.invite.settings import InviteSettings
from privmigrate.ledger import open_ledger
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.workspace import Workspace

if TYPE_CHECKING:
    from privmigrate.channels.sms import SmsProvider


def read_customers(ws: Workspace) -> pd.DataFrame:
    """customers.parquet, only the columns planning needs (column-projected: 2 M rows fast)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = ws.customers_path
    if not path.exists():
        raise InputError(f"{path} does not exist; run `privmigrate segment` first")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in CUSTOMER_COLUMNS if c not in names]
        if missing:
            raise InputError(f"{path} lacks columns {', '.join(missing)}; run "
                             "`privmigrate segment` again with this version")
        table = pq.read_table(path, columns=list(CUSTOMER_COLUMNS))
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: cannot read the customer table ({exc}); "
                         "run `privmigrate segment` again") from exc
    return table.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow")
                           if pa.types.is_string(t) or pa.types.is_large_string(t) else None)


def run_invite(ws: Workspace, night: date, *, now: datetime, limit: int | None = None,
               dry_run: bool = False, send: bool = False, resend_unknown: bool = False,
               progress: Progress = NULL_PROGRESS, provider: SmsProvider | None = None,
               clock: Callable[[], datetime] | None = None,
               wecom_transport: Any = None) -> dict[str, Any]:
    """Plan (or reuse the plan of) ``night``, write its batch files, optionally send.

    Returns a JSON-able summary: the plan summary, ``reused`` (the plan existed), ``files``,
    ``status`` ({channel: {status: n}}) and, with ``send``, ``send`` (counts).
    Raises OutsideWindowError (exit 1) before doing anything when ``send`` is outside the
    window; SmsStopError (exit 4) when the provider refuses, after recording what it did.
    """
    if not ws.config_path.exists():  # the defaults cannot send: no signature, no templates
        raise ConfigError(f"{ws.config_path} not found; create it with `privmigrate init`, "
                          "then set [invite] sign_name, templates and staff")
    raw = read_config(ws.config_path)
    settings = InviteSettings.from_config(raw)
    if send and not dry_run:
        window.check_window(now, settings.window, night)
    with open_ledger(ws.state_db) as conn:
        moved = wecom_add.reconcile(conn, now) if not dry_run else None
        stored = ledger_store.stored_night(conn, night)
        if stored is not None:
            plan = batches.read_plan(ws, night, stored["plan_sha256"])
            summary = stored["summary"]
        else:
            progress.start("planning invitations")
            history = ledger_store.load_history(conn, night, settings.campaign,
                                                settings.cooldown_days)
            planned = plan_night(read_customers(ws), settings, history, night, now, limit)
            plan, summary = planned.invitations, planned.summary
            if not dry_run:
                sha = batches.write_plan(ws, night, plan)
                ledger_store.record_plan(conn, planned, sha)
            progress.finish()
        out: dict[str, Any] = {**summary, "reused": stored is not None, "dry_run": dry_run}
        if moved is not None:
            out["wecom_add_moved"] = moved  # earlier nights' adds: accepted / expired now
        if dry_run:
            out["files"] = []
            return out
        staff_order = [s.name for s in settings.staff]
        files = batches.write_batch(ws, night, plan, summary, staff_order)
        out["files"] = [str(p) for p in files]
        if send:
            tz = settings.window.timezone
            report = send_night(conn, night, plan, settings,
                                provider if provider is not None else (lambda: _provider(raw)),
                                clock or (lambda: window.resolve_now(None, tz)),
                                resend_unknown=resend_unknown, progress=progress)
            out["send"] = report.as_dict()
            if settings.wecom_add.notify and (plan["channel"] == "wecom_add").any():
                out["notify"] = _notify(conn, raw, settings, night, plan, now, wecom_transport)
        out["status"] = ledger_store.night_counts(conn, night)
    return out


def _notify(conn: Any, raw: dict[str, Any], settings: InviteSettings, night: date,
            plan: pd.DataFrame, now: datetime, transport: Any) -> dict[str, Any]:
    """The members' WeCom messages (credentials and client knobs as for `track --from-api`)."""
    from privmigrate.channels.wecom import WeComClient
    from privmigrate.config import env_secret
    from privmigrate.invite.add_notify import notify_members
    from privmigrate.track.settings import CORP_ID_ENV, SECRET_ENV, track_settings
    from privmigrate.track.store import LedgerTokenCache

    corp_id = env_secret(CORP_ID_ENV, "invite --send with invite.wecom_add.notify")
    secret = env_secret(SECRET_ENV, "invite --send with invite.wecom_add.notify")
    with WeComClient(corp_id, secret, settings=track_settings(raw).wecom,
                     cache=LedgerTokenCache(conn), transport=transport) as client:
        return notify_members(conn, client, settings, night, plan, now)


def _provider(raw: dict[str, Any]) -> SmsProvider:
    from privmigrate.channels.sms import SmsSettings, make_sms_provider

    return make_sms_provider(SmsSettings.from_config(raw))
