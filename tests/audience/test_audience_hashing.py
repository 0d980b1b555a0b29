"""Vectorised hashing and id preparation against hashlib and the reference vectors."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privmigrate.audience import digests
from privmigrate.audience.digests import from_hex, hash_phones, hex_lines
from privmigrate.audience.ids import prepare_ids
from privmigrate.errors import InputError
from tests.audience.world import REF_MD5, REF_PHONE, REF_SHA256, rows


def test_reference_vectors() -> None:
    assert hash_phones(rows([REF_PHONE]), "md5")[0].tobytes().hex() == REF_MD5
    assert hash_phones(rows([REF_PHONE]), "sha256")[0].tobytes().hex() == REF_SHA256


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
@pytest.mark.parametrize("threads", [1, 2])
def test_matches_hashlib_across_chunks(monkeypatch: pytest.MonkeyPatch, algorithm: str,
                                       threads: int) -> None:
    monkeypatch.setattr(digests, "CHUNK", 7)  # many chunks, a ragged last one
    rng = np.random.default_rng(3)
    phones = [str(n) for n in rng.integers(13000000000, 19999999999, size=100)]
    out = hash_phones(rows(phones), algorithm, threads=threads)
    assert [d.tobytes().hex() for d in out] == [
        hashlib.new(algorithm, p.encode()).hexdigest() for p in phones]


def test_hex_lines_and_back() -> None:
    d = hash_phones(rows([REF_PHONE, "13900000001"]), "md5")
    text = hex_lines(d)
    assert text.split(b"\n")[0].decode() == REF_MD5 and text.endswith(b"\n")
    hexes = np.frombuffer(text.replace(b"\n", b""), dtype=np.uint8).reshape(2, 32)
    assert (from_hex(hexes) == d).all()
    upper = np.frombuffer(REF_MD5.upper().encode(), dtype=np.uint8).reshape(1, 32)
    assert from_hex(upper)[0].tobytes().hex() == REF_MD5
    with pytest.raises(ValueError):
        from_hex(np.frombuffer(b"g" * 32, dtype=np.uint8).reshape(1, 32))


def test_prepare_counts_normalises_and_dedupes() -> None:
    values = pd.Series([REF_PHONE, f" {REF_PHONE}", "+86 138 0013 8001", None, "", "12345",
                        "138****1234", REF_PHONE, "8613800138001"], dtype="string")
    ids = prepare_ids(values, "md5")
    assert ids.counts() == {"given": 9, "missing": 2, "invalid": 2, "duplicates": 3,
                            "already_hashed": 0, "ids": 2}
    assert {d.tobytes().hex() for d in ids.digests} == {
        REF_MD5, hashlib.md5(b"13800138001").hexdigest()}


def test_hashed_input_is_lowercased_never_hashed_again() -> None:
    values = pd.Series([REF_SHA256.upper(), REF_SHA256, None])
    ids = prepare_ids(values, "sha256")
    assert ids.already_hashed == 2 and ids.duplicates == 1
    assert [d.tobytes().hex() for d in ids.digests] == [REF_SHA256]


def test_hashed_input_of_the_other_kind_is_refused() -> None:
    with pytest.raises(InputError, match="--id-type md5"):
        prepare_ids(pd.Series([REF_MD5]), "sha256")


def test_mixing_phones_and_hashes_is_refused() -> None:
    with pytest.raises(InputError, match="mixes"):
        prepare_ids(pd.Series([REF_PHONE, REF_MD5]), "md5")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=20),
                          st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)), max_size=30))
def test_any_input_gives_ids_or_a_clean_error(values: list[str | None]) -> None:
    try:
        ids = prepare_ids(pd.Series(values, dtype="object"), "sha256")
    except InputError:
        return
    c = ids.counts()
    assert c["given"] == len(values)
    assert c["missing"] + c["invalid"] + c["duplicates"] + c["ids"] == len(values)
    assert len({d.tobytes() for d in ids.digests}) == ids.count
