"""utils.imbalance: class weights, weighted and balanced sampling, undersampling."""

from __future__ import annotations

import numpy as np
import pytest

from utils.imbalance import (
    balanced_dataset,
    balanced_subset_indices,
    class_weights,
    per_sample_weights,
    weighted_random_sampler,
)

IMBALANCED = np.repeat(np.arange(7), [400, 20, 300, 900, 500, 250, 600])


def test_class_weights_give_every_class_the_same_total() -> None:
    weights = class_weights(IMBALANCED)
    counts = np.bincount(IMBALANCED)
    totals = [weights[c] * counts[c] for c in range(7)]
    np.testing.assert_allclose(totals, totals[0])
    assert np.mean([weights[c] for c in IMBALANCED]) == pytest.approx(1.0)
    assert weights[1] == max(weights.values())  # disgust, the rarest, weighs most
    partial = class_weights(np.array([0, 0, 3]))
    assert partial[1] == 0.0 and partial[3] == pytest.approx(3 / (2 * 1))
    with pytest.raises(ValueError, match="n_classes"):
        class_weights(np.array([0, 9]))


def test_per_sample_weights_balance_a_weighted_sampler() -> None:
    w = per_sample_weights(IMBALANCED)
    assert w.shape == IMBALANCED.shape and w.sum() == pytest.approx(1.0)
    drawn = IMBALANCED[weighted_random_sampler(w, 7000, seed=0)]
    shares = np.bincount(drawn, minlength=7) / 7000
    np.testing.assert_allclose(shares, 1 / 7, atol=0.02)


def test_per_class_weights_in_a_sampler_only_draw_the_first_rows() -> None:
    """The seeds' WeightedRandomSampler bug: 7 class weights are read as 7 example weights."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(IMBALANCED)
    per_class = [class_weights(labels)[c] for c in range(7)]
    indices = weighted_random_sampler(per_class, 7000, seed=0)
    assert set(np.unique(indices)) <= set(range(7))
    drawn = labels[indices]
    assert len(np.unique(drawn)) <= len(np.unique(labels[:7]))


def test_weighted_random_sampler_rejects_bad_weights() -> None:
    with pytest.raises(ValueError, match="weights"):
        weighted_random_sampler([0.0, 0.0], 5)
    with pytest.raises(ValueError, match="weights"):
        weighted_random_sampler([1.0, -1.0], 5)
    with pytest.raises(ValueError, match="num_samples"):
        weighted_random_sampler([1.0], 0)


def test_balanced_dataset_draws_classes_equally() -> None:
    x = np.zeros((len(IMBALANCED), 4, 4, 1), np.float32)
    ds = balanced_dataset(x, IMBALANCED, batch_size=100, seed=1)
    labels = np.concatenate([b[1].numpy() for b in ds.take(70)])
    shares = np.bincount(labels, minlength=7) / len(labels)
    np.testing.assert_allclose(shares, 1 / 7, atol=0.02)


def test_balanced_subset_indices() -> None:
    idx = balanced_subset_indices(IMBALANCED, seed=0)
    assert np.all(np.bincount(IMBALANCED[idx]) == 20)
    assert len(np.unique(idx)) == len(idx)
    idx10 = balanced_subset_indices(IMBALANCED, 10, seed=0)
    assert np.all(np.bincount(IMBALANCED[idx10]) == 10)
    with pytest.raises(ValueError, match=r"classes \[1\]"):
        balanced_subset_indices(IMBALANCED, 50)
