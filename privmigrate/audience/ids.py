"""Phones (or hashes already made by someone else) → the de-duplicated ids a package holds.

Rules (docs/audience.md "Hashing"): normalise with the same phone normaliser as ``load``,
drop what is not a mainland mobile, de-duplicate after normalising, hash each distinct phone
once with the requested algorithm. Input that is already a hash (32 or 64 hex characters) is
lower-cased and passed through, never hashed again; a run may not mix raw phones with hashes,
and a hash of the other kind cannot be converted, so both are clean errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.audience.digests import DIGEST_SIZE, PHONE_WIDTH, from_hex, hash_phones
from privmigrate.errors import InputError

ID_TYPES = ("md5", "sha256")
_HEX_LEN = {32: "md5", 64: "sha256"}


@dataclass(frozen=True)
class PreparedIds:
    """The ids of one package, with the counts a manifest reports."""

    digests: np.ndarray  # (n, 16|32) uint8, unique, first-seen order
    id_type: str  # md5 | sha256
    given: int  # values offered (one per selected customer)
    missing: int  # empty: nothing to hash
    invalid: int  # present but neither a mainland mobile nor a hash
    duplicates: int  # removed after normalising
    already_hashed: int  # values that arrived hashed and were passed through

    @property
    def count(self) -> int:
        return len(self.digests)

    def counts(self) -> dict[str, int]:
        return {
            "given": self.given,
            "missing": self.missing,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "already_hashed": self.already_hashed,
            "ids": self.count,
        }


def empty_digests(id_type: str) -> np.ndarray:
    return np.empty((0, DIGEST_SIZE[id_type]), dtype=np.uint8)


def prepare_ids(values: pd.Series, id_type: str, *, threads: int | None = None) -> PreparedIds:
    """Normalise, classify, de-duplicate and hash ``values`` (phones or hashes)."""
    if id_type not in ID_TYPES:
        raise InputError(f"id type {id_type!r} is not supported; use md5 or sha256")
    strings = _as_arrow(values)
    given = len(strings)
    # Fast path: clean 11-character values (customers.parquet holds nothing else) are
    # checked as bytes in numpy; only the rest goes through text functions.
    eleven = pc.fill_null(pc.equal(pc.binary_length(strings), PHONE_WIDTH), False)
    candidates = _fixed_rows(pc.filter(strings, eleven), PHONE_WIDTH)
    mobile = _is_mobile(candidates)
    phone_rows = candidates[mobile]
    eleven_np = eleven.to_numpy(zero_copy_only=False)
    not_mobile = np.flatnonzero(eleven_np)[~mobile]
    rest_mask = ~eleven_np
    rest_mask[not_mobile] = True
    rest = pc.utf8_trim_whitespace(pc.filter(strings, pa.array(rest_mask)))
    missing_mask = pc.fill_null(pc.equal(pc.utf8_length(rest), 0), True)
    missing = int(pc.sum(missing_mask).as_py() or 0)
    rest = pc.filter(rest, pc.invert(missing_mask))

    hashed_kind = _hash_kind(rest)
    is_hashed = pc.not_equal(hashed_kind, "")
    hashed = pc.filter(rest, is_hashed)
    kinds = set(pc.unique(pc.filter(hashed_kind, is_hashed)).to_pylist())
    rescued, invalid = _normalise_rest(pc.filter(rest, pc.invert(is_hashed)))
    if len(rescued):
        phone_rows = np.concatenate([phone_rows, _fixed_rows(rescued, PHONE_WIDTH)])
    phones = phone_rows

    if len(hashed) and len(phones):
        raise InputError(
            f"the input mixes {len(phones)} phone numbers with {len(hashed)} values that are "
            "already hashed; hash them all the same way before loading, or load only one kind"
        )
    if kinds - {id_type}:
        found = ", ".join(sorted(kinds))
        raise InputError(
            f"the input is already hashed as {found}, which cannot be turned into {id_type}; "
            f"use --id-type {found} (or id_type = \"{found}\" in [audience])"
        )
    if len(hashed):
        digests = from_hex(_fixed_rows(pc.utf8_lower(hashed), 2 * DIGEST_SIZE[id_type]))
        unique, duplicates = _unique_rows(digests)
        return PreparedIds(unique, id_type, given, missing, invalid, duplicates, len(hashed))
    unique_rows, duplicates = _unique_phones(phone_rows)
    digests = hash_phones(unique_rows, id_type, threads=threads)
    return PreparedIds(digests, id_type, given, missing, invalid, duplicates, 0)


def _as_arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype("string[pyarrow]"), type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _is_mobile(rows: np.ndarray) -> np.ndarray:
    """``^1[3-9][0-9]{9}$`` on (n, 11) ASCII rows."""
    digits = rows - np.uint8(ord("0"))  # wraps below '0', so non-digits are > 9
    return (digits <= 9).all(axis=1) & (digits[:, 0] == 1) & (digits[:, 1] >= 3)


def _hash_kind(values: pa.Array) -> pa.Array:
    """'md5' / 'sha256' for hex strings of 32 / 64 characters, '' otherwise."""
    is_hex = pc.match_substring_regex(values, r"^[0-9a-fA-F]+$")
    length = pc.utf8_length(values)
    kind = pc.if_else(
        pc.equal(length, 32), "md5", pc.if_else(pc.equal(length, 64), "sha256", "")
    )
    return pc.if_else(is_hex, kind, "")


def _normalise_rest(values: pa.Array) -> tuple[pa.Array, int]:
    """Run the leftovers (+86 prefixes, spaces, Excel quirks) through load's normaliser."""
    if len(values) == 0:
        return pa.array([], type=pa.large_string()), 0
    from privmigrate.ingest.phones import VALID, normalize_phones

    phone, status = normalize_phones(pd.Series(values.to_pylist(), dtype="string"))
    ok = (status == VALID).to_numpy()
    rescued = pa.array(phone[ok].astype(str).tolist(), type=pa.large_string())
    return rescued, int((~ok).sum())


