"""Exercises for notebook 00, the setup and data tour: labels, rare classes, person splits."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises import (
    Incorrect,
    Question,
    expect,
    expect_close,
    require_function,
    sample_fer,
    sample_keypoints,
)

NOTEBOOK = "00_setup_and_data_tour"


def _labelled_per_row(keypoints: np.ndarray) -> np.ndarray:
    return np.isfinite(keypoints).reshape(len(keypoints), 15, 2).all(axis=2).sum(axis=1)


def _check_count(answer: Any) -> str:
    count = require_function(answer, "a function count_labelled(keypoints)")
    # Row 0 has two whole keypoints; row 1 only the x of one, which does not make a keypoint.
    tricky = np.full((2, 30), np.nan, dtype=np.float32)
    tricky[0, :4] = 40.0
    tricky[1, 0] = 40.0
    y = sample_keypoints().keypoints
    for name, data in (("two hand-made rows", tricky), ("the sample faces", y)):
        got = np.asarray(count(data.copy()))
        want = _labelled_per_row(data)
        coordinates = np.isfinite(data).sum(axis=1)
        if got.shape == want.shape and np.array_equal(got, coordinates):
            raise Incorrect(
                "you count coordinates (up to 30 per row); a keypoint is an (x, y) pair, "
                "15 per face, and counts only when both are labelled"
            )
        expect_close(got, want, f"your counts on {name}")
    return f"{int((want == 15).sum())} of {len(want)} sample faces have all 15 keypoints."


q1 = Question(
    "q1",
    _check_count,
    hint="Reshape the (N, 30) array to (N, 15, 2), ask np.isfinite, and a keypoint counts "
    "only when both its x and y are there: .all(axis=2), then .sum(axis=1).",
    solution="""
def count_labelled(keypoints):
    present = np.isfinite(keypoints).reshape(len(keypoints), 15, 2)
    return present.all(axis=2).sum(axis=1)
""",
    notebook=NOTEBOOK,
    title="count the labelled keypoints per face",
    answer_name="count_labelled",
)


def _check_leak(answer: Any) -> str:
    both = require_function(answer, "a function people_in_both(subjects, train_idx, test_idx)")
    subjects = sample_keypoints().subjects
    expect(subjects is not None, "the sample data lacks subjects.csv; regenerate it")
    rows = np.arange(len(subjects))
    from utils.splits import split_by_subject

    # A random row split leaks people; split_by_subject does not.
    order = np.random.default_rng(0).permutation(rows)
    leaky_train, leaky_test = np.sort(order[:800]), np.sort(order[800:])
    want_leaky = set(subjects[leaky_train]) & set(subjects[leaky_test])
    got = both(subjects, leaky_train, leaky_test)
    got_set = {str(p) for p in got} if got is not None else set()
    expect(
        got_set == {str(p) for p in want_leaky},
        f"on a random row split you found {len(got_set)} people in both splits; "
        f"there are {len(want_leaky)}",
    )
    train_idx, _, test_idx = split_by_subject(subjects, seed=0)
    clean = both(subjects, train_idx, test_idx)
    expect(
        clean is not None and len(clean) == 0,
        "split_by_subject puts nobody in both splits, but your function found someone",
    )
    return (
        f"a random row split shares {len(want_leaky)} of {len(set(subjects))} people between "
        "train and test; split_by_subject shares none."
    )


q2 = Question(
    "q2",
    _check_leak,
    hint="Index the subjects with each split's rows, turn both into sets, and intersect them (&).",
    solution="""
def people_in_both(subjects, train_idx, test_idx):
    return set(subjects[train_idx]) & set(subjects[test_idx])
""",
    notebook=NOTEBOOK,
    title="find people who sit in two splits",
    answer_name="people_in_both",
)


def _check_rarest(answer: Any) -> str:
    from utils.schema import EMOTIONS

    rarest_of = require_function(answer, "a function rarest_emotion(labels)")
    labels = sample_fer().labels
    counts = np.bincount(labels, minlength=len(EMOTIONS))
    rarest = EMOTIONS[int(np.argmin(counts))]

    def name_for(y: np.ndarray) -> str:
        got = rarest_of(y.copy())
        expect(
            isinstance(got, str) and got.strip().lower() in EMOTIONS,
            f"return one of the emotion names {EMOTIONS}, not {got!r}",
        )
        return got.strip().lower()

    name = name_for(labels)
    expect(
        name == rarest,
        f"'{name}' has {counts[EMOTIONS.index(name)]} training faces; another emotion has fewer",
    )
    # Other label sets: the answer must come from the labels, not from memory.
    fear_rarest = np.repeat(np.arange(len(EMOTIONS)), [5, 4, 1, 6, 5, 4, 3])
    expect(
        name_for(fear_rarest) == "fear",
        "for labels in which 'fear' has the fewest faces your function does not answer "
        "'fear': count the labels it is given",
    )
    no_neutral = np.repeat(np.arange(len(EMOTIONS) - 1), 3)
    expect(
        name_for(no_neutral) == "neutral",
        "when no face is 'neutral' it is the rarest emotion (0 faces), but np.bincount(labels) "
        "stops at the largest label present: pass minlength=len(EMOTIONS)",
    )
    return (
        f"'{rarest}' has {counts.min()} of {counts.sum()} training faces "
        f"({counts.min() / counts.sum():.1%})."
    )


q3 = Question(
    "q3",
    _check_rarest,
    hint="np.bincount(labels, minlength=len(EMOTIONS)) counts the faces per class (an emotion "
    "with no faces counts 0); EMOTIONS[argmin] names the rarest.",
    solution="""
from utils.schema import EMOTIONS


def rarest_emotion(labels):
    counts = np.bincount(labels, minlength=len(EMOTIONS))
    return EMOTIONS[int(np.argmin(counts))]
""",
    notebook=NOTEBOOK,
    title="name the rarest emotion",
    answer_name="rarest_emotion",
)
