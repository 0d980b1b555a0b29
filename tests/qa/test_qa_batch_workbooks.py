"""QA fix: the night's sms.xlsx / calls.xlsx are readable for marketers (widths, frozen header)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd

from privmigrate.invite.batches import write_xlsx


def test_batch_workbook_has_fitted_widths_and_a_frozen_header(tmp_path: Path) -> None:
    message = "【示例旗舰店】测试用户001您好，老客专享40元无门槛券已到账 拒收请回复R"
    frame = pd.DataFrame({"phone": ["13800000001"], "segment": ["重要价值客户"],
                          "message": [message], "parts": [2]})
    target = tmp_path / "sms.xlsx"
    write_xlsx(target, {"sms": frame}, datetime(2026, 11, 25))
    sheet = openpyxl.load_workbook(target)["sms"]
    widths = {k: v.width for k, v in sheet.column_dimensions.items()}
    assert sheet.freeze_panes == "A2"
    assert widths["A"] == 13  # 11 digits + 2
    assert widths["B"] == 14  # 6 CJK characters count double
    assert widths["C"] == 60  # long text is capped
    assert sheet["A2"].value == "13800000001" and sheet["C2"].value == message
    first = target.read_bytes()
    write_xlsx(target, {"sms": frame}, datetime(2026, 11, 25))
    assert target.read_bytes() == first  # still reproducible
