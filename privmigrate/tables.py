"""The on-disk tables every command shares, and their atomic parquet I/O.

orders.parquet is the spine of the pipeline (see docs/design.md "The order table").
Money is ``decimal128(18, 2)`` yuan on disk so every sum is exact to the fen; in memory the
core works in whole fen (int64) — ``decimal_fen`` converts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from privmigrate.errors import InputError
from privmigrate.workspace import atomic_path

AMOUNT_TYPE = pa.decimal128(18, 2)
# large_string is what pandas' string[pyarrow] holds, so writing and reading copy nothing.
TEXT_TYPE = pa.large_string()
TIME_TYPE = pa.timestamp("us")

ORDER_STATUSES = ("paid", "refunded", "cancelled", "unpaid")
PHONE_STATUSES = ("valid", "masked", "virtual", "invalid", "missing")
SOURCES = ("taobao", "jd", "youzan", "youzan_customers", "douyin", "pdd", "wechat_shop",
           "erp_wdt", "erp_jst", "generic", "taobao_items")
# In memory the low-cardinality columns are categoricals with fixed categories, so frames
# from different files and loads concatenate without falling back to object columns.
SOURCE_DTYPE = pd.CategoricalDtype(SOURCES)
STATUS_DTYPE = pd.CategoricalDtype(ORDER_STATUSES)
PHONE_STATUS_DTYPE = pd.CategoricalDtype(PHONE_STATUSES)
CATEGORICAL_COLUMNS = {"source": SOURCE_DTYPE, "status": STATUS_DTYPE,
                       "phone_status": PHONE_STATUS_DTYPE}

ORDERS_SCHEMA = pa.schema(
    [
        pa.field("source", TEXT_TYPE, nullable=False),
        pa.field("order_id", TEXT_TYPE, nullable=False),
        pa.field("customer_id", TEXT_TYPE),
        pa.field("buyer_id", TEXT_TYPE),
        pa.field("name", TEXT_TYPE),
        pa.field("phone", TEXT_TYPE),
        pa.field("phone_status", TEXT_TYPE, nullable=False),
        pa.field("ordered_at", TIME_TYPE),
        pa.field("paid_at", TIME_TYPE),
        pa.field("amount", AMOUNT_TYPE),
        pa.field("status", TEXT_TYPE, nullable=False),
        pa.field("product", TEXT_TYPE),
        pa.field("province", TEXT_TYPE),
        pa.field("city", TEXT_TYPE),
        # 1 for a real order; n for an aggregated row (有赞 customer export: 消费次数)
        pa.field("order_count", pa.int32(), nullable=False),
        # True when the export says the buyer is already a WeCom friend (有赞 企微好友, 视频号 企微)
        pa.field("wecom_friend", pa.bool_()),
        # An ERP row's shop order number (旺店通 原始单号, 聚水潭 线上订单号)
        pa.field("platform_order_id", TEXT_TYPE),
        # Set on an ERP row whose shop order is loaded from that shop's own export too: the
        # source holding that row. Such a row links identities but is not a second purchase.
        pa.field("duplicate_of", TEXT_TYPE),
    ]
)
# Columns added after the first release: files written before them read back as nulls.
LATER_ORDER_COLUMNS = ("platform_order_id", "duplicate_of")
# Shop platforms whose exports are the original of an order that an ERP re-exports.
SHOP_SOURCES = ("taobao", "jd", "youzan", "douyin", "pdd", "wechat_shop")


# Columns worth dictionary-encoding in parquet: few distinct values. Trying it on unique
# columns (order_id, phone, customer_id) only costs time (~1/3 of the write).
DICTIONARY_COLUMNS = ["source", "status", "phone_status", "product", "province", "city",
                      "duplicate_of", "segment", "rfm_segment", "sources"]


ROW_GROUP_ROWS = 1_000_000


def parquet_options(schema: pa.Schema) -> dict[str, object]:
    """How privmigrate writes its tables: zstd; dictionaries only where values repeat;
    statistics on every column but free text (min/max of 10M phones or ids serve no reader,
    and cost ~10 % of the write; readers use the time columns' null counts)."""
    dictionary = [c for c in DICTIONARY_COLUMNS if c in schema.names]
    stats = [f.name for f in schema
             if f.name in dictionary or not (pa.types.is_string(f.type)
                                             or pa.types.is_large_string(f.type))]
    return {"compression": "zstd", "use_dictionary": dictionary or False,
            "write_statistics": stats or False}


def write_table_atomic(table: pa.Table, target: Path) -> None:
    """Write ``table`` as parquet to ``target`` atomically (temp + rename), mode 0600."""
    write_row_groups_atomic(table.schema, (table,), target)


def write_row_groups_atomic(schema: pa.Schema, groups: Iterable[pa.Table], target: Path) -> None:
    """Write tables of ``schema`` one after another into one parquet file, atomically.

    Handing the rows over in row-group-sized tables means only one row group's Arrow copy
    exists at a time (e.g. orders.parquet built from a pandas frame).
    """
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, schema,
                                                      **parquet_options(schema)) as writer:
        wrote = False
        for table in groups:
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            wrote = True
        if not wrote:
            writer.write_table(schema.empty_table())


