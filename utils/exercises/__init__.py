"""Exercises that check themselves: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.

Every course notebook has a companion exercise notebook (``notebooks/exercises/``) whose
questions live in one module here, ``ex00_setup`` ... ``ex10_real_world``::

    from utils.exercises import ____, progress
    from utils.exercises.ex02_convnets import q1, q2

    def my_flip(image, keypoints):
        ...                      # your code
    q1.check(my_flip)            # Correct: ... / Not quite: <why> / Not answered yet: ...
    q1.hint()                    # a nudge
    q1.solution()                # the reference answer
    progress()                   # your pass / fail table for this session

A check tests *behaviour*, never the text of your code: it calls your function on real
sample faces and compares with the course's reference implementation, or trains your model
for a few epochs. If your code raises an error, the check says which one instead of
crashing the notebook, and an answer you have not written yet (``____``, or a function that
still raises ``NotImplementedError``) is reported as "not answered yet", not as wrong.

Graded with nbgrader (``lessons/README.md``), every ``qN.check(...)`` cell is an autograded
test cell (its points are in the cell's nbgrader metadata and on the lesson page). While
nbgrader runs a notebook (``nbgrader autograde`` or ``validate``, which set
``NBGRADER_EXECUTION``) a check that is not correct also raises an ``AssertionError`` with the
same reason, so the test cell fails and scores 0.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

#: MIME type of a check's result in a notebook's outputs (what the edition tests read back).
CHECK_MIME = "application/x.face-dl-check+json"
#: MIME type of :func:`progress`'s table in a notebook's outputs.
PROGRESS_MIME = "application/x.face-dl-progress+json"

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"
_COLOURS = {CORRECT: "#1a7f37", INCORRECT: "#cf222e", NOT_ATTEMPTED: "#6e7781"}
_PREFIX = {CORRECT: "Correct", INCORRECT: "Not quite", NOT_ATTEMPTED: "Not answered yet"}
#: Set by nbgrader while it executes a notebook (``autograde`` or ``validate``).
NBGRADER_ENV = "NBGRADER_EXECUTION"


class _NotAnswered:
    """The placeholder ``____`` of an answer the student has not written yet (one object)."""

    _instance: _NotAnswered | None = None

    def __new__(cls) -> _NotAnswered:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "____"

    def __bool__(self) -> bool:
        return False


#: The "not answered yet" placeholder. Student notebooks say ``answer = ____``.
NOT_ANSWERED = _NotAnswered()
____ = NOT_ANSWERED


class Incorrect(Exception):
    """Raised by a checker when the answer runs but is wrong; the message says why."""


@dataclass(frozen=True)
class CheckResult:
    """What one ``check()`` found. True (in an ``if``) only when the answer is correct."""

    notebook: str
    question: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == CORRECT

    @property
    def text(self) -> str:
        """The one-line feedback, e.g. ``"Not quite: the left eye is on the wrong side."``."""
        return f"{_PREFIX[self.status]}: {self.message}"

    def _ipython_display_(self) -> None:
        """Shown once by ``check()`` already; as a cell's last value it adds nothing."""


# Every question created in this Python session, and its latest result, for progress().
_QUESTIONS: dict[tuple[str, str], Question] = {}
_RESULTS: dict[tuple[str, str], CheckResult] = {}


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the course
        return False
    return get_ipython() is not None


def _show(text: str, html_text: str, mime: str, payload: Any) -> None:
    """Rich output (coloured HTML + a machine-readable payload) in Jupyter, plain text elsewhere."""
    if _in_ipython():
        from IPython.display import display

        display({"text/plain": text, "text/html": html_text, mime: payload}, raw=True)
    else:
        print(text)


def under_nbgrader() -> bool:
    """True while nbgrader executes the notebook (``nbgrader autograde`` / ``validate``)."""
    return bool(os.environ.get(NBGRADER_ENV))


