"""Student and instructor editions: the transformation, and both editions executed.

The execution test ``test_exercises_execute[<edition>-<notebook>]`` (marked ``notebook``) runs
every companion exercise notebook in both editions: the instructor edition must pass every
check, the student edition must run to the end with every check "not answered yet".
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from utils.config import project_root
from utils.course import run_notebook
from utils.editions import (
    BEGIN,
    END,
    EditionError,
    exercise_paths,
    main,
    make_editions,
    notebook_paths,
    strip_solutions,
    write_setup_cells,
)
from utils.exercises import CHECK_MIME, PROGRESS_MIME
from utils.setup import PIP_URL, SETUP_CELL

ROOT = project_root()
EXERCISES = exercise_paths(ROOT)
# Generous guard against runaways; the budget is ~20 s per exercise notebook on 2 free cores.
TIME_LIMIT_S = 150


@pytest.fixture(scope="module")
def editions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_editions(tmp_path_factory.mktemp("build") / "editions")


def _solution_lines(source: str) -> list[str]:
    inside, lines = False, []
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def test_stub_inside_a_function_is_nbgraders() -> None:
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\n\nq1.check(f)"
    )
    assert strip_solutions(source) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n\nq1.check(f)"
    )


def test_stub_at_top_level_assigns_the_placeholder() -> None:
    source = "### BEGIN SOLUTION\na, b = 1, 2\nanswer = a + b\n### END SOLUTION\nq2.check(answer)"
    assert strip_solutions(source) == (
        "# YOUR CODE HERE\na = ____\nb = ____\nanswer = ____\nq2.check(answer)"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "no matching"),
        ("x = 1\n### END SOLUTION\n", "without"),
        ("### BEGIN SOLUTION\nprint(1)\n### END SOLUTION\n", "must assign a name"),
    ],
)
def test_malformed_markers_name_the_cell(source: str, message: str) -> None:
    with pytest.raises(EditionError, match=message) as info:
        strip_solutions(source, "notebooks/exercises/99_x.ipynb, cell 7")
    assert "99_x.ipynb, cell 7, line " in str(info.value)


def test_notebook_paths_are_numbered_and_sorted() -> None:
    names = [p.name for p in notebook_paths()]
    assert names == sorted(names) and names
    assert all(n[:2].isdigit() and n[2] == "_" for n in names)


def test_every_main_notebook_has_an_exercise_notebook() -> None:
    have = {p.name[:2] for p in EXERCISES}
    missing = [p.name for p in notebook_paths() if p.name[:2] not in have]
    assert not missing, f"no notebooks/exercises/NN_*_exercises.ipynb for {missing}"


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercise_notebook_shape(path: Path) -> None:
    """Like a main notebook: no outputs, the setup cell first, a parameters cell; 2+ checks."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name}: outputs"
    assert code[0].source == SETUP_CELL, f"{path.name}: the first cell must be the setup cell"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for name in ("DATA", "EPOCHS", "SEED"):
        assert f"{name} =" in params[0].source
    checks = re.findall(r"^(q\d+)\.check\(", "\n".join(c.source for c in code), re.M)
    assert len(set(checks)) >= 2, f"{path.name}: fewer than two checked exercises"
    solutions = [c for c in code if BEGIN in c.source]
    assert len(solutions) == len(checks), f"{path.name}: one marked solution per check"
    assert code[-1].source.strip() == "progress()"


