"""Realistic synthetic exports, one per platform, for the demo, the docs and the tests.

One synthetic population (测试 names, phones in 1380000xxxx–1389999xxxx, real province/city
names) buys on several platforms; each platform's orders are written in that platform's real
export shape with its quirks (see shared/reference/crm-exports-rfm.md Part A): GBK and ``="…"``
in the 淘宝 CSV, a receiver packed into 收货地址 in the 千牛 xlsx, masked 京东 phones, 有赞 refund
columns, 抖店 thousands separators and sub-order rows, 拼多多 tabs and no buyer key, 视频号 line
items and WeCom ids, ERP 合计 rows and 0000-00-00 pay times, a CRM CSV with no order numbers.

Everything is drawn from one seeded numpy Generator and built column-wise, so the same seed
gives byte-identical files, and 100k buyers take seconds. xlsx files are written by a small
inline-string SpreadsheetML writer (cells built with Arrow compute, no per-cell Python).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.workspace import write_bytes_atomic

# ------------------------------------------------------------------ the population

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂")
REGIONS = (
    ("广东省", "广州市", "天河区"), ("广东省", "深圳市", "南山区"), ("浙江省", "杭州市", "西湖区"),
    ("江苏省", "南京市", "鼓楼区"), ("江苏省", "苏州市", "姑苏区"),
    ("上海市", "上海市", "浦东新区"),
    ("北京市", "北京市", "朝阳区"), ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区"),
    ("山东省", "青岛市", "市南区"), ("福建省", "厦门市", "思明区"), ("河南省", "郑州市", "金水区"),
    ("湖南省", "长沙市", "岳麓区"), ("陕西省", "西安市", "雁塔区"), ("重庆市", "重庆市", "渝北区"),
    ("天津市", "天津市", "南开区"), ("辽宁省", "沈阳市", "和平区"), ("安徽省", "合肥市", "蜀山区"),
    ("云南省", "昆明市", "五华区"), ("广西壮族自治区", "南宁市", "青秀区"),
)
PRODUCTS = (
    ("玻尿酸保湿面膜 10片装", 8900), ("氨基酸洁面乳 120g", 6900), ("烟酰胺精华液 30ml", 19900),
    ("防晒霜 SPF50 50ml", 12900), ("护手霜礼盒 3支装", 9900), ("修护洗发水 500ml", 7900),
    ("身体乳 250ml", 5900), ("精华水 150ml", 25900), ("眼霜 15g", 32900), ("年货礼盒", 59900),
)
PLATFORMS = ("taobao", "jd", "youzan", "douyin", "pdd", "wechat", "erp_wdt", "erp_jst", "crm")
PLATFORM_WEIGHTS = (0.30, 0.09, 0.14, 0.14, 0.10, 0.09, 0.05, 0.05, 0.04)
PHONE_BASE = 13_800_000_000
PHONE_SPAN = 10_000_000  # 1380000xxxx … 1389999xxxx
# Order outcome shares: paid, refunded in full, refunded in part, never paid, cancelled.
OUTCOMES = ("paid", "refunded", "partial", "unpaid", "cancelled")
OUTCOME_P = (0.84, 0.06, 0.03, 0.05, 0.02)


@dataclass
class _World:
    rng: np.random.Generator
    buyers: pd.DataFrame
    orders: pd.DataFrame
    end: pd.Timestamp


def _population(rng: np.random.Generator, n: int) -> pd.DataFrame:
    step = max(PHONE_SPAN // max(n, 1), 1)
    phones = PHONE_BASE + np.arange(n, dtype=np.int64) * step + rng.integers(0, step, n)
    idx = np.arange(1, n + 1)
    surname = np.asarray(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), n)]
    given1 = np.asarray(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), n)]
    given2 = np.where(rng.random(n) < 0.6, np.asarray(GIVEN, dtype=object)[
        rng.integers(0, len(GIVEN), n)], "")
    region = rng.integers(0, len(REGIONS), n)
    regions = np.asarray(REGIONS, dtype=object)
    home = rng.choice(len(PLATFORMS), n, p=PLATFORM_WEIGHTS)
    # every platform gets a few buyers even in a tiny population
    few = min(n, 3 * len(PLATFORMS))
    home[:few] = np.arange(few) % len(PLATFORMS)
    # a fifth of the buyers also buy on a second platform
    second = np.where(rng.random(n) < 0.2, rng.choice(len(PLATFORMS), n, p=PLATFORM_WEIGHTS), -1)
    second = np.where(second == home, -1, second)
    # …and the first few surely do: 淘宝 with 有赞, 京东 with 抖店, and so on
    second[:few] = (home[:few] + 2) % len(PLATFORMS)
    # skewed frequency and spend: most buy once, a few buy often and big
    orders = np.minimum(rng.zipf(2.1, n), 40)
    orders[:few] = np.maximum(orders[:few], 2)
    spend = rng.lognormal(0.0, 0.45, n) * np.where(rng.random(n) < 0.03, 3.0, 1.0)
    num = pd.Series(idx).astype(str).str.zfill(5).to_numpy(dtype=object)
    return pd.DataFrame({
        "buyer": idx,
        "phone": pd.Series(phones).astype(str).to_numpy(dtype=object),
        "name": surname + given1 + given2,
        "nick": "测试用户" + num,
        "province": regions[region, 0],
        "city": regions[region, 1],
        "district": regions[region, 2],
        "street": "测试路" + pd.Series(rng.integers(1, 999, n)).astype(str).to_numpy(dtype=object)
        + "号" + pd.Series(rng.integers(101, 2999, n)).astype(str).to_numpy(dtype=object) + "室",
        "home": home,
        "second": second,
        "n_orders": orders,
        "spend": spend,
    })


def _orders(rng: np.random.Generator, buyers: pd.DataFrame, start: date, end: date
            ) -> pd.DataFrame:
    b = np.repeat(np.arange(len(buyers)), buyers["n_orders"].to_numpy())
    n = len(b)
    home = buyers["home"].to_numpy()[b]
    second = buyers["second"].to_numpy()[b]
    platform = np.where((second >= 0) & (rng.random(n) < 0.35), second, home)
    # a buyer with two platforms buys on both: the first order on the second one
    first = np.r_[0, np.cumsum(buyers["n_orders"].to_numpy())[:-1]]
    both = (buyers["second"].to_numpy() >= 0) & (buyers["n_orders"].to_numpy() >= 2)
    platform[first[both]] = buyers["second"].to_numpy()[both]
    platform[first[both] + 1] = buyers["home"].to_numpy()[both]
    t0 = pd.Timestamp(start).value // 10**9
    t1 = pd.Timestamp(end).value // 10**9 + 86399
    ordered = rng.integers(t0, t1, n)
    ordered_at = pd.to_datetime(ordered, unit="s")
    pay_delay = pd.to_timedelta(rng.integers(5, 1800, n), unit="s")
    product = rng.integers(0, len(PRODUCTS), n)
    price = np.asarray([p for _, p in PRODUCTS])[product]
    qty = 1 + (rng.random(n) < 0.25) + (rng.random(n) < 0.08)
    amount = np.round(price * qty * buyers["spend"].to_numpy()[b] / 100).astype(np.int64) * 100
    amount = np.maximum(amount - rng.integers(0, 3, n) * 500, 990)  # coupons
    outcome = np.asarray(OUTCOMES)[rng.choice(len(OUTCOMES), n, p=OUTCOME_P)]
    refund = np.where(outcome == "refunded", amount,
                      np.where(outcome == "partial", amount // 300 * 100, 0))
    lines = 1 + (rng.random(n) < 0.18)
    frame = pd.DataFrame({
        "buyer": b, "platform": np.asarray(PLATFORMS)[platform], "ordered_at": ordered_at,
        "paid_at": ordered_at + pay_delay, "amount_fen": amount, "refund_fen": refund,
        "outcome": outcome, "product": product, "qty": qty, "lines": lines,
    }).sort_values(["ordered_at", "buyer"], kind="stable").reset_index(drop=True)
    frame.loc[frame["outcome"].isin(["unpaid", "cancelled"]), "paid_at"] = pd.NaT
    frame["seq"] = np.arange(len(frame))
    return frame.merge(buyers.drop(columns=["home", "second", "n_orders", "spend"]).rename(
        columns={"buyer": "_b"}), left_on="buyer", right_index=True, how="left")


# ------------------------------------------------------------------ cell helpers

def _s(values: object, index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype=object)


def _yuan(fen: pd.Series | np.ndarray, *, thousands: bool = False) -> pd.Series:
    fen = pd.Series(np.asarray(fen, dtype=np.int64))
    yuan = fen // 100
    whole = yuan.map("{:,}".format) if thousands else yuan.astype(str)
    return (whole + "." + (fen % 100).astype(str).str.zfill(2)).astype(object)


def _time(t: pd.Series, fmt: str = "%Y-%m-%d %H:%M:%S") -> pd.Series:
    out = pd.Series(pd.DatetimeIndex(t).strftime(fmt), index=t.index, dtype=object)
    return out.where(t.notna(), "")


def _masked(phone: pd.Series, shape: str) -> pd.Series:
    if shape == "3+4+4":
        return phone.str[:3] + "****" + phone.str[-4:]
    if shape == "1+6+4":
        return phone.str[:1] + "******" + phone.str[-4:]
    return phone.str[:3] + "******" + phone.str[-2:]  # 3+6+2 (有赞 customers)


def _virtual(rng: np.random.Generator, n: int) -> pd.Series:
    main = pd.Series(17_000_000_000 + rng.integers(0, 10_000, n)).astype(str)
    ext = pd.Series(rng.integers(1000, 9999, n)).astype(str)
    return (main + "-" + ext).astype(object)


def _product_names(o: pd.DataFrame) -> pd.Series:
    return _s(np.asarray([p for p, _ in PRODUCTS], dtype=object)[o["product"].to_numpy()],
              o.index)


def _address(o: pd.DataFrame) -> pd.Series:
    return o["province"] + " " + o["city"] + " " + o["district"] + " " + o["street"]


def _full(o: pd.DataFrame, header: Sequence[str], cols: dict[str, object]) -> pd.DataFrame:
    """A frame with every header column (unused ones empty), in header order; a duplicated
    header name (有赞's two 分销员) gets the same cells twice."""
    data = []
    for h in header:
        v = cols.get(h, "")
        # positional: every Series given here is in ``o``'s row order
        data.append(_s(v.to_numpy() if isinstance(v, pd.Series) else v, o.index))
    frame = pd.concat(data, axis=1, ignore_index=True) if data else pd.DataFrame(index=o.index)
    frame.columns = list(header)
    return frame


def _ids(rng: np.random.Generator, base: int, n: int, gap: int = 1000) -> pd.Series:
    """Unique, increasing, realistic-looking order numbers."""
    return pd.Series(base + np.arange(n, dtype=np.int64) * gap + rng.integers(0, gap, n)
                     ).astype(str).astype(object)


# ------------------------------------------------------------------ file writers

def _csv_bytes(frame: pd.DataFrame, encoding: str, *, trailing_comma: bool = False) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    header = list(frame.columns)
    writer.writerow([*header, ""] if trailing_comma else header)
    body = frame.astype(object).where(frame.notna(), "")
    if trailing_comma:
        body = body.assign(__end="")
    writer.writerows(body.itertuples(index=False, name=None))
    return buf.getvalue().encode(encoding)


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a title line (or None), a header, and string cells (numeric columns are
    written as numbers, as Excel users' exports often have them)."""

    name: str
    frame: pd.DataFrame
    numeric: frozenset[str] = frozenset()
    title: str | None = None


def _col_letters(n: int) -> list[str]:
    out = []
    for i in range(n):
        letters, k = "", i + 1
        while k:
            k, rem = divmod(k - 1, 26)
            letters = chr(65 + rem) + letters
        out.append(letters)
    return out


def _xml_escape(arr: pa.Array) -> pa.Array:
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        arr = pc.replace_substring(arr, raw, entity)
    return arr


def _sheet_xml(sheet: Sheet) -> bytes:
    frame = sheet.frame
    header = [str(c) for c in frame.columns]
    letters = _col_letters(len(header))
    first = 1 + (sheet.title is not None)
    rows_xml: list[str] = []
    if sheet.title is not None:
        rows_xml.append(f'<row r="1"><c r="A1" t="inlineStr"><is><t>{sheet.title}</t></is></c>'
                        "</row>")
    head_cells = "".join(
        f'<c r="{letters[j]}{first}" t="inlineStr"><is><t>{_esc(h)}</t></is></c>'
        for j, h in enumerate(header))
    rows_xml.append(f'<row r="{first}">{head_cells}</row>')
    n = len(frame)
    body = b""
    if n:
        rownum = pa.array((np.arange(n) + first + 1).astype(str))
        parts = [pa.array(np.full(n, "<row>", dtype=object))]
        for j, col in enumerate(frame.columns):
            values = pa.array(frame.iloc[:, j].to_numpy(dtype=object), from_pandas=True)
            if not pa.types.is_string(values.type):
                values = pc.cast(values, pa.string())
            values = pc.fill_null(values, "")
            ref = pc.binary_join_element_wise(letters[j], rownum, "")
            empty = pc.equal(values, "")
            if col in sheet.numeric:
                cell = pc.binary_join_element_wise('<c r="', ref, '"><v>', values, "</v></c>", "")
            else:
                cell = pc.binary_join_element_wise(
                    '<c r="', ref, '" t="inlineStr"><is><t xml:space="preserve">',
                    _xml_escape(values), "</t></is></c>", "")
            parts.append(pc.if_else(empty, "", cell))
        parts.append(pa.array(np.full(n, "</row>", dtype=object)))
        joined = pc.cast(pc.binary_join_element_wise(*parts, ""), pa.large_string())
        joined = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
        # the rows are back to back in the array's data buffer: take the bytes as they are
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset:]
        body = joined.buffers()[2].to_pybytes()[offsets[0]:offsets[n]]
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>" + "".join(rows_xml).encode() + body + b"</sheetData></worksheet>"
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    ns = "http://schemas.openxmlformats.org/"
    content = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{ns}package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(len(sheets)))
        + "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{ns}package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{ns}spreadsheetml/2006/main" '
        f'xmlns:r="{ns}officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="{_esc(s.name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                  for i, s in enumerate(sheets))
        + "</sheets></workbook>"
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{ns}package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i + 1}" Type="{ns}officeDocument/2006/relationships/'
            f'worksheet" Target="worksheets/sheet{i + 1}.xml"/>' for i in range(len(sheets)))
        + "</Relationships>"
    )
    buf = io.BytesIO()
    fixed = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same seed gives the same bytes
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("[Content_Types].xml", content), ("_rels/.rels", rels),
                           ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", wb_rels)):
            zf.writestr(zipfile.ZipInfo(name, fixed), data, zipfile.ZIP_DEFLATED, 1)
        for i, sheet in enumerate(sheets):
            zf.writestr(zipfile.ZipInfo(f"xl/worksheets/sheet{i + 1}.xml", fixed),
                        _sheet_xml(sheet), zipfile.ZIP_DEFLATED, 1)
    return buf.getvalue()


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> Path:
    """Write ``sheets`` as an xlsx workbook, atomically and owner-only."""
    write_bytes_atomic(path, _xlsx_bytes(sheets))
    return path


