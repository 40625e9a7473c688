"""Exercises for notebook 02, convnets for keypoints: the flip, the masked loss, a small model."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises import (
    Incorrect,
    Question,
    as_array,
    expect,
    expect_close,
    require_function,
    sample_keypoints,
)

NOTEBOOK = "02_convnets_keypoints"


def _complete_face() -> tuple[np.ndarray, np.ndarray]:
    kp = sample_keypoints()
    row = int(np.flatnonzero(~np.isnan(kp.keypoints).any(axis=1))[0])
    return kp.images[row], kp.keypoints[row]


def _check_flip(answer: Any) -> str:
    flip = require_function(answer, "a function my_flip(image, keypoints)")
    from utils.keypoint_augmentation import flip_horizontal_np
    from utils.schema import KEYPOINT_COLUMNS

    image, keypoints = _complete_face()
    out = flip(image.copy(), keypoints.copy())
    expect(
        isinstance(out, tuple | list) and len(out) == 2,
        "return two things: (flipped_image, flipped_keypoints)",
    )
    want_image, want_kp = flip_horizontal_np(image, keypoints)
    expect_close(out[0], want_image, "your flipped image")
    got_kp = as_array(out[1], "your flipped keypoints")
    expect(got_kp.shape == want_kp.shape, f"keypoints have shape {got_kp.shape}; expected (30,)")
    left, right = (KEYPOINT_COLUMNS.index(f"{s}_eye_center_x") for s in ("left", "right"))
    if np.isclose(got_kp[left], want_kp[right], atol=1e-3) and not np.isclose(
        want_kp[left], want_kp[right], atol=1e-3
    ):
        raise Incorrect(
            "the x values are mirrored but left and right were not swapped: after a flip the "
            "subject's left eye (larger x) must be the one on the image's right"
        )
    if np.isclose(got_kp[left], 96.0 - keypoints[right], atol=1e-3):
        raise Incorrect("x' should be 95 - x (pixel centres run 0..95), not 96 - x")
    expect_close(got_kp, want_kp, "your flipped keypoints", atol=1e-3)
    expect(got_kp[left] > got_kp[right], "after your flip the left eye has the smaller x")
    return "the face is mirrored and the subject's left eye still has the larger x."


q1 = Question(
    "q1",
    _check_flip,
    hint="image[:, ::-1] mirrors the pixels; x becomes 95 - x; then every left_* column takes "
    "the value of its right_* twin (utils.keypoint_augmentation.FLIP_PERMUTATION lists them).",
    solution="""
from utils.keypoint_augmentation import FLIP_PERMUTATION


def my_flip(image, keypoints):
    flipped = image[:, ::-1]
    mirrored = keypoints.copy()
    mirrored[0::2] = 95.0 - keypoints[0::2]  # x columns: 95 - x
    return flipped, mirrored[FLIP_PERMUTATION]  # left_* <-> right_*
""",
    notebook=NOTEBOOK,
    title="flip a face and swap left/right keypoints",
    answer_name="my_flip",
)


def _reference_masked_mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    import keras

    from utils.losses import masked_mse

    return float(keras.ops.convert_to_numpy(keras.ops.mean(masked_mse(y_true, y_pred))))


def _check_masked(answer: Any) -> str:
    loss = require_function(answer, "a function my_masked_mse(y_true, y_pred)")
    rng = np.random.default_rng(0)
    kp = sample_keypoints().keypoints[:64].astype(np.float32)  # most rows: 4 of 15 keypoints
    pred = (np.nan_to_num(kp, nan=48.0) + rng.normal(0, 3, kp.shape)).astype(np.float32)
    cases = {
        "the given example": (np.array([[30, 40, np.nan, np.nan]], np.float32), [[33, 36, 99, 99]]),
        "64 sample faces": (kp, pred),
    }
    for name, (y_true, y_pred) in cases.items():
        y_pred = np.asarray(y_pred, np.float32)
        got = float(np.asarray(as_array(loss(y_true.copy(), y_pred.copy()), "your loss")).mean())
        expect(
            np.isfinite(got),
            f"your loss on {name} is NaN: mask the missing targets (np.isnan) before averaging",
        )
        want = _reference_masked_mse(y_true, y_pred)
        if np.isclose(got, float(np.mean(np.nan_to_num(y_pred - y_true) ** 2)), rtol=1e-4):
            if not np.isclose(got, want, rtol=1e-4):
                raise Incorrect(
                    "you count the missing targets as zero errors: divide by the number of "
                    "*labelled* values, not by all of them"
                )
        expect(
            np.isclose(got, want, rtol=1e-4),
            f"on {name} your loss is {got:.4f}; the masked MSE is {want:.4f}",
        )
    return "NaN targets are ignored and the average runs over the labelled values only."


q2 = Question(
    "q2",
    _check_masked,
    hint="present = ~np.isnan(y_true); average (y_pred - y_true)**2 over the present entries "
    "only (y_true[present], y_pred[present]).",
    solution="""
def my_masked_mse(y_true, y_pred):
    present = ~np.isnan(y_true)
    return np.mean((y_pred[present] - y_true[present]) ** 2)
""",
    notebook=NOTEBOOK,
    title="a loss that ignores missing labels",
    answer_name="my_masked_mse",
)