def empty_orders() -> pa.Table:
    return ORDERS_SCHEMA.empty_table()


def read_orders_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """orders.parquet as an Arrow table (an empty one when the workspace has none yet)."""
    if not path.exists():
        table = empty_orders()
        return table.select(columns) if columns else table
    try:
        present = pq.read_schema(path).names
        wanted = columns if columns is not None else ORDERS_SCHEMA.names
        table = pq.read_table(path, columns=[c for c in wanted if c in present])
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(
            f"{path}: cannot read the order table ({exc}); run `privmigrate load` again"
        ) from exc
    return with_later_columns(table, wanted)


def with_later_columns(table: pa.Table, wanted: Iterable[str] | None = None) -> pa.Table:
    """``table`` with the columns added since it was written (all null), in ``wanted`` order."""
    names = list(wanted) if wanted is not None else table.column_names
    for name in LATER_ORDER_COLUMNS:
        if name in names and name not in table.column_names:
            table = table.append_column(ORDERS_SCHEMA.field(name),
                                        pa.nulls(table.num_rows, ORDERS_SCHEMA.field(name).type))
    return table.select(names)


def amount_fen(amount: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Exact whole fen (int64) from decimal yuan."""
    return pc.cast(pc.multiply(amount, pa.scalar(100, AMOUNT_TYPE)), pa.int64())


def decimal_fen(amount: pa.ChunkedArray) -> np.ndarray:
    """Whole fen (int64, null → 0) straight from decimal128(18, 2) buffers, without arithmetic.

    A decimal128 value is its unscaled 128-bit integer; at scale 2 that integer is the fen, and
    precision 18 keeps it within the low 64 bits (little-endian two's complement).
    """
    if amount.type != AMOUNT_TYPE:
        return np.asarray(amount_fen(pc.cast(amount, AMOUNT_TYPE)).fill_null(0), dtype=np.int64)
    parts = []
    for chunk in amount.chunks:
        words = np.frombuffer(chunk.buffers()[1], dtype=np.int64,
                              count=2 * (chunk.offset + len(chunk)))
        low = words[2 * chunk.offset::2]
        if chunk.null_count:
            low = low.copy()
            low[chunk.is_null().to_numpy(zero_copy_only=False)] = 0
        parts.append(low)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)  # one copy


def read_orders(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """orders.parquet as pandas, strings pyarrow-backed, money as int64 ``amount_fen`` (an
    empty amount reads as 0 fen)."""
    wanted = columns
    if columns is not None and "amount_fen" in columns:
        wanted = [c for c in columns if c != "amount_fen"]
        if "amount" not in wanted:
            wanted.append("amount")
    table = read_orders_table(path, wanted)
    fen = decimal_fen(table.column("amount")) if "amount" in table.column_names else None
    if fen is not None:
        table = table.drop_columns(["amount"])
    frame = table.to_pandas(
        types_mapper=lambda t: pd.StringDtype("pyarrow")
        if pa.types.is_string(t) or pa.types.is_large_string(t) else None
    )
    if fen is not None:
        frame["amount_fen"] = fen
    return frame
