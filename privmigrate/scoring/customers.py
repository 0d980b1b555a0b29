"""The customer table: one row per customer with at least one counted paid order.

Counting (docs/segment.md "What counts"):
- a purchase is an order row with status ``paid``, a customer_id, a paid time (else its order
  time) on or before the as-of date, and ``order_count`` > 0;
- orders = sum of order_count over those rows — distinct paid orders, since the order table
  holds one row per (source, order_id); an aggregated 有赞 customer-export row
  (source ``youzan_customers``) counts its 消费次数 — unless the customer has real ``youzan``
  purchases, which describe the same buying, so then the aggregate row only contributes its
  企微好友 flag;
- as_of defaults to the date of the latest paid order, so results are reproducible.

Everything is vectorised over integer customer codes (``grouping.group_codes``); money is
whole fen (int64) throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.scoring.grouping import group_codes
from privmigrate.scoring.priority import PriorityWeights, priority_scores
from privmigrate.scoring.rfm import (
    SEGMENT_LABELS,
    percentile,
    quintile_scores,
    rfm_segments,
    worse_counts,
)
from privmigrate.scoring.rules import Rule, apply_rules

US_PER_DAY = 86_400_000_000
NO_TIME = np.iinfo(np.int64).min
AGGREGATE_SOURCE = "youzan_customers"  # the 有赞 customer export: one row sums many orders
AGGREGATE_OF = "youzan"
# best first: why a customer has no usable mobile, when they have none
PHONE_STATUS_RANK = ("valid", "virtual", "masked", "invalid", "missing")
STRING = pd.StringDtype("pyarrow")


def build_customers(
    orders: pd.DataFrame,
    as_of: date | None = None,
    split: str = "mean",
    rules: Iterable[Rule] = (),
    weights: PriorityWeights | None = None,
    converted: Iterable[str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Score and segment the buyers in ``orders`` (``tables.read_orders`` shape).

    ``converted`` holds customer_ids known to have joined the private domain (track's
    conversions); they are flagged ``in_private_domain`` like 企微好友 buyers.
    The result is sorted by priority (highest first), then customer_id; ``attrs["as_of"]``
    holds the as-of date used.
    """
    rows = _Rows(orders)
    if as_of is None:
        as_of = rows.latest_paid_date()
    if as_of is None:
        return empty_customers()
    as_of_day = (as_of - date(1970, 1, 1)).days
    purchase = rows.purchases(as_of_day)
    if not purchase.any():
        out = empty_customers()
        out.attrs["as_of"] = as_of
        return out
    group, keep = rows.customers(purchase)
    m = len(keep)
    out = _aggregate(rows, group, purchase, m, as_of_day)
    out.insert(0, "customer_id", pd.Series(rows.customer_ids(keep), dtype=STRING))
    _flags(out, rows, group, m, converted)
    _score(out, split, list(rules), weights)
    out = _sort(out)[list(CUSTOMER_DTYPES)]
    out.attrs["as_of"] = as_of
    return out