def _fixed_rows(values: pa.Array, width: int) -> np.ndarray:
    """An (n, width) uint8 view of strings that all have exactly ``width`` bytes."""
    values = pc.cast(values, pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    if n == 0:
        return np.empty((0, width), dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
    offsets = offsets[values.offset : values.offset + n + 1]
    if values.null_count or not np.all(np.diff(offsets) == width):
        raise ValueError(f"every value must be {width} bytes long")
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(n, width)


def _unique_phones(rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Distinct phone rows (first-seen order) and how many repeats were dropped."""
    keys = _phone_keys(rows)
    ordered = np.sort(keys)
    if not np.any(ordered[1:] == ordered[:-1]):  # the usual case: one phone per customer
        return rows, 0
    repeat = pd.Series(keys).duplicated().to_numpy()
    return rows[~repeat], int(repeat.sum())


def _phone_keys(rows: np.ndarray) -> np.ndarray:
    """Each 11-digit row as one exact 44-bit integer (a digit per 4 bits)."""
    head = np.ascontiguousarray(rows[:, :8]).view("<u8").ravel() & np.uint64(0x0F0F0F0F0F0F0F0F)
    # pack the 8 low nibbles of the first 8 digits into 32 bits
    head = (head | (head >> np.uint64(4))) & np.uint64(0x00FF00FF00FF00FF)
    head = (head | (head >> np.uint64(8))) & np.uint64(0x0000FFFF0000FFFF)
    head = (head | (head >> np.uint64(16))) & np.uint64(0x00000000FFFFFFFF)
    tail = rows[:, 8:].astype(np.uint64) & np.uint64(0x0F)
    return (head << np.uint64(12)) | (tail[:, 0] << np.uint64(8)) | (
        tail[:, 1] << np.uint64(4)) | tail[:, 2]


def _unique_rows(digests: np.ndarray) -> tuple[np.ndarray, int]:
    voids = np.ascontiguousarray(digests).view(f"V{digests.shape[1]}").ravel()
    _, first = np.unique(voids, return_index=True)
    first.sort()
    return digests[first], int(len(digests) - len(first))
