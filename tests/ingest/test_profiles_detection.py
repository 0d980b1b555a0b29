"""Every real header is detected as its own profile and no other, without flags; headers
that are no export say so usefully."""

from __future__ import annotations

import pytest

from privmigrate.errors import InputError
from privmigrate.ingest.formats import PROFILES, REGISTRY, candidates, choose_profile
from privmigrate.tables import SOURCES
from tests.ingest.profile_headers import DETECTED_AS, TAOBAO_ITEMS_LEGACY


@pytest.mark.parametrize("key", sorted(DETECTED_AS))
def test_each_real_header_is_its_profile_and_no_other(key: str) -> None:
    header, expected = DETECTED_AS[key]
    assert [p.name for p in candidates(header)] == [expected]
    assert choose_profile(header, source=None, mapping={}, file_label=key).name == expected


@pytest.mark.parametrize("key", sorted(DETECTED_AS))
def test_a_real_header_with_columns_reordered_is_detected_the_same(key: str) -> None:
    header, expected = DETECTED_AS[key]
    assert [p.name for p in candidates(header[::-1])] == [expected]


def test_every_profile_is_covered_by_a_real_header() -> None:
    covered = {name for _, name in DETECTED_AS.values()}
    # 聚水潭: no real export header row was found (aliases of a real-file parser only)
    assert {p.name for p in PROFILES} - covered == {"erp_jst"}


def test_every_profile_source_is_an_order_table_source() -> None:
    assert {p.source for p in REGISTRY.values()} <= set(SOURCES)
    # the three 旺店通 exports are the same orders
    assert {REGISTRY[n].source for n in ("erp_wdt", "erp_wdt_detail", "erp_wdt_orders")} == {
        "erp_wdt"}
    assert REGISTRY["youzan_items"].source == "youzan"


def test_the_legacy_item_report_is_named_with_what_it_lacks() -> None:
    # 宝贝报表 has neither a time nor a buyer: it is recognised and told apart, not guessed
    with pytest.raises(InputError) as err:
        choose_profile(TAOBAO_ITEMS_LEGACY, source=None, mapping={}, file_label="宝贝.csv")
    message = str(err.value)
    assert "closest is taobao_items" in message and "paid_at (订单付款时间)" in message


@pytest.mark.parametrize("header", [["foo", "bar", "baz"], ["订单号", "备注"], []])
def test_a_header_of_no_export_says_so_without_a_closest_guess(header: list[str]) -> None:
    with pytest.raises(InputError) as err:
        choose_profile(header, source=None, mapping={}, file_label="x.csv")
    message = str(err.value)
    assert message.startswith("x.csv: no export profile matches its header")
    assert "closest" not in message
    assert "--source" in message and "--map" in message
