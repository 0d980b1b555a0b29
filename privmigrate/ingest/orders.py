"""Build the canonical order table from one export, and collect what it rejects and why.

Pure: a RawExport and a Profile in, a DataFrame of orders (without customer_id, which needs
the whole table) and a DataFrame of rejects out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.ingest import formats
from privmigrate.ingest.cells import (
    byte_table,
    clean_text,
    edge_bytes_hit,
    may_contain,
    parse_flag,
    parse_money_fen,
    parse_time,
    string_buffers,
)
from privmigrate.ingest.formats import CANCELLED, CLOSED, PAID, REFUNDED, UNPAID, Profile
from privmigrate.ingest.phones import INVALID, MISSING, PHONE_STATUSES, VALID, normalize_phones
from privmigrate.ingest.readers import RawExport
from privmigrate.tables import SOURCE_DTYPE, STATUS_DTYPE

REJECT_COLUMNS = ["file", "row", "column", "reason"]
SUMMARY_ROW_RE = r"^(?:合计|总计|汇总|小计)"
_REFUND_DONE_RE = r"退款成功|已退款|全额退款|退款完成|退货退款成功|refunded"
_UNPAID_CLOSE_RE = r"未付款|超时|未支付|买家未付|取消"


@dataclass
class BuiltOrders:
    """One file's orders in canonical form and its rejects."""

    orders: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    summary_rows: int
    # amounts are per line (summed over an order's lines) rather than per order
    amount_per_line: bool = False
    # rows left out because of a status word nobody knows: word → rows (one reject line each)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    # paid orders whose payment time came from another column: its field → orders
    time_fallbacks: dict[str, int] = field(default_factory=dict)
    rows_rejected: int = 0  # rows rejected (an unknown status word's rows count one each)


PARSE_THREADS = 2


