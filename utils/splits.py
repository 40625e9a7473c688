"""Splitting data so that no person appears in two splits.

Pictures of one person are near-duplicates: a random split by row would put a person's face
in training and the same face in the test set, and the test score would flatter the model.
:func:`split_by_subject` deals whole people into the splits instead.

FER-2013 comes with its own parts (the ``Usage`` column): :func:`load_fer_splits` turns them
into train/validation/test arrays, holding out a stratified share of Training
(:func:`stratified_split`) when the file has no PrivateTest part.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def split_by_subject(
    subjects: Iterable[object] | np.ndarray,
    fractions: tuple[float, ...] = (0.7, 0.15, 0.15),
    seed: int = 42,
) -> tuple[np.ndarray, ...]:
    """Split row indices so that no person appears in two splits.

    Frames of one person are near-duplicates: a random row split would leak faces from train
    into test and flatter the model. People are shuffled (deterministically, by ``seed``) and
    dealt into splits so that each split gets roughly ``fractions`` of the *rows*. Returns one
    sorted int64 index array per fraction, e.g. ``train_idx, val_idx, test_idx``.
    """
    subject_ids = np.asarray(list(subjects) if not isinstance(subjects, np.ndarray) else subjects)
    if subject_ids.ndim != 1:
        raise ValueError(
            f"subjects: expected a 1-D sequence of person ids, got shape {subject_ids.shape}"
        )
    if subject_ids.size and pd.isna(pd.Series(subject_ids, dtype=object)).any():
        row = int(np.flatnonzero(pd.isna(pd.Series(subject_ids, dtype=object)).to_numpy())[0])
        raise ValueError(f"subjects: row {row + 1} has no person id (None/NaN)")
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or fr.size < 2 or (fr < 0).any() or not np.isclose(fr.sum(), 1.0, atol=1e-6):
        raise ValueError(
            f"fractions={tuple(fractions)}: expected two or more non-negative numbers summing to 1"
        )
    people, inverse, counts = np.unique(
        subject_ids.astype(str), return_inverse=True, return_counts=True
    )
    wanted = int((fr > 0).sum())
    if len(people) < wanted:
        raise ValueError(
            f"subjects: {len(people)} distinct people cannot fill {wanted} non-empty splits; "
            "use fewer splits or more people"
        )
    order = np.random.default_rng(seed).permutation(len(people))
    # Each person goes to the split where the middle of its rows falls on the cumulative scale.
    ends = np.cumsum(counts[order])
    middles = (ends - counts[order] / 2) / ends[-1]
    bounds = np.cumsum(fr)[:-1]
    assignment = np.searchsorted(bounds, middles, side="right")
    # Small data: make sure every split with a positive fraction gets at least one person.
    for k in np.flatnonzero(fr > 0):
        if not (assignment == k).any():
            sizes = np.bincount(assignment, minlength=fr.size)
            donor = int(np.argmax(sizes))
            members = np.flatnonzero(assignment == donor)
            # Move the donor's person nearest to split k's side (keeps the cut contiguous).
            assignment[members[0] if k < donor else members[-1]] = k
    split_of_person = np.empty(len(people), np.int64)
    split_of_person[order] = assignment
    row_split = split_of_person[inverse]
    return tuple(np.flatnonzero(row_split == k).astype(np.int64) for k in range(fr.size))


# --------------------------------------------------------------------------------------------
# FER-2013: train / validation / test, whatever the file holds
# --------------------------------------------------------------------------------------------
@dataclass
class FerSplits:
    """Train/validation/test arrays and a sentence saying where each came from."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    names: list[str]
    description: str

    def items(self) -> list[tuple[str, tuple[np.ndarray, np.ndarray]]]:
        return [("train", self.train), ("val", self.val), ("test", self.test)]


def check_class_ids(labels: np.ndarray) -> np.ndarray:
    """``labels`` as int64 class ids (a non-empty 1-D array of ints >= 0), or ValueError."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels: expected a non-empty 1-D array of class ids, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integer class ids, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"labels: class ids must be >= 0, found {int(labels.min())}")
    return labels.astype(np.int64, copy=False)


def stratified_split(
    labels: np.ndarray, fraction: float, *, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: ``fraction`` of every class held out (at least one).

    scikit-learn's ``train_test_split(..., stratify=labels)`` does nearly this; it is not used
    because it rounds the shares differently, refuses a class of one example (here it stays
    whole in ``keep``) and draws other rows from the same seed, which would change the
    notebooks' splits and numbers.
    """
    labels = check_class_ids(labels)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction!r}: expected a number between 0 and 1")
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = max(1, round(fraction * len(idx))) if len(idx) > 1 else 0
        held.append(idx[:n])
    held_out = np.sort(np.concatenate(held))
    keep = np.setdiff1d(np.arange(len(labels)), held_out)
    return keep, held_out


def _subset(
    x: np.ndarray, y: np.ndarray, limit: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if limit is None or limit >= len(y):
        return x, y
    if int(limit) != limit or limit < 1:
        raise ValueError(f"limit={limit!r}: expected a positive integer")
    idx = np.sort(np.random.default_rng(seed).permutation(len(y))[: int(limit)])
    return x[idx], y[idx]


def load_fer_splits(
    path: str | os.PathLike[str],
    *,
    val_fraction: float = 0.1,
    seed: int = 42,
    limit: int | None = None,
) -> FerSplits:
    """FER-2013 as train/validation/test, whatever the file holds.

    With all three Usage values (the sample data, Kaggle's full CSV): Training /
    PublicTest / PrivateTest. Without PrivateTest (the real data here, and the msambare
    folders' ``test/`` read as PublicTest): test on PublicTest and validate on a stratified
    ``val_fraction`` of Training. ``limit`` caps each split (a random subset) for quick runs.
    """
    from utils.data_fer2013 import load_fer2013

    fer = load_fer2013(path, split="all")  # decode once, then split by Usage
    usage = np.asarray(fer.usage)

    def part(name: str) -> tuple[np.ndarray, np.ndarray]:
        mask = usage == name
        return fer.images[mask], fer.labels[mask]

    x_tr, y_tr = part("Training")
    public, private = part("PublicTest"), part("PrivateTest")
    if len(y_tr) == 0 or len(public[1]) == 0:
        raise ValueError(
            f"{path}: expected Training and PublicTest images, found "
            f"{dict(zip(*np.unique(usage, return_counts=True), strict=True))}"
        )
    if len(private[1]):
        val, test = public, private
        description = "train = Training, val = PublicTest, test = PrivateTest"
    else:
        keep, held = stratified_split(y_tr, val_fraction, seed=seed)
        val = (x_tr[held], y_tr[held])
        x_tr, y_tr = x_tr[keep], y_tr[keep]
        test = public
        description = (
            f"no PrivateTest in {Path(path).name}: train = {1 - val_fraction:.0%} of Training, "
            f"val = the other {val_fraction:.0%} (stratified), test = PublicTest"
        )
    return FerSplits(
        train=_subset(x_tr, y_tr, limit, seed),
        val=_subset(val[0], val[1], limit, seed + 1),
        test=_subset(test[0], test[1], limit, seed + 2),
        names=list(fer.names),
        description=description,
    )


def fer_splits_of_run(state: Mapping[str, Any]) -> FerSplits:
    """The split a FER-2013 training run used, drawn again from what its ``state.json`` records
    (the data, the seed, ``settings["val_fraction"]`` and ``settings["limit"]``)."""
    settings = state["settings"]
    return load_fer_splits(
        state["data"],
        val_fraction=float(settings["val_fraction"]),
        seed=int(state["seed"]),
        limit=settings.get("limit"),
    )
