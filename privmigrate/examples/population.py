"""The synthetic population and its orders, and the cell formatters every export uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

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



def _names(text: str) -> tuple[str, ...]:
    """A header written as the platform's own comma-separated line."""
    return tuple(text.split(","))


