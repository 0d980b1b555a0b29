"""Resolve who bought: link orders into customers through phones and buyer accounts.

Keys are valid phones and source-scoped buyer accounts (a taobao nick is not an erp nick).
If any order shows nick N with phone P, every order of N or of P is the same customer, and so
on transitively — connected components of the key graph. Masked or virtual numbers and
masked nicks are never keys.
"""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def connected_labels(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component label (the smallest node id in it) for each node, given edges a–b.

    Vectorised min-label propagation with pointer jumping: a handful of numpy passes even
    for millions of edges.
    """
    labels = np.arange(n_nodes, dtype=np.int64)
    if len(a) == 0:
        return labels
    while True:
        la, lb = labels[a], labels[b]
        low = np.minimum(la, lb)
        before = labels.copy()
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        np.minimum.at(labels, la, low)
        np.minimum.at(labels, lb, low)
        # pointer jumping until every node points at a root
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels


def _ranked_codes(values: pa.ChunkedArray, hash_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 for null) ranked by each distinct value's keyed hash, and those hashes sorted.

    Ranking by hash rather than by text gives the same deterministic "smallest key" for a
    component without sorting strings.
    """
    encoded = pc.dictionary_encode(values).combine_chunks()
    uniques = encoded.dictionary
    hashes = key_hashes(uniques, hash_key)
    order = np.argsort(hashes, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    raw = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False),
                     dtype=np.int64)
    codes = np.where(raw >= 0, rank[np.maximum(raw, 0)] if len(rank) else -1, -1)
    return codes, hashes[order]


def _buyer_codes(
    source: pd.Series, buyer: pa.ChunkedArray, hash_key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Like ``_ranked_codes`` for the key ``source:buyer``, built only for distinct pairs."""
    encoded = pc.dictionary_encode(buyer).combine_chunks()
    b_raw = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False),
                       dtype=np.int64)
    src = pd.Categorical(source)
    s_codes = src.codes.astype(np.int64)
    n_b = max(len(encoded.dictionary), 1)
    pair = np.where(b_raw >= 0, s_codes * n_b + b_raw, -1)
    codes, pairs = pd.factorize(pair, use_na_sentinel=False)
    valid_pair = pairs >= 0
    names = pa.array(np.asarray(src.categories, dtype=object), type=pa.large_string()).take(
        pa.array(pairs[valid_pair] // n_b))
    buyers = encoded.dictionary.take(pa.array(pairs[valid_pair] % n_b))
    keys = pc.binary_join_element_wise(names, buyers.cast(pa.large_string()),
                                       pa.scalar(":", pa.large_string()))
    hashes = key_hashes(keys, hash_key)
    order = np.argsort(hashes, kind="stable")
    rank_valid = np.empty(len(order), dtype=np.int64)
    rank_valid[order] = np.arange(len(order))
    rank = np.full(len(pairs), -1, dtype=np.int64)
    rank[valid_pair] = rank_valid
    return rank[codes], hashes[order]


def key_hashes(uniques: pa.Array, hash_key: str) -> np.ndarray:
    """Keyed SipHash-2-4 (pandas ``hash_array``) of each distinct key, as uint64."""
    if len(uniques) == 0:
        return np.array([], dtype=np.uint64)
    values = np.asarray(uniques.to_numpy(zero_copy_only=False), dtype=object)
    return pd.util.hash_array(values, hash_key=hash_key, categorize=False)


def assign_customer_ids(orders: pd.DataFrame, secret: bytes) -> pd.Series:
    """customer_id for each order (NA when it has no usable key).

    A customer's representative key is the phone of its component with the smallest keyed
    hash, else its buyer key with the smallest hash; the id is ``C`` + that hash in hex.
    The hash key derives from the workspace secret, so ids are stable for a workspace while
    a customer's keys stay the same, and cannot be turned back into phones without it.
    pandas' ``hash_array`` is SipHash-2-4 over UTF-8 bytes; a test pins a known value.
    """
    n = len(orders)
    if n == 0:
        return pd.Series([], dtype="string[pyarrow]", index=orders.index)
    hash_key = id_hash_key(secret)
    valid = pa.array((orders["phone_status"] == "valid").to_numpy(dtype=bool, na_value=False))
    phone = pc.if_else(valid, _arrow(orders["phone"]), pa.scalar(None, pa.large_string()))
    buyer = _arrow(orders["buyer_id"])
    buyer = pc.if_else(pc.match_substring(buyer, "*"), pa.scalar(None, pa.large_string()), buyer)
    # Both encodings spend their time in Arrow's hash kernels (GIL released): one per core —
    # unless the table is big enough that two hash tables at once would raise the peak.
    with ThreadPoolExecutor(max_workers=2) as pool:
        phones = pool.submit(_ranked_codes, phone, hash_key)
        buyers = pool.submit(_buyer_codes, orders["source"], buyer, hash_key)
        (p_codes, p_hashes), (b_codes, b_hashes) = phones.result(), buyers.result()
    n_phone = len(p_hashes)
    b_nodes = np.where(b_codes >= 0, b_codes + n_phone, -1)
    both = (p_codes >= 0) & (b_nodes >= 0)
    n_nodes = n_phone + len(b_hashes)
    pairs = pd.unique(p_codes[both] * n_nodes + b_nodes[both])
    labels = connected_labels(n_nodes, pairs // n_nodes, pairs % n_nodes)
    node = np.where(p_codes >= 0, p_codes, b_nodes)
    root = np.where(node >= 0, labels[np.maximum(node, 0)], -1)
    hashes = np.concatenate([p_hashes, b_hashes])
    is_root = labels == np.arange(n_nodes)
    node_ids = np.full(n_nodes, None, dtype=object)
    node_ids[is_root] = hex_ids(hashes[is_root])
    ids = pc.take(pa.array(node_ids, type=pa.large_string()),
                  pa.array(np.maximum(root, 0), mask=root < 0))
    out = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([ids])), index=orders.index)
    out.attrs["customers"] = int(np.count_nonzero(np.bincount(root[root >= 0],
                                                              minlength=n_nodes)))
    return out


_HEX = np.array([ord(c) for c in "0123456789abcdef"], dtype=np.uint32)


def hex_ids(hashes: np.ndarray) -> np.ndarray:
    """``C`` + 16 lowercase hex digits per uint64, built as UCS-4 code points (vectorised)."""
    nibbles = hashes.astype(">u8").view(np.uint8).reshape(-1, 8)
    digits = np.stack([nibbles >> 4, nibbles & 15], axis=-1).reshape(-1, 16)
    points = np.empty((len(hashes), 17), dtype=np.uint32)
    points[:, 0] = ord("C")
    points[:, 1:] = _HEX[digits]
    return points.view("U17").ravel().astype(object)


def id_hash_key(secret: bytes) -> str:
    """The 16-character SipHash key derived from the workspace secret."""
    return hmac.new(secret, b"privmigrate customer id", hashlib.sha256).hexdigest()[:16]


def _arrow(s: pd.Series) -> pa.ChunkedArray:
    arr = s.astype("string[pyarrow]").array
    return arr._pa_array  # type: ignore[attr-defined,no-any-return]