class _Columns(dict):
    """A frame's columns as a plain dict (with the frame's index), safe to share by threads."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__({c: frame[c] for c in frame.columns})
        self.index = frame.index


class _Rejects:
    """Marks rows as rejected with the first reason that applies to them."""

    def __init__(self, raw: RawExport) -> None:
        self.raw = raw
        self.mask = np.zeros(len(raw.frame), dtype=bool)
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        bad: pd.Series | np.ndarray,
        column: str,
        reason: str | Callable[[np.ndarray], np.ndarray],
    ) -> None:
        """Reject rows in ``bad`` not rejected yet; ``reason`` may be computed for those rows."""
        bad = np.asarray(bad, dtype=bool) & ~self.mask
        if not bad.any():
            return
        idx = np.flatnonzero(bad)
        reasons = reason(idx) if callable(reason) else reason
        self.parts.append(
            pd.DataFrame(
                {
                    "file": self._locations(idx),
                    "row": self.raw.rows[idx],
                    "column": column,
                    "reason": reasons,
                }
            )
        )
        self.mask |= bad

    def _locations(self, idx: np.ndarray) -> np.ndarray:
        if self.raw.sheets is None:
            return np.full(len(idx), str(self.raw.path.name), dtype=object)
        return np.char.add(
            np.char.add(f"{self.raw.path.name}[", self.raw.sheets[idx].astype(str)), "]"
        ).astype(object)

    def frame(self) -> pd.DataFrame:
        bad_rows = pd.DataFrame(
            {
                "file": str(self.raw.path.name),
                "row": [b.row for b in self.raw.bad_rows],
                "column": "",
                "reason": [b.reason for b in self.raw.bad_rows],
            }
        )
        parts = [p for p in (bad_rows, *self.parts) if len(p)]
        if not parts:
            return pd.DataFrame(columns=REJECT_COLUMNS)
        return pd.concat(parts, ignore_index=True)[REJECT_COLUMNS]


def build_orders(
    raw: RawExport,
    profile: Profile,
    extra_status_words: Mapping[str, str] | None = None,
    *,
    merge_lines: bool = True,
) -> BuiltOrders:
    """Map one export onto the order table; bad cells reject their row, never the file.

    With ``merge_lines`` False (one chunk of a streamed file) line items of an order are left
    as rows, with their ``refund_fen``, for ``merge_line_items`` over the whole file.
    """
    frame = raw.frame
    cols = profile.resolve(list(frame.columns))
    kind = profile.amount_kind(list(frame.columns)) or "amount"
    per_line = amounts_per_line(profile, list(frame.columns))
    rejects = _Rejects(raw)
    n = len(frame)

    def first(key: str) -> str | None:
        return cols[key][0] if key in cols else None

    # The column parsers are independent and spend their time in Arrow kernels, which
    # release the GIL: run them on both cores. Columns are taken out of the frame first, so
    # the threads share nothing mutable.
    columns = _Columns(frame)
    text_keys = ("order_id", "name", "buyer_id", "status", "refund_status", "close_reason",
                 "product", "province", "city", "platform_order_id")
    with ThreadPoolExecutor(max_workers=PARSE_THREADS) as pool:
        jobs = {
            "amount": pool.submit(_amounts, columns, cols, kind),
            "refund": pool.submit(_coalesce_money, columns, cols.get("refund_amount", [])),
            "paid_at": pool.submit(_coalesce_time, columns, cols.get("paid_at", [])),
            "ordered_at": pool.submit(_coalesce_time, columns, cols.get("ordered_at", [])),
            **{f"time:{k}": pool.submit(_coalesce_time, columns, cols[k])
               for k in ("shipped_at", "received_at") if k in cols},
            "phone": pool.submit(_coalesce_phone, columns, cols.get("phone", [])),
            "summary": pool.submit(_summary_rows, frame),
            **({"receiver": pool.submit(lambda c: _unpack_receiver(clean_text(c)),
                                        columns[cols["receiver"][0]])}
               if "receiver" in cols else {}),
            **({"region": pool.submit(lambda c: _region(clean_text(c)),
                                      columns[cols["address"][0]])}
               if profile.address_splits_region and "address" in cols else {}),
            **{f"text:{k}": pool.submit(clean_text, columns[first(k)])
               for k in text_keys if first(k) is not None and k != "buyer_id"},
            **({"text:buyer_id": pool.submit(_buyer_keys, columns, cols["buyer_id"])}
               if "buyer_id" in cols else {}),
        }
        parsed = {key: job.result() for key, job in jobs.items()}

    def text(key: str) -> pd.Series:
        if f"text:{key}" not in parsed:  # one all-NA column serves every absent field
            if "text:" not in parsed:
                parsed["text:"] = pd.Series(pd.NA, index=frame.index, dtype="string[pyarrow]")
            parsed[f"text:{key}"] = parsed["text:"]
        return parsed[f"text:{key}"]

    summary = parsed["summary"]
    empty = frame.isna().all(axis=1).to_numpy()
    keep_mask = ~(summary | empty)

    out = pd.DataFrame(index=frame.index)
    out["source"] = pd.Categorical.from_codes(
        np.full(n, SOURCE_DTYPE.categories.get_loc(profile.source), dtype=np.int8),
        dtype=SOURCE_DTYPE)

    # Money and times: a cell that holds something unparseable rejects its row (in this
    # order, so the first bad column is the reason given).
    for key, field_name, what in (("amount", "amount", "is not an amount"),
                                  ("refund", "refund_amount", "is not an amount"),
                                  ("paid_at", "paid_at", "is not a date/time"),
                                  ("ordered_at", "ordered_at", "is not a date/time")):
        _, bad, column = parsed[key]
        rejects.add(bad & keep_mask, column or field_name,
                    _bad_value_reason(frame, column, what))
    amount, _, amount_col = parsed["amount"]
    refund = parsed["refund"][0]
    paid_at, _, paid_col = parsed["paid_at"]
    ordered_at = parsed["ordered_at"][0]

    # Identity fields
    phone, phone_status = parsed["phone"]
    name = text("name")
    if "receiver" in cols:
        packed = parsed["receiver"]
        use = phone_status.isin([MISSING, INVALID]).to_numpy() & packed["phone_raw"].notna()
        if use.any():
            p2, s2 = normalize_phones(packed["phone_raw"][use])
            phone = phone.copy()
            phone[use] = p2
            phone_status = phone_status.copy()
            phone_status[use] = s2
        name = name.fillna(packed["name"])
    buyer = text("buyer_id")

    status = _resolve_status(
        profile,
        text("status"),
        text("refund_status"),
        text("close_reason"),
        paid_at,
        amount,
        refund,
        {**formats.STATUS_WORDS, **profile.statuses, **(extra_status_words or {})},
        {**formats.REFUND_WORDS, **profile.refund_words},
    )
    # A status word nobody knows: its rows are left out, reported once per word.
    status_words = text("status")
    unknown = status.isna().to_numpy() & status_words.notna().to_numpy() & keep_mask \
        & ~rejects.mask
    unknown_statuses = _unknown_words(status_words, unknown)
    unknown_lines = _unknown_status_lines(raw, status_words, unknown, first("status") or "status")
    rejects.mask |= unknown  # (their reject lines are one per word)
    # No status given (no column, or a blank cell): a purchase only when the row says it
    # was paid — a payment time or an amount above zero; else it is an order never paid.
    no_word = status.isna().to_numpy() & ~unknown
    said_paid = paid_at.notna().to_numpy() | (amount.fillna(0) > 0).to_numpy()
    status = status.where(~(no_word & ~said_paid), UNPAID).fillna(PAID)

    net = amount.fillna(0) - refund.fillna(0).clip(lower=0)
    net = net.clip(lower=0)

    order_count = pd.Series(1, index=frame.index, dtype="int64")
    if profile.aggregated:
        count_col = first("order_count")
        counts = pd.to_numeric(clean_text(frame[count_col]), errors="coerce")
        bad_count = counts.isna() & clean_text(frame[count_col]).notna()
        rejects.add(bad_count.to_numpy() & keep_mask, count_col, "is not a whole number")
        order_count = counts.fillna(0).astype("int64")
        status = pd.Series(np.where(order_count > 0, PAID, UNPAID), index=frame.index)
        status[(order_count > 0) & (net <= 0) & (refund.fillna(0) > 0)] = REFUNDED

    order_id = _order_ids(profile, frame, cols, text, buyer, phone, paid_at, amount)
    id_col = first("order_id") or "order_id"
    # Numbers Excel rounded (3.51531E+16, 15+ digit ids read as numbers) would merge
    # different orders: reject them, never merge them.
    rejects.add(_rounded_numbers(order_id) & keep_mask, id_col,
                _bad_value_reason(frame, first("order_id"), ROUNDED_ID_REASON))
    rejects.add(order_id.isna().to_numpy() & keep_mask, id_col, "no order number")
    for column in cols.get("phone", []):
        rounded = _rounded_numbers(clean_text(frame[column]), lost_digits=False)
        rejects.add(rounded & (phone_status != VALID).to_numpy() & keep_mask, column,
                    ROUNDED_PHONE_REASON)

    # A paid order needs a payment time (falling back to the order time, the date its
    # number starts with, then the shipping and receipt times) and an amount.
    is_paid = (status == PAID).to_numpy()
    fallbacks: dict[str, int] = {}
    for what, times in (("ordered_at", lambda: ordered_at),
                        ("order_id_date", lambda: _order_id_dates(order_id, profile)),
                        ("shipped_at", lambda: parsed.get("time:shipped_at", (None,))[0]),
                        ("received_at", lambda: parsed.get("time:received_at", (None,))[0])):
        blank = is_paid & paid_at.isna().to_numpy() & keep_mask & ~rejects.mask
        if not blank.any():
            break
        values = times()
        if values is None:
            continue
        filled = blank & values.notna().to_numpy()
        if filled.any():
            paid_at = paid_at.where(~filled, values)
            fallbacks[what] = int(filled.sum())
    rejects.add(is_paid & paid_at.isna().to_numpy() & keep_mask, paid_col or "paid_at",
                "paid order without a payment time")
    rejects.add(is_paid & amount.isna().to_numpy() & keep_mask, amount_col or "amount",
                "paid order without an amount")

    out["order_id"] = order_id
    out["buyer_id"] = buyer
    out["name"] = name
    out["phone"] = phone
    out["phone_status"] = phone_status
    out["ordered_at"] = ordered_at
    out["paid_at"] = paid_at
    out["amount_fen"] = net.astype("Int64")
    out["refund_fen"] = refund.fillna(0).astype("int64")
    out["status"] = status.astype(STATUS_DTYPE)
    out["product"] = text("product")
    province, city = text("province"), text("city")
    if profile.address_splits_region and "address" in cols:
        parts = parsed["region"]
        # (usually no province column at all: then the address's words are the column)
        province = parts["province"] if province.isna().all() \
            else province.fillna(parts["province"])
        city = parts["city"] if city.isna().all() else city.fillna(parts["city"])
    out["province"] = province
    out["city"] = city
    out["order_count"] = order_count.astype("int32")
    out["platform_order_id"] = _excel_integers(text("platform_order_id"))
    if "wecom" in cols:
        any_id = any(c in ("企业微信加密id", "企微工号") for c in cols["wecom"])
        out["wecom_friend"] = parse_flag(frame[cols["wecom"][0]], any_value_is_true=any_id)
    else:
        out["wecom_friend"] = pd.Series(pd.NA, index=frame.index, dtype="boolean")

    keep = keep_mask & ~rejects.mask
    orders = out[keep]
    if merge_lines:
        orders = merge_line_items(orders, per_line)
    reject_frame = rejects.frame()
    if len(unknown_lines):
        reject_frame = pd.concat([reject_frame, unknown_lines], ignore_index=True)
    return BuiltOrders(
        orders=orders.reset_index(drop=True),
        rejects=reject_frame,
        rows_read=int(n - summary.sum() - empty.sum()),
        summary_rows=int(summary.sum()),
        amount_per_line=per_line,
        unknown_statuses=unknown_statuses,
        time_fallbacks=fallbacks,
        rows_rejected=len(reject_frame) - len(unknown_lines) + int(unknown.sum()),
    )


# first bytes of a possible summary row: ASCII blanks, 合总汇小 (only their lead bytes can
# start a cell), and the lead bytes of U+3000, U+00A0, U+FEFF
_SUMMARY_FIRST = byte_table("\t\n\x0b\x0c\r 合总汇小", 0xE3, 0xC2, 0xEF)


def _summary_rows(frame: pd.DataFrame) -> np.ndarray:
    """合计:/总计 rows that ERPs append; judged on the first two columns."""
    mask = np.zeros(len(frame), dtype=bool)
    for col in frame.columns[:2]:
        arr = frame[col].astype("string[pyarrow]").array._pa_array
        if not edge_bytes_hit(arr, _SUMMARY_FIRST):
            continue  # e.g. order numbers: no cell can start with 合计
        head = pc.utf8_slice_codeunits(pc.utf8_ltrim_whitespace(arr), 0, 2)
        hit = pc.is_in(head, value_set=pa.array(["合计", "总计", "汇总", "小计"]))
        mask |= np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
    return mask


def _bad_value_reason(
    frame: pd.DataFrame, column: str | None, what: str
) -> Callable[[np.ndarray], np.ndarray] | str:
    """The reason for the rejected rows only, quoting the cell (never a phone column)."""
    if column is None:
        return what

    def reasons(idx: np.ndarray) -> np.ndarray:
        values = frame[column].iloc[idx].fillna("").astype(str).str.slice(0, 40)
        return np.array([f"{v!r} {what}" for v in values], dtype=object)

    return reasons


def amounts_per_line(profile: Profile, header: list[str]) -> bool:
    """Whether this file's amounts are per line (summed per order) or per order."""
    kind = profile.amount_kind(header) or "amount"
    return kind in formats.LINE_KINDS or (kind == "amount" and profile.amount_per_line)


