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

from privmigrate.scoring.grouping import dense_codes, group_codes, hex_keys
from privmigrate.scoring.priority import PriorityWeights, priority_scores
from privmigrate.scoring.rfm import (
    SEGMENT_LABELS,
    SPLITS,
    percentile,
    quintile_scores,
    ranks,
    rfm_segments,
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
    as_of: date | datetime | str | None = None,
    split: str = "mean",
    rules: Iterable[Rule] = (),
    weights: PriorityWeights | None = None,
    converted: Iterable[str] | pd.Series | None = None,
    customer_codes: np.ndarray | None = None,
) -> pd.DataFrame:
    """Score and segment the buyers in ``orders`` (``customers_io.read_orders_for_scoring`` shape).

    ``converted`` holds customer_ids known to have joined the private domain (track's
    conversions); they are flagged ``in_private_domain`` like 企微好友 buyers.
    ``customer_codes`` (optional) is a non-negative integer per order row, equal exactly when
    the customer_ids are equal and negative where customer_id is null — e.g. the component
    labels ``load`` computes — and saves hashing the ids.
    The result is sorted by priority (highest first), then customer_id; ``attrs["as_of"]``
    holds the as-of date used.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rows = _Rows(orders, customer_codes)
    as_of = rows.latest_paid_date() if as_of is None else as_date(as_of)
    if as_of is None:
        return empty_customers()
    as_of_day = (as_of - date(1970, 1, 1)).days
    purchase = rows.purchases(as_of_day)
    out = empty_customers()
    if purchase.any():
        out = _customers(rows, purchase, as_of_day, split, list(rules), weights, converted)
    out.attrs["as_of"] = as_of
    return out


def _customers(rows: _Rows, purchase: np.ndarray, as_of_day: int, split: str,
               rules: list[Rule], weights: PriorityWeights | None,
               converted: Iterable[str] | pd.Series | None) -> pd.DataFrame:
    group, keep = rows.customers(purchase)
    m = len(keep)
    num = _aggregate(rows, group, purchase, m, as_of_day)
    picks = _pick_rows(rows, group, purchase, m, num.pop("last"))
    num["reachable_by_sms"] = picks["phone"] >= 0
    status = _phone_status(rows, group, m, picks["phone"])
    sources = _source_bits(rows, group, m)
    ids = pc.take(rows.ids.combine_chunks(), pa.array(rows.first_row[keep]))
    ids = ids if isinstance(ids, pa.ChunkedArray) else pa.chunked_array([ids])
    num["in_private_domain"] = _in_domain(rows, group, m, ids, converted)
    _score(num, weights)
    order = _priority_order(num["priority"], ids)
    out = pd.DataFrame({k: v[order] for k, v in num.items()})
    out.insert(0, "customer_id", pd.Series(pc.take(ids, pa.array(order)), dtype=STRING))
    out["phone"] = _take(rows.column("phone"), picks["phone"][order])
    out["phone_status"] = _labels(status[order], PHONE_STATUS_RANK)
    out["name"] = _take(rows.column("name"), picks["name"][order])
    out["sources"] = _source_lists(sources[order], rows)
    for col, src in (("last_product", "product"), ("province", "province"), ("city", "city")):
        out[col] = _take(rows.column(src), picks["last"][order])
    out["rfm_segment"] = rfm_segments(out["recency_days"].to_numpy(), out["orders"].to_numpy(),
                                      out["total_fen"].to_numpy(), split)
    out["segment"] = apply_rules(out, rules, out["rfm_segment"])
    return out[list(CUSTOMER_DTYPES)]


def _priority_order(priority: np.ndarray, ids: pa.ChunkedArray) -> np.ndarray:
    """Row order: priority descending, then customer_id ascending."""
    keys = [hex_keys(chunk) for chunk in ids.chunks if len(chunk)]
    if keys and all(k is not None for k in keys):
        # load's ids (C + 16 hex digits) sort like the integers they spell
        return np.lexsort((np.concatenate(keys), -priority))
    return pc.sort_indices(
        pa.table({"priority": priority, "customer_id": ids}),
        sort_keys=[("priority", "descending"), ("customer_id", "ascending")],
    ).to_numpy()


class _Rows:
    """The order rows that have a customer_id, as numpy arrays."""

    def __init__(self, orders: pd.DataFrame, labels: np.ndarray | None = None) -> None:
        ids = _arrow_strings(orders["customer_id"]) if "customer_id" in orders else \
            pa.chunked_array([pa.nulls(len(orders), pa.string())])
        linked = ids.is_valid().to_numpy()
        all_linked = bool(linked.all())
        self.frame = orders if all_linked else orders.iloc[np.flatnonzero(linked)]
        self.ids = ids if all_linked else ids.filter(pa.array(linked))
        self.n = len(self.frame)
        if labels is None:
            self.codes, self.first_row = group_codes(self.ids)
        else:
            self.codes, self.first_row = dense_codes(np.asarray(labels)[linked])
        self.k = len(self.first_row)
        self.paid = _equals(self.frame["status"], "paid")
        self.time = _micros(self.frame, "paid_at")
        if "ordered_at" in self.frame:
            self.time = np.where(self.time == NO_TIME, _micros(self.frame, "ordered_at"), self.time)
        self.count = _ints(self.frame, "order_count", 1, np.int32)
        self.fen = _ints(self.frame, "amount_fen", 0)
        self.source_codes, self.sources = _codes(self.frame["source"])
        names = [AGGREGATE_OF if s == AGGREGATE_SOURCE else str(s) for s in self.sources]
        self.platforms = sorted(set(names))
        self.platform_bit = [self.platforms.index(name) for name in names]
        missing = PHONE_STATUS_RANK.index("missing")
        codes, statuses = _codes(self.column("phone_status"))
        rank = np.array([_rank(s, missing) for s in statuses] + [missing], dtype=np.int8)
        self.phone_status = rank[codes]  # code -1 (null) → the appended "missing"
        self.wecom_friend = _truthy(self.column("wecom_friend"))

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
        ok &= self.time < (as_of_day + 1) * US_PER_DAY
        if "duplicate_of" in self.frame:  # an ERP row of a shop order loaded from the shop
            ok &= self.frame["duplicate_of"].isna().to_numpy()
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
        remap = np.full(self.k, -1, dtype=np.int32)  # int32: half the memory of 10M rows
        remap[keep] = np.arange(len(keep))
        return remap[self.codes], keep



def _rank(status: object, missing: int) -> int:
    return PHONE_STATUS_RANK.index(status) if status in PHONE_STATUS_RANK else missing


def _aggregate(rows: _Rows, group: np.ndarray, purchase: np.ndarray, m: int,
               as_of_day: int) -> dict[str, np.ndarray]:
    g = group[purchase]
    orders = np.rint(np.bincount(g, weights=rows.count[purchase], minlength=m)).astype(np.int64)
    total_fen = _exact_sum(g, rows.fen[purchase], m)
    t = rows.time[purchase]
    first = np.full(m, np.iinfo(np.int64).max)
    np.minimum.at(first, g, t)
    last = np.full(m, NO_TIME)
    np.maximum.at(last, g, t)
    return {
        "first_paid_at": first.astype("datetime64[us]"),
        "last_paid_at": last.astype("datetime64[us]"),
        "last": last,
        "orders": orders,
        "total_amount": total_fen / 100.0,
        "total_fen": total_fen,
        "avg_amount": np.round(total_fen / orders / 100.0, 2),
        "recency_days": as_of_day - np.floor_divide(last, US_PER_DAY),
        "tenure_days": as_of_day - np.floor_divide(first, US_PER_DAY),
    }


def _exact_sum(g: np.ndarray, fen: np.ndarray, m: int) -> np.ndarray:
    """Per-group sums of int64 fen; float64 bincount is exact while |sums| < 2**53."""
    bound = max(abs(int(fen.min())), abs(int(fen.max()))) * len(fen) if len(fen) else 0
    if bound < 2**53:
        return np.rint(np.bincount(g, weights=fen, minlength=m)).astype(np.int64)
    out = np.zeros(m, dtype=np.int64)
    np.add.at(out, g, fen)
    return out


def _pick_rows(rows: _Rows, group: np.ndarray, purchase: np.ndarray, m: int,
               last: np.ndarray) -> dict[str, np.ndarray]:
    """Per customer, the row to take each descriptive value from (-1: none).

    last: the latest purchase (product, province, city); name: the latest purchase that has
    a name; phone: the valid mobile on the latest paid order, else on the latest order.
    """
    picks = {"last": _latest_rows(group, rows.time, purchase, m, lambda r: pd.DataFrame({
        "amount": -rows.fen[r],
        **{c: _strings_at(rows.column(c), r) for c in ("product", "province", "city")},
    }), best=last)}
    name = rows.column("name")
    named = purchase & name.notna().to_numpy(dtype=bool)
    picks["name"] = _latest_rows(group, rows.time, named, m, lambda r: pd.DataFrame(
        {"name": _strings_at(name, r)}))
    phone = rows.column("phone")
    usable = (rows.phone_status == PHONE_STATUS_RANK.index("valid")) & (group >= 0)
    usable &= phone.notna().to_numpy(dtype=bool)
    key = np.where(rows.paid, np.int64(1) << 60, 0) + np.maximum(rows.time, -(1 << 59))
    picks["phone"] = _latest_rows(group, key, usable, m, lambda r: pd.DataFrame(
        {"phone": _strings_at(phone, r)}))
    return picks


def _latest_rows(group: np.ndarray, key: np.ndarray, mask: np.ndarray, m: int,
                 tiebreak: Callable[[np.ndarray], pd.DataFrame],
                 best: np.ndarray | None = None) -> np.ndarray:
    """Per group, the row with the largest ``key`` among ``mask`` rows (-1: none).

    Rows tied on the key are ordered by ``tiebreak(rows)`` (ascending, nulls last), so the
    choice depends on the rows' values, never on their order in the file. ``best`` may pass
    the per-group maximum when the caller already has it.
    """
    picked = np.full(m, -1, dtype=np.int64)
    if not mask.any():
        return picked
    if best is None:
        best = np.full(m, np.iinfo(np.int64).min)
        np.maximum.at(best, group[mask], key[mask])
    # rows outside ``mask`` may have group -1 (any value will do: they are masked out)
    rows = np.flatnonzero(mask & (key == best[group]))
    g = group[rows]
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


def _phone_status(rows: _Rows, group: np.ndarray, m: int, phone_row: np.ndarray) -> np.ndarray:
    """Per customer, an index into PHONE_STATUS_RANK: valid when a mobile was picked, else
    the best status seen on their orders (virtual > masked > invalid > missing)."""
    missing = PHONE_STATUS_RANK.index("missing")
    best = np.full(m, missing, dtype=np.int64)
    on = (group >= 0) & (rows.phone_status > 0) & (rows.phone_status < missing)
    np.minimum.at(best, group[on], rows.phone_status[on])
    best[phone_row >= 0] = 0
    return best


def _source_bits(rows: _Rows, group: np.ndarray, m: int) -> np.ndarray:
    """Per customer, a bit per platform (``rows.platforms``) they were seen on, any status."""
    bits = np.zeros(m, dtype=np.int64)
    if len(set(rows.platform_bit)) == 1:  # one platform: everybody was seen there
        return bits | (1 << rows.platform_bit[0])
    on = group >= 0
    for code, bit in enumerate(rows.platform_bit):
        seen = np.bincount(group[on & (rows.source_codes == code)], minlength=m) > 0
        bits |= seen.astype(np.int64) << bit
    return bits


def _source_lists(bits: np.ndarray, rows: _Rows) -> pd.Series:
    combos, inverse = np.unique(bits, return_inverse=True)
    lists = pa.array(
        [[p for i, p in enumerate(rows.platforms) if int(c) >> i & 1] for c in combos],
        type=pa.list_(pa.string()),
    )
    return pd.Series(pd.arrays.ArrowExtensionArray(pc.take(lists, pa.array(inverse.ravel()))))


def _in_domain(rows: _Rows, group: np.ndarray, m: int, ids: pa.Array,
               converted: Iterable[str] | pd.Series | None) -> np.ndarray:
    friend = (group >= 0) & rows.wecom_friend
    in_domain = np.bincount(group[friend], minlength=m) > 0
    if converted is not None:
        values = converted.dropna().astype(str).tolist() if isinstance(converted, pd.Series) \
            else [str(c) for c in converted]
        if values:
            hit = pc.is_in(ids, value_set=pa.array(values, type=pa.string()))
            in_domain |= hit.to_numpy(zero_copy_only=False)
    return in_domain


def _score(num: dict[str, np.ndarray], weights: PriorityWeights | None) -> None:
    r_worse, r_equal = ranks(num["recency_days"], higher_is_better=False)
    f_worse, f_equal = ranks(num["orders"])
    num["r_score"] = quintile_scores(r_worse)
    num["f_score"] = quintile_scores(f_worse)
    num["m_score"] = quintile_scores(ranks(num["total_fen"])[0])
    value = ranks(num["total_fen"] / num["orders"])
    num["priority"] = priority_scores(
        percentile(*value), percentile(f_worse, f_equal), percentile(r_worse, r_equal),
        num["reachable_by_sms"], weights,
    )


# -- column helpers ------------------------------------------------------------------------


def _take(series: pd.Series, picked: np.ndarray) -> pd.Series:
    """Values at ``picked`` row positions as pyarrow strings, null where picked is -1."""
    missing = picked < 0
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        sel = np.where(missing, -1, codes[np.maximum(picked, 0)] if len(codes) else -1)
        categories = pa.array([str(c) for c in series.cat.categories], type=pa.string())
        arr = pc.take(categories, pa.array(sel, mask=sel < 0, type=pa.int64()))
    else:
        # NOTE: taking from one combined array is 2-4x faster than from many chunks
        arr = pc.take(_arrow_strings(series).combine_chunks(),
                      pa.array(picked, mask=missing, type=pa.int64()))
    return pd.Series(arr, dtype=STRING)


def _strings_at(series: pd.Series, rows: np.ndarray) -> np.ndarray:
    """A few values as a plain object array (for sorting tied rows)."""
    return _take(series, rows).to_numpy(dtype=object, na_value=None)


def _labels(codes: np.ndarray, labels: tuple[str, ...]) -> pd.Series:
    return pd.Series(pc.take(pa.array(labels, type=pa.string()), pa.array(codes)), dtype=STRING)


def _arrow_strings(series: pd.Series) -> pa.ChunkedArray:
    """The column as Arrow strings, without copying when it is already pyarrow-backed."""
    arr = pa.array(series.astype(STRING) if series.dtype != STRING else series)
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _codes(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for null) and the distinct values of a low-cardinality column."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), series.cat.categories  # int8: 1 byte a row
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


def _ints(frame: pd.DataFrame, name: str, default: int,
          dtype: type[np.integer] = np.int64) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), default, dtype=dtype)
    values = frame[name]
    if values.hasnans:
        values = values.fillna(default)
    return values.to_numpy(dtype=dtype)


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
