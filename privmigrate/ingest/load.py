"""`load`: read export files, map them to the order table, merge into orders.parquet.

Loading the same or overlapping exports again changes nothing: rows are keyed on
(source, order_id) and the newest load of an order wins (a later export may carry its refund).
orders.parquet and rejects.csv are replaced atomically, and only after every file was read,
so a bad file leaves the workspace as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from privmigrate.clock import shanghai_now
from privmigrate.config import read_config
from privmigrate.errors import InputError
from privmigrate.ingest import formats
from privmigrate.ingest.cells import fen_to_decimal
from privmigrate.ingest.identity import resolve_identity
from privmigrate.ingest.orders import (
    REJECT_COLUMNS,
    BuiltOrders,
    IdKeyRun,
    amounts_per_line,
    build_orders,
    id_key_run,
    merge_line_items,
)
from privmigrate.ingest.readers import (
    CSV_SUFFIXES,
    CarefulReadNeeded,
    check_path,
    csv_layout,
    iter_csv_chunks,
    read_export,
)
from privmigrate.ingest.reexports import reexported_orders
from privmigrate.ingest.settings import LoadSettings
from privmigrate.ledger import open_ledger, transaction
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.tables import (
    CATEGORICAL_COLUMNS,
    ORDERS_SCHEMA,
    ROW_GROUP_ROWS,
    decimal_fen,
    read_orders_table,
    write_row_groups_atomic,
)
from privmigrate.workspace import Workspace, atomic_path

T = TypeVar("T")


@dataclass
class LoadOptions:
    """What the user said on the command line (config fills the rest)."""

    source: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None


@dataclass
class FileSummary:
    file: str
    source: str
    encoding: str | None
    rows: int
    loaded: int
    rejected: int
    summary_rows: int
    unlinked: int
    paid: int
    phone_status: dict[str, int]
    note: str = ""
    # orders that are in both an ERP export and the shop's own export (counted once)
    same_orders: int = 0
    # status words nobody knows → rows left out (one reject line per word)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    # paid orders whose payment time was blank, by the field their time came from
    time_fallbacks: dict[str, int] = field(default_factory=dict)


@dataclass
class BadFile:
    """A file a load could not use at all, and the one-line reason (file, row, column)."""

    file: str
    reason: str


class FilesUnusable(InputError):
    """No file of the load could be used (or one could not, loading all or nothing)."""

    def __init__(self, bad: list[BadFile]) -> None:
        lines = [b.reason for b in bad]
        head = (f"{len(bad)} files cannot be loaded; nothing was written:\n"
                if len(bad) > 1 else "")
        super().__init__(head + "\n".join(lines))
        self.bad = bad


@dataclass
class LoadedOrders:
    """The order table being written, handed in memory to scoring in the same process.

    ``orders`` has the columns scoring reads (``amount_fen`` in fen) in the file's row order;
    ``customer_codes`` groups its rows exactly like customer_id (-1 where it is null), so
    scoring neither re-reads orders.parquet nor hashes 10 million ids again.
    """

    orders: pd.DataFrame
    customer_codes: np.ndarray


@dataclass
class LoadSummary:
    files: list[FileSummary]
    orders_total: int
    customers_total: int
    new_orders: int
    rejects_path: str
    orders_path: str
    # ERP rows (whole table) whose shop order is loaded from the shop too: counted once
    reexported: int = 0
    during_write: Any = None  # what load_files(while_writing=…) returned
    during_write_error: Exception | None = None  # … or what it raised
    bad_files: list[BadFile] = field(default_factory=list)  # files left out (skip_bad_files)

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain values (without what ran during the write)."""
        return {f.name: [asdict(x) for x in getattr(self, f.name)]
                if f.name in ("files", "bad_files") else getattr(self, f.name)
                for f in fields(self)
                if f.name not in ("during_write", "during_write_error")}

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)