def _amounts(
    frame: _Columns, cols: dict[str, list[str]], kind: str
) -> tuple[pd.Series, np.ndarray, str | None]:
    """Each row's amount in fen as the profile's trusted kind reads it.

    A line total falls back, row by row, to unit price × quantity when the profile trusts
    both; a unit price alone is always multiplied by its quantity.
    """
    if kind == "unit_price":
        return _line_price(frame, cols)
    amount, bad, column = _coalesce_money(frame, cols.get(kind, []))
    if kind == "line_total" and "unit_price" in cols and "quantity" in cols \
            and amount.isna().any():
        blank = amount.isna().to_numpy() & ~bad
        priced, bad_price, price_col = _line_price(frame, cols)
        amount = amount.where(~blank, priced)
        newly_bad = blank & bad_price
        if newly_bad.any() and not bad.any():
            column = price_col
        bad = bad | newly_bad
    return amount, bad, column


def _line_price(
    frame: _Columns, cols: dict[str, list[str]]
) -> tuple[pd.Series, np.ndarray, str | None]:
    """unit price × quantity (both as written: a quantity may be 1.5 kg)."""
    price, bad_price, price_col = _coalesce_money(frame, cols.get("unit_price", []))
    quantity, bad_qty, qty_col = _coalesce_money(frame, cols.get("quantity", []))
    product = (price.astype("Float64") * quantity.astype("Float64") / 100).round()
    column = price_col if bad_price.any() or not bad_qty.any() else qty_col
    return product.astype("Int64"), bad_price | bad_qty, column


