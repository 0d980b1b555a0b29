"""Audience package build speed and memory: privmigrate vs a plain Python loop.

Each variant runs in its own process (so peak RSS is its own) on the same synthetic phones
(13000000000 + a seeded random sample; never real numbers). Making the input is not timed.

    python benchmarks/bench_audience.py            # 5,000,000 customers
    python benchmarks/bench_audience.py 1000000

Baselines ("loop"): hashlib per phone with hexdigest in a Python loop; for a package, the
lines are then built per id the obvious way (for Ocean Engine a protobuf ``IdItem`` per id,
``SerializeToString`` and base64 per 10,000), joined in memory and written with zipfile's
default deflate. Ours: ``prepare_ids`` (normalise, de-duplicate, vectorised hash) and, for a
package, ``write_package`` (streamed zip). Compare ratios, not seconds: the machine is shared.
"""

from __future__ import annotations

import base64
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

PAIRS = [  # (ours, baseline)
    ("ours-hash-md5", "loop-hash-md5"),
    ("ours-hash-sha256", "loop-hash-sha256"),
    ("ours-package-tencent-md5", "loop-package-tencent-md5"),
    ("ours-package-tencent-sha256", "loop-package-tencent-sha256"),
    ("ours-package-oceanengine-sha256", "loop-package-oceanengine-sha256"),
]


def numbers(n: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(20261125)
    return 13_000_000_000 + rng.choice(6_999_999_999, size=n, replace=False)


def loop_package(platform: str, algorithm: str, values: list[str], out: Path) -> None:
    new = getattr(hashlib, algorithm)
    hexes = [new(p.encode()).hexdigest() for p in values]
    if platform == "oceanengine":
        from privmigrate.audience import dmp_pb2

        lines = []
        for start in range(0, len(hexes), 10_000):
            message = dmp_pb2.DmpData()
            for h in hexes[start : start + 10_000]:
                message.idList.add(dataType=6, id=h)
            lines.append(base64.b64encode(message.SerializeToString()).decode())
        text = "\n".join(lines) + "\n"
    else:
        text = "\n".join(hexes) + "\n"
    with zipfile.ZipFile(out / "baseline.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("baseline.txt", text)


def run_variant(name: str, n: int) -> dict[str, float]:
    import pandas as pd
    import pyarrow as pa

    from privmigrate.audience.ids import prepare_ids
    from privmigrate.audience.packages import write_package

    if name.startswith("ours"):  # as read from customers.parquet: Arrow strings
        series = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(numbers(n)).cast(pa.string())))
        values: list[str] = []
    else:  # the loop gets a plain list of str
        values = numbers(n).astype("U11").tolist()
    parts = name.split("-")
    algorithm = parts[-1]
    out = Path(tempfile.mkdtemp(prefix="bench-audience-"))
    start = time.perf_counter()
    if name.startswith("loop-hash"):
        new = getattr(hashlib, algorithm)
        assert len([new(p.encode()).hexdigest() for p in values]) == n
    elif name.startswith("loop-package"):
        loop_package(parts[2], algorithm, values, out)
    else:
        ids = prepare_ids(series, algorithm)
        assert ids.count == n
        if name.startswith("ours-package"):
            write_package(parts[2], ids.digests, algorithm, out, "bench",
                          datetime(2026, 11, 25, 3, 0))
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in out.iterdir())
    for p in out.iterdir():
        p.unlink()
    out.rmdir()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak), "output_mb":
            round(size / 1e6, 1)}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--variant":
        print(json.dumps(run_variant(sys.argv[2], int(sys.argv[3]))))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
    results: dict[str, dict[str, float]] = {}
    print(f"{n:,} customers")
    for pair in PAIRS:
        for name in pair:
            done = subprocess.run([sys.executable, __file__, "--variant", name, str(n)],
                                  capture_output=True, text=True, check=True)
            results[name] = r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  {name:34s} {r['seconds']:7.2f} s   peak RSS {r['peak_rss_mb']:6.0f} MB"
                  f"   output {r['output_mb']:7.1f} MB", flush=True)
    print("\nspeed-up over the plain loop (same run):")
    for ours, base in PAIRS:
        ratio = results[base]["seconds"] / max(results[ours]["seconds"], 1e-9)
        print(f"  {ours:34s} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
