"""Which customers an audience holds: segments, and where they stand with the private domain.

A retargeting audience (the default) wants past buyers who are *not yet* in the private
domain: customers already added on WeCom, or converted since (the ``conversions`` table the
``track`` step writes), are left out and removed at the next push. An exclusion audience
(``include = "in_private_domain"``) is the opposite: exactly those customers, for excluding
them from acquisition campaigns or seeding a lookalike.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from privmigrate.errors import InputError

COLUMNS = ["customer_id", "phone", "segment", "rfm_segment", "in_private_domain"]


@dataclass(frozen=True)
class Selection:
    phones: pd.Series
    counts: dict[str, int]


def select_customers(
    customers: pd.DataFrame,
    segments: tuple[str, ...],
    include: str,
    converted: pd.Series | None = None,
) -> Selection:
    """The phones of the customers in ``segments`` (``segment`` or ``rfm_segment``)."""
    everyone = not segments or "*" in segments
    if everyone:
        in_segments = pd.Series(True, index=customers.index)
    else:
        _check_segments(customers, segments)
        wanted = list(segments)
        in_segments = customers["segment"].astype("string").isin(wanted).fillna(False) | (
            customers["rfm_segment"].astype("string").isin(wanted).fillna(False)
        )
    chosen = customers[in_segments.to_numpy(dtype=bool)]
    joined = chosen["in_private_domain"].fillna(False).astype(bool)
    converted_mask = (
        chosen["customer_id"].isin(converted).to_numpy(dtype=bool)
        if converted is not None and len(converted)
        else pd.Series(False, index=chosen.index).to_numpy()
    )
    joined_np = joined.to_numpy(dtype=bool)
    if include == "not_in_private_domain":
        keep = ~joined_np & ~converted_mask
    elif include == "in_private_domain":
        keep = joined_np | converted_mask
    else:
        keep = pd.Series(True, index=chosen.index).to_numpy()
    counts = {
        "customers": len(customers),
        "in_segments": len(chosen),
        "in_private_domain": int(joined_np.sum()),
        "converted": int((converted_mask & ~joined_np).sum()),
        "selected": int(keep.sum()),
    }
    return Selection(chosen["phone"][keep], counts)


def _check_segments(customers: pd.DataFrame, segments: tuple[str, ...]) -> None:
    known = set(customers["segment"].dropna().astype(str)) | set(
        customers["rfm_segment"].dropna().astype(str)
    )
    for column in ("segment", "rfm_segment"):
        dtype = customers[column].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            known |= {str(c) for c in dtype.categories}
    unknown = [s for s in segments if s not in known]
    if unknown:
        raise InputError(
            f"segment {', '.join(unknown)} is not in customers.parquet; known segments: "
            f"{', '.join(sorted(known)) or '(none)'}"
        )