def _buyer_keys(frame: _Columns, columns: list[str]) -> pd.Series:
    """Per row, the first buyer column whose cell is neither blank nor masked (淘宝 masks
    买家会员名 as ``t**1`` in newer exports; 买家会员昵称 beside it still names the buyer).
    A masked name is never a key: different buyers share it."""
    result: pd.Series | None = None
    for column in columns:
        values = clean_text(frame[column])
        arr = _arrow_text(values)
        masked = pc.fill_null(pc.match_substring(arr, "*"), False)
        if pc.any(masked).as_py():
            values = _text_series(pc.if_else(masked, pa.scalar(None, arr.type), arr),
                                  values.index)
        result = values if result is None else result.fillna(values)
        if not result.isna().any():
            break
    assert result is not None
    return result


def _unknown_words(words: pd.Series, unknown: np.ndarray) -> dict[str, int]:
    if not unknown.any():
        return {}
    counts = words[unknown].value_counts()
    return {str(w): int(c) for w, c in counts.items()}


def _unknown_status_lines(
    raw: RawExport, words: pd.Series, unknown: np.ndarray, column: str
) -> pd.DataFrame:
    """One reject line per unknown status word: its count and the first row it is on."""
    if not unknown.any():
        return pd.DataFrame(columns=REJECT_COLUMNS)
    idx = np.flatnonzero(unknown)
    table = pd.DataFrame({"word": words.iloc[idx].to_numpy(dtype=object), "i": idx})
    per_word = table.groupby("word", sort=False)["i"].agg(["first", "size"])
    reasons = [
        f"unknown status {w!r} on {count} rows (first shown); they are left out — add it to "
        "[load.status_words] in privmigrate.toml (paid/refunded/cancelled/unpaid) and load again"
        for w, count in zip(per_word.index, per_word["size"], strict=True)]
    first_rows = per_word["first"].to_numpy(dtype=np.int64)
    files = np.array([raw.location(int(i)) for i in first_rows], dtype=object)
    return pd.DataFrame({"file": files, "row": raw.rows[first_rows], "column": column,
                         "reason": reasons})[REJECT_COLUMNS]


# Scientific notation, as Excel shows and saves long numbers (3.51531E+16, 1.38E+10).
_SCIENTIFIC_RE = r"^[+-]?\d+(?:\.\d*)?[eE][+-]?\d+$"
ROUNDED_ID_REASON = (
    "is an order number Excel turned into a rounded number (scientific notation or digits "
    "lost past the 15th), so different orders would look alike; export the file again from "
    "the platform and load it without opening and saving it in Excel (or import the column "
    "as text)")
ROUNDED_PHONE_REASON = (
    "phone in scientific notation (Excel rounded it, its digits are lost); export the file "
    "again from the platform and load it without opening and saving it in Excel")


def _rounded_numbers(values: pd.Series, *, lost_digits: bool = True) -> np.ndarray:
    """Cells that are numbers Excel rounded: scientific notation, and (``lost_digits``)
    16+-digit numbers whose digits after the 15th are all zeros, when every such number in
    the column has that shape (Excel keeps 15 significant digits; a real column of 18-digit
    order numbers has them end in 000 once in a thousand)."""
    arr = _arrow_text(values)
    bad = np.zeros(len(values), dtype=bool)
    if may_contain(arr, ("E", "e")):
        bad |= np.asarray(pc.fill_null(pc.match_substring_regex(arr, _SCIENTIFIC_RE), False)
                          .to_numpy(zero_copy_only=False), dtype=bool)
    if lost_digits:
        long = pc.fill_null(pc.greater_equal(pc.binary_length(arr), 16), False)
        n_long = pc.sum(long).as_py() or 0
        # cheap tests first: nearly always some long number does not end in 0
        if n_long > 1 and pc.sum(pc.and_(long, pc.fill_null(pc.ends_with(arr, "0"), False))
                                 ).as_py() == n_long:
            padded = pc.fill_null(pc.match_substring_regex(arr, r"^\d{15}0+$"), False)
            if pc.sum(pc.and_(long, padded)).as_py() == n_long:
                bad |= np.asarray(long.to_numpy(zero_copy_only=False), dtype=bool)
    return bad


def _order_id_dates(order_id: pd.Series, profile: Profile) -> pd.Series | None:
    """The day an order number starts with (拼多多 ``260517-…``), where the profile says so."""
    fmt = profile.order_id_date
    if fmt is None:
        return None
    width = len(pd.Timestamp("2000-01-01").strftime(fmt))
    head = order_id.str.slice(0, width)
    days = pd.to_datetime(head.where(head.str.fullmatch(r"\d+").fillna(False)).astype(object),
                          format=fmt, errors="coerce")
    plausible = (days >= pd.Timestamp("2000-01-01")) & (
        days <= pd.Timestamp.now() + pd.Timedelta(days=1))
    return pd.Series(days.where(plausible).to_numpy(dtype="datetime64[us]"),
                     index=order_id.index)


def _coalesce_money(
    frame: pd.DataFrame | _Columns, columns: list[str]
) -> tuple[pd.Series, np.ndarray, str | None]:
    result = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    bad_first = np.zeros(len(frame.index), dtype=bool)
    for i, col in enumerate(columns):
        if i == 0:
            result, bad = parse_money_fen(frame[col])
            bad_first = bad.to_numpy()
        else:  # a fallback column only fills the rows still empty: parse just those
            todo = result.isna().to_numpy()
            values, _ = parse_money_fen(frame[col][todo])
            result[todo] = values.to_numpy()
        if not result.isna().any():
            break
    return result, bad_first, columns[0] if columns else None


