"""WeCom contacts from files: the admin console's customer export, or a simple CSV.

Both become the contact frame of ``attribution.CONTACT_COLUMNS``. Headers are matched by alias
(case and spaces ignored); the admin-console column names are UNCONFIRMED (no public source
lists them), so every alias list can be extended in ``[track.columns]``. Remark mobiles are
normalised here and never leave the process except into the 0600 ledger.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from privmigrate.errors import InputError
from privmigrate.ingest.phones import normalize_phones
from privmigrate.track.attribution import CONTACT_COLUMNS, LOCAL_TZ

DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "external_userid": ("external_userid", "externaluserid", "外部联系人id", "外部联系人userid",
                        "客户id", "客户userid", "externalcontactid"),
    "staff": ("userid", "staff", "添加人账号", "跟进人账号", "所属成员账号", "成员账号", "添加人",
              "跟进人", "所属成员", "所属员工", "添加人userid"),
    "added_at": ("add_time", "added_at", "createtime", "添加时间", "添加好友时间", "成为客户时间",
                 "添加日期"),
    "state": ("state", "渠道参数", "state参数", "渠道", "来源渠道", "客户渠道", "渠道码"),
    "customer_channel": ("customer_channel", "获客链接渠道", "获客渠道"),
    "remark_mobiles": ("remark_mobiles", "remark_mobile", "备注手机号", "备注电话", "描述手机号",
                       "电话", "手机号", "手机", "手机号码"),
    "name": ("name", "客户名称", "客户昵称", "昵称", "微信昵称", "客户"),
}
REQUIRED_ONE_OF = ("external_userid", "name")
_MOBILE_SPLIT = r"[;,，；|/、\n]+"
# two numbers separated only by spaces ("13800000001 13900000002"); "+86 138 0000 0002" stays one
_SPACE_SEPARATED = r"(?<=\d{11})\s+(?=(?:\+?86)?1\d{10}\b)"
_HEADER_SCAN_ROWS = 15


def read_contact_files(paths: Sequence[Path],
                       aliases: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """All files as one contact frame (``source='file'``, ``source_ref`` = file name)."""
    frames = [read_contact_file(Path(p), aliases) for p in paths]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CONTACT_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def read_contact_file(path: Path,
                      aliases: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """One export (xlsx/xls/csv/txt) as a contact frame; InputError names file, row and column."""
    rows = _read_rows(path)
    table = _normalise_aliases(aliases)
    header_at, columns = _find_header(rows, table, path)
    body = pd.DataFrame(rows[header_at + 1:], dtype="object")
    body = body.reindex(columns=range(len(rows[header_at])))
    body = body[~body.isna().all(axis=1)]
    # 1-based line (or sheet row) number of each data row, for error messages
    line = pd.Series(body.index.to_numpy() + header_at + 2, index=body.index)
    return _contacts(body, columns, rows[header_at], line, path)


def _read_rows(path: Path) -> list[list[object]]:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            from python_calamine import CalamineWorkbook

            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            return [list(r) for r in sheet.to_python(skip_empty_area=False)]
        return read_csv_rows(path)
    except InputError:
        raise
    except Exception as exc:  # calamine and pandas raise many types for a broken file
        raise InputError(
            f"{path}: cannot read this file ({type(exc).__name__}); export it again as .xlsx "
            "or UTF-8 .csv") from exc


def read_csv_rows(path: Path) -> list[list[object]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030", "utf-16"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(f"{path}: not UTF-8, GB18030 or UTF-16 text; save it as UTF-8 CSV")
    first = text.splitlines()[0] if text else ""
    sep = "\t" if first.count("\t") > first.count(",") else ","
    import io

    frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str,
                        keep_default_na=False, skip_blank_lines=False, engine="python")
    return frame.replace("", None).to_numpy(dtype=object).tolist()


def _normalise_aliases(extra: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """canonical → header keys in priority order (configured aliases first)."""
    table: dict[str, list[str]] = {}
    for canonical in {**DEFAULT_ALIASES, **(extra or {})}:
        names = [*(extra or {}).get(canonical, ()), *DEFAULT_ALIASES.get(canonical, ())]
        table[canonical] = list(dict.fromkeys(_key(n) for n in names))
    return table


def _key(header: object) -> str:
    return re.sub(r"[\s_\-()（）:：]+", "", str(header)).lower()


def _find_header(rows: list[list[object]], aliases: dict[str, list[str]],
                 path: Path) -> tuple[int, dict[str, int]]:
    """The header row (exports often start with a title line) and canonical → column index.

    When several columns fit one field (添加人 and 添加人账号), the earlier alias wins.
    """
    best: tuple[int, dict[str, int]] = (-1, {})
    for i, row in enumerate(rows[:_HEADER_SCAN_ROWS]):
        keys = {_key(cell): j for j, cell in reversed(list(enumerate(row))) if cell is not None}
        found: dict[str, int] = {}
        for canonical, names in aliases.items():
            hit = next((keys[n] for n in names if n in keys), None)
            if hit is not None:
                found[canonical] = hit
        if len(found) > len(best[1]):
            best = (i, found)
    at, columns = best
    if "added_at" not in columns or not any(k in columns for k in REQUIRED_ONE_OF):
        raise InputError(
            f"{path}: no header row with an add-time column "
            f"({', '.join(DEFAULT_ALIASES['added_at'][:4])}…) "
            f"and an external_userid (or 客户名称) column in the first {_HEADER_SCAN_ROWS} rows; "
            "rename the headers or add aliases under [track.columns] in privmigrate.toml")
    return at, columns


def _contacts(body: pd.DataFrame, columns: dict[str, int], headers: list[object],
              line: pd.Series, path: Path) -> pd.DataFrame:
    def col(name: str) -> pd.Series:
        if name not in columns:
            return pd.Series(pd.NA, index=body.index, dtype="string")
        values = body[columns[name]].astype("string").str.strip()
        return values.mask(values == "")

    added = parse_add_times(body[columns["added_at"]])
    bad = added.isna()
    if bad.any():
        first = bad.idxmax()
        header = headers[columns["added_at"]]
        cell = str(body.at[first, columns["added_at"]])
        raise InputError(
            f"{path} row {int(line[first])} column {header}: {cell!r} is not a date-time; "
            "fix the cell (e.g. 2026-11-20 10:31:00)")
    external = col("external_userid")
    if external.isna().any():
        external = external.fillna(_pseudo_ids(col("name"), col("staff"), added))
    state = col("state").fillna(col("customer_channel"))
    out = pd.DataFrame({
        "external_userid": external,
        "staff": col("staff").fillna(""),
        "added_at": added,
        "state": state,
        "remark_phones": remark_phones(col("remark_mobiles")),
        "source": "file",
        "source_ref": path.name,
    })
    missing = out["external_userid"].isna()
    if missing.any():
        first = missing.idxmax()
        raise InputError(f"{path} row {int(line[first])} column external_userid: empty and no "
                         "客户名称 to identify the customer; fill the cell or drop the row")
    return out[CONTACT_COLUMNS].reset_index(drop=True)


def parse_add_times(values: pd.Series) -> pd.Series:
    """Add times as naive Asia/Shanghai: datetimes, 'YYYY-MM-DD HH:MM[:SS]', '/' dates, epochs."""
    obj = values.astype("object")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    is_dt = obj.map(lambda v: hasattr(v, "year")).astype(bool)
    if is_dt.any():
        out.loc[is_dt] = pd.to_datetime(obj[is_dt]).astype("datetime64[us]")
    text = obj[~is_dt].astype("string").str.strip()
    epoch = text.str.fullmatch(r"\d{9,10}(?:\.0+)?").fillna(False)
    if epoch.any():
        secs = pd.to_numeric(text[epoch]).astype("int64")
        out.loc[epoch[epoch].index] = pd.to_datetime(secs, unit="s", utc=True).dt.tz_convert(
            LOCAL_TZ).dt.tz_localize(None).astype("datetime64[us]")
    rest = text[~epoch].dropna()
    if len(rest):
        parsed = pd.to_datetime(rest.str.replace("/", "-", regex=False), errors="coerce",
                                format="mixed")
        out.loc[rest.index] = parsed.astype("datetime64[us]")
    return out


def remark_phones(values: pd.Series) -> pd.Series:
    """Valid mobiles among staff-typed remark mobiles, ';'-joined (NA when none)."""
    text = values.astype("string").str.replace(_SPACE_SEPARATED, ";", regex=True)
    parts = text.str.split(_MOBILE_SPLIT, regex=True).explode()
    parts = parts[parts.notna() & (parts != "")]
    if parts.empty:
        return pd.Series(pd.NA, index=values.index, dtype="string")
    phones, _status = normalize_phones(parts)
    pairs = pd.DataFrame({"row": phones.index, "phone": phones.to_numpy()}).dropna()
    pairs = pairs.drop_duplicates()
    joined = pairs.groupby("row")["phone"].agg(";".join)
    return joined.reindex(values.index).astype("string")


def _pseudo_ids(names: pd.Series, staff: pd.Series, added: pd.Series) -> pd.Series:
    """A stable stand-in id for export rows without external_userid (hash, not the name)."""
    key = names.fillna("") + "|" + staff.fillna("") + "|" + added.astype("string").fillna("")
    ids = key.map(lambda k: "x-" + hashlib.sha256(k.encode()).hexdigest()[:24])
    return ids.where(names.notna()).astype("string")
