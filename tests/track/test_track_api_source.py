"""Combining batch/get_by_user relationships with 获客链接 customers."""

from __future__ import annotations

import pandas as pd

from privmigrate.track.api_source import _combine


def test_link_state_fills_missing_state_and_orphans_are_counted():
    rel = pd.DataFrame({
        "external_userid": ["wmA", "wmB", "wmC"], "userid": ["s1", "s1", "s2"],
        "createtime": [1794376800, 1794376800, None], "state": [None, "pm-C001", None],
        "remark_mobiles": ["13800000001", "", "bad"], "add_way": [1, 1, 1]})
    links = pd.DataFrame({
        "link_id": ["L1", "L1", "L1"], "external_userid": ["wmA", "wmB", "wmZ"],
        "userid": ["s1", "s1", "s9"], "chat_status": [0, 1, 0], "state": ["tplA", "tplA", "tplA"]})
    out, orphans = _combine(rel, links)
    assert orphans == 1  # wmZ came through the link but its member was not read: no add time
    by_id = out.set_index("external_userid")
    assert by_id.loc["wmA", "state"] == "tplA" and by_id.loc["wmA", "source_ref"] == "L1"
    assert by_id.loc["wmB", "state"] == "pm-C001"  # the relationship's own state wins
    assert by_id.loc["wmA", "added_at"] == pd.Timestamp("2026-11-11 14:00")
    assert by_id.loc["wmA", "remark_phones"] == "13800000001"
    assert "wmC" not in by_id.index  # no createtime: cannot be placed in time
    assert set(out["source"]) == {"api"}
