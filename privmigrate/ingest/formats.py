"""One declarative profile per platform export, in one registry, and header-based detection.

A profile says which header (aliases, in order of preference) holds each canonical field,
which headers identify the platform, how its status words read, and a few shape facts
(line-item rows, a receiver packed into the address, no buyer key at all). Adding a platform
is adding a profile here; ``orders.build_orders`` does the rest.

The declarations a profile can make (all small and declarative; the machinery is in
``orders``/``readers``/``regions``):

- ``columns``: canonical field → header aliases in preference order. Where several aliases of
  a field are present, each row falls back to the next alias when its cell is blank (times,
  phones, amounts) or masked (``buyer_id``: 买家会员名 ``t**1`` → 买家会员昵称).
- ``amounts``: the amount kinds the profile trusts, in order. The first kind whose columns the
  header has decides the file's amounts:
  ``"line_total"`` a line's paid total, summed over the order's lines;
  ``"unit_price"`` × ``"quantity"``, summed over the lines (a row with a blank line total
  falls back to it when both are declared: prefer the line total);
  ``"order_total"`` an order-level total, taken once per order (the first line's);
  ``"amount"`` the historical field: order-level, or per line when ``amount_per_line``.
- ``sheet_keys``: headers that join the other sheets of a workbook onto its order sheet (千牛
  订单报表 + 发货报表 on 订单编号): a sheet that is not an order sheet itself but has one of
  these keys fills the fields the order sheet lacks (first non-blank value per order).
- ``order_id_date``: a ``strptime`` format of the date an order id starts with (拼多多
  ``260517-…`` is ``"%y%m%d"``): the day of the order when the payment time is blank.
  Time fallbacks in order: paid_at → ordered_at → order-id date → shipped_at → received_at.
- ``refund_words``: refund/after-sale cell → ``REFUND_NONE`` / ``REFUND_PARTIAL`` /
  ``REFUND_FULL`` (merged over ``REFUND_WORDS``); other cells fall back to the keywords.
- ``statuses``: status word → paid/refunded/cancelled/unpaid/closed (over ``STATUS_WORDS``).
  A word nobody knows is one summary line per word with its count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from privmigrate.errors import InputError

# Canonical fields a profile can map. Several aliases per field are tried in order; for time,
# phone and amount fields every present alias is kept, so a row can fall back to the next one
# (e.g. 付款时间 = 0000-00-00 → 发货时间).
FIELDS = (
    "order_id", "buyer_id", "name", "phone", "ordered_at", "paid_at", "amount", "status",
    "refund_status", "refund_amount", "close_reason", "product", "province", "city", "address",
    "receiver", "wecom", "order_count", "line_id", "platform_order_id",
    # Amount semantics (issue 11): a line's paid total is summed over the order's lines, an
    # order-level total is taken once per order, a unit price is multiplied by its quantity.
    "line_total", "order_total", "unit_price", "quantity",
    # Time fallbacks where the payment time is blank.
    "shipped_at", "received_at",
)
# Fields a --map may name (the user-facing subset).
MAPPABLE = FIELDS

PAID, REFUNDED, CANCELLED, UNPAID, CLOSED = "paid", "refunded", "cancelled", "unpaid", "closed"

# Amount kinds a profile can trust (``Profile.amounts``), and how each is counted per order.
AMOUNT_KINDS = ("line_total", "unit_price", "order_total", "amount")
LINE_KINDS = ("line_total", "unit_price")  # summed over an order's lines

# The times that can date a paid row when its payment time is blank (with the order-id date:
# paid_at → ordered_at → order-id date → shipped_at → received_at, see orders).
TIME_FALLBACKS = ("paid_at", "ordered_at", "shipped_at", "received_at")

# What a refund/after-sale cell says about the order's money.
REFUND_NONE, REFUND_PARTIAL, REFUND_FULL = "none", "partial", "full"


@dataclass(frozen=True)
class Profile:
    """How one platform's export maps onto the order table.

    ``name`` is the export shape (what ``--source`` names and the summary shows); ``source``
    is the platform the orders belong to in the order table. Several shapes of one
    platform share a source (旺店通's 订单明细, 订单导出 and 销售出库 are the same orders), so
    loading two of them never counts an order twice.
    """

    name: str
    title: str
    columns: Mapping[str, tuple[str, ...]]
    signature: tuple[str, ...]  # headers that must all be present to detect this profile
    required: tuple[str, ...] = ("order_id", "amount", "paid_at")
    statuses: Mapping[str, str] = field(default_factory=dict)
    amount_per_line: bool = False  # amount column is per line item: sum within an order
    aggregated: bool = False  # rows are customers with totals (有赞 customer export)
    unlinkable: bool = False  # the export has no buyer key at all (拼多多)
    address_splits_region: bool = False  # province/city from the address column (gazetteer)
    amounts: tuple[str, ...] = ("amount",)  # trusted amount kinds, in order (AMOUNT_KINDS)
    sheet_keys: tuple[str, ...] = ()  # headers joining a workbook's other sheets (订单编号)
    order_id_date: str | None = None  # strptime format of an order id's date prefix
    refund_words: Mapping[str, str] = field(default_factory=dict)  # cell → REFUND_*
    # headers whose presence rules this profile out (keeps detection unambiguous between
    # shapes of one platform that share their identifying columns)
    excludes: tuple[str, ...] = ()
    platform: str = ""  # order-table source; empty = ``name``

    def __post_init__(self) -> None:
        unknown = set(self.amounts) - set(AMOUNT_KINDS)
        assert not unknown, f"{self.name}: unknown amount kinds {unknown}"

    def amount_kind(self, header: list[str]) -> str | None:
        """The first trusted amount kind this header has columns for (unit price needs its
        quantity)."""
        found = self.resolve(header)
        for kind in self.amounts:
            if kind in found and (kind != "unit_price" or "quantity" in found):
                return kind
        return None

    @property
    def source(self) -> str:
        """The order table's ``source`` for rows of this export."""
        return self.platform or self.name

    def with_mapping(self, mapping: Mapping[str, str]) -> Profile:
        """This profile with user mappings (``--map field=column``) taking precedence."""
        columns = dict(self.columns)
        for key, column in mapping.items():
            columns[key] = (column, *[c for c in columns.get(key, ()) if c != column])
        return replace(self, columns=MappingProxyType(columns))

    def resolve(self, header: list[str]) -> dict[str, list[str]]:
        """Canonical field → the present headers for it, in preference order."""
        present = set(header)
        return {
            key: [c for c in aliases if c in present]
            for key, aliases in self.columns.items()
            if any(c in present for c in aliases)
        }

    def missing(self, header: list[str]) -> list[str]:
        """Required fields with none of their aliases in ``header`` (shown as header names)."""
        found = self.resolve(header)
        lacking = []
        for key in self.required:
            if key == "amount":  # any trusted amount kind serves
                if self.amount_kind(header) is None:
                    names = [c for k in self.amounts for c in self.columns.get(k, ())]
                    lacking.append(f"amount ({'/'.join(names or ['amount'])})")
            elif key == "paid_at":  # any time a row's payment time falls back to serves
                if not (set(found) & set(TIME_FALLBACKS) or self.order_id_date):
                    lacking.append(f"paid_at ({'/'.join(self.columns.get(key, ()) or (key,))})")
            elif key not in found:
                lacking.append(f"{key} ({'/'.join(self.columns.get(key, ()) or (key,))})")
        return lacking

    def identifies(self, header: list[str]) -> bool:
        """Its signature is all there and none of its excluding headers is."""
        present = set(header)
        return all(h in present for h in self.signature) and not any(
            h in present for h in self.excludes)


def _cols(**kw: tuple[str, ...] | str) -> Mapping[str, tuple[str, ...]]:
    out = {k: (v,) if isinstance(v, str) else v for k, v in kw.items()}
    unknown = set(out) - set(FIELDS)
    assert not unknown, unknown
    return MappingProxyType(out)


def _words(**classes: tuple[str, ...]) -> Mapping[str, str]:
    """A status vocabulary written class → words (reads like the platforms' own lists)."""
    out: dict[str, str] = {}
    for cls, words in classes.items():
        for word in words:
            assert word not in out, word
            out[word] = cls
    return MappingProxyType(out)


# 淘宝/天猫 订单状态: the export texts and the TOP API's TradeStatus descriptions (a file may
# carry either). Sources in docs/load.md; 已结算 and 待评价 are the words of real 2024+
# files reported in issue 11.
TAOBAO_STATUS = _words(
    unpaid=("等待买家付款", "没有创建支付宝交易", "没有创建外部交易（支付宝交易）",
            "外卡支付付款确认中", "国际信用卡支付付款确认中", "余额宝0元购合约中", "0元购合约中"),
    paid=("买家已付款，等待卖家发货", "等待卖家发货", "等待卖家发货,即:买家已付款", "卖家部分发货",
          "卖家已发货，等待买家确认", "等待买家确认收货", "等待买家确认收货,即:卖家已发货",
          "买家已签收",
          "买家已签收,货到付款专用", "买家已签收（货到付款专用）", "交易成功", "已结算", "待评价"),
    closed=("交易关闭",),
    refunded=("付款以后用户退款成功，交易自动关闭",),
    cancelled=("交易被淘宝关闭", "付款以前，卖家或买家主动关闭交易"),
)

# 旺店通 订单状态 (trade_status) as the open API lists it: sales.TradeQuery docs at
# open.wangdian.cn. Every state from 待客审 on is a paid order being processed; 未付款 and
# 待尾款 (a presale whose balance is not paid) are not purchases yet; 线下退款 is a refund.
WDT_STATUS = _words(
    refunded=("线下退款",),
    cancelled=("已取消",),
    unpaid=("未付款", "待尾款"),
    paid=("待转预订单(待审核)", "待转预订单", "待转已完成", "等未付", "延时审核", "预订单前处理",
          "审核前处理", "自流转待发货", "异常预订单", "换货预订单", "待处理预订单", "待分配预订单",
          "待客审", "待财审", "已审核", "已发货", "成本确认", "已过账", "已完成",
          # 出库单状态 of the 销售出库 export
          "已出库", "待审核", "待发货"),
)

# 旺店通 refund cells, as the open API lists them: the order's refund_status (无退款 / 申请退款
# / 部分退款 / 全部退款, the last two in the shared vocabulary) and a line's (无退款, 已取消,
# 已申请退款, 待退款 = the platform refunded, 等待取消 = the platform withdrew the refund,
# 退款成功, 未付款关闭).
WDT_REFUND = MappingProxyType({
    "申请退款": REFUND_NONE, "已申请退款": REFUND_NONE, "已取消": REFUND_NONE,
    "待退款": REFUND_FULL, "等待取消": REFUND_NONE, "未付款关闭": REFUND_NONE,
})

# 聚水潭 order states (the open API's WaitPay … Cancelled with their UI words).
JST_STATUS = _words(
    unpaid=("待付款",),
    paid=("已付款待审核", "已客审待财审", "发货中", "已发货", "已完成", "异常",
          "等供销商|外仓发货"),
    cancelled=("已取消", "取消", "被合并", "被拆分"),
)

PROFILES: tuple[Profile, ...] = (
    Profile(
        name="taobao",
        title="淘宝/天猫 订单报表 (ExportOrderList CSV / 商家中心 2021+ xlsx)",
        columns=_cols(
            order_id=("订单编号", "主订单编号"),
            # 2021+ exports mask 买家会员名 for many buyers and add 买家会员昵称
            buyer_id=("买家会员名", "买家会员昵称"),
            name="收货人姓名",
            phone=("联系手机", "联系电话"),
            ordered_at=("订单创建时间", "买家下单时间"),
            paid_at=("订单付款时间", "买家付款时间"),
            amount=("买家实际支付金额", "买家实付金额", "打款商家金额", "总金额"),
            order_total=("买家实际支付金额", "买家实付金额", "打款商家金额", "总金额"),
            quantity="宝贝总数量",
            status=("订单状态", "交易状态"),
            refund_status=("履约/售后状态", "退款状态"),
            refund_amount="退款金额",
            close_reason="订单关闭原因",
            product=("宝贝标题", "商品标题"),
            address="收货地址",
            receiver="收货地址",
            shipped_at="发货时间",
            received_at="确认收货时间",
        ),
        signature=("订单编号", "收货地址"),
        amounts=("order_total",),
        # 千牛's 订单报表 + 发货报表/销售明细 sheets of one workbook share 订单编号
        sheet_keys=("订单编号",),
        statuses=TAOBAO_STATUS,
        address_splits_region=True,
    ),
    Profile(
        name="taobao_items",
        title="淘宝/天猫 宝贝报表 / 子订单 (ExportOrderDetailList, 商家中心 订单表商品)",
        columns=_cols(
            order_id=("主订单编号", "订单编号"),
            line_id="子订单编号",
            ordered_at="订单创建时间",
            paid_at="订单付款时间",
            amount="买家实际支付金额",
            line_total="买家实际支付金额",
            unit_price="价格",
            quantity="购买数量",
            status="订单状态",
            refund_status="退款状态",
            refund_amount=("退款金额", "买家退款金额"),
            product="标题",
        ),
        signature=("标题", "购买数量", "订单状态"),
        amounts=("line_total", "unit_price"),
        statuses=TAOBAO_STATUS,
        amount_per_line=True,
        # no buyer column: its orders cannot reach a customer, and they stay apart from the
        # 订单报表's (source taobao_items), so loading both never replaces a linked order
        unlinkable=True,
    ),
    Profile(
        name="jd",
        title="京东 订单导出 (京麦/商家后台 xlsx)",
        columns=_cols(
            order_id="订单号",
            buyer_id="下单帐号",
            name="客户姓名",
            phone="联系电话",
            ordered_at="下单时间",
            paid_at=("付款确认时间", "下单时间"),
            amount=("应付金额", "订单金额", "商家应收", "结算金额"),
            order_total=("应付金额", "订单金额", "商家应收", "结算金额"),
            unit_price="京东价",
            quantity="订购数量",
            status="订单状态",
            product="商品名称",
            address="客户地址",
            received_at="订单完成时间",
        ),
        signature=("订单号", "客户姓名", "客户地址"),
        amounts=("order_total",),
        statuses=_words(
            paid=("完成", "等待出库", "等待确认收货", "锁定", "暂停"),
            cancelled=("已取消",),
            unpaid=("等待付款",),
        ),
        address_splits_region=True,
    ),
    Profile(
        name="youzan",
        title="有赞 订单导出 (订单维度)",
        columns=_cols(
            order_id="订单号",
            buyer_id="买家昵称",
            name="收货人/提货人",
            phone=("买家手机号", "收货人手机号/提货人手机号"),
            ordered_at="订单创建时间",
            paid_at=("买家付款时间", "交易成功时间"),
            amount=("订单实付金额", "应收订单金额", "订单实收金额"),
            order_total=("订单实付金额", "应收订单金额", "订单实收金额"),
            status="订单状态",
            refund_status="订单退款状态",
            refund_amount="订单已退款金额",
            product="全部商品名称",
            province="收货人省份",
            city="收货人城市",
            address="详细收货地址/提货地址",
        ),
        signature=("订单号", "订单实付金额", "买家付款时间"),
        amounts=("order_total",),
        statuses=_words(
            paid=("交易成功", "交易完成", "已发货", "待发货"),
            unpaid=("待付款",),
            closed=("交易关闭", "已关闭"),
        ),
    ),
    Profile(
        name="youzan_items",
        title="有赞 订单导出 (商品维度: one row per 订单商品)",
        platform="youzan",
        columns=_cols(
            order_id="订单号",
            buyer_id="买家昵称",
            name="收货人/提货人",
            phone=("收货人手机号/提货人手机号", "买家手机号"),
            ordered_at="订单创建时间",
            paid_at=("买家付款时间", "交易成功时间"),
            amount="商品实际成交金额",
            line_total="商品实际成交金额",
            unit_price=("商品优惠后价格", "商品单价"),
            quantity="商品数量",
            status="订单商品状态",
            refund_status="商品退款状态",
            refund_amount="商品已退款金额",
            product="商品名称",
            province="收货人省份",
            city="收货人城市",
            address="详细收货地址/提货地址",
            shipped_at="商品发货时间",
        ),
        signature=("订单号", "商品实际成交金额"),
        amounts=("line_total", "unit_price"),
        statuses=_words(
            paid=("交易成功", "交易完成", "已发货", "待发货", "已签收"),
            unpaid=("待付款",),
            closed=("交易关闭", "已关闭"),
        ),
        amount_per_line=True,
    ),
    Profile(
        name="youzan_customers",
        title="有赞 客户导出 (aggregated: 消费次数/消费金额/上次消费时间)",
        columns=_cols(
            buyer_id="客户昵称",
            name="客户姓名",
            phone="客户手机号",
            paid_at="上次消费时间",
            amount="消费金额",
            refund_amount="累计退款金额",
            order_count="消费次数",
            wecom="企微好友",
            province="所属区域",
        ),
        signature=("客户手机号", "消费次数", "消费金额"),
        required=("phone", "amount", "paid_at", "order_count"),
        aggregated=True,
    ),
    Profile(
        name="douyin",
        title="抖店 订单导出 (标准报表 / 自定义报表, 商品维度 or 订单维度)",
        columns=_cols(
            order_id="主订单编号",
            line_id="子订单编号",
            name="收件人",
            phone="收件人手机号",
            ordered_at="订单提交时间",
            # a custom report may leave 支付完成时间 out: a paid order is then dated by its
            # 订单提交时间 (the ordered_at fallback, counted in the summary); 抖店 closes
            # unpaid orders within minutes
            paid_at="支付完成时间",
            # 订单应付金额 is per 子订单 in the 商品维度 report (one row per line)
            amount="订单应付金额",
            line_total="订单应付金额",
            unit_price="商品单价",
            quantity="商品数量",
            status="订单状态",
            refund_status=("售后状态", "履约/售后状态"),
            close_reason="取消原因",
            product="选购商品",
            province="省",
            city="市",
            address="详细地址",
            shipped_at="发货时间",
            received_at="订单完成时间",
        ),
        signature=("主订单编号", "订单应付金额"),
        amounts=("line_total", "unit_price"),
        statuses=_words(
            paid=("已完成", "已发货", "待发货", "已支付", "备货中", "部分发货"),
            closed=("已关闭",),
            cancelled=("已取消",),
            unpaid=("待支付", "待确认"),
        ),
        amount_per_line=True,
    ),
    Profile(
        name="pdd",
        title="拼多多 订单导出",
        columns=_cols(
            order_id="订单号",
            ordered_at="订单成交时间",
            paid_at=("支付时间", "订单成交时间"),
            amount=("用户实付金额(元)", "商家实收金额(元)"),
            order_total=("用户实付金额(元)", "商家实收金额(元)"),
            quantity="商品数量(件)",
            status="订单状态",
            refund_status="售后状态",
            product="商品",
            province="省",
            city="市",
            shipped_at="发货时间",
            received_at="确认收货时间",
        ),
        signature=("订单号", "用户实付金额(元)"),
        amounts=("order_total",),
        order_id_date="%y%m%d",  # 260517-…: the day of the order
        refund_words=MappingProxyType({"无售后或售后取消": REFUND_NONE,
                                       "商家同意退货退款，待买家发货": REFUND_NONE}),
        statuses=_words(
            paid=("待发货", "已发货，待签收", "已签收", "已收货"),
            refunded=("未发货，退款成功", "已发货，退款成功"),
            cancelled=("已取消",),
            unpaid=("待支付",),
        ),
        unlinkable=True,
    ),
    Profile(
        name="wechat_shop",
        title="微信小店/视频号小店 订单导出 (one row per line item)",
        columns=_cols(
            order_id="订单号",
            name="收件人姓名",
            phone="收件人手机",
            buyer_id="企业微信加密id",
            ordered_at="订单下单时间",
            paid_at="支付时间",
            amount="订单实际支付金额",
            order_total="订单实际支付金额",
            line_total="商品实际价格(总共)",
            unit_price="商品实际价格(单件)",
            quantity="商品数量",
            status="订单状态",
            refund_status="商品售后",
            refund_amount="商品已退款金额",
            product="商品名称",
            province="省",
            city="市",
            address="收件人地址",
            wecom=("企业微信加密id", "企微工号"),
            shipped_at="订单发货时间",
            received_at="订单确认收货时间",
        ),
        signature=("订单号", "订单实际支付金额", "收件人手机"),
        amounts=("order_total", "line_total"),
        # the order API's status list: 10 待付款, 20 待发货, 21 部分发货, 30 待收货, 100 完成,
        # 250 订单取消 (unpaid or after-sale cancellation)
        statuses=_words(
            paid=("已完成", "完成", "待发货", "部分发货", "已发货", "待收货"),
            cancelled=("已取消", "订单取消"),
            unpaid=("待付款",),
            closed=("已关闭",),
        ),
    ),
    Profile(
        name="erp_wdt",
        title="旺店通 销售出库明细 (货品成交价 is a unit price, 货品成交总价 the line total)",
        platform="erp_wdt",
        columns=_cols(
            order_id="订单编号",
            line_id=("原始子单号", "原始子订单号"),
            # the shop's own order number: the same purchase as that shop's export row
            platform_order_id=("原始单号", "子单原始单号"),
            buyer_id="客户网名",
            name=("收件人", "收货人"),
            phone=("收件人手机", "手机", "打印备注"),
            ordered_at=("下单时间", "交易时间"),
            paid_at=("付款时间", "支付时间", "发货时间"),
            amount="货品成交总价",
            line_total="货品成交总价",
            unit_price="货品成交价",
            quantity="货品数量",
            status=("出库单状态", "订单状态"),
            product="货品名称",
            address=("收货地区", "省市县"),
            shipped_at="发货时间",
        ),
        signature=("客户网名", "订单编号"),
        excludes=("分摊后总价", "订单支付金额"),
        amounts=("line_total", "unit_price"),
        refund_words=WDT_REFUND,
        statuses=WDT_STATUS,
        amount_per_line=True,
        address_splits_region=True,
    ),
    Profile(
        name="erp_wdt_detail",
        title="旺店通 订单明细 (one row per 货品; 分摊后总价 the line total)",
        platform="erp_wdt",
        columns=_cols(
            order_id="订单编号",
            line_id="原始子单号",
            platform_order_id="原始单号",
            buyer_id=("客户网名", "客户编号"),
            name="收件人",
            phone=("手机", "打印备注"),
            ordered_at="交易时间",
            paid_at=("付款时间", "发货时间"),
            amount="分摊后总价",
            line_total="分摊后总价",
            unit_price=("分摊后价格", "成交价"),
            quantity="数量",
            status="订单状态",
            refund_status=("订单明细退款状态", "订单退款状态"),
            product="货品名称",
            province="省",
            city="市",
            address=("省市县", "地址"),
            shipped_at="发货时间",
        ),
        signature=("客户网名", "订单编号", "分摊后总价"),
        amounts=("line_total", "unit_price"),
        refund_words=WDT_REFUND,
        excludes=("订单支付金额", "货品成交价", "货品成交总价"),
        statuses=WDT_STATUS,
        amount_per_line=True,
        address_splits_region=True,
    ),
    Profile(
        name="erp_wdt_orders",
        title="旺店通 订单导出 (订单支付金额 per order; 分摊后总价/单品支付金额 per 货品)",
        platform="erp_wdt",
        columns=_cols(
            order_id="订单编号",
            line_id="子单原始子单号",
            platform_order_id="子单原始单号",
            buyer_id=("客户网名", "客户编号"),
            name="收件人",
            phone=("收件人手机", "打印备注"),
            ordered_at="交易时间",
            paid_at=("付款时间", "发货时间"),
            amount=("分摊后总价", "单品支付金额"),
            line_total=("分摊后总价", "单品支付金额"),
            order_total="订单支付金额",
            unit_price=("分摊后价格", "成交价"),
            quantity=("实发数量", "下单数量"),
            status="订单状态",
            refund_status="订单退款状态",
            product="货品名称",
            address="收货地区",
            shipped_at="发货时间",
        ),
        signature=("客户网名", "订单编号", "订单支付金额"),
        amounts=("line_total", "order_total", "unit_price"),
        refund_words=WDT_REFUND,
        excludes=("货品成交价", "货品成交总价"),
        statuses=WDT_STATUS,
        amount_per_line=True,
        address_splits_region=True,
    ),
    Profile(
        name="erp_jst",
        title="聚水潭 订单导出",
        columns=_cols(
            order_id=("线上订单号", "内部订单号"),
            platform_order_id="线上订单号",
            buyer_id=("买家账号", "买家昵称", "买家id"),
            name=("收货人", "收件人"),
            phone=("收货手机", "手机号", "手机", "联系电话"),
            ordered_at=("订单日期", "下单时间", "下单日期"),
            paid_at=("付款日期", "付款时间", "订单日期", "下单时间"),
            amount=("已付金额", "实付金额", "应付金额", "销售金额", "付款金额"),
            order_total=("已付金额", "实付金额", "应付金额", "付款金额"),
            quantity=("数量", "销售数量"),
            status=("状态", "订单状态"),
            product=("商品名称", "产品分类"),
            province=("省", "省份"),
            city=("市", "城市"),
            shipped_at=("发货日期", "发货时间"),
        ),
        signature=("线上订单号", "内部订单号"),
        amounts=("order_total",),
        statuses=JST_STATUS,
    ),
)

GENERIC = Profile(
    name="generic",
    title="generic CSV/xlsx (map columns with --map field=column)",
    columns=_cols(
        order_id=("订单号", "订单编号", "order_id", "order_no", "orderid"),
        buyer_id=("客户编号", "客户ID", "会员ID", "会员编号", "customer_id", "buyer_id", "buyer"),
        name=("姓名", "客户姓名", "收货人", "name", "customer_name"),
        phone=("手机号", "手机", "手机号码", "联系电话", "电话", "phone", "mobile"),
        ordered_at=("下单时间", "ordered_at", "order_time", "created_at"),
        paid_at=("付款时间", "支付时间", "日期", "paid_at", "pay_time", "order_date", "date"),
        amount=("实付金额", "支付金额", "金额", "amount", "paid_amount", "total"),
        status=("订单状态", "状态", "status"),
        product=("商品名称", "商品", "product"),
        province=("省", "省份", "province"),
        city=("市", "城市", "city"),
    ),
    signature=(),
    required=("amount", "paid_at"),
)

REGISTRY: Mapping[str, Profile] = MappingProxyType(
    {p.name: p for p in (*PROFILES, GENERIC)}
)

# The built-in status vocabulary every profile shares (extended by [load.status_words]).
STATUS_WORDS: Mapping[str, str] = MappingProxyType({
    **{w: PAID for w in (
        "交易成功", "交易完成", "已完成", "完成", "已签收", "已收货", "已发货", "待发货", "待收货",
        "已付款", "已支付", "支付成功", "已出库", "paid", "completed", "complete", "success",
        "succeeded", "shipped", "delivered", "fulfilled", "done",
    )},
    **{w: REFUNDED for w in ("已退款", "退款成功", "全额退款", "退款完成", "refunded", "refund")},
    **{w: CANCELLED for w in ("已取消", "取消", "订单取消", "cancelled", "canceled", "void")},
    **{w: UNPAID for w in ("等待买家付款", "待付款", "未付款", "待支付", "unpaid", "pending",
                           "awaiting payment")},
    **{w: CLOSED for w in ("交易关闭", "已关闭", "订单关闭", "closed")},
})

# The built-in refund/after-sale cell vocabulary (extended per profile by ``refund_words``).
REFUND_WORDS: Mapping[str, str] = MappingProxyType({
    **{w: REFUND_NONE for w in ("无退款申请", "无退款", "无售后", "没有申请退款", "退款关闭",
                                "退款失败", "售后关闭", "卖家拒绝退款", "退款撤销", "无")},
    **{w: REFUND_FULL for w in ("全部退款", "全额退款", "退款成功", "已退款", "退款完成",
                                "退货退款成功", "refunded")},
    **{w: REFUND_PARTIAL for w in ("部分退款", "部分退款成功")},
})

# Substrings that decide a status word no vocabulary knows, most specific first.
STATUS_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("退款成功", REFUNDED), ("已退款", REFUNDED), ("取消", CANCELLED), ("关闭", CLOSED),
    ("待付款", UNPAID), ("未付款", UNPAID), ("待支付", UNPAID), ("成功", PAID), ("完成", PAID),
    ("发货", PAID), ("签收", PAID), ("收货", PAID), ("已付款", PAID),
)


