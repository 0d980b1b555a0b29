"""明细 sheet speed and memory: privmigrate's writer vs xlsxwriter constant_memory, same rows.

    /tmp/venv/bin/python benchmarks/bench_report.py --rows 1000000

Each writer runs in its own child process (so peak RSS is its own) on the same synthetic
customers (same seed), after the same preparation (``detail_table``: masking, labels). The
xlsxwriter baseline writes those rows with per-column formats (¥, dates) in constant_memory
mode; the time it spends turning Arrow chunks into Python rows is reported separately and
left out of its figure, so the ratio is, if anything, unfavourable to privmigrate.
Target (issue 6): privmigrate ≤ 1.5 × xlsxwriter. Prints both times, the ratio and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEGMENTS = ["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户",
            "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户"]
PRODUCTS = ["保温杯 500ml", "茶叶礼盒 2025 新茶", "儿童防晒霜 SPF50", "-买一送一装",
            "收纳箱(3只装)"]


def synthetic_customers(n: int, seed: int = 7) -> pa.Table:
    """Canonical customers.parquet shape, vectorised (no real people or numbers)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    ids = pc.binary_join_element_wise("C", pc.utf8_lpad(pc.cast(pa.array(idx), pa.string()), 16,
                                                        "0"), "")
    phones = pc.cast(pa.array(13800000000 + idx), pa.string())
    names = pc.binary_join_element_wise("测试用户", pc.cast(pa.array(idx), pa.string()), "")
    last = np.datetime64("2026-11-20") - rng.integers(0, 900, n).astype("timedelta64[D]")
    first = last - rng.integers(0, 900, n).astype("timedelta64[D]")
    orders = rng.integers(1, 20, n)
    fen = (rng.gamma(2.0, 15000.0, n) * orders).astype(np.int64)
    total = pc.cast(pa.array(fen / 100.0), pa.decimal128(18, 2), safe=False)
    seg = pa.array(SEGMENTS).take(pa.array(rng.integers(0, 8, n)))
    sources = pa.ListArray.from_arrays(
        pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
        pa.array(np.tile(["taobao", "jd"], n)))
    return pa.table({
        "customer_id": ids, "phone": phones,
        "phone_status": pa.array(["valid", "masked", "virtual", "missing"]).take(
            pa.array(rng.integers(0, 4, n))),
        "name": names, "sources": sources,
        "first_paid_at": pa.array(first.astype("datetime64[us]")),
        "last_paid_at": pa.array(last.astype("datetime64[us]")),
        "orders": pa.array(orders), "total_amount": total,
        "avg_amount": pa.array(fen / 100.0 / orders),
        "recency_days": pa.array(rng.integers(0, 900, n)),
        "tenure_days": pa.array(rng.integers(0, 1800, n)),
        "r_score": pa.array(rng.integers(1, 6, n)), "f_score": pa.array(rng.integers(1, 6, n)),
        "m_score": pa.array(rng.integers(1, 6, n)), "rfm_segment": seg, "segment": seg,
        "priority": pa.array(rng.random(n)), "reachable_by_sms": pa.array(rng.random(n) > 0.3),
        "in_private_domain": pa.array(rng.random(n) > 0.8),
        "last_product": pa.array(PRODUCTS).take(pa.array(rng.integers(0, len(PRODUCTS), n))),
        "province": pa.array(["浙江省", "广东省", "四川省"]).take(pa.array(rng.integers(0, 3, n))),
        "city": pa.array(["杭州市", "广州市", "成都市"]).take(pa.array(rng.integers(0, 3, n))),
    })


def prepared(n: int) -> tuple[pa.Table, list[str], list[str], float]:
    from privmigrate.report.detail import detail_table
    from privmigrate.report.labels import labels

    customers = synthetic_customers(n)
    start = time.perf_counter()
    table, kinds, headers = detail_table(customers, None, labels("zh"))
    return table, kinds, headers, time.perf_counter() - start


def run_privmigrate(table: pa.Table, kinds: list[str], headers: list[str], out: Path) -> dict:
    from openpyxl import Workbook

    from privmigrate.report import detail

    start = time.perf_counter()
    wb = Workbook(write_only=True)
    parts = detail.add_detail_sheets(wb, table, kinds, headers, "明细")
    base = out.with_suffix(".base.xlsx")
    wb.save(base)
    detail.splice_rows(base, out, parts, kinds)
    base.unlink()
    return {"seconds": time.perf_counter() - start}


def run_xlsxwriter(table: pa.Table, kinds: list[str], headers: list[str], out: Path) -> dict:
    import xlsxwriter

    start = time.perf_counter()
    converting = 0.0
    wb = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    ws = wb.add_worksheet("明细")
    formats = {"money": wb.add_format({"num_format": '"¥"#,##0.00'}),
               "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
               "int": wb.add_format({"num_format": "#,##0"}),
               "float": wb.add_format({"num_format": "0.00"})}
    fmts = [formats.get(k) for k in kinds]
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, min(table.num_rows, 1_048_575), len(headers) - 1)
    ws.write_row(0, 0, headers)
    r = 1
    for batch in table.to_batches(50_000):
        t0 = time.perf_counter()
        columns = [col.to_pylist() for col in batch.columns]
        rows = list(zip(*columns, strict=True))
        converting += time.perf_counter() - t0
        for row in rows:
            for c, value in enumerate(row):
                if value is not None:
                    ws.write(r, c, value, fmts[c])
            r += 1
    wb.close()
    return {"seconds": time.perf_counter() - start - converting, "converting": converting}


def child(which: str, rows: int, out_dir: Path) -> None:
    table, kinds, headers, prep = prepared(rows)
    out = out_dir / f"{which}.xlsx"
    runner = run_privmigrate if which == "privmigrate" else run_xlsxwriter
    result = runner(table, kinds, headers, out)
    result.update(prep_seconds=prep, bytes=out.stat().st_size,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["privmigrate", "xlsxwriter"], help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path)
    parser.add_argument("--only", choices=["privmigrate", "xlsxwriter"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.out_dir)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out_dir or Path(tmp)
        results = {}
        for which in ("privmigrate", "xlsxwriter"):
            if args.only and which != args.only:
                continue
            proc = subprocess.run([sys.executable, __file__, "--child", which, "--rows",
                                   str(args.rows), "--out-dir", str(out_dir)],
                                  check=True, stdout=subprocess.PIPE, text=True)
            results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = results[which]
            extra = f", +{r['converting']:.1f} s Arrow→Python not counted" if "converting" in r \
                else ""
            print(f"{which:12s} {args.rows:>9,} rows  {r['seconds']:7.1f} s{extra}  "
                  f"peak RSS {r['peak_rss_mb']:6.0f} MB  file {r['bytes'] / 1e6:6.1f} MB  "
                  f"(prep {r['prep_seconds']:.1f} s)", flush=True)
        if len(results) == 2:
            ratio = results["privmigrate"]["seconds"] / results["xlsxwriter"]["seconds"]
            print(f"ratio privmigrate / xlsxwriter = {ratio:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
