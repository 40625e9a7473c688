"""The exercise checkers: each passes its own solution, fails a typical wrong answer with the
reason a student needs, and reports an unanswered placeholder as "not attempted".

Kaggle Learn's learntools tests its checkers the same way. The correct answer is the
question's own ``solution()`` code, executed, so a solution that stops working fails here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from utils.exercises import (
    CORRECT,
    INCORRECT,
    NOT_ANSWERED,
    NOT_ATTEMPTED,
    Incorrect,
    Question,
    ____,
    progress,
    results,
    sample_fer,
    under_nbgrader,
)
from utils.exercises.ex04_dropout_callbacks import keras_epochs_trained

MODULES = [
    "ex00_setup",
    "ex01_single_layer",
    "ex02_convnets",
    "ex03_batch_norm",
    "ex04_dropout_callbacks",
    "ex05_pipelines",
    "ex06_imbalance",
    "ex07_transfer",
    "ex08_embeddings",
    "ex09_action_units",
    "ex10_real_world",
]


def _questions() -> list[tuple[str, Question]]:
    found = []
    for name in MODULES:
        module = importlib.import_module(f"utils.exercises.{name}")
        for attr in ("q1", "q2", "q3", "q4", "q5"):
            if hasattr(module, attr):
                found.append((f"{name}.{attr}", getattr(module, attr)))
    return found


QUESTIONS = _questions()


def solution_answer(question: Question) -> Any:
    """Run the question's solution code; return the answer it defines."""
    namespace: dict[str, Any] = {"np": np, "DATA": "sample"}
    exec(question.solution_code, namespace)
    return namespace[question.answer_name]


def _wrong_flip(image: Any, keypoints: Any) -> Any:
    mirrored = keypoints.copy()
    mirrored[0::2] = 95.0 - keypoints[0::2]  # mirrored, but left/right never swapped
    return image[:, ::-1], mirrored


def _unshuffled(images: Any, labels: Any, batch_size: int, seed: int) -> Any:
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def _unfreeze_all(model: Any, last_n: int) -> None:
    model.get_layer("resnet50").trainable = True  # batch norm included: its statistics drift


def _ignores_input() -> Any:
    inputs = keras.Input((15,))
    x = keras.layers.Rescaling(0.0)(inputs)  # throws the action units away
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))


#: One typical mistake per question, and a word the feedback must contain.
WRONG: dict[str, tuple[Any, str]] = {
    "ex00_setup.q1": (lambda y: np.isfinite(y).sum(axis=1), "coordinates"),
    "ex00_setup.q2": (lambda s, a, b: set(), "random row split"),
    "ex00_setup.q3": (lambda labels: "happy", "fewer"),
    "ex01_single_layer.q1": (lambda k: k / 96.0, "centre"),
    "ex01_single_layer.q2": (
        lambda t, v: float(np.sqrt(np.mean((np.mean(t, 0) - v) ** 2))),
        "NaN",
    ),
    "ex02_convnets.q1": (_wrong_flip, "swapped"),
    "ex02_convnets.q2": (lambda t, p: np.mean(np.nan_to_num(p - t) ** 2), "labelled"),
    "ex03_batch_norm.q1": (
        lambda x, g, b, e: (
            g * (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + e) + b
        ),
        "axis=0",
    ),
    "ex03_batch_norm.q2": (lambda m, b, mom: (1 - mom) * m + mom * b, "old"),
    "ex04_dropout_callbacks.q1": (
        lambda x, r, rng: np.where(rng.random(x.shape) >= r, x, 0.0),
        "1 / (1 - rate)",
    ),
    "ex04_dropout_callbacks.q2": (lambda v, p: keras_epochs_trained(v, p) - 1, "Keras runs"),
    "ex05_pipelines.q1": (_unshuffled, "shuffle"),
    "ex05_pipelines.q2": (lambda x, s: x[:, ::-1], "upside down"),
    "ex06_imbalance.q1": (lambda t, p: float(np.mean(t == p)), "accuracy"),
    "ex06_imbalance.q2": (lambda y: 1.0 / np.bincount(y), "examples 0 to 6"),
    "ex07_transfer.q1": (
        lambda f, s: keras.applications.resnet50.preprocess_input(
            np.repeat(keras.ops.convert_to_numpy(keras.layers.Resizing(s, s)(f)), 3, axis=-1)
        ),
        "255",
    ),
    "ex07_transfer.q2": (_unfreeze_all, "batch norm"),
    "ex08_embeddings.q1": (
        lambda a, p, n, m: (
            np.mean(np.linalg.norm(a - p, axis=1) - np.linalg.norm(a - n, axis=1)) + m
        ),
        "max(0",
    ),
    "ex08_embeddings.q2": (lambda d, s: float(np.median(d)) - 0.3, "best threshold"),
    "ex09_action_units.q1": (lambda x, t: np.where(np.isnan(x), np.nan, x > t), ">="),
    "ex09_action_units.q2": (lambda t, p: (t == p).mean(axis=0), "accuracy"),
    "ex09_action_units.q3": (
        lambda h: h[:, : round(h.shape[1] / 3)].sum((1, 2)) / h.sum((1, 2)),
        "*last* third",
    ),
    "ex09_action_units.q4": (_ignores_input, "needs"),
    "ex10_real_world.q1": (lambda b: b[int(np.argmax(b[:, 2]))], "areas"),
    "ex10_real_world.q2": (
        lambda f, b: (
            __import__("cv2").resize(f, (48, 48), interpolation=__import__("cv2").INTER_AREA)
            / 255.0
        )[..., None].astype(np.float32),
        "whole frame",
    ),
}


