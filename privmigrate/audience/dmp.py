"""Ocean Engine DmpData lines: base64 of a protobuf ``DmpData`` message, one per line.

Messages are encoded by the generated ``dmp_pb2`` module (from ``dmp.proto``). Encoding
millions of ids one protobuf call at a time would dominate a build, so the protobuf encoding
of a one-id ``DmpData`` is made once per data type and reused: protobuf defines the
concatenation of two encoded messages as their merge, and a merged repeated field is the
items of both in order, so ``k`` one-id encodings laid end to end *are* the encoding of the
``k``-id message. Tests check the result byte for byte against ``SerializeToString`` and
against an independent wire-format decoder.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from functools import cache

import numpy as np

from privmigrate.audience import dmp_pb2

MAX_IDS_PER_LINE = 10_000
MOBILE_HASH_SHA256 = dmp_pb2.IdItem.MOBILE_HASH_SHA256  # 6


@cache
def _template(data_type: int, id_width: int) -> tuple[bytes, int]:
    """The encoded one-id DmpData for ids of ``id_width`` characters, and where the id sits."""
    placeholder = "0" * id_width
    message = dmp_pb2.DmpData()
    message.idList.add(dataType=data_type, id=placeholder)
    encoded = message.SerializeToString()
    offset = encoded.rindex(placeholder.encode())
    if offset + id_width != len(encoded):  # the id must be the last field of the item
        raise AssertionError("unexpected DmpData layout; check dmp.proto")
    return encoded, offset


def encode_message(ids: list[str], data_type: int = MOBILE_HASH_SHA256) -> bytes:
    """One DmpData message by protobuf itself (the reference the fast path is tested against)."""
    message = dmp_pb2.DmpData()
    for value in ids:
        message.idList.add(dataType=data_type, id=value)
    return message.SerializeToString()


def encode_lines(
    hex_ids: np.ndarray,
    data_type: int = MOBILE_HASH_SHA256,
    per_line: int = MAX_IDS_PER_LINE,
) -> Iterator[bytes]:
    """base64(DmpData) + ``\\n`` for each run of ``per_line`` ids.

    ``hex_ids`` is an (n, width) uint8 array of the ids' ASCII characters (lower-case hex).
    """
    if not 1 <= per_line <= MAX_IDS_PER_LINE:
        raise ValueError(f"per_line must be between 1 and {MAX_IDS_PER_LINE}")
    n, width = hex_ids.shape
    template, offset = _template(data_type, width)
    record = np.frombuffer(template, dtype=np.uint8)
    for start in range(0, n, per_line):
        chunk = hex_ids[start : start + per_line]
        items = np.empty((len(chunk), len(record)), dtype=np.uint8)
        items[:] = record
        items[:, offset:] = chunk
        yield base64.b64encode(items.tobytes()) + b"\n"