@contextlib.contextmanager
def _quiet_for_nbgrader() -> Iterator[None]:
    """Under nbgrader, keep Python warnings and ``sys.stderr`` out of a check cell's outputs:
    nbgrader scores a test cell with any stderr output as 0, even when the answer is right."""
    if not under_nbgrader():
        yield
        return
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _short(exc: BaseException, limit: int = 200) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = message if len(message) <= limit else message[: limit - 3] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class Question:
    """One exercise: a checker that tests an answer's behaviour, a hint and a solution.

    Args:
        name: ``"q1"``, ``"q2"``, ... as the notebook calls it.
        checker: ``checker(answer) -> str``: returns the praise for a correct answer, raises
            :class:`Incorrect` with the reason for a wrong one. Exceptions raised by the
            student's code are caught by :meth:`check` and reported, never re-raised.
        hint: a nudge in one or two sentences.
        solution: the reference answer as Python code (shown by :meth:`solution`).
        notebook: the notebook it belongs to, e.g. ``"02_convnets_keypoints"``.
        title: a few words for the progress table.
        answer_name: the name the notebook's answer cell defines (``my_flip``); the tests run
            the solution code and check ``answer_name`` with it.
    """

    def __init__(
        self,
        name: str,
        checker: Callable[[Any], str],
        hint: str,
        solution: str,
        *,
        notebook: str = "",
        title: str = "",
        answer_name: str = "",
    ) -> None:
        if not callable(checker):
            raise ValueError(f"Question {name!r}: checker must be a function, got {checker!r}")
        self.name = name
        self.notebook = notebook
        self.title = title or name
        self.answer_name = answer_name
        self._checker = checker
        self._hint = hint.strip()
        self._solution = solution.strip("\n")
        _QUESTIONS[(notebook, name)] = self

    def __repr__(self) -> str:
        return f"<{self.notebook} {self.name}: {self.title}>"

    @property
    def solution_code(self) -> str:
        """The reference answer as code (what :meth:`solution` shows)."""
        return self._solution

    def evaluate(self, answer: Any = NOT_ANSWERED) -> CheckResult:
        """Check ``answer`` and return the result without showing anything."""
        if answer is NOT_ANSWERED or answer is Ellipsis:
            status = NOT_ATTEMPTED
            message = "replace ____ with your answer, then run this cell again."
        else:
            try:
                with _quiet_for_nbgrader():
                    status, message = CORRECT, self._checker(answer)
            except NotImplementedError:
                status = NOT_ATTEMPTED
                message = (
                    "write your code where it says # YOUR CODE HERE, then run this cell again."
                )
            except Incorrect as wrong:
                status, message = INCORRECT, str(wrong)
            except Exception as exc:  # the student's code failed: say how, do not crash
                status, message = INCORRECT, f"your code raised {_short(exc)}"
        result = CheckResult(self.notebook, self.name, status, message)
        _RESULTS[(self.notebook, self.name)] = result
        return result

    def check(self, answer: Any = NOT_ANSWERED) -> CheckResult:
        """Check your answer and print a one-line verdict with the reason.

        Under nbgrader (:func:`under_nbgrader`) an answer that is not correct also raises
        ``AssertionError`` with the same verdict, so nbgrader's test cell scores 0."""
        result = self.evaluate(answer)
        colour = _COLOURS[result.status]
        label = f"{self.name} ({self.title})"
        text = f"{label} {result.text}"
        body = (
            f'<p style="margin:0.2em 0"><b>{html.escape(label)}</b> '
            f'<span style="color:{colour};font-weight:bold">{_PREFIX[result.status]}:</span> '
            f"{html.escape(result.message)}</p>"
        )
        payload = {"notebook": self.notebook, "question": self.name, "status": result.status}
        _show(text, body, CHECK_MIME, payload | {"message": result.message})
        if not result and under_nbgrader():
            __tracebackhide__ = True  # IPython shows the assertion, not this frame
            raise AssertionError(text)
        return result

    def hint(self) -> None:
        """Print a hint."""
        _show(
            f"Hint ({self.name}): {self._hint}",
            f"<p><b>Hint ({html.escape(self.name)}):</b> {html.escape(self._hint)}</p>",
            "text/markdown",
            f"**Hint ({self.name}):** {self._hint}",
        )

    def solution(self) -> None:
        """Show the reference answer (as a Markdown code block in Jupyter)."""
        if _in_ipython():
            from IPython.display import Markdown, display

            display(Markdown(f"**Solution ({self.name}):**\n\n```python\n{self._solution}\n```"))
        else:
            print(f"Solution ({self.name}):\n{self._solution}")


def results(notebook: str | None = None) -> list[CheckResult]:
    """Every question of the exercise modules imported so far (of ``notebook`` if given),
    with its latest result; questions not checked yet are ``not attempted``."""
    rows = []
    for key, question in sorted(_QUESTIONS.items()):
        if notebook is not None and question.notebook != notebook:
            continue
        if key in _RESULTS:
            rows.append(_RESULTS[key])
        else:
            rows.append(
                CheckResult(question.notebook, question.name, NOT_ATTEMPTED, "not checked yet")
            )
    return rows


