"""CSV cells that Excel/WPS would run as formulas are made plain text (OWASP CSV injection).

A CSV has no cell types, so a spreadsheet opening it evaluates any cell starting with
``= + - @`` (and tab/CR, which some versions skip before looking). Such text gets a leading
``'`` — what OWASP recommends and what Excel itself stores for a typed apostrophe. Only text
is touched, and text that is only a number (``-12.50``, ``+8613800000001``) is a value, not a
formula: a phone or an amount is never changed. xlsx needs none of this
(cells are typed; the writers store such text as text, the report also sets quotePrefix),
so it is for CSV files only.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

FORMULA_START = r"[=+\-@\t\r]"  # pandas .str.match anchors at the start
# A cell that is only a number (a signed amount, a +86 phone, 1,234.50) is a value to Excel,
# never a formula: it is left exactly as it is, so no phone or amount is ever mangled.
PLAIN_NUMBER = r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?%?"
QUOTE = "'"


def neutralize_formulas(frame: pd.DataFrame, columns: Iterable[str] | None = None
                        ) -> pd.DataFrame:
    """``frame`` with a ``'`` before every text cell of ``columns`` (default all) that starts
    with a formula character; NA stays NA, numeric/boolean/date columns are left as they are.

    Idempotent: a prefixed cell starts with ``'`` and is not prefixed again. ``frame`` is not
    modified.
    """
    out = frame.copy(deep=False)
    for name in frame.columns if columns is None else columns:
        column = neutralize_series(frame[name])
        if column is not frame[name]:
            out[name] = column
    return out


def neutralize_series(values: pd.Series) -> pd.Series:
    """The column with formula-like text prefixed, or ``values`` itself when nothing is."""
    text = values
    if isinstance(values.dtype, pd.CategoricalDtype):
        if not _is_text(values.cat.categories.dtype):
            return values
        text = values.astype(values.cat.categories.dtype)
    elif not _is_text(values.dtype):
        return values
    try:
        hits = text.str.match(FORMULA_START, na=False)
    except AttributeError:  # an object column holding no text (all numbers, say)
        return values
    mask = hits.to_numpy(dtype=bool, na_value=False)
    if mask.any():
        numbers = text.str.fullmatch(PLAIN_NUMBER, na=False)
        mask = mask & ~numbers.to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        return values
    out = text.copy()
    out[mask] = QUOTE + text[mask].astype(str)
    return out


def _is_text(dtype: object) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