# ------------------------------------------------------------------ platform exports

def _names(text: str) -> tuple[str, ...]:
    """A header written as the platform's own comma-separated line."""
    return tuple(text.split(","))


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


WDT_HEADER = _names(
    "客户网名,订单编号,子单原始单号,原始子订单号,收件人,收货地址,收件人手机,"
    "发货时间,付款时间,收货地区,物流单号,买家留言,客服备注,打印备注,货品数量,"
    "实际重量,预估重量,货品成交价,货品名称,商家编码,店铺,物流公司,仓库,"
    "订单类型,出库单状态"
)


def erp_wdt(w: _World, o: pd.DataFrame) -> pd.DataFrame:
    """旺店通-style ERP: 合计 row, 付款时间 0000-00-00, virtual numbers, phones in 打印备注."""
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
        "客户网名": o["nick"], "订单编号": "JY" + ids, "子单原始单号": "",
        "收件人": o["name"], "收货地址": o["street"], "收件人手机": phone,
        "发货时间": _time(shipped), "付款时间": paid,
        "收货地区": o["province"] + " " + o["city"] + " " + o["district"],
        "打印备注": note, "货品数量": o["qty"].astype(str),
        "货品成交价": _s(_yuan(o["amount_fen"]).to_numpy(), o.index),
        "货品名称": _product_names(o), "店铺": "测试官方商城", "仓库": "华东仓",
        "订单类型": "网店销售", "出库单状态": status,
    })
    rows["原始子订单号"] = ("S" + ids).to_numpy()
    total = o["amount_fen"].sum()
    summary = pd.DataFrame([{c: "" for c in WDT_HEADER}])
    summary["客户网名"] = "合计:"
    summary["货品数量"] = str(int(o["qty"].sum()))
    summary["货品成交价"] = _yuan([total]).iloc[0]
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


