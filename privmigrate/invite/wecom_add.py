"""Channel ``wecom_add``: a staff member adds the buyer by phone (企业微信 搜索手机号添加).

The plan gives each account its buyers (plan.py); this module renders what the member types —
the suggested 备注 (remark, ≤ 20 characters: WeCom's limit for ``externalcontact/remark``) —
and sets when an unanswered request expires. The add itself is seen by ``track`` (the member's
``batch/get_by_user`` read-back or the admin-console export, matched to the buyer by the
remark mobile): see :func:`reconcile`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pandas as pd

from privmigrate.invite.render import display_names, surnames
from privmigrate.invite.settings import REMARK_MAX_CHARS

_VAR = re.compile(r"\{([a-z_]+)\}")


def expires_at(night: date, days: int) -> str:
    """The last moment an add still counts: the end of the ``days``-th day after the night."""
    return f"{(night + timedelta(days=days)).isoformat()} 23:59:59"


def remarks(rows: pd.DataFrame, template: str, night: date) -> pd.Series:
    """The suggested 备注 per row, never longer than WeCom's 20 characters.

    The name gives way first: everything else is rendered, and the name fills what is left,
    so the phone tail (what a member searches by later) is never cut.
    """
    del night  # the remark does not depend on the night; kept for a uniform signature
    phone = rows["phone"].astype("string").fillna("")
    last = pd.to_datetime(rows["last_paid_at"], errors="coerce")
    values = {
        "phone_tail": phone.str.slice(-4),
        "segment": rows["segment"].astype("string").fillna(""),
        "last_order_date": last.dt.strftime("%m%d").astype("string").fillna(""),
        "staff": rows["staff"].astype("string").fillna(""),
    }
    # the buyer's real name when it is one, else the surname of a masked name (张**), else ""
    name = display_names(rows["name"], REMARK_MAX_CHARS).fillna(surnames(rows["name"])) \
        .fillna("")
    rest = pd.Series(_VAR.sub("", template), index=rows.index, dtype="string")
    out = pd.Series(template, index=rows.index, dtype="string")
    for var, val in values.items():
        if "{" + var + "}" in template:
            out = _sub(out, var, val)
            rest = rest.str.cat(val)
    room = (REMARK_MAX_CHARS - rest.str.len()).clip(lower=0)
    fitted = pd.Series([n[:r] for n, r in zip(name.tolist(), room.tolist(), strict=True)],
                       index=rows.index, dtype="string")
    out = _sub(out, "name", fitted)
    return out.str.slice(0, REMARK_MAX_CHARS)


def _sub(text: pd.Series, var: str, values: pd.Series) -> pd.Series:
    parts = text.str.split("{" + var + "}", n=1, regex=False)
    head = parts.str[0]
    tail = parts.str[1].fillna("")
    has = text.str.contains("{" + var + "}", regex=False)
    return head.str.cat(values.fillna("")).str.cat(tail).where(has, text)
