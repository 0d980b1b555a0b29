"""Vectorised MD5 and SHA-256 of 11-digit phone numbers, and hex in and out.

A plain loop calling hashlib per phone spends most of its time in the interpreter, not in the
hash. Every mainland mobile is exactly 11 ASCII bytes, so each hash is one padded 64-byte
block whose layout is known in advance: the compression function can run as numpy array
operations over a chunk of phones at once, with the all-zero message words folded away.
The result is bit-for-bit the standard digest (tests compare with hashlib).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

PHONE_WIDTH = 11
CHUNK = 65_536  # rows per numpy pass: fewer calls, arrays still mostly in cache
U32 = np.uint32
DIGEST_SIZE = {"md5": 16, "sha256": 32}

_MD5_SHIFT = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_MD5_K = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
_MD5_INIT = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)

_SHA_K = [
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
    0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
    0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
    0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
    0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
    0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
    0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
    0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
    0xC67178F2,
]  # fmt: skip
_SHA_INIT = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)  # fmt: skip
_BIT_LENGTH = U32(PHONE_WIDTH * 8)

_HEX_PAIRS = np.frombuffer(
    b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16
)  # byte value -> its two lowercase hex characters, as one uint16 in memory order


def _rotl(x: np.ndarray, n: int) -> np.ndarray:
    return (x << U32(n)) | (x >> U32(32 - n))


def _rotr(x: np.ndarray, n: int) -> np.ndarray:
    return (x >> U32(n)) | (x << U32(32 - n))


def _padded_words(rows: np.ndarray, order: str) -> list[np.ndarray]:
    """The three message words that vary (bytes 0-11: the phone and the 0x80 pad byte)."""
    block = np.empty((len(rows), 12), dtype=np.uint8)
    block[:, :PHONE_WIDTH] = rows
    block[:, PHONE_WIDTH] = 0x80
    words = block.view(f"{order}u4").astype(U32)
    return [np.ascontiguousarray(words[:, i]) for i in range(3)]


def _md5_block(rows: np.ndarray) -> np.ndarray:
    m = _padded_words(rows, "<")
    message: list[np.ndarray | None] = [m[0], m[1], m[2]] + [None] * 13
    n = len(rows)
    a, b, c, d = (np.full(n, v, dtype=U32) for v in _MD5_INIT)
    for i in range(64):
        if i < 16:
            f, g = d ^ (b & (c ^ d)), i
        elif i < 32:
            f, g = c ^ (d & (b ^ c)), (5 * i + 1) % 16
        elif i < 48:
            f, g = b ^ c ^ d, (3 * i + 5) % 16
        else:
            f, g = c ^ (b | ~d), (7 * i) % 16
        const = _MD5_K[i] + (PHONE_WIDTH * 8 if g == 14 else 0)
        f += a
        f += U32(const & 0xFFFFFFFF)
        word = message[g]
        if word is not None:
            f += word
        a, d, c = d, c, b
        b = b + _rotl(f, _MD5_SHIFT[i])
    out = np.empty((n, 4), dtype=U32)
    for col, (v, init) in enumerate(zip((a, b, c, d), _MD5_INIT, strict=True)):
        np.add(v, U32(init), out=out[:, col])
    return out.astype("<u4").view(np.uint8).reshape(n, 16)


def _schedule_word(words: dict[int, np.ndarray], t: int, tmp: np.ndarray) -> np.ndarray:
    """W[t] for t >= 16 from the words kept so far (absent ones are constant)."""
    total: np.ndarray | None = None
    constant = 0
    for idx, fn in ((t - 2, "s1"), (t - 7, None), (t - 15, "s0"), (t - 16, None)):
        x = words.get(idx)
        if x is None:
            constant += _small_sigma(PHONE_WIDTH * 8 if idx == 15 else 0, fn)
            continue
        if fn is None:
            total = x.copy() if total is None else np.add(total, x, out=total)
            continue
        r1, r2, shr = (7, 18, 3) if fn == "s0" else (17, 19, 10)
        term = np.right_shift(x, U32(shr))
        for r in (r1, r2):
            np.right_shift(x, U32(r), out=tmp)
            term ^= tmp
            np.left_shift(x, U32(32 - r), out=tmp)
            term ^= tmp
        total = term if total is None else np.add(total, term, out=total)
    assert total is not None  # every word from 16 on depends on the phone
    if constant:
        total += U32(constant & 0xFFFFFFFF)
    return total


def _small_sigma(value: int, fn: str | None) -> int:
    def rotr(x: int, n: int) -> int:
        return ((x >> n) | (x << (32 - n))) & 0xFFFFFFFF

    if fn == "s0":
        return rotr(value, 7) ^ rotr(value, 18) ^ (value >> 3)
    if fn == "s1":
        return rotr(value, 17) ^ rotr(value, 19) ^ (value >> 10)
    return value


def _big_sigma(x: np.ndarray, shifts: tuple[int, int, int], out: np.ndarray,
               tmp: np.ndarray) -> None:
    """out = rotr(x, s1) ^ rotr(x, s2) ^ rotr(x, s3), without allocating."""
    np.right_shift(x, U32(shifts[0]), out=out)
    for i, n in enumerate(shifts):
        if i:
            np.right_shift(x, U32(n), out=tmp)
            out ^= tmp
        np.left_shift(x, U32(32 - n), out=tmp)
        out ^= tmp


def _sha256_block(rows: np.ndarray) -> np.ndarray:
    n = len(rows)
    words = dict(enumerate(_padded_words(rows, ">")))
    a, b, c, d, e, f, g, h = (np.full(n, v, dtype=U32) for v in _SHA_INIT)
    t1, t2, tmp, tmp2 = (np.empty(n, dtype=U32) for _ in range(4))
    for t in range(64):
        _big_sigma(e, (6, 11, 25), t1, tmp)
        t1 += h
        np.bitwise_xor(f, g, out=tmp)
        tmp &= e
        tmp ^= g
        t1 += tmp
        const = _SHA_K[t] + (PHONE_WIDTH * 8 if t == 15 else 0)
        t1 += U32(const & 0xFFFFFFFF)
        if t >= 16:
            words[t] = _schedule_word(words, t, tmp)
            words.pop(t - 16, None)
        word = words.get(t)
        if word is not None:
            t1 += word
        _big_sigma(a, (2, 13, 22), t2, tmp)
        np.bitwise_or(a, b, out=tmp)
        tmp &= c
        np.bitwise_and(a, b, out=tmp2)
        tmp |= tmp2
        t2 += tmp
        d += t1  # d's buffer becomes the new e
        np.add(t1, t2, out=h)  # h's buffer becomes the new a
        a, b, c, d, e, f, g, h = h, a, b, c, d, e, f, g
    out = np.empty((n, 8), dtype=U32)
    for col, (v, init) in enumerate(zip((a, b, c, d, e, f, g, h), _SHA_INIT, strict=True)):
        np.add(v, U32(init), out=out[:, col])
    return out.astype(">u4").view(np.uint8).reshape(n, 32)


_BLOCK = {"md5": _md5_block, "sha256": _sha256_block}


def hash_phones(rows: np.ndarray, algorithm: str, *, threads: int | None = None) -> np.ndarray:
    """Binary digests (n, 16|32) uint8 of 11-byte ASCII phone rows (n, 11) uint8.

    numpy releases the GIL inside each array operation, so chunks run on a few threads.
    """
    if rows.ndim != 2 or rows.shape[1] != PHONE_WIDTH or rows.dtype != np.uint8:
        raise ValueError("rows must be an (n, 11) uint8 array of ASCII digits")
    block = _BLOCK[algorithm]
    n = len(rows)
    out = np.empty((n, DIGEST_SIZE[algorithm]), dtype=np.uint8)
    if n == 0:
        return out
    starts = range(0, n, CHUNK)

    def run(start: int) -> None:
        out[start : start + CHUNK] = block(rows[start : start + CHUNK])

    workers = threads if threads is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or n <= CHUNK:
        for start in starts:
            run(start)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, starts))
    return out


def hex_lines(digests: np.ndarray) -> bytes:
    """Lowercase hex, one digest per line, each line ending in ``\\n``."""
    n, size = digests.shape
    lines = np.empty((n, 2 * size + 1), dtype=np.uint8)
    lines[:, : 2 * size] = _HEX_PAIRS[digests].view(np.uint8).reshape(n, 2 * size)
    lines[:, 2 * size] = 0x0A
    return lines.tobytes()


def hex_array(digests: np.ndarray) -> np.ndarray:
    """Lowercase hex as an (n, 2*size) uint8 array of ASCII characters."""
    n, size = digests.shape
    return _HEX_PAIRS[digests].view(np.uint8).reshape(n, 2 * size)


def from_hex(hex_rows: np.ndarray) -> np.ndarray:
    """Binary digests from (n, 2*size) ASCII hex rows (either case); ValueError on non-hex."""
    codes = hex_rows.astype(np.int16)
    lower = codes | 0x20  # folds A-F onto a-f, leaves digits alone
    is_digit = (codes >= 0x30) & (codes <= 0x39)
    is_letter = (lower >= 0x61) & (lower <= 0x66)
    if not np.all(is_digit | is_letter):
        raise ValueError("not hexadecimal")
    nibbles = np.where(is_digit, codes - 0x30, lower - 0x61 + 10).astype(np.uint8)
    return (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
