"""Exercises for notebook 01, the single-layer keypoint net: scaled targets and the baseline."""

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

NOTEBOOK = "01_single_layer_keypoints"


def _check_scaling(answer: Any) -> str:
    to_scaled = require_function(answer, "a function to_scaled(keypoints)")
    y = sample_keypoints().keypoints
    got = as_array(to_scaled(y.copy()), "your scaled keypoints")
    want = (y.astype(np.float64) - 48.0) / 48.0
    finite = np.isfinite(got) & np.isfinite(want)
    if got.shape == want.shape and finite.any() and np.nanmin(got) >= 0 and np.nanmax(got) <= 1:
        raise Incorrect(
            "your targets lie in [0, 1]: centre them on 0 as well (subtract 48, then divide by 48)"
        )
    expect_close(got, want, "your scaled keypoints")
    return (
        f"scaled targets lie in [{np.nanmin(want):.2f}, {np.nanmax(want):.2f}]; "
        "p * 48 + 48 turns predictions back into pixels."
    )


q1 = Question(
    "q1",
    _check_scaling,
    hint="The image is 96 pixels wide, so its centre is at 48: subtract it, then divide by 48.",
    solution="""
def to_scaled(keypoints):
    return (keypoints - 48.0) / 48.0
""",
    notebook=NOTEBOOK,
    title="scale the targets to about [-1, 1]",
    answer_name="to_scaled",
)


def _check_baseline(answer: Any) -> str:
    baseline = require_function(answer, "a function mean_baseline_rmse(y_train, y_val)")
    from utils.metrics import rmse_pixels
    from utils.splits import split_by_subject

    kp = sample_keypoints()
    train, val = split_by_subject(kp.subjects, (0.8, 0.2), seed=0)
    y_train, y_val = kp.keypoints[train], kp.keypoints[val]  # NaN where a label is missing
    want = rmse_pixels(y_val, np.tile(np.nanmean(y_train, axis=0), (len(y_val), 1)))
    got = float(np.asarray(baseline(y_train.copy(), y_val.copy())))
    expect(
        np.isfinite(got),
        "your RMSE is NaN: missing labels are NaN, so use np.nanmean for the mean face and "
        "skip the missing targets when you average the squared errors",
    )
    peeked = rmse_pixels(y_val, np.tile(np.nanmean(y_val, axis=0), (len(y_val), 1)))
    expect(
        not np.isclose(got, peeked, atol=1e-4) or np.isclose(peeked, want, atol=1e-4),
        "you took the mean of the *validation* faces: the baseline may only learn from training",
    )
    expect(
        np.isclose(got, want, atol=1e-3),
        f"your baseline RMSE is {got:.3f} px; expected {want:.3f} px (root of the mean squared "
        "error over the labelled coordinates)",
    )
    return f"the mean face misses by {want:.2f} px: every model must beat that."


q2 = Question(
    "q2",
    _check_baseline,
    hint="np.nanmean(y_train, axis=0) is the mean face; np.tile it to one row per validation "
    "face; utils.metrics.rmse_pixels skips NaN targets.",
    solution="""
from utils.metrics import rmse_pixels


def mean_baseline_rmse(y_train, y_val):
    mean_face = np.nanmean(y_train, axis=0)
    return rmse_pixels(y_val, np.tile(mean_face, (len(y_val), 1)))
""",
    notebook=NOTEBOOK,
    title="the mean-face baseline in pixels",
    answer_name="mean_baseline_rmse",
)