def progress(notebook: str | None = None) -> None:
    """Print your pass / fail / not-attempted table, grouped by notebook."""
    rows = results(notebook)
    if not rows:
        print("No exercises imported yet: `from utils.exercises.ex00_setup import q1, q2`.")
        return
    lines, cells = [], []
    for nb in sorted({r.notebook for r in rows}):
        mine = [r for r in rows if r.notebook == nb]
        done = sum(bool(r) for r in mine)
        lines.append(f"{nb}: {done}/{len(mine)} correct")
        cells.append(
            f'<tr><th colspan="3" style="text-align:left">{html.escape(nb)}: '
            f"{done}/{len(mine)} correct</th></tr>"
        )
        for r in mine:
            title = _QUESTIONS[(r.notebook, r.question)].title
            lines.append(f"  {r.question:4s} {r.status:14s} {title}")
            cells.append(
                f"<tr><td>{r.question}</td><td style='color:{_COLOURS[r.status]}'>{r.status}"
                f"</td><td style='text-align:left'>{html.escape(title)}</td></tr>"
            )
    payload = [{"notebook": r.notebook, "question": r.question, "status": r.status} for r in rows]
    _show("\n".join(lines), "<table>" + "".join(cells) + "</table>", PROGRESS_MIME, payload)


# --------------------------------------------------------------------------------------------
# Helpers for writing checkers
# --------------------------------------------------------------------------------------------


def expect(condition: Any, reason: str) -> None:
    """Raise :class:`Incorrect` with ``reason`` unless ``condition`` holds."""
    if not condition:
        raise Incorrect(reason)


def require_function(answer: Any, what: str = "a function") -> Callable[..., Any]:
    """The answer itself when it is callable; otherwise a friendly :class:`Incorrect`."""
    expect(callable(answer), f"expected {what}, got {type(answer).__name__} {answer!r:.60}")
    return answer  # type: ignore[no-any-return]


def as_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 NumPy array (tensors included), or :class:`Incorrect`."""
    try:
        if isinstance(value, np.ndarray | list | tuple | float | int | np.generic):
            return np.asarray(value, dtype=np.float64)
        import keras  # tensors: TensorFlow's, or another backend's

        return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
    except Exception as exc:
        raise Incorrect(f"{what} should be numbers (an array), got {type(value).__name__}") from exc


def expect_close(
    actual: Any, expected: Any, what: str, *, atol: float = 1e-5, rtol: float = 1e-4
) -> np.ndarray:
    """Compare ``actual`` with ``expected`` (shapes first, then values, NaN where NaN)."""
    got = as_array(actual, what)
    want = np.asarray(expected, dtype=np.float64)
    expect(got.shape == want.shape, f"{what} has shape {got.shape}; expected {want.shape}")
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    expect(
        np.array_equal(nan_got, nan_want),
        f"{what} has NaN in {int(nan_got.sum())} places; expected {int(nan_want.sum())}",
    )
    ok = np.isclose(got, want, atol=atol, rtol=rtol) | (nan_got & nan_want)
    if not ok.all():
        first = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise Incorrect(
            f"{what} differs from the reference at index {first}: "
            f"{got[first]:.4g} instead of {want[first]:.4g}"
        )
    return got


@lru_cache(maxsize=1)
def sample_keypoints() -> Any:
    """The sample keypoint data (loaded once per session; checks are calibrated on it)."""
    from utils.config import resolve_data
    from utils.data_keypoints import load_keypoints

    return load_keypoints(resolve_data("sample", "keypoints"))


@lru_cache(maxsize=1)
def sample_fer() -> Any:
    """The sample FER-2013 training faces (loaded once per session)."""
    from utils.config import resolve_data
    from utils.data_fer2013 import load_fer2013

    return load_fer2013(resolve_data("sample", "fer2013"), split="Training")


__all__ = [
    "CHECK_MIME",
    "NOT_ANSWERED",
    "PROGRESS_MIME",
    "CheckResult",
    "Incorrect",
    "Question",
    "____",
    "as_array",
    "expect",
    "expect_close",
    "progress",
    "require_function",
    "results",
    "under_nbgrader",
]
