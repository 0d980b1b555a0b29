"""抖店, 拼多多, 视频号/微信小店, ERP (旺店通, 聚水潭) and shop-CRM exports in their real shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from privmigrate.examples.files import Sheet
from privmigrate.examples.population import (
    _address,
    _full,
    _ids,
    _masked,
    _names,
    _product_names,
    _s,
    _time,
    _virtual,
    _World,
    _yuan,
)

DOUYIN_HEADER = _names(
    "主订单编号,子订单编号,选购商品,商品ID,商家编码,商品数量,商品金额,"
    "订单提交时间,支付完成时间,订单完成时间,订单状态,发货时间,订单应付金额,"
    "运费,优惠总金额,支付方式,收件人,收件人手机号,省,市,区,街道,详细地址,"
    "商家备注,售后状态,达人昵称,小店名称"
)


def douyin(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """抖店 CSV (商品维度): one row per 子订单, 订单应付金额 with thousands separators."""
    rng = w.rng
    if len(o) and o["amount_fen"].max() < 100_000:  # at least one order shows "1,xxx.00"
        o = o.copy()
        o.loc[o["amount_fen"].idxmax(), "amount_fen"] = 129_900
    main = "69" + _ids(rng, 10**16, len(o), 13).str[1:]
    status = _s("已完成", o.index)
    status[(w.end - o["ordered_at"]) < pd.Timedelta(days=10)] = "已发货"
    after = _s("", o.index)
    out = o["outcome"]
    status[out == "refunded"] = np.where(rng.random(int((out == "refunded").sum())) < 0.5,
                                         "已关闭", "已完成")
    after[out == "refunded"] = "退款成功"
    after[out == "partial"] = "售后关闭"
    status[out == "unpaid"] = "已关闭"
    status[out == "cancelled"] = "已取消"
    u = rng.random(len(o))
    phone = _masked(o["phone"], "3+4+4")
    phone[u < 0.4] = o["phone"][u < 0.4]
    rows = _full(o, DOUYIN_HEADER, {
        "主订单编号": main, "选购商品": _product_names(o),
        "商品ID": (3_600_000_000_000_000_000 + o["product"]).astype(str),
        "商品数量": o["qty"].astype(str),
        "商品金额": _s(_yuan(o["amount_fen"]).to_numpy(), o.index),
        "订单提交时间": _time(o["ordered_at"], "%Y/%m/%d %H:%M:%S"),
        "支付完成时间": _time(o["paid_at"], "%Y/%m/%d %H:%M:%S"),
        "订单状态": status,
        "订单应付金额": _s(_yuan(o["amount_fen"], thousands=True).to_numpy(), o.index),
        "运费": "0.00", "支付方式": "抖音支付", "收件人": o["name"], "收件人手机号": phone,
        "省": o["province"], "市": o["city"], "区": o["district"], "详细地址": o["street"],
        "售后状态": after, "小店名称": "测试旗舰店",
    })
    # 商品维度: a second product line repeats the main order with its own 子订单编号
    rows = rows.loc[rows.index.repeat(o["lines"].to_numpy())]
    line = rows.groupby(level=0).cumcount()
    rows["子订单编号"] = rows["主订单编号"] + (line + 1).astype(str)
    second = (line > 0).to_numpy()
    rows.loc[second, "选购商品"] = "赠品 旅行装小样"
    rows.loc[second, "商品金额"] = "0.00"
    rows.loc[second, "订单应付金额"] = "0.00"  # per 子订单: the gift line paid nothing
    return rows.reset_index(drop=True)


PDD_HEADER = _names(
    "商品,订单号,订单状态,商品数量(件),是否审核中,支付时间,承诺发货时间,"
    "承诺送达时间,发货时间,确认收货时间,商品id,商品规格,样式ID,"
    "商品一级类目,商品二级类目,商品三级类目,商品四级类目,商家编码-规格维度,"
    "商家编码-商品维度,商家备注,买家留言,售后状态,消费者资料,订单成交时间,"
    "消费者资料上传时间,赠品名称,赠品id,赠品规格,赠品数量,团ID,团身份,"
    "是否已开始配送,配送员是否已送达,配送状态,同城是否普通快递,商品总价(元),"
    "邮费(元),店铺优惠折扣(元),平台优惠折扣(元),多多支付立减金额(元),"
    "上门安装费(元),送货入户费(元),送货入户并安装费(元),用户实付金额(元),"
    "商家实收金额(元),快递单号,快递公司,省,市,区,街道/镇,配送员手机号,"
    "是否抽奖或0元试用,是否顺丰加价,用户购买手机号,旅行类信息,充值号码,"
    "是否门店自提,门店名称,门店自定义编码,关联货品编码,货品名称,货品类型,"
    "子货品,仓库名称,仓库所在地址,海淘清关订单号,支付ID,支付方式,保税仓,"
    "是否直播间成交,是否直播间引导成交,预约配送时间,是否节能补贴,是否分期,"
    "分期期数,手续费承担方,是否无痕发货,订单来源,是否社区团购,小区送达情况,"
    "分期方式"
)


def pdd(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """拼多多 xlsx: no buyer key at all; order numbers YYMMDD-…; tabs inside cells."""
    rng = w.rng
    o = o[o["outcome"] != "unpaid"]  # unpaid orders are not exported
    out = o["outcome"]
    status = _s("已签收", o.index)
    age = w.end - o["ordered_at"]
    status[age < pd.Timedelta(days=6)] = "已发货，待签收"
    status[age < pd.Timedelta(days=2)] = "待发货"
    status[out == "refunded"] = np.where(rng.random(int((out == "refunded").sum())) < 0.5,
                                         "未发货，退款成功", "已发货，退款成功")
    status[out == "cancelled"] = "已取消"
    after = _s("无售后或售后取消", o.index)
    after[out == "refunded"] = "退款成功"
    after[out == "partial"] = "商家同意退货退款，待买家发货"
    order_no = (pd.DatetimeIndex(o["ordered_at"]).strftime("%y%m%d") + "-"
                + _ids(rng, 10**14, len(o), 11).to_numpy())
    amount = _s(_yuan(o["amount_fen"]).to_numpy(), o.index)
    return _full(o, PDD_HEADER, {
        "商品": _product_names(o), "订单号": _s(order_no, o.index) + "\t",
        "订单状态": status, "商品数量(件)": o["qty"].astype(str), "是否审核中": "否",
        "支付时间": "\t" + _time(o["paid_at"]), "订单成交时间": _time(o["paid_at"]),
        "售后状态": after, "商品总价(元)": amount, "邮费(元)": "0", "用户实付金额(元)": amount,
        "商家实收金额(元)": amount, "省": o["province"], "市": o["city"], "区": o["district"],
        "是否抽奖或0元试用": "否", "是否顺丰加价": "否", "支付方式": "微信",
        "是否直播间成交": "否", "订单来源": "拼多多",
    })


WECHAT_HEADER = _names(
    "订单号,订单下单时间,订单发货时间,订单确认收货时间,订单完成结算时间,"
    "订单状态,发货方式,收件人姓名,收件人地址,省,市,区,收件人手机,买家备注,"
    "商家备注,打标颜色,商品总价,订单实际支付金额,订单实际收款金额,订单运费,"
    "商品优惠,跨店优惠,商品改价,积分抵扣,支付方式,支付时间,交易单号,物流公司,"
    "快递单号,技术服务费,技术服务费（将以人气卡形式返还）,运费险预计投保费用,"
    "带货方式,带货账号类型,带货账号昵称,带货费用渠道,带货费用类型,带货费用,"
    "带货佣金率,礼物单号,商品名称,商品编码(平台),商品编码(自定义),"
    "SKU编码(自定义),商品属性,商品价格(单件),商品实际价格(单件),"
    "商品实际价格(总共),是否预售,商品数量,商品平台券优惠,商品平均运费,"
    "定制信息,定制预览图,商品发货,商品售后,商品已退款金额,带货ID,"
    "企微企业ID,企微工号,导购最近分享时间,企业微信加密id,企微备注,"
    "活动商家补贴"
)


def wechat(w: _World, o: pd.DataFrame) -> list[Sheet]:
    """视频号/微信小店 xlsx: one row per line item; WeCom-linked buyers carry 企业微信加密id."""
    rng = w.rng
    out = o["outcome"]
    status = _s("已完成", o.index)
    status[(w.end - o["ordered_at"]) < pd.Timedelta(days=7)] = "待收货"
    status[out == "unpaid"] = "待付款"
    status[out == "cancelled"] = "已取消"
    linked = rng.random(len(o)) < 0.3
    enc = "wm" + pd.Series(o["_b"].to_numpy() * 7919 + 104729).map("{:012x}".format).to_numpy()
    rows = _full(o, WECHAT_HEADER, {
        "订单号": "37" + _ids(rng, 10**17, len(o), 17).str[1:],
        "订单下单时间": _time(o["ordered_at"]), "订单状态": status, "发货方式": "快递",
        "收件人姓名": o["name"], "收件人地址": _address(o),
        "省": o["province"], "市": o["city"], "区": o["district"],
        "收件人手机": o["phone"],
        "订单实际支付金额": _s(_yuan(o["amount_fen"]).to_numpy(), o.index),
        "订单实际收款金额": _s(_yuan(o["amount_fen"]).to_numpy(), o.index),
        "支付方式": "微信支付", "支付时间": _time(o["paid_at"]),
        "商品数量": o["qty"].astype(str),
        "企业微信加密id": _s(np.where(linked, enc, ""), o.index),
        "企微工号": _s(np.where(linked, "sales" + pd.Series(
            rng.integers(1, 9, len(o))).astype(str).to_numpy(), ""), o.index),
        "企微企业ID": _s(np.where(linked, "ww0000000000test", ""), o.index),
    })
    fen = o["amount_fen"].to_numpy()
    refund = o["refund_fen"].to_numpy()
    rows["_line_fen"] = fen
    rows["_line_refund"] = refund
    rows = rows.loc[rows.index.repeat(o["lines"].to_numpy())]
    line = rows.groupby(level=0).cumcount().to_numpy()
    two = rows.index.duplicated(keep=False)
    # two lines: the first carries the money split 70/30, refunds stay on line one
    first_share = np.where(two, rows["_line_fen"] * 7 // 10, rows["_line_fen"])
    line_fen = np.where(line == 0, first_share, rows["_line_fen"] - first_share)
    full = (rows["_line_refund"] >= rows["_line_fen"]).to_numpy() & (rows["_line_fen"] > 0
                                                                       ).to_numpy()
    line_refund = np.where(full, line_fen,
                           np.where(line == 0, np.minimum(rows["_line_refund"], first_share), 0))
    rows["商品名称"] = np.where(line == 0, _product_names(o).reindex(rows.index).to_numpy(),
                             "赠品 旅行装小样")
    rows["商品实际价格(总共)"] = _yuan(line_fen).to_numpy()
    rows["商品售后"] = np.where(line_refund > 0, "退款成功", "")
    rows["商品已退款金额"] = np.where(line_refund > 0, _yuan(line_refund).to_numpy(), "")
    rows = rows.drop(columns=["_line_fen", "_line_refund"]).reset_index(drop=True)
    after = rows[rows["商品售后"] != ""][["订单号", "商品名称", "商品已退款金额"]].rename(
        columns={"商品已退款金额": "退款金额"}).assign(售后状态="退款成功")
    return [Sheet("订单列表", rows, frozenset({"收件人手机"})), Sheet("售后单", after)]


# 旺店通 销售出库明细, as a real-file importer reads it (docs/load.md): 货品成交价 is the unit
# price, 货品成交总价 the line total.
WDT_HEADER = _names(
    "订单编号,原始单号,原始子单号,子单原始单号,订单类别,订单来源,支付账号,出库单编号,仓库,店铺,"
    "出库单状态,出库状态,商家编码,货品编号,货品名称,货品简称,品牌,分类,规格码,规格名称,条码,"
    "货品数量,单位,辅助数量,辅助单位,货品原单价,货品原总金额,订单总优惠,订单邮费,分摊邮费,"
    "货品成交价,货品成交总价,货品总优惠,货到付款金额,应收金额,子单应收金额,客户网名,收货人,"
    "收货地区,收货地址,收件人手机,收件人电话,物流公司,需开发票,标记名称,下单时间,支付时间,"
    "创建时间,发货时间,赠品方式,买家留言,客服备注,备注,打印备注,来源组合装编码,来源组合装名称,"
    "来源组合装数量,出库标签,订单标签,单品零售价,分销商名称,分销商编号,已付,分销原始单号"
)


def _wdt_prices(o: pd.DataFrame) -> dict[str, pd.Series]:
    """货品成交价 (unit, rounded to the fen) and 货品成交总价 (the line's paid total)."""
    qty = o["qty"].clip(lower=1)
    unit = (o["amount_fen"] / qty).round().astype("int64")
    return {"货品数量": o["qty"].astype(str),
            "货品成交价": _s(_yuan(unit).to_numpy(), o.index),
            "货品成交总价": _s(_yuan(o["amount_fen"]).to_numpy(), o.index)}


def erp_wdt(w: _World, o: pd.DataFrame, shop: pd.DataFrame | None = None) -> pd.DataFrame:
    """旺店通-style ERP: 合计 row, 付款时间 0000-00-00, virtual numbers, phones in 打印备注.

    ``shop`` (淘宝 orders with their ``tb_id``) are re-exported under the ERP's own numbers
    with 子单原始单号 = the 淘宝 number, as an ERP connected to the 天猫 shop holds them; a
    refund made on 淘宝 after shipping still shows 已完成 here.
    """
    rng = w.rng
    o = o[o["outcome"] != "unpaid"]
    n = len(o)
    status = _s(np.where(rng.random(n) < 0.5, "已发货", "已完成"), o.index)
    status[o["outcome"].isin(["refunded", "cancelled"])] = "已取消"
    u = rng.random(n)
    phone = o["phone"].copy()
    virtual = u < 0.2
    phone[virtual] = _virtual(rng, int(virtual.sum())).to_numpy()
    masked = (u >= 0.2) & (u < 0.3)
    phone[masked] = _masked(o["phone"][masked], "3+4+4")
    note = _s("", o.index)
    note[virtual] = "顾客要求电话联系 " + o["phone"][virtual]
    shipped = o["paid_at"] + pd.Timedelta(hours=20)
    paid = _time(o["paid_at"])
    zero = (rng.random(n) < 0.1) & o["paid_at"].notna().to_numpy()
    if n and not zero.any() and o["paid_at"].notna().any():
        zero[np.flatnonzero(o["paid_at"].notna().to_numpy())[0]] = True
    paid[zero] = "0000-00-00"
    ids = _ids(rng, 2_024_000_000, n, 17)
    rows = _full(o, WDT_HEADER, {
        "客户网名": o["nick"], "订单编号": "JY" + ids, "原始单号": "", "子单原始单号": "",
        "收货人": o["name"], "收货地址": o["street"], "收件人手机": phone,
        "下单时间": _time(o["ordered_at"]), "发货时间": _time(shipped), "支付时间": paid,
        "收货地区": o["province"] + " " + o["city"] + " " + o["district"],
        "打印备注": note, **_wdt_prices(o),
        "货品名称": _product_names(o), "店铺": "测试官方商城", "仓库": "华东仓",
        "订单类别": "网店销售", "出库单状态": status,
    })
    rows["原始子单号"] = ("S" + ids).to_numpy()
    if shop is not None and len(shop):
        again = _full(shop, WDT_HEADER, {
            "客户网名": shop["nick"], "订单编号": "JT" + shop["tb_id"],
            "原始单号": shop["tb_id"], "子单原始单号": shop["tb_id"],
            "原始子单号": "S" + shop["tb_id"] + "1",
            "收货人": shop["name"], "收货地址": shop["street"], "收件人手机": shop["phone"],
            "发货时间": _time(shop["paid_at"] + pd.Timedelta(hours=20)),
            "支付时间": _time(shop["paid_at"]),
            "收货地区": shop["province"] + " " + shop["city"] + " " + shop["district"],
            **_wdt_prices(shop),
            "货品名称": _product_names(shop), "店铺": "测试天猫旗舰店", "仓库": "华东仓",
            "订单类别": "网店销售", "出库单状态": "已完成",
        })
        rows = pd.concat([rows, again], ignore_index=True)
        o = pd.concat([o, shop[o.columns.intersection(shop.columns)]])
    total = o["amount_fen"].sum()
    summary = pd.DataFrame([{c: "" for c in WDT_HEADER}])
    summary["订单编号"] = "合计:"
    summary["货品数量"] = str(int(o["qty"].sum()))
    summary["货品成交总价"] = _yuan([total]).iloc[0]
    return pd.concat([rows, summary], ignore_index=True)


JST_HEADER = _names(
    "线上订单号,内部订单号,店铺,状态,订单日期,付款日期,买家账号,收货人,"
    "收货手机,省,市,区县,已付金额,应付金额,商品名称,数量,快递公司,快递单号,"
    "产品分类,成本价"
)


def erp_jst(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """聚水潭-style ERP xlsx (a title line above the header)."""
    out = o["outcome"]
    status = _s("已发货", o.index)
    status[out.isin(["refunded", "cancelled"])] = "已取消"
    status[out == "unpaid"] = "待付款"
    amount = _s(_yuan(o["amount_fen"]).to_numpy(), o.index)
    return _full(o, JST_HEADER, {
        "线上订单号": _ids(w.rng, 5_000_000_000_000, len(o), 31),
        "内部订单号": _s((np.arange(len(o)) + 100001).astype(str), o.index),
        "店铺": "测试小程序店", "状态": status,
        "订单日期": _time(o["ordered_at"]), "付款日期": _time(o["paid_at"]),
        "买家账号": "jst_" + o["nick"], "收货人": o["name"], "收货手机": o["phone"],
        "省": o["province"], "市": o["city"], "区县": o["district"],
        "已付金额": amount.where(o["paid_at"].notna(), "0"), "应付金额": amount,
        "商品名称": _product_names(o), "数量": o["qty"].astype(str), "产品分类": "护肤",
    })


def crm(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """A shop CRM's CSV: no order numbers, only 客户编号, 手机号, 日期, 金额, 状态."""
    out = o["outcome"]
    status = _s("已完成", o.index)
    status[out == "refunded"] = "已退款"
    status[out.isin(["unpaid", "cancelled"])] = "已取消"
    return pd.DataFrame({
        "客户编号": "M" + o["_b"].astype(str).str.zfill(6),
        "手机号": o["phone"],
        "日期": _time(o["ordered_at"], "%Y-%m-%d"),
        "金额": _s(_yuan(o["amount_fen"]).to_numpy(), o.index),
        "状态": status,
    })


