"""Fixtures every test area may use: a workspace in tmp_path, a CLI runner, example exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from privmigrate.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """An empty workspace folder of its own."""
    root = tmp_path / "workspace"
    root.mkdir()
    return Workspace.at(root)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def example_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small synthetic export per platform (buyers=60), generated once per session.

    Keys: taobao_csv, taobao_xlsx, jd, youzan, youzan_customers, douyin, pdd, wechat_shop,
    erp_wdt, erp_jst, crm.
    """
    from privmigrate.examples import write_example_exports

    folder = tmp_path_factory.mktemp("exports")
    paths = write_example_exports(folder, buyers=60)
    keys = ("taobao_csv", "taobao_xlsx", "jd", "youzan", "youzan_customers", "douyin", "pdd",
            "wechat_shop", "erp_wdt", "erp_jst", "crm")
    assert len(paths) == len(keys)
    return dict(zip(keys, paths, strict=True))