def test_every_notebook_has_at_least_two_questions() -> None:
    per_module: dict[str, int] = {}
    for key, _ in QUESTIONS:
        per_module[key.split(".")[0]] = per_module.get(key.split(".")[0], 0) + 1
    assert set(per_module) == set(MODULES)
    assert min(per_module.values()) >= 2, per_module
    assert set(WRONG) == {key for key, _ in QUESTIONS}, "every question needs a wrong answer"


@pytest.mark.parametrize(("key", "question"), QUESTIONS, ids=[k for k, _ in QUESTIONS])
def test_solution_passes(key: str, question: Question, sample_data: Path) -> None:
    result = question.evaluate(solution_answer(question))
    assert result.status == CORRECT, f"{key}: {result.text}"
    assert result and result.text.startswith("Correct: ")


@pytest.mark.parametrize(("key", "question"), QUESTIONS, ids=[k for k, _ in QUESTIONS])
def test_wrong_answer_fails_with_reason(key: str, question: Question, sample_data: Path) -> None:
    wrong, reason = WRONG[key]
    result = question.evaluate(wrong)
    assert result.status == INCORRECT, f"{key}: a wrong answer passed: {result.text}"
    assert not result and result.text.startswith("Not quite: ")
    assert reason in result.message, f"{key}: {result.message!r} does not mention {reason!r}"


@pytest.mark.parametrize(("key", "question"), QUESTIONS, ids=[k for k, _ in QUESTIONS])
def test_placeholder_is_not_attempted(key: str, question: Question) -> None:
    for placeholder in (____, NOT_ANSWERED):
        result = question.evaluate(placeholder)
        assert result.status == NOT_ATTEMPTED and not result, result.text
        assert result.text.startswith("Not answered yet")


def _stub(*args: Any) -> Any:
    # YOUR CODE HERE
    raise NotImplementedError()


def test_unwritten_function_is_not_attempted(sample_data: Path) -> None:
    from utils.exercises.ex02_convnets import q1

    result = q1.evaluate(_stub)
    assert result.status == NOT_ATTEMPTED, result.text


def test_student_exception_is_reported_not_raised(sample_data: Path) -> None:
    from utils.exercises.ex02_convnets import q1

    def broken(image: Any, keypoints: Any) -> Any:
        raise ValueError("shapes do not match")

    result = q1.evaluate(broken)
    assert result.status == INCORRECT
    assert result.message == "your code raised ValueError: shapes do not match"
    assert q1.evaluate(42).message.startswith("expected a function")


def test_check_prints_one_line_and_progress_groups_by_notebook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def checker(answer: Any) -> str:
        if answer != 4:
            raise Incorrect(f"2 + 2 is not {answer}")
        return "2 + 2 = 4."

    q = Question("q1", checker, "add", "answer = 4", notebook="zz_test", answer_name="answer")
    other = Question("q2", checker, "add", "answer = 4", notebook="zz_test", answer_name="answer")
    assert q.check(4)
    assert not other.check(5)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "q1 (q1) Correct: 2 + 2 = 4.",
        "q2 (q2) Not quite: 2 + 2 is not 5",
    ]
    assert [r.status for r in results("zz_test")] == [CORRECT, INCORRECT]
    progress("zz_test")
    table = capsys.readouterr().out
    assert "zz_test: 1/2 correct" in table and "incorrect" in table
    q.hint()
    q.solution()
    shown = capsys.readouterr().out
    assert "Hint (q1): add" in shown and "answer = 4" in shown


def test_rarest_emotion_needs_every_class_counted(sample_data: Path) -> None:
    from utils.exercises.ex00_setup import q3
    from utils.schema import EMOTIONS

    def without_minlength(labels: Any) -> str:
        return EMOTIONS[int(np.argmin(np.bincount(labels)))]

    result = q3.evaluate(without_minlength)
    assert result.status == INCORRECT and "minlength" in result.message, result.text
    from_memory = solution_answer(q3)(sample_fer().labels)  # right for the sample data only
    result = q3.evaluate(lambda labels: from_memory)
    assert result.status == INCORRECT and "count the labels" in result.message, result.text


def test_under_nbgrader_a_failing_check_raises_with_the_same_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sample_data: Path
) -> None:
    """nbgrader's autograde scores a test cell 0 only when it fails: a check that is not
    correct raises AssertionError with the learner's verdict; a correct one stays quiet."""
    from utils.exercises.ex02_convnets import q1

    assert not under_nbgrader()
    assert not q1.check(_wrong_flip)  # a learner's notebook: feedback, no exception
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert under_nbgrader()
    with pytest.raises(AssertionError, match=r"^q1 \(.*\) Not quite: .*swapped"):
        q1.check(_wrong_flip)
    with pytest.raises(AssertionError, match=r"Not answered yet: "):
        q1.check(_stub)
    with pytest.raises(AssertionError, match=r"Not answered yet: replace ____"):
        q1.check(____)
    capsys.readouterr()
    assert q1.check(solution_answer(q1))
    assert capsys.readouterr().out.startswith("q1 (")


def test_under_nbgrader_a_check_writes_nothing_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """nbgrader gives 0 points to a test cell with any stderr output, right answer or not."""
    import sys
    import warnings

    def noisy(answer: Any) -> str:
        warnings.warn("a library's deprecation warning", UserWarning, stacklevel=1)
        print("progress bar", file=sys.stderr)
        return "fine."

    q = Question("q1", noisy, "", "answer = 1", notebook="zz_noisy", answer_name="answer")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # would raise if the warning escaped
        assert q.check(1)
    captured = capsys.readouterr()
    assert captured.err == "" and "Correct: fine." in captured.out
