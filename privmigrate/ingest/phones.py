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

import pandas as pd
import phonenumbers

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
    """Vectorised: (phone or NA, status) for every value, computed once per distinct value."""
    if len(values) == 0:
        return pd.Series([], dtype="string"), pd.Series([], dtype="object")
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    table = classify_phones(pd.Series(uniques, dtype="string"))
    phones = table["phone"].to_numpy(dtype=object)
    statuses = table["phone_status"].to_numpy(dtype=object)
    import numpy as np

    phone_out = np.where(codes >= 0, phones[np.maximum(codes, 0)] if len(phones) else None, None)
    status_out = np.where(
        codes >= 0, statuses[np.maximum(codes, 0)] if len(statuses) else MISSING, MISSING
    )
    return (
        pd.Series(phone_out, index=values.index, dtype="string"),
        pd.Series(status_out, index=values.index, dtype="object"),
    )


def normalize_phone(value: object) -> tuple[str | None, str]:
    """One value (for tests and ad-hoc use); the same rules as ``normalize_phones``."""
    phone, status = normalize_phones(pd.Series([value], dtype="object"))
    p = phone.iloc[0]
    return (None if pd.isna(p) else str(p)), str(status.iloc[0])