def _coalesce_time(
    frame: pd.DataFrame | _Columns, columns: list[str]
) -> tuple[pd.Series, np.ndarray, str | None]:
    result = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    bad_any = np.zeros(len(frame.index), dtype=bool)
    bad_col: str | None = columns[0] if columns else None
    for col in columns:
        values, bad = parse_time(frame[col])
        newly_bad = bad.to_numpy() & result.isna().to_numpy() & ~bad_any
        if newly_bad.any() and not bad_any.any():
            bad_col = col
        bad_any |= newly_bad
        result = result.fillna(values)
        if not result.isna().any():
            break
    # a bad cell is harmless when another column supplied the time
    bad_any &= result.isna().to_numpy()
    return result, bad_any, bad_col


def _coalesce_phone(
    frame: pd.DataFrame | _Columns, columns: list[str]
) -> tuple[pd.Series, pd.Series]:
    """The first valid phone across the phone columns, else the first informative status."""
    if not columns:
        return (pd.Series(pd.NA, index=frame.index, dtype="string[pyarrow]"),
                pd.Series(pd.Categorical([MISSING] * len(frame.index), categories=PHONE_STATUSES),
                          index=frame.index))
    phone, status = normalize_phones(frame[columns[0]])
    for col in columns[1:]:
        if (status == VALID).all():
            break
        p, s = normalize_phones(frame[col])
        take_valid = ((s == VALID) & (status != VALID)).to_numpy()
        informative = ((status == MISSING) & (s != MISSING)).to_numpy()
        if take_valid.any():
            phone = phone.where(~take_valid, p)
        status = pd.Series(pd.Categorical(
            np.where(take_valid | informative, s.astype(object), status.astype(object)),
            categories=PHONE_STATUSES), index=frame.index)
    return phone, status


_SEP = "，,"  # full-width and ASCII commas separate the packed receiver's parts


def _unpack_receiver(packed: pd.Series) -> pd.DataFrame:
    """千牛 xlsx packs the receiver into 收货地址: ``姓名，86-139…，省 市 区 详细``.

    Arrow regexes over the column (no per-row Python): the name is the text before the first
    comma, the phone what follows up to the next one, taken when it looks like a number
    (four digits or a mask). Columns where no cell has two commas are not packed.
    """
    arr = _arrow_text(packed)
    if not may_contain(arr, tuple(_SEP)) or not pc.any(
            pc.match_substring_regex(arr, f"[{_SEP}][^{_SEP}]*[{_SEP}]")).as_py():
        nothing = pa.nulls(len(packed), pa.large_string())
        return pd.DataFrame({"name": _text_series(nothing, packed.index),
                             "phone_raw": _text_series(nothing, packed.index)})
    parts = pc.extract_regex(arr, f"^(?P<name>[^{_SEP}]*)[{_SEP}](?P<phone>[^{_SEP}]*)")
    phone = pc.utf8_trim_whitespace(pc.struct_field(parts, "phone"))
    looks_packed = pc.fill_null(
        pc.match_substring_regex(phone, r"[0-9\x{FF10}-\x{FF19}]{4}|\*"), False)
    null = pa.scalar(None, phone.type)
    return pd.DataFrame({
        "name": _text_series(pc.if_else(
            looks_packed, pc.utf8_trim_whitespace(pc.struct_field(parts, "name")), null),
            packed.index),
        "phone_raw": _text_series(pc.if_else(looks_packed, phone, null), packed.index),
    })


_PLAUSIBLE_PROVINCE = "省|市|自治区|特别行政区|北京|上海|天津|重庆"


# The blanks Arrow's utf8_split_whitespace splits on. RE2 matches an ASCII class as fast as
# its own \s; with the others it is ~3× slower, so those are used only when present.
_ASCII_BLANK = r"\t-\r\x1C-\x20"
_WIDE_BLANK = r"\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
_WIDE_LEAD_BYTES = np.array([0xC2, 0xE1, 0xE2, 0xE3], dtype=np.uint8)


def _two_words(arr: pa.Array, blank: str) -> tuple[pa.Array, pa.Array]:
    words = pc.extract_regex(
        arr, f"^[{blank}]*(?P<province>[^{blank}]+)(?:[{blank}]+(?P<city>[^{blank}]+))?")
    return pc.struct_field(words, "province"), pc.struct_field(words, "city")


def _region(address: pd.Series) -> pd.DataFrame:
    """省/市 from an address written ``省 市 区 详细`` (or packed after the receiver).

    The last comma-separated part's first two blank-separated words are province and city
    when the first looks like a province. One anchored Arrow regex over the column (it copies
    only the two words), no Python loop.
    """
    arr = _arrow_text(address).combine_chunks()
    if may_contain(arr, tuple(_SEP)):
        arr = pc.replace_substring_regex(arr, f"^.*[{_SEP}]", "")
    province, city = _two_words(arr, _ASCII_BLANK)
    # a full-width or other Unicode blank would sit inside the words found: look again
    if any(_has_bytes(a, _WIDE_LEAD_BYTES) for a in (province, city)):
        province, city = _two_words(arr, _ASCII_BLANK + _WIDE_BLANK)
    null = pa.scalar(None, province.type)
    city = pc.if_else(pc.equal(city, ""), null, city)  # one word: no city
    # few distinct provinces: judge each once
    words_seen = pc.dictionary_encode(province)
    judged = pc.match_substring_regex(words_seen.dictionary, _PLAUSIBLE_PROVINCE)
    plausible = pc.fill_null(pc.take(judged, words_seen.indices), False)
    return pd.DataFrame({
        "province": _text_series(pc.if_else(plausible, province, null), address.index),
        "city": _text_series(pc.if_else(plausible, city, null), address.index),
    })


def _has_bytes(arr: pa.Array, values: np.ndarray) -> bool:
    buffers = string_buffers(arr)
    if buffers is None:
        return True
    offsets, data = buffers
    return bool(np.isin(data[int(offsets[0]):int(offsets[-1])], values).any())


def _arrow_text(s: pd.Series) -> pa.ChunkedArray:
    return s.astype("string[pyarrow]").array._pa_array  # type: ignore[attr-defined,no-any-return]


