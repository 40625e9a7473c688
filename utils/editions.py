"""The course's notebook files: which there are, and their student and instructor editions.

``python -m utils.editions --out build/editions`` (also ``python -m data_scripts.make_editions``;
the course runner, ``python -m utils.course``, does it too) writes::

    build/editions/
      student/     notebooks/NN_*.ipynb             the main notebooks, unchanged
                   notebooks/exercises/NN_*.ipynb   solutions replaced by a stub
                   lessons/                         the lessons and the course map
      instructor/  the same, with the full solutions

Solutions in the exercise notebooks are marked the way nbgrader marks them, and every
``qN.check(...)`` sits in a cell of its own that nbgrader grades (an autograded test cell)::

    def my_flip(image, keypoints):       # nbgrader: solution, grade_id "q1_answer"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    q1.check(my_flip)                     # nbgrader: grade, locked, grade_id "q1_check", points

The points are the check cell's (``metadata.nbgrader.points``); the lesson pages list them.
``make_editions`` checks that every check cell is graded and every cell has an id (nbformat
4.5), and raises :class:`EditionError` naming the notebook and cell otherwise.

In the student edition a marked block inside a function becomes ``# YOUR CODE HERE`` and
``raise NotImplementedError()`` (nbgrader's own stub; the question's ``check()`` reports it
as "not answered yet"); a marked block at the top level of a cell becomes ``# YOUR CODE HERE``
and ``name = ____`` for each name it assigns, so the student notebook runs to the end.
Outputs are stripped, the output is the same bytes run to run, and the folder is replaced in
one rename at the end (an interrupted run leaves the previous editions as they were).

``python -m utils.editions --nbgrader-course COURSE`` lays out an nbgrader course folder for a
teacher: ``COURSE/source/ex00_setup/00_setup_exercises.ipynb`` ... (the instructor edition,
one assignment per exercise notebook) and ``COURSE/nbgrader_config.py`` (written once, then
left to the teacher). ``lessons/README.md`` walks through the nbgrader steps from there.

``python -m utils.editions --setup-cells`` rewrites the first cell of every notebook from
:data:`utils.setup.SETUP_CELL` (after the repository moved, say).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
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
#: A line that checks question N: ``q1.check(my_flip)``.
CHECK_CALL = re.compile(r"^(q\d+)\.check\(", re.M)
#: The nbgrader cell-metadata schema the notebooks use (nbgrader 0.6 - 0.9).
NBGRADER_SCHEMA = 3
NBGRADER_CONFIG = "nbgrader_config.py"


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


def check_cell_metadata(question: str, points: int) -> dict[str, object]:
    """nbgrader's metadata for the autograded test cell that runs ``question``'s check."""
    return {
        "grade": True,
        "grade_id": f"{question}_check",
        "locked": True,
        "points": points,
        "schema_version": NBGRADER_SCHEMA,
        "solution": False,
        "task": False,
    }


def grading(nb: nbformat.NotebookNode, name: str = "notebook") -> dict[str, int]:
    """``{question: points}`` of ``nb``'s autograded check cells, in notebook order.

    Raises :class:`EditionError` (naming ``name`` and the cell) unless every ``qN.check(...)``
    is alone in a locked nbgrader test cell with points and the grade id ``qN_check``, every
    solution is in a cell marked as an nbgrader solution, and no grade id repeats.
    """
    points: dict[str, int] = {}
    grade_ids: set[str] = set()
    for number, cell in enumerate(nb.cells, start=1):
        where = f"{name}, cell {number}"
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is not None:
            if meta.get("schema_version") != NBGRADER_SCHEMA:
                raise EditionError(
                    f"{where}: nbgrader schema_version {meta.get('schema_version')!r}; "
                    f"expected {NBGRADER_SCHEMA}"
                )
            grade_id = meta.get("grade_id", "")
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                if not grade_id:
                    raise EditionError(f"{where}: an nbgrader cell without a grade_id")
                if grade_id in grade_ids:
                    raise EditionError(f"{where}: nbgrader grade_id {grade_id!r} is used twice")
                grade_ids.add(grade_id)
        if cell.cell_type != "code":
            continue
        has_solution = BEGIN in cell.source
        if has_solution and not (meta or {}).get("solution"):
            raise EditionError(
                f"{where}: a {BEGIN!r} block in a cell without nbgrader's solution metadata "
                '("solution": true, "grade_id": "qN_answer")'
            )
        questions = list(dict.fromkeys(CHECK_CALL.findall(cell.source)))
        if not questions:
            continue
        if has_solution:
            raise EditionError(
                f"{where}: {questions[0]}.check(...) shares a cell with a solution; put it in "
                "a cell of its own below, so nbgrader can grade it as a test cell"
            )
        if len(questions) > 1:
            raise EditionError(f"{where}: one question per check cell, found {questions}")
        question = questions[0]
        want = check_cell_metadata(question, 1)
        got = meta or {}
        wrong = [k for k in ("grade", "grade_id", "locked", "solution") if got.get(k) != want[k]]
        pts = got.get("points")
        if wrong or isinstance(pts, bool) or not isinstance(pts, int) or pts <= 0:
            raise EditionError(
                f"{where}: the {question}.check(...) cell must be an nbgrader autograded test "
                f"cell: metadata.nbgrader = {want | {'points': '<whole number > 0>'}} (got {got})"
            )
        if question in points:
            raise EditionError(f"{where}: {question} is checked in two cells")
        points[question] = pts
    return points


def _with_cell_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """nbformat 4.5: every cell has a unique id. Missing or repeated ids get a stable one made
    from the cell's position, so the editions are the same bytes run to run."""
    nb.nbformat, nb.nbformat_minor = 4, max(int(nb.get("nbformat_minor", 0)), 5)
    seen: set[str] = set()
    for number, cell in enumerate(nb.cells, start=1):
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:
            cell_id = base = f"cell-{number:02d}"
            suffix = 1
            while cell_id in seen:
                suffix += 1
                cell_id = f"{base}-{suffix}"
            cell["id"] = cell_id
        seen.add(cell_id)
    return nb


