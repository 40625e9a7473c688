"""Exercises for notebook 03, batch normalization: the forward pass and the moving averages."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises import Incorrect, Question, as_array, expect, expect_close, require_function

NOTEBOOK = "03_batch_norm"


def _keras_bn(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    import keras

    layer = keras.layers.BatchNormalization(epsilon=eps)
    layer.build(x.shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    return np.asarray(keras.ops.convert_to_numpy(layer(x, training=True)), dtype=np.float64)


def _check_forward(answer: Any) -> str:
    bn = require_function(answer, "a function batch_norm(x, gamma, beta, eps)")
    rng = np.random.default_rng(0)
    # 32 examples x 5 features on very different scales, like unnormalised activations.
    x = (rng.normal(size=(32, 5)) * [1, 10, 0.1, 100, 3] + [0, 5, -2, 50, 1]).astype(np.float32)
    gamma = np.array([1.0, 2.0, 0.5, 1.0, 3.0], np.float32)
    beta = np.array([0.0, 1.0, -1.0, 0.5, 0.0], np.float32)
    eps = 1e-3
    got = as_array(bn(x.copy(), gamma, beta, eps), "your output")
    want = _keras_bn(x, gamma, beta, eps)
    expect(got.shape == want.shape, f"your output has shape {got.shape}; expected {x.shape}")
    per_row = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    if np.allclose(got, per_row * gamma + beta, atol=1e-3):
        raise Incorrect(
            "you normalised each example over its features (axis=1); batch norm normalises "
            "each feature over the batch (axis=0)"
        )
    expect_close(got, want, "your output", atol=1e-3, rtol=1e-3)
    return "each feature is standardised over the batch, then scaled by gamma and shifted by beta, as Keras does."


q1 = Question(
    "q1",
    _check_forward,
    hint="mean and var over axis=0 (the batch), x_hat = (x - mean) / sqrt(var + eps), "
    "then gamma * x_hat + beta.",
    solution="""
def batch_norm(x, gamma, beta, eps):
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta
""",
    notebook=NOTEBOOK,
    title="batch norm's forward pass in training",
    answer_name="batch_norm",
)


def _check_moving(answer: Any) -> str:
    update = require_function(answer, "a function update_moving_mean(moving, batch_mean, momentum)")
    import keras

    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(64, 4)).astype(np.float32)
    for momentum in (0.99, 0.9):
        layer = keras.layers.BatchNormalization(momentum=momentum)
        layer.build(x.shape)
        before = np.asarray(keras.ops.convert_to_numpy(layer.moving_mean), dtype=np.float64)
        layer(x, training=True)
        after = np.asarray(keras.ops.convert_to_numpy(layer.moving_mean), dtype=np.float64)
        got = as_array(update(before.copy(), x.mean(axis=0), momentum), "your moving mean")
        swapped = (1 - momentum) * before + momentum * x.mean(axis=0)
        if got.shape == after.shape and np.allclose(got, swapped, atol=1e-4):
            raise Incorrect(
                "momentum weighs the *old* moving value: moving = momentum * moving + "
                "(1 - momentum) * batch_mean"
            )
        expect_close(got, after, f"your moving mean (momentum={momentum})", atol=1e-4)
    steps = int(np.ceil(np.log(0.05) / np.log(0.99)))
    return (
        f"with momentum 0.99 the moving mean needs about {steps} steps to forget its start "
        "(95%); a short run never gets there, hence momentum=0.9 in fer_cnn."
    )


q2 = Question(
    "q2",
    _check_moving,
    hint="The moving value keeps `momentum` of itself and takes (1 - momentum) of the batch's.",
    solution="""
def update_moving_mean(moving, batch_mean, momentum):
    return momentum * moving + (1 - momentum) * batch_mean
""",
    notebook=NOTEBOOK,
    title="the moving mean used at inference",
    answer_name="update_moving_mean",
)
