"""The mechanics every profile relies on (issue 11): amount kinds, no silent merges, buyer-key
fallback, unknown status words, the blank-status rule, time fallbacks, refund cells.

Headers are real export header rows (privmigrate.examples, whose sources docs/load.md cites:
淘宝 ExportOrderList — cook0422/myPython and CRM importers; 拼多多 — huaxiexiyan/catguild
OrderImportRequest.java; 微信小店 — the two processors in /work/shared/reference
crm-exports-rfm.md A.8). The profiles here declare the new fields on top of the built-in ones,
so the machinery is tested whatever the registry's current declarations are. People are
synthetic (测试甲, 13800000001).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privmigrate.examples import TAOBAO_LEGACY_HEADER, WECHAT_HEADER
from privmigrate.examples.douyin_pdd_wechat_erp import PDD_HEADER
from privmigrate.ingest.formats import GENERIC, REGISTRY, Profile
from privmigrate.ingest.orders import BuiltOrders, build_orders, merge_line_items
from privmigrate.ingest.readers import read_export


def _csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    frame = pd.DataFrame(rows, columns=header).astype(object).fillna("")
    path.write_bytes(frame.to_csv(index=False).encode("utf-8"))
    return path


def _declare(profile: Profile, **changes: object) -> Profile:
    columns = dict(profile.columns)
    columns.update(changes.pop("columns", {}))  # type: ignore[arg-type]
    return replace(profile, columns=MappingProxyType(columns), **changes)  # type: ignore[arg-type]


def _build(path: Path, profile: Profile) -> BuiltOrders:
    return build_orders(read_export(path), profile)


# ---------------------------------------------------------------- amount kinds

WECHAT_LINES = _declare(
    REGISTRY["wechat_shop"],
    columns={"line_total": ("商品实际价格(总共)",), "unit_price": ("商品实际价格(单件)",),
             "quantity": ("商品数量",), "order_total": ("订单实际支付金额",)},
    amounts=("line_total", "unit_price"),
)


def _wx(order: str, line_total: str, unit: str, qty: str, product: str,
        order_total: str = "40.00") -> dict[str, str]:
    return {"订单号": order, "订单下单时间": "2026-05-01 10:00:00", "订单状态": "已完成",
            "收件人姓名": "测试甲", "收件人手机": "13800000001", "省": "广东省", "市": "深圳市",
            "订单实际支付金额": order_total, "支付时间": "2026-05-01 10:01:00",
            "商品名称": product, "商品实际价格(单件)": unit, "商品数量": qty,
            "商品实际价格(总共)": line_total}


def test_line_totals_are_summed_and_a_blank_one_is_unit_price_times_quantity(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path / "wx.csv", WECHAT_HEADER, [
        _wx("3700000000000000001", "30.00", "10.00", "3", "测试商品A"),
        _wx("3700000000000000001", "", "5.00", "2", "测试商品B"),  # 2 × 5.00
        _wx("3700000000000000001", "0.00", "0.00", "1", "测试商品A"),  # a gift line
        _wx("3700000000000000002", "12.50", "12.50", "1", "测试商品C", "12.50"),
    ])
    built = _build(path, WECHAT_LINES)
    assert built.rejects.empty
    assert built.amount_per_line
    o = built.orders.set_index("order_id")
    assert o.loc["3700000000000000001", "amount_fen"] == 4000
    assert o.loc["3700000000000000002", "amount_fen"] == 1250
    assert o.loc["3700000000000000001", "product"] == "测试商品A、测试商品B"


def test_unit_price_alone_is_multiplied_by_its_quantity(tmp_path: Path) -> None:
    profile = _declare(WECHAT_LINES, amounts=("unit_price",))
    path = _csv(tmp_path / "wx.csv", WECHAT_HEADER, [
        _wx("3700000000000000001", "", "10.00", "3", "测试商品A"),
        _wx("3700000000000000001", "", "5.00", "1.5", "测试商品B"),  # 1.5 kg
    ])
    o = _build(path, profile).orders
    assert o["amount_fen"].tolist() == [3750]


def test_an_order_level_total_is_taken_once_per_order(tmp_path: Path) -> None:
    profile = _declare(WECHAT_LINES, amounts=("order_total", "line_total"))
    path = _csv(tmp_path / "wx.csv", WECHAT_HEADER, [
        _wx("3700000000000000001", "30.00", "10.00", "3", "测试商品A", "38.00"),
        _wx("3700000000000000001", "10.00", "5.00", "2", "测试商品B", "38.00"),
    ])
    built = _build(path, profile)
    assert not built.amount_per_line
    assert built.orders["amount_fen"].tolist() == [3800]  # the paid total, after discounts


def test_a_profile_without_any_trusted_amount_column_names_them() -> None:
    header = [c for c in WECHAT_HEADER if c not in ("商品实际价格(总共)", "商品实际价格(单件)")]
    lacking = _declare(WECHAT_LINES, amounts=("line_total", "unit_price")).missing(header)
    assert lacking == ["amount (商品实际价格(总共)/商品实际价格(单件))"]


def test_merging_lines_keeps_the_first_non_blank_value_and_the_common_status() -> None:
    orders = pd.DataFrame({
        "order_id": pd.array(["A", "A", "B", "C", "C"], dtype="string[pyarrow]"),
        "phone": pd.array([None, "13800000001", "13800000002", None, None],
                          dtype="string[pyarrow]"),
        "amount_fen": pd.array([100, 200, 300, None, None], dtype="Int64"),
        "refund_fen": [0, 0, 0, 0, 0],
        "status": pd.Categorical(["paid", "refunded", "refunded", "unpaid", "unpaid"],
                                 categories=["paid", "refunded", "cancelled", "unpaid"]),
        "product": pd.array(["甲", "乙", None, None, None], dtype="string[pyarrow]"),
    })
    merged = merge_line_items(orders, amount_per_line=True).set_index("order_id")
    assert merged["phone"].tolist()[:2] == ["13800000001", "13800000002"]
    assert pd.isna(merged.loc["C", "phone"])
    assert merged["amount_fen"].tolist()[:2] == [300, 300]
    assert pd.isna(merged.loc["C", "amount_fen"])  # no line had an amount
    assert merged["status"].tolist() == ["paid", "refunded", "unpaid"]
    assert merged.loc["A", "product"] == "甲、乙"
    assert list(merged.index) == ["A", "B", "C"]  # in file order


# ---------------------------------------------------------------- no silent merge

def _tb(order: str, phone: str = "'13800000001", status: str = "交易成功",
        buyer: str = "测试甲", paid: str = "2026-01-02 10:01:00", amount: str = "10.00",
        refund_state: str = "") -> dict[str, str]:
    return {"订单编号": order, "买家会员名": buyer, "订单状态": status,
            "买家实际支付金额": amount, "订单创建时间": "2026-01-02 10:00:00",
            "订单付款时间": paid, "收货人姓名": "测试甲", "联系手机": phone,
            "收货地址": "浙江省 杭州市 西湖区 测试路1号", "退款金额": "",
            "宝贝标题": refund_state}


def test_order_numbers_excel_rounded_are_rejected_not_merged(tmp_path: Path) -> None:
    path = _csv(tmp_path / "ExportOrderList.csv", TAOBAO_LEGACY_HEADER, [
        _tb("3.51531E+16"), _tb("3.51531E+16"), _tb("3515310000000000"),
        _tb("3515320000000000"), _tb("123456"),
    ])
    built = _build(path, REGISTRY["taobao"])
    assert built.orders["order_id"].tolist() == ["123456"]
    reasons = built.rejects.set_index("row")["reason"]
    assert sorted(reasons.index) == [2, 3, 4, 5]
    assert all("Excel" in r and "export the file again" in r for r in reasons)
    assert set(built.rejects["column"]) == {"订单编号"}


def test_18_digit_order_numbers_that_end_in_zeros_by_chance_are_kept(tmp_path: Path) -> None:
    path = _csv(tmp_path / "ExportOrderList.csv", TAOBAO_LEGACY_HEADER, [
        _tb("351531234567890000"), _tb("351531234567890123")])
    assert len(_build(path, REGISTRY["taobao"]).orders) == 2


def test_a_phone_in_scientific_notation_rejects_its_row_without_quoting_it(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path / "ExportOrderList.csv", TAOBAO_LEGACY_HEADER, [
        _tb("1001", phone="1.38E+10"), _tb("1002")])
    built = _build(path, REGISTRY["taobao"])
    assert built.orders["order_id"].tolist() == ["1002"]
    (reject,) = built.rejects.itertuples()
    assert (reject.row, reject.column) == (2, "联系手机")
    assert "scientific notation" in reject.reason and "1.38" not in reject.reason


_ID_TEXT = st.text(alphabet="0123456789.eE+-xX", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(_ID_TEXT, min_size=1, max_size=12))
def test_two_orders_never_become_one_unless_their_ids_are_equal_as_text(
    tmp_path: Path, ids: list[str]
) -> None:
    path = _csv(tmp_path / "orders.csv", ["订单号", "客户编号", "日期", "金额", "状态"], [
        {"订单号": i, "客户编号": "K1", "日期": "2026-01-02", "金额": f"{n + 1}.00",
         "状态": "交易成功"} for n, i in enumerate(ids)])
    lines = _declare(GENERIC, columns={"line_total": ("金额",)}, amounts=("line_total",))
    built = build_orders(read_export(path), lines)
    rejected = set(built.rejects["row"])
    kept = [i for row, i in enumerate(ids, start=2) if row not in rejected]
    assert len(built.orders) == len(set(kept))
    # each order's amount is the sum of exactly the rows with its id
    expected = {}
    for n, i in enumerate(ids):
        if n + 2 not in rejected:
            expected[i] = expected.get(i, 0) + (n + 1) * 100
    got = dict(zip(built.orders["order_id"], built.orders["amount_fen"], strict=True))
    assert sorted(got.values()) == sorted(expected.values())


# ---------------------------------------------------------------- buyer keys

def test_a_masked_buyer_name_falls_back_to_the_next_buyer_column(tmp_path: Path) -> None:
    header = [*TAOBAO_LEGACY_HEADER, "买家会员昵称"]  # 淘宝 2021+ (crm-exports-rfm.md A.1)
    profile = _declare(REGISTRY["taobao"], columns={"buyer_id": ("买家会员名", "买家会员昵称")})
    rows = [{**_tb("1001", buyer="t**1"), "买家会员昵称": "测试甲的昵称"},
            {**_tb("1002", buyer="测试乙"), "买家会员昵称": "测试乙的昵称"},
            {**_tb("1003", buyer="t**1"), "买家会员昵称": "***"}]
    o = _build(_csv(tmp_path / "tb.csv", header, rows), profile).orders.set_index("order_id")
    assert o.loc["1001", "buyer_id"] == "测试甲的昵称"
    assert o.loc["1002", "buyer_id"] == "测试乙"
    assert pd.isna(o.loc["1003", "buyer_id"])  # a mask is never a key


# ---------------------------------------------------------------- statuses

def test_an_unknown_status_word_is_one_line_with_its_count(tmp_path: Path) -> None:
    path = _csv(tmp_path / "ExportOrderList.csv", TAOBAO_LEGACY_HEADER, [
        _tb("1001", status="某新状态"), _tb("1002", status="某新状态"),
        _tb("1003", status="某新状态"), _tb("1004", status="另一状态"), _tb("1005")])
    built = _build(path, REGISTRY["taobao"])
    assert built.orders["order_id"].tolist() == ["1005"]
    assert built.unknown_statuses == {"某新状态": 3, "另一状态": 1}
    assert len(built.rejects) == 2
    first = built.rejects.iloc[0]
    assert first["row"] == 2 and "3 rows" in first["reason"]
    assert "[load.status_words]" in first["reason"]
    assert built.rows_rejected == 4


def test_without_a_status_column_a_row_with_no_payment_and_no_amount_is_not_a_purchase(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path / "orders.csv", ["订单号", "客户编号", "日期", "金额"], [
        {"订单号": "1", "客户编号": "K1", "日期": "", "金额": "0"},
        {"订单号": "2", "客户编号": "K1", "日期": "", "金额": ""},
        {"订单号": "3", "客户编号": "K1", "日期": "2026-01-02", "金额": "0"},
        {"订单号": "4", "客户编号": "K1", "日期": "2026-01-02", "金额": "9.90"},
    ])
    built = build_orders(read_export(path), GENERIC)
    assert built.rejects.empty
    assert built.orders.set_index("order_id")["status"].to_dict() == {
        "1": "unpaid", "2": "unpaid", "3": "paid", "4": "paid"}


def test_refund_cells_are_read_through_the_refund_vocabulary(tmp_path: Path) -> None:
    profile = _declare(REGISTRY["taobao"], columns={"refund_status": ("宝贝标题",)})
    path = _csv(tmp_path / "ExportOrderList.csv", TAOBAO_LEGACY_HEADER, [
        _tb("1001", refund_state="无退款申请"), _tb("1002", refund_state="全部退款"),
        _tb("1003", refund_state="部分退款"), _tb("1004", refund_state="退款成功")])
    o = _build(path, profile).orders.set_index("order_id")
    assert o["status"].to_dict() == {"1001": "paid", "1002": "refunded", "1003": "paid",
                                     "1004": "refunded"}


# ---------------------------------------------------------------- time fallbacks

PDD = _declare(REGISTRY["pdd"],
               columns={"shipped_at": ("发货时间",), "received_at": ("确认收货时间",)},
               order_id_date="%y%m%d")


def _pdd(order: str, paid: str = "", shipped: str = "", received: str = "") -> dict[str, str]:
    return {"商品": "测试商品", "订单号": order, "订单状态": "已签收", "支付时间": paid,
            "订单成交时间": "", "发货时间": shipped, "确认收货时间": received,
            "用户实付金额(元)": "19.90", "省": "****", "市": "****"}


def test_a_blank_payment_time_falls_back_to_the_order_number_date_then_shipping(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path / "pdd.csv", PDD_HEADER, [
        _pdd("260517-123456789012345"),
        _pdd("X-1", shipped="2026-05-18 09:00:00"),
        _pdd("X-2", received="2026-05-20 09:00:00"),
        _pdd("260517-123456789012346", paid="2026-05-17 08:00:00"),
        _pdd("X-3"),
    ])
    built = _build(path, PDD)
    o = built.orders.set_index("order_id")
    assert o.loc["260517-123456789012345", "paid_at"] == pd.Timestamp("2026-05-17")
    assert o.loc["X-1", "paid_at"] == pd.Timestamp("2026-05-18 09:00:00")
    assert o.loc["X-2", "paid_at"] == pd.Timestamp("2026-05-20 09:00:00")
    assert built.time_fallbacks == {"order_id_date": 1, "shipped_at": 1, "received_at": 1}
    assert built.rejects["reason"].tolist() == ["paid order without a payment time"]
