"""ERP exports (旺店通 销售出库明细, 订单明细, 订单导出; 聚水潭) from real header rows, with
synthetic people: per-order amounts, statuses, buyer links and provinces."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from privmigrate.examples.douyin_pdd_wechat_erp import JST_HEADER
from privmigrate.ingest.formats import REGISTRY
from tests.ingest import profile_headers as H
from tests.ingest.test_profiles_shops import csv, load, orders

T = "2026-03-01 10:00:00"
SHIP = "2026-03-02 09:00:00"


def test_wdt_stockout_unit_price_is_not_the_line_total(tmp_path: Path) -> None:
    common = {"客户网名": "tb测试甲", "收货人": "测试甲", "收件人手机": "13800000001",
              "收货地区": "浙江省 杭州市 西湖区", "下单时间": T, "支付时间": T, "发货时间": SHIP,
              "出库单状态": "已发货"}
    path = csv(tmp_path, H.WDT_STOCKOUT, [
        # 3 × ¥10: a unit price of 10.00, a line total of 30.00
        {**common, "订单编号": "JY001", "原始单号": "3001", "原始子单号": "30011",
         "货品名称": "面膜", "货品数量": "3", "货品成交价": "10.00", "货品成交总价": "30.00"},
        {**common, "订单编号": "JY001", "原始单号": "3001", "原始子单号": "30012",
         "货品名称": "精华", "货品数量": "1", "货品成交价": "25.50", "货品成交总价": "25.50"},
        {**common, "订单编号": "JY002", "客户网名": "tb测试乙", "收件人手机": "13800000002",
         "货品名称": "面霜", "货品数量": "2", "货品成交价": "9.99", "货品成交总价": "19.98",
         "支付时间": "0000-00-00"},
    ])
    o = orders(load(path, "erp_wdt"))
    assert o["amount_fen"].to_dict() == {"JY001": 5550, "JY002": 1998}
    assert o.loc["JY002", "paid_at"] == pd.Timestamp(SHIP)  # 0000-00-00 → 发货时间
    assert o.loc["JY001", "buyer_id"] == "tb测试甲" and o.loc["JY001", "phone"] == "13800000001"
    assert o.loc["JY001", "platform_order_id"] == "3001"
    assert o.loc["JY001", "province"] == "浙江省" and o.loc["JY001", "city"] == "杭州市"
    assert (o["source"] == "erp_wdt").all()


def test_wdt_stockout_as_another_importer_selects_it(tmp_path: Path) -> None:
    path = csv(tmp_path, H.WDT_STOCKOUT_SELECTED, [
        {"客户网名": "测试甲", "订单编号": "JY010", "收件人": "测试甲", "收件人手机": "13800000001",
         "付款时间": T, "发货时间": SHIP, "收货地区": "上海 上海市 浦东新区", "货品数量": "4",
         "货品成交价": "12.50", "货品成交总价": "50.00", "货品名称": "面膜"},
    ])
    o = orders(load(path, "erp_wdt"))
    assert o.loc["JY010", "amount_fen"] == 5000 and o.loc["JY010", "status"] == "paid"


@pytest.mark.parametrize(("word", "status"), [
    ("待客审", "paid"), ("待财审", "paid"), ("等未付", "paid"), ("延时审核", "paid"),
    ("已过账", "paid"), ("已审核", "paid"), ("已完成", "paid"), ("待尾款", "unpaid"),
    ("未付款", "unpaid"), ("已取消", "cancelled"), ("线下退款", "refunded"),
])
def test_wdt_order_detail_statuses_and_line_totals(tmp_path: Path, word: str, status: str
                                                   ) -> None:
    common = {"客户网名": "测试甲", "收件人": "测试甲", "手机": "13800000001",
              "省市县": "广东省 广州市 天河区", "交易时间": T, "付款时间": T, "订单状态": word,
              "原始单号": "3001"}
    if status == "unpaid":
        common["付款时间"] = ""
    path = csv(tmp_path, H.WDT_DETAIL, [
        # 成交价 and 分摊后价格 are per unit; 分摊后总价 = 分摊后价格 × 数量 is the line's money
        {**common, "订单编号": "JY100", "原始子单号": "30011", "货品名称": "面膜", "数量": "2",
         "成交价": "15.00", "分摊后价格": "14.50", "分摊后总价": "29.00"},
        {**common, "订单编号": "JY100", "原始子单号": "30012", "货品名称": "精华", "数量": "1",
         "成交价": "21.00", "分摊后价格": "21.00", "分摊后总价": "21.00"},
    ])
    o = orders(load(path, "erp_wdt_detail"))
    assert o.loc["JY100", "status"] == status
    if status == "paid":
        assert o.loc["JY100", "amount_fen"] == 5000
        assert o.loc["JY100", "phone"] == "13800000001"
    assert o.loc["JY100", "province"] == "广东省"


def test_wdt_order_detail_refunded_line(tmp_path: Path) -> None:
    path = csv(tmp_path, H.WDT_DETAIL, [
        {"订单编号": "JY200", "客户网名": "测试乙", "手机": "13800000002", "交易时间": T,
         "付款时间": T, "订单状态": "已完成", "订单明细退款状态": "退款成功", "数量": "1",
         "分摊后总价": "39.00", "省市县": "福建省 厦门市 思明区"},
    ])
    assert orders(load(path, "erp_wdt_detail")).loc["JY200", "status"] == "refunded"


def test_wdt_order_export_counts_the_lines_not_the_order_twice(tmp_path: Path) -> None:
    common = {"客户网名": "测试丙", "收件人": "测试丙", "收件人手机": "13800000003",
              "收货地区": "四川省 成都市 武侯区", "交易时间": T, "付款时间": T,
              "订单状态": "已发货",
              "订单支付金额": "108.00", "邮费": "8.00", "子单原始单号": "3003"}
    path = csv(tmp_path, H.WDT_ORDERS, [
        {**common, "订单编号": "JY300", "子单原始子单号": "30031", "货品名称": "面膜",
         "下单数量": "1", "成交价": "60.00", "分摊后总价": "60.00", "单品支付金额": "60.00"},
        {**common, "订单编号": "JY300", "子单原始子单号": "30032", "货品名称": "精华",
         "下单数量": "1", "成交价": "40.00", "分摊后总价": "40.00", "单品支付金额": "40.00"},
    ])
    o = orders(load(path, "erp_wdt_orders"))
    assert o.loc["JY300", "amount_fen"] == 10000  # the goods' lines, each once
    assert o.loc["JY300", "buyer_id"] == "测试丙" and o.loc["JY300", "province"] == "四川省"
    assert o.loc["JY300", "platform_order_id"] == "3003"


def test_jst_statuses_and_province_columns(tmp_path: Path) -> None:
    # 聚水潭: header from a real-file parser's aliases (no real header row was found), with
    # 省份/城市 as some 聚水潭 files name them
    header = [{"省": "省份", "市": "城市"}.get(h, h) for h in JST_HEADER]
    common = {"店铺": "测试店", "订单日期": T, "付款日期": T, "收货人": "测试甲", "省份": "山东省",
              "城市": "青岛市", "商品名称": "面膜", "数量": "1"}
    path = csv(tmp_path, header, [
        {**common, "线上订单号": "5001", "内部订单号": "1", "状态": "异常", "已付金额": "39.00",
         "买家账号": "jst_测试甲", "收货手机": "13800000001"},
        {**common, "线上订单号": "5002", "内部订单号": "2", "状态": "被合并", "已付金额": "19.00",
         "买家账号": "jst_测试乙"},
        {**common, "线上订单号": "5003", "内部订单号": "3", "状态": "已客审待财审",
         "已付金额": "29.00", "买家账号": "jst_测试丙"},
    ])
    o = orders(load(path, "erp_jst"))
    assert o["status"].to_dict() == {"5001": "paid", "5002": "cancelled", "5003": "paid"}
    assert o.loc["5001", "amount_fen"] == 3900 and o.loc["5001", "buyer_id"] == "jst_测试甲"
    assert (o["province"] == "山东省").all() and (o["city"] == "青岛市").all()
    assert REGISTRY["erp_jst"].source == "erp_jst"


def test_wdt_stockout_with_only_the_unit_price_multiplies_by_quantity(tmp_path: Path) -> None:
    # the selection an ERP import module reads has 货品成交价 (per unit) and no 货品成交总价
    common = {"客户网名": "测试甲", "收件人": "测试甲", "收件人手机": "13800000001", "付款时间": T,
              "发货时间": SHIP, "收货地区": "浙江省 杭州市 西湖区", "出库单状态": "已发货"}
    path = csv(tmp_path, H.WDT_STOCKOUT_UNIT_ONLY, [
        {**common, "订单编号": "JY400", "原始子订单号": "1", "货品名称": "面膜", "货品数量": "3",
         "货品成交价": "10.00"},
        {**common, "订单编号": "JY400", "原始子订单号": "2", "货品名称": "精华", "货品数量": "1",
         "货品成交价": "5.00"},
    ])
    o = orders(load(path, "erp_wdt"))
    assert o.loc["JY400", "amount_fen"] == 3500  # 3 × ¥10 + 1 × ¥5


def test_wdt_order_export_full_refund_word(tmp_path: Path) -> None:
    path = csv(tmp_path, H.WDT_ORDERS, [
        {"订单编号": "JY500", "客户网名": "测试丁", "收件人手机": "13800000004", "交易时间": T,
         "付款时间": T, "订单状态": "已完成", "订单退款状态": "全部退款", "订单支付金额": "59.00",
         "分摊后总价": "59.00", "下单数量": "1", "收货地区": "北京 北京市 海淀区"},
        {"订单编号": "JY501", "客户网名": "测试戊", "收件人手机": "13800000005", "交易时间": T,
         "付款时间": T, "订单状态": "已完成", "订单退款状态": "无退款", "订单支付金额": "19.00",
         "分摊后总价": "19.00", "下单数量": "1", "收货地区": "北京 北京市 海淀区"},
    ])
    o = orders(load(path, "erp_wdt_orders"))
    assert o["status"].to_dict() == {"JY500": "refunded", "JY501": "paid"}
