"""Student and instructor editions: the transformation, and both editions executed.

The execution test ``test_exercises_execute[<edition>-<notebook>]`` (marked ``notebook``) runs
every companion exercise notebook in both editions: the instructor edition must pass every
check, the student edition must run to the end with every check "not answered yet".
The nbgrader side: every check cell is an autograded test cell with points (listed on the
lesson page), the editions pass nbformat's and nbgrader's validators without a warning, and
``--nbgrader-course`` lays out a course (``tests/test_nbgrader.py`` runs nbgrader on it).
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import nbformat
import pytest

from utils.config import project_root
from utils.course import run_notebook
from utils.editions import (
    BEGIN,
    END,
    EditionError,
    assignment_name,
    check_cell_metadata,
    exercise_paths,
    grading,
    main,
    make_editions,
    notebook_paths,
    strip_solutions,
    write_nbgrader_course,
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


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_every_check_is_an_nbgrader_test_cell_and_every_answer_a_function(path: Path) -> None:
    """nbgrader grades exactly the checks the learner sees; its stub keeps the notebook running
    only inside a function (at the top level it is a bare `raise NotImplementedError()`)."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    checks = re.findall(r"^(q\d+)\.check\(", "\n".join(c.source for c in code), re.M)
    points = grading(nb, path.name)
    assert list(points) == list(dict.fromkeys(checks)), f"{path.name}: ungraded checks"
    assert all(p in (1, 2, 3) for p in points.values()), points
    for cell in code:
        meta = cell.metadata.get("nbgrader", {})
        if BEGIN in cell.source:
            assert meta.get("solution") and meta["grade_id"].endswith("_answer")
            begins = [ln for ln in cell.source.splitlines() if ln.strip() == BEGIN]
            assert all(ln.startswith(" ") for ln in begins), f"{path.name}: top-level solution"
        elif meta.get("grade"):
            assert meta == check_cell_metadata(
                meta["grade_id"].removesuffix("_check"), meta["points"]
            )


def _lesson_points(number: str) -> dict[str, int]:
    (page,) = (ROOT / "lessons").glob(f"{number}_*.md")
    section = page.read_text(encoding="utf-8").split("## Exercises", 1)[1].split("\n## ", 1)[0]
    return {q: int(p) for q, p in re.findall(r"\((q\d+), (\d+) points?\)", section)}


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_lesson_pages_list_the_points(path: Path) -> None:
    points = grading(nbformat.read(path, as_version=4), path.name)
    assert _lesson_points(path.name[:2]) == points, (
        f"lessons/{path.name[:2]}_*.md, section Exercises: write each question's points as "
        f"(qN, P points), as in the notebook's check cells: {points}"
    )


def _cells(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def _answer(source: str = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"):
    meta = {"grade": False, "grade_id": "q1_answer", "locked": False, "schema_version": 3}
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta | {"solution": True}})


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([_answer(), nbformat.v4.new_code_cell("q1.check(f)")], "must be an nbgrader autograded"),
        ([_answer(_answer().source + "\n\nq1.check(f)")], "shares a cell with a solution"),
        (
            [nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    ### END SOLUTION")],
            "solution metadata",
        ),
        (
            [
                _answer(),
                nbformat.v4.new_code_cell(
                    "q1.check(f)", metadata={"nbgrader": check_cell_metadata("q1", 2)}
                ),
                nbformat.v4.new_code_cell(
                    "q1.check(f)",
                    metadata={"nbgrader": check_cell_metadata("q1", 2) | {"grade_id": "q1_check"}},
                ),
            ],
            "used twice",
        ),
        (
            [
                nbformat.v4.new_code_cell(
                    "q1.check(f)\nq2.check(g)", metadata={"nbgrader": check_cell_metadata("q1", 1)}
                )
            ],
            "one question per check cell",
        ),
    ],
)
def test_grading_errors_name_the_cell(cells: list[nbformat.NotebookNode], message: str) -> None:
    with pytest.raises(EditionError, match=message) as info:
        grading(_cells(*cells), "notebooks/exercises/99_x.ipynb")
    assert "99_x.ipynb, cell " in str(info.value)


