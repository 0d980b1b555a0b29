"""Masking phone numbers for people to read (reports, terminal, exports for staff).

A full number is personal data (个人信息保护法): anywhere a person reads a list, a phone is
shown as ``138****1234`` unless the user explicitly asks for a full export.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MASK = "****"


def mask_phone(phones: pd.Series) -> pd.Series:
    """``13812341234`` → ``138****1234``, vectorised; nulls stay null.

    Values shorter than 8 characters keep nothing but the mask (too little to hide otherwise).
    """
    arr = pa.array(phones.astype("string[pyarrow]"), type=pa.large_string(), from_pandas=True)
    head = pc.utf8_slice_codeunits(arr, 0, 3)
    tail = pc.utf8_slice_codeunits(arr, -4)
    sep = pa.scalar("", pa.large_string())
    masked = pc.binary_join_element_wise(head, pa.scalar(MASK, pa.large_string()), tail, sep)
    short = pc.less(pc.utf8_length(arr), 8)
    out = pc.if_else(short, pa.scalar(MASK, pa.large_string()), masked)
    return pd.Series(out, index=phones.index, dtype="string[pyarrow]", name=phones.name)


def mask_phone_text(phone: str | None) -> str | None:
    """The same mask for one value (messages, single rows)."""
    if phone is None:
        return None
    return MASK if len(phone) < 8 else f"{phone[:3]}{MASK}{phone[-4:]}"
