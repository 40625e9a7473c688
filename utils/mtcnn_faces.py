"""MTCNN, the second face detector behind ``utils.faces.detect_faces(method="mtcnn")``.

MTCNN (Zhang et al., *Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks*, 2016) runs three small convolutional networks: P-Net proposes boxes
on an image pyramid, R-Net refines them, O-Net refines again and places five landmarks. The
``mtcnn`` package (MIT licence, TensorFlow) ships the trained weights inside its wheel, so it
works offline. The package is imported only when MTCNN is first used: ``import utils.faces``
stays as quick as OpenCV.

Use it through :mod:`utils.faces` (``detect_faces``, ``detect_faces_and_landmarks``); this
module holds the loading and the conversion to the course's conventions.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np

#: MTCNN's default confidence threshold for a face (its last network's, as in the package).
MTCNN_MIN_CONFIDENCE = 0.8
#: MTCNN's five landmarks in the order ``detect_faces_and_landmarks`` returns them, named like
#: the Kaggle keypoints: ``right_*`` is the subject's right, on the image's left.
LANDMARKS = (
    "right_eye_center",
    "left_eye_center",
    "nose_tip",
    "mouth_right_corner",
    "mouth_left_corner",
)
# The mtcnn package's names for the same points (its "left" is the image's left).
_MTCNN_KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
# mtcnn 1.0.0's image pyramid starts at 12 / min_face_size but counts its levels as if it
# started at 12 / 20: with a larger smallest face its last levels fall under the 12 px its
# first network needs and the call silently finds nothing. A larger smallest face is handled
# by shrinking the image instead, which gives the same pyramid (and less work).
_MTCNN_MIN_FACE = 20


@lru_cache(maxsize=1)
def mtcnn_detector() -> Any:
    """The ``mtcnn`` package's detector, built once and cached (importing it loads TensorFlow).

    Its three networks' weights ship inside the package and are read from there by absolute
    path: nothing is downloaded, and a file that happens to be called ``pnet.lz4`` in the
    working folder is not picked up instead (the package would look there first). The
    weights are joblib (pickle) files, so they are only ever read from the installed package.
    It runs on the CPU even beside a GPU: its networks are small, and the course's timings
    compare it with the Haar cascade on the same processor.
    """
    try:
        from importlib.resources import files

        from mtcnn import MTCNN
        from mtcnn.stages import StageONet, StagePNet, StageRNet
    except ImportError as e:
        raise RuntimeError(
            "method='mtcnn' needs the mtcnn package (pip install 'mtcnn>=1.0,<2'; its weights "
            f"ship inside the wheel): {e}"
        ) from e
    folder = files("mtcnn.assets.weights")
    weights = {name: folder / f"{name}.lz4" for name in ("pnet", "rnet", "onet")}
    missing = [str(path) for path in weights.values() if not path.is_file()]
    if missing:
        raise RuntimeError(
            f"the mtcnn package's weights are missing ({', '.join(missing)}); reinstall mtcnn"
        )
    stages = [
        StagePNet(weights=str(weights["pnet"])),
        StageRNet(weights=str(weights["rnet"])),
        StageONet(weights=str(weights["onet"])),
    ]
    return MTCNN(stages=stages, device="CPU:0")


def mtcnn_faces(
    rgb: np.ndarray, min_face: int, min_confidence: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MTCNN on a uint8 ``(H, W, 3)`` RGB image: ``(k, 4)`` int ``x, y, w, h`` boxes and
    ``(k, 5, 2)`` float landmarks in :data:`LANDMARKS` order, largest face first.

    ``min_face`` is the smallest face side in pixels; ``min_confidence`` O-Net's threshold
    (None: :data:`MTCNN_MIN_CONFIDENCE`). The settings are checked by
    ``utils.faces.check_detector_args``.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"image: {rgb.dtype} array of shape {rgb.shape}; expected uint8 (H, W, 3) RGB "
            "(utils.faces.to_rgb converts the other layouts)"
        )
    height, width = rgb.shape[:2]
    none = (np.zeros((0, 4), np.int64), np.zeros((0, len(LANDMARKS), 2), np.float64))
    if min(height, width) <= min_face:
        return none  # no face of min_face pixels fits (and MTCNN's pyramid would be empty)
    small, sx, sy = rgb, 1.0, 1.0
    if min_face > _MTCNN_MIN_FACE:  # see _MTCNN_MIN_FACE: shrink rather than start smaller
        shrink = _MTCNN_MIN_FACE / min_face
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        sx, sy = width / size[0], height / size[1]
    found = mtcnn_detector().detect_faces(
        small,
        min_face_size=min(min_face, _MTCNN_MIN_FACE),
        threshold_onet=MTCNN_MIN_CONFIDENCE if min_confidence is None else float(min_confidence),
    )
    if not found:
        return none
    # Boxes are pixel edges (they scale as they are); landmarks are pixel centres (x = j in
    # pixel j, the course's convention), so they scale about the half-pixel.
    edges = np.array([face["box"] for face in found], dtype=np.float64).reshape(-1, 4)
    boxes = np.round(edges * [sx, sy, sx, sy]).astype(np.int64)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 1)
    points = np.array(
        [[face["keypoints"][name] for name in _MTCNN_KEYPOINTS] for face in found],
        dtype=np.float64,
    ).reshape(-1, len(LANDMARKS), 2)
    points = (points + 0.5) * [sx, sy] - 0.5
    order = np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")
    return boxes[order], points[order]
