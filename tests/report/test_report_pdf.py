"""The workbook converts to PDF with LibreOffice and every sheet has content (issue 6).

Needs libreoffice-calc, poppler-utils and fonts-noto-cjk (.ci/run installs them); without
them this test fails rather than skips.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_workbook_converts_to_pdf_with_every_sheet(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_report_pdf.py"), "--png", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert list(tmp_path.rglob("*.png"))
