"""Exercises for notebook 06, class imbalance: macro-F1 and per-example sampling weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises import Incorrect, Question, as_array, expect, require_function, sample_fer

NOTEBOOK = "06_class_imbalance_and_metrics"


def _check_macro_f1(answer: Any) -> str:
    f1 = require_function(answer, "a function my_macro_f1(y_true, y_pred)")
    from utils.metrics import accuracy, macro_f1

    y = sample_fer().labels[:500]
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(len(y)) < 0.4, rng.integers(0, 7, len(y)), y)
    always_happy = np.full_like(y, 3)
    for name, pred in (("'always happy'", always_happy), ("a 60%-right model", noisy)):
        got = float(np.asarray(f1(y.copy(), pred.copy())))
        want = macro_f1(y, pred)
        if np.isclose(got, accuracy(y, pred)) and not np.isclose(want, accuracy(y, pred)):
            raise Incorrect(f"for {name} you return its accuracy ({got:.3f}), not its macro-F1")
        expect(
            np.isclose(got, want, atol=1e-6),
            f"for {name} your macro-F1 is {got:.4f}; expected {want:.4f} (the plain mean of "
            "the seven per-class F1 scores)",
        )
    happy = float(np.mean(y == 3))
    return (
        f"'always happy' scores {happy:.0%} accuracy but a macro-F1 of "
        f"{macro_f1(y, always_happy):.2f}: accuracy flatters it."
    )


q1 = Question(
    "q1",
    _check_macro_f1,
    hint="For each class c present in y_true: tp = sum((y_pred == c) & (y_true == c)); "
    "F1 = 2 tp / (count true c + count predicted c); average the F1s with equal weight.",
    solution="""
def my_macro_f1(y_true, y_pred):
    scores = []
    for c in np.unique(y_true):
        tp = np.sum((y_pred == c) & (y_true == c))
        scores.append(2 * tp / (np.sum(y_true == c) + np.sum(y_pred == c)))
    return float(np.mean(scores))
""",
    notebook=NOTEBOOK,
    title="macro-F1 from scratch",
    answer_name="my_macro_f1",
)


def _check_weights(answer: Any) -> str:
    weights_for = require_function(answer, "a function example_weights(labels)")
    labels = sample_fer().labels
    w = as_array(weights_for(labels.copy()), "your weights")
    if w.shape == (7,):
        raise Incorrect(
            "you returned one weight per class: a sampler reads them as the weights of "
            "examples 0 to 6 and draws only those seven faces (the course's first-version bug)"
        )
    expect(
        w.shape == labels.shape, f"expected one weight per example {labels.shape}, got {w.shape}"
    )
    expect(np.all(w >= 0) and w.sum() > 0, "weights must be non-negative with a positive sum")
    share = np.bincount(labels, weights=w, minlength=7) / w.sum()
    present = np.bincount(labels, minlength=7) > 0
    expect(
        np.allclose(share[present], 1 / present.sum(), atol=1e-6),
        "with your weights the classes get shares "
        f"{np.round(share, 3).tolist()}; each should get 1/{present.sum()}",
    )
    from utils.imbalance import weighted_random_sampler

    drawn = labels[weighted_random_sampler(w, 7000, seed=0)]
    counts = np.bincount(drawn, minlength=7)
    return f"7,000 draws give every emotion about 1,000 faces: {counts.tolist()}."


q2 = Question(
    "q2",
    _check_weights,
    hint="Count each class with np.bincount(labels); an example's weight is 1 / (count of its "
    "class): counts[labels] picks each example's count.",
    solution="""
def example_weights(labels):
    counts = np.bincount(labels)
    weights = 1.0 / counts[labels]
    return weights / weights.sum()
""",
    notebook=NOTEBOOK,
    title="per-example weights for a balanced sampler",
    answer_name="example_weights",
)
