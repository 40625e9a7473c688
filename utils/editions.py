"""The course's notebook files: which there are, and their student and instructor editions.

``python -m utils.editions --out build/editions`` (also ``python -m data_scripts.make_editions``;
the course runner, ``python -m utils.course``, does it too) writes::

    build/editions/
      student/     notebooks/NN_*.ipynb             the main notebooks, unchanged
                   notebooks/exercises/NN_*.ipynb   solutions replaced by a stub
                   lessons/                         the lessons and the course map
      instructor/  the same, with the full solutions

Solutions in the exercise notebooks are marked the way nbgrader marks them, so a teacher can
also run nbgrader on the notebooks unchanged::

    def my_flip(image, keypoints):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

In the student edition a marked block inside a function becomes ``# YOUR CODE HERE`` and
``raise NotImplementedError()`` (nbgrader's own stub; the question's ``check()`` reports it
as "not answered yet"); a marked block at the top level of a cell becomes ``# YOUR CODE HERE``
and ``name = ____`` for each name it assigns, so the student notebook runs to the end.
Outputs are stripped, the output is the same bytes run to run, and the folder is replaced in
one rename at the end (an interrupted run leaves the previous editions as they were).

``python -m utils.editions --setup-cells`` rewrites the first cell of every notebook from
:data:`utils.setup.SETUP_CELL` (after the repository moved, say).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from utils.config import project_root
from utils.io import atomic_write_text
from utils.setup import SETUP_CELL

if TYPE_CHECKING:  # nbformat takes a second to import: only the functions that need it do
    import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "# YOUR CODE HERE"
EDITIONS = ("student", "instructor")


class EditionError(ValueError):
    """A notebook's solution markers are malformed (the message names notebook and cell)."""


def _stub_for_top_level(block: list[str], where: str) -> list[str]:
    """``name = ____`` for every name a top-level solution block defines."""
    try:
        tree = ast.parse(textwrap.dedent("\n".join(block)))
    except SyntaxError as exc:
        raise EditionError(f"{where}: the solution block is not valid Python ({exc.msg})") from exc
    stub = [STUB]
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        elif isinstance(node, ast.FunctionDef):
            stub += [f"def {node.name}(*args, **kwargs):", "    raise NotImplementedError()"]
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            stub += [f"{n.id} = ____" for n in names if isinstance(n, ast.Name)]
    if len(stub) == 1:
        raise EditionError(
            f"{where}: a top-level solution block must assign a name (e.g. `answer = ...`) "
            "so the student edition can put `answer = ____` in its place"
        )
    return list(dict.fromkeys(stub))  # a name assigned twice gets one placeholder


def strip_solutions(source: str, where: str = "cell") -> str:
    """``source`` with every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block replaced
    by a stub (see the module docstring). ``where`` names the cell in error messages."""
    lines = source.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == END:
            raise EditionError(f"{where}, line {i + 1}: {END!r} without {BEGIN!r}")
        if line.strip() != BEGIN:
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        end = next((k for k in range(i + 1, len(lines)) if lines[k].strip() in (BEGIN, END)), None)
        if end is None or lines[end].strip() != END:
            raise EditionError(f"{where}, line {i + 1}: {BEGIN!r} has no matching {END!r}")
        block = lines[i + 1 : end]
        if indent:  # inside a function: nbgrader's own stub
            out += [indent + STUB, indent + "raise NotImplementedError()"]
        else:
            out += _stub_for_top_level(block, f"{where}, line {i + 1}")
        i = end + 1
    return "\n".join(out)


