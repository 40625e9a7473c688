"""Exercises for notebook 05, augmentation and input pipelines: a tf.data pipeline, a flip."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises import Incorrect, Question, as_array, expect, require_function, sample_fer

NOTEBOOK = "05_augmentation_and_pipelines"


def _epoch(dataset: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs, ys = [], []
    for element in dataset:
        expect(
            isinstance(element, tuple | list) and len(element) == 2,
            "each element of your dataset should be an (images, labels) batch",
        )
        xs.append(as_array(element[0], "a batch of images"))
        ys.append(as_array(element[1], "a batch of labels"))
    return xs, ys


def _check_pipeline(answer: Any) -> str:
    make = require_function(answer, "a function make_pipeline(images, labels, batch_size, seed)")
    import tensorflow as tf

    fer = sample_fer()
    images, labels = fer.images[:200], fer.labels[:200]
    ds = make(images, labels, 32, 7)
    expect(isinstance(ds, tf.data.Dataset), f"return a tf.data.Dataset, got {type(ds).__name__}")
    xs, ys = _epoch(ds)
    sizes = [len(x) for x in xs]
    expect(
        len(xs) == 7 and sizes[:-1] == [32] * 6,
        f"200 faces in batches of 32 make 7 batches (the last one of 8); you gave {sizes}",
    )
    # Every face exactly once per epoch: compare each image's pixel sum with its label.
    seen = sorted(
        zip(
            np.concatenate(ys).tolist(), np.round(np.concatenate(xs).sum((1, 2, 3)), 3), strict=True
        )
    )
    want = sorted(
        zip(labels.tolist(), np.round(images.astype(np.float64).sum((1, 2, 3)), 3), strict=True)
    )
    expect(len(seen) == 200, f"an epoch should hold all 200 faces once, yours has {len(seen)}")
    expect(seen == want, "an epoch should hold every face exactly once, with its own label")
    xs2, _ = _epoch(ds)
    expect(
        not np.array_equal(np.concatenate(xs), np.concatenate(xs2)),
        "two epochs came in the same order: shuffle, with a new order every epoch",
    )
    xs_again, _ = _epoch(make(images, labels, 32, 7))
    if not np.array_equal(np.concatenate(xs), np.concatenate(xs_again)):
        raise Incorrect("two pipelines built with the same seed differ: pass seed to shuffle()")
    return "batches of the right size, every face once per epoch, a new order each epoch, reproducible."


q1 = Question(
    "q1",
    _check_pipeline,
    hint="tf.data.Dataset.from_tensor_slices((images, labels)), then .shuffle(len(labels), "
    "seed=seed), .batch(batch_size), .prefetch(tf.data.AUTOTUNE).",
    solution="""
import tensorflow as tf


def make_pipeline(images, labels, batch_size, seed):
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(labels), seed=seed)  # a new order every epoch
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
""",
    notebook=NOTEBOOK,
    title="a shuffled, batched, prefetched tf.data pipeline",
    answer_name="make_pipeline",
)


def _check_flip(answer: Any) -> str:
    flip = require_function(answer, "a function random_flip_batch(images, seed)")
    images = sample_fer().images[:64]
    mirrored = images[:, :, ::-1]
    out = as_array(flip(images.copy(), 3), "your flipped batch")
    expect(out.shape == images.shape, f"your batch has shape {out.shape}; expected {images.shape}")
    same = np.isclose(out, images, atol=1e-6).all(axis=(1, 2, 3))
    flipped = np.isclose(out, mirrored, atol=1e-6).all(axis=(1, 2, 3))
    if (np.isclose(out, images[:, ::-1], atol=1e-6).all(axis=(1, 2, 3)) & ~same).any():
        raise Incorrect("you flipped faces upside down: flip left-right (the width axis, axis 2)")
    expect(
        (same | flipped).all(),
        f"{int((~(same | flipped)).sum())} faces are neither the original nor its mirror image",
    )
    expect(
        10 < flipped.sum() < 54,
        f"{int(flipped.sum())} of 64 faces were flipped; each should be flipped with probability 0.5",
    )
    again = as_array(flip(images.copy(), 3), "your flipped batch")
    expect(np.array_equal(out, again), "the same seed should flip the same faces")
    other = as_array(flip(images.copy(), 4), "your flipped batch")
    expect(not np.array_equal(out, other), "another seed should flip other faces")
    return f"{int(flipped.sum())} of 64 faces mirrored; the same seed flips the same faces."


q2 = Question(
    "q2",
    _check_flip,
    hint="tf.random.stateless_uniform([n], seed=[seed, 0]) < 0.5 picks the faces; "
    "tf.where(pick[:, None, None, None], tf.reverse(images, axis=[2]), images).",
    solution="""
import tensorflow as tf


def random_flip_batch(images, seed):
    images = tf.convert_to_tensor(images)
    pick = tf.random.stateless_uniform([tf.shape(images)[0]], seed=[seed, 0]) < 0.5
    return tf.where(pick[:, None, None, None], tf.reverse(images, axis=[2]), images)
""",
    notebook=NOTEBOOK,
    title="a reproducible random flip for a batch",
    answer_name="random_flip_batch",
)