def load_files(
    ws: Workspace,
    paths: list[Path],
    options: LoadOptions | None = None,
    progress: Progress = NULL_PROGRESS,
    *,
    loaded_at: datetime | None = None,
    while_writing: Callable[[LoadedOrders], Any] | None = None,
    skip_bad_files: bool = False,
) -> LoadSummary:
    """Load ``paths`` into the workspace.

    A file that cannot be used at all (unreadable, no profile matches) is named with its
    reason. By default nothing is written then (FilesUnusable names every such file, not
    just the first); with ``skip_bad_files`` the others are loaded and the bad ones listed in
    ``LoadSummary.bad_files`` (FilesUnusable only when no file is usable).

    ``while_writing`` (scoring, for `segment FILE…` and the nightly run) is called with the
    merged table in memory (``LoadedOrders``: no re-read, no re-hashing of customer ids)
    while orders.parquet is being written on another thread; what it returns or raises lands
    in ``LoadSummary.during_write`` / ``during_write_error``. It must not write to the
    workspace: orders.parquet is only complete once load_files returns.
    """
    options = options or LoadOptions()
    settings = LoadSettings.from_config(read_config(ws.config_path))
    if not paths:
        raise InputError("no files given; name one or more export files")
    built: list[_Built] = []
    bad: list[BadFile] = []
    progress.start("reading exports", total=len(paths))
    for path in paths:
        try:
            built.append(_load_one(path, options, settings))
        except InputError as exc:
            bad.append(BadFile(str(path), exc.message))
        except Exception as exc:  # a reader's bug must not cost the other files
            if not skip_bad_files:
                raise
            bad.append(BadFile(str(path), f"{path}: cannot be read ({type(exc).__name__}: "
                                          f"{str(exc).splitlines()[0][:200] if str(exc) else ''})"))
        progress.advance()
    if bad and (not skip_bad_files or not built):
        raise FilesUnusable(bad)

    for i, b in enumerate(built):
        b.orders["_file"] = np.int16(i)
    frames = [b.orders for b in built]
    new = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    existing = read_orders_table(ws.orders_path)
    merged, new_count = _merge(existing, new)
    del new, frames, existing
    for b in built:
        b.orders = None  # the frames now live in `merged`
    release_memory()
    progress.start("linking buyers into customers")
    same_order = reexported_orders(merged)
    merged["duplicate_of"] = same_order.duplicate_of(merged)
    identity = resolve_identity(merged, ws.secret(), same_order)
    customers_total = identity.customers
    merged["customer_id"] = identity.ids
    codes = identity.codes
    del identity
    # unlinked counts are only known after identity resolution over the whole table
    file_index = merged.pop("_file").fillna(-1).to_numpy(dtype=np.int64)
    unlinked = np.bincount(
        file_index[merged["customer_id"].isna().to_numpy() & (file_index >= 0)],
        minlength=len(built),
    )
    both_sides = file_index[np.union1d(same_order.erp_rows, same_order.shop_rows)]
    same_orders = np.bincount(both_sides[both_sides >= 0], minlength=len(built))
    for i, summary in enumerate(b.summary for b in built):
        summary.unlinked = int(unlinked[i])
        summary.same_orders = int(same_orders[i])
        profile = formats.REGISTRY[summary.source]
        if summary.unlinked and profile.unlinkable:
            summary.note = (
                f"{profile.title}: the export has no buyer key; "
                f"{summary.unlinked} orders kept but cannot be tied to a buyer"
            )
    release_memory()
    orders_total = len(merged)
    during: Any = None
    failed: Exception | None = None
    progress.start("writing orders.parquet" + (" and scoring" if while_writing else ""))
    # The files' digests (how `run` recognises them) need one core and the page cache: they
    # are taken while Arrow encodes the table, when a core is free, not during the parsing.
    with ThreadPoolExecutor(max_workers=1) as hashing:
        digests = hashing.submit(lambda: [file_sha256(b.path) for b in built])
        if while_writing is None:
            _write_orders(merged, ws.orders_path)
        else:
            # Parquet encoding runs in Arrow without the GIL: the caller's work (scoring) uses
            # the other core meanwhile. Both finish before anything else is recorded.
            kept: LoadedOrders | None = LoadedOrders(_scoring_frame(merged), codes)
            del codes
            with ThreadPoolExecutor(max_workers=1) as pool:
                def write_then_release(frame: pd.DataFrame) -> None:
                    _write_orders(frame, ws.orders_path)
                    release_memory()  # the writer's buffers, before the scoring beside it peaks

                writing = pool.submit(write_then_release, merged)
                del merged
                try:
                    during = while_writing(kept)
                except Exception as exc:  # the load itself succeeded: record it, then report
                    failed = exc
                kept = None
                writing.result()
        shas = digests.result()
    _write_rejects(ws, [(b.path, b.rejects) for b in built])
    _record(ws, built, shas, (loaded_at or shanghai_now()).isoformat(timespec="seconds"))
    progress.finish()
    return LoadSummary(
        files=[b.summary for b in built],
        orders_total=orders_total,
        customers_total=int(customers_total),
        new_orders=new_count,
        rejects_path=str(ws.rejects_path),
        orders_path=str(ws.orders_path),
        reexported=len(same_order.erp_rows),
        during_write=during,
        during_write_error=failed,
        bad_files=bad,
    )


