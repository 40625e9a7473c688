"""nbgrader grades the exercises: the whole teacher's flow, with nbgrader's own commands.

For each exercise notebook (an assignment of a temporary course laid out by
``python -m utils.editions --nbgrader-course``): ``nbgrader generate_assignment``, then three
students submit the released notebook -- ``correct`` (every answer cell filled in with the
instructor's solution), ``untouched`` (as released) and, for exercise 02, ``wrong`` (q1
answered with its typical mistake) -- then ``nbgrader autograde`` and ``nbgrader export``.
The correct submission must score the maximum (> 0), the untouched one 0 on every question,
and nbgrader must print no warning.

CI runs two assignments (1-2 min on 2 cores); all eleven took 6 min on the same machine:

    FACE_DL_NBGRADER=all .venv/bin/python -m pytest -q -s -p no:cacheprovider tests/test_nbgrader.py

(``-s`` shows the per-assignment score table; ``FACE_DL_NBGRADER=ex00_setup,ex05_pipelines``
picks others.)
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from utils.editions import (
    BEGIN,
    END,
    assignment_name,
    exercise_paths,
    grading,
    write_nbgrader_course,
)

ROOT = Path(__file__).resolve().parent.parent
#: What CI grades: the issue's exercise (2 questions) and the longest one (4, one trains a model).
CI_ASSIGNMENTS = ("ex02_convnets", "ex09_action_units")
#: The typical mistake the "wrong" student makes in q1 (one assignment: each costs a kernel).
WRONG_ANSWERS = {
    "ex02_convnets": "def my_flip(image, keypoints):\n"
    "    mirrored = keypoints.copy()\n"
    "    mirrored[0::2] = 95.0 - keypoints[0::2]\n"
    "    return image[:, ::-1], mirrored  # left and right never swapped\n",
}
STUDENTS = ("correct", "untouched", "wrong")
#: Log lines that are not warnings of nbgrader's: the kernel's note about its local TCP ports.
NOT_NBGRADER = re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP")

pytestmark = [pytest.mark.slow, pytest.mark.notebook]


def _chosen() -> list[Path]:
    by_name = {assignment_name(p): p for p in exercise_paths(ROOT)}
    wanted = os.environ.get("FACE_DL_NBGRADER", ",".join(CI_ASSIGNMENTS))
    names = list(by_name) if wanted == "all" else [w.strip() for w in wanted.split(",") if w]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(
            f"FACE_DL_NBGRADER: unknown assignments {unknown}; choose from {list(by_name)}"
        )
    return [by_name[n] for n in names]


@dataclass
class Course:
    root: Path
    assignments: list[str]
    points: dict[str, dict[str, int]]  # assignment -> question -> points
    logs: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def nbgrader(self, *args: str) -> str:
        """Run ``nbgrader *args`` in the course folder; return its output (stdout + stderr)."""
        bin_dir = Path(sys.executable).parent  # nbgrader runs `alembic` from the PATH
        env = os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        for name in ("NBGRADER_EXECUTION", "TF_CPP_MIN_LOG_LEVEL"):  # a teacher's shell
            env.pop(name, None)
        done = subprocess.run(
            [str(bin_dir / "nbgrader"), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        output = done.stdout + done.stderr
        self.logs.append(f"$ nbgrader {' '.join(args)}\n{output}")
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{output[-3000:]}"
        return output


def _fill_in(released: nbformat.NotebookNode, source: nbformat.NotebookNode) -> None:
    """Answer every solution cell of ``released`` with the instructor's code (markers dropped)."""
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = solutions[meta["grade_id"]].splitlines()
            cell.source = "\n".join(line for line in lines if line.strip() not in (BEGIN, END))


def _submit(course: Course, assignment: str, notebook: str, student: str) -> None:
    released = nbformat.read(course.root / "release" / assignment / notebook, as_version=4)
    if student != "untouched":
        _fill_in(released, nbformat.read(course.root / "source" / assignment / notebook, 4))
    if student == "wrong":
        q1 = next(
            c
            for c in released.cells
            if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_answer"
        )
        q1.source = WRONG_ANSWERS[assignment]
    target = course.root / "submitted" / student / assignment / notebook
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(released, target)


def _grade(root: Path) -> Course:
    """The teacher's flow over the chosen exercise notebooks, in a course folder at ``root``."""
    paths = _chosen()
    sources = write_nbgrader_course(root, root=ROOT)
    names = [assignment_name(p) for p in paths]
    points = {n: grading(nbformat.read(sources[n], 4), n) for n in names}
    course = Course(root, names, points)
    for name, path in zip(names, paths, strict=True):
        start = time.perf_counter()
        course.nbgrader("generate_assignment", name)
        for student in STUDENTS:
            if student != "wrong" or name in WRONG_ANSWERS:
                _submit(course, name, path.name, student)
        course.nbgrader("autograde", name, "--create")
        course.seconds[name] = time.perf_counter() - start
    course.nbgrader("export")
    return course


