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


def normalize_phones(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised: (phone or NA, status) for every value, computed once per distinct value.

    Distinct values are found with Arrow's dictionary encoding; those already in the clean
    11-digit shape skip every other rule, so a typical column costs two passes over its
    distinct values.
    """
    if len(values) == 0:
        return (pd.Series([], dtype="string[pyarrow]", index=values.index),
                pd.Series(pd.Categorical([], categories=PHONE_STATUSES), index=values.index))
    arr = pa.chunked_array(
        [pa.array(values.astype("string[pyarrow]").array._pa_array.combine_chunks())]
    ) if not hasattr(values.array, "_pa_array") else values.array._pa_array
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    encoded = pc.dictionary_encode(arr).combine_chunks()
    uniques = encoded.dictionary
    indices = encoded.indices
    clean = pc.match_substring_regex(uniques, MOBILE_RE).to_numpy(zero_copy_only=False)
    phone_dict = np.empty(len(uniques), dtype=object)
    status_dict = np.full(len(uniques), 0, dtype=np.int8)  # index into PHONE_STATUSES
    phone_dict[clean] = np.asarray(uniques.filter(pa.array(clean)).to_pylist(), dtype=object) \
        if clean.any() else []
    phone_dict[~clean] = None
    if (~clean).any():
        rest = pd.Series(uniques.filter(pa.array(~clean)).to_pylist(), dtype="string")
        table = classify_phones(rest)
        phone_dict[~clean] = table["phone"].astype(object).where(table["phone"].notna(), None)
        status_dict[~clean] = pd.Categorical(
            table["phone_status"], categories=PHONE_STATUSES).codes
    phone = pc.take(pa.array(phone_dict, type=pa.string()), indices)
    codes = pc.take(pa.array(status_dict, type=pa.int8()), indices)
    codes = pc.fill_null(codes, PHONE_STATUSES.index(MISSING)).to_numpy(zero_copy_only=False)
    return (
        pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([phone])), index=values.index),
        pd.Series(pd.Categorical.from_codes(codes, categories=PHONE_STATUSES),
                  index=values.index),
    )


def normalize_phone(value: object) -> tuple[str | None, str]:
    """One value (for tests and ad-hoc use); the same rules as ``normalize_phones``."""
    phone, status = normalize_phones(pd.Series([value], dtype="object"))
    p = phone.iloc[0]
    return (None if pd.isna(p) else str(p)), str(status.iloc[0])