def test_grading_reads_the_points() -> None:
    nb = _cells(
        _answer(),
        nbformat.v4.new_code_cell(
            "q1.check(f)", metadata={"nbgrader": check_cell_metadata("q1", 3)}
        ),
    )
    assert grading(nb) == {"q1": 3}


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


def test_editions_pass_nbformat_and_nbgrader_validation_without_warnings(
    editions: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    validator_module = pytest.importorskip("nbgrader.nbgraderformat.v3")
    validator = validator_module.MetadataValidatorV3()
    validator.log = logging.getLogger("nbgrader-validator")
    with caplog.at_level(logging.WARNING, logger="nbgrader-validator"):
        for edition, folder in editions.items():
            for path in sorted((folder / "notebooks" / "exercises").glob("*.ipynb")):
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # MissingIDFieldWarning and friends
                    nb = nbformat.read(path, as_version=4)
                    nbformat.validate(nb)
                assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), f"{edition} {path.name}"
                assert len({c.id for c in nb.cells}) == len(nb.cells)
                validator.validate_nb(nb)
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_cells_without_ids_get_stable_ones(tmp_path: Path) -> None:
    root = tmp_path / "course"
    (root / "notebooks" / "exercises").mkdir(parents=True)
    (root / "lessons").mkdir()
    nb = _cells(
        _answer(),
        nbformat.v4.new_code_cell(
            "q1.check(f)", metadata={"nbgrader": check_cell_metadata("q1", 1)}
        ),
    )
    nb.nbformat_minor = 4
    for cell in nb.cells:
        del cell["id"]
    (root / "notebooks" / "exercises" / "99_x_exercises.ipynb").write_text(
        nbformat.writes(nb, version=4)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, second = (make_editions(tmp_path / n, root=root)["student"] for n in ("a", "b"))
    written = [
        (f / "notebooks" / "exercises" / "99_x_exercises.ipynb").read_text()
        for f in (first, second)
    ]
    assert written[0] == written[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nbformat.reads(written[0], as_version=4)
    assert [c.id for c in out.cells] == ["cell-01", "cell-02"] and out.nbformat_minor == 5


def test_nbgrader_course_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    course = tmp_path / "course"
    assert main(["--nbgrader-course", str(course)]) == 0
    assert "11 assignments" in capsys.readouterr().out
    sources = sorted(p.relative_to(course).as_posix() for p in (course / "source").rglob("*.ipynb"))
    assert sources == [f"source/{assignment_name(p)}/{p.name}" for p in EXERCISES]
    assert assignment_name("02_convnets_exercises.ipynb") == "ex02_convnets"
    instructor = nbformat.read(
        course / "source" / "ex02_convnets" / "02_convnets_exercises.ipynb", 4
    )
    assert instructor.cells == nbformat.read(EXERCISES[2], 4).cells
    config = course / "nbgrader_config.py"
    text = config.read_text()
    compile(text, str(config), "exec")
    assert "c.Execute.timeout" in text and "course_id" in text
    config.write_text(text + "\n# the teacher's own setting\n")
    write_nbgrader_course(course)  # a second run refreshes the notebooks, keeps the settings
    assert config.read_text().endswith("# the teacher's own setting\n")


def test_nbgrader_course_refuses_a_top_level_solution(tmp_path: Path) -> None:
    (tmp_path / "notebooks" / "exercises").mkdir(parents=True)
    nb = _cells(
        _answer("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"),
        nbformat.v4.new_code_cell(
            "q1.check(answer)", metadata={"nbgrader": check_cell_metadata("q1", 1)}
        ),
    )
    nbformat.write(nb, tmp_path / "notebooks" / "exercises" / "99_x_exercises.ipynb")
    with pytest.raises(EditionError, match="99_x_exercises.ipynb, cell 1: .*top level"):
        write_nbgrader_course(tmp_path / "course", root=tmp_path)
    assert not (tmp_path / "course").exists()


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