def _scoring_frame(merged: pd.DataFrame) -> pd.DataFrame:
    """The merged orders as ``read_orders_for_scoring`` would read them back from disk."""
    from privmigrate.scoring.customers_io import SCORING_COLUMNS

    # ordered_at only stands in for a missing paid_at, duplicate_of matters only where set
    # (as read_orders_for_scoring reads them)
    skip = {"amount": True, "ordered_at": not merged["paid_at"].isna().any(),
            "duplicate_of": not merged["duplicate_of"].notna().any()}
    frame = merged[[c for c in SCORING_COLUMNS if not skip.get(c, False)]]
    # only the sources present, as a parquet dictionary would hold (bincount: no 10M sort)
    source = frame["source"].cat
    codes = source.codes.to_numpy()
    present = np.bincount(codes[codes >= 0], minlength=len(source.categories)) > 0
    frame["source"] = source.remove_categories(source.categories[~present])
    frame["amount_fen"] = merged["amount_fen"].fillna(0).to_numpy(dtype=np.int64)
    return frame


@dataclass
class _Built:
    """One file's part of a load: its orders (until merged), rejects and summary."""

    path: Path
    orders: pd.DataFrame | None
    rejects: pd.DataFrame
    summary: FileSummary


def _load_one(path: Path, options: LoadOptions, settings: LoadSettings) -> _Built:
    saved = settings.mapping_for(path)
    mapping = {**(saved.mapping if saved else {}), **options.mapping}
    source = options.source or (saved.source if saved else None)
    encoding = options.encoding or settings.encoding
    orders, rejects, summary = _build_one(path, settings, encoding=encoding, source=source,
                                          mapping=mapping)
    return _Built(path, orders, rejects, summary)


def _build_one(
    path: Path, settings: LoadSettings, *, encoding: str | None, source: str | None,
    mapping: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame, FileSummary]:
    streamed = _load_streamed(path, encoding, source, mapping, settings)
    if streamed is not None:
        profile, raw_encoding, result, bad_rows = streamed
    else:
        raw = read_export(path, encoding=encoding, header_score=formats.header_score)
        header = list(raw.frame.columns)
        profile = formats.choose_profile(header, source=source, mapping=mapping,
                                         file_label=str(path))
        result = build_orders(raw, profile, settings.status_words)
        raw_encoding, bad_rows = raw.encoding, len(raw.bad_rows)
        del raw
    orders = result.orders
    summary = FileSummary(
        file=str(path),
        source=profile.name,
        encoding=raw_encoding,
        rows=result.rows_read + bad_rows,
        loaded=len(orders),
        rejected=result.rows_rejected,
        summary_rows=result.summary_rows,
        unlinked=0,
        paid=int((orders["status"] == "paid").sum()),
        phone_status={k: int(v) for k, v in orders["phone_status"].value_counts().items()},
        unknown_statuses=result.unknown_statuses,
        time_fallbacks=result.time_fallbacks,
    )
    return orders, result.rejects, summary


# CSVs above this size are read in chunks so memory stays bounded (raw cells of one chunk).
STREAM_BYTES = 256 << 20


