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
    shop_ids = orders["order_id"].iloc[shops].astype("string[pyarrow]")
    unique = ~shop_ids.duplicated(keep=False).to_numpy()
    lookup = pd.Index(shop_ids.to_numpy()[unique])
    hit = lookup.get_indexer(reference.iloc[candidates].astype("string[pyarrow]").to_numpy())
    found = hit >= 0
    return SameOrders(candidates[found].astype(np.int64),
                      shops[unique][hit[found]].astype(np.int64))
