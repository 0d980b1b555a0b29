"""run_invite end to end on a workspace, with an in-test SMS provider."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from privmigrate.channels.sms import SendResult, SmsStopError
from privmigrate.invite import run_invite
from privmigrate.invite.window import OutsideWindowError
from privmigrate.workspace import Workspace
from tests.invite import invite_world as w

SH = ZoneInfo("Asia/Shanghai")
NIGHT = date(2026, 11, 25)
PLAN_AT = datetime(2026, 11, 25, 2, 0, tzinfo=SH)
SEND_AT = datetime(2026, 11, 25, 10, 0, tzinfo=SH)


class FakeProvider:
    """Accepts everything except scripted codes; counts deliveries per phone."""

    name = "fake"

    def __init__(self, max_batch: int = 7, codes: dict[str, str] | None = None,
                 ledger: sqlite3.Connection | None = None) -> None:
        self.max_batch = max_batch
        self.codes = codes or {}
        self.delivered: Counter[str] = Counter()
        self.calls: list[list[str]] = []
        self.ledger = ledger
        self.stop_on_call: int | None = None
        self.unknown_on_call: int | None = None
        self.seen_statuses: list[str] = []

    def send(self, messages):
        assert len(messages) <= self.max_batch
        assert len({m.template_code for m in messages}) == 1
        self.calls.append([m.message_id for m in messages])
        if self.ledger is not None:  # the ledger knows about the call before it happens
            for m in messages:
                row = self.ledger.execute("SELECT status FROM invitations WHERE invitation_id=?",
                                          (m.message_id,)).fetchone()
                self.seen_statuses.append(row[0])
        if self.stop_on_call == len(self.calls):
            raise SmsStopError("template refused: isv.SMS_TEMPLATE_ILLEGAL")
        out = []
        for m in messages:
            if self.unknown_on_call == len(self.calls):
                self.delivered[m.phone] += 1
                out.append(SendResult(m.message_id, "unknown", "TIMEOUT", "", None, False))
                continue
            code = self.codes.get(m.phone)
            if code:
                out.append(SendResult(m.message_id, "failed", code, "", None,
                                      code == "BLACKLIST"))
            else:
                self.delivered[m.phone] += 1
                out.append(SendResult(m.message_id, "accepted", "OK", "", "biz-1", False))
        return out


@pytest.fixture
def ws(tmp_path):
    return Workspace.at(w.workspace(tmp_path / "ws", frame=w.customers(400)))


def _db(ws):
    conn = sqlite3.connect(ws.state_db)
    conn.row_factory = sqlite3.Row
    return conn


def _sms_csv(ws, night=NIGHT):
    return pd.read_csv(ws.batches_dir / night.isoformat() / "sms.csv", dtype=str,
                       encoding="utf-8-sig")


def test_batch_files_and_ledger(ws):
    out = run_invite(ws, NIGHT, now=PLAN_AT)
    folder = ws.batches_dir / "2026-11-25"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["sms.csv", "sms.xlsx", "calls.xlsx", "wecom_add.xlsx", "manifest.json"])
    raw = (folder / "sms.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    sms = _sms_csv(ws)
    assert list(sms.columns) == ["batch_id", "customer_id", "phone", "segment", "template_id",
                                 "variant", "offer", "staff", "message", "length", "parts"]
    assert len(sms) == out["by_channel"]["sms"] > 0
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in folder.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["invited"] == out["invited"] and "skipped" in manifest
    assert "1380" not in (folder / "manifest.json").read_text()
    from openpyxl import load_workbook

    calls = load_workbook(folder / "calls.xlsx")
    assert set(calls.sheetnames) <= {"小美", "小林"}
    header = [c.value for c in calls.worksheets[0][1]]
    assert header == ["phone", "name", "honorific", "external_ref", "segment",
                      "last_order_date", "last_product", "offer", "wecom_state",
                      "talking_points"]
    with _db(ws) as db:
        n = db.execute("SELECT COUNT(*) FROM invitations WHERE status='planned'").fetchone()[0]
        assert n == out["invited"]
        assert db.execute("SELECT COUNT(*) FROM holdouts").fetchone()[0] == out["holdout"]


def test_rerun_same_date_is_byte_identical_and_ignores_new_data(ws):
    run_invite(ws, NIGHT, now=PLAN_AT)
    folder = ws.batches_dir / "2026-11-25"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # new customer data and a new limit do not change a stored night
    w.customers(400, seed=99).to_parquet(ws.customers_path)
    for p in folder.iterdir():
        p.unlink()
    out = run_invite(ws, NIGHT, now=PLAN_AT + timedelta(hours=5), limit=3)
    assert out["reused"] is True
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_dry_run_writes_nothing(ws):
    out = run_invite(ws, NIGHT, now=PLAN_AT, dry_run=True)
    assert out["invited"] > 0 and out["files"] == []
    assert not ws.batches_dir.exists()
    with _db(ws) as db:
        assert db.execute("SELECT COUNT(*) FROM invitations").fetchone()[0] == 0


def test_two_nights_respect_cooldown_capacity_holdout_and_suppression(ws):
    from privmigrate.invite import ledger_store
    from privmigrate.invite.batches import plan_path
    from privmigrate.ledger import open_ledger

    first = run_invite(ws, NIGHT, now=PLAN_AT)
    night2 = NIGHT + timedelta(days=1)
    preview = run_invite(ws, night2, now=PLAN_AT + timedelta(days=1), dry_run=True)
    assert preview["invited"] > 0 and not plan_path(ws, night2).exists()
    # a customer the dry run would invite by SMS tomorrow asks not to be texted
    with open_ledger(ws.state_db) as conn:
        from privmigrate.invite.night import read_customers
        from privmigrate.invite.plan import plan_night
        from privmigrate.invite.settings import InviteSettings

        s = InviteSettings.from_config(w.config())
        hist = ledger_store.load_history(conn, night2, s.campaign, s.cooldown_days)
        would = plan_night(read_customers(ws), s, hist, night2, PLAN_AT).invitations
        victim = would.loc[would["channel"] == "sms", "phone"].iloc[0]
        ledger_store.add_suppressions(conn, [victim], "all", "manual", "test", PLAN_AT)
    second = run_invite(ws, night2, now=PLAN_AT + timedelta(days=1))
    with _db(ws) as db:
        rows = pd.read_sql("SELECT * FROM invitations", db)
        held = set(pd.read_sql("SELECT customer_id FROM holdouts", db)["customer_id"])
    one = rows[rows["night"] == NIGHT.isoformat()]
    two = rows[rows["night"] == night2.isoformat()]
    assert len(one) == first["invited"] and len(two) == second["invited"] > 0
    assert not set(one["customer_id"]) & set(two["customer_id"])  # cooldown
    for night_rows in (one, two):
        assert night_rows["staff"].value_counts().max() <= 30  # daily_capacity
        assert len(night_rows) <= 60  # daily_limit
    assert not held & set(rows["customer_id"])
    assert victim not in set(_sms_csv(ws, night2)["phone"])
    frame = w.customers(400)
    in_pd = set(frame.loc[frame["in_private_domain"], "customer_id"])
    assert not in_pd & set(rows["customer_id"])


def test_send_records_each_call_and_never_resends(ws):
    run_invite(ws, NIGHT, now=PLAN_AT)
    sms = _sms_csv(ws)
    black, bad = sms["phone"].iloc[0], sms["phone"].iloc[1]
    with _db(ws) as db:
        fake = FakeProvider(codes={black: "BLACKLIST", bad: "isv.MOBILE_NUMBER_ILLEGAL"},
                            ledger=db)
        out = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=fake, clock=lambda: SEND_AT)
        assert set(fake.seen_statuses) == {"sending"}
    sent = out["send"]
    assert sent["accepted"] == len(sms) - 2 and sent["failed"] == 2
    assert sent["suppressed"] == 1
    assert all(n == 1 for n in fake.delivered.values())
    with _db(ws) as db:
        status = dict(db.execute("SELECT status, COUNT(*) FROM invitations WHERE channel='sms' "
                                 "GROUP BY status").fetchall())
        assert status == {"accepted": len(sms) - 2, "failed": 2}
        sup = db.execute("SELECT phone, channel, reason FROM suppressions").fetchall()
        assert [tuple(r) for r in sup] == [(black, "sms", "provider:BLACKLIST")]
        ref = db.execute("SELECT provider_ref, sent_at FROM invitations "
                         "WHERE status='accepted' LIMIT 1").fetchone()
        assert ref[0] == "biz-1" and ref[1].startswith("2026-11-25T10:00")
    again = FakeProvider()
    out2 = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=again, clock=lambda: SEND_AT)
    assert again.calls == [] and out2["send"]["attempted"] == 0


def test_unknown_is_not_resent_unless_asked(ws):
    run_invite(ws, NIGHT, now=PLAN_AT)
    fake = FakeProvider()
    fake.unknown_on_call = 2
    out = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=fake, clock=lambda: SEND_AT)
    assert out["send"]["unknown"] == len(fake.calls[1]) > 0
    retry = FakeProvider()
    run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=retry, clock=lambda: SEND_AT)
    assert retry.calls == []
    forced = FakeProvider()
    out = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=forced, clock=lambda: SEND_AT,
                     resend_unknown=True)
    assert sorted(i for call in forced.calls for i in call) == sorted(fake.calls[1])
    assert out["status"]["sms"] == {"accepted": len(_sms_csv(ws))}


def test_stop_error_keeps_the_rest_planned_and_a_rerun_finishes(ws):
    run_invite(ws, NIGHT, now=PLAN_AT)
    fake = FakeProvider()
    fake.stop_on_call = 2
    with pytest.raises(SmsStopError):
        run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=fake, clock=lambda: SEND_AT)
    with _db(ws) as db:
        status = dict(db.execute("SELECT status, COUNT(*) FROM invitations WHERE channel='sms' "
                                 "GROUP BY status").fetchall())
    assert status["accepted"] == len(fake.calls[0]) and "sending" not in status
    rest = FakeProvider()
    run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=rest, clock=lambda: SEND_AT)
    total = fake.delivered + rest.delivered
    assert set(total) == set(_sms_csv(ws)["phone"]) and set(total.values()) == {1}


def test_interrupted_rows_become_unknown(ws):
    run_invite(ws, NIGHT, now=PLAN_AT)
    with _db(ws) as db:
        db.execute("UPDATE invitations SET status='sending' WHERE invitation_id IN "
                   "(SELECT invitation_id FROM invitations WHERE channel='sms' LIMIT 3)")
        db.commit()
    fake = FakeProvider()
    out = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=fake, clock=lambda: SEND_AT)
    assert out["send"]["recovered_unknown"] == 3
    assert out["status"]["sms"]["unknown"] == 3
    assert sum(len(call) for call in fake.calls) == len(_sms_csv(ws)) - 3


def test_send_outside_window_refuses_before_anything(ws):
    late = datetime(2026, 11, 25, 21, 30, tzinfo=SH)
    with pytest.raises(OutsideWindowError) as err:
        run_invite(ws, NIGHT, now=late, send=True, provider=FakeProvider())
    assert "2026-11-26 09:00" in str(err.value) and err.value.exit_code == 1
    assert not ws.batches_dir.exists()


def test_window_closing_mid_send_stops_and_keeps_rows_planned(ws):
    run_invite(ws, NIGHT, now=PLAN_AT)
    fake = FakeProvider()
    closed = SEND_AT.replace(hour=20, minute=1)  # the window closes after the first call
    out = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=fake,
                     clock=lambda: closed if fake.calls else SEND_AT)
    assert len(fake.calls) == 1
    assert out["send"]["stopped"] and out["send"]["left_planned"] > 0
    assert out["status"]["sms"]["planned"] == out["send"]["left_planned"]


def test_spreadsheet_cells_never_become_formulas(tmp_path):
    frame = w.customers(200)
    frame["name"] = "=HYPERLINK(\"http://x\")"
    frame["last_product"] = "=1+1"
    ws = Workspace.at(w.workspace(tmp_path / "f", frame=frame))
    run_invite(ws, NIGHT, now=PLAN_AT)
    from openpyxl import load_workbook

    calls = load_workbook(ws.batches_dir / "2026-11-25" / "calls.xlsx")
    cells = [c for sheet in calls.worksheets for row in sheet.iter_rows(min_row=2)
             for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)
    sms = _sms_csv(ws)
    assert not sms["message"].str.contains("HYPERLINK").any()  # not a usable name


def test_number_suppressed_after_planning_is_not_sent(ws):
    from privmigrate.invite import ledger_store
    from privmigrate.ledger import open_ledger

    run_invite(ws, NIGHT, now=PLAN_AT)
    late = _sms_csv(ws)["phone"].iloc[2]
    with open_ledger(ws.state_db) as conn:  # e.g. a reply report imported in the morning
        ledger_store.add_suppressions(conn, [late], "sms", "replied_unsubscribe", "r.csv",
                                      SEND_AT)
    fake = FakeProvider()
    out = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=fake, clock=lambda: SEND_AT)
    assert late not in fake.delivered
    assert out["send"]["skipped_suppressed"] == 1
    assert out["status"]["sms"] == {"accepted": len(_sms_csv(ws)) - 1, "failed": 1}


def test_a_night_with_nobody_to_invite_still_writes_empty_batches(tmp_path):
    frame = w.customers(50)
    frame["in_private_domain"] = True
    ws = Workspace.at(w.workspace(tmp_path / "none", frame=frame))
    out = run_invite(ws, NIGHT, now=PLAN_AT)
    assert out["invited"] == 0 and out["holdout"] == 0
    assert out["skipped"]["in_private_domain"] == int((frame["phone_status"] == "valid").sum())
    assert len(_sms_csv(ws)) == 0
    again = run_invite(ws, NIGHT, now=SEND_AT, send=True, provider=FakeProvider(),
                       clock=lambda: SEND_AT)
    assert again["reused"] and again["send"]["attempted"] == 0