def _load_streamed(
    path: Path, encoding: str | None, source: str | None, mapping: dict[str, str],
    settings: LoadSettings,
) -> tuple[formats.Profile, str, BuiltOrders, int] | None:
    """Build a big CSV's orders chunk by chunk; None when the file is not for streaming."""
    check_path(path)
    if path.suffix.lower() not in CSV_SUFFIXES or path.stat().st_size < STREAM_BYTES:
        return None
    layout = csv_layout(path, encoding=encoding, header_score=formats.header_score)
    profile = formats.choose_profile(layout.header, source=source, mapping=mapping,
                                     file_label=str(path))
    frames: list[pd.DataFrame] = []
    key_runs: list[IdKeyRun] = []
    rejects: list[pd.DataFrame] = []
    rows_read = summary_rows = 0
    counts: list[tuple[dict[str, int], dict[str, int], int]] = []
    try:
        for chunk in prefetched(iter_csv_chunks(path, layout)):
            part = build_orders(chunk, profile, settings.status_words, merge_lines=False)
            del chunk
            frames.append(part.orders)
            key_runs.append(id_key_run(part.orders["order_id"].array._pa_array))
            if len(part.rejects):
                rejects.append(part.rejects)
            rows_read += part.rows_read
            summary_rows += part.summary_rows
            counts.append((part.unknown_statuses, part.time_fallbacks, part.rows_rejected))
            del part
            gc.collect()  # pandas frames sit in reference cycles: free the chunk's cells now
    except CarefulReadNeeded:
        return None  # bad rows or a late encoding change: the whole-file path reports them
    orders = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frames.clear()  # the chunks' frames now live only in `orders`
    result = BuiltOrders(
        orders=merge_line_items(orders, amounts_per_line(profile, layout.header), key_runs),
        rejects=pd.concat(rejects, ignore_index=True) if rejects
        else pd.DataFrame(columns=REJECT_COLUMNS),
        rows_read=rows_read,
        summary_rows=summary_rows,
        unknown_statuses=_sum_counts(c[0] for c in counts),
        time_fallbacks=_sum_counts(c[1] for c in counts),
        rows_rejected=sum(c[2] for c in counts),
    )
    return profile, layout.encoding, result, 0


def _sum_counts(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, count in part.items():
            total[key] = total.get(key, 0) + count
    return total


def prefetched(chunks: Iterator[T]) -> Iterator[T]:
    """``chunks``, with the next one read on a background thread while the caller works.

    Reading a chunk (Arrow's CSV reader) and parsing one overlap, so neither core waits for
    the other phase; one chunk ahead bounds the extra memory to one chunk of raw cells.
    Exceptions from the reader surface in the caller, in order.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        sentinel = object()
        ahead = pool.submit(next, chunks, sentinel)
        while True:
            item = ahead.result()
            if item is sentinel:
                return
            ahead = pool.submit(next, chunks, sentinel)
            yield item  # type: ignore[misc]


def release_memory() -> None:
    """Give freed memory back to the OS between phases, so peaks do not stack up.

    Arrow's pool keeps freed blocks, and glibc keeps freed heap in per-thread arenas (the
    parsers run on two threads); both are handed back here. pandas objects sit in reference
    cycles, so a chunk's frames are only freed once the cycle collector has run.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (how `run` recognises files already loaded)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _merge(existing: pa.Table, new: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Existing orders plus new ones; on (source, order_id) the new row wins."""
    if len(new) and new["_file"].nunique() > 1:  # one file is already unique per order
        new = new.drop_duplicates(["source", "order_id"], keep="last")
    if existing.num_rows == 0:
        if not isinstance(new.index, pd.RangeIndex) or new.index.start != 0:
            new = new.reset_index(drop=True)
        return new, len(new)
    # customer_id and duplicate_of are decided again over the merged table
    old = existing.drop_columns(["customer_id", "duplicate_of"]).to_pandas(types_mapper=_mapper)
    for name, dtype in CATEGORICAL_COLUMNS.items():
        old[name] = old[name].astype(dtype)
    old["amount_fen"] = decimal_fen(existing.column("amount"))
    old = old.drop(columns=["amount"])
    old["_file"] = -1  # load_files pops it even when the new files held no rows
    if len(new) == 0:
        return old, 0
    replaced, new_count = _overlap(old, new)
    merged = pd.concat([old[~replaced], new[old.columns.intersection(new.columns)]],
                       ignore_index=True)
    return merged, new_count


