"""Class imbalance (notebook 06): weights that make rare classes count, and balanced sampling.

FER-2013 has 16x more *happy* faces than *disgust* ones. Three remedies, each a function here:

* weight the loss -- :func:`class_weights` for ``model.fit(class_weight=...)``;
* sample evenly -- :func:`balanced_dataset` (a ``tf.data`` stream in which every class is
  equally likely), or :func:`per_sample_weights` + :func:`weighted_random_sampler` (what
  PyTorch's ``WeightedRandomSampler`` does);
* undersample -- :func:`balanced_subset_indices`.

Labels are int class ids (FER order, ``utils.schema.EMOTIONS``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from utils.augmentation import AugmentConfig
from utils.pipelines import AUTOTUNE, augment_batches, check_images_labels, check_positive
from utils.schema import EMOTIONS
from utils.splits import check_class_ids


def _check_labels(labels: np.ndarray, n_classes: int | None) -> tuple[np.ndarray, int]:
    labels = check_class_ids(labels)
    k = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    if labels.max() >= k:
        raise ValueError(f"labels: found class {int(labels.max())} but n_classes={n_classes}")
    return labels.astype(np.int64, copy=False), k


def class_weights(labels: np.ndarray, n_classes: int | None = len(EMOTIONS)) -> dict[int, float]:
    """``{class: weight}`` for ``model.fit(class_weight=...)``: rare classes count more.

    weight = N / (n_classes_present * count), computed by scikit-learn's
    ``compute_class_weight("balanced")``: every class contributes the same total weight and
    the average weight per example is 1. A class with no examples gets 0 (it never occurs, so
    its weight is never used). ``n_classes``: how many classes the model has (default: the
    seven FER emotions).
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels, k = _check_labels(labels, n_classes)
    present = np.unique(labels)
    balanced = compute_class_weight("balanced", classes=present, y=labels)
    weights = dict.fromkeys(range(k), 0.0)
    weights.update({int(c): float(w) for c, w in zip(present, balanced, strict=True)})
    return weights


def per_sample_weights(labels: np.ndarray, n_classes: int | None = len(EMOTIONS)) -> np.ndarray:
    """One weight per *example* (1 / its class's count), summing to 1.

    This is what a weighted sampler needs (PyTorch's ``WeightedRandomSampler`` included):
    drawing example i with probability ``w[i]`` gives every class the same share.
    """
    labels, k = _check_labels(labels, n_classes)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    weights = 1.0 / counts[labels]
    return weights / weights.sum()


def weighted_random_sampler(
    weights: Sequence[float] | np.ndarray, num_samples: int, *, seed: int = 42
) -> np.ndarray:
    """Indices drawn like PyTorch's ``WeightedRandomSampler(weights, num_samples)``.

    Index i (0 <= i < len(weights)) is drawn with probability ``weights[i] / sum(weights)``,
    with replacement. The sampler knows nothing about classes: pass *per-class* weights
    (7 numbers) by mistake and it happily returns indices 0-6 only -- the first seven
    examples of the data set, over and over. Notebook 06 shows the resulting histogram.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            "weights: expected a 1-D array of non-negative numbers with a positive sum"
        )
    num_samples = check_positive("num_samples", num_samples)
    rng = np.random.default_rng(seed)
    return rng.choice(len(w), size=num_samples, replace=True, p=w / w.sum())


def balanced_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 64,
    augment: bool | AugmentConfig | keras.layers.Layer = False,
    seed: int = 42,
    num_parallel_calls: int | None = AUTOTUNE,
) -> tf.data.Dataset:
    """An endless ``tf.data`` stream in which every present class is equally likely.

    One dataset per class (each shuffled and repeated), mixed by
    ``tf.data.Dataset.sample_from_datasets`` with equal weights: rare classes are repeated,
    frequent ones under-used. The stream never ends, so give ``model.fit`` a
    ``steps_per_epoch`` (for example ``len(labels) // batch_size``).
    """
    images, checked = check_images_labels(images, labels)
    assert checked is not None
    labels = checked
    batch_size = check_positive("batch_size", batch_size)
    classes = np.unique(labels)
    if len(classes) == 0:
        raise ValueError("labels: empty")
    per_class = []
    for i, c in enumerate(classes):
        mask = labels == c
        ds = tf.data.Dataset.from_tensor_slices((images[mask], labels[mask]))
        per_class.append(ds.shuffle(int(mask.sum()), seed=seed + i).repeat())
    ds = tf.data.Dataset.sample_from_datasets(
        per_class, weights=[1.0 / len(classes)] * len(classes), seed=seed
    )
    ds = augment_batches(ds.batch(batch_size), augment, seed, num_parallel_calls)
    return ds.prefetch(AUTOTUNE)


def balanced_subset_indices(
    labels: np.ndarray, per_class: int | None = None, *, seed: int = 42
) -> np.ndarray:
    """Row indices of a balanced subset: ``per_class`` examples of every present class.

    ``per_class=None`` takes as many as the rarest class has (undersampling). Rows are drawn
    without replacement, so asking for more than a class has raises ValueError.
    """
    labels, k = _check_labels(labels, None)
    counts = np.bincount(labels, minlength=k)
    present = np.flatnonzero(counts)
    n = int(counts[present].min()) if per_class is None else check_positive("per_class", per_class)
    short = [int(c) for c in present if counts[c] < n]
    if short:
        raise ValueError(
            f"per_class={n}: classes {short} have only {[int(counts[c]) for c in short]} examples"
        )
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=n, replace=False) for c in present]
    return np.sort(np.concatenate(chosen))