def header_score(header: list[str]) -> int:
    """How many known header names a row contains (finds the header below a title line)."""
    return sum(1 for h in header if h in _KNOWN_HEADERS)


_KNOWN_HEADERS = frozenset(
    alias for p in REGISTRY.values() for aliases in p.columns.values() for alias in aliases)


@dataclass(frozen=True)
class Detection:
    profile: Profile
    score: int


def candidates(header: list[str]) -> list[Profile]:
    """Every profile this header identifies and can load (a real export gives exactly one)."""
    return [p for p in PROFILES if p.identifies(header) and not p.missing(header)]


def detect_profile(header: list[str]) -> Detection | None:
    """The profile whose signature is present and which maps the most of this header."""
    best: Detection | None = None
    for profile in candidates(header):
        score = sum(len(v) > 0 for v in profile.resolve(header).values()) * 10 + len(
            profile.signature
        )
        if best is None or score > best.score:
            best = Detection(profile, score)
    return best


def closest_profile(header: list[str]) -> tuple[Profile, list[str]] | None:
    """The profile this header plausibly is, and what it lacks (for the error message).

    Only a profile with two or more, and at least half, of its identifying headers present
    counts: a file that merely has an 订单号 column is not "nearly 京东".
    """
    present = set(header)

    def lack(p: Profile) -> list[str]:
        sig = [h for h in p.signature if h not in present]
        return sig + [m for m in p.missing(header) if m.split(" ")[0] not in sig]

    def share(p: Profile) -> float:
        return sum(h in present for h in p.signature) / len(p.signature)

    plausible = [p for p in PROFILES
                 if share(p) >= 0.5 and sum(h in present for h in p.signature) >= 2
                 and not any(h in present for h in p.excludes)]
    if not plausible:
        return None
    best = max(plausible, key=lambda p: (share(p), -len(lack(p)), len(p.signature)))
    return best, lack(best)


