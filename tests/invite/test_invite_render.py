"""Rendering: billed length as providers count it, names, products, offers, the gate."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privmigrate.errors import ConfigError
from privmigrate.invite import render
from privmigrate.invite.settings import InviteSettings, Offer
from tests.invite import invite_world as w


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (500, 8)]
)
def test_billed_parts_follow_70_then_67(length, parts):
    assert render.billed_parts(pd.Series([length]))[0] == parts
    assert render.parts_for(length) == parts


def test_display_names_reject_masked_nicknames_and_long_names():
    names = pd.Series(["测试甲一", "张**", "buyer_0912", None, "欧阳测试", "测" * 9, "Li Ming"])
    out = render.display_names(names, 8)
    assert out.tolist()[:1] == ["测试甲一"]
    assert out.isna().tolist() == [False, True, True, True, False, True, False]


def test_honorific_is_surname_plus_configured_suffix():
    names = pd.Series(["测试甲一", "张**", "欧阳测试", None, "buyer"])
    out = render.honorifics(names, "客户", "尊敬的顾客")
    assert out.tolist() == ["测客户", "张客户", "欧阳客户", "尊敬的顾客", "尊敬的顾客"]


def test_products_lose_promotions_links_and_are_cut():
    products = pd.Series(["【双11】保湿面霜 50ml (赠品) http://x.cn/a", None, "★"])
    out = render.clean_products(products, 8, "心仪好物")
    assert out.tolist() == ["保湿面霜", "心仪好物", "心仪好物"]
    assert render.clean_products(pd.Series(["氨基酸洁面乳 120g"]), 12, "x").tolist() == [
        "氨基酸洁面乳 120g"]
    assert not out.str.contains("【|http").any()


def test_offer_value_from_avg_amount_is_stepped_and_clamped():
    offer = Offer(("A",), "{value}元券", None, 10.0, 10.0, 50.0, 5.0)
    avg = pd.Series([37.0, 260.0, 999.0, None])
    texts = render.offer_texts(pd.Series(["A", "A", "A", "B"]), avg, (offer,), "专属福利")
    assert texts.tolist() == ["10元券", "25元券", "50元券", "专属福利"]


def test_render_fills_every_variable_and_params_keep_template_order():
    s = InviteSettings.from_config(w.config())
    t = s.templates[0]
    idx = pd.RangeIndex(2)
    values = {"name": pd.Series(["测试甲一", "尊敬的顾客"]), "product": pd.Series(["面霜", "好物"]),
              "offer": pd.Series(["10元券", "福利"]), "staff": pd.Series(["小美", "小林"])}
    body = render.render(t.text, values, idx)
    assert body[0].startswith("测试甲一您好，感谢购买面霜，送您10元券，加顾问小美")
    assert body.str.endswith("拒收请回复R").all()
    params = render.template_params(t, values, idx)
    assert json.loads(params[0]) == {"name": "测试甲一", "product": "面霜", "offer": "10元券",
                                     "staff": "小美"}
    assert list(json.loads(params[0])) == ["name", "product", "offer", "staff"]


def test_compliance_gate_refuses_a_broken_message():
    s = InviteSettings.from_config(w.config())
    t = s.templates[0]
    values = {"name": pd.Series(["【假】"]), "product": pd.Series(["x"]),
              "offer": pd.Series(["y"]), "staff": pd.Series(["z"])}
    full = render.signature(s.sign_name) + render.render(t.text, values, pd.RangeIndex(1))
    with pytest.raises(ConfigError, match="【】"):
        render.check_messages(full, t, values, s.sign_name)

_texts = st.lists(st.one_of(st.none(), st.text(max_size=60),
                            st.sampled_from(["【包邮】面霜 http://a.cn/x", "=1+1", "张**",
                                             "欧阳", "www.x.com 洁面乳 120g"])),
                  min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(_texts)
def test_any_name_or_product_gives_a_compliant_value(values):
    series = pd.Series(values, dtype="object")
    names = render.display_names(series, 8).fillna("尊敬的顾客")
    products = render.clean_products(series, 12, "心仪好物")
    for out, cap in ((names, 10), (products, 12)):
        assert out.notna().all()
        assert out.str.len().between(2, cap).all()
        assert not out.str.contains(r"[【】{}=*]|https?://|www\.", regex=True).any()
    honor = render.honorifics(series, "客户", "尊敬的顾客")
    assert honor.notna().all() and not honor.str.contains(r"[*=]", regex=True).any()