class _Rows:
    """The order rows that have a customer_id, as numpy arrays."""

    def __init__(self, orders: pd.DataFrame) -> None:
        ids = _arrow_strings(orders["customer_id"]) if "customer_id" in orders else pa.array(
            [None] * len(orders), pa.string())
        linked = ids.is_valid().to_numpy(zero_copy_only=False)
        self.all_linked = bool(linked.all())
        self.index = np.flatnonzero(linked)
        self.frame = orders if self.all_linked else orders.iloc[self.index]
        self.ids = ids if self.all_linked else ids.filter(pa.array(linked))
        self.n = len(self.frame)
        self.codes, self.first_row = group_codes(self.ids)
        self.k = len(self.first_row)
        self.paid = _equals(self.frame["status"], "paid")
        self.time = _micros(self.frame, "paid_at")
        if "ordered_at" in self.frame:
            self.time = np.where(self.time == NO_TIME, _micros(self.frame, "ordered_at"), self.time)
        self.count = _ints(self.frame, "order_count", 1)
        self.fen = _ints(self.frame, "amount_fen", 0)
        self.source_codes, self.sources = _codes(self.frame["source"])

    def column(self, name: str) -> pd.Series:
        if name in self.frame:
            return self.frame[name].reset_index(drop=True)
        return pd.Series(pd.NA, index=range(self.n), dtype=STRING)

    def latest_paid_date(self) -> date | None:
        timed = self.paid & (self.time != NO_TIME)
        if not timed.any():
            return None
        return date(1970, 1, 1) + pd.Timedelta(days=int(self.time[timed].max() // US_PER_DAY))

    def purchases(self, as_of_day: int) -> np.ndarray:
        ok = self.paid & (self.time != NO_TIME) & (self.count > 0)
        ok &= np.floor_divide(self.time, US_PER_DAY) <= as_of_day
        sources = list(self.sources)
        if AGGREGATE_SOURCE in sources and AGGREGATE_OF in sources:
            agg = self.source_codes == sources.index(AGGREGATE_SOURCE)
            real = ok & (self.source_codes == sources.index(AGGREGATE_OF))
            has_real = np.bincount(self.codes[real], minlength=self.k) > 0
            ok &= ~(agg & has_real[self.codes])
        return ok

    def customers(self, purchase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: its customer's position (-1: no counted purchase); kept group codes."""
        keep = np.flatnonzero(np.bincount(self.codes[purchase], minlength=self.k) > 0)
        remap = np.full(self.k, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        return remap[self.codes], keep

    def customer_ids(self, keep: np.ndarray) -> pa.Array:
        return pc.take(self.ids, pa.array(self.first_row[keep]))


def _aggregate(rows: _Rows, group: np.ndarray, purchase: np.ndarray, m: int,
               as_of_day: int) -> pd.DataFrame:
    g = group[purchase]
    orders = np.rint(np.bincount(g, weights=rows.count[purchase], minlength=m)).astype(np.int64)
    total_fen = _exact_sum(g, rows.fen[purchase], m)
    t = rows.time[purchase]
    first = np.full(m, np.iinfo(np.int64).max)
    np.minimum.at(first, g, t)
    last = np.full(m, NO_TIME)
    np.maximum.at(last, g, t)
    out = pd.DataFrame({
        "first_paid_at": first.astype("datetime64[us]"),
        "last_paid_at": last.astype("datetime64[us]"),
        "orders": orders,
        "total_amount": total_fen / 100.0,
        "total_fen": total_fen,
        "avg_amount": np.round(total_fen / orders / 100.0, 2),
        "recency_days": as_of_day - np.floor_divide(last, US_PER_DAY),
        "tenure_days": as_of_day - np.floor_divide(first, US_PER_DAY),
    })
    _latest_values(out, rows, group, purchase, m)
    return out


def _exact_sum(g: np.ndarray, fen: np.ndarray, m: int) -> np.ndarray:
    """Per-group sums of int64 fen; float64 bincount is exact while |sums| < 2**53."""
    if len(fen) and int(np.abs(fen).sum(dtype=np.float64)) < 2**53:
        return np.rint(np.bincount(g, weights=fen, minlength=m)).astype(np.int64)
    out = np.zeros(m, dtype=np.int64)
    np.add.at(out, g, fen)
    return out


def _latest_values(out: pd.DataFrame, rows: _Rows, group: np.ndarray, purchase: np.ndarray,
                   m: int) -> None:
    """Product and place from the latest purchase; name, phone from the latest that has one."""
    amount = rows.fen
    last = _latest_rows(group, rows.time, purchase, m, lambda r: pd.DataFrame({
        "amount": -amount[r],
        **{c: rows.column(c).iloc[r].astype(STRING).to_numpy() for c in ("product", "province",
                                                                          "city")},
    }))
    for col, source in (("last_product", "product"), ("province", "province"), ("city", "city")):
        out[col] = _take(rows.column(source), last)
    name = rows.column("name")
    named = purchase & name.notna().to_numpy(dtype=bool)
    picked = _latest_rows(group, rows.time, named, m,
                          lambda r: pd.DataFrame({"name": name.iloc[r].astype(STRING).to_numpy()}))
    out["name"] = _take(name, picked)
    phone = rows.column("phone")
    status_codes, statuses = _codes(rows.column("phone_status"))
    valid = (status_codes == list(statuses).index("valid")) if "valid" in list(statuses) else (
        np.zeros(rows.n, dtype=bool))
    usable = valid & phone.notna().to_numpy(dtype=bool) & (group >= 0)
    # prefer the phone on the latest paid order, then the latest order of any status
    key = np.where(rows.paid, np.int64(1) << 60, 0) + np.maximum(rows.time, -(1 << 59))
    picked = _latest_rows(group, key, usable, m, lambda r: pd.DataFrame(
        {"phone": phone.iloc[r].astype(STRING).to_numpy()}))
    out["phone"] = _take(phone, picked)
    out["phone_status"] = _phone_status(picked, status_codes, statuses, group, m)
    out["reachable_by_sms"] = picked >= 0


def _phone_status(picked: np.ndarray, codes: np.ndarray, statuses: pd.Index, group: np.ndarray,
                  m: int) -> pd.Series:
    rank_of = {s: i for i, s in enumerate(PHONE_STATUS_RANK)}
    missing = rank_of["missing"]
    cat_rank = np.array([rank_of.get(str(s), missing) for s in statuses] + [missing])
    row_rank = cat_rank[np.where(codes < 0, len(statuses), codes)]
    best = np.full(m, missing)
    on = group >= 0
    np.minimum.at(best, group[on], row_rank[on])
    best = np.where(picked >= 0, rank_of["valid"], np.where(best == 0, missing, best))
    return pd.Series(np.array(PHONE_STATUS_RANK, dtype=object)[best], dtype=STRING)


def _latest_rows(group: np.ndarray, key: np.ndarray, mask: np.ndarray, m: int,
                 tiebreak: Callable[[np.ndarray], pd.DataFrame]) -> np.ndarray:
    """Per group, the row with the largest ``key`` among ``mask`` rows (-1: none).

    Rows tied on the key are ordered by ``tiebreak(rows)`` (ascending, nulls last), so the
    choice depends on the rows' values, never on their order in the file.
    """
    rows = np.flatnonzero(mask)
    g = group[rows]
    k = key[rows]
    best = np.full(m, np.iinfo(np.int64).min)
    np.maximum.at(best, g, k)
    top = k == best[g]
    rows, g = rows[top], g[top]
    picked = np.full(m, -1, dtype=np.int64)
    single = np.bincount(g, minlength=m)[g] == 1
    picked[g[single]] = rows[single]
    if not single.all():
        tied = rows[~single]
        frame = tiebreak(tied)
        frame.insert(0, "_group", group[tied])
        frame["_row"] = tied
        frame = frame.sort_values(list(frame.columns), na_position="last", kind="stable")
        first = frame.drop_duplicates("_group")
        picked[first["_group"].to_numpy()] = first["_row"].to_numpy()
    return picked


def _take(series: pd.Series, picked: np.ndarray) -> pd.Series:
    """Values at ``picked`` row positions as pyarrow strings, null where picked is -1."""
    if len(picked) == 0:
        return pd.Series([], dtype=STRING)
    taken = series.iloc[np.maximum(picked, 0)].reset_index(drop=True).astype(STRING)
    return taken.where(pd.Series(picked >= 0))


def _flags(out: pd.DataFrame, rows: _Rows, group: np.ndarray, m: int,
           converted: Iterable[str] | pd.Series | None) -> None:
    on = group >= 0
    out["sources"] = _source_lists(rows, group, m)
    friend = on & _truthy(rows.column("wecom_friend"))
    in_domain = np.bincount(group[friend], minlength=m) > 0
    if converted is not None:
        ids = converted.astype(STRING) if isinstance(converted, pd.Series) \
            else pd.Series(list(converted), dtype=STRING)
        in_domain |= out["customer_id"].isin(ids.dropna()).to_numpy(dtype=bool)
    out["in_private_domain"] = in_domain


def _source_lists(rows: _Rows, group: np.ndarray, m: int) -> pd.Series:
    """Platforms each customer was seen on (any status), as a sorted list per customer."""
    names = [AGGREGATE_OF if s == AGGREGATE_SOURCE else str(s) for s in rows.sources]
    platforms = sorted(set(names))
    on = group >= 0
    bits = np.zeros(m, dtype=np.uint64)
    for code, name in enumerate(names):
        seen = np.bincount(group[on & (rows.source_codes == code)], minlength=m) > 0
        bits |= seen.astype(np.uint64) << np.uint64(platforms.index(name))
    combos, inverse = np.unique(bits, return_inverse=True)
    lists = pa.array(
        [[p for i, p in enumerate(platforms) if int(c) >> i & 1] for c in combos],
        type=pa.list_(pa.string()),
    )
    return pd.Series(pd.arrays.ArrowExtensionArray(pc.take(lists, pa.array(inverse.ravel()))))


def _score(out: pd.DataFrame, split: str, rules: list[Rule],
           weights: PriorityWeights | None) -> None:
    recency = out["recency_days"].to_numpy()
    orders = out["orders"].to_numpy()
    total = out["total_fen"].to_numpy()
    r_worse = worse_counts(recency, higher_is_better=False)
    f_worse = worse_counts(orders)
    m_worse = worse_counts(total)
    out["r_score"] = quintile_scores(r_worse)
    out["f_score"] = quintile_scores(f_worse)
    out["m_score"] = quintile_scores(m_worse)
    out["rfm_segment"] = rfm_segments(recency, orders, total, split)
    value_worse = worse_counts(total / orders)
    out["priority"] = priority_scores(
        percentile(value_worse), percentile(f_worse), percentile(r_worse),
        out["reachable_by_sms"].to_numpy(), weights,
    )
    out["segment"] = apply_rules(out, rules, out["rfm_segment"])


def _sort(out: pd.DataFrame) -> pd.DataFrame:
    table = pa.table({"priority": out["priority"].to_numpy(),
                      "customer_id": _arrow_strings(out["customer_id"])})
    order = pc.sort_indices(table, sort_keys=[("priority", "descending"),
                                              ("customer_id", "ascending")])
    return out.take(order.to_numpy()).reset_index(drop=True)


# -- column helpers ------------------------------------------------------------------------


def _arrow_strings(series: pd.Series) -> pa.Array:
    arr = pa.array(series.astype(STRING) if series.dtype != STRING else series)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _codes(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for null) and the distinct values of a low-cardinality column."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.int64), series.cat.categories
    codes, uniques = pd.factorize(series)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def _equals(series: pd.Series, value: str) -> np.ndarray:
    codes, values = _codes(series)
    matches = [i for i, v in enumerate(values) if v == value]
    return codes == matches[0] if matches else np.zeros(len(series), dtype=bool)


def _truthy(series: pd.Series) -> np.ndarray:
    if series.dtype == bool:
        return series.to_numpy()
    return series.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _micros(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A timestamp column as int64 microseconds (NO_TIME for missing)."""
    if name not in frame:
        return np.full(len(frame), NO_TIME, dtype=np.int64)
    values = frame[name]
    if not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values)
    return values.to_numpy("datetime64[us]").view(np.int64)


def _ints(frame: pd.DataFrame, name: str, default: int) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), default, dtype=np.int64)
    return frame[name].fillna(default).to_numpy(dtype=np.int64)


# -- the empty table -------------------------------------------------------------------------

CUSTOMER_DTYPES: dict[str, object] = {
    "customer_id": STRING,
    "phone": STRING,
    "phone_status": STRING,
    "name": STRING,
    "sources": pd.ArrowDtype(pa.list_(pa.string())),
    "first_paid_at": "datetime64[us]",
    "last_paid_at": "datetime64[us]",
    "orders": "int64",
    "total_amount": "float64",
    "total_fen": "int64",
    "avg_amount": "float64",
    "recency_days": "int64",
    "tenure_days": "int64",
    "r_score": "int8",
    "f_score": "int8",
    "m_score": "int8",
    "rfm_segment": pd.CategoricalDtype(list(SEGMENT_LABELS)),
    "segment": pd.CategoricalDtype(list(SEGMENT_LABELS)),
    "priority": "float64",
    "reachable_by_sms": "bool",
    "in_private_domain": "bool",
    "last_product": STRING,
    "province": STRING,
    "city": STRING,
}


def empty_customers() -> pd.DataFrame:
    """A customer table with no rows and the right columns and dtypes."""
    return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in CUSTOMER_DTYPES.items()})


def as_date(value: date | datetime | str) -> date:
    """An as-of value from the CLI or config as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)
