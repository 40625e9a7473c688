"""utils.splits: split_by_subject keeps every person in one split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.data_fer2013 import write_fer2013_csv
from utils.splits import fer_splits_of_run, load_fer_splits, split_by_subject, stratified_split


def _people(n_people: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 30, n_people)  # people with very different numbers of frames
    return np.repeat([f"person_{i}" for i in range(n_people)], counts)


def test_split_by_subject_keeps_people_together() -> None:
    subjects = _people()
    train, val, test = split_by_subject(subjects)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(subjects)))
    sets = [set(subjects[idx]) for idx in (train, val, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    fractions = np.array([len(train), len(val), len(test)]) / len(subjects)
    np.testing.assert_allclose(fractions, [0.7, 0.15, 0.15], atol=0.06)


def test_split_by_subject_is_deterministic() -> None:
    subjects = _people()
    a = split_by_subject(subjects, seed=1)
    b = split_by_subject(list(subjects), seed=1)
    c = split_by_subject(subjects, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert all(x.dtype == np.int64 for x in a)


def test_split_by_subject_fills_every_split_with_few_people() -> None:
    subjects = ["a"] * 50 + ["b"] + ["c"]
    splits = split_by_subject(subjects, seed=0)
    assert all(len(s) > 0 for s in splits)
    two = split_by_subject(subjects, fractions=(0.5, 0.5))
    assert len(two) == 2


@pytest.mark.parametrize(
    ("subjects", "fractions", "message"),
    [
        (["a", "b", "c"], (0.7, 0.2, 0.2), r"summing to 1"),
        (["a", "b", "c"], (1.2, -0.2), r"non-negative"),
        (["a", "b"], (0.7, 0.15, 0.15), r"2 distinct people cannot fill 3"),
        (["a", None, "b", "c"], (0.7, 0.15, 0.15), r"row 2 has no person id"),
    ],
)
def test_split_by_subject_errors(subjects: list, fractions: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        split_by_subject(subjects, fractions=fractions)


# --------------------------------------------------------------------------------------------
# FER-2013: stratified_split and load_fer_splits
# --------------------------------------------------------------------------------------------

IMBALANCED = np.repeat(np.arange(7), [400, 20, 300, 900, 500, 250, 600])


def test_stratified_split_holds_out_each_class() -> None:
    keep, held = stratified_split(IMBALANCED, 0.1, seed=0)
    assert len(np.intersect1d(keep, held)) == 0 and len(keep) + len(held) == len(IMBALANCED)
    np.testing.assert_allclose(
        np.bincount(IMBALANCED[held]), np.round(np.bincount(IMBALANCED) * 0.1), atol=1
    )


def _write_csv(path: Path, usages: list[str], n_each: int = 21) -> None:
    rng = np.random.default_rng(0)
    n = n_each * len(usages)
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    labels = np.arange(n) % 7
    write_fer2013_csv(path, images, labels, [u for u in usages for _ in range(n_each)])


def test_load_fer_splits_with_private_test(tmp_path: Path) -> None:
    _write_csv(tmp_path / "fer2013.csv", ["Training", "PublicTest", "PrivateTest"])
    splits = load_fer_splits(tmp_path / "fer2013.csv")
    assert [len(s[1]) for _, s in splits.items()] == [21, 21, 21]
    assert "test = PrivateTest" in splits.description
    assert splits.names[1] == "disgust"


def test_load_fer_splits_without_private_test_validates_on_training(tmp_path: Path) -> None:
    _write_csv(tmp_path / "fer2013.csv", ["Training", "PublicTest"], n_each=70)
    splits = load_fer_splits(tmp_path / "fer2013.csv", val_fraction=0.1, seed=0)
    assert len(splits.test[1]) == 70  # PublicTest becomes the test set
    assert len(splits.val[1]) == 7 and len(splits.train[1]) == 63
    assert sorted(splits.val[1].tolist()) == list(range(7))  # one of each class
    assert "no PrivateTest" in splits.description
    limited = load_fer_splits(tmp_path / "fer2013.csv", limit=20)
    assert len(limited.train[1]) == 20 and len(limited.test[1]) == 20


def test_a_runs_split_is_drawn_again_from_its_state(tmp_path: Path) -> None:
    _write_csv(tmp_path / "fer2013.csv", ["Training", "PublicTest"], n_each=70)
    state = {
        "data": str(tmp_path / "fer2013.csv"),
        "seed": 3,
        "settings": {"val_fraction": 0.2, "limit": 30},
    }
    again = fer_splits_of_run(state)
    direct = load_fer_splits(tmp_path / "fer2013.csv", val_fraction=0.2, seed=3, limit=30)
    for (_, (x1, y1)), (_, (x2, y2)) in zip(again.items(), direct.items(), strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert len(again.train[1]) == 30


def test_load_fer_splits_on_sample_data(sample_data: Path) -> None:
    usage = pd.read_csv(sample_data / "fer2013" / "fer2013.csv", usecols=["Usage"])["Usage"]
    counts = usage.value_counts()
    splits = load_fer_splits(sample_data / "fer2013")
    sizes = {name: len(s[1]) for name, s in splits.items()}
    assert sizes == {
        "train": counts["Training"],
        "val": counts["PublicTest"],
        "test": counts["PrivateTest"],
    }
    assert splits.train[0].shape[1:] == (48, 48, 1)


@pytest.mark.slow
@pytest.mark.real_data
def test_load_fer_splits_on_the_real_zip(shared_data: Path) -> None:
    """The real copy has no PrivateTest: test on PublicTest, validate on 10% of Training."""
    splits = load_fer_splits(shared_data / "fer2013" / "fer2013_train_publictest.zip")
    assert len(splits.test[1]) == 3589
    assert len(splits.train[1]) + len(splits.val[1]) == 28707
    assert abs(len(splits.val[1]) - 2871) < 10
