"""The demo: a synthetic brand workspace run through a whole night, end to end.

Everything here is synthetic (generated people, reserved-looking numbers). The demo uses the
same library calls as the nightly job; only the WeCom adds are simulated, since no real
WeCom account answers here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privmigrate.ledger import open_ledger
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.workspace import Workspace, atomic_path, private_dir, write_text_atomic

DEMO_OVERRIDES = """
# --- demo overrides -------------------------------------------------------------------
# (the demo pushes no audiences: no ad platform is reachable from here; it builds the
#  packages of all four platforms instead)
"""


def is_demo_workspace(ws: Workspace) -> bool:
    """True when ``ws`` is empty, missing or was made by the demo (its config says so).

    A real brand's workspace has a privmigrate.toml too: running the demo there would
    overwrite that config and mix synthetic buyers into the brand's orders and ledger.
    """
    if not ws.root.exists() or not any(ws.root.iterdir()):
        return True
    try:
        text = ws.config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return DEMO_OVERRIDES.strip() in text


# init's example values (config.EXAMPLE_*) that `run` refuses, and the demo brand's own
DEMO_VALUES = {
    'sign_name = "示例旗舰店"': 'sign_name = "演示品牌"',
    'code = "SMS_000000001"': 'code = "SMS_DEMO_0001"',
    'code = "SMS_000000002"': 'code = "SMS_DEMO_0002"',
    "work.weixin.qq.com/ca/demoA": "work.weixin.qq.com/ca/pmdA",
    "work.weixin.qq.com/ca/demoB": "work.weixin.qq.com/ca/pmdB",
    'name = "小美"': 'name = "阿美"',
    'name = "小林"': 'name = "阿林"',
}


def demo_config_text() -> str:
    """The sample configuration with the demo brand's values in place of init's examples
    (which `run` refuses) and the demo's night settings."""
    from privmigrate.sample_config import sample_config_text

    text = sample_config_text()
    for example, demo in DEMO_VALUES.items():
        text = text.replace(example, demo)
    return text.replace("audiences = true", "audiences = false") + DEMO_OVERRIDES


def prepare_workspace(ws: Workspace, *, seed: int = 7, buyers: int = 3000) -> list[Path]:
    """Config plus one synthetic export per platform in the inbox."""
    from privmigrate.examples import write_example_exports
    from privmigrate.sample_config import validate_config

    private_dir(ws.root)
    text = demo_config_text()
    validate_config(text)
    write_text_atomic(ws.config_path, text)
    return write_example_exports(private_dir(ws.inbox_dir), seed=seed, buyers=buyers)


DEMO_DAYS_AGO = 6  # the demo's night: its invitations have had days to bring adds in


def demo_night(now: datetime) -> tuple[date, datetime]:
    """The night the demo plans and sends (some days before ``now``) and its send time."""
    night = now.date() - timedelta(days=DEMO_DAYS_AGO)
    return night, datetime.combine(night, datetime.min.time()).replace(hour=19)


def simulate_call_outcomes(ws: Workspace, night: date, now: datetime, *,
                           seed: int = 5) -> Path | None:
    """The call sheet as the agents fill it in the day after the night: an outcome from the
    drop-down (``lifecycle.CALL_OUTCOMES``) and the time of each call. Written to
    inbox/calls/ for `privmigrate calls import`."""
    from privmigrate.invite import lifecycle

    with open_ledger(ws.state_db) as conn:
        calls = pd.read_sql_query(
            "SELECT customer_id, state FROM invitations WHERE night = ? AND channel = 'call'",
            conn, params=(night.isoformat(),))
    if calls.empty:
        return None
    rng = np.random.default_rng(seed)
    words = ["接通", "同意加微", "未接通", "拒绝", "忙线", "空号"]
    picked = rng.choice(len(words), size=len(calls), p=[0.3, 0.3, 0.2, 0.1, 0.05, 0.05])
    first = datetime.combine(night + timedelta(days=1), datetime.min.time()).replace(hour=10)
    called_at = [min(first + timedelta(minutes=int(m)), now - timedelta(minutes=5))
                 for m in rng.integers(0, 8 * 60, len(calls))]
    sheet = pd.DataFrame({
        lifecycle.CALL_CUSTOMER_HEADERS[0]: calls["customer_id"],
        lifecycle.CALL_STATE_HEADERS[0]: calls["state"],
        lifecycle.CALL_OUTCOME_HEADERS[0]: [words[i] for i in picked],
        lifecycle.CALL_TIME_HEADERS[0]: [t.strftime("%Y-%m-%d %H:%M") for t in called_at],
        lifecycle.CALL_NOTE_HEADERS[0]: "",
    })
    target = private_dir(ws.inbox_dir / "calls") / f"calls_{night:%Y%m%d}.csv"
    with atomic_path(target) as tmp:
        sheet.to_csv(tmp, index=False, encoding="utf-8-sig")
    return target


