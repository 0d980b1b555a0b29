"""Audience package build speed and memory: privmigrate vs a plain Python loop.

Each variant runs in its own process (so peak RSS is its own) on the same synthetic phones
(13000000000 + a seeded random sample; never real numbers). Input generation is not timed.

    python benchmarks/bench_audience.py            # 5,000,000 customers
    python benchmarks/bench_audience.py 1000000

Variants:
  loop-hash-md5 / loop-hash-sha256   the baseline: hashlib per phone, hexdigest, in a loop
  loop-package-md5                   the baseline package: that loop, lines joined, one zip
                                     (zipfile default deflate level), text held in memory
  ours-hash-md5 / ours-hash-sha256   privmigrate.audience.ids.prepare_ids (normalise, dedupe,
                                     vectorised hash)
  ours-tencent-md5                   prepare_ids + write_package("tencent") (streamed zip)
  ours-oceanengine-sha256            prepare_ids + write_package("oceanengine") (DmpData lines)
"""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

VARIANTS = ["loop-hash-md5", "ours-hash-md5", "loop-hash-sha256", "ours-hash-sha256",
            "loop-package-md5", "ours-tencent-md5", "ours-oceanengine-sha256"]


def numbers(n: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(20261125)
    return 13_000_000_000 + rng.choice(6_999_999_999, size=n, replace=False)


def run_variant(name: str, n: int) -> dict[str, float]:
    import pandas as pd
    import pyarrow as pa

    if name.startswith("ours"):  # as read from customers.parquet: Arrow strings
        series = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(numbers(n)).cast(pa.string())))
        values: list[str] = []
    else:  # the loop gets a plain list of str
        values = numbers(n).astype("U11").tolist()
    from privmigrate.audience.ids import prepare_ids
    from privmigrate.audience.packages import write_package

    out = Path(tempfile.mkdtemp(prefix="bench-audience-"))
    when = datetime(2026, 11, 25, 3, 0)
    start = time.perf_counter()
    if name.startswith("loop-hash"):
        algorithm = name.rsplit("-", 1)[1]
        new = getattr(hashlib, algorithm)
        hexes = [new(p.encode()).hexdigest() for p in values]
        assert len(hexes) == n
    elif name == "loop-package-md5":
        hexes = [hashlib.md5(p.encode()).hexdigest() for p in values]
        with zipfile.ZipFile(out / "baseline.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("baseline.txt", "\n".join(hexes) + "\n")
    else:
        algorithm = name.rsplit("-", 1)[1]
        ids = prepare_ids(series, algorithm)
        assert ids.count == n
        if name != f"ours-hash-{algorithm}":
            platform = name.split("-")[1]
            write_package(platform, ids.digests, algorithm, out, "bench", when)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in out.iterdir())
    for p in out.iterdir():
        p.unlink()
    out.rmdir()
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "output_mb":
        round(size / 1e6, 1)}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--variant":
        print(json.dumps(run_variant(sys.argv[2], int(sys.argv[3]))))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
    results: dict[str, dict[str, float]] = {}
    for name in VARIANTS:
        done = subprocess.run([sys.executable, __file__, "--variant", name, str(n)],
                              capture_output=True, text=True, check=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"{name:26s} {r['seconds']:7.2f} s   peak RSS {r['peak_rss_mb']:6.0f} MB"
              f"   output {r['output_mb']:7.1f} MB", flush=True)
    print(f"\n{n:,} customers, speed-up over the plain loop (same run):")
    for ours, base in (("ours-hash-md5", "loop-hash-md5"),
                       ("ours-hash-sha256", "loop-hash-sha256"),
                       ("ours-tencent-md5", "loop-hash-md5"),
                       ("ours-tencent-md5", "loop-package-md5"),
                       ("ours-oceanengine-sha256", "loop-hash-sha256")):
        ratio = results[base]["seconds"] / results[ours]["seconds"]
        print(f"  {ours:26s} vs {base:18s} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