def _text_series(arr: pa.ChunkedArray | pa.Array, index: pd.Index) -> pd.Series:
    chunked = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    if not pa.types.is_large_string(chunked.type):
        chunked = chunked.cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(chunked), index=index)


_CLASS_CODES = {PAID: 0, REFUNDED: 1, CANCELLED: 2, UNPAID: 3, CLOSED: 4}


def _word_codes(words: pd.Series, vocabulary: Mapping[str, str]) -> np.ndarray:
    """Class code per row (-1: empty or unknown word), classifying each distinct word once."""
    arr = words.astype("string[pyarrow]").array._pa_array
    encoded = pc.dictionary_encode(arr).combine_chunks()
    classes = np.array(
        [_CLASS_CODES.get(_classify(str(u), vocabulary) or "", -1)
         for u in encoded.dictionary.to_pylist()] + [-1], dtype=np.int8)
    idx = pc.fill_null(encoded.indices, len(classes) - 1).to_numpy(zero_copy_only=False)
    return classes[np.asarray(idx, dtype=np.int64)]


def _resolve_status(
    profile: Profile,
    words: pd.Series,
    refund_status: pd.Series,
    close_reason: pd.Series,
    paid_at: pd.Series,
    amount: pd.Series,
    refund: pd.Series,
    vocabulary: Mapping[str, str],
    refund_words: Mapping[str, str],
) -> pd.Series:
    """paid / refunded / cancelled / unpaid from the status words and the refund columns.

    A status NA means "no status given" when the cell is empty, "unknown word" otherwise.
    """
    code = _word_codes(words, vocabulary)
    has_refund = (refund.fillna(0) > 0).to_numpy()
    amount_fen = amount.fillna(0).to_numpy(dtype=np.int64)
    refund_fen = refund.fillna(0).to_numpy(dtype=np.int64)
    closed = code == _CLASS_CODES[CLOSED]
    if closed.any():
        # 交易关闭 covers unpaid-closed and fully-refunded orders
        # only the closed orders' reasons matter
        reason = close_reason[closed].fillna("")
        unpaid_reason = np.zeros(len(code), dtype=bool)
        refund_reason = np.zeros(len(code), dtype=bool)
        unpaid_reason[closed] = reason.str.contains(_UNPAID_CLOSE_RE, regex=True).to_numpy(
            dtype=bool)
        refund_reason[closed] = reason.str.contains("退款", regex=False).to_numpy(dtype=bool)
        was_paid = paid_at.notna().to_numpy()
        refunded = has_refund | refund_reason
        code = np.where(closed & refunded, _CLASS_CODES[REFUNDED], code)
        code = np.where(closed & ~refunded & unpaid_reason, _CLASS_CODES[UNPAID], code)
        code = np.where(closed & ~refunded & ~unpaid_reason,
                        np.where(was_paid, _CLASS_CODES[REFUNDED], _CLASS_CODES[UNPAID]), code)
    paid = code == _CLASS_CODES[PAID]
    if refund_status.notna().any():
        # an after-sale "refund done" on a paid order: full refund unless amounts say partial
        said = _refund_codes(refund_status, refund_words)
        after_sale = said == _REFUND_CODES[formats.REFUND_FULL]
        partial = has_refund & (refund_fen < amount_fen)
        code = np.where(paid & after_sale & ~partial, _CLASS_CODES[REFUNDED], code)
    if has_refund.any():
        # refund columns alone: a refund of the whole amount is a refund
        full = has_refund & (refund_fen >= amount_fen) & (amount_fen > 0)
        code = np.where((code == _CLASS_CODES[PAID]) & full, _CLASS_CODES[REFUNDED], code)
    cat = pd.Categorical.from_codes(np.where(code > 3, -1, code), dtype=STATUS_DTYPE)
    return pd.Series(cat, index=words.index)


_REFUND_CODES = {formats.REFUND_NONE: 0, formats.REFUND_PARTIAL: 1, formats.REFUND_FULL: 2}
_REFUND_PARTIAL_RE = r"部分退|部分退款|partial"


def _refund_codes(cells: pd.Series, vocabulary: Mapping[str, str]) -> np.ndarray:
    """What each refund/after-sale cell says (``_REFUND_CODES``; -1 blank), judging each
    distinct cell once: the vocabulary, else partial/done keywords, else nothing."""
    arr = cells.astype("string[pyarrow]").array._pa_array
    encoded = pc.dictionary_encode(arr).combine_chunks()
    said = []
    for cell in encoded.dictionary.to_pylist():
        word = str(cell).strip()
        kind = vocabulary.get(word) or vocabulary.get(word.lower())
        if kind is None:
            if re.search(_REFUND_PARTIAL_RE, word):
                kind = formats.REFUND_PARTIAL
            elif re.search(_REFUND_DONE_RE, word):
                kind = formats.REFUND_FULL
            else:
                kind = formats.REFUND_NONE
        said.append(_REFUND_CODES[kind])
    codes = np.array([*said, -1], dtype=np.int8)
    idx = pc.fill_null(encoded.indices, len(codes) - 1).to_numpy(zero_copy_only=False)
    return codes[np.asarray(idx, dtype=np.int64)]


def _classify(word: str, vocabulary: Mapping[str, str]) -> str | None:
    if word in vocabulary:
        return vocabulary[word]
    lowered = word.lower()
    if lowered in vocabulary:
        return vocabulary[lowered]
    for needle, cls in formats.STATUS_KEYWORDS:
        if needle in word:
            return cls
    return None


def _order_ids(
    profile: Profile,
    frame: pd.DataFrame,
    cols: dict[str, list[str]],
    text: Callable[[str], pd.Series],
    buyer: pd.Series,
    phone: pd.Series,
    paid_at: pd.Series,
    amount: pd.Series,
) -> pd.Series:
    if profile.aggregated:
        key = phone.fillna("b:" + buyer.fillna(""))
        key = key.where(key != "b:")
        return ("agg:" + key).astype("string[pyarrow]")
    if "order_id" in cols:
        return _excel_integers(text("order_id"))
    return _content_ids(frame)