def _clear_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def student_version(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` without outputs and with every marked solution replaced by a stub."""
    student = _clear_outputs(copy.deepcopy(nb))
    for number, cell in enumerate(student.cells, start=1):
        if cell.cell_type == "code" and (BEGIN in cell.source or END in cell.source):
            cell.source = strip_solutions(cell.source, f"{name}, cell {number}")
    return student


def instructor_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without outputs, solutions kept."""
    return _clear_outputs(copy.deepcopy(nb))


def notebook_paths(folder: Path | None = None) -> list[Path]:
    """The course notebooks in order (``notebooks/NN_*.ipynb``)."""
    folder = folder or project_root() / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.is_file())


def exercise_paths(root: Path | None = None) -> list[Path]:
    """The companion exercise notebooks, ``notebooks/exercises/NN_*.ipynb``, in order."""
    root = root or project_root()
    return sorted((root / "notebooks" / "exercises").glob("[0-9][0-9]_*.ipynb"))


def write_setup_cells(root: Path | None = None) -> list[Path]:
    """Make the first code cell of every notebook :data:`utils.setup.SETUP_CELL`; return the
    notebooks that changed. Only that cell is touched, each file is rewritten at once."""
    import nbformat

    root = root or project_root()
    changed = []
    for path in [*notebook_paths(root / "notebooks"), *exercise_paths(root)]:
        nb = nbformat.read(path, as_version=4)
        first = next((c for c in nb.cells if c.cell_type == "code"), None)
        if first is None:
            raise ValueError(f"{path}: no code cell; the first code cell must be the setup cell")
        if first.source != SETUP_CELL:
            first.source = SETUP_CELL
            atomic_write_text(path, nbformat.writes(nb) + "\n")
            changed.append(path)
    return changed


def _write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def _copy_tree_files(src: Path, dest: Path, patterns: Sequence[str]) -> None:
    for pattern in patterns:
        for file in sorted(src.glob(pattern)):
            if file.is_file():
                target = dest / file.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)


def make_editions(out: str | os.PathLike[str], *, root: Path | None = None) -> dict[str, Path]:
    """Write ``out/student`` and ``out/instructor``; return ``{edition: folder}``.

    The main notebooks are copied byte for byte into both; the exercise notebooks are
    transformed (outputs stripped; solutions stubbed in the student edition). Raises
    :class:`EditionError` naming the notebook and cell when solution markers are malformed.
    """
    import nbformat

    root = Path(root) if root is not None else project_root()
    out = Path(out)
    mains = notebook_paths(root / "notebooks")
    exercises = exercise_paths(root)
    if not mains and not exercises:
        raise FileNotFoundError(f"{root / 'notebooks'}: no course notebooks to make editions of")
    # Transform everything first, so a malformed notebook stops us before anything is written.
    versions: dict[str, dict[str, nbformat.NotebookNode]] = {e: {} for e in EDITIONS}
    for path in exercises:
        nb = nbformat.read(path, as_version=4)
        versions["student"][path.name] = student_version(nb, f"notebooks/exercises/{path.name}")
        versions["instructor"][path.name] = instructor_version(nb)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for edition in EDITIONS:
            folder = tmp / edition
            for path in mains:
                target = folder / "notebooks" / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            for name, nb in versions[edition].items():
                _write_notebook(nb, folder / "notebooks" / "exercises" / name)
            _copy_tree_files(root / "lessons", folder / "lessons", ["*.md", "figures/*"])
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old.{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {edition: out / edition for edition in EDITIONS}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.editions", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--out", type=Path, default=Path("build") / "editions", help="output folder"
    )
    parser.add_argument(
        "--setup-cells",
        action="store_true",
        help="instead: rewrite every notebook's first cell from utils.setup.SETUP_CELL",
    )
    args = parser.parse_args(argv)
    if args.setup_cells:
        changed = write_setup_cells()
        print(f"{len(changed)} notebook(s) updated" + "".join(f"\n  {p}" for p in changed))
        return 0
    try:
        folders = make_editions(args.out)
    except EditionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for edition, folder in folders.items():
        count = len(list((folder / "notebooks").rglob("*.ipynb")))
        print(f"{edition:10s} {count} notebooks -> {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
