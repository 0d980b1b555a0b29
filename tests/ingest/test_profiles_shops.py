"""Shop exports (淘宝/天猫, 京东, 有赞, 抖店, 拼多多, 微信小店) from their real header rows, with
synthetic people: per-order amounts, statuses, buyer links and provinces."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from privmigrate.examples import Sheet, write_xlsx
from privmigrate.ingest.formats import choose_profile, header_score
from privmigrate.ingest.orders import BuiltOrders, build_orders
from privmigrate.ingest.readers import read_export
from tests.ingest import profile_headers as H

T = "2026-03-01 10:00:00"


def load(path: Path, expected: str) -> BuiltOrders:
    raw = read_export(path, header_score=header_score)
    profile = choose_profile(list(raw.frame.columns), source=None, mapping={}, file_label="t")
    assert profile.name == expected
    return build_orders(raw, profile)


def csv(tmp_path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    # lists, not dicts: duplicated names (有赞's two 分销员) survive
    frame = pd.DataFrame([[r.get(h, "") for h in header] for r in rows], columns=header)
    path = tmp_path / "export.csv"
    path.write_bytes(frame.to_csv(index=False).encode("utf-8"))
    return path


def orders(built: BuiltOrders) -> pd.DataFrame:
    assert built.rejects.empty, built.rejects.to_dict("records")
    return built.orders.set_index("order_id")


def test_taobao_2021_export_with_its_status_words(tmp_path: Path) -> None:
    common = {"收货人姓名": "测试甲", "收货地址": "广东省 深圳市 南山区 测试路1号",
              "订单创建时间": T, "订单付款时间": T, "宝贝标题": "面膜"}
    path = csv(tmp_path, H.TAOBAO_2021, [
        {**common, "订单编号": "3001", "买家会员名": "tb测试甲", "买家会员昵称": "测试甲",
         "买家实际支付金额": "128.50", "订单状态": "已结算", "联系手机": "13800000001"},
        {**common, "订单编号": "3002", "买家会员名": "tb测试乙", "买家会员昵称": "测试乙",
         "买家实际支付金额": "59.00", "订单状态": "待评价", "联系手机": "13800000002"},
        {**common, "订单编号": "3003", "买家会员名": "tb测试丙", "买家实际支付金额": "0.00",
         "订单状态": "交易关闭", "订单关闭原因": "买家未付款", "订单付款时间": ""},
        {**common, "订单编号": "3004", "买家会员名": "tb测试丁", "买家实际支付金额": "20.00",
         "订单状态": "等待买家确认收货,即:卖家已发货", "联系手机": "13800000004"},
    ])
    o = orders(load(path, "taobao"))
    assert o["amount_fen"].to_dict() == {"3001": 12850, "3002": 5900, "3003": 0, "3004": 2000}
    assert o["status"].to_dict() == {"3001": "paid", "3002": "paid", "3003": "unpaid",
                                     "3004": "paid"}
    assert o.loc["3001", "buyer_id"] == "tb测试甲" and o.loc["3001", "phone"] == "13800000001"
    assert (o["province"] == "广东省").all() and o.loc["3001", "city"] == "深圳市"
    assert (o["source"] == "taobao").all()


def test_taobao_item_report_sums_its_sub_orders(tmp_path: Path) -> None:
    path = csv(tmp_path, H.TAOBAO_ITEMS, [
        {"子订单编号": "30011", "主订单编号": "3001", "标题": "面膜", "价格": "15.00",
         "购买数量": "2", "订单状态": "交易成功", "买家实际支付金额": "30.00",
         "订单创建时间": T, "订单付款时间": T},
        {"子订单编号": "30012", "主订单编号": "3001", "标题": "精华", "价格": "20.00",
         "购买数量": "1", "订单状态": "交易成功", "买家实际支付金额": "20.00",
         "订单创建时间": T, "订单付款时间": T},
        {"子订单编号": "30021", "主订单编号": "3002", "标题": "面霜", "价格": "99.00",
         "购买数量": "1", "订单状态": "交易关闭", "买家实际支付金额": "99.00",
         "退款状态": "退款成功",
         "退款金额": "99.00", "订单创建时间": T, "订单付款时间": T},
    ])
    o = orders(load(path, "taobao_items"))
    assert o.loc["3001", "amount_fen"] == 5000  # its two lines
    assert o["status"].to_dict() == {"3001": "paid", "3002": "refunded"}
    # no buyer column: kept apart from the 订单报表's orders, linked to no one
    assert (o["source"] == "taobao_items").all() and o["buyer_id"].isna().all()


def test_jd_export(tmp_path: Path) -> None:
    common = {"商品名称": "面膜", "下单时间": T, "付款确认时间": T, "客户姓名": "测试甲",
              "客户地址": "北京 北京市 朝阳区 测试路1号"}
    path = csv(tmp_path, H.JD, [
        {**common, "订单号": "2900000001", "应付金额": "299.00", "订单状态": "完成",
         "下单帐号": "jd_测试甲", "联系电话": "1******6198"},
        {**common, "订单号": "2900000002", "应付金额": "99.00", "订单状态": "已取消",
         "下单帐号": "jd_测试乙"},
    ])
    o = orders(load(path, "jd"))
    assert o["amount_fen"].to_dict() == {"2900000001": 29900, "2900000002": 9900}
    assert o["status"].to_dict() == {"2900000001": "paid", "2900000002": "cancelled"}
    assert o.loc["2900000001", "buyer_id"] == "jd_测试甲"
    assert o.loc["2900000001", "phone_status"] == "masked"


def test_youzan_orders(tmp_path: Path) -> None:
    common = {"订单创建时间": T, "买家付款时间": T, "收货人省份": "浙江省", "收货人城市": "杭州市",
              "收货人/提货人": "测试甲"}
    path = csv(tmp_path, H.YOUZAN, [
        {**common, "订单号": "E001", "订单状态": "交易成功", "订单实付金额": "88.00",
         "买家手机号": "13800000001", "买家昵称": "测试甲"},
        {**common, "订单号": "E002", "订单状态": "交易成功", "订单实付金额": "50.00",
         "订单退款状态": "退款成功", "订单已退款金额": "50.00", "买家手机号": "13800000002"},
    ])
    o = orders(load(path, "youzan"))
    assert o.loc["E001", "amount_fen"] == 8800
    assert o["status"].to_dict() == {"E001": "paid", "E002": "refunded"}
    assert o.loc["E001", "phone"] == "13800000001" and o.loc["E001", "province"] == "浙江省"


def test_youzan_item_export_sums_its_items(tmp_path: Path) -> None:
    common = {"交易成功时间": T, "收货人/提货人": "测试甲", "收货人省份": "江苏省",
              "收货人城市": "南京市", "订单商品状态": "交易成功"}
    path = csv(tmp_path, H.YOUZAN_ITEMS, [
        {**common, "订单号": "E101", "商品名称": "面膜", "商品单价": "29.95", "商品数量": "2",
         "商品实际成交金额": "59.90", "收货人手机号/提货人手机号": "13800000001"},
        {**common, "订单号": "E101", "商品名称": "赠品", "商品单价": "40.10", "商品数量": "1",
         "商品实际成交金额": "40.10", "收货人手机号/提货人手机号": "13800000001"},
        {**common, "订单号": "E102", "商品名称": "精华", "商品数量": "1",
         "商品实际成交金额": "66.00",
         "商品退款状态": "退款成功", "商品已退款金额": "66.00",
         "收货人手机号/提货人手机号": "13800000002"},
    ])
    o = orders(load(path, "youzan_items"))
    assert o.loc["E101", "amount_fen"] == 10000  # 59.90 + 40.10
    assert o["status"].to_dict() == {"E101": "paid", "E102": "refunded"}
    assert o.loc["E101", "phone"] == "13800000001" and o.loc["E101", "province"] == "江苏省"
    assert (o["source"] == "youzan").all()  # the same orders as the 订单维度 export


def test_douyin_line_item_report_sums_per_sub_order_amounts(tmp_path: Path) -> None:
    common = {"订单提交时间": "2026/03/01 10:00:00", "支付完成时间": "2026/03/01 10:00:05",
              "收件人": "测试甲", "省": "广东省", "市": "广州市", "订单状态": "已完成"}
    path = csv(tmp_path, H.DOUYIN, [
        {**common, "主订单编号": "6901", "子订单编号": "69011", "选购商品": "面膜",
         "商品数量": "1", "订单应付金额": "1,099.00", "收件人手机号": "13800000001"},
        {**common, "主订单编号": "6901", "子订单编号": "69012", "选购商品": "赠品",
         "商品数量": "1", "订单应付金额": "0.00", "收件人手机号": "13800000001"},
        {**common, "主订单编号": "6902", "子订单编号": "69021", "选购商品": "精华",
         "商品数量": "1", "订单应付金额": "199.00", "收件人手机号": "138****0002",
         "订单状态": "已关闭"},
    ])
    o = orders(load(path, "douyin"))
    assert o["amount_fen"].to_dict() == {"6901": 109900, "6902": 19900}
    assert o.loc["6901", "status"] == "paid" and o.loc["6901", "phone"] == "13800000001"
    assert o.loc["6902", "phone_status"] == "masked"
    assert o.loc["6901", "province"] == "广东省"


def test_douyin_custom_report_without_payment_time(tmp_path: Path) -> None:
    common = {"收件人": "##密文", "收件人手机号": "$$密文", "详细地址": "##密文",
              "订单提交时间": "2026-09-22 00:54:10"}
    path = csv(tmp_path, H.DOUYIN_CUSTOM, [
        {**common, "主订单编号": "6917926768823643751", "子订单编号": "6917926768823643751",
         "选购商品": "辣丝丝", "商品数量": "1", "订单应付金额": "28.90", "订单状态": "已完成",
         "售后状态": "退款成功"},
        {**common, "主订单编号": "6917926768823643752", "子订单编号": "6917926768823643752",
         "选购商品": "辣丝丝", "商品数量": "1", "订单应付金额": "20.00", "订单状态": "已发货",
         "售后状态": "-"},
    ])
    o = orders(load(path, "douyin"))
    assert o["status"].to_dict() == {"6917926768823643751": "refunded",
                                     "6917926768823643752": "paid"}
    assert o.loc["6917926768823643752", "paid_at"] == pd.Timestamp("2026-09-22 00:54:10")
    assert o.loc["6917926768823643752", "amount_fen"] == 2000
    assert (o["phone_status"] == "masked").all()  # ciphertext is no phone


def test_pdd_export_has_no_buyer_key(tmp_path: Path) -> None:
    common = {"商品": "面膜", "支付时间": T, "订单成交时间": T, "省": "四川省", "市": "成都市"}
    path = csv(tmp_path, H.PDD, [
        {**common, "订单号": "260301-123456789", "订单状态": "已签收", "用户实付金额(元)": "39.90",
         "售后状态": "无售后或售后取消"},
        {**common, "订单号": "260301-123456790", "订单状态": "已发货，退款成功",
         "用户实付金额(元)": "19.90", "售后状态": "退款成功"},
    ])
    o = orders(load(path, "pdd"))
    assert o["amount_fen"].to_dict() == {"260301-123456789": 3990, "260301-123456790": 1990}
    assert o["status"].to_dict() == {"260301-123456789": "paid", "260301-123456790": "refunded"}
    assert o["buyer_id"].isna().all() and o["phone"].isna().all()
    assert (o["province"] == "四川省").all()


def test_wechat_shop_takes_the_order_total_once(tmp_path: Path) -> None:
    common = {"订单下单时间": T, "支付时间": T, "收件人姓名": "测试甲", "省": "湖北省",
              "市": "武汉市",
              "收件人手机": "13800000001", "订单实际支付金额": "100.00"}
    path = write_xlsx(tmp_path / "wx.xlsx", [Sheet("订单列表", pd.DataFrame([
        {h: r.get(h, "") for h in H.WECHAT_SHOP} for r in [
            {**common, "订单号": "3701", "订单状态": "完成", "商品名称": "面膜",
             "商品实际价格(总共)": "70.00", "商品数量": "1"},
            {**common, "订单号": "3701", "订单状态": "完成", "商品名称": "赠品",
             "商品实际价格(总共)": "30.00", "商品数量": "1"},
            {**common, "订单号": "3702", "订单状态": "订单取消", "商品名称": "面霜",
             "订单实际支付金额": "0.00", "支付时间": ""},
        ]]))])
    o = orders(load(path, "wechat_shop"))
    assert o.loc["3701", "amount_fen"] == 10000  # once per order, not per line
    assert o["status"].to_dict() == {"3701": "paid", "3702": "cancelled"}
    assert o.loc["3701", "phone"] == "13800000001" and o.loc["3701", "province"] == "湖北省"


def test_taobao_2021_masked_member_name_falls_back_to_the_nickname(tmp_path: Path) -> None:
    path = csv(tmp_path, H.TAOBAO_2021, [
        {"订单编号": "3101", "买家会员名": "t**1", "买家会员昵称": "测试甲的昵称",
         "买家实际支付金额": "10.00", "订单状态": "交易成功", "订单创建时间": T, "订单付款时间": T,
         "收货地址": "上海 上海市 浦东新区 测试路2号"},
    ])
    assert orders(load(path, "taobao")).loc["3101", "buyer_id"] == "测试甲的昵称"


def test_pdd_blank_payment_times_date_the_order_by_its_number(tmp_path: Path) -> None:
    path = csv(tmp_path, H.PDD, [
        {"商品": "面膜", "订单号": "260517-123456789", "订单状态": "已签收", "支付时间": "",
         "订单成交时间": "", "用户实付金额(元)": "39.90", "省": "四川省"},
    ])
    built = load(path, "pdd")
    o = built.orders.set_index("order_id")
    assert o.loc["260517-123456789", "paid_at"].normalize() == pd.Timestamp("2026-05-17")
    assert o.loc["260517-123456789", "status"] == "paid"


def test_taobao_qianniu_export_without_a_payment_time(tmp_path: Path) -> None:
    path = csv(tmp_path, H.TAOBAO_QIANNIU, [
        {"订单编号": "3201", "总金额": "66.00", "订单状态": "交易成功", "订单创建时间": T,
         "收货地址": "测试甲，86-13800000001，江苏省 扬州市 广陵区 测试路3号", "商品标题": "面膜"},
        {"订单编号": "3202", "总金额": "10.00", "订单状态": "等待买家付款", "订单创建时间": T,
         "收货地址": "测试乙，86-13800000002，江苏省 扬州市 广陵区 测试路4号", "商品标题": "面霜"},
    ])
    built = load(path, "taobao")
    o = orders(built)
    assert o.loc["3201", "paid_at"] == pd.Timestamp(T)  # dated by its order time
    assert o["status"].to_dict() == {"3201": "paid", "3202": "unpaid"}
    assert o.loc["3201", "phone"] == "13800000001" and o.loc["3201", "name"] == "测试甲"
    assert o.loc["3201", "province"] == "江苏省" and o.loc["3201", "amount_fen"] == 6600
