"""Phone masking and exact fast grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from privmigrate.masking import mask_phone, mask_phone_text
from privmigrate.scoring import grouping


def test_mask_phone_keeps_three_and_four_digits_and_nulls():
    s = pd.Series(["13800001234", None, "123", "+8613800001234"], index=[3, 4, 5, 6])
    out = mask_phone(s)
    assert out.tolist()[0] == "138****1234" and out.isna().tolist() == [False, True, False, False]
    assert out[5] == "****" and out[6] == "+86****1234"
    assert list(out.index) == [3, 4, 5, 6]
    assert mask_phone_text("13800001234") == "138****1234" and mask_phone_text(None) is None


def test_group_codes_on_fixed_width_ids():
    ids = pa.array(["C01", "C02", "C01", "C03", "C02", "C02"])
    codes, first = grouping.group_codes(ids)
    assert codes.tolist() == [0, 1, 0, 2, 1, 1] and first.tolist() == [0, 1, 3]


def test_group_codes_on_variable_width_ids_and_large_strings():
    ids = pa.array(["a", "bb", "a", "ccc", "bb"], type=pa.large_string())
    codes, first = grouping.group_codes(ids)
    assert codes.tolist() == [0, 1, 0, 2, 1] and first.tolist() == [0, 1, 3]


def test_group_codes_stays_exact_when_hashes_collide(monkeypatch):
    monkeypatch.setattr(grouping, "_hash_words", lambda words: np.zeros(len(words), np.uint64))
    ids = pa.array([f"C{i % 7:016x}" for i in range(50)])
    codes, first = grouping.group_codes(ids)
    assert codes.tolist() == [i % 7 for i in range(50)] and first.tolist() == list(range(7))


def test_group_codes_matches_factorize_on_random_ids():
    rng = np.random.default_rng(1)
    raw = [f"C{v:016x}" for v in rng.integers(0, 2**63, 300)]
    ids = pa.array([raw[i] for i in rng.integers(0, 300, 5000)]).slice(7)
    codes, first = grouping.group_codes(ids)
    expected, _ = pd.factorize(pd.Series(ids.to_pylist()))
    assert np.array_equal(codes, expected)
    assert [ids[int(f)].as_py() for f in first] == list(pd.unique(pd.Series(ids.to_pylist())))


def test_hex_ids_decode_to_the_integers_they_spell():
    ids = pa.array(["C00000000000000ff", "Cffffffffffffffff", "C0123456789abcdef"])
    keys = grouping.hex_keys(ids)
    assert keys is not None
    assert [int(k) for k in keys] == [0xFF, 2**64 - 1, 0x0123456789ABCDEF]


def test_ids_that_are_not_lowercase_hex_take_the_verified_path():
    for odd in ("C0123456789ABCDEF", "C0123456789abcdeg", "X0123456789abcdef"):
        assert grouping.hex_keys(pa.array([odd, "C0123456789abcdef"])) is None
    ids = pa.array(["C0123456789ABCDEF", "C0123456789abcdef", "C0123456789ABCDEF"])
    codes, first = grouping.group_codes(ids)
    assert codes.tolist() == [0, 1, 0] and first.tolist() == [0, 1]


def test_bucketed_factorisation_gives_the_same_groups(monkeypatch):
    monkeypatch.setattr(grouping, "BUCKETED_FROM", 10)
    rng = np.random.default_rng(2)
    raw = [f"C{v:016x}" for v in rng.integers(0, 2**63, 500)]
    ids = pa.array([raw[i] for i in rng.integers(0, 500, 4000)])
    codes, first = grouping.group_codes(ids)
    expected, _ = pd.factorize(pd.Series(ids.to_pylist()))
    # the same partition of rows, whatever the numbering
    assert len(set(zip(codes.tolist(), expected.tolist(), strict=True))) == len(set(expected))
    assert len(first) == len(set(expected))
    assert all(codes[f] == g and (codes[:f] != g).all() for g, f in enumerate(first))