def choose_profile(
    header: list[str], *, source: str | None, mapping: Mapping[str, str], file_label: str
) -> Profile:
    """The profile for a file: the named one, the detected one, or generic with a mapping."""
    for key in mapping:
        if key not in MAPPABLE:
            raise InputError(
                f"{file_label}: --map {key}=…: unknown field {key!r}; "
                f"fields are {', '.join(MAPPABLE)}"
            )
    for key, column in mapping.items():
        if column not in header:
            raise InputError(
                f"{file_label}: --map {key}={column}: the file has no column {column!r}; "
                f"its columns are {', '.join(header[:40])}"
            )
    if source:
        if source not in REGISTRY:
            raise InputError(
                f"{file_label}: --source {source}: unknown platform; "
                f"choose one of {', '.join(REGISTRY)}"
            )
        profile = REGISTRY[source].with_mapping(mapping)
    else:
        found = detect_profile(header)
        if found is not None:
            profile = found.profile.with_mapping(mapping)
        else:
            generic = GENERIC.with_mapping(mapping)
            if not generic.missing(header) and _has_buyer_key(generic, header):
                return generic
            raise InputError(_no_profile_message(header, file_label))
    lacking = profile.missing(header)
    if lacking:
        raise InputError(
            f"{file_label}: as {profile.name} the file lacks {', '.join(lacking)}; "
            "map them with --map field=column"
        )
    return profile


def _no_profile_message(header: list[str], file_label: str) -> str:
    shown = ", ".join(header[:8]) + (f", … ({len(header)} columns)" if len(header) > 8 else "")
    hint = ("pass --source NAME (one of " + ", ".join(REGISTRY) + ") or map the columns with "
            "--map order_id=… --map paid_at=… --map amount=… --map phone=…")
    near = closest_profile(header)
    if near is not None:
        nearest, lacking = near
        return (f"{file_label}: no export profile matches its header; closest is "
                f"{nearest.name} ({nearest.title}), which needs {', '.join(lacking)}; "
                + hint)
    known = [h for h in header if h in _KNOWN_HEADERS]
    what = ("none of its columns is a column of a known export" if not known else
            f"only {', '.join(known[:6])} {'is' if len(known) == 1 else 'are'} known, which "
            "no one export is identified by")
    return (f"{file_label}: no export profile matches its header ({shown}): {what}; "
            "if it is an order export, " + hint)


def _has_buyer_key(profile: Profile, header: list[str]) -> bool:
    found = profile.resolve(header)
    return "buyer_id" in found or "phone" in found