@pytest.mark.parametrize("path", [*notebook_paths(), *EXERCISES], ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_setup_cell(path: Path) -> None:
    code = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
    assert code[0].source == SETUP_CELL, (
        f"{path.name}: its first code cell is not utils.setup.SETUP_CELL; "
        "run `python -m utils.editions --setup-cells`"
    )
    assert PIP_URL in SETUP_CELL and "%pip install" in SETUP_CELL


def test_write_setup_cells_changes_only_the_first_code_cell(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    (folder / "exercises").mkdir(parents=True)
    old = nbformat.v4.new_code_cell("import old_setup")
    rest = [nbformat.v4.new_markdown_cell("# Title"), old, nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nbformat.v4.new_notebook(cells=rest), folder / "00_a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=rest), folder / "exercises" / "00_b.ipynb")
    assert [p.name for p in write_setup_cells(tmp_path)] == ["00_a.ipynb", "00_b.ipynb"]
    for path in (folder / "00_a.ipynb", folder / "exercises" / "00_b.ipynb"):
        cells = nbformat.read(path, 4).cells
        assert [c.source for c in cells] == ["# Title", SETUP_CELL, "x = 1"]
    assert write_setup_cells(tmp_path) == []  # already up to date: nothing rewritten


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "editions")]) == 0
    assert "student" in capsys.readouterr().out
    assert (tmp_path / "editions" / "instructor" / "notebooks" / "exercises").is_dir()


def test_main_notebooks_are_copied_unchanged(editions: dict[str, Path]) -> None:
    for folder in editions.values():
        for path in notebook_paths():
            assert (folder / "notebooks" / path.name).read_bytes() == path.read_bytes()
    assert (editions["student"] / "lessons").is_dir()


def test_student_edition_has_no_solution_text(editions: dict[str, Path]) -> None:
    for path in EXERCISES:
        source = nbformat.read(path, 4)
        student = nbformat.read(editions["student"] / "notebooks" / "exercises" / path.name, 4)
        instructor = nbformat.read(
            editions["instructor"] / "notebooks" / "exercises" / path.name, 4
        )
        assert instructor.cells == source.cells, f"{path.name}: instructor edition differs"
        assert len(student.cells) == len(source.cells)
        for number, (mine, theirs) in enumerate(zip(source.cells, student.cells, strict=True)):
            assert BEGIN not in theirs.source and END not in theirs.source
            for line in _solution_lines(mine.source):
                assert line not in theirs.source.splitlines(), (
                    f"{path.name} cell {number}: the student edition shows {line!r}"
                )
            calls = re.findall(r"q\d+\.check\([^)]*\)", mine.source)
            assert calls == re.findall(r"q\d+\.check\([^)]*\)", theirs.source)


def _all_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_editions_are_deterministic_and_replaced_atomically(tmp_path: Path) -> None:
    first = make_editions(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "stale.txt").write_text("from an earlier run")
    second = make_editions(tmp_path / "b")
    assert _all_files(tmp_path / "a") == _all_files(tmp_path / "b")
    assert not (second["student"].parent / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"], "temporary folders left"
    assert first["student"].name == "student"


def _outputs(nb: nbformat.NotebookNode, mime: str) -> list[object]:
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if mime in output.get("data", {}):
                found.append(output["data"][mime])
    return found


def _execute(path: Path, out: Path) -> nbformat.NotebookNode:
    result = run_notebook(path, out, progress_bar=False, html=False)
    assert result.status == "ok", f"{path.name}: {result.error}"
    assert result.seconds < TIME_LIMIT_S, f"{path.name} took {result.seconds:.0f} s"
    return nbformat.read(out / "notebooks" / path.name, as_version=4)


RUNS = [(edition, p.name) for edition in ("instructor", "student") for p in EXERCISES]


@pytest.mark.notebook
@pytest.mark.parametrize(("edition", "name"), RUNS, ids=[f"{e}-{n[:-6]}" for e, n in RUNS])
def test_exercises_execute(
    edition: str, name: str, editions: dict[str, Path], sample_data: Path, tmp_path: Path
) -> None:
    """Instructor edition: every check passes. Student edition: runs to the end, every check
    and the progress table say "not attempted"."""
    nb = _execute(editions[edition] / "notebooks" / "exercises" / name, tmp_path)
    checks = _outputs(nb, CHECK_MIME)
    (table,) = _outputs(nb, PROGRESS_MIME)
    assert len(checks) >= 2
    want = "correct" if edition == "instructor" else "not attempted"
    statuses = {c["status"] for c in checks} | {row["status"] for row in table}  # type: ignore[index,attr-defined]
    assert statuses == {want}, f"{edition} {name}: {checks}"
