"""Each platform's quirks as they reach the order table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from privmigrate.examples import TAOBAO_LEGACY_HEADER, WECHAT_HEADER, Sheet, write_xlsx
from privmigrate.ingest.formats import choose_profile, header_score
from privmigrate.ingest.orders import BuiltOrders, build_orders
from privmigrate.ingest.readers import read_export


def build(path: Path, status_words: dict[str, str] | None = None) -> BuiltOrders:
    raw = read_export(path, header_score=header_score)
    profile = choose_profile(list(raw.frame.columns), source=None, mapping={}, file_label="t")
    return build_orders(raw, profile, status_words)


def by_id(built: BuiltOrders) -> pd.DataFrame:
    return built.orders.set_index("order_id")


def _csv(path: Path, header: list[str], rows: list[dict[str, str]], encoding: str = "utf-8"
         ) -> Path:
    frame = pd.DataFrame(rows, columns=header).astype(object).fillna("")
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    return path


def _tb(order: str, status: str, paid: str, amount: str, refund: str = "", reason: str = "",
        phone: str = "'13800000001") -> dict[str, str]:
    return {"订单编号": f'="{order}"', "买家会员名": "测试用户001", "订单状态": status,
            "买家实际支付金额": amount, "打款商家金额": f"{amount}元", "退款金额": refund,
            "订单关闭原因": reason, "订单创建时间": "2026-01-02 10:00:00", "订单付款时间": paid,
            "收货人姓名": "测试用户", "收货地址": "浙江省 杭州市 西湖区 测试路1号",
            "联系手机": phone}


def test_taobao_closed_orders_are_unpaid_or_refunded_by_their_reason(tmp_path: Path) -> None:
    rows = [
        _tb("2024000000000000001", "交易成功", "2026-01-02 10:01:00", "100.00"),
        _tb("2024000000000000002", "交易关闭", "", "0.00", reason="买家未付款"),
        _tb("2024000000000000003", "交易关闭", "2026-01-02 10:01:00", "50.00", "50.00", "退款"),
        _tb("2024000000000000004", "交易成功", "2026/01/02 10:01", "80.00", "30.00"),
        _tb("2024000000000000005", "等待买家付款", "", "20.00"),
        _tb("2024000000000000006", "交易被淘宝关闭", "", "20.00"),
        _tb("2024000000000000007", "卖家已发货，等待买家确认", "2026-01-02 10:01:00", "9.90"),
    ]
    path = _csv(tmp_path / "ExportOrderList202601021000.csv", TAOBAO_LEGACY_HEADER, rows, "gbk")
    built = build(path)
    o = by_id(built)
    assert built.rejects.empty
    assert o["status"].to_dict() == {
        "2024000000000000001": "paid", "2024000000000000002": "unpaid",
        "2024000000000000003": "refunded", "2024000000000000004": "paid",
        "2024000000000000005": "unpaid", "2024000000000000006": "cancelled",
        "2024000000000000007": "paid",
    }
    assert o.loc["2024000000000000004", "amount_fen"] == 5000  # 80.00 net of a 30.00 refund
    assert o.loc["2024000000000000001", "phone"] == "13800000001"
    assert o.loc["2024000000000000001", "province"] == "浙江省"
    assert o.loc["2024000000000000001", "city"] == "杭州市"


def test_qianniu_xlsx_receiver_packed_in_the_address(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "订单编号": ["3001", "3002", "3003"], "买家会员名": ["测试用户1", "测试用户2", "测试用户3"],
        "买家实付金额": ["10.00", "20.00", "30.00"], "订单状态": ["交易成功"] * 3,
        "收货地址": ["测试用户，86-13900000004，江苏省 南京市 鼓楼区 测试路2号",
                 "测试用户，139****0005，江苏省 苏州市 姑苏区 测试路3号",
                 "测试用户，17000001234-5678，上海市 上海市 浦东新区 测试路4号"],
        "买家付款时间": ["2026-01-02 10:00:00"] * 3,
    })
    o = by_id(build(write_xlsx(tmp_path / "qianniu.xlsx", [Sheet("订单", frame)])))
    assert o.loc["3001", "phone"] == "13900000004"
    assert o["phone_status"].tolist() == ["valid", "masked", "virtual"]
    assert o["phone"].isna().tolist() == [False, True, True]
    assert o.loc["3001", "name"] == "测试用户"
    assert o["province"].tolist() == ["江苏省", "江苏省", "上海市"]
    assert o.loc["3002", "city"] == "苏州市"


def test_jd_masked_phones_note_suffixed_amounts_and_status(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "订单号": ["280000000001", "280000000002"], "商品名称": ["面膜", "精华"],
        "下单时间": ["2026-01-02 10:00:00"] * 2, "订单金额": ["", "20.00"],
        "商家应收": ["499.00（系统计算中，该值仅供参考）", "20.00"], "订单状态": ["完成", "已取消"],
        "下单帐号": ["jd_测试001", "jd_测试002"], "客户姓名": ["测**", "测**"],
        "客户地址": ["北京市 北京市 朝阳区 测试路5号"] * 2, "联系电话": ["1******6198"] * 2,
    })
    path = write_xlsx(tmp_path / "jd.xlsx", [Sheet("Sheet1", frame, frozenset({"订单号"}))])
    o = by_id(build(path))
    assert o.loc["280000000001", "amount_fen"] == 49900
    assert o["status"].tolist() == ["paid", "cancelled"]
    assert o["phone_status"].tolist() == ["masked", "masked"]
    assert o["phone"].isna().all()
    assert o.loc["280000000001", "buyer_id"] == "jd_测试001"


def _yz(order: str, status: str, refund_status: str, paid: str, refunded: str
        ) -> dict[str, str]:
    return {"订单号": order, "订单状态": status, "买家付款时间": "2026-01-02 10:00:00",
            "订单创建时间": "2026-01-02 09:59:00", "订单实付金额": paid,
            "订单退款状态": refund_status, "订单已退款金额": refunded,
            "买家手机号": "13800000001", "买家昵称": "有赞测试用户"}


def test_youzan_refund_status_overrides_order_status_and_partial_refunds_net(
    tmp_path: Path,
) -> None:
    from privmigrate.examples import YOUZAN_HEADER

    rows = [_yz("E1", "交易成功", "退款成功", "100.00", "100.00"),
            _yz("E2", "交易完成", "部分退款成功", "100.00", "30.00"),
            _yz("E3", "交易成功", "", "100.00", "0.00"),
            {**_yz("E4", "交易关闭", "", "0.00", ""), "买家付款时间": ""}]
    path = tmp_path / "youzan.csv"
    header = ",".join(YOUZAN_HEADER)  # the duplicated 分销员 column as in real exports
    body = pd.DataFrame(rows).reindex(columns=list(dict.fromkeys(YOUZAN_HEADER)))
    body = body.astype(object).fillna("")
    lines = [",".join(str(r.get(h, "")) for h in YOUZAN_HEADER) for r in body.to_dict("records")]
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    built = build(path)
    o = by_id(built)
    assert built.rejects.empty
    assert o["status"].to_dict() == {"E1": "refunded", "E2": "paid", "E3": "paid", "E4": "unpaid"}
    assert o.loc["E2", "amount_fen"] == 7000
    assert o.loc["E3", "amount_fen"] == 10000


def test_douyin_thousands_after_sale_refunds_and_sub_order_rows(tmp_path: Path) -> None:
    header = ["主订单编号", "子订单编号", "选购商品", "支付完成时间", "订单状态", "订单应付金额",
              "收件人", "收件人手机号", "省", "市", "售后状态"]
    rows = [
        ["6901", "69011", "面膜", "2026/01/02 10:00:00", "已完成", "1,299.00", "测试",
         "138****0001", "广东省", "广州市", ""],
        ["6901", "69012", "赠品", "2026/01/02 10:00:00", "已完成", "100.00", "测试",
         "138****0001", "广东省", "广州市", ""],
        ["6902", "69021", "精华", "2026/01/03 10:00:00", "已完成", "199.00", "测试", "13800000002",
         "广东省", "深圳市", "退款成功"],
        ["6903", "69031", "精华", "", "已关闭", "199.00", "测试", "13800000003", "广东省", "深圳市",
         ""],
    ]
    path = tmp_path / "douyin.csv"
    path.write_text(pd.DataFrame(rows, columns=header).to_csv(index=False), encoding="utf-8")
    o = by_id(build(path))
    assert sorted(o.index) == ["6901", "6902", "6903"]  # one row per main order
    # 订单应付金额 is per 子订单 in the 商品维度 report: an order's lines add up
    assert o.loc["6901", "amount_fen"] == 139900
    assert o.loc["6901", "product"] == "面膜、赠品"
    assert o["status"].to_dict() == {"6901": "paid", "6902": "refunded", "6903": "unpaid"}
    assert o.loc["6901", "phone_status"] == "masked"


def test_pdd_tabs_refund_statuses_and_no_buyer_key(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "商品": ["面膜"] * 3, "订单号": ["260102-001\t", "260102-002\t", "260102-003\t"],
        "订单状态": ["已签收", "已发货，退款成功", "已签收"],
        "支付时间": ["\t2026-01-02 10:00:00"] * 3,
        "售后状态": ["无售后或售后取消", "退款成功", "退款成功"],
        "用户实付金额(元)": ["10.00", "20.00", "30.00"], "省": ["四川省"] * 3, "市": ["成都市"] * 3,
    })
    o = by_id(build(write_xlsx(tmp_path / "pdd.xlsx", [Sheet("订单", frame)])))
    assert list(o.index) == ["260102-001", "260102-002", "260102-003"]
    assert o["status"].tolist() == ["paid", "refunded", "refunded"]
    assert o["paid_at"].iloc[0] == pd.Timestamp("2026-01-02 10:00:00")
    assert o["buyer_id"].isna().all() and o["phone"].isna().all()


def _wx(order: str, product: str, paid: str, after: str = "", refunded: str = "",
        enc: str = "") -> dict[str, str]:
    return {"订单号": order, "订单下单时间": "2026-01-02 10:00:00",
            "支付时间": "2026-01-02 10:00:05",
            "订单状态": "已完成", "收件人姓名": "测试", "收件人手机": "13800000001",
            "订单实际支付金额": paid, "商品名称": product, "商品售后": after,
            "商品已退款金额": refunded, "企业微信加密id": enc, "省": "湖北省", "市": "武汉市"}


def test_wechat_shop_line_items_merge_into_one_order(tmp_path: Path) -> None:
    rows = [
        _wx("3701", "面膜", "100.00", enc="wm0001"), _wx("3701", "精华", "100.00", enc="wm0001"),
        _wx("3702", "面膜", "80.00"), _wx("3702", "赠品", "80.00", "退款成功", "20.00"),
        _wx("3703", "面膜", "50.00", "退款成功", "30.00"),
        _wx("3703", "精华", "50.00", "退款成功", "20.00"),
        _wx("3704", "面膜", "40.00", "退款成功", "40.00"),
    ]
    frame = pd.DataFrame(rows).reindex(columns=WECHAT_HEADER).astype(object).fillna("")
    after = pd.DataFrame({"订单号": ["3703"], "售后状态": ["退款成功"]})
    path = write_xlsx(tmp_path / "wechat.xlsx", [
        Sheet("订单列表", frame, frozenset({"收件人手机"})), Sheet("售后单", after)])
    o = by_id(build(path))
    assert sorted(o.index) == ["3701", "3702", "3703", "3704"]
    assert o.loc["3701", "amount_fen"] == 10000 and o.loc["3701", "product"] == "面膜、精华"
    assert o.loc["3702", "amount_fen"] == 6000 and o.loc["3702", "status"] == "paid"
    assert o.loc["3703", "status"] == "refunded"  # every line refunded: the order is refunded
    assert o.loc["3704", "status"] == "refunded"
    assert bool(o.loc["3701", "wecom_friend"]) and pd.isna(o.loc["3702", "wecom_friend"])
    assert o.loc["3701", "phone"] == "13800000001"


def test_erp_summary_rows_dropped_pay_time_fallback_and_line_sums(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "客户网名": ["测试用户001", "测试用户001", "测试用户002", "测试用户003", "合计:"],
        "订单编号": ["JY1", "JY1", "JY2", "JY3", ""],
        "收件人": ["测试"] * 4 + [""],
        "收件人手机": ["13800000001", "13800000001", "17000001234-1234", "138****0003", ""],
        "打印备注": ["", "", "顾客要求电话联系 13800000002", "", ""],
        "发货时间": ["2026-01-03 08:00:00"] * 4 + [""],
        "付款时间": ["2026-01-02 10:00:00", "2026-01-02 10:00:00", "0000-00-00",
                 "2026-01-02 11:00:00", ""],
        "货品成交总价": ["10.00", "5.00", "20.00", "30.00", "65.00"],
        "出库单状态": ["已发货", "已发货", "已完成", "已取消", ""],
        "收货地区": ["福建省 厦门市 思明区"] * 4 + [""],
    })
    built = build(write_xlsx(tmp_path / "wdt.xlsx", [Sheet("订单明细", frame)]))
    o = by_id(built)
    assert built.summary_rows == 1 and built.rejects.empty
    assert sorted(o.index) == ["JY1", "JY2", "JY3"]
    assert o.loc["JY1", "amount_fen"] == 1500  # line totals add up
    assert o.loc["JY2", "paid_at"] == pd.Timestamp("2026-01-03 08:00:00")  # 0000-00-00 → 发货时间
    assert o.loc["JY2", "phone"] == "13800000002"  # recovered from 打印备注, not the virtual one
    assert o.loc["JY3", "phone_status"] == "masked" and pd.isna(o.loc["JY3", "phone"])
    assert o.loc["JY3", "status"] == "cancelled"
    assert o.loc["JY1", "province"] == "福建省"


def test_virtual_and_masked_numbers_never_become_phones(example_exports: dict[str, Path]
                                                         ) -> None:
    for key in ("taobao_csv", "taobao_xlsx", "jd", "douyin", "erp_wdt", "youzan_customers"):
        orders = build(example_exports[key]).orders
        not_valid = orders["phone_status"] != "valid"
        assert orders.loc[not_valid, "phone"].isna().all(), key
        assert orders.loc[~not_valid, "phone"].str.fullmatch(r"1[3-9]\d{9}").all(), key
    statuses = set(build(example_exports["taobao_csv"]).orders["phone_status"])
    assert {"valid", "masked", "virtual"} <= statuses


def test_youzan_customer_export_rows_are_aggregates(example_exports: dict[str, Path]) -> None:
    built = build(example_exports["youzan_customers"])
    raw = read_export(example_exports["youzan_customers"])
    assert raw.frame.columns[-1] == "column_35"  # the trailing comma's empty column
    orders = built.orders
    assert orders["order_id"].str.startswith("agg:").all()
    assert (orders["order_count"] >= 0).all() and orders["order_count"].max() >= 1
    counts = pd.to_numeric(raw.frame["消费次数"])
    assert orders["order_count"].sum() == counts.sum()
    assert set(orders["wecom_friend"].dropna()) == {True, False}


def test_unknown_status_words_reject_their_rows_until_configured(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("客户编号,手机号,日期,金额,状态\nM1,13800000001,2026-01-02,10.00,已完成\n"
                    "M2,13800000002,2026-01-02,12.00,待复核\n", encoding="utf-8")
    built = build(path)
    assert len(built.orders) == 1
    reject = built.rejects.iloc[0]
    assert (reject["file"], reject["row"], reject["column"]) == ("crm.csv", 3, "状态")
    assert "'待复核'" in reject["reason"] and "[load.status_words]" in reject["reason"]
    assert build(path, {"待复核": "paid"}).orders["status"].tolist() == ["paid", "paid"]


def test_order_id_uniqueness_is_exact_for_numbers_and_text() -> None:
    """Numeric ids are checked as integers; a repeated number is re-checked as text."""
    import pyarrow as pa

    from privmigrate.ingest.orders import order_ids_unique

    def ids(*values: str | None) -> pa.ChunkedArray:
        return pa.chunked_array([pa.array(list(values[:2]), pa.large_string()),
                                 pa.array(list(values[2:]), pa.large_string())])

    assert order_ids_unique(ids("1001", "1002", "1003"))
    assert not order_ids_unique(ids("1001", "1002", "1001"))
    assert order_ids_unique(ids("007", "7", "8"))  # same number, different order numbers
    assert not order_ids_unique(ids("A1", "B2", "A1"))
    assert order_ids_unique(ids("A1", "1", "01"))


def test_order_id_hash_keys_tell_prefixes_and_slices_apart() -> None:
    import pyarrow as pa

    from privmigrate.ingest.orders import order_ids_unique

    assert order_ids_unique(pa.chunked_array([["T1", "T12", "T123", "订单1", "订单12", ""]]))
    assert not order_ids_unique(pa.chunked_array([["T12", "订单1"], ["x", "订单1"]]))
    sliced = pa.array(["dup", "T1", "T2", "dup"], pa.string()).slice(1, 2)
    assert order_ids_unique(pa.chunked_array([sliced, pa.array(["dup"], pa.string())]))


def test_order_id_uniqueness_from_chunk_runs_matches_the_whole_column() -> None:
    """Streamed files check uniqueness by merging each chunk's sorted keys: same answers."""
    import pyarrow as pa

    from privmigrate.ingest.orders import id_key_run, order_ids_unique

    def check(*chunks: list[str]) -> bool:
        parts = [pa.chunked_array([pa.array(c, pa.large_string())]) for c in chunks]
        runs = [id_key_run(p) for p in parts]
        whole = pa.chunked_array([a for p in parts for a in p.chunks])
        assert order_ids_unique(whole, runs) == order_ids_unique(whole)
        return order_ids_unique(whole, runs)

    assert check(["3", "1", "2"], ["9", "5"])  # unsorted numeric chunks
    assert not check(["3", "1"], ["2", "1"])  # a repeat across chunks
    assert check(["007", "8"], ["7"])  # equal numbers, different text
    assert not check(["A1", "B2"], ["C3", "A1"])  # hashed keys
    # one chunk numeric, the other not: "12" would get two kinds of key; still exact
    assert not check(["12", "13"], ["X1", "12"])
    assert check(["12", "13"], ["X1", "14"])


