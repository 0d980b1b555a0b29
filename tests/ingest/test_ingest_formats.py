"""Profile detection, the closest-profile error, --source and --map, content ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from privmigrate.errors import InputError
from privmigrate.ingest.formats import choose_profile, detect_profile, header_score
from privmigrate.ingest.orders import build_orders
from privmigrate.ingest.readers import read_export

EXPECTED = {
    "taobao_csv": "taobao", "taobao_xlsx": "taobao", "jd": "jd", "youzan": "youzan",
    "youzan_customers": "youzan_customers", "douyin": "douyin", "pdd": "pdd",
    "wechat_shop": "wechat_shop", "erp_wdt": "erp_wdt", "erp_jst": "erp_jst", "crm": "generic",
}


def _header(path: Path) -> list[str]:
    return list(read_export(path, header_score=header_score).frame.columns)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_each_platform_sample_is_detected_as_its_profile(
    example_exports: dict[str, Path], key: str
) -> None:
    header = _header(example_exports[key])
    profile = choose_profile(header, source=None, mapping={}, file_label=key)
    assert profile.name == EXPECTED[key]


def test_a_file_matching_nothing_names_the_closest_profile_and_what_it_lacks() -> None:
    # two of 京东's three identifying headers: it is plausibly a 京东 file missing a column
    header = ["订单号", "客户姓名", "商品名称", "下单时间", "备注"]
    assert detect_profile(header) is None
    with pytest.raises(InputError) as err:
        choose_profile(header, source=None, mapping={}, file_label="mystery.csv")
    message = str(err.value)
    assert message.startswith("mystery.csv: no export profile matches")
    assert "closest is jd" in message
    assert "客户地址" in message and "amount" in message
    assert "--map" in message and "--source" in message


@pytest.mark.parametrize("header", [["foo", "bar", "baz"],
                                    ["订单号", "商品名称", "下单时间", "备注"]])
def test_a_header_like_no_export_names_no_closest_profile(header: list[str]) -> None:
    # one shared column (订单号) or none at all says nothing about which export it is
    with pytest.raises(InputError) as err:
        choose_profile(header, source=None, mapping={}, file_label="mystery.csv")
    message = str(err.value)
    assert "closest" not in message
    assert header[0] in message  # the user sees which header was read
    assert "--map" in message and "--source" in message


def test_source_forces_a_profile_and_says_what_is_missing(example_exports: dict[str, Path]
                                                          ) -> None:
    header = _header(example_exports["youzan"])
    assert choose_profile(header, source="youzan", mapping={}, file_label="f").name == "youzan"
    with pytest.raises(InputError, match=r"as jd the file lacks .*amount"):
        choose_profile(header, source="jd", mapping={}, file_label="f")
    with pytest.raises(InputError, match="--source shopify: unknown platform; choose one of"):
        choose_profile(header, source="shopify", mapping={}, file_label="f")


def test_map_rejects_unknown_fields_and_absent_columns() -> None:
    header = ["会员号", "消费日期", "消费额"]
    with pytest.raises(InputError, match="unknown field 'price'"):
        choose_profile(header, source=None, mapping={"price": "消费额"}, file_label="f")
    with pytest.raises(InputError, match="f: --map amount=金额: the file has no column '金额'"):
        choose_profile(header, source=None, mapping={"amount": "金额"}, file_label="f")


def test_map_makes_an_unknown_csv_loadable_as_generic() -> None:
    header = ["会员号", "消费日期", "消费额"]
    with pytest.raises(InputError, match="no export profile matches"):
        choose_profile(header, source=None, mapping={}, file_label="f")
    mapping = {"buyer_id": "会员号", "paid_at": "消费日期", "amount": "消费额"}
    profile = choose_profile(header, source=None, mapping=mapping, file_label="f")
    assert profile.name == "generic"
    assert profile.resolve(header) == {"buyer_id": ["会员号"], "paid_at": ["消费日期"],
                                       "amount": ["消费额"]}


def test_map_takes_precedence_over_a_profiles_own_alias(example_exports: dict[str, Path]) -> None:
    header = _header(example_exports["taobao_csv"])
    profile = choose_profile(header, source=None, mapping={"amount": "打款商家金额"},
                             file_label="f")
    assert profile.resolve(header)["amount"][0] == "打款商家金额"


def _crm(path: Path, rows: list[str]) -> Path:
    path.write_text("客户编号,手机号,日期,金额,状态\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_generic_rows_without_order_numbers_get_content_ids_stable_across_reloads(
    tmp_path: Path,
) -> None:
    rows = ["M001,13800000001,2026-01-02,10.00,已完成",
            "M001,13800000001,2026-01-02,10.00,已完成",  # the same purchase twice that day
            "M002,13800000002,2026-01-03,20.00,已完成"]
    first = _built(_crm(tmp_path / "a.csv", rows))
    again = _built(_crm(tmp_path / "b.csv", rows))
    # a later export that overlaps: new rows before and after the old ones
    later = _built(_crm(tmp_path / "c.csv", ["M003,13800000003,2026-01-01,5.00,已完成", *rows,
                                             "M004,13800000004,2026-02-01,7.00,已完成"]))
    assert first == again
    assert len(set(first)) == 3
    assert set(first) < set(later) and len(later) == 5


def _built(path: Path) -> list[str]:
    raw = read_export(path, header_score=header_score)
    profile = choose_profile(list(raw.frame.columns), source=None, mapping={}, file_label="x")
    return build_orders(raw, profile).orders["order_id"].tolist()
