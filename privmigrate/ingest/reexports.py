"""ERP rows that re-export a shop's order: one purchase, counted once.

An ERP (旺店通, 聚水潭) holds every shop's orders and keeps the shop's own order number
(原始单号 / 线上订单号 → ``platform_order_id``). A brand that loads its 淘宝 export and its ERP
export has those orders twice, under two sources. The shop's row is the purchase: it carries
the shop's status and refunds. The ERP row stays in the table (it may hold the real phone
from 打印备注 and the ERP's buyer nick) with ``duplicate_of`` naming the shop, so scoring does
not count it again, and identity links its buyer to the shop row's buyer (same order, same
person).

This is decided over the whole merged table on every load, so the result does not depend
on which export was loaded first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privmigrate.tables import SHOP_SOURCES, SOURCE_DTYPE


@dataclass(frozen=True)
class SameOrders:
    """Row positions of ERP rows and of the shop rows that are the same order, pairwise."""

    erp_rows: np.ndarray
    shop_rows: np.ndarray

    def duplicate_of(self, orders: pd.DataFrame) -> pd.Series:
        """Per row: the source of the shop row it duplicates (categorical; NA for most)."""
        codes = np.full(len(orders), -1, dtype=np.int8)
        if len(self.erp_rows):
            shop_codes = orders["source"].astype(SOURCE_DTYPE).cat.codes.to_numpy()
            codes[self.erp_rows] = shop_codes[self.shop_rows]
        return pd.Series(pd.Categorical.from_codes(codes, dtype=SOURCE_DTYPE),
                         index=orders.index)


NO_SAME_ORDERS = SameOrders(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


def reexported_orders(orders: pd.DataFrame) -> SameOrders:
    """ERP rows whose ``platform_order_id`` is the order_id of exactly one shop row.

    A number that two shops share (a collision; never seen in practice) names no one order
    and links nothing. Rows from a shop's own export are never the re-export.
    """
    if "platform_order_id" not in orders or len(orders) == 0:
        return NO_SAME_ORDERS
    reference = orders["platform_order_id"]
    has_reference = reference.notna().to_numpy()
    if not has_reference.any():
        return NO_SAME_ORDERS
    shop = orders["source"].isin(SHOP_SOURCES).to_numpy()
    candidates = np.flatnonzero(has_reference & ~shop)
    shops = np.flatnonzero(shop)
    if len(candidates) == 0 or len(shops) == 0:
        return NO_SAME_ORDERS
    shop_ids = _text(orders["order_id"].iloc[shops])
    codes = pc.dictionary_encode(shop_ids).indices.to_numpy(zero_copy_only=False)
    once = np.bincount(codes)[codes] == 1  # order_id is never null
    hit = pc.index_in(_text(reference.iloc[candidates]),
                      value_set=shop_ids.filter(pa.array(once)))
    hit = np.asarray(pc.fill_null(hit, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    found = hit >= 0
    return SameOrders(candidates[found].astype(np.int64), shops[once][hit[found]])


def _text(values: pd.Series) -> pa.Array:
    chunks = values.astype("string[pyarrow]").array._pa_array  # type: ignore[attr-defined]
    return chunks.combine_chunks().cast(pa.large_string())
