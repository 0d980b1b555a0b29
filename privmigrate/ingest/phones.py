"""Phone normalisation and classification for mainland-China buyer numbers.

Exports carry phones in many shapes: ``'13812345678`` (Excel protection), ``+86``/``86-``
prefixes, ``138 1234 5678``, Excel floats (``13812345678.0``), masked (``138****1234``,
``1******6198``, ``186******05``), privacy numbers (``13812345678-1234``, ``…转1234``),
ciphertext (``$…$``) and junk. Only a real mobile is a usable key; masked and virtual numbers
are never keys (virtual ones expire).

Work is done once per distinct value: common shapes by vectorised regexes, the small residue
(unusual punctuation, international formatting) validated by ``phonenumbers``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.ingest.cells import byte_table, edge_bytes_hit

VALID, MASKED, VIRTUAL, INVALID, MISSING = "valid", "masked", "virtual", "invalid", "missing"
PHONE_STATUSES = (VALID, MASKED, VIRTUAL, INVALID, MISSING)

MOBILE_RE = r"^1[3-9]\d{9}$"
_NULLS = {"", "-", "--", "—", "null", "none", "nan", "n/a", "无", "0"}
_PREFIX_RE = r"^(?:\+?0{0,2}86)[-\s]?(?=1\d{10}\b)"
_VIRTUAL_RE = r"^1\d{10}\s*(?:-|转|#|,|，|_|ext\.?)\s*\d{1,6}$"
_MASKED_RE = r"^(?:1[\d*]{2,3}[*]{2,}[\d*]*|\$.*\$.*|[*]+\d*)$"


def _clean(values: pd.Series) -> pd.Series:
    """Strip Excel/export wrappers: ="…", leading ', tabs, spaces, trailing .0."""
    s = values.astype("string").str.strip()
    s = s.str.replace(r'^="?(.*?)"?$', r"\1", regex=True)
    s = s.str.replace(r"^[`'‘’]+", "", regex=True)
    s = s.str.replace(r"[\s\u3000\u00a0]+", "", regex=True)
    s = s.str.replace(r"^(\d{11})\.0+$", r"\1", regex=True)
    s = s.str.replace(r"^\((?:\+?86)\)", "", regex=True)
    return s


def classify_phones(unique: pd.Series) -> pd.DataFrame:
    """Normalise distinct raw values; returns columns ``phone`` (or NA) and ``phone_status``."""
    raw = unique.astype("string")
    cleaned = _clean(raw)
    lowered = cleaned.str.lower()
    status = pd.Series(INVALID, index=raw.index, dtype="object")
    phone = pd.Series(pd.NA, index=raw.index, dtype="string")

    missing = raw.isna() | lowered.isna() | lowered.isin(_NULLS)
    status[missing] = MISSING
    rest = ~missing

    unprefixed = cleaned.str.replace(_PREFIX_RE, "", regex=True)
    # 138-1234-5678 grouping (not an extension): join the groups
    unprefixed = unprefixed.str.replace(r"^(1\d{2})-(\d{4})-(\d{4})$", r"\1\2\3", regex=True)

    masked = rest & cleaned.str.contains(r"\*|^\$.*\$", regex=True).fillna(False)
    status[masked] = MASKED
    rest &= ~masked

    virtual = rest & unprefixed.str.match(_VIRTUAL_RE).fillna(False)
    status[virtual] = VIRTUAL
    rest &= ~virtual

    mobile = rest & unprefixed.str.match(MOBILE_RE).fillna(False)
    status[mobile] = VALID
    phone[mobile] = unprefixed[mobile]
    rest &= ~mobile

    # Free text (打印备注 "电话13812345678 放门口"): recover a mobile written inside it.
    found = cleaned[rest].str.extract(r"(?<!\d)(1[3-9]\d{9})(?![\d\-转#])", expand=False)
    hit = found.notna().reindex(raw.index, fill_value=False) & rest
    hit &= cleaned.str.contains(r"[^\d+\-()]", regex=True).fillna(False)
    status[hit] = VALID
    phone[hit] = found[hit[rest]].reindex(raw.index)[hit]
    rest &= ~hit

    # Residue: let phonenumbers judge anything carrying enough digits.
    residue = cleaned[rest & cleaned.str.count(r"\d").fillna(0).ge(11)]
    for idx, value in residue.items():
        number = _parse_residue(str(value))
        if number is not None:
            status[idx] = VALID
            phone[idx] = number
    return pd.DataFrame({"phone": phone, "phone_status": status})


