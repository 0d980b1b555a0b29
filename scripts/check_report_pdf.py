"""Done-check for `privmigrate report`: the workbook converts to PDF and every sheet has content.

    /tmp/venv/bin/python scripts/check_report_pdf.py [--png DIR] [--customers N]

Builds the synthetic workspace of tests/report/fixtures.py, writes the workbook in Chinese and
in English, converts each with ``libreoffice --headless --convert-to pdf`` and checks, with
``pdftotext``, that the text of every sheet is in the PDF. Needs the Debian packages
libreoffice-calc, poppler-utils and fonts-noto-cjk; exits 2 (never silently passes) when they
are missing. ``--png DIR`` also renders the pages (pdftoppm) for a person to look at.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from privmigrate.report import write_report  # noqa: E402
from tests.report.fixtures import build_workspace  # noqa: E402

# Text each sheet must show in the PDF, per language (sheet order).
MARKERS = {
    "zh": ["核心指标", "R×F", "已发送", "匹配率", "已导入文件", "客户ID"],
    "en": ["Headline figures", "R×F", "Sent", "Match rate", "Files loaded", "Customer ID"],
}


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    sys.exit(f"error: {' or '.join(names)} not found; install libreoffice-calc, poppler-utils "
             "and fonts-noto-cjk (apt-get install -y --no-install-recommends ...)")


def convert(xlsx: Path, out_dir: Path, profile: Path) -> Path:
    office = _tool("libreoffice", "soffice")
    subprocess.run([office, "--headless", "--norestore",
                    f"-env:UserInstallation={profile.as_uri()}", "--convert-to", "pdf",
                    "--outdir", str(out_dir), str(xlsx)],
                   check=True, capture_output=True, timeout=300)
    pdf = out_dir / (xlsx.stem + ".pdf")
    if not pdf.exists():
        sys.exit(f"error: libreoffice wrote no PDF for {xlsx}")
    return pdf


def check(pdf: Path, lang: str, sheets: int) -> list[str]:
    text = subprocess.run([_tool("pdftotext"), "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    info = subprocess.run([_tool("pdfinfo"), str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages")))
    problems = [f"{lang}: missing sheet text {m!r}" for m in MARKERS[lang] if m not in text]
    if pages < sheets:
        problems.append(f"{lang}: {pages} pages for {sheets} sheets")
    print(f"{lang}: {pdf.name} {pages} pages, {len(MARKERS[lang])} sheets' text found"
          if not problems else f"{lang}: FAILED")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", type=Path, help="also render the pages as PNG into this folder")
    parser.add_argument("--customers", type=int, default=60)
    args = parser.parse_args()
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = build_workspace(root / "ws", customers=args.customers)
        for lang in ("zh", "en"):
            summary = write_report(ws, output=root / f"report-{lang}.xlsx", lang=lang,
                                   as_of=date(2026, 11, 20))
            pdf = convert(Path(summary["path"]), root, root / "lo-profile")
            problems += check(pdf, lang, len(summary["sheets"]))
            if args.png:
                args.png.mkdir(parents=True, exist_ok=True)
                subprocess.run([_tool("pdftoppm"), "-r", "80", "-png", str(pdf),
                                str(args.png / f"report-{lang}")], check=True)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
