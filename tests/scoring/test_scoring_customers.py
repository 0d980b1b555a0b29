"""build_customers on hand-computed cases (docs/segment.md "What counts")."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scoring_helpers import by_id, cid, orders, phone

from privmigrate.scoring import build_customers
from privmigrate.scoring.customers import CUSTOMER_DTYPES


def test_several_orders_on_one_day_count_as_distinct_orders():
    # lifetimes / PyMC-Marketing collapse same-day purchases into one period; we count orders
    c = by_id(build_customers(orders([
        {"customer": 1, "paid_at": "2026-03-01 09:00", "yuan": 10},
        {"customer": 1, "paid_at": "2026-03-01 09:00", "yuan": 20.5},
        {"customer": 1, "paid_at": "2026-03-01 18:00", "yuan": 30},
    ])))
    row = c.loc[cid(1)]
    assert row["orders"] == 3
    assert row["total_fen"] == 6050 and row["total_amount"] == 60.5
    assert row["avg_amount"] == 20.17
    assert row["recency_days"] == 0 and row["tenure_days"] == 0


def test_refunded_cancelled_unpaid_orders_do_not_count():
    c = by_id(build_customers(orders([
        {"customer": 1, "paid_at": "2026-01-01", "yuan": 100},
        {"customer": 1, "paid_at": "2026-02-01", "yuan": 500, "status": "refunded"},
        {"customer": 1, "paid_at": "2026-02-02", "yuan": 50, "status": "cancelled"},
        {"customer": 2, "paid_at": "2026-02-03", "yuan": 70, "status": "unpaid"},
        {"customer": 3, "paid_at": "2026-01-10", "yuan": 1},
    ])))
    assert list(c.index) == [cid(1), cid(3)] or set(c.index) == {cid(1), cid(3)}
    assert c.loc[cid(1), "orders"] == 1 and c.loc[cid(1), "total_fen"] == 10000
    # as-of = the latest *paid* order (2026-01-10), not the refunded one
    assert c.loc[cid(1), "recency_days"] == 9
    assert c.attrs["as_of"] == date(2026, 1, 10)


def test_orders_without_customer_are_ignored():
    c = build_customers(orders([
        {"customer": None, "paid_at": "2026-01-01", "yuan": 100, "source": "pdd"},
        {"customer": 4, "paid_at": "2026-01-01", "yuan": 1},
    ]))
    assert list(c["customer_id"]) == [cid(4)]


def test_one_order_customers_get_f1_and_the_columns_are_complete():
    rows = [{"customer": i, "paid_at": f"2026-01-{i + 1:02d}", "yuan": 10 * (i + 1)}
            for i in range(8)]
    rows += [{"customer": 0, "paid_at": "2026-01-20", "yuan": 5}]
    c = by_id(build_customers(orders(rows)))
    assert list(c.reset_index().columns) == list(CUSTOMER_DTYPES)
    assert (c.drop(index=cid(0))["f_score"] == 1).all()
    assert c.loc[cid(0), "f_score"] == 5
    assert c.loc[cid(0), "recency_days"] == 0 and c.loc[cid(0), "tenure_days"] == 19


def test_customer_known_on_two_platforms():
    c = by_id(build_customers(orders([
        {"customer": 1, "paid_at": "2026-01-01", "yuan": 10, "source": "taobao",
         "name": "测试用户001", "phone": phone(1)},
        {"customer": 1, "paid_at": "2026-02-01", "yuan": 20, "source": "jd",
         "phone_status": "masked", "product": "保温杯", "province": "浙江省", "city": "杭州市"},
        {"customer": 1, "paid_at": "2026-02-05", "yuan": 20, "source": "douyin",
         "status": "refunded"},
    ])))
    row = c.loc[cid(1)]
    assert list(row["sources"]) == ["douyin", "jd", "taobao"]  # seen, any status
    assert row["orders"] == 2 and row["total_fen"] == 3000
    assert row["phone"] == phone(1) and row["phone_status"] == "valid"
    assert row["reachable_by_sms"]
    assert row["name"] == "测试用户001"
    assert (row["last_product"], row["province"], row["city"]) == ("保温杯", "浙江省", "杭州市")
    assert row["first_paid_at"] == pd.Timestamp("2026-01-01")
    assert row["last_paid_at"] == pd.Timestamp("2026-02-01")


def test_best_phone_prefers_the_latest_paid_order():
    c = by_id(build_customers(orders([
        {"customer": 1, "paid_at": "2026-01-01", "yuan": 10, "phone": phone(1)},
        {"customer": 1, "paid_at": "2026-02-01", "yuan": 10, "phone": phone(2)},
        {"customer": 1, "paid_at": "2026-03-01", "yuan": 10, "phone": phone(3),
         "status": "unpaid"},
    ])))
    assert c.loc[cid(1), "phone"] == phone(2)


def test_customers_without_a_usable_phone_are_scored_and_flagged():
    c = by_id(build_customers(orders([
        {"customer": 1, "paid_at": "2026-01-01", "yuan": 10, "phone_status": "virtual"},
        {"customer": 1, "paid_at": "2026-01-02", "yuan": 10, "phone_status": "masked"},
        {"customer": 2, "paid_at": "2026-01-03", "yuan": 10, "phone_status": "masked"},
        {"customer": 3, "paid_at": "2026-01-03", "yuan": 10},
    ])))
    assert c["phone"].isna().all()
    assert not c["reachable_by_sms"].any()
    assert c.loc[cid(1), "phone_status"] == "virtual"
    assert c.loc[cid(2), "phone_status"] == "masked"
    assert c.loc[cid(3), "phone_status"] == "missing"
    assert c["r_score"].between(1, 5).all() and c["rfm_segment"].notna().all()


def test_as_of_excludes_later_orders_and_sets_recency():
    data = orders([
        {"customer": 1, "paid_at": "2026-01-01 23:59", "yuan": 10},
        {"customer": 1, "paid_at": "2026-01-02 00:00", "yuan": 10},
        {"customer": 2, "paid_at": "2026-03-01", "yuan": 10},
    ])
    c = by_id(build_customers(data, as_of=date(2026, 1, 1)))
    assert list(c.index) == [cid(1)]
    assert c.loc[cid(1), "orders"] == 1 and c.loc[cid(1), "recency_days"] == 0
    c = by_id(build_customers(data, as_of=date(2026, 1, 31)))
    assert c.loc[cid(1), "recency_days"] == 29 and c.loc[cid(1), "orders"] == 2
    assert build_customers(data, as_of=date(2025, 1, 1)).empty
    same = build_customers(data, as_of="2026-01-31")
    pd.testing.assert_frame_equal(same, build_customers(data, as_of=date(2026, 1, 31)))


def test_youzan_customer_export_rows_count_only_without_real_youzan_orders():
    c = by_id(build_customers(orders([
        # customer 1: real youzan orders and an aggregate row describing the same buying
        {"customer": 1, "paid_at": "2026-01-01", "yuan": 100, "source": "youzan"},
        {"customer": 1, "paid_at": "2026-01-02", "yuan": 100, "source": "youzan"},
        {"customer": 1, "paid_at": "2026-01-02", "yuan": 200, "source": "youzan_customers",
         "order_count": 2, "wecom_friend": True},
        # customer 2: only the aggregate row (消费次数 4, 消费金额 800)
        {"customer": 2, "paid_at": "2026-01-05", "yuan": 800, "source": "youzan_customers",
         "order_count": 4, "wecom_friend": False},
    ])))
    assert c.loc[cid(1), "orders"] == 2 and c.loc[cid(1), "total_fen"] == 20000
    assert c.loc[cid(1), "in_private_domain"]
    assert list(c.loc[cid(1), "sources"]) == ["youzan"]
    assert c.loc[cid(2), "orders"] == 4 and c.loc[cid(2), "avg_amount"] == 200.0
    assert not c.loc[cid(2), "in_private_domain"]


def test_converted_customers_are_in_the_private_domain():
    data = orders([{"customer": i, "paid_at": "2026-01-01", "yuan": 1} for i in range(3)])
    c = by_id(build_customers(data, converted={cid(2), "Cnot-a-customer"}))
    assert c["in_private_domain"].tolist() == [c.index[i] == cid(2) for i in range(3)]
    c = by_id(build_customers(data, converted=pd.Series([cid(0), None])))
    assert c.loc[cid(0), "in_private_domain"] and not c.loc[cid(1), "in_private_domain"]


def test_result_does_not_depend_on_row_order():
    rng = np.random.default_rng(11)
    rows = [{"customer": int(rng.integers(0, 40)),
             "paid_at": f"2026-0{int(rng.integers(1, 4))}-{int(rng.integers(1, 28)):02d}",
             "yuan": float(rng.integers(1, 500)), "phone": phone(int(rng.integers(0, 3))),
             "product": f"商品{int(rng.integers(0, 3))}"}
            for _ in range(300)]
    data = orders(rows)
    a = build_customers(data)
    b = build_customers(data.sample(frac=1, random_state=5).reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)
    assert a["priority"].is_monotonic_decreasing


def test_priority_favours_value_repurchase_recency_and_reachability():
    c = by_id(build_customers(orders([
        {"customer": 1, "paid_at": "2026-03-01", "yuan": 500, "phone": phone(1)},
        {"customer": 1, "paid_at": "2026-02-01", "yuan": 500, "phone": phone(1)},
        {"customer": 2, "paid_at": "2026-03-01", "yuan": 500},
        {"customer": 2, "paid_at": "2026-02-01", "yuan": 500},
        {"customer": 3, "paid_at": "2025-03-01", "yuan": 5, "phone": phone(3)},
    ])))
    assert c.loc[cid(1), "priority"] == 100.0  # best on every component
    assert c.loc[cid(2), "priority"] == 90.0  # same, minus the reachability weight (0.10)
    assert c.loc[cid(3), "priority"] == 10.0  # only reachable


def test_empty_input_gives_an_empty_table_with_the_columns():
    c = build_customers(orders([{"customer": 1, "paid_at": "2026-01-01", "yuan": 1,
                                 "status": "refunded"}]))
    assert c.empty and list(c.columns) == list(CUSTOMER_DTYPES)


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError):
        build_customers(orders([{"customer": 1, "paid_at": "2026-01-01", "yuan": 1}]),
                        split="mode")


def test_precomputed_customer_codes_give_the_same_table():
    rows = [{"customer": c, "paid_at": f"2026-01-{d:02d}", "yuan": 10 * d, "phone": phone(c)}
            for c, d in [(1, 3), (2, 4), (1, 5), (7, 9), (2, 2)]]
    rows.append({"customer": None, "paid_at": "2026-01-09", "yuan": 1})
    data = orders(rows)
    labels = np.array([40, 3, 40, 11, 3, -1])
    pd.testing.assert_frame_equal(build_customers(data, customer_codes=labels),
                                  build_customers(data))


def test_any_customer_id_shape_sorts_by_priority_then_id():
    data = orders([{"customer": i, "paid_at": "2026-01-01", "yuan": 5} for i in range(4)])
    data["customer_id"] = pd.Series(["b-2", "a-10", "zz", "a-9"], dtype="string[pyarrow]")
    c = build_customers(data)
    assert c["customer_id"].tolist() == ["a-10", "a-9", "b-2", "zz"]  # equal priorities
    hexed = build_customers(orders([{"customer": i, "paid_at": "2026-01-01", "yuan": 5}
                                     for i in (12, 3, 255)]))
    assert hexed["customer_id"].tolist() == [cid(3), cid(12), cid(255)]
