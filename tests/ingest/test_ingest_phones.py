"""Phone shapes from reference §A.10, and the normaliser never crashing on anything."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privmigrate.ingest.phones import PHONE_STATUSES, normalize_phone, normalize_phones


@pytest.mark.parametrize(
    ("raw", "phone", "status"),
    [
        ("13800000001", "13800000001", "valid"),  # 11-digit mobile
        ("'13800000002", "13800000002", "valid"),  # Excel-protected (淘宝 CSV)
        ('="13800000003"', "13800000003", "valid"),  # ="…" wrapper
        ("86-13900000004", "13900000004", "valid"),  # 千牛 composite address
        ("+86 138 0000 0005", "13800000005", "valid"),
        ("+8613800000006", "13800000006", "valid"),
        ("(+86)13800000007", "13800000007", "valid"),
        ("138-0000-0008", "13800000008", "valid"),  # grouping, not an extension
        ("13800000009.0", "13800000009", "valid"),  # Excel float as text
        (13800000010.0, "13800000010", "valid"),  # Excel float cell
        ("\t13800000011\t", "13800000011", "valid"),  # 拼多多 tabs
        ("138****1234", None, "masked"),  # masked 3+4+4
        ("1******6198", None, "masked"),  # 京东 1+6+4
        ("186******05", None, "masked"),  # 有赞 customers 3+6+2
        ("$Qn/ZHabc==$1$", None, "masked"),  # 有赞 API ciphertext
        ("17000001234-1234", None, "virtual"),  # privacy number + extension
        ("17000001234转1234", None, "virtual"),
        ("17000001234#123", None, "virtual"),
        ("", None, "missing"),
        ("-", None, "missing"),
        (None, None, "missing"),
        ("0571-88886666", None, "invalid"),  # a landline is no mobile key
        ("12800000000", None, "invalid"),  # 12x is not a mobile prefix
        ("1380000001", None, "invalid"),  # ten digits
        ("abc", None, "invalid"),
    ],
)
def test_every_shape_gets_its_status(raw: object, phone: str | None, status: str) -> None:
    assert normalize_phone(raw) == (phone, status)


def test_vectorised_form_matches_the_scalar_form_and_keeps_the_index() -> None:
    values = pd.Series(["'13800000001", "138****1234", None, "17000001234-1234", "13800000001"],
                       index=[10, 11, 12, 13, 14])
    phones, statuses = normalize_phones(values)
    assert phones.index.tolist() == [10, 11, 12, 13, 14]
    assert statuses.tolist() == ["valid", "masked", "missing", "virtual", "valid"]
    assert phones.tolist()[0] == "13800000001" and pd.isna(phones.iloc[1])


def test_an_empty_column_gives_empty_results() -> None:
    phones, statuses = normalize_phones(pd.Series([], dtype="string"))
    assert len(phones) == 0 and len(statuses) == 0


@settings(max_examples=120, deadline=None)
@given(st.one_of(st.text(max_size=30), st.from_regex(r"[+8 6'\-]{0,4}1[3-9]\d{9}[-转]?\d{0,4}"),
                 st.integers(), st.floats(allow_nan=True), st.none()))
def test_any_input_gives_one_of_five_statuses_and_a_phone_only_when_valid(value: object) -> None:
    phone, status = normalize_phone(value)
    assert status in PHONE_STATUSES
    if status == "valid":
        assert phone is not None and len(phone) == 11 and phone.startswith("1")
        assert phone.isdigit() and phone[1] in "3456789"
    else:
        assert phone is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="'`‘=\" \t\u3000", max_size=3),
                          st.sampled_from(["13800000001", "19912345678", "138****0001",
                                           "12345678901", "1380000000", "13800000001-12",
                                           "1******6198", "*", "138****0001-12", "$a$",
                                           "无", "0"]),
                          st.text(alphabet="\" \t\u3000", max_size=2)),
                min_size=1, max_size=6))
def test_wrapped_columns_agree_with_the_one_by_one_rules(cells) -> None:
    """Columns of wrapped numbers ('138…, ="138…") take a fast path; every value must come
    out as classify_phones judges it alone."""
    from privmigrate.ingest.phones import classify_phones

    values = ["".join(c) for c in cells]
    phone, status = normalize_phones(pd.Series(values, dtype="string[pyarrow]"))
    alone = classify_phones(pd.Series(values, dtype="string"))
    assert status.astype(str).tolist() == alone["phone_status"].tolist()
    assert [None if pd.isna(p) else p for p in phone] == \
        [None if pd.isna(p) else p for p in alone["phone"]]
