"""The course's vocabulary: emotion names, keypoint columns and their mirror twins, image sizes, AUs.

Plain Python and NumPy only, so any module can import a constant from here without pulling in
pandas, OpenCV or TensorFlow. Conventions (see ``CONTRIBUTING.md``): keypoints in pixels in
Kaggle's column order, ``left_*`` is the subject's left (larger x); emotion labels are indices
into :data:`EMOTIONS`; images are grayscale. :class:`DataFormatError` is what every reader
raises when a file does not follow these formats.
"""

from __future__ import annotations

import numpy as np


class DataFormatError(ValueError):
    """A data file is not in the expected format; the message names the file, row and fix."""


#: FER-2013's emotion classes; the label of each is its index here.
EMOTIONS: list[str] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

#: The three parts of FER-2013 (the ``Usage`` column of ``fer2013.csv``).
FER_USAGES: list[str] = ["Training", "PublicTest", "PrivateTest"]

#: Side of a FER-2013 face, in pixels.
FER_SIZE = 48

#: Side of a Kaggle Facial Keypoints face, in pixels.
KEYPOINT_SIZE = 96

#: Kaggle Facial Keypoints' 30 label columns, in the competition's order. ``left_*`` is the
#: subject's left (larger x: it appears on the image's right).
KEYPOINT_COLUMNS: list[str] = [
    "left_eye_center_x",
    "left_eye_center_y",
    "right_eye_center_x",
    "right_eye_center_y",
    "left_eye_inner_corner_x",
    "left_eye_inner_corner_y",
    "left_eye_outer_corner_x",
    "left_eye_outer_corner_y",
    "right_eye_inner_corner_x",
    "right_eye_inner_corner_y",
    "right_eye_outer_corner_x",
    "right_eye_outer_corner_y",
    "left_eyebrow_inner_end_x",
    "left_eyebrow_inner_end_y",
    "left_eyebrow_outer_end_x",
    "left_eyebrow_outer_end_y",
    "right_eyebrow_inner_end_x",
    "right_eyebrow_inner_end_y",
    "right_eyebrow_outer_end_x",
    "right_eyebrow_outer_end_y",
    "nose_tip_x",
    "nose_tip_y",
    "mouth_left_corner_x",
    "mouth_left_corner_y",
    "mouth_right_corner_x",
    "mouth_right_corner_y",
    "mouth_center_top_lip_x",
    "mouth_center_top_lip_y",
    "mouth_center_bottom_lip_x",
    "mouth_center_bottom_lip_y",
]

#: The 15 Kaggle keypoints (each is an (x, y) pair of :data:`KEYPOINT_COLUMNS`).
KEYPOINT_NAMES: list[str] = [c[:-2] for c in KEYPOINT_COLUMNS[::2]]


def mirror_name(name: str) -> str:
    """The name of ``name``'s twin on the other side of the face (itself on the mirror axis)."""
    if name.startswith("left_"):
        return "right_" + name[len("left_") :]
    if name.startswith("right_"):
        return "left_" + name[len("right_") :]
    # mouth_left_corner <-> mouth_right_corner: the side is in the middle of the name.
    if "_left_" in name:
        return name.replace("_left_", "_right_")
    if "_right_" in name:
        return name.replace("_right_", "_left_")
    return name  # nose tip, centre of the lips: on the mirror axis


#: After a horizontal flip, column ``j`` takes its value from column ``FLIP_PERMUTATION[j]``:
#: each ``left_*`` coordinate swaps with its ``right_*`` twin; nose tip and lip centres stay.
FLIP_PERMUTATION: np.ndarray = np.array(
    [KEYPOINT_COLUMNS.index(mirror_name(c)) for c in KEYPOINT_COLUMNS], dtype=np.int64
)

#: The FACS action units the course labels, in the column order of ``au_labels.csv``.
AU_NAMES: list[str] = [
    "AU1",
    "AU2",
    "AU4",
    "AU5",
    "AU6",
    "AU7",
    "AU9",
    "AU12",
    "AU15",
    "AU16",
    "AU17",
    "AU20",
    "AU23",
    "AU25",
    "AU26",
]

#: FACS names of the action units.
AU_DESCRIPTIONS: dict[str, str] = {
    "AU1": "inner brow raiser",
    "AU2": "outer brow raiser",
    "AU4": "brow lowerer",
    "AU5": "upper lid raiser",
    "AU6": "cheek raiser",
    "AU7": "lid tightener",
    "AU9": "nose wrinkler",
    "AU12": "lip corner puller",
    "AU15": "lip corner depressor",
    "AU16": "lower lip depressor",
    "AU17": "chin raiser",
    "AU20": "lip stretcher",
    "AU23": "lip tightener",
    "AU25": "lips part",
    "AU26": "jaw drop",
}

#: The part of the face each AU changes (and nothing else): what a Grad-CAM map should show.
AU_REGIONS: dict[str, str] = {
    "AU1": "brows",
    "AU2": "brows",
    "AU4": "brows",
    "AU5": "eyes",
    "AU6": "eyes",
    "AU7": "eyes",
    "AU9": "nose",  # also lowers the inner brows a little and lifts the upper lip (FACS)
    "AU12": "mouth",
    "AU15": "mouth",
    "AU16": "mouth",
    "AU17": "mouth",
    "AU20": "mouth",
    "AU23": "mouth",
    "AU25": "mouth",
    "AU26": "mouth",
}

#: The largest FACS intensity (A=1 ... E=5).
AU_MAX = 5.0

#: Side of an action-unit face (the sample set's and the loaders' default), in pixels.
AU_SIZE = 96
