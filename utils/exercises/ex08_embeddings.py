"""Exercises for notebook 08, FaceNet-style embeddings: the triplet loss and a fair threshold."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises import Incorrect, Question, expect, require_function

NOTEBOOK = "08_facenet_embeddings"


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _triplets(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchor, positive and negative embeddings on the unit sphere, some triplets violated."""
    rng = np.random.default_rng(seed)
    anchor = _unit(rng.normal(size=(50, 16)))
    positive = _unit(anchor + rng.normal(scale=0.4, size=anchor.shape))
    negative = _unit(anchor + rng.normal(scale=0.6, size=anchor.shape))
    return anchor, positive, negative


def _reference_triplet(a: np.ndarray, p: np.ndarray, n: np.ndarray, margin: float) -> float:
    d_ap = np.linalg.norm(a - p, axis=1)
    d_an = np.linalg.norm(a - n, axis=1)
    return float(np.mean(np.maximum(d_ap - d_an + margin, 0.0)))


def _check_triplet(answer: Any) -> str:
    loss = require_function(
        answer, "a function my_triplet_loss(anchor, positive, negative, margin)"
    )
    a, p, n = _triplets()
    for margin in (0.2, 0.5):
        got = float(np.asarray(loss(a.copy(), p.copy(), n.copy(), margin)))
        want = _reference_triplet(a, p, n, margin)
        squared = float(
            np.mean(np.maximum(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + margin, 0.0))
        )
        no_hinge = float(np.mean(np.linalg.norm(a - p, axis=1) - np.linalg.norm(a - n, axis=1)))
        if np.isclose(got, no_hinge + margin, atol=1e-6):
            raise Incorrect(
                "without max(0, ...) triplets that are already satisfied push back with "
                "negative loss; clip each triplet's loss at 0"
            )
        if np.isclose(got, squared, atol=1e-6) and not np.isclose(squared, want):
            raise Incorrect("use Euclidean distances (np.linalg.norm), not squared ones")
        expect(
            np.isclose(got, want, atol=1e-5),
            f"with margin={margin} your loss is {got:.4f}; expected {want:.4f}",
        )
    return "the mean of max(0, d(a, p) - d(a, n) + margin): easy triplets cost nothing."


q1 = Question(
    "q1",
    _check_triplet,
    hint="d_ap = np.linalg.norm(anchor - positive, axis=1), the same for the negative; "
    "np.maximum(d_ap - d_an + margin, 0).mean().",
    solution="""
def my_triplet_loss(anchor, positive, negative, margin):
    d_ap = np.linalg.norm(anchor - positive, axis=1)
    d_an = np.linalg.norm(anchor - negative, axis=1)
    return np.mean(np.maximum(d_ap - d_an + margin, 0.0))
""",
    notebook=NOTEBOOK,
    title="the triplet loss",
    answer_name="my_triplet_loss",
)


def _pairs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances of verification pairs: same-person pairs are closer, with overlap."""
    rng = np.random.default_rng(seed)
    same = rng.random(400) < 0.5
    distances = np.where(same, rng.normal(0.7, 0.2, 400), rng.normal(1.2, 0.2, 400))
    return np.clip(distances, 0.0, 2.0), same


def _accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((distances <= threshold) == same))


def _check_threshold(answer: Any) -> str:
    choose = require_function(answer, "a function best_threshold(distances, same)")
    for seed in (0, 1):
        distances, same = _pairs(seed)
        t = float(np.asarray(choose(distances.copy(), same.copy())))
        best = max(_accuracy(distances, same, c) for c in distances)
        got = _accuracy(distances, same, t)
        expect(
            np.isclose(got, best, atol=1e-9),
            f"at your threshold {t:.3f} the accuracy is {got:.1%}; the best threshold for "
            f"these pairs reaches {best:.1%}",
        )
    val_d, val_same = _pairs(2)
    test_d, test_same = _pairs(3)
    t = float(np.asarray(choose(val_d, val_same)))
    fair = _accuracy(test_d, test_same, t)
    tuned = max(_accuracy(test_d, test_same, c) for c in test_d)
    return (
        f"chosen on validation pairs, your threshold scores {fair:.1%} on test pairs; tuned on "
        f"the test pairs themselves it would claim {tuned:.1%} -- that gap is why we choose on "
        "other people."
    )


q2 = Question(
    "q2",
    _check_threshold,
    hint="Try every distance as a threshold ('same' when distance <= t) and keep the one with "
    "the highest accuracy.",
    solution="""
def best_threshold(distances, same):
    accuracies = [np.mean((distances <= t) == same) for t in distances]
    return distances[int(np.argmax(accuracies))]
""",
    notebook=NOTEBOOK,
    title="choose the verification threshold",
    answer_name="best_threshold",
)