def simulate_wecom_adds(ws: Workspace, night: date, now: datetime, *,
                        seed: int = 11) -> Path | None:
    """A WeCom contact export as if some invited buyers (and a few holdouts) added the
    brand's staff between their invitation and ``now`` — never later: the demo has no
    event from the future."""
    from privmigrate.track.attribution import invitation_times

    with open_ledger(ws.state_db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "invitations" not in tables:
            return None
        inv = pd.read_sql_query(
            "SELECT customer_id, channel, staff, state, status, call_outcome, sent_at, "
            "outcome_at, planned_at, night FROM invitations WHERE night = ?",
            conn, params=(night.isoformat(),))
        holdouts = pd.read_sql_query(
            "SELECT customer_id FROM holdouts WHERE night = ?", conn,
            params=(night.isoformat(),)) if "holdouts" in tables else pd.DataFrame(
            {"customer_id": []})
    if inv.empty:
        return None
    from privmigrate.scoring.customers_io import read_customers

    customers = read_customers(ws.customers_path).set_index("customer_id")
    rng = np.random.default_rng(seed)
    agreed = inv["call_outcome"].isin(["agreed", "added"])
    # a staff add (wecom_add) is accepted by the buyer or not: track's read-back decides
    staff_add = (inv["channel"] == "wecom_add") & (inv["status"] == "planned")
    rate = np.select([agreed, inv["status"] == "called", inv["status"] == "accepted",
                      staff_add], [0.7, 0.15, 0.12, 0.4], 0.0)
    joined = inv[rng.random(len(inv)) < rate].copy()
    t0 = invitation_times(joined).reset_index(drop=True)
    organic = holdouts[rng.random(len(holdouts)) < 0.04].copy()
    sent = pd.Timestamp(demo_night(now)[1])
    rows = []
    for i, r in enumerate(joined.itertuples(index=False)):
        per_person = r.channel == "call"
        by_phone = r.channel == "wecom_add"  # the member typed the buyer's mobile as 备注
        phone = customers["phone"].get(r.customer_id)
        rows.append({
            "external_userid": f"wmDEMO{i:06d}",
            "userid": r.staff or "advisor01",
            "add_time": _before(now, t0[i] + _delay(rng)),
            "state": r.state if per_person else "",
            "customer_channel": "" if per_person else (r.state or ""),
            "remark_mobiles": "" if (per_person and not by_phone) or pd.isna(phone) else phone,
        })
    for j, r in enumerate(organic.itertuples(index=False)):
        phone = customers["phone"].get(r.customer_id)
        rows.append({
            "external_userid": f"wmORG{j:06d}",
            "userid": "advisor01",
            "add_time": _before(now, sent + _delay(rng)),
            "state": "", "customer_channel": "",
            "remark_mobiles": "" if pd.isna(phone) else phone,
        })
    target = private_dir(ws.inbox_dir / "wecom") / f"wecom_contacts_{night:%Y%m%d}.csv"
    with atomic_path(target) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, encoding="utf-8-sig")
    return target


def _delay(rng: np.random.Generator) -> pd.Timedelta:
    return pd.Timedelta(minutes=int(rng.integers(5, 6 * 24 * 60)))


def _before(now: datetime, when: pd.Timestamp) -> str:
    """``when``, but never after ``now`` (an add is something that already happened)."""
    latest = pd.Timestamp(now) - pd.Timedelta(minutes=1)
    return min(when, latest).strftime("%Y-%m-%d %H:%M:%S")


def simulate_sms_acceptance(ws: Workspace, night: date, now: datetime) -> int:
    """Mark the night's planned SMS as accepted by a provider, as `invite --send` would.

    No SMS provider is reachable from a demo; the rows are marked with provider code DEMO so
    the simulation is visible in the ledger and the workbook never mistakes it for a send.
    """
    from privmigrate.ledger import transaction

    with open_ledger(ws.state_db) as conn, transaction(conn):
        cur = conn.execute(
            "UPDATE invitations SET status = 'accepted', provider_code = 'DEMO', sent_at = ? "
            "WHERE night = ? AND channel = 'sms' AND status = 'planned'",
            (now.isoformat(timespec="seconds"), night.isoformat()),
        )
        return cur.rowcount


def build_demo_audiences(ws: Workspace, now: datetime) -> list[dict[str, Any]]:
    """Packages for all four platforms from the demo's best segments."""
    from privmigrate.audience.build import build_audience

    out = []
    for platform in ("tencent", "oceanengine", "qianchuan", "alimama"):
        out.append(build_audience(ws, platform=platform,
                                  segments=["重要价值客户", "重要发展客户", "重要保持客户"],
                                  name="demo-high-value", now=now))
    return out


def run_demo(ws: Workspace, now: datetime,
             progress: Progress = NULL_PROGRESS) -> dict[str, Any]:
    """The whole demo; returns what each stage did.

    The night is ``DEMO_DAYS_AGO`` days before ``now``: planned and sent that evening, called
    the next day (the agents' sheet imported), WeCom adds read back today, and the morning
    workbook as of today — so nothing the demo records lies after the as-of date.
    """
    from privmigrate.invite.call_results import import_call_results
    from privmigrate.pipeline import run_night
    from privmigrate.report import write_report
    from privmigrate.track.run import run_track

    files = prepare_workspace(ws)
    night, sent_at = demo_night(now)
    with ws.lock("demo"):
        first = run_night(ws, night, now=sent_at, progress=progress)
        audiences = build_demo_audiences(ws, sent_at)
        simulated = simulate_sms_acceptance(ws, night, sent_at)
        sheet = simulate_call_outcomes(ws, night, now)
        calls = import_call_results(ws, [sheet], now=now, as_of=now.date()) if sheet else None
        adds = simulate_wecom_adds(ws, night, now)
        track = run_track(ws, [adds], from_api=False, now=now, progress=progress,
                          as_of=now.date()) if adds else None
        report = write_report(ws, None, "zh", as_of=now.date(), progress=progress)
    return {
        "workspace": str(ws.root),
        "exports": [p.name for p in files],
        "night": first.to_dict(),
        "audiences": audiences,
        "sms_simulated": simulated,
        "calls": calls,
        "track": track,
        "report": report,
    }
