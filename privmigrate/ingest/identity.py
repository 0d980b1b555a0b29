"""Resolve who bought: link orders into customers through phones and buyer accounts.

Keys are valid phones and source-scoped buyer accounts (a taobao nick is not an erp nick).
An ERP row of a shop order (reexports) is the same buyer as the shop row.
If any order shows nick N with phone P, every order of N or of P is the same customer, and so
on transitively — connected components of the key graph. Masked or virtual numbers and
masked nicks are never keys.
"""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.ingest.cells import may_contain
from privmigrate.ingest.reexports import SameOrders


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
    return _rank_by_hash(_indices(encoded), key_hashes(encoded.dictionary, hash_key))


def _indices(encoded: pa.DictionaryArray) -> np.ndarray:
    """A dictionary array's int32 indices, -1 for null.

    Codes stay int32 throughout (Arrow's dictionary indices are int32 anyway): every code
    array has one entry per order, and halving them keeps identity's peak down.
    """
    return np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False),
                      dtype=np.int32)


def _rank_by_hash(raw: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes into ``hashes`` (-1 kept) turned into ranks of those hashes, and hashes sorted."""
    order = np.argsort(hashes, kind="stable")
    rank = np.empty(len(order) + 1, dtype=raw.dtype)
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # code -1 indexes this last entry: one gather, no masks
    return rank[raw], hashes[order]


def _phone_codes(phone: pa.ChunkedArray, valid: np.ndarray,
                 hash_key: str) -> tuple[np.ndarray, np.ndarray]:
    """``_ranked_codes`` of the valid phones, encoded as integers rather than text.

    A valid mobile is 11 digits, so it fits an int64 and a hash table on 8-byte integers
    replaces one on 10 million strings (about 3× faster). The distinct numbers are turned
    back into text only to hash them, so the hashes — and the ids — are those of the text.
    Any valid phone that is not a plain 11-digit number takes the text path.
    """
    present = phone.is_valid().to_numpy(zero_copy_only=False)
    valid = valid & present
    # load keeps a phone only when it is valid: then no filtering of 10M strings is needed
    keys = phone if np.array_equal(valid, present) else phone.filter(pa.array(valid))
    numbers = _mobile_numbers(keys)
    if numbers is None:
        return _ranked_codes(pc.if_else(pa.array(valid), phone, pa.scalar(None, phone.type)),
                             hash_key)
    # pandas' int64 hash table factorizes ~1.4× faster than Arrow's dictionary encoding
    codes, distinct = pd.factorize(pc.fill_null(numbers, 0).to_numpy())
    raw = np.full(len(valid), -1, dtype=np.int32)
    raw[valid] = codes[valid] if keys is phone else codes
    if keys is phone and not valid.all():
        # the 0 standing in for "no phone" took a code: drop it from the numbering
        zero = int(codes[np.flatnonzero(~valid)[0]])
        distinct = np.delete(distinct, zero)
        raw[raw > zero] -= 1
    texts = pc.cast(pa.array(distinct, pa.int64()), pa.string())
    return _rank_by_hash(raw, key_hashes(texts, hash_key))


def _mobile_numbers(phones: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The phones as int64 when every one is exactly 11 digits from 10000000000, else None.

    Casting accepts an optional sign and digits only; with 11 characters and a value of at
    least 10^10 no sign, space or leading zero is possible, so the number's decimal text is
    the phone's text and equal numbers mean equal phones.
    """
    if len(phones) == 0:
        return pa.chunked_array([], type=pa.int64())
    lengths = pc.min_max(pc.binary_length(phones))
    if lengths["min"].as_py() != 11 or lengths["max"].as_py() != 11:
        return None
    try:
        numbers = pc.cast(phones, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pc.min(numbers).as_py() < 10**10:
        return None
    return numbers


def _buyer_codes(
    source: pd.Series, buyer: pa.ChunkedArray, hash_key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Like ``_ranked_codes`` for the key ``source:buyer``, built only for distinct pairs."""
    encoded = pc.dictionary_encode(buyer).combine_chunks()
    b_raw = _indices(encoded)
    src = pd.Categorical(source)
    n_b = len(encoded.dictionary)
    if n_b == 0:
        return b_raw, np.array([], dtype=np.uint64)
    codes, pairs = _pair_codes(src.codes, b_raw, n_b)
    names = pa.array(np.asarray(src.categories, dtype=object), type=pa.large_string()).take(
        pa.array(pairs // n_b))
    buyers = encoded.dictionary.take(pa.array(pairs % n_b))
    keys = pc.binary_join_element_wise(names, buyers.cast(pa.large_string()),
                                       pa.scalar(":", pa.large_string()))
    return _rank_by_hash(codes, key_hashes(keys, hash_key))


def _pair_codes(
    s_codes: np.ndarray, b_raw: np.ndarray, n_b: int
) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 where no buyer) of the distinct (source, buyer) pairs, and those pairs.

    Pairs are ``source * n_b + buyer``. With a few sources the pair space is small, so a
    presence table finds the distinct pairs in one pass instead of a hash table over every
    row; the order of the distinct pairs does not matter (they are ranked by hash later).
    """
    if len(s_codes) and s_codes.min() == s_codes.max() >= 0:
        # one source: the pairs are the buyers (a dictionary holds only values that occur)
        return b_raw, int(s_codes[0]) * n_b + np.arange(n_b)
    # a row without a source has no buyer key
    pair = np.where((b_raw >= 0) & (s_codes >= 0), s_codes.astype(np.int64) * n_b + b_raw, -1)
    space = (int(s_codes.max()) + 1) * n_b if len(s_codes) else 0
    if space > 4 * len(pair) + (1 << 20):
        codes, pairs = pd.factorize(pair[pair >= 0])
        out = np.full(len(pair), -1, dtype=b_raw.dtype)
        out[pair >= 0] = codes
        return out, np.asarray(pairs, dtype=np.int64)
    seen = np.zeros(space + 1, dtype=bool)
    seen[pair] = True  # pair -1 marks the last entry, dropped below
    seen[-1] = False
    dense = (np.cumsum(seen, dtype=np.int64) - 1).astype(b_raw.dtype)
    dense[-1] = -1
    return dense[pair], np.flatnonzero(seen)


def key_hashes(uniques: pa.Array, hash_key: str) -> np.ndarray:
    """Keyed SipHash-2-4 (pandas ``hash_array``) of each distinct key, as uint64."""
    if len(uniques) == 0:
        return np.array([], dtype=np.uint64)
    values = np.asarray(uniques.to_numpy(zero_copy_only=False), dtype=object)
    return pd.util.hash_array(values, hash_key=hash_key, categorize=False)


@dataclass
class Identity:
    """customer_id per order, and the same grouping as integers for callers that group.

    ``codes`` is equal exactly where the ids are equal and -1 where the id is null (what
    ``scoring.build_customers(customer_codes=…)`` takes to skip hashing the ids again).
    """

    ids: pd.Series
    codes: np.ndarray
    customers: int


def assign_customer_ids(orders: pd.DataFrame, secret: bytes,
                        same_order: SameOrders | None = None) -> pd.Series:
    """customer_id for each order (NA when it has no usable key); see ``resolve_identity``.

    ``attrs["customers"]`` holds the number of distinct customers.
    """
    identity = resolve_identity(orders, secret, same_order)
    identity.ids.attrs["customers"] = identity.customers
    return identity.ids


def resolve_identity(orders: pd.DataFrame, secret: bytes,
                     same_order: SameOrders | None = None) -> Identity:
    """Link orders into customers and give each customer its id.

    Keys link where one order shows both; ``same_order`` (an ERP row and the shop row of the
    same order, ``reexports.reexported_orders``) links the two rows' buyers too.

    A customer's representative key is the phone of its component with the smallest keyed
    hash, else its buyer key with the smallest hash; the id is ``C`` + that hash in hex.
    The hash key derives from the workspace secret, so ids are stable for a workspace while
    a customer's keys stay the same, and cannot be turned back into phones without it.
    pandas' ``hash_array`` is SipHash-2-4 over UTF-8 bytes; a test pins a known value.
    """
    n = len(orders)
    if n == 0:
        return Identity(pd.Series([], dtype="string[pyarrow]", index=orders.index),
                        np.empty(0, dtype=np.int64), 0)
    hash_key = id_hash_key(secret)
    valid = (orders["phone_status"] == "valid").to_numpy(dtype=bool, na_value=False)
    phone = _arrow(orders["phone"])
    buyer = _arrow(orders["buyer_id"])
    if may_contain(buyer, ("*",)):  # masked nicks (张**) are not keys
        buyer = pc.if_else(pc.match_substring(buyer, "*"), pa.scalar(None, buyer.type), buyer)
    # Both encodings spend most of their time in hash kernels: one per core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        phones = pool.submit(_phone_codes, phone, valid, hash_key)
        buyers = pool.submit(_buyer_codes, orders["source"], buyer, hash_key)
        (p_codes, p_hashes), (b_codes, b_hashes) = phones.result(), buyers.result()
    # nodes: phones 0..n_phone-1, then buyer keys (codes stay int32: keys ≤ rows < 2**31)
    n_phone = len(p_hashes)
    n_nodes = n_phone + len(b_hashes)
    has_buyer = b_codes >= 0
    # NOTE: b_codes may be a read-only view of an Arrow buffer (e.g. no buyer at all)
    b_codes = np.where(has_buyer, b_codes + np.int32(n_phone), b_codes).astype(np.int32)
    both = (p_codes >= 0) & has_buyer
    edges = pa.array(p_codes[both].astype(np.int64) * n_nodes + b_codes[both])
    pairs = pc.unique(edges).to_numpy()  # Arrow's int64 hash is ~2× pandas'
    del edges
    del both, has_buyer
    node = np.where(p_codes >= 0, p_codes, b_codes)  # a row's phone, else its buyer key
    del p_codes, b_codes
    a, b = pairs // n_nodes, pairs % n_nodes
    if same_order is not None and len(same_order.erp_rows):
        left, right = node[same_order.erp_rows], node[same_order.shop_rows]
        keyed = (left >= 0) & (right >= 0)
        a = np.concatenate([a, left[keyed]])
        b = np.concatenate([b, right[keyed]])
    labels = connected_labels(n_nodes, a, b)
    del a, b
    root = np.append(labels, -1).astype(node.dtype)[node]  # node -1 takes the last entry
    del node
    hashes = np.concatenate([p_hashes, b_hashes])
    ids = id_strings(hashes, root)
    customers = int(np.count_nonzero(np.bincount(root[root >= 0], minlength=n_nodes)))
    out = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([ids])), index=orders.index)
    return Identity(out, root, customers)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
ID_WIDTH = 17  # "C" + 16 hex digits


def hex_ascii(hashes: np.ndarray) -> np.ndarray:
    """``C`` + 16 lowercase hex digits per uint64, as an (n, 17) array of ASCII bytes."""
    nibbles = hashes.astype(">u8").view(np.uint8).reshape(-1, 8)
    digits = np.stack([nibbles >> 4, nibbles & 15], axis=-1).reshape(-1, 16)
    out = np.empty((len(hashes), ID_WIDTH), dtype=np.uint8)
    out[:, 0] = ord("C")
    out[:, 1:] = _HEX[digits]
    return out


def id_strings(hashes: np.ndarray, root: np.ndarray) -> pa.LargeStringArray:
    """The id of node ``root`` per row (null where -1), written straight into Arrow buffers.

    Every id has the same width, so the offsets are a running count and the characters one
    gather of the nodes' ASCII rows — no Python strings and no string ``take``.
    """
    linked = root >= 0
    rows = root if linked.all() else root[linked]
    # spell only the nodes that are some row's root, then gather: an (n, 17) byte row
    # viewed as one 17-byte item is one gather instead of 17
    used = np.zeros(len(hashes), dtype=bool)
    used[rows] = True
    slot = (np.cumsum(used) - 1).astype(rows.dtype)
    spelled = hex_ascii(hashes[used]).view(f"V{ID_WIDTH}").ravel()
    chars = np.empty(len(rows), dtype=spelled.dtype)
    # numpy's take releases the GIL: two halves gather on both cores
    halves = [(0, len(rows) // 2), (len(rows) // 2, len(rows))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda span: np.take(spelled, slot[rows[span[0]:span[1]]],
                                           out=chars[span[0]:span[1]]), halves))
    chars = chars.view(np.uint8)
    nulls = int(len(root) - len(rows))
    if nulls:
        offsets = np.zeros(len(root) + 1, dtype=np.int64)
        np.cumsum(linked, out=offsets[1:])
        offsets *= ID_WIDTH
    else:  # the usual case: a running count is a range (cumsum of 10M costs 0.3 s)
        offsets = np.arange(0, ID_WIDTH * (len(root) + 1), ID_WIDTH, dtype=np.int64)
    validity = pa.py_buffer(np.packbits(linked, bitorder="little")) if nulls else None
    return pa.LargeStringArray.from_buffers(
        len(root), pa.py_buffer(offsets), pa.py_buffer(chars), validity, nulls)


def id_hash_key(secret: bytes) -> str:
    """The 16-character SipHash key derived from the workspace secret."""
    return hmac.new(secret, b"privmigrate customer id", hashlib.sha256).hexdigest()[:16]


def _arrow(s: pd.Series) -> pa.ChunkedArray:
    arr = s.astype("string[pyarrow]").array
    return arr._pa_array  # type: ignore[attr-defined,no-any-return]


