"""The synthetic export generator: reproducible, owner-only, realistic, and the committed copies."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from privmigrate.examples import write_example_exports
from privmigrate.ingest.readers import read_export

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    one = write_example_exports(tmp_path / "one", buyers=40)
    two = write_example_exports(tmp_path / "two", buyers=40)
    three = write_example_exports(tmp_path / "three", buyers=40, seed=8)
    assert [p.name for p in one] == [p.name for p in two] == [p.name for p in three]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True))
    assert any(a.read_bytes() != c.read_bytes() for a, c in zip(one, three, strict=True))
    for path in one:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_committed_examples_are_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = write_example_exports(tmp_path, buyers=60)
    for path in fresh:
        committed = EXAMPLES / path.name
        assert committed.exists(), f"regenerate examples/: {path.name} is missing"
        assert committed.read_bytes() == path.read_bytes(), f"regenerate examples/{path.name}"
        assert committed.stat().st_size <= 50_000
    assert (EXAMPLES / "README.md").exists()


def test_the_taobao_csv_is_gbk_with_its_wrappers(example_exports: dict[str, Path]) -> None:
    data = example_exports["taobao_csv"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("gbk")
    assert text.startswith("订单编号,买家会员名,买家支付宝账号")
    assert '"=""2024' in text and ",'138" in text and "元," in text
    assert "买家未付款" in text and "交易关闭" in text


def test_quirks_are_present_in_the_small_set(example_exports: dict[str, Path]) -> None:
    douyin = example_exports["douyin"].read_text(encoding="utf-8")
    assert '"1,' in douyin and "退款成功" in douyin
    customers = example_exports["youzan_customers"].read_text(encoding="utf-8-sig")
    assert all(line.endswith(",") for line in customers.splitlines())
    assert "******" in customers
    jd = read_export(example_exports["jd"]).frame
    assert jd["联系电话"].str.fullmatch(r"1\*{6}\d{4}").all()
    assert jd["商家应收"].str.endswith("（系统计算中，该值仅供参考）").all()
    wdt = read_export(example_exports["erp_wdt"]).frame
    assert (wdt["支付时间"] == "0000-00-00").any() and wdt["订单编号"].iloc[-1] == "合计:"
    assert wdt["打印备注"].str.contains(r"1[3-9]\d{9}").any()
    pdd = read_export(example_exports["pdd"]).frame
    assert "买家会员名" not in pdd.columns and pdd["订单号"].str.endswith("\t").all()
    wechat = read_export(example_exports["wechat_shop"])
    assert wechat.frame["订单号"].duplicated().any()  # line items
    assert wechat.frame["企业微信加密id"].notna().any()
    assert set(wechat.sheets) == {"订单列表"}  # the 售后单 sheet is skipped


def test_buyers_overlap_and_spend_is_skewed(tmp_path: Path) -> None:
    import pandas as pd

    paths = write_example_exports(tmp_path, buyers=400)
    youzan = read_export(next(p for p in paths if p.name.startswith("youzan_orders"))).frame
    taobao = read_export(next(p for p in paths if p.name.startswith("ExportOrderList")))
    tb_phones = set(taobao.frame["联系手机"].str.lstrip("'"))
    assert tb_phones & set(youzan["买家手机号"])
    per_buyer = youzan.groupby("买家手机号").size()
    assert (per_buyer == 1).mean() > 0.5 and per_buyer.max() >= 4
    amounts = pd.to_numeric(youzan["订单实付金额"])
    assert amounts.max() > 5 * amounts.median()


def test_dates_stay_in_the_window_and_every_platform_has_rows(tmp_path: Path) -> None:
    from datetime import date

    import pandas as pd

    paths = write_example_exports(tmp_path, buyers=30, start=date(2025, 3, 1),
                                  end=date(2025, 3, 31))
    assert all(p.name.endswith(("20250331.csv", "20250331.xlsx", "202503311030.csv"))
               for p in paths)
    for path in paths:
        assert len(read_export(path).frame) >= 1, path.name
    youzan = read_export(next(p for p in paths if p.name.startswith("youzan_orders"))).frame
    created = pd.to_datetime(youzan["订单创建时间"])
    assert created.min() >= pd.Timestamp("2025-03-01")
    assert created.max() < pd.Timestamp("2025-04-01")
    with pytest.raises(ValueError, match="buyers"):
        write_example_exports(tmp_path, buyers=0)