# ------------------------------------------------------------------ the entry point

def write_example_exports(
    folder: Path,
    *,
    seed: int = 7,
    buyers: int = 3000,
    start: date = date(2024, 1, 1),
    end: date = date(2026, 11, 20),
) -> list[Path]:
    """Write one synthetic export per platform into ``folder``; returns the paths written.

    Deterministic for a given seed and size. Buyers overlap across platforms (the same phone on
    有赞 and 淘宝, the same nick in the ERP), and a few heavy buyers buy often and big.
    """
    if buyers < 1:
        raise ValueError("buyers must be at least 1")
    rng = np.random.default_rng(seed)
    people = _population(rng, buyers)
    orders = _orders(rng, people, start, end)
    world = _World(rng, people, orders, pd.Timestamp(end) + pd.Timedelta(hours=23))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = pd.Timestamp(end).strftime("%Y%m%d")
    by = {p: orders[orders["platform"] == p] for p in PLATFORMS}
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = folder / name
        write_bytes_atomic(path, data)
        written.append(path)

    # 淘宝: the legacy CSV covers the first two thirds of the window, the 千牛 xlsx the second
    # half; the sixth in between is in both, as when a shop exports again to catch up
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    tb = by["taobao"].copy()
    tb["tb_id"] = _ids(rng, 2_024_000_000_000_000_000, len(tb), 100_003).to_numpy()
    cut_csv = tb["ordered_at"] < (t0 + (t1 - t0) * 2 / 3).normalize()
    cut_xlsx = tb["ordered_at"] >= (t0 + (t1 - t0) / 2).normalize()
    put(f"ExportOrderList{stamp}1030.csv",
        _csv_bytes(taobao_legacy(world, tb[cut_csv]), "gbk"))
    put(f"taobao_orders_{stamp}.xlsx",
        _xlsx_bytes([Sheet("订单报表", taobao_new(world, tb[cut_xlsx]))]))
    put(f"jd_orders_{stamp}.xlsx",
        _xlsx_bytes([Sheet("Sheet1", jd(world, by["jd"]), frozenset({"订单号"}))]))
    yz = by["youzan"]
    put(f"youzan_orders_{stamp}.csv", _csv_bytes(youzan(world, yz), "utf-8"))
    idle = people.index[people["home"].to_numpy() == PLATFORMS.index("youzan")]
    idle = idle.difference(pd.Index(yz["buyer"].unique()))
    extra = people.index[rng.random(len(people)) < 0.01].union(idle)
    put(f"youzan_customers_{stamp}.csv",
        _csv_bytes(youzan_customers(world, yz, extra), "utf-8-sig", trailing_comma=True))
    put(f"douyin_orders_{stamp}.csv", _csv_bytes(douyin(world, by["douyin"]), "utf-8"))
    put(f"pdd_orders_{stamp}.xlsx", _xlsx_bytes([Sheet("订单", pdd(world, by["pdd"]))]))
    put(f"wechat_shop_orders_{stamp}.xlsx", _xlsx_bytes(wechat(world, by["wechat"])))
    # the ERP sells on its own shops; its 客户网名 repeat 淘宝 nicks of the same people
    put(f"erp_wdt_orders_{stamp}.xlsx", _xlsx_bytes([Sheet(
        "订单明细", erp_wdt(world, by["erp_wdt"]),
        frozenset({"货品数量"}))]))
    put(f"erp_jst_orders_{stamp}.xlsx", _xlsx_bytes([Sheet(
        "原始数据", erp_jst(world, by["erp_jst"]), frozenset({"收货手机"}),
        title=f"订单导出 {pd.Timestamp(end):%Y-%m-%d}")]))
    put(f"crm_orders_{stamp}.csv", _csv_bytes(crm(world, by["crm"]), "utf-8-sig"))
    return written


__all__ = ["Sheet", "write_example_exports", "write_xlsx"]
