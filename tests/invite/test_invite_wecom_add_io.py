"""wecom_add at the edges: the member's sheet, the WeCom message (real socket), the outcome."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pandas as pd
import pytest
from openpyxl import load_workbook

from privmigrate.channels.wecom import MemoryTokenCache, WeComClient, WeComSettings
from privmigrate.errors import RemoteError
from privmigrate.invite import ledger_store, wecom_add
from privmigrate.invite.add_notify import compose, notify_members
from privmigrate.invite.add_sheets import ADD_COLUMNS, HEADER_ROW, write_add_workbook
from privmigrate.invite.plan import History, plan_night
from privmigrate.invite.settings import InviteSettings
from privmigrate.ledger import connect, open_ledger
from tests.fakes.wecom import CORP_ID, SECRET, FakeWeCom
from tests.invite import invite_world as w
from tests.invite.test_invite_wecom_add import add_config

NIGHT = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 2, 0)
STAFF = [{"id": "u_mei", "name": "小美", "daily_capacity": 0, "daily_add_budget": 6},
         {"id": "u_lin", "name": "小林", "daily_capacity": 0, "daily_add_budget": 4}]


def _settings(**wecom_add) -> InviteSettings:
    return InviteSettings.from_config(add_config(staff=STAFF, channels=("wecom_add",),
                                                 wecom_add=wecom_add))


def _plan(s: InviteSettings):
    return plan_night(w.customers(300), s, History(), NIGHT, NOW)


def _client(fake: FakeWeCom, **kw) -> WeComClient:
    settings = WeComSettings(base_url=fake.base_url, timeout_seconds=2.0, attempts=3,
                             calls_per_minute=10000, rate_limit_pause_seconds=0)
    return WeComClient(CORP_ID, SECRET, settings=settings, cache=MemoryTokenCache(),
                       sleep=lambda s: None, **kw)


def test_sheet_has_one_printable_page_per_account(tmp_path):
    s = _settings()
    inv = _plan(s).invitations
    target = tmp_path / "wecom_add.xlsx"
    stamp = datetime(2026, 11, 25)
    n = write_add_workbook(target, inv, ["小美", "小林"], NIGHT, stamp)
    assert n == 10
    wb = load_workbook(target)
    assert wb.sheetnames == ["小美", "小林"]
    ws = wb["小美"]
    assert [c.value for c in ws[HEADER_ROW]] == [h for h, _c, _w in ADD_COLUMNS]
    assert "u_mei" in ws["A1"].value and "2026-12-02" in ws["A2"].value  # deadline: 7 days
    body = list(ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True))
    mine = inv[inv["staff_id"] == "u_mei"]
    assert [r[1] for r in body] == mine["phone"].tolist()  # full mobiles, in rank order
    assert [r[2] for r in body] == mine["remark"].tolist()
    assert [r[3] for r in body] == mine["message"].tolist()
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$3:$3"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.freeze_panes == "A4"
    assert ws.cell(HEADER_ROW, 1).font.bold
    # reproducible: the same plan gives the same bytes
    again = tmp_path / "again.xlsx"
    write_add_workbook(again, inv, ["小美", "小林"], NIGHT, stamp)
    assert again.read_bytes() == target.read_bytes()


def test_textcard_and_inline_text_fit_wecom_limits():
    s = _settings()
    inv = _plan(s).invitations
    rows = inv[inv["staff_id"] == "u_mei"]
    kind, card = compose("u_mei", "小美", rows, NIGHT, "https://files.example.cn/{night}/{staff_id}")
    assert kind == "textcard"
    assert card["url"] == "https://files.example.cn/2026-11-25/u_mei"
    assert "6 位" in card["title"] and len(card["description"].encode()) <= 512
    kind, text = compose("u_mei", "小美", rows, NIGHT, "")
    assert kind == "text"
    assert all(p in text["content"] for p in rows["phone"])
    many = pd.concat([rows] * 40, ignore_index=True)  # 240 rows cannot fit 2,048 bytes
    _, text = compose("u_mei", "小美", many, NIGHT, "")
    assert len(text["content"].encode()) <= 2048 and "其余" in text["content"]


def test_message_send_over_a_real_socket_with_duplicate_check():
    with FakeWeCom(members=("u_mei",)) as fake, _client(fake) as client:
        answer = client.send_app_message(1000002, ["u_mei"], "textcard", {
            "title": "今日加好友任务：6 位老客", "description": "请添加", "url": "https://x.cn/a"})
        assert answer["errcode"] == 0 and answer["msgid"]
        body = fake.calls[-1][1]
        assert body["agentid"] == 1000002 and body["touser"] == "u_mei"
        assert body["enable_duplicate_check"] == 1 and body["duplicate_check_interval"] == 14400
        # the answer is lost after WeCom took the message: the retry is not delivered twice
        fake.fault("/cgi-bin/message/send", "lost")
        client.send_app_message(1000002, ["u_mei"], "text", {"content": "名单"})
        assert fake.paths().count("/cgi-bin/message/send") == 3
        assert [d[:2] for d in fake.delivered] == [("u_mei", "textcard"), ("u_mei", "text")]
        # members outside the app's range come back in invaliduser; none valid → 81013
        answer = client.send_app_message(1000002, ["u_mei", "u_gone"], "text",
                                         {"content": "另一条"})
        assert answer["invaliduser"] == "u_gone"
        answer = client.send_app_message(1000002, ["u_gone"], "text", {"content": "x"})
        assert answer == {"errcode": 81013, "invaliduser": "u_gone"}
        with pytest.raises(RemoteError, match=r"81013.*可见范围"):
            client.send_app_message(1000002, ["u_gone", "u_away"], "text", {"content": "x"})
        with pytest.raises(RemoteError, match=r"40056.*agent_id"):
            client.send_app_message(99, ["u_mei"], "text", {"content": "x"})
    with pytest.raises(ValueError, match="title is 130 bytes"):
        _client(fake).send_app_message(1, ["u"], "textcard",
                                       {"title": "x" * 130, "description": "d", "url": "u"})


def test_notify_sends_each_member_once_across_reruns(tmp_path):
    s = _settings(notify=True, agent_id=1000002)
    inv = _plan(s).invitations
    with open_ledger(tmp_path / "state.db") as conn, \
            FakeWeCom(members=("u_mei",)) as fake, _client(fake) as client:
        first = notify_members(conn, client, s, NIGHT, inv, NOW)
        assert first["sent"] == 1 and first["unreachable"] == 1  # u_lin not in the app range
        assert "u_lin" in first["warnings"][0]
        again = notify_members(conn, client, s, NIGHT, inv, NOW)
        assert again["sent"] == 0 and again["already_sent"] == 1
        assert [d[0] for d in fake.delivered] == ["u_mei"]
        row = conn.execute("SELECT staff, msgtype, rows FROM wecom_notices").fetchall()
        assert [tuple(r) for r in row] == [("u_mei", "text", 6)]


def _ledger_with_plan(path, s: InviteSettings):
    conn = connect(path)
    planned = _plan(s)
    ledger_store.record_plan(conn, planned, "sha")
    return conn, planned.invitations


def _conversion(conn: sqlite3.Connection, customer_id: str, staff: str, added_at: str) -> None:
    conn.execute("INSERT INTO conversions (customer_id, external_userid, staff, added_at, "
                 "source, match_method, attributed, reason, adds, recorded_at) "
                 "VALUES (?, ?, ?, ?, 'api', 'remark_mobile', 1, 'attributed', 1, ?)",
                 (customer_id, "wm" + customer_id, staff, added_at, added_at))
    conn.commit()


def test_reconcile_accepts_seen_adds_and_expires_the_rest(tmp_path):
    s = _settings(expire_days=3)
    conn, inv = _ledger_with_plan(tmp_path / "state.db", s)
    a, b, c, d = inv["customer_id"].iloc[:4]
    owner = dict(zip(inv["customer_id"], inv["staff_id"], strict=True))
    _conversion(conn, a, owner[a], "2026-11-26 10:00:00")  # added by the assigned account
    _conversion(conn, b, "u_other", "2026-11-27 09:00:00")  # added by another account
    _conversion(conn, c, owner[c], "2026-12-05 09:00:00")  # after expiry (11-28 23:59:59)
    _conversion(conn, d, owner[d], "2026-11-27 12:00:00")  # after the as-of below
    moved = wecom_add.reconcile(conn, datetime(2026, 11, 27, 11, 0))
    assert moved == {"accepted": 2, "expired": 0}
    status = dict(conn.execute("SELECT customer_id, status FROM invitations").fetchall())
    assert status[a] == status[b] == "accepted" and status[c] == status[d] == "planned"
    note = conn.execute("SELECT outcome_at, outcome_note FROM invitations WHERE customer_id = ?",
                        (b,)).fetchone()
    assert tuple(note) == ("2026-11-27 09:00:00", "added_by:u_other")
    # pending adds hold room until then
    assert sum(ledger_store.pending_adds(conn, date(2026, 11, 28)).values()) == len(inv) - 2
    moved = wecom_add.reconcile(conn, datetime(2026, 11, 29, 8, 0))
    assert moved == {"accepted": 1, "expired": len(inv) - 3}  # d, seen by then; c too late
    status = dict(conn.execute("SELECT customer_id, status FROM invitations").fetchall())
    assert status[c] == "expired" and status[d] == "accepted"
    row = conn.execute("SELECT outcome_at, sent_at FROM invitations WHERE customer_id = ?",
                       (c,)).fetchone()
    assert row[0] == "2026-11-28 23:59:59" and row[1] is not None
    assert ledger_store.pending_adds(conn, date(2026, 11, 30)) == {}
    conn.close()


def test_friends_held_counts_distinct_customers_per_account(tmp_path):
    with open_ledger(tmp_path / "state.db") as conn:
        rows = [("wm1", "u_mei", "2026-11-01 10:00:00"), ("wm1", "u_mei", "2026-11-03 10:00:00"),
                ("wm2", "u_mei", "2026-11-01 10:00:00"), ("wm1", "u_lin", "2026-11-01 10:00:00")]
        conn.executemany("INSERT INTO wecom_contacts (external_userid, staff, added_at, source, "
                         "first_seen_at, last_seen_at) VALUES (?, ?, ?, 'api', ?, ?)",
                         [(*r, r[2], r[2]) for r in rows])
        conn.commit()
        assert ledger_store.friends_held(conn) == {"u_mei": 2, "u_lin": 1}


def test_a_night_end_to_end_sheet_message_then_adds_seen_by_track(tmp_path, monkeypatch):
    """invite --send plans the adds, writes the sheet and messages the members; track's
    read-back of the members' customers (batch/get_by_user, over a socket) accepts them."""
    import json

    from typer.testing import CliRunner

    from privmigrate.cli import app
    from privmigrate.track.run import run_track
    from privmigrate.workspace import Workspace
    from tests.fakes.wecom import Relationship

    runner = CliRunner()
    with FakeWeCom(members=("u_mei", "u_lin")) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        raw = add_config(staff=STAFF, channels=("wecom_add",),
                         wecom_add={"notify": True, "agent_id": 1000002}, holdout_percent=40)
        raw["track"] = {"wecom": {"base_url": fake.base_url, "rate_limit_pause_seconds": 0},
                        "lift_dimensions": ["overall", "channel", "staff"]}
        ws = w.workspace(tmp_path / "ws", raw, w.customers(300))
        day1 = {"PRIVMIGRATE_NOW": "2026-11-25T10:00"}
        result = runner.invoke(app, ["invite", "-w", str(ws), "--send", "--json"], env=day1)
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["by_channel"]["wecom_add"] == 10 and out["notify"]["sent"] == 2
        assert (ws / "batches" / "2026-11-25" / "wecom_add.xlsx").exists()
        assert sorted(d[0] for d in fake.delivered) == ["u_lin", "u_mei"]
        assert "13800000" not in result.stdout  # phones never reach the terminal
        again = runner.invoke(app, ["invite", "-w", str(ws), "--send", "--json"], env=day1)
        assert json.loads(again.stdout)["notify"]["already_sent"] == 2 and len(fake.delivered) == 2
        # next day two members added three of their buyers by phone (add_way 2, remark mobile)
        plan = pd.read_parquet(ws / "data" / "invite_plans" / "2026-11-25.parquet")
        added = plan.head(3)
        fake.relationships = [
            Relationship(f"wm{i}", r.staff_id, 1795744800, remark_mobiles=[r.phone], add_way=2)
            for i, r in enumerate(added.itertuples())]  # 2026-11-27 10:00 CST
        summary = run_track(Workspace.at(ws), from_api=True, now=datetime(2026, 11, 27, 12),
                            sleep=lambda s: None)
        assert summary["wecom_add"] == {"accepted": 3, "expired": 0}
        # a week later the rest have expired: attempted, not converted
        later = run_track(Workspace.at(ws), from_api=True, now=datetime(2026, 12, 3, 8),
                          sleep=lambda s: None)
        assert later["wecom_add"] == {"accepted": 0, "expired": 7}
        # lift as for every channel: all ten were attempted (accepted or expired); three joined
        row = next(r for r in later["lift"]
                   if r["dimension"] == "channel" and r["group"] == "wecom_add")
        assert (row["invited_n"], row["invited_converted"]) == (10, 3)
        assert row["holdout_n"] > 0  # tonight's holdout peers of the same segments
    with open_ledger(ws / "state.db") as conn:
        status = dict(conn.execute("SELECT customer_id, status FROM invitations").fetchall())
    assert {status[c] for c in added["customer_id"]} == {"accepted"}
    assert sum(v == "expired" for v in status.values()) == 7
