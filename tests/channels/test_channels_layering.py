"""channels/ talks to the network and owns the outcome vocabulary: it imports nothing from
the stages above it (audience/, invite/, track/, report/), and no second OutcomeUnknown
class exists anywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import privmigrate

PACKAGE = Path(privmigrate.__file__).parent
ABOVE = ("privmigrate.audience", "privmigrate.invite", "privmigrate.track",
         "privmigrate.report", "privmigrate.pipeline", "privmigrate.cli")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_channels_import_nothing_from_the_stages_above() -> None:
    offending = {
        f"{path.name}: {name}"
        for path in (PACKAGE / "channels").glob("*.py")
        for name in _imports(path) if name.startswith(ABOVE)
    }
    assert offending == set()


def test_one_outcome_unknown_class() -> None:
    defined = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "OutcomeUnknown"
    ]
    assert defined == ["channels/outcomes.py"]