def _overlap(old: pd.DataFrame, new: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Which old rows the new load replaces, and how many new rows are new orders."""
    import pyarrow.compute as pc

    replaced = np.zeros(len(old), dtype=bool)
    known = np.zeros(len(new), dtype=bool)
    for source in new["source"].unique():
        in_old = (old["source"] == source).to_numpy()
        in_new = (new["source"] == source).to_numpy()
        if not in_old.any():
            continue
        ids_old = pa.array(old["order_id"][in_old].astype("string[pyarrow]"))
        ids_new = pa.array(new["order_id"][in_new].astype("string[pyarrow]"))
        replaced[in_old] = pc.is_in(ids_old, value_set=ids_new).to_numpy(zero_copy_only=False)
        known[in_new] = pc.is_in(ids_new, value_set=ids_old).to_numpy(zero_copy_only=False)
    return replaced, int((~known).sum())


def _mapper(t: pa.DataType) -> Any:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype("pyarrow")
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return None


WRITE_ROWS = ROW_GROUP_ROWS // 2  # rows per row group of orders.parquet


def _write_orders(merged: pd.DataFrame, target: Path) -> None:
    """orders.parquet from the merged frame, one row group at a time: the Arrow copies
    (categories as text, amounts as decimals) exist for one row group, not all 10M rows."""
    def groups() -> Iterator[pa.Table]:
        pool = pa.default_memory_pool()
        for start in range(0, len(merged), WRITE_ROWS):
            yield _to_arrow(merged.iloc[start:start + WRITE_ROWS])
            pool.release_unused()  # this thread's freed pages, while scoring runs beside it

    # the next group is converted on another thread while Arrow encodes this one
    write_row_groups_atomic(ORDERS_SCHEMA, prefetched(groups()), target)


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    """The merged DataFrame as a table with exactly ORDERS_SCHEMA."""
    n = len(df)
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for fld in ORDERS_SCHEMA:
        if fld.name == "amount":
            fen = df["amount_fen"]
            valid = fen.notna().to_numpy()
            arrays.append(fen_to_decimal(fen.fillna(0).to_numpy(dtype=np.int64), valid))
            continue
        if n == 0:
            arrays.append(pa.array([], type=fld.type))
            continue
        col = df[fld.name]
        if pa.types.is_timestamp(fld.type):
            arrays.append(pa.array(col.astype("datetime64[us]"), type=fld.type, from_pandas=True))
        elif pa.types.is_boolean(fld.type):
            arrays.append(pa.array(col.astype("boolean"), type=fld.type, from_pandas=True))
        elif pa.types.is_integer(fld.type):
            arrays.append(pa.array(col.to_numpy(dtype=np.int64), type=fld.type))
        elif isinstance(col.dtype, pd.CategoricalDtype):
            arrays.append(pa.array(col).cast(fld.type))
        else:
            arrays.append(pa.array(col.astype("string[pyarrow]"), type=fld.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=ORDERS_SCHEMA)


def _write_rejects(ws: Workspace, per_file: list[tuple[Path, pd.DataFrame]]) -> None:
    """rejects.csv keeps earlier files' rejects and replaces those of files loaded now.

    People open it in Excel/WPS: text cells (file, column, reason quote the export) that
    start with a formula character get a leading ' — so earlier rows name a loaded file
    either as is or in that form. ``row`` is a number (-1 too) and stays one.
    """
    from privmigrate.csv_safety import neutralize_formulas, neutralize_series

    loaded_names = {p.name for p, _ in per_file}
    loaded_names |= set(neutralize_series(pd.Series(sorted(loaded_names), dtype=object)))
    frames = []
    if ws.rejects_path.exists():
        old = pd.read_csv(ws.rejects_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        base = old["file"].str.replace(r"\[.*\]$", "", regex=True)
        frames.append(old[~base.isin(loaded_names)])
    # a file named twice in one load (or two paths with one name) keeps one set of rejects
    latest = {p.name: r for p, r in per_file}
    frames.extend(r for r in latest.values() if len(r))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REJECT_COLUMNS)
    out = neutralize_formulas(out[REJECT_COLUMNS], ["file", "column", "reason"])
    with atomic_path(ws.rejects_path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8-sig")


def _record(ws: Workspace, built: list[_Built], shas: list[str], stamp: str) -> None:
    with open_ledger(ws.state_db) as conn, transaction(conn):
        for b, sha in zip(built, shas, strict=True):
            path, s = b.path, b.summary
            conn.execute(
                "INSERT OR REPLACE INTO loaded_files VALUES (?,?,?,?,?,?,?,?)",
                (sha, str(path.resolve()), s.source, s.rows, s.loaded, s.rejected, s.unlinked,
                 stamp),
            )