def _parse_residue(value: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 86 or parsed.extension:
        return None
    national = str(parsed.national_number)
    if not phonenumbers.is_valid_number(parsed):
        return None
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return national if pd.Series([national]).str.match(MOBILE_RE).iloc[0] else None


_WRAPPER_LEFT = "'`‘’=\" \t\u3000"
_WRAPPER_RIGHT = "\" \t\u3000"
_WRAPPED_FIRST = byte_table(_WRAPPER_LEFT)
_WRAPPED_LAST = byte_table(_WRAPPER_RIGHT)


def normalize_phones(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised: (phone or NA, status) for every value.

    Cells already in the clean 11-digit shape (nearly all of a typical column) are their own
    phone: one regex pass over the column settles them without a hash table. Only the other
    cells are dictionary-encoded, and their distinct values classified once each.
    """
    if len(values) == 0:
        return (pd.Series([], dtype="string[pyarrow]", index=values.index),
                pd.Series(pd.Categorical([], categories=PHONE_STATUSES), index=values.index))
    arr = pa.chunked_array(
        [pa.array(values.astype("string[pyarrow]").array._pa_array.combine_chunks())]
    ) if not hasattr(values.array, "_pa_array") else values.array._pa_array
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    cells = arr.combine_chunks().cast(pa.string())
    bare = cells
    if edge_bytes_hit(pa.chunked_array([cells]), _WRAPPED_FIRST, _WRAPPED_LAST):
        # 淘宝's '138…, ="138…", blanks around: a mobile inside such a wrapper is valid as
        # classify_phones would find it, without sending a whole column through it
        bare = pc.utf8_trim(pc.utf8_ltrim(cells, characters=_WRAPPER_LEFT),
                            characters=_WRAPPER_RIGHT)
    clean = pc.fill_null(pc.match_substring_regex(bare, MOBILE_RE), False)
    clean_np = clean.to_numpy(zero_copy_only=False)
    codes = np.zeros(len(cells), dtype=np.int8)  # index into PHONE_STATUSES: valid
    phone = pc.if_else(clean, bare, pa.scalar(None, pa.string()))
    if not clean_np.all():
        encoded = pc.dictionary_encode(cells.filter(pa.array(~clean_np)))
        phone_dict, status_dict = _classify_distinct(encoded.dictionary)
        other = pc.take(pa.array(status_dict, type=pa.int8()), encoded.indices)
        codes[~clean_np] = pc.fill_null(other, PHONE_STATUSES.index(MISSING)).to_numpy(
            zero_copy_only=False)
        recovered = pc.take(phone_dict, encoded.indices)
        if recovered.null_count < len(recovered):
            # the other cells' phones placed by one take over [column…, other cells' phones…]
            # (usually none of them is a phone: masked, missing, junk — then no take at all)
            where = np.arange(len(cells), dtype=np.int64)
            where[~clean_np] = len(cells) + np.arange(len(encoded))
            phone = pa.concat_arrays([phone, recovered]).take(pa.array(where))
    return (
        pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([phone])), index=values.index),
        pd.Series(pd.Categorical.from_codes(codes, categories=PHONE_STATUSES),
                  index=values.index),
    )


def _classify_distinct(uniques: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(phone or null, status code) per distinct value, as arrays aligned with ``uniques``.

    Values already in the clean 11-digit shape are their own phone and stay in Arrow (no
    Python strings for the bulk of a column); only the others go through ``classify_phones``,
    and their results are placed by one ``take``.
    """
    clean = pc.fill_null(pc.match_substring_regex(uniques, MOBILE_RE), False)
    clean_np = clean.to_numpy(zero_copy_only=False)
    status_dict = np.zeros(len(uniques), dtype=np.int8)  # index into PHONE_STATUSES: valid
    phone_dict = pc.if_else(clean, uniques, pa.scalar(None, pa.string()))
    # a value with a * is masked whatever else it holds (classify_phones' second rule, and no
    # null word has one): 京东 masks every number, so this spares most of Python's work
    starred = pc.fill_null(pc.match_substring(uniques, "*"), False).to_numpy(
        zero_copy_only=False) & ~clean_np
    status_dict[starred] = PHONE_STATUSES.index(MASKED)
    todo = ~clean_np & ~starred
    if not todo.any():
        return phone_dict, status_dict
    rest = pd.Series(uniques.filter(pa.array(todo)).to_pylist(), dtype="string")
    table = classify_phones(rest)
    status_dict[todo] = pd.Categorical(table["phone_status"], categories=PHONE_STATUSES).codes
    rest_phones = pa.array(table["phone"].astype(object).where(table["phone"].notna(), None),
                           type=pa.string())
    # position of each distinct value's phone in [clean phones…, classified phones…]
    where = np.arange(len(uniques), dtype=np.int64)
    where[todo] = len(uniques) + np.arange(len(rest_phones))
    combined = pa.concat_arrays([phone_dict, rest_phones])
    return combined.take(pa.array(where)), status_dict


def normalize_phone(value: object) -> tuple[str | None, str]:
    """One value (for tests and ad-hoc use); the same rules as ``normalize_phones``."""
    phone, status = normalize_phones(pd.Series([value], dtype="object"))
    p = phone.iloc[0]
    return (None if pd.isna(p) else str(p)), str(status.iloc[0])
