"""Exercises for notebook 10, real-world inference: pick the face, crop it as the model expects."""

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
    sample_fer,
)

NOTEBOOK = "10_real_world_inference"


def _check_largest(answer: Any) -> str:
    largest = require_function(answer, "a function largest_face(boxes)")
    boxes = np.array([[10, 10, 40, 40], [100, 50, 70, 90], [200, 20, 80, 60]])
    got = largest(boxes.copy())
    expect(got is not None, "three boxes were given but you returned None")
    got = as_array(got, "your box").reshape(-1)
    if np.array_equal(got, boxes[2]):
        raise Incorrect("you picked the widest box; compare areas (w * h), not widths")
    expect(
        np.array_equal(got, boxes[1]),
        f"you picked {got.tolist()}; the largest is [100, 50, 70, 90]",
    )
    expect(
        largest(np.zeros((0, 4), dtype=np.int64)) is None,
        "with no face found (a (0, 4) array) return None, so the caller can skip the frame",
    )
    return "the largest box wins, and an empty detection gives None instead of an IndexError."


q1 = Question(
    "q1",
    _check_largest,
    hint="If len(boxes) == 0 return None; else boxes[np.argmax(boxes[:, 2] * boxes[:, 3])].",
    solution="""
def largest_face(boxes):
    if len(boxes) == 0:
        return None
    return boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]
""",
    notebook=NOTEBOOK,
    title="choose the largest detected face",
    answer_name="largest_face",
)


def webcam_frame() -> tuple[np.ndarray, np.ndarray]:
    """A 240x320 uint8 'webcam frame' with one sample face in it, and that face's box."""
    face = (sample_fer().images[0, :, :, 0] * 255).round().astype(np.uint8)
    import cv2

    big = cv2.resize(face, (96, 96), interpolation=cv2.INTER_LINEAR)
    rng = np.random.default_rng(0)
    frame = rng.integers(90, 140, size=(240, 320), dtype=np.uint8)
    frame[60:156, 180:276] = big
    box = np.array([188, 68, 80, 80])  # the detector's box sits inside the face
    return frame, box


def _check_prepare(answer: Any) -> str:
    prepare = require_function(answer, "a function face_for_emotion_model(frame, box)")
    from utils.faces import EMOTION_MARGIN, crop_face

    frame, box = webcam_frame()
    got = prepare(frame.copy(), box.copy())
    arr = as_array(got, "your face")
    expect(
        arr.shape == (48, 48, 1),
        f"your face has shape {arr.shape}; the emotion model takes (48, 48, 1)",
    )
    expect(
        np.asarray(got).dtype == np.float32,
        f"your face is {np.asarray(got).dtype}; the model wants float32",
    )
    expect(
        arr.max() <= 1.0 and arr.min() >= 0.0,
        f"your pixels run {arr.min():.0f}-{arr.max():.0f}; the model was trained on [0, 1]",
    )
    import cv2

    whole = cv2.resize(frame, (48, 48), interpolation=cv2.INTER_AREA)[..., None] / 255.0
    if np.allclose(arr, whole, atol=0.02):
        raise Incorrect(
            "you shrank the whole frame: the face is then a few pixels in a sea of background, "
            "nothing like the training faces -- crop the box first (utils.faces.crop_face)"
        )
    loose, _ = crop_face(frame, box, size=48, margin=0.2)
    crop, _ = crop_face(frame, box, size=48, margin=EMOTION_MARGIN)
    if not np.allclose(arr[..., 0], crop / 255.0, atol=0.02) and np.allclose(
        arr[..., 0], loose / 255.0, atol=0.02
    ):
        raise Incorrect(
            f"the emotion model was trained on tighter crops than crop_face's default: pass "
            f"margin=EMOTION_MARGIN ({EMOTION_MARGIN}) so the face fills the frame as in FER-2013"
        )
    expect_close(arr[..., 0], crop / 255.0, "your face", atol=0.02)
    return "cropped around the box, 48x48, one channel, float32 in [0, 1]: a face like FER's."


q2 = Question(
    "q2",
    _check_prepare,
    hint="utils.faces.crop_face(frame, box, size=48, margin=EMOTION_MARGIN) returns (uint8 "
    "crop, transform); divide the crop by 255, make it float32, add the channel axis ([..., None]).",
    solution="""
from utils.faces import EMOTION_MARGIN, crop_face


def face_for_emotion_model(frame, box):
    crop, _ = crop_face(frame, box, size=48, margin=EMOTION_MARGIN)
    return (crop.astype(np.float32) / 255.0)[..., None]
""",
    notebook=NOTEBOOK,
    title="crop a webcam face for the emotion model",
    answer_name="face_for_emotion_model",
)
