"""Cell-level parsing shared by every profile: text, money, times, flags — all vectorised.

Each parser returns the parsed values and a boolean mask of cells that held something but did
not parse, so the caller can reject exactly those rows with a reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NULL_WORDS = ("", "-", "--", "—", "null", "NULL", "None", "nan", "NaN", "N/A", "#N/A", "无")
_NULL_TIMES = ("0000-00-00", "0000-00-00 00:00:00", "0000/00/00", "1970-01-01 08:00:00")


def _arrow(s: pd.Series) -> pa.ChunkedArray:
    arr = s.array
    if hasattr(arr, "_pa_array"):
        return arr._pa_array  # type: ignore[no-any-return]
    return pa.chunked_array([pa.array(s.astype(object), type=pa.string(), from_pandas=True)])


def _series(arr: pa.ChunkedArray | pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(arr) if isinstance(arr, pa.Array)
                                                 else arr), index=index)


def clean_text(s: pd.Series) -> pd.Series:
    """Strip export wrappers (``="…"``, leading ``'``, tabs, spaces); null sentinels → NA."""
    arr = _arrow(s.astype("string[pyarrow]"))
    # One scan decides whether any cell needs work; clean exports skip the rewriting passes.
    # The first and last bytes of every cell settle it for most columns without a regex.
    needs = _edges_may_need_cleaning(arr) and pc.any(pc.match_substring_regex(
        arr, "^[\\s=`'\"\u3000\u00a0\ufeff]|[\\s\u3000\u00a0]$")).as_py()
    if not needs:
        is_null = pc.is_in(arr, value_set=pa.array(NULL_WORDS))
        if pc.any(is_null).as_py():
            arr = pc.if_else(is_null, pa.scalar(None, arr.type), arr)
        return _series(arr, s.index)
    # Each rewriting pass runs only when some cell's first/last byte says it can change it.
    if edge_bytes_hit(arr, _BLANK_FIRST, _BLANK_LAST, empty_hits=False):
        arr = pc.utf8_trim(arr, characters=" \t\r\n\u3000\u00a0\ufeff")
    if edge_bytes_hit(arr, _WRAPPER_FIRST, empty_hits=False):  # a cell starts with = ' ` "
        arr = _unwrap_formula(arr)
        if edge_bytes_hit(arr, _TICK_FIRST, empty_hits=False):
            arr = pc.utf8_ltrim(arr, characters="'`")
        if edge_bytes_hit(arr, _QUOTE_BLANK, _QUOTE_BLANK_LAST, empty_hits=False):
            arr = pc.utf8_trim(arr, characters=" \t\u3000\x22")
    is_null = pc.is_in(arr, value_set=pa.array(NULL_WORDS))
    arr = pc.if_else(is_null, pa.scalar(None, pa.string()), arr)
    return _series(arr, s.index)


def byte_table(*items: int | str) -> np.ndarray:
    """A 256-entry lookup table marking the given bytes: ints as they are, text as every
    byte of its UTF-8 (for the byte screens below and in phones/orders)."""
    table = np.zeros(256, dtype=bool)
    table[[b for item in items
           for b in ([item] if isinstance(item, int) else item.encode())]] = True
    return table


# what each pass of clean_text can change, by first / last byte (lead and final bytes of
# U+3000 E3 80 80, U+00A0 C2 A0, U+FEFF EF BB BF)
_BLANK_FIRST = byte_table(" ", "\t", "\r", "\n", 0xE3, 0xC2, 0xEF)
_BLANK_LAST = byte_table(" ", "\t", "\r", "\n", 0x80, 0xA0, 0xBF)
_WRAPPER_FIRST = byte_table("=", "'", "`", '"')
_TICK_FIRST = byte_table("'", "`")
_QUOTE_BLANK = byte_table(" ", "\t", '"', 0xE3)
_QUOTE_BLANK_LAST = byte_table(" ", "\t", '"', 0x80)


def _unwrap_formula(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """``="…"`` → ``…``: drop a leading ``=``, then one ``"`` at each end of what follows.

    What the regex ``^="?(.*?)"?$`` does, with slices instead (the lazy group made that regex
    the slowest step of loading 淘宝 exports, whose every order number is wrapped so). When
    every cell is wrapped exactly so — the 淘宝 case — one slice does it.
    """
    if _all_formula_wrapped(arr):
        return pc.utf8_slice_codeunits(arr, 2, -1)
    formula = pc.starts_with(arr, "=")
    inner = pc.utf8_slice_codeunits(arr, 1)
    inner = pc.if_else(pc.starts_with(inner, '"'), pc.utf8_slice_codeunits(inner, 1), inner)
    inner = pc.if_else(pc.ends_with(inner, '"'), pc.utf8_slice_codeunits(inner, 0, -1), inner)
    return pc.if_else(formula, inner, arr)


# First bytes that may start a wrapper or blank (ASCII blanks, = ` ' ", and the lead bytes of
# U+3000, U+00A0, U+FEFF); last bytes that may end a blank (ASCII blanks, and the final bytes
# of U+3000 and U+00A0, which many CJK characters share: then the regex decides).
_FIRST_SUSPECT = byte_table("\t\n\x0b\x0c\r =`'\"", 0xE3, 0xC2, 0xEF)
_LAST_SUSPECT = byte_table("\t\n\x0b\x0c\r ", 0x80, 0xA0)


def _edges_may_need_cleaning(arr: pa.ChunkedArray) -> bool:
    """False when no cell starts or ends with a byte that a wrapper or blank could have."""
    return edge_bytes_hit(arr, _FIRST_SUSPECT, _LAST_SUSPECT)


def edge_bytes_hit(arr: pa.ChunkedArray, first: np.ndarray, last: np.ndarray | None = None,
                   *, empty_hits: bool = True) -> bool:
    """Whether any non-empty cell's first byte is marked in ``first`` (a 256-entry table) or
    its last byte in ``last``; True as well for non-string data, and for empty cells unless
    ``empty_hits`` is False.

    Reads the Arrow buffers directly: a gather per chunk instead of a regex over every cell,
    so a column that cannot hold what is looked for is ruled out cheaply.
    """
    for chunk in arr.chunks:
        edges = _edges(chunk)
        if edges is None:
            return True
        heads, tails, has_empty = edges
        if (has_empty and empty_hits) or first[heads].any() \
                or (last is not None and last[tails].any()):
            return True
    return False


def string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string chunk's offsets (one per cell, plus one; slice offset applied) and its data
    bytes (a one-byte stand-in when there are none), as numpy views; None when not text."""
    if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        return None
    return byte_buffers(chunk)


def byte_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``string_buffers`` for any string or binary chunk (e.g. cells not yet decoded)."""
    large = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
    width = np.int64 if large else np.int32
    _, offsets_buf, data_buf = chunk.buffers()
    if offsets_buf is None:  # an empty array may come without buffers
        return np.zeros(1, dtype=width), np.zeros(1, dtype=np.uint8)
    offsets = np.frombuffer(offsets_buf, dtype=width,
                            count=chunk.offset + len(chunk) + 1)[chunk.offset:]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and data_buf.size \
        else np.zeros(1, dtype=np.uint8)
    return offsets, data


def _filled_cells(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None:
    """Start and end offsets of every non-empty valid cell, the data bytes, and whether an
    empty (valid) cell exists; None when the chunk is not text."""
    buffers = string_buffers(chunk)
    if buffers is None:
        return None
    offsets, data = buffers
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    if chunk.null_count:
        valid = chunk.is_valid().to_numpy(zero_copy_only=False)
        has_empty = bool((valid & ~filled).any())
        filled &= valid
    else:
        has_empty = not filled.all()
    return starts[filled], ends[filled], data, has_empty


def _edges(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """First and last byte of every non-empty valid cell, and whether an empty one exists;
    None when the chunk is not text (an all-null chunk of another type has no edges)."""
    cells = _filled_cells(chunk)
    if cells is None:
        return None if len(chunk) and chunk.null_count < len(chunk) else (
            np.empty(0, np.uint8), np.empty(0, np.uint8), False)
    starts, ends, data, has_empty = cells
    return data[starts], data[ends - 1], has_empty


def may_contain(arr: pa.ChunkedArray | pa.Array, needles: tuple[str, ...]) -> bool:
    """Whether any of ``needles`` occurs in the bytes behind ``arr`` — a memchr-speed screen
    before a regex (a hit may come from bytes outside a slice: then the regex decides)."""
    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        buffers = chunk.buffers()
        if len(buffers) < 3 or buffers[2] is None:
            if len(buffers) < 3 and len(chunk) and chunk.null_count < len(chunk):
                return True  # not text
            continue
        blob = buffers[2].to_pybytes()  # bytes.find is memchr-fast
        if any(needle.encode() in blob for needle in needles):
            return True
    return False


def _all_formula_wrapped(arr: pa.ChunkedArray) -> bool:
    """Whether every non-empty cell reads ``="…"`` (first bytes ``="``, last byte ``"``)."""
    for chunk in arr.chunks:
        cells = _filled_cells(chunk)
        if cells is None or cells[3]:
            return False
        starts, ends, data, _ = cells
        if not ((data[starts] == ord("=")).all() and (data[ends - 1] == ord('"')).all()):
            return False
        # (a one-byte "=" cell ends with "=", so starts + 1 is in bounds here)
        if not (data[starts + 1] == ord('"')).all():
            return False
    return True


_MONEY_RE = r"^-?(\d+(\.\d*)?|\.\d+)$"


def parse_money_fen(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yuan text → int64 fen (nullable). Strips 元, ¥, ￥, thousands commas and （…） notes.

    Clean numbers take one regex pass and a cast; only the other cells are cleaned.
    """
    arr = _arrow(s.astype("string[pyarrow]"))
    plain = _plain_numbers(arr)
    ok = pc.is_valid(arr) if plain is not None else \
        pc.fill_null(pc.match_substring_regex(arr, _MONEY_RE), False)
    if plain is None and not pc.all(pc.or_(ok, pc.is_null(arr))).as_py():
        text = _arrow(clean_text(s))
        text = pc.replace_substring_regex(text, r"[（(].*$", "")
        text = pc.replace_substring_regex(text, r"[元¥￥,，\s]|RMB|CNY", "")
        arr = pc.if_else(ok, arr, text)
        ok = pc.fill_null(pc.match_substring_regex(arr, _MONEY_RE), False)
    bad = pc.and_(pc.invert(ok), pc.is_valid(arr))
    values = plain if plain is not None else \
        pc.cast(pc.if_else(ok, arr, pa.scalar(None, arr.type)), pa.float64())
    fen = pc.round(pc.multiply(values, 100.0)).to_numpy(zero_copy_only=False)
    out = pd.Series(pd.array(fen, dtype="Float64").astype("Int64"), index=s.index)
    return out, pd.Series(bad.to_numpy(zero_copy_only=False), index=s.index).astype(bool)


_NUMBER_BYTES = byte_table("0123456789.-")


def _plain_numbers(arr: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The cells as float64 when every one is a plain decimal number, else None.

    Cells made only of digits, ``.`` and ``-`` that Arrow's float parser accepts whole are
    exactly those ``_MONEY_RE`` accepts (no sign but a leading ``-``, no exponent, no
    ``inf``/``nan``): one byte scan and a cast replace the regex over every cell.
    """
    if not _only_bytes(arr, _NUMBER_BYTES):
        return None
    try:
        return pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _only_bytes(arr: pa.ChunkedArray, allowed: np.ndarray) -> bool:
    """Whether every byte of every cell is marked in ``allowed`` (a 256-entry table)."""
    for chunk in arr.chunks:
        buffers = string_buffers(chunk)
        if buffers is None:
            return False
        offsets, data = buffers
        # (a null cell's bytes, if any, are checked too: that can only send us the slow way)
        if offsets[-1] > offsets[0] and not allowed[data[offsets[0]:offsets[-1]]].all():
            return False
    return True


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M",
                 "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d%H%M%S", "%Y%m%d")


def parse_time(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text → naive datetime64[us] (Asia/Shanghai wall time). Sentinels like 0000-00-00 → NaT.

    The common formats go through Arrow's strptime; the residue (single-digit months,
    fractions, time-zone offsets, 年月日, Excel serial numbers) through pandas once per value.
    """
    if len(s) == 0:
        empty = pd.Series(pd.array([], dtype="datetime64[us]"), index=s.index)
        return empty, pd.Series(False, index=s.index)
    raw = _arrow(s.astype("string[pyarrow]"))
    # Fast path: the common format parses straight from the raw cells — by Arrow's ISO cast
    # when every cell is laid out exactly as YYYY-MM-DD HH:MM:SS, else by strptime.
    first = _iso_seconds(raw)
    if first is None:
        first = pc.strptime(raw, format=_TIME_FORMATS[0], unit="us", error_is_null=True)
    if pc.all(pc.or_(pc.is_valid(first), pc.is_null(raw))).as_py():
        times = pd.Series(first.to_numpy(zero_copy_only=False), index=s.index).astype(
            "datetime64[us]")
        return times, pd.Series(False, index=s.index)
    text = clean_text(s)
    arr = _arrow(text)
    arr = pc.if_else(pc.is_in(arr, value_set=pa.array(_NULL_TIMES)), pa.scalar(None, arr.type),
                     arr)
    arr = pc.if_else(pc.starts_with(arr, "0000"), pa.scalar(None, arr.type), arr)
    result = pc.if_else(pc.is_valid(first), first, pa.scalar(None, pa.timestamp("us")))
    todo = pc.and_(pc.is_valid(arr), pc.is_null(result))
    for fmt in _TIME_FORMATS:
        if not pc.any(todo).as_py():
            break
        parsed = pc.strptime(arr, format=fmt, unit="us", error_is_null=True)
        got = pc.and_(todo, pc.is_valid(parsed))
        result = pc.if_else(got, parsed, result)
        todo = pc.and_(todo, pc.invert(got))
    times = pd.Series(result.to_numpy(zero_copy_only=False), index=s.index).astype(
        "datetime64[us]"
    )
    bad = pd.Series(todo.to_numpy(zero_copy_only=False), index=s.index).fillna(False)
    if bad.any():
        residue = text[bad]
        fixed = _parse_residue_times(residue)
        times[bad] = fixed
        bad = bad & fixed.reindex(bad.index).isna()
    return times, bad.astype(bool)


_ISO_SECONDS = tuple((i, ord(c)) for i, c in enumerate("0000-00-00 00:00:00") if c != "0")
_DATETIME_BYTES = byte_table("0123456789-: ")


def _iso_seconds(raw: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The cells as timestamps when every one reads ``YYYY-MM-DD HH:MM:SS`` (digits where
    digits go), else None: Arrow's ISO-8601 cast is ~4× faster than strptime, and for
    exactly this layout it gives the same instants (out-of-range fields make it fail)."""
    if not _only_bytes(raw, _DATETIME_BYTES):
        return None
    lengths = pc.min_max(pc.binary_length(raw))
    if lengths["min"].as_py() != 19 or lengths["max"].as_py() != 19:
        return None
    for chunk in raw.chunks:
        cells = _filled_cells(chunk)  # every one 19 bytes long (checked above)
        if cells is None:
            return None
        starts, _, data, _ = cells
        if not all((data[starts + i] == byte).all() for i, byte in _ISO_SECONDS):
            return None  # a separator out of place (the cast checks the digits)
    try:
        return pc.cast(raw, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _parse_residue_times(values: pd.Series) -> pd.Series:
    uniques = pd.Series(values.unique())
    text = uniques.astype(str).str.replace("年", "-").str.replace("月", "-").str.replace("日", " ")
    text = text.str.replace("/", "-").str.replace("T", " ").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    naive = parsed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    # Excel serial dates (days since 1899-12-30) for numeric cells in date columns
    serial = pd.to_numeric(uniques, errors="coerce")
    is_serial = naive.isna() & serial.between(20000, 80000)
    naive[is_serial] = pd.Timestamp("1899-12-30") + pd.to_timedelta(
        (serial[is_serial].astype(float) * 86400).round(), unit="s"
    )
    # a bare time offset-less value was read as UTC above: undo that shift
    offset = ~text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    naive[offset & ~is_serial] = parsed[offset & ~is_serial].dt.tz_localize(None)
    mapping = pd.Series(naive.to_numpy(), index=uniques.to_numpy())
    return pd.Series(values.map(mapping).to_numpy(), index=values.index).astype("datetime64[us]")


_TRUE = {"是", "yes", "y", "true", "1", "已添加", "已加", "好友", "√"}
_FALSE = {"否", "no", "n", "false", "0", "未添加", "非好友"}


def parse_flag(s: pd.Series, *, any_value_is_true: bool = False) -> pd.Series:
    """是/否-style cells → nullable bool; with ``any_value_is_true`` a non-empty id means True."""
    text = clean_text(s).str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(_TRUE).fillna(False)] = True
    out[text.isin(_FALSE).fillna(False)] = False
    if any_value_is_true:
        out[out.isna() & text.notna()] = True
    return out


def fen_to_decimal(fen: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """int64 fen → decimal128(18, 2) yuan, exactly (the fen are the unscaled integer)."""
    fen = np.ascontiguousarray(fen, dtype=np.int64)
    words = np.empty((len(fen), 2), dtype=np.int64)
    words[:, 0] = fen
    words[:, 1] = np.where(fen < 0, -1, 0)
    validity = None
    null_count = 0
    if valid is not None and not valid.all():
        validity = pa.array(valid, type=pa.bool_()).buffers()[1]
        null_count = int((~valid).sum())
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(fen), [validity, pa.py_buffer(words.tobytes())], null_count
    )