def _excel_integers(ids: pd.Series) -> pd.Series:
    """Order numbers that Excel turned into floats (``123.0``) back to ``123`` — only when
    every number of the column has the ``.0``: then no two ids can become one."""
    filled = ids.dropna()
    if len(filled) and filled.str.endswith(".0").any() \
            and filled.str.fullmatch(r"\d+\.0").all():
        return ids.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return ids


def _content_ids(frame: pd.DataFrame) -> pd.Series:
    """Each row is one order: an id from the row's content (stable across reloads and across
    overlapping exports) plus its occurrence number among identical rows."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    occurrence = pd.Series(hashed).groupby(hashed).cumcount().to_numpy()
    ids = np.char.add(
        np.char.add("r", np.char.mod("%016x", hashed)), np.char.mod("-%d", occurrence)
    )
    return pd.Series(ids, index=frame.index, dtype="string[pyarrow]")


def merge_line_items(
    orders: pd.DataFrame, amount_per_line: bool, key_runs: list[IdKeyRun] | None = None
) -> pd.DataFrame:
    """One row per order: line-item exports repeat the order on every product line.

    Each field is the first non-blank value among the order's lines; amounts are summed
    over the lines (``amount_per_line``) or taken once (an order-level column, net of the
    lines' refunds); the status is the lines' common one (refunded only when every line
    is), else paid when any line is; products are listed once each. All of it is array
    work over the lines sorted by order — no Python per order. ``key_runs`` (one
    ``id_key_run`` per streamed chunk, in order) make the usual "every id is unique" check
    a merge of sorted runs instead of one sort of the whole file.
    """
    ids = orders["order_id"].astype("string[pyarrow]").array._pa_array
    if order_ids_unique(ids, key_runs):
        return orders.drop(columns=["refund_fen"])
    # codes in order of first appearance: the k-th order's first line is the k-th "new" row
    encoded = pc.dictionary_encode(ids).combine_chunks()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    n_orders = len(encoded.dictionary)
    running = np.maximum.accumulate(codes)
    first_rows = np.flatnonzero(np.r_[True, running[1:] > running[:-1]])
    lines = np.bincount(codes, minlength=n_orders)
    multi = lines > 1
    in_multi = np.flatnonzero(multi[codes])
    order = np.argsort(codes[in_multi], kind="stable")
    rows = in_multi[order]  # the lines of multi-line orders, grouped by order, in file order
    sorted_codes = codes[rows]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    groups = sorted_codes[starts]  # == np.flatnonzero(multi)
    span = np.arange(len(rows))

    def first_valid(valid: np.ndarray) -> np.ndarray:
        """Row of each order's first line where ``valid`` (its first line if none is)."""
        pos = np.where(valid[rows], span, len(rows))
        found = np.minimum.reduceat(pos, starts) if len(rows) else pos
        return rows[np.where(found == len(rows), starts, found)]

    def sums(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values[rows], starts) if len(rows) else values[:0]

    out: dict[str, pd.Series | np.ndarray] = {}
    special = {"amount_fen", "refund_fen", "status", "product"}
    for column in orders.columns:
        if column in special:
            continue
        values = orders[column]
        take = first_rows
        valid = values.notna().to_numpy()
        if not valid[rows].all():
            take = first_rows.copy()
            take[groups] = first_valid(valid)
        out[column] = values.take(take).reset_index(drop=True)

    amount = orders["amount_fen"]
    has_amount = amount.notna().to_numpy()
    amount_np = amount.fillna(0).to_numpy(dtype=np.int64)
    refund_np = orders["refund_fen"].to_numpy(dtype=np.int64)
    merged_amount = amount_np[first_rows]
    merged_has = has_amount[first_rows]
    if amount_per_line:
        total = sums(amount_np)
        any_amount = sums(has_amount.astype(np.int64)) > 0
        gross = refunds = None
    else:
        at = first_valid(has_amount)
        gross = amount_np[at] + refund_np[at]
        refunds = sums(refund_np)
        total = np.clip(gross - refunds, 0, None)
        any_amount = has_amount[at]
    merged_amount[groups] = total
    merged_has[groups] = any_amount
    out["amount_fen"] = pd.Series(pd.arrays.IntegerArray(merged_amount, ~merged_has))

    # status: the lines' common one, else paid when any line is paid, else cancelled
    status = orders["status"].astype(STATUS_DTYPE)
    status_codes = status.cat.codes.to_numpy().astype(np.int64)
    merged_status = status_codes[first_rows].copy()
    lowest = np.minimum.reduceat(status_codes[rows], starts) if len(rows) else groups
    highest = np.maximum.reduceat(status_codes[rows], starts) if len(rows) else groups
    paid_code = STATUS_DTYPE.categories.get_loc(PAID)
    any_paid = sums((status_codes == paid_code).astype(np.int64)) > 0
    mixed = np.where(any_paid, paid_code, STATUS_DTYPE.categories.get_loc(CANCELLED))
    group_status = np.where(lowest == highest, lowest, mixed)
    if gross is not None and refunds is not None:
        # each line's refund is partial on its own, but together they refund the whole order
        whole = (refunds > 0) & (refunds >= gross) & (group_status == paid_code)
        group_status = np.where(whole, STATUS_DTYPE.categories.get_loc(REFUNDED), group_status)
    merged_status[groups] = group_status
    out["status"] = pd.Series(pd.Categorical.from_codes(merged_status, dtype=STATUS_DTYPE))

    out["product"] = _product_lists(orders["product"], rows, sorted_codes, first_rows, groups)
    return pd.DataFrame(out)[[c for c in orders.columns if c != "refund_fen"]]


def _product_lists(
    product: pd.Series, rows: np.ndarray, sorted_codes: np.ndarray, first_rows: np.ndarray,
    groups: np.ndarray,
) -> pd.Series:
    """Each order's distinct products in line order, joined by 、 (Arrow group-by kernels)."""
    single = _arrow_text(product.take(first_rows)).combine_chunks()
    if not len(rows):
        return _text_series(single, pd.RangeIndex(len(first_rows)))
    lines = pa.table({"order": pa.array(sorted_codes),
                      "product": _arrow_text(product.take(rows)).combine_chunks()})
    lines = lines.filter(pc.is_valid(lines["product"]))
    # distinct (order, product) pairs in first-seen order, then one list per order
    pairs = lines.group_by(["order", "product"], use_threads=False).aggregate([])
    listed = pairs.group_by("order", use_threads=False).aggregate([("product", "list")])
    joined = pc.binary_join(listed["product_list"], pa.scalar("、", pa.large_string()))
    # place each multi-line order's list; orders whose lines had no product stay null
    where = np.full(len(first_rows), -1, dtype=np.int64)
    where[listed["order"].to_numpy()] = np.arange(len(listed))
    values = pa.concat_arrays([joined.combine_chunks().cast(pa.large_string()),
                               single.cast(pa.large_string())])
    multi = np.zeros(len(first_rows), dtype=bool)
    multi[groups] = True
    pick = np.where(where >= 0, where, np.where(multi, -1, len(listed) + np.arange(
        len(first_rows))))
    taken = values.take(pa.array(np.where(pick >= 0, pick, 0)))
    taken = pc.if_else(pa.array(pick >= 0), taken, pa.scalar(None, pa.large_string()))
    return _text_series(taken, pd.RangeIndex(len(first_rows)))


@dataclass
class IdKeyRun:
    """One chunk's order-id keys, sorted, and which key function made them."""

    numeric: bool
    keys: np.ndarray


def id_key_run(ids: pa.ChunkedArray) -> IdKeyRun:
    """The sorted 64-bit keys of one chunk's ids (see ``order_ids_unique``)."""
    numeric, keys = _id_keys(ids)
    if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():  # exports are often in id order
        keys = np.sort(keys)
    return IdKeyRun(numeric, keys)


def order_ids_unique(ids: pa.ChunkedArray, key_runs: list[IdKeyRun] | None = None) -> bool:
    """Whether no order id occurs twice — the usual case, so it must be cheap.

    Each id becomes a 64-bit key (the number itself for digit-only ids, else a hash of its
    bytes) and the keys are sorted: 80 MB and well under a second for 10 million ids,
    instead of a hash table of the strings (~1.2 GB, 3 s). Equal ids always have equal keys,
    so only ids whose keys repeat can be duplicates; those few are compared as text. Sorted
    runs from the chunks of a streamed file (made with one key function) are merged.
    """
    if ids.null_count or len(ids) < 2:
        return len(pc.unique(ids)) == len(ids)
    keys: np.ndarray | None = None
    if key_runs and len({run.numeric for run in key_runs}) == 1 \
            and sum(len(run.keys) for run in key_runs) == len(ids):
        ordered = np.concatenate([run.keys for run in key_runs])
        if not (ordered[1:] > ordered[:-1]).all():
            ordered = np.sort(ordered, kind="stable")  # timsort merges the sorted runs
    else:
        keys = _id_keys(ids)[1]
        step = keys[1:] > keys[:-1]
        if step.all() or (not step.any() and (keys[1:] < keys[:-1]).all()):
            return True  # ids in (reverse) order, each step strict: no repeat
        ordered = np.sort(keys)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:
        return True
    if keys is None:  # runs of one kind: the whole column's keys are of that kind too
        keys = _id_keys(ids)[1]
    suspects = ids.filter(pa.array(np.isin(keys, repeated)))
    return len(pc.unique(suspects)) == len(suspects)


_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


def _id_keys(ids: pa.ChunkedArray) -> tuple[bool, np.ndarray]:
    """A 64-bit key per id: digit-only ids as their number (True), others as FNV-1a of their
    bytes (False)."""
    head = ids.slice(0, 64)
    # a failing cast costs as much as a full one: look at the first ids before trying
    if pc.all(pc.match_substring_regex(head, r"^\d{1,18}$")).as_py() is not False:
        try:
            return True, np.asarray(pc.cast(ids, pa.int64()).to_numpy(),
                                    dtype=np.int64).view(np.uint64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return False, np.concatenate([_fnv1a(chunk) for chunk in ids.chunks]
                                 or [np.empty(0, np.uint64)])


def _fnv1a(chunk: pa.Array) -> np.ndarray:
    """FNV-1a over each string's UTF-8 bytes (then its length), one pass per byte position.

    Works on the Arrow buffers directly; order ids are short, so this is a handful of
    vectorised passes.
    """
    buffers = string_buffers(chunk)
    if buffers is None:
        buffers = string_buffers(chunk.cast(pa.large_string()))
    assert buffers is not None
    offsets, data = buffers
    n = len(chunk)
    starts = offsets[:-1].astype(np.int64)
    lengths = np.diff(offsets).astype(np.int64)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    same_length = n == 0 or lengths.min() == lengths.max()
    for j in range(int(lengths.max()) if n else 0):
        if same_length:
            h = (h ^ data[starts + j]) * _FNV_PRIME
        else:
            live = lengths > j
            byte = data[np.where(live, starts + j, 0)]
            h = np.where(live, (h ^ byte) * _FNV_PRIME, h)
    return (h ^ lengths.astype(np.uint64)) * _FNV_PRIME


__all__ = ["CANCELLED", "CLOSED", "REJECT_COLUMNS", "BuiltOrders", "build_orders",
           "merge_line_items"]