def test_summary_rows_are_found_behind_blanks_and_only_there() -> None:
    from privmigrate.ingest.orders import _summary_rows

    text = "string[pyarrow]"
    frame = pd.DataFrame({
        "订单编号": pd.Series(["1001", "\u3000合计:", "1003", "总计", None], dtype=text),
        "客户": pd.Series(["会员甲", "", " 小计", "会员乙", "汇总"], dtype=text),
    })
    assert _summary_rows(frame).tolist() == [False, True, True, True, True]
    plain = pd.DataFrame({"订单编号": pd.Series(["1", "2"], dtype="string[pyarrow]"),
                          "客户": pd.Series(["小明", "合计"], dtype="string[pyarrow]")})
    assert _summary_rows(plain).tolist() == [False, True]


def test_a_fallback_amount_column_fills_only_the_empty_cells() -> None:
    """淘宝's 打款商家金额 stands in where 买家实际支付金额 is empty; it is parsed only there, and
    its own bad cells never reject a row the first column already priced."""
    from privmigrate.ingest.orders import _coalesce_money

    text = "string[pyarrow]"
    frame = pd.DataFrame({
        "买家实际支付金额": pd.Series(["10.50", None, "bad", None, "3"], dtype=text),
        "打款商家金额": pd.Series(["x", "7.25元", "1.00", None, "oops"], dtype=text),
    })
    fen, bad, column = _coalesce_money(frame, ["买家实际支付金额", "打款商家金额"])
    assert [None if pd.isna(v) else int(v) for v in fen] == [1050, 725, 100, None, 300]
    assert bad.tolist() == [False, False, True, False, False] and column == "买家实际支付金额"
