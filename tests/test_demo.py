"""The README's main command: `privmigrate demo` runs a whole night and ends with the workbook."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")


def test_demo_runs_a_whole_night_and_prints_the_workbook(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "privmigrate", "demo", "--workspace", str(root)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    workbook = Path(result.stdout.strip().splitlines()[-1])
    assert workbook.suffix == ".xlsx" and workbook.exists()
    assert stat.S_IMODE(workbook.stat().st_mode) == 0o600
    sheets = load_workbook(workbook, read_only=True).sheetnames
    assert {"概览", "分层", "邀约", "人群包", "数据质量", "明细"} <= set(sheets)
    # every stage left its output
    assert (root / "data" / "orders.parquet").exists()
    assert (root / "data" / "customers.parquet").exists()
    assert list((root / "batches").glob("*/sms.csv"))
    # staff adds by phone: each account's sheet, and the 客服绩效 scorecard in the workbook
    adds = load_workbook(next((root / "batches").glob("*/wecom_add.xlsx")), read_only=True)
    assert adds.sheetnames == ["阿美", "阿林"]  # the demo brand's staff, not init's examples
    assert "客服绩效" in sheets
    for platform in ("tencent", "oceanengine", "qianchuan", "alimama"):
        assert list((root / "audiences" / platform).rglob("manifest.json")), platform
    assert "new conversions" in result.stderr
    # personal data: no phone number on the terminal
    assert not PHONE.search(result.stdout + result.stderr)
