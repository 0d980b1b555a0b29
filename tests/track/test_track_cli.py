"""`privmigrate track` end to end: files and the fake WeCom API, ledger writes, lift, errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from privmigrate.cli import app
from privmigrate.ledger import open_ledger, transaction
from privmigrate.track import store
from privmigrate.track.run import run_track
from privmigrate.workspace import Workspace
from tests.fakes.wecom import FakeWeCom, Relationship
from tests.track import track_world as w

runner = CliRunner()


def _seed(ws: Workspace) -> None:
    """customers.parquet plus invite's tables, as invite would have written them."""
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    w.customers().to_parquet(ws.customers_path)
    inv = w.invitations()
    cols = ["invitation_id", "night", "batch_id", "campaign", "customer_id", "channel",
            "template_id", "variant", "staff", "state", "planned_at", "status", "sent_at"]
    with open_ledger(ws.state_db) as conn, transaction(conn):
        conn.executemany(
            f"INSERT INTO invitations ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            inv[cols].astype(object).where(inv[cols].notna(), None).to_numpy().tolist())
        conn.executemany("INSERT INTO holdouts VALUES (?, ?, ?, ?)",
                         w.holdouts()[["night", "campaign", "customer_id", "segment"]]
                         .to_numpy().tolist())


def _csv(tmp_path) -> str:
    c = w.contacts()
    c["add_time"] = c["added_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    c = c.rename(columns={"staff": "userid", "remark_phones": "remark_mobiles"})
    path = tmp_path / "wecom_adds.csv"
    c[["external_userid", "userid", "state", "remark_mobiles", "add_time"]].to_csv(path,
                                                                                   index=False)
    return str(path)


@pytest.fixture
def ws(tmp_path):
    workspace = Workspace.at(tmp_path / "ws")
    _seed(workspace)
    return workspace


def _conversions(ws: Workspace) -> pd.DataFrame:
    with open_ledger(ws.state_db) as conn:
        return store.read_conversions(conn)


def test_track_from_a_file_records_conversions_and_lift(ws, tmp_path):
    result = runner.invoke(app, ["track", _csv(tmp_path), "-w", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["conversions_new"] == 6
    assert summary["new_by_reason"] == {"attributed": 3, "late": 1, "holdout": 1, "organic": 1}
    assert summary["new_by_method"] == {"remark_mobile": 4, "state": 1, "customer_channel": 1}
    assert summary["duplicate_persons"] == 1 and summary["repeat_adds"] == 1
    assert summary["unmatched_persons"] == 1
    overall = next(r for r in summary["lift"] if r["dimension"] == "overall")
    # C006's SMS failed: no invitation; only 重要价值客户 was invited, so its holdout (C007)
    assert overall["invited_n"] == 5 and overall["holdout_n"] == 1
    figures = summary["figures"]
    assert (figures["invited"], figures["converted"], figures["holdout"]) == (5, 2, 1)
    assert figures["lift"] == pytest.approx(overall["lift_abs"])
    conv = _conversions(ws).set_index("external_userid")
    assert conv.loc["wx1", "invitation_id"] == "I1" and bool(conv.loc["wx1", "attributed"])
    with open_ledger(ws.state_db) as conn:
        assert store.converted_customer_ids(conn) == {"C001", "C002", "C005", "C006", "C007"}
        assert conn.execute("SELECT count(*) FROM wecom_contacts").fetchone()[0] == 9
    assert (ws.state_db.stat().st_mode & 0o777) == 0o600


def test_second_run_changes_nothing(ws, tmp_path):
    path = _csv(tmp_path)
    runner.invoke(app, ["track", path, "-w", str(ws.root), "--json"])
    before = _conversions(ws)
    result = runner.invoke(app, ["track", path, "-w", str(ws.root), "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["conversions_new"] == 0 and summary["adds_new"] == 0
    after = _conversions(ws)
    pd.testing.assert_frame_equal(before, after)


def test_human_output_never_shows_phones(ws, tmp_path):
    result = runner.invoke(app, ["track", _csv(tmp_path), "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "new conversions" in result.output and "Lift" in result.output
    assert "1380000" not in result.output


def test_dry_run_writes_nothing(ws, tmp_path):
    result = runner.invoke(app, ["track", _csv(tmp_path), "-w", str(ws.root), "--json",
                                 "--dry-run"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["conversions_new"] == 6
    assert _conversions(ws).empty


def test_inbox_is_read_when_no_file_is_given(ws, tmp_path):
    inbox = ws.inbox_dir / "wecom"
    inbox.mkdir(parents=True)
    (inbox / "adds.csv").write_bytes(Path(_csv(tmp_path)).read_bytes())
    result = runner.invoke(app, ["track", "-w", str(ws.root), "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["files"] == ["adds.csv"] and summary["conversions_new"] == 6


def test_bad_file_exits_1_naming_the_row(ws, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("external_userid,add_time\nwm1,not a date\n")
    result = runner.invoke(app, ["track", str(path), "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "bad.csv row 2 column add_time" in result.output


def test_from_api_end_to_end_over_a_socket(ws, monkeypatch):
    rels = [
        Relationship("wmA", "agent1", 1762840800, state="pm-C001"),  # 2025-11-11 14:00 CST
        Relationship("wmB", "s1", 1762840800, remark_mobiles=[w.phone(2)], link_id="LINK_A",
                     state="tplA"),
        Relationship("wmC", "s1", 1762840800, link_id="LINK_A", state="tplA"),
    ]
    # The fixture's invitations are for 2026; shift them to 2025-11-10 for this world.
    with open_ledger(ws.state_db) as conn, transaction(conn):
        conn.execute("UPDATE invitations SET sent_at = '2025-11-10 20:00:00', "
                     "planned_at = '2025-11-10 20:00:00', night = '2025-11-10'")
    with FakeWeCom(rels, link_state_in_follow_info=False) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        ws.config_path.write_text(
            f'[track.wecom]\nbase_url = "{fake.base_url}"\ncalls_per_minute = 10000\n')
        fake.fault("/cgi-bin/externalcontact/batch/get_by_user", "errcode", errcode=45009)
        summary = run_track(ws, None, True, sleep=lambda s: None)
        second = run_track(ws, None, True, sleep=lambda s: None)
        assert fake.token_issued == 1  # the ledger cached the token between runs
    assert summary["api"]["links"] == 1 and summary["api"]["link_customers"] == 2
    assert summary["conversions_new"] == 3 and summary["attributed_new"] == 3
    assert second["conversions_new"] == 0
    conv = _conversions(ws).set_index("external_userid")
    assert conv.loc["wmA", "match_method"] == "state"
    assert conv.loc["wmB", "customer_id"] == "C002" and conv.loc["wmB", "invitation_id"] == "I2"
    # the link API alone carried wmC's customer_channel
    assert conv.loc["wmC", "match_method"] == "customer_channel"
    assert conv.loc["wmC", "template_id"] == "sms_a"
    assert set(conv["source"]) == {"api"}


def test_from_api_without_credentials_exits_1(ws, monkeypatch):
    monkeypatch.delenv("PRIVMIGRATE_WECOM_CORP_ID", raising=False)
    result = runner.invoke(app, ["track", "--from-api", "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "PRIVMIGRATE_WECOM_CORP_ID" in result.output


def test_from_api_refused_exits_4(ws, monkeypatch):
    with FakeWeCom([Relationship("wmA", "s1", 1762840800)]) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        ws.config_path.write_text(f'[track.wecom]\nbase_url = "{fake.base_url}"\n')
        fake.fault("/cgi-bin/externalcontact/get_follow_user_list", "errcode", errcode=60020)
        result = runner.invoke(app, ["track", "--from-api", "-w", str(ws.root)])
    assert result.exit_code == 4
    assert "60020" in result.output and "可信IP" in result.output


def test_file_and_api_together_is_a_usage_error(ws, tmp_path):
    result = runner.invoke(app, ["track", _csv(tmp_path), "--from-api", "-w", str(ws.root)])
    assert result.exit_code == 2


def test_bad_config_names_the_key(ws, tmp_path):
    ws.config_path.write_text("[track]\nwindow_days = 0\n")
    result = runner.invoke(app, ["track", _csv(tmp_path), "-w", str(ws.root)])
    assert result.exit_code == 1 and "track.window_days" in result.output


def test_locked_workspace_exits_5(ws, tmp_path):
    import fcntl
    import os

    # another run's lock (Workspace.lock is re-entrant within one process, so take it by hand)
    fd = os.open(ws.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = runner.invoke(app, ["track", _csv(tmp_path), "-w", str(ws.root)])
    finally:
        os.close(fd)
    assert result.exit_code == 5


def test_missing_invite_tables_are_tolerated(tmp_path):
    conn = sqlite3.connect(tmp_path / "bare.db")
    assert store.read_invitations(conn) is None and store.read_holdouts(conn) is None
    conn.close()


def test_missing_customers_file_is_a_warning(tmp_path):
    ws = Workspace.at(tmp_path / "empty")
    path = tmp_path / "adds.csv"
    path.write_text("external_userid,add_time,remark_mobiles\nwm1,2026-11-12 09:00,13800000001\n")
    summary = run_track(ws, [path])
    assert any("customers.parquet" in m for m in summary["warnings"])
    assert summary["conversions_new"] == 0 and summary["adds_new"] == 1


def test_help_has_an_example():
    result = runner.invoke(app, ["track", "--help"])
    assert result.exit_code == 0 and "privmigrate track --from-api" in result.output


def test_sample_config_section_is_valid_and_matches_the_defaults():
    import tomllib

    import privmigrate
    from privmigrate.track.settings import TrackSettings, track_settings

    sample = Path(privmigrate.__file__).parent / "sample_config" / "50_track.toml"
    parsed = track_settings(tomllib.loads(sample.read_text(encoding="utf-8")))
    assert parsed == TrackSettings()


def test_unknown_config_key_is_rejected(ws, tmp_path):
    ws.config_path.write_text("[track.wecom]\nbase_ulr = 'http://127.0.0.1:1'\n")
    result = runner.invoke(app, ["track", _csv(tmp_path), "-w", str(ws.root)])
    assert result.exit_code == 1 and "track.wecom.base_ulr" in result.output



def test_adds_after_the_as_of_date_are_set_aside_never_counted(ws, tmp_path):
    path = tmp_path / "future.csv"
    path.write_text("external_userid,userid,state,remark_mobiles,add_time\n"
                    "wxF,s1,,13800000002,2031-01-01 10:00:00\n"
                    f"wxN,s1,,{w.phone(2)},2026-11-12 09:00:00\n", encoding="utf-8")
    result = runner.invoke(app, ["track", str(path), "-w", str(ws.root), "--json",
                                 "--as-of", "2026-11-30"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["future_adds"] == 1 and summary["adds_read"] == 1
    assert any("after the as-of date 2026-11-30" in x for x in summary["warnings"])
    assert set(_conversions(ws)["external_userid"]) == {"wxN"}
    with open_ledger(ws.state_db) as conn:
        seen = {r[0] for r in conn.execute("SELECT external_userid FROM wecom_contacts")}
    assert seen == {"wxN"}  # not even kept as a raw add: it is read again when it is due
    # and a conversion already recorded but dated after an earlier as-of is not counted then
    early = json.loads(runner.invoke(app, ["track", "--dry-run", "--json", "-w", str(ws.root),
                                           "--as-of", "2026-11-11"]).stdout)
    assert early["figures"]["converted"] == 0
