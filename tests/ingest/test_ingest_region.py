"""省/市 from an address: one regex, pinned to the split-on-blanks rule it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from privmigrate.ingest.orders import _PLAUSIBLE_PROVINCE, _SEP, _region

# every blank Arrow's utf8_split_whitespace splits on, and some that it does not
BLANKS = ["\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", " ", "\x85", "\xa0", "\u1680",
          "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
NOT_BLANKS = ["\u200b", "\ufeff", "\u180e", "·", "、", "。"]
WORDS = ["浙江省", "杭州市", "西湖区", "上海市", "北京", "内蒙古自治区", "香港特别行政区",
         "测试路1号", "省", "市", "Zhejiang", "1号", "，", ",", "测试用户", "86-13900000004"]
ADDRESS = st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(BLANKS),
                             st.sampled_from(NOT_BLANKS)), max_size=8).map("".join)


def region_by_splitting(address: pd.Series) -> pd.DataFrame:
    """The rule as it was written before (Arrow's whitespace split, max 3 parts)."""
    arr = pa.array(address.astype(object), pa.large_string())
    arr = pc.replace_substring_regex(arr, f"^.*[{_SEP}]", "")
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(arr), max_splits=2)
    out = {"province": [], "city": []}
    for parts in words.to_pylist():
        parts = parts or []
        province = parts[0] if parts and parts[0] else None
        plausible = province is not None and bool(
            pc.match_substring_regex(pa.array([province]), _PLAUSIBLE_PROVINCE)[0].as_py())
        out["province"].append(province if plausible else None)
        out["city"].append(parts[1] if plausible and len(parts) >= 2 else None)
    return pd.DataFrame(out, index=address.index).astype("string[pyarrow]")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ADDRESS, st.none()), min_size=1, max_size=20))
def test_region_is_the_first_two_words_as_arrow_splits_them(addresses: list[str | None]) -> None:
    address = pd.Series(addresses, dtype="string[pyarrow]")
    got = _region(address)
    want = region_by_splitting(address)
    for column in ("province", "city"):
        assert got[column].tolist() == want[column].tolist(), column


def test_full_width_blanks_split_words_like_ascii_ones() -> None:
    address = pd.Series(["浙江省\u3000杭州市\u3000西湖区", "  上海市 上海市 浦东新区", "测试路1号",
                         "测试用户，86-13900000004，江苏省 南京市 鼓楼区", None, "北京"],
                        dtype="string[pyarrow]")
    got = _region(address).replace({np.nan: None})
    assert got["province"].tolist() == ["浙江省", "上海市", None, "江苏省", None, "北京"]
    assert got["city"].tolist() == ["杭州市", "上海市", None, "南京市", None, None]
