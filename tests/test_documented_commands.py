"""Every ``python -m utils.X --flag`` written in the notebooks, lessons and README exists.

A learner copies these lines into a terminal; a renamed option (``--faces`` became
``--images``) must not leave them an error message instead of a result.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND = re.compile(r"python -m (utils|data_scripts|benchmarks)\.(\w+)([^`\n]*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")
DOCS = sorted([ROOT / "README.md", *ROOT.glob("lessons/*.md"), *ROOT.glob("notebooks/**/*.ipynb")])


def documented_commands() -> list[tuple[str, str, str]]:
    """(file, module, flag) for each flag of each documented command."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8").replace('\\"', '"')
        for package, module, rest in COMMAND.findall(text):
            for flag in FLAG.findall(rest.split("|")[0]):
                found.append((doc.relative_to(ROOT).as_posix(), f"{package}/{module}.py", flag))
    return found


def module_flags(path: Path) -> set[str]:
    """The options a command module (or the parsers it builds on) declares."""
    text = path.read_text(encoding="utf-8")
    # A thin command (data_scripts/...) runs the main() of the utils module it imports.
    wrapped = re.findall(r"^from utils\.(\w+) import .*\bmain\b", text, flags=re.MULTILINE)
    sources = [text, (ROOT / "utils/command_line.py").read_text(encoding="utf-8")]
    sources += [(ROOT / "utils" / f"{name}.py").read_text(encoding="utf-8") for name in wrapped]
    return set(re.findall(r"[\"'](--[a-z][\w-]*)[\"']", "\n".join(sources))) | {"--help"}


def test_the_docs_mention_commands() -> None:
    assert len(documented_commands()) > 10


@pytest.mark.parametrize(("doc", "module", "flag"), documented_commands())
def test_documented_flag_exists(doc: str, module: str, flag: str) -> None:
    path = ROOT / module
    assert path.exists(), f"{doc}: `python -m {module[:-3].replace('/', '.')}` does not exist"
    assert flag in module_flags(path), f"{doc}: {module} has no option {flag}"
