"""Who bought: phones and source-scoped buyer accounts linked into customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from privmigrate.ingest.identity import assign_customer_ids, connected_labels

SECRET = b"test-secret-0123456789abcdef0123"


def _orders(rows: list[tuple[str, str | None, str | None, str]]) -> pd.DataFrame:
    """(source, buyer_id, phone, phone_status) per order."""
    frame = pd.DataFrame(rows, columns=["source", "buyer_id", "phone", "phone_status"])
    frame["order_id"] = [f"O{i}" for i in range(len(frame))]
    return frame.astype({"buyer_id": "string", "phone": "string"})


def test_nick_and_phone_link_transitively_across_orders() -> None:
    orders = _orders([
        ("taobao", "测试用户001", "13800000001", "valid"),  # nick A ~ phone 1
        ("taobao", "测试用户001", None, "virtual"),  # nick A alone
        ("youzan", "有赞用户9", "13800000001", "valid"),  # phone 1 ~ youzan nick
        ("youzan", "有赞用户9", "13800000002", "valid"),  # youzan nick ~ phone 2
        ("crm", None, "13800000002", "valid"),  # phone 2 alone
        ("taobao", "测试用户002", None, "missing"),  # someone else
    ])
    ids = assign_customer_ids(orders, SECRET)
    assert ids.notna().all()
    assert ids.iloc[:5].nunique() == 1
    assert ids.iloc[5] != ids.iloc[0]
    assert ids.str.fullmatch(r"C[0-9a-f]{16}").all()


def test_the_same_nick_on_two_platforms_is_two_keys() -> None:
    orders = _orders([
        ("taobao", "测试用户001", None, "missing"),
        ("erp_wdt", "测试用户001", None, "missing"),
    ])
    ids = assign_customer_ids(orders, SECRET)
    assert ids.iloc[0] != ids.iloc[1]


def test_masked_and_virtual_numbers_never_link() -> None:
    orders = _orders([
        ("jd", "jd_a", "1******6198", "masked"),
        ("jd", "jd_b", "1******6198", "masked"),
        ("erp_wdt", "网名a", "17000001234-1234", "virtual"),
        ("erp_wdt", "网名b", "17000001234-1234", "virtual"),
        ("douyin", None, "138****0001", "masked"),
        ("jd", "测***", None, "missing"),  # a masked nick is no key either
    ])
    ids = assign_customer_ids(orders, SECRET)
    assert ids.iloc[0] != ids.iloc[1] and ids.iloc[2] != ids.iloc[3]
    assert ids.iloc[4:].isna().all()


def test_ids_are_stable_across_runs_and_row_order_but_not_across_workspaces() -> None:
    rows = [("taobao", f"测试用户{i:03d}", f"138000{i:05d}", "valid") for i in range(50)]
    orders = _orders(rows)
    first = assign_customer_ids(orders, SECRET)
    shuffled = orders.sample(frac=1.0, random_state=3)
    again = assign_customer_ids(shuffled, SECRET)
    assert first.to_dict() == again.reindex(first.index).to_dict()
    other = assign_customer_ids(orders, b"another-workspace-secret-000000")
    assert not set(first) & set(other)
    assert not any("13800000" in i for i in first)


def test_adding_an_unrelated_customer_keeps_existing_ids() -> None:
    base = _orders([("youzan", "有赞用户1", "13800000001", "valid")])
    more = _orders([("youzan", "有赞用户1", "13800000001", "valid"),
                    ("youzan", "有赞用户2", "13800000099", "valid")])
    assert assign_customer_ids(base, SECRET).iloc[0] == assign_customer_ids(more, SECRET).iloc[0]


def test_connected_labels_finds_components() -> None:
    labels = connected_labels(7, np.array([0, 1, 4, 6]), np.array([1, 2, 5, 4]))
    assert labels.tolist() == [0, 0, 0, 3, 4, 4, 4]
    assert connected_labels(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64)
                            ).tolist() == [0, 1, 2]


def test_phones_that_are_not_plain_numbers_give_the_same_ids_as_their_text() -> None:
    """Valid phones are grouped as int64 when all are 11 plain digits, else as text; the ids
    hash the text either way, so the same phone gets the same id on both paths."""
    plain = _orders([("taobao", "测试用户001", "13800000001", "valid"),
                     ("taobao", "测试用户002", "13800000002", "valid")])
    odd = _orders([("taobao", "测试用户001", "13800000001", "valid"),
                   ("taobao", "测试用户002", "13800000002", "valid"),
                   ("taobao", "测试用户003", "+8613800000003", "valid")])
    a, b = assign_customer_ids(plain, SECRET), assign_customer_ids(odd, SECRET)
    assert a.tolist() == b.iloc[:2].tolist()
    assert b.nunique() == 3


def test_many_sources_and_null_buyers_link_like_one_source() -> None:
    rows = [("jd" if i % 2 else "taobao", None if i % 5 == 0 else f"会员{i % 4}",
             f"138000000{i % 3:02d}" if i % 4 else None, "valid" if i % 4 else "missing")
            for i in range(40)]
    ids = assign_customer_ids(_orders(rows), SECRET)
    assert ids.attrs["customers"] == ids.nunique()
    # rows sharing a phone share an id
    frame = _orders(rows).assign(id=ids)
    valid = frame[frame["phone_status"] == "valid"]
    assert (valid.groupby("phone")["id"].nunique() == 1).all()


def test_phone_keys_without_phones_on_some_rows_match_the_text_path() -> None:
    """Phones are grouped as integers over the whole column (rows without a valid phone
    stand in as 0); the ids must equal those of grouping the phone text."""
    import pyarrow as pa

    from privmigrate.ingest import identity

    phones = pa.chunked_array([pa.array(["13800000002", None, "13800000001", None,
                                         "13800000002"], pa.large_string())])
    valid = np.array([True, False, True, False, True])
    as_numbers = identity._phone_codes(phones, valid, "k" * 16)
    as_text = identity._ranked_codes(phones, "k" * 16)
    assert as_numbers[0].tolist() == as_text[0].tolist()
    assert as_numbers[1].tolist() == as_text[1].tolist()
    assert as_numbers[0][1] == -1 and as_numbers[0][0] == as_numbers[0][4]
    # a phone present but not valid (not what load writes) is left out either way
    odd = identity._phone_codes(phones, np.array([True, False, False, False, True]), "k" * 16)
    assert odd[0][2] == -1 and len(odd[1]) == 1