def _clear_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def student_version(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` without outputs and with every marked solution replaced by a stub."""
    student = _with_cell_ids(_clear_outputs(copy.deepcopy(nb)))
    for number, cell in enumerate(student.cells, start=1):
        if cell.cell_type == "code" and (BEGIN in cell.source or END in cell.source):
            cell.source = strip_solutions(cell.source, f"{name}, cell {number}")
    return student


def instructor_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without outputs, solutions kept (nbgrader's ``source`` notebook)."""
    return _with_cell_ids(_clear_outputs(copy.deepcopy(nb)))


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
    transformed (outputs stripped; solutions stubbed in the student edition; every cell with
    an id). Raises :class:`EditionError` naming the notebook and cell when solution markers
    are malformed or a check cell is not an nbgrader test cell (:func:`grading`).
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
        name = f"notebooks/exercises/{path.name}"
        nb = nbformat.read(path, as_version=4)
        grading(nb, name)
        versions["student"][path.name] = student_version(nb, name)
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


#: Written once into a new nbgrader course folder; the teacher's edits are kept afterwards.
NBGRADER_CONFIG_TEXT = '''"""nbgrader's settings for the Face DL course's exercises.

Written by `python -m utils.editions --nbgrader-course`, and never overwritten: edit freely.
Run every nbgrader command from this folder, in the course's environment (so the kernel
imports the course package and finds the sample data): lessons/README.md lists the steps.
"""

import warnings

c = get_config()  # noqa: F821 (nbgrader defines get_config)

c.CourseDirectory.course_id = "face-dl-course"

# The checks run in a second or two, but exercise 09's q4 trains a small model: give a cell
# up to 5 minutes (nbgrader's default is 30 s; a cell that times out scores 0).
c.Execute.timeout = 300

# nbgrader 0.9 with SQLAlchemy 2 warns "Object of type <SubmittedAssignment> not in session,
# add operation along ... will not proceed" while `nbgrader autograde` creates a submission;
# the submission and its grades are stored all the same.
warnings.filterwarnings("ignore", message=r"Object of type <\\w+> not in session")
'''


def assignment_name(notebook: Path | str) -> str:
    """The nbgrader assignment of an exercise notebook: ``02_convnets_exercises.ipynb`` ->
    ``ex02_convnets``."""
    stem = Path(notebook).stem
    return "ex" + stem.removesuffix("_exercises")


def _top_level_solution(nb: nbformat.NotebookNode, name: str) -> None:
    for number, cell in enumerate(nb.cells, start=1):
        for line in cell.source.splitlines() if cell.cell_type == "code" else []:
            if line.strip() == BEGIN and not line[:1].isspace():
                raise EditionError(
                    f"{name}, cell {number}: a solution block at the top level of a cell; "
                    "nbgrader replaces it with a top-level `raise NotImplementedError()`, which "
                    "stops the student's notebook. Put the answer in a function."
                )


def write_nbgrader_course(
    course: str | os.PathLike[str], *, root: Path | None = None
) -> dict[str, Path]:
    """Lay out an nbgrader course folder; return ``{assignment: source notebook}``.

    Writes ``course/source/<assignment>/<notebook>.ipynb`` (the instructor edition of each
    exercise notebook, replacing an older copy) and ``course/nbgrader_config.py`` unless it
    exists. Everything else in ``course`` (releases, submissions, the gradebook) is left as
    it is. Raises :class:`EditionError` for a notebook nbgrader could not grade.
    """
    import nbformat

    root = Path(root) if root is not None else project_root()
    course = Path(course)
    exercises = exercise_paths(root)
    if not exercises:
        raise FileNotFoundError(f"{root / 'notebooks' / 'exercises'}: no exercise notebooks")
    sources: dict[str, tuple[Path, str]] = {}
    for path in exercises:
        name = f"notebooks/exercises/{path.name}"
        nb = nbformat.read(path, as_version=4)
        if not grading(nb, name):
            raise EditionError(f"{name}: no qN.check(...) cell, nothing for nbgrader to grade")
        _top_level_solution(nb, name)
        target = course / "source" / assignment_name(path) / path.name
        sources[assignment_name(path)] = (target, nbformat.writes(instructor_version(nb)) + "\n")
    for target, text in sources.values():
        atomic_write_text(target, text)
    config = course / NBGRADER_CONFIG
    if not config.exists():
        atomic_write_text(config, NBGRADER_CONFIG_TEXT)
    return {assignment: target for assignment, (target, _) in sources.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.editions", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--out", type=Path, default=Path("build") / "editions", help="output folder"
    )
    parser.add_argument(
        "--nbgrader-course",
        type=Path,
        metavar="DIR",
        help="instead: lay out an nbgrader course in DIR (source/<assignment>/ from the "
        "instructor edition, and nbgrader_config.py); see lessons/README.md",
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
        if args.nbgrader_course is not None:
            sources = write_nbgrader_course(args.nbgrader_course)
            print(f"{len(sources)} assignments -> {args.nbgrader_course / 'source'}")
            for assignment, path in sources.items():
                print(f"  {assignment:18s} {path}")
            print(f"settings: {args.nbgrader_course / NBGRADER_CONFIG}")
            return 0
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
