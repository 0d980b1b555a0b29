"""WeCom contacts from the API: every member's customers, plus 获客链接 channels.

``batch/get_by_user`` gives each (customer, member) relationship with its add time, state and
remark mobiles. ``customer_acquisition/customer`` gives, per 获客链接, who came through it and
the link's ``customer_channel`` (as ``state``) but no add time — so it only fills in a state
the relationship lacks. A link customer whose member we cannot read has no add time and is
counted in ``link_customers_without_time`` instead of guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from privmigrate.channels.wecom import WeComClient
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.track.attribution import CONTACT_COLUMNS, LOCAL_TZ
from privmigrate.track.sources import remark_phones


@dataclass(frozen=True)
class ApiRead:
    contacts: pd.DataFrame
    staff: int
    links: int
    link_customers: int
    link_customers_without_time: int
    relationships_without_time: int  # follow_info without createtime (never seen; counted)


def contacts_from_api(
    client: WeComClient,
    staff: tuple[str, ...] = (),
    link_ids: tuple[str, ...] = (),
    acquisition_links: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> ApiRead:
    """Read every relationship (and link channel) into the contact frame."""
    members = list(staff) or client.follow_users()
    progress.start("WeCom customers", total=None)
    rows = []
    for item in client.contacts_by_user(members):
        rows.append(item)
        progress.advance()
    rel = pd.DataFrame(rows, columns=["external_userid", "userid", "createtime", "state",
                                      "remark_mobiles", "add_way"])
    links = list(link_ids) or (client.acquisition_links() if acquisition_links else [])
    via_link = []
    progress.start("获客链接 customers", total=len(links) or None)
    for link in links:
        via_link.extend(client.acquisition_customers(link))
        progress.advance()
    progress.finish()
    link_frame = pd.DataFrame(via_link, columns=["link_id", "external_userid", "userid",
                                                 "chat_status", "state"])
    contacts, orphans = _combine(rel, link_frame)
    no_time = int(pd.to_numeric(rel["createtime"], errors="coerce").isna().sum())
    return ApiRead(contacts, len(members), len(links), len(link_frame), orphans, no_time)


def _combine(rel: pd.DataFrame, links: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    rel = rel.dropna(subset=["external_userid"]).copy()
    rel["userid"] = rel["userid"].astype("string").fillna("")
    rel["state"] = rel["state"].astype("string").replace("", pd.NA)
    links = links.dropna(subset=["external_userid"]).copy()
    links["userid"] = links["userid"].astype("string").fillna("")
    links = links[links["state"].notna() & (links["state"].astype("string") != "")]
    links = links.drop_duplicates(["external_userid", "userid"])
    keyed = rel.merge(links[["external_userid", "userid", "state", "link_id"]]
                      .rename(columns={"state": "link_state"}),
                      on=["external_userid", "userid"], how="left")
    keyed["state"] = keyed["state"].fillna(keyed["link_state"].astype("string"))
    matched = links.merge(rel[["external_userid", "userid"]], on=["external_userid", "userid"])
    orphans = len(links) - len(matched)
    secs = pd.to_numeric(keyed["createtime"], errors="coerce")
    added = pd.to_datetime(secs, unit="s", utc=True).dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    out = pd.DataFrame({
        "external_userid": keyed["external_userid"].astype("string"),
        "staff": keyed["userid"],
        "added_at": added.astype("datetime64[us]"),
        "state": keyed["state"],
        "remark_phones": remark_phones(keyed["remark_mobiles"].astype("string")
                                       .replace("", pd.NA)),
        "source": "api",
        "source_ref": keyed["link_id"].astype("string"),
    })
    return out[out["added_at"].notna()][CONTACT_COLUMNS].reset_index(drop=True), orphans
