"""The shape of ``utils``: the import-linter contracts hold, and modules stay small.

The layers are declared in ``pyproject.toml`` (``[tool.importlinter]``) and drawn in
``CONTRIBUTING.md``; ``make test`` also runs ``lint-imports`` before the suite.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Modules allowed past ~500 lines because each is one cohesive thing (CONTRIBUTING.md says why).
LARGE_BUT_COHESIVE = {
    "tflearn_compat.py",  # one compatibility shim: the whole tflearn-style API on Keras 3
    "synthetic.py",  # one renderer: the FACS-driven face drawing behind the sample data
    "plotting.py",  # the course's figures, each a function returning a Figure
    "models.py",  # the catalogue of model builders, one function per architecture
    "embeddings.py",  # the embedding network, its batches and its evaluation
    "au_formats.py",  # the readers of the real action-unit data sets' own formats
    "train_fer.py",  # the FER command: quick runs and the shipped recipe
}


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_every_utils_module_is_in_a_layer() -> None:
    """A new module must be placed in a layer (the contract is exhaustive; this names it)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = text[text.index("[tool.importlinter]") :]
    for path in sorted((ROOT / "utils").iterdir()):
        name = path.stem if path.suffix == ".py" else path.name
        if name.startswith("_") or not (path.suffix == ".py" or (path / "__init__.py").exists()):
            continue
        assert f" {name} " in declared or f'"{name} ' in declared or f' {name}"' in declared, (
            f"utils/{path.name} is in no layer of pyproject.toml's [tool.importlinter]"
        )


def test_the_library_never_imports_tests() -> None:
    for path in (ROOT / "utils").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] in ("tests", "conftest") for n in names), path


def test_modules_stay_small_unless_cohesive() -> None:
    large = {
        path.name: n
        for path in (ROOT / "utils").glob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 520
    }
    assert set(large) <= LARGE_BUT_COHESIVE, {k: v for k, v in large.items()}