def test_nbgrader_grades_the_exercises(tmp_path: Path, sample_data: Path) -> None:
    """One test, so that pytest-xdist never runs the flow twice (in two workers)."""
    if importlib.util.find_spec("nbgrader") is None:
        if os.environ.get("CI"):
            pytest.fail("nbgrader is not installed (pyproject's [dev] extra)")
        pytest.skip("nbgrader is not installed (pip install -e .[dev])")
    course = _grade(tmp_path / "course")
    print("\n" + _scores_table(course))
    _no_warnings(course)
    _released_notebooks_keep_the_learners_checks(course)
    _correct_scores_the_maximum_untouched_zero(course)
    _a_wrong_answer_scores_zero_for_that_question_only(course)
    _failing_checks_fail_with_the_learners_reason(course)


def _grades_csv(course: Course) -> dict[tuple[str, str], dict[str, str]]:
    with open(course.root / "grades.csv", newline="", encoding="utf-8") as f:
        return {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}


def _question_scores(course: Course, assignment: str, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    notebook = next((course.root / "source" / assignment).glob("*.ipynb")).stem
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(notebook, assignment, student)
        return {g.name.removesuffix("_check"): g.score for g in submission.grades}


def _scores_table(course: Course) -> str:
    grades = _grades_csv(course)
    table = [
        "| assignment | questions (points) | correct | untouched | seconds |",
        "|---|---|---:|---:|---:|",
    ]
    for assignment, points in course.points.items():
        shown = ", ".join(f"{q} ({p})" for q, p in points.items())
        score = [grades[(assignment, s)] for s in ("correct", "untouched")]
        table.append(
            f"| {assignment} | {shown} | "
            + " | ".join(f"{float(r['score']):g} / {float(r['max_score']):g}" for r in score)
            + f" | {course.seconds[assignment]:.0f} |"
        )
    return "\n".join(table)


def _correct_scores_the_maximum_untouched_zero(course: Course) -> None:
    grades = _grades_csv(course)
    for assignment, points in course.points.items():
        total = float(sum(points.values()))
        correct, untouched = grades[(assignment, "correct")], grades[(assignment, "untouched")]
        assert total > 0 and float(correct["max_score"]) == total, (assignment, correct)
        assert float(correct["score"]) == total, f"{assignment}: correct answers lost points"
        assert float(untouched["score"]) == 0.0 and float(untouched["max_score"]) == total
        assert _question_scores(course, assignment, "correct") == points
        assert _question_scores(course, assignment, "untouched") == dict.fromkeys(points, 0.0)


def _a_wrong_answer_scores_zero_for_that_question_only(course: Course) -> None:
    for assignment in course.assignments:
        if assignment in WRONG_ANSWERS:
            scores = _question_scores(course, assignment, "wrong")
            points = course.points[assignment]
            assert scores == {q: (0.0 if q == "q1" else float(p)) for q, p in points.items()}


def _failing_checks_fail_with_the_learners_reason(course: Course) -> None:
    """The autograded notebook shows the same verdict a learner sees, as an AssertionError."""
    folder = course.root / "autograded"
    for assignment in course.assignments:
        untouched = _errors(next((folder / "untouched" / assignment).glob("*.ipynb")))
        assert len(untouched) == len(course.points[assignment]), untouched
        for error in untouched:
            assert error["ename"] == "AssertionError", error
            assert "Not answered yet: " in error["evalue"], error
        assert _errors(next((folder / "correct" / assignment).glob("*.ipynb"))) == []
        if assignment in WRONG_ANSWERS:
            (wrong,) = _errors(next((folder / "wrong" / assignment).glob("*.ipynb")))
            assert wrong["evalue"].startswith("q1 (") and "Not quite: " in wrong["evalue"]
            assert "swapped" in wrong["evalue"]


def _errors(path: Path) -> list[dict[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]


def _no_warnings(course: Course) -> None:
    warned = [
        line
        for log in course.logs
        for line in log.splitlines()
        if re.search(r"warn", line, re.I) and not NOT_NBGRADER.search(line)
    ]
    assert not warned, "nbgrader warned:\n" + "\n".join(warned)


def _released_notebooks_keep_the_learners_checks(course: Course) -> None:
    """What the student gets: no solution, the check cells as in the instructor edition."""
    for assignment in course.assignments:
        (released,) = (course.root / "release" / assignment).glob("*.ipynb")
        nb = nbformat.read(released, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert BEGIN not in text and "raise NotImplementedError()" in text
        checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert [c.metadata["nbgrader"]["grade_id"] for c in checks] == [
            f"{q}_check" for q in course.points[assignment]
        ]
        assert all(re.fullmatch(r"q\d+\.check\(\w+\)", c.source) for c in checks)
