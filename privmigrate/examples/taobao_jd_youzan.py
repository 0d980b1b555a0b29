"""淘宝 (legacy CSV and 千牛 xlsx), 京东 and 有赞 exports in their real shapes and quirks."""

from __future__ import annotations

import numpy as np
import pandas as pd

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

TAOBAO_LEGACY_HEADER = _names(
    "订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,买家支付积分,"
    "总金额,返点积分,买家实际支付金额,买家实际支付积分,订单状态,买家留言,"
    "收货人姓名,收货地址,运送方式,联系电话,联系手机,订单创建时间,订单付款时间,"
    "宝贝标题,宝贝种类,物流单号,物流公司,订单备注,宝贝总数量,分销商Id,"
    "分销商店铺名称,订单关闭原因,卖家服务费,买家服务费,发票抬头,定金排名,"
    "修改后的sku,修改后的收货地址,异常信息,卡券抵扣,积分抵扣,"
    "是否是O2O交易,打款商家金额,退款金额"
)


def _taobao_status(o: pd.DataFrame, end: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    recent = (end - o["ordered_at"]) < pd.Timedelta(days=12)
    status = _s("交易成功", o.index)
    status[recent] = "卖家已发货，等待买家确认"
    status[recent & ((end - o["ordered_at"]) < pd.Timedelta(days=3))] = "买家已付款，等待卖家发货"
    reason = _s("", o.index)
    out = o["outcome"]
    status[out == "refunded"] = "交易关闭"
    reason[out == "refunded"] = "退款"
    status[out == "unpaid"] = "交易关闭"
    reason[out == "unpaid"] = "买家未付款"
    status[(out == "unpaid") & recent] = "等待买家付款"
    reason[(out == "unpaid") & recent] = ""
    status[out == "cancelled"] = "交易被淘宝关闭"
    return status, reason


def _taobao_phones(rng: np.random.Generator, o: pd.DataFrame, *, quote: str) -> pd.Series:
    u = rng.random(len(o))
    phones = quote + o["phone"]
    phones[u < 0.12] = _virtual(rng, int((u < 0.12).sum())).to_numpy()
    masked = (u >= 0.12) & (u < 0.2)
    phones[masked] = _masked(o["phone"][masked], "3+4+4")
    return phones


def taobao_legacy(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """淘宝 ExportOrderList CSV rows (GBK on disk)."""
    rng = w.rng
    status, reason = _taobao_status(o, w.end)
    amount = _yuan(o["amount_fen"]).to_numpy()
    pay_fmt = np.where(rng.random(len(o)) < 0.3, "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S")
    paid = _time(o["paid_at"])
    slash = pay_fmt == "%Y/%m/%d %H:%M"
    paid[slash] = _time(o["paid_at"][slash], "%Y/%m/%d %H:%M")
    frame = _full(o, TAOBAO_LEGACY_HEADER, {
        "订单编号": '="' + o["tb_id"] + '"',
        "买家会员名": o["nick"],
        "买家支付宝账号": "**",
        "买家应付货款": _s(amount, o.index),
        "买家应付邮费": "0.00",
        "买家支付积分": "0",
        "总金额": _s(amount, o.index),
        "返点积分": "0",
        "买家实际支付金额": _s(np.where(o["outcome"].isin(["unpaid", "cancelled"]), "0.00",
                                         amount), o.index),
        "买家实际支付积分": "0",
        "订单状态": status,
        "收货人姓名": o["name"],
        "收货地址": _address(o),
        "运送方式": "快递",
        "联系手机": _taobao_phones(rng, o, quote="'"),
        "订单创建时间": _time(o["ordered_at"]),
        "订单付款时间": paid,
        "宝贝标题": _product_names(o),
        "宝贝种类": "1",
        "宝贝总数量": o["qty"].astype(str),
        "订单关闭原因": reason.where(reason != "", "订单未关闭"),
        "是否是O2O交易": "否",
        "打款商家金额": _s(_yuan(o["amount_fen"] - o["refund_fen"]).to_numpy() + "元", o.index),
        "退款金额": _s(_yuan(o["refund_fen"]).to_numpy(), o.index),
    })
    frame.loc[o["outcome"].isin(["unpaid", "cancelled"]).to_numpy(), "打款商家金额"] = "0.00元"
    # a few bad cells, as hand-edited exports have
    bad = rng.random(len(o)) < 0.01
    if len(o) >= 10:
        bad[len(o) // 2] = True
    frame.loc[bad, "买家实际支付金额"] = "12,3x"
    return frame


TAOBAO_NEW_HEADER = _names(
    "订单编号,支付单号,买家会员名,买家应付货款,总金额,买家实付金额,订单状态,"
    "收货地址,订单创建时间,买家付款时间,商品标题,宝贝总数量,退款金额,"
    "订单关闭原因"
)


def taobao_new(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """千牛 xlsx: the receiver packed into 收货地址 as ``姓名，86-139…，省 市 区 详细``."""
    status, reason = _taobao_status(o, w.end)
    phone = _taobao_phones(w.rng, o, quote="86-")
    amount = _s(_yuan(o["amount_fen"]).to_numpy(), o.index)
    return _full(o, TAOBAO_NEW_HEADER, {
        "订单编号": o["tb_id"],
        "支付单号": _ids(w.rng, 2_088_000_000_000_000_000, len(o)).to_numpy(),
        "买家会员名": o["nick"],
        "买家应付货款": amount, "总金额": amount,
        "买家实付金额": amount.where(~o["outcome"].isin(["unpaid", "cancelled"]), "0.00"),
        "订单状态": status,
        "收货地址": o["name"] + "，" + phone + "，" + _address(o),
        "订单创建时间": _time(o["ordered_at"]),
        "买家付款时间": _time(o["paid_at"]),
        "商品标题": _product_names(o),
        "宝贝总数量": o["qty"].astype(str),
        "退款金额": _s(_yuan(o["refund_fen"]).to_numpy(), o.index),
        "订单关闭原因": reason,
    })


JD_HEADER = _names(
    "订单号,商品ID,商品名称,订购数量,下单时间,京东价,订单金额,商家应收,"
    "订单状态,订单类型,下单帐号,客户姓名,客户地址,联系电话,订单备注,"
    "付款确认时间,订单完成时间"
)


def jd(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """京东 xlsx: masked 1******6198 phones, 下单帐号, 商家应收 with a （…） note."""
    out = o["outcome"]
    status = _s("完成", o.index)
    status[(w.end - o["ordered_at"]) < pd.Timedelta(days=8)] = "等待确认收货"
    status[out.isin(["refunded", "cancelled"])] = "已取消"
    status[out == "unpaid"] = "等待付款"
    amount = _s(_yuan(o["amount_fen"]).to_numpy(), o.index)
    return _full(o, JD_HEADER, {
        "订单号": _ids(w.rng, 280_000_000_000, len(o), 97).to_numpy(),
        "商品ID": _s(100_012_000_000 + o["product"].to_numpy(), o.index).astype(str),
        "商品名称": _product_names(o),
        "订购数量": o["qty"].astype(str),
        "下单时间": _time(o["ordered_at"]),
        "京东价": amount,
        "订单金额": amount,
        "商家应收": amount + "（系统计算中，该值仅供参考）",
        "订单状态": status,
        "订单类型": "普通订单",
        "下单帐号": "jd_" + o["nick"],
        "客户姓名": o["name"].str[:1] + "**",
        "客户地址": _address(o),
        "联系电话": _masked(o["phone"], "1+6+4"),
        "付款确认时间": _time(o["paid_at"]),
    })


YOUZAN_HEADER = _names(
    "订单号,销售渠道,归属店铺,订单类型,订单状态,推广方式,订单来源,"
    "订单创建时间,买家付款时间,交易成功时间,付款方式,支付流水号,商品金额合计,"
    "运费,店铺优惠合计,应收订单金额,订单实付金额,支付优惠合计,订单实收金额,"
    "订单抵用积分数,店铺优惠方式,支付优惠方式,全部商品名称,商品种类数,"
    "订单配送方式,同城送达时间/提货时间,收货人省份,收货人城市,收货人地区,"
    "详细收货地址/提货地址,收货人/提货人,收货人手机号/提货人手机号,买家备注,"
    "订单星级,买家昵称,买家是否会员,买家手机号,下单网点,收银员,分销员,"
    "销售导购,专属导购,订单退款状态,订单已退款金额,商家订单备注,桌号,挂账主体,"
    "挂账手机号,团长订单,订单风险标签,分销员,分销员手机号,分销员所属店铺,"
    "分销员所属团队,分销员所属分组,分销员等级,订单佣金类型,订单佣金金额,"
    "订单下级卖货提成类型,订单下级卖货提成金额"
)


def youzan(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """有赞 orders (UTF-8 CSV): 订单退款状态/订单已退款金额 override 订单状态."""
    out = o["outcome"]
    status = _s(np.where(w.rng.random(len(o)) < 0.5, "交易成功", "交易完成"), o.index)
    status[(w.end - o["ordered_at"]) < pd.Timedelta(days=5)] = "待发货"
    status[out.isin(["unpaid", "cancelled"])] = "交易关闭"
    refund_status = _s("", o.index)
    refund_status[out == "refunded"] = "退款成功"
    refund_status[out == "partial"] = "部分退款成功"
    amount = _s(_yuan(o["amount_fen"]).to_numpy(), o.index)
    ids = _ids(w.rng, 0, len(o), 7)
    frame = _full(o, YOUZAN_HEADER, {
        "订单号": "E2024" + ids.str.zfill(15).str[-15:],
        "销售渠道": "微商城", "归属店铺": "测试旗舰店", "订单类型": "普通订单",
        "订单状态": status, "订单来源": "微信",
        "订单创建时间": _time(o["ordered_at"]), "买家付款时间": _time(o["paid_at"]),
        "交易成功时间": _time(o["paid_at"] + pd.Timedelta(days=7)).where(
            status.isin(["交易成功", "交易完成"]), ""),
        "付款方式": "微信支付", "商品金额合计": amount, "运费": "0.00", "应收订单金额": amount,
        "订单实付金额": amount.where(o["paid_at"].notna(), "0.00"), "订单实收金额": amount,
        "全部商品名称": _product_names(o), "商品种类数": "1", "订单配送方式": "快递发货",
        "收货人省份": o["province"], "收货人城市": o["city"], "收货人地区": o["district"],
        "详细收货地址/提货地址": o["street"], "收货人/提货人": o["name"],
        "收货人手机号/提货人手机号": o["phone"], "买家昵称": "有赞" + o["nick"],
        "买家是否会员": "是", "买家手机号": o["phone"],
        "订单退款状态": refund_status,
        "订单已退款金额": _s(_yuan(o["refund_fen"]).to_numpy(), o.index),
    })
    return frame


YOUZAN_CUSTOMER_HEADER = _names(
    "客户姓名,客户昵称,客户手机号,客户生日,客户性别,标签,是否会员,成长值,"
    "免费等级,付费等级,权益卡,客户积分,客户储值余额,消费次数,消费金额,"
    "累计退款金额,累计退款订单数,笔单价,上次消费时间,分销员,导购员,企微好友,"
    "来源渠道,来源方式,成为客户时间,成为会员时间,成为会员店铺,公众号,"
    "公众号关注时间,最近浏览时间,微信地域,所属区域,指定时间消费次数,"
    "指定时间消费金额"
)


def youzan_customers(w: _World, yz: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """有赞 customer list: one row per customer with totals; some masked 186******05 phones."""
    paid = yz[yz["paid_at"].notna() & (yz["outcome"] != "refunded")]
    g = paid.groupby("buyer")
    agg = pd.DataFrame({
        "count": g.size(), "fen": g["amount_fen"].sum() - g["refund_fen"].sum(),
        "last": g["paid_at"].max(), "first": g["paid_at"].min(),
    })
    refunds = yz[yz["refund_fen"] > 0].groupby("buyer")["refund_fen"].agg(["sum", "size"])
    people = w.buyers.loc[agg.index]
    # customers who never bought (followed the shop, visited) are in the list too
    idle = w.buyers.loc[extra.difference(agg.index)]
    people = pd.concat([people, idle])
    agg = agg.reindex(people.index)
    n = len(people)
    rng = w.rng
    phone = people["phone"].copy()
    masked = rng.random(n) < 0.15
    masked[: min(n, 1)] = True  # even a tiny list shows the shape
    phone[masked] = _masked(phone[masked], "3+6+2")
    count = agg["count"].fillna(0).astype(int)
    fen = agg["fen"].fillna(0).astype(np.int64)
    ref = refunds.reindex(people.index)
    return _full(people, YOUZAN_CUSTOMER_HEADER, {
        "客户姓名": people["name"], "客户昵称": "有赞" + people["nick"], "客户手机号": phone,
        "客户性别": _s(np.where(rng.random(n) < 0.7, "女", "男"), people.index),
        "是否会员": "是", "客户积分": (fen // 100).astype(str),
        "消费次数": count.astype(str),
        "消费金额": _s(_yuan(fen.to_numpy()).to_numpy(), people.index),
        "累计退款金额": _s(_yuan(ref["sum"].fillna(0).to_numpy()).to_numpy(), people.index),
        "累计退款订单数": ref["size"].fillna(0).astype(int).astype(str),
        "笔单价": _s(_yuan((fen // count.clip(lower=1)).to_numpy()).to_numpy(), people.index),
        "上次消费时间": _time(agg["last"]),
        "企微好友": _s(np.where(rng.random(n) < 0.2, "是", "否"), people.index),
        "来源渠道": "微商城",
        "成为客户时间": _time(agg["first"].fillna(w.end - pd.Timedelta(days=30))),
        "所属区域": people["province"],
    })


