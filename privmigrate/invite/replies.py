"""Reading suppression lists and providers' reply (上行) reports.

Accepted: Aliyun SmsUp JSON (``phone_number``, ``content``), Tencent PullSmsReplyStatus JSON
(``PullSmsReplyStatusSet[].PhoneNumber``/``ReplyContent``), console exports as CSV/xlsx with
headers such as 手机号码 / 回复内容, and plain lists (one number per line). When a reply
column exists only rows whose reply is an unsubscribe keyword (R, TD, 退订 …) count.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from privmigrate.errors import InputError
from privmigrate.ingest.phones import classify_phones

PHONE_ALIASES = ("phone", "phone_number", "phonenumber", "mobile", "手机号码", "手机号",
                 "号码", "电话", "上行号码", "回复号码", "subscribernumber")
REPLY_ALIASES = ("content", "replycontent", "reply", "回复内容", "上行内容", "内容", "短信内容")


@dataclass(frozen=True)
class ReplyImport:
    phones: list[str]  # normalised, unique, sorted
    rows: int
    replies_matched: int  # rows whose reply is an unsubscribe keyword (or all, for lists)
    invalid: int  # rows without a usable mobile


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lower().replace(" ", "")


LIST_KEYS = ("PullSmsReplyStatusSet", "data", "Data", "records", "items")


def _records(path: Path, list_keys: tuple[str, ...] = LIST_KEYS) -> pd.DataFrame:
    """A report file's rows: JSON (a list, or the list under one of ``list_keys``, nested
    keys followed in order), xlsx, or CSV in UTF-8 / GB18030 with its separator sniffed."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict):
                data = data.get("Response", data)
                for key in list_keys:
                    if isinstance(data, dict) and key in data:
                        data = data[key]
            if not isinstance(data, list):
                raise InputError(f"{path}: expected a JSON list of records")
            return pd.DataFrame(data).astype("string")
        if suffix in (".xlsx", ".xlsm"):
            try:
                return pd.read_excel(path, dtype=str).astype("string")
            except (OSError, ValueError):
                raise
            except Exception as exc:  # a damaged workbook: BadZipFile, KeyError, XML errors
                raise InputError(f"{path}: not a readable Excel workbook ({type(exc).__name__}); "
                                 "open it in Excel and save it again as .xlsx, or export CSV"
                                 ) from exc
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InputError(f"{path}: neither UTF-8 nor GB18030 text")
        from io import StringIO

        first = text.split("\n", 1)[0]
        sep = max((",", "\t", ";", "|"), key=first.count) if first else ","
        frame = pd.read_csv(StringIO(text), dtype=str, sep=sep)
        if _find(frame, PHONE_ALIASES) is None:
            frame = pd.read_csv(StringIO(text), dtype=str, header=None, sep=sep
                                ).rename(columns={0: "phone"})
        return frame.astype("string")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read ({exc}); export the report again as CSV, "
                         "xlsx or JSON") from exc


def _find(frame: pd.DataFrame, aliases: tuple[str, ...]) -> str | None:
    by_norm = {_norm(c).replace("_", ""): c for c in frame.columns.astype(str)}
    for alias in aliases:
        if alias.replace("_", "") in by_norm:
            return by_norm[alias.replace("_", "")]
    return None


def read_reply_report(
    path: Path, keywords: tuple[str, ...], *, plain_list: bool = False
) -> ReplyImport:
    """The numbers to suppress from a reply report or plain list at ``path``.

    A file with several columns but no reply column is refused unless ``plain_list``: it is
    more likely an order or customer export given by mistake than a list of opt-outs.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give the reply report file inside it")
    frame = _records(path)
    phone_col = _find(frame, PHONE_ALIASES)
    if phone_col is None:
        raise InputError(f"{path}: no phone column (looked for {', '.join(PHONE_ALIASES[:6])} "
                         "…); rename the column to phone")
    rows = frame
    reply_col = _find(frame, REPLY_ALIASES)
    if reply_col is None and not plain_list and len(frame.columns) > 1:
        raise InputError(
            f"{path}: has no reply column ({', '.join(REPLY_ALIASES[:5])} …) but "
            f"{len(frame.columns)} columns; if every number in it opted out, pass --plain-list"
        )
    if reply_col is not None:
        wanted = {_norm(k) for k in keywords}
        rows = frame[frame[reply_col].fillna("").map(_norm).isin(wanted)]
    uniq = rows[phone_col].drop_duplicates()
    classified = classify_phones(uniq.reset_index(drop=True))
    good = classified.loc[classified["phone_status"] == "valid", "phone"].dropna()
    return ReplyImport(
        phones=sorted(set(good.astype(str))),
        rows=len(frame),
        replies_matched=len(rows),
        invalid=int((classified["phone_status"] != "valid").sum()),
    )


def normalise_phones(values: list[str]) -> tuple[list[str], int]:
    """(valid normalised mobiles, how many inputs were not valid mobiles)."""
    if not values:
        return [], 0
    classified = classify_phones(pd.Series(values, dtype="string"))
    good = classified.loc[classified["phone_status"] == "valid", "phone"].dropna().astype(str)
    return sorted(set(good)), int((classified["phone_status"] != "valid").sum())
