"""Find faces in a photo and cut them out as 96x96 grayscale crops the keypoint model expects.

Detection uses OpenCV's classic Haar cascade (Viola-Jones, 2001): fast, offline, shipped with
``opencv-python``, good on frontal faces and poor on turned ones. A crop remembers where it
came from (:class:`CropTransform`), so keypoints predicted on the crop map back onto the photo::

    boxes = detect_faces(photo)                  # (k, 4): x, y, w, h
    crop, transform = crop_face(photo, boxes[0])  # (96, 96) uint8
    keypoints = crop_to_image(predicted_on_crop, transform)

Coordinates follow the course's convention: pixel centres at integer coordinates (the pixel
in column ``j`` is centred at ``x = j``).
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: The cascade file used by :func:`detect_faces`, from ``cv2.data.haarcascades``.
FRONTAL_FACE_CASCADE = "haarcascade_frontalface_default.xml"


@lru_cache(maxsize=4)
def _cascade(name: str = FRONTAL_FACE_CASCADE) -> Any:
    """Load (once) and cache one of OpenCV's shipped Haar cascades."""
    if not hasattr(cv2, "CascadeClassifier"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no cv2.CascadeClassifier (OpenCV 5 moved the Haar "
            "cascades out of the main package); install `opencv-python-headless>=4.8,<5`"
        )
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None or not (Path(folder) / name).is_file():
        raise RuntimeError(
            f"OpenCV's Haar cascade {name} was not found (cv2.data.haarcascades={folder!r}); "
            "the opencv-python(-headless) wheels ship it -- reinstall one of them"
        )
    cascade = cv2.CascadeClassifier(str(Path(folder) / name))
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load the Haar cascade {Path(folder) / name}")
    return cascade


def to_gray(image: np.ndarray) -> np.ndarray:
    """A uint8 image as ``(H, W)`` grayscale: ``(H, W)``, ``(H, W, 1)``, RGB(A) or BGR(A).

    Colour images are read as RGB (skimage, PIL, matplotlib); a BGR image from ``cv2.imread``
    converts to almost the same gray, which is all detection needs.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(
            f"image dtype is {image.dtype}; expected uint8 pixels 0-255 "
            "(multiply a [0, 1] float image by 255 and use .astype(np.uint8))"
        )
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[..., 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    raise ValueError(
        f"image has shape {image.shape}; expected (H, W) grayscale or (H, W, 1|3|4) channels"
    )


def detect_faces(
    image: np.ndarray,
    *,
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_size: tuple[int, int] = (40, 40),
) -> np.ndarray:
    """Find frontal faces; return a ``(k, 4)`` int array of ``x, y, w, h`` boxes, largest first.

    Args:
        image: uint8 grayscale or colour image.
        scale_factor: how much the search window grows per step (smaller: slower, finds more).
        min_neighbors: overlapping detections a face needs (larger: fewer false faces).
        min_size: smallest face ``(width, height)`` in pixels.
    """
    if scale_factor <= 1.0:
        raise ValueError(f"scale_factor={scale_factor!r}: expected a number > 1 (e.g. 1.1)")
    if min_neighbors < 0:
        raise ValueError(f"min_neighbors={min_neighbors!r}: expected 0 or more")
    gray = to_gray(image)
    found = _cascade().detectMultiScale(
        gray,
        scaleFactor=scale_factor,
        minNeighbors=int(min_neighbors),
        minSize=(int(min_size[0]), int(min_size[1])),
    )
    boxes = np.asarray(found, dtype=np.int64).reshape(-1, 4)
    order = np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")
    return boxes[order]


@dataclass(frozen=True)
class CropTransform:
    """How a crop sits in its image: ``x_image = x0 + scale * x_crop`` (same for y)."""

    x0: float
    y0: float
    scale: float


def _as_points(keypoints: Any) -> np.ndarray:
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 0 or kp.shape[-1] % 2:
        raise ValueError(
            f"keypoints have shape {kp.shape}; expected (..., 2) points or (..., 30) "
            "with x and y alternating"
        )
    return kp


def crop_to_image(keypoints: Any, transform: CropTransform) -> np.ndarray:
    """Map keypoints from crop pixels back to the original image's pixels (NaN stays NaN).

    ``keypoints`` is ``(..., 30)`` (x, y alternating, Kaggle order) or ``(..., 2)`` points.
    """
    kp = _as_points(keypoints)
    offset = np.tile([transform.x0, transform.y0], kp.shape[-1] // 2)
    return kp * transform.scale + offset


def image_to_crop(keypoints: Any, transform: CropTransform) -> np.ndarray:
    """Map keypoints from the original image into crop pixels (the inverse of crop_to_image)."""
    kp = _as_points(keypoints)
    offset = np.tile([transform.x0, transform.y0], kp.shape[-1] // 2)
    return (kp - offset) / transform.scale


def crop_face(
    image: np.ndarray,
    box: Any,
    size: int = 96,
    margin: float = 0.2,
) -> tuple[np.ndarray, CropTransform]:
    """Cut a square around ``box`` (``x, y, w, h``), widened by ``margin`` of its size on each
    side, convert to grayscale and resize to ``size x size``.

    Parts of the square outside the photo repeat its edge pixels. Returns the uint8 crop and
    the :class:`CropTransform` that maps crop coordinates back to the photo.
    """
    gray = to_gray(image)
    try:
        x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    except ValueError as e:
        raise ValueError(f"box={box!r}: expected 4 numbers x, y, w, h") from e
    if w <= 0 or h <= 0:
        raise ValueError(f"box={box!r}: width and height must be positive")
    if size < 1:
        raise ValueError(f"size={size!r}: expected a positive number of pixels")
    if margin < 0:
        raise ValueError(f"margin={margin!r}: expected 0 or more (a fraction of the box size)")
    # A whole-pixel square, centred on the box: pixels [left, left + side) in each direction.
    side = max(1, int(round(max(w, h) * (1 + 2 * margin))))
    left = int(round(x + w / 2 - side / 2))
    top = int(round(y + h / 2 - side / 2))
    height, width = gray.shape
    pad = max(0, -left, -top, left + side - width, top + side - height)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    square = gray[top + pad : top + pad + side, left + pad : left + pad + side]
    shrinking = side > size
    crop = cv2.resize(
        square, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    # cv2.resize aligns pixel *edges*: crop pixel u covers square pixels [u, u+1) * side/size,
    # so its centre u sits at left - 0.5 + (u + 0.5) * side/size in image coordinates.
    scale = side / size
    transform = CropTransform(x0=left - 0.5 + 0.5 * scale, y0=top - 0.5 + 0.5 * scale, scale=scale)
    return crop, transform


# --------------------------------------------------------------------------------------------
# Eye-based alignment: rotate the crop so the eyes are level
# --------------------------------------------------------------------------------------------

#: OpenCV's eye cascade, used by :func:`detect_eyes`.
EYE_CASCADE = "haarcascade_eye.xml"


def detect_eyes(image: np.ndarray, box: Any, *, max_angle: float = 30.0) -> np.ndarray | None:
    """The centres of the two eyes inside a face box, or None when two plausible eyes are
    not found.

    Runs OpenCV's Haar eye cascade on the top 60% of the face box and keeps the largest
    detection in each half (left and right of the box's centre). The pair is rejected when
    the eyes are implausibly close, far apart or tilted by more than ``max_angle`` degrees
    (the eye cascade also fires on eyebrows and nostrils).

    Returns ``(2, 2)`` float pixels ``[[x, y], [x, y]]``, the eye on the image's left first
    (the subject's right eye).
    """
    gray = to_gray(image)
    x, y, w, h = _box_numbers(box)
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(gray.shape[1], int(x + w)), min(gray.shape[0], int(y + 0.6 * h))
    if x1 - x0 < 20 or y1 - y0 < 10:
        return None
    eye_min = max(5, int(w / 10))
    found = _cascade(EYE_CASCADE).detectMultiScale(
        gray[y0:y1, x0:x1],
        scaleFactor=1.1,
        minNeighbors=5,
        minSize=(eye_min, eye_min),
        maxSize=(max(eye_min + 1, int(w / 2)), max(eye_min + 1, int(w / 2))),
    )
    found = np.asarray(found, dtype=np.float64).reshape(-1, 4)
    if len(found) < 2:
        return None
    centres = found[:, :2] + found[:, 2:] / 2 - 0.5 + [x0, y0]
    areas = found[:, 2] * found[:, 3]
    middle = x + w / 2 - 0.5
    pair = []
    for side in (centres[:, 0] < middle, centres[:, 0] >= middle):
        if not side.any():
            return None
        pair.append(centres[side][np.argmax(areas[side])])
    eyes = np.array(pair)
    dx, dy = eyes[1] - eyes[0]
    if not 0.2 * w <= math.hypot(dx, dy) <= 0.75 * w:
        return None
    if abs(math.degrees(math.atan2(dy, dx))) > max_angle:
        return None
    return eyes


@dataclass(frozen=True, eq=False)
class AlignTransform:
    """How an aligned (rotated) crop sits in its photo.

    ``matrix`` is the 2x3 affine map from photo pixels to crop pixels; ``angle`` is how many
    degrees the face was rotated (anticlockwise on screen) to level the eyes.
    """

    matrix: np.ndarray
    angle: float

    def to_crop(self, keypoints: Any) -> np.ndarray:
        """Photo pixels -> crop pixels, for ``(..., 30)`` keypoints or ``(..., 2)`` points."""
        return _apply_affine(self.matrix, keypoints)

    def to_image(self, keypoints: Any) -> np.ndarray:
        """Crop pixels -> photo pixels (the inverse of :meth:`to_crop`)."""
        return _apply_affine(cv2.invertAffineTransform(self.matrix), keypoints)


def _apply_affine(matrix: np.ndarray, keypoints: Any) -> np.ndarray:
    kp = _as_points(keypoints)
    points = kp.reshape(*kp.shape[:-1], -1, 2)
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    return moved.reshape(kp.shape)


def _box_numbers(box: Any) -> tuple[float, float, float, float]:
    try:
        x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    except ValueError as e:
        raise ValueError(f"box={box!r}: expected 4 numbers x, y, w, h") from e
    if w <= 0 or h <= 0:
        raise ValueError(f"box={box!r}: width and height must be positive")
    return x, y, w, h


def align_face(
    image: np.ndarray,
    box: Any,
    size: int = 96,
    margin: float = 0.2,
    *,
    eyes: Any = None,
    max_angle: float = 30.0,
) -> tuple[np.ndarray, AlignTransform]:
    """Like :func:`crop_face`, but rotated about the box's centre so the eyes are level.

    Args:
        image: uint8 photo (grayscale or colour).
        box: the face's ``x, y, w, h`` (from :func:`detect_faces`).
        size: side of the square crop in pixels.
        margin: extra border on each side, as a fraction of the box's size.
        eyes: the two eye centres in photo pixels, in any order, e.g. the keypoint model's
            ``left_eye_center`` and ``right_eye_center`` mapped back to the photo. None finds
            them with :func:`detect_eyes`; when that fails the crop is not rotated.
        max_angle: larger tilts are treated as a bad eye estimate (no rotation).

    Returns the uint8 ``(size, size)`` crop and its :class:`AlignTransform`.
    """
    gray = to_gray(image)
    x, y, w, h = _box_numbers(box)
    if size < 1:
        raise ValueError(f"size={size!r}: expected a positive number of pixels")
    if margin < 0:
        raise ValueError(f"margin={margin!r}: expected 0 or more (a fraction of the box size)")
    if eyes is None:
        eyes = detect_eyes(gray, box, max_angle=max_angle)
    angle = 0.0
    if eyes is not None:
        pair = np.asarray(eyes, dtype=np.float64)
        if pair.shape != (2, 2) or not np.isfinite(pair).all():
            raise ValueError(f"eyes={eyes!r}: expected two finite points [[x, y], [x, y]]")
        pair = pair[np.argsort(pair[:, 0])]
        dx, dy = pair[1] - pair[0]
        angle = math.degrees(math.atan2(dy, dx))
        if abs(angle) > max_angle:
            angle = 0.0
    side = max(w, h) * (1 + 2 * margin)
    centre = np.array([x + w / 2 - 0.5, y + h / 2 - 0.5])
    # Photo -> crop: rotate by -angle about the box centre, scale side -> size, and put the
    # centre in the middle of the crop (pixel centres at integers, as everywhere here).
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    rotation = np.array([[c, s], [-s, c]])
    matrix = np.hstack([rotation * (size / side), np.zeros((2, 1))])
    matrix[:, 2] = (size - 1) / 2 - matrix[:, :2] @ centre
    # Shrinking with warpAffine's bilinear sampling aliases; warp at full resolution first,
    # then let INTER_AREA average the pixels down (the same map, in two steps).
    big = max(size, int(math.ceil(side)))
    first = matrix * (big / size)
    first[:, 2] += (big - size) / (2 * size)  # keeps pixel centres aligned after the resize
    square = cv2.warpAffine(
        gray, first, (big, big), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    crop = square if big == size else cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return crop, AlignTransform(matrix=matrix, angle=angle)


# --------------------------------------------------------------------------------------------
# Real time: the detect -> crop -> predict pipeline with per-stage timers, label smoothing
# --------------------------------------------------------------------------------------------

#: Margin around the Haar box for the emotion crop (FER-2013's faces are tightly framed).
EMOTION_MARGIN = 0.1
#: Margin around the Haar box for the keypoint crop (Kaggle's 96x96 framing).
KEYPOINT_MARGIN = 0.2


class _CompiledModel:
    """A Keras model wrapped in one ``tf.function`` (any batch size, traced once).

    ``model.predict`` builds a data pipeline on every call -- tens of milliseconds, fine for
    a data set, far too slow for 30 frames a second; a compiled call costs about a millisecond
    plus the arithmetic.
    """

    def __init__(self, model: Any) -> None:
        import tensorflow as tf

        self.model = model
        shape = tuple(model.input_shape)
        spec = tf.TensorSpec((None, *shape[1:]), tf.float32)
        self._fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def __call__(self, x: Any, training: bool = False) -> Any:
        return self._fn(x)


def _as_model(model: Any, loader: Callable[..., Any]) -> Any:
    """A Keras model: the shipped one (None), one loaded from a path, or ``model`` itself."""
    if model is None:
        return loader()
    if isinstance(model, str | os.PathLike):
        return loader(model)
    return model


@dataclass
class FrameResult:
    """What :class:`FramePipeline` found in one frame (faces largest first).

    ``boxes`` ``(k, 4)`` ``x, y, w, h`` in the frame's pixels; ``probabilities`` ``(k, 7)`` in
    FER order; ``keypoints`` ``(k, 30)`` in the frame's pixels (None unless asked for);
    ``crops`` the ``(k, 48, 48)`` uint8 faces the emotion model saw.
    """

    boxes: np.ndarray
    probabilities: np.ndarray
    crops: np.ndarray
    keypoints: np.ndarray | None = None

    @property
    def emotions(self) -> list[str]:
        """The most likely emotion of each face."""
        from utils.inference import EMOTIONS

        return [EMOTIONS[i] for i in self.probabilities.argmax(axis=1)]


@dataclass
class FramePipeline:
    """Detect faces, crop them, predict their emotions (and keypoints) -- timing each stage.

    >>> pipeline = FramePipeline()               # the shipped emotion model
    >>> result = pipeline(frame)                 # doctest: +SKIP
    >>> result.emotions, pipeline.summary()["fps"]  # doctest: +SKIP

    Speed knobs (the defaults reach 30+ frames/s on a laptop CPU for 640x480 frames):

    Args:
        emotion_model: a Keras model or ``.keras`` path; None uses the shipped one.
        keypoint_model: the same for keypoints (used only with ``keypoints=True``).
        keypoints: also predict the 15 keypoints of each face.
        detect_width: detect on a copy shrunk to this width (None: full size). Haar's cost
            grows with the number of pixels, so half the width is about 4x faster.
        min_face: smallest face to find, in the frame's pixels (Haar's window is 24 px, so
            on the shrunk copy nothing smaller than ``24 / shrink`` is found anyway).
        scale_factor, min_neighbors: :func:`detect_faces`' search settings.
        align: level the eyes before cropping (:func:`align_face`; slower).
        batch: predict all faces of a frame in one model call (else one call per face).
        max_faces: keep only the largest faces.
        detect_every: for video, search for faces only every n-th frame and reuse the boxes
            in between (faces move little in 1/30 s; detection is the slowest stage).
    """

    emotion_model: Any = None
    keypoint_model: Any = None
    keypoints: bool = False
    detect_width: int | None = 320
    min_face: int = 48
    scale_factor: float = 1.2
    min_neighbors: int = 5
    margin: float = EMOTION_MARGIN
    keypoint_margin: float = KEYPOINT_MARGIN
    align: bool = False
    batch: bool = True
    max_faces: int | None = None
    detect_every: int = 1
    times: dict[str, list[float]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        from utils.inference import load_emotion_model, load_keypoint_model

        if self.detect_width is not None and self.detect_width < 24:
            raise ValueError(f"detect_width={self.detect_width!r}: expected None or >= 24 px")
        if self.min_face < 1:
            raise ValueError(f"min_face={self.min_face!r}: expected a positive number of pixels")
        if self.max_faces is not None and self.max_faces < 1:
            raise ValueError(f"max_faces={self.max_faces!r}: expected None or at least 1")
        if self.detect_every < 1:
            raise ValueError(f"detect_every={self.detect_every!r}: expected 1 or more frames")
        self._frames_seen = 0
        self._last_boxes: tuple[tuple[int, ...], np.ndarray] | None = None
        self._emotion = _CompiledModel(_as_model(self.emotion_model, load_emotion_model))
        self._keypoint = (
            _CompiledModel(_as_model(self.keypoint_model, load_keypoint_model))
            if self.keypoints
            else None
        )
        self.reset_timers()

    @property
    def stages(self) -> tuple[str, ...]:
        """The timed stages, in order."""
        return ("detect", "crop", "predict") + (("keypoints",) if self.keypoints else ())

    def reset_timers(self) -> None:
        """Forget the timings so far (e.g. after a warm-up frame)."""
        self.times = {stage: [] for stage in self.stages}

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes in ``gray``'s pixels, found on a shrunk copy when ``detect_width`` says."""
        shrink = 1.0
        small = gray
        if self.detect_width is not None and gray.shape[1] > self.detect_width:
            shrink = self.detect_width / gray.shape[1]
            small = cv2.resize(
                gray,
                (self.detect_width, max(1, round(gray.shape[0] * shrink))),
                interpolation=cv2.INTER_AREA,
            )
        side = max(1, round(self.min_face * shrink))
        boxes = detect_faces(
            small,
            scale_factor=self.scale_factor,
            min_neighbors=self.min_neighbors,
            min_size=(side, side),
        )
        if shrink != 1.0:
            boxes = np.round(boxes / shrink).astype(np.int64)
        return boxes[: self.max_faces] if self.max_faces else boxes

    def __call__(self, frame: np.ndarray) -> FrameResult:
        """Run the whole path on one uint8 frame (RGB, BGR or gray)."""
        from utils.inference import EMOTION_SIZE, KEYPOINT_SIZE, predict_emotions, predict_keypoints

        start = time.perf_counter()
        gray = to_gray(frame)
        last = self._last_boxes
        if self._frames_seen % self.detect_every == 0 or last is None or last[0] != gray.shape:
            boxes = self.detect(gray)
            self._last_boxes = (gray.shape, boxes)
        else:  # between two searches: the faces are where they were a frame ago
            boxes = last[1]
        self._frames_seen += 1
        t_detect = time.perf_counter()

        crops = []
        for box in boxes:
            if self.align:
                crop, _ = align_face(gray, box, EMOTION_SIZE, self.margin)
            else:
                crop, _ = crop_face(gray, box, EMOTION_SIZE, self.margin)
            crops.append(crop)
        faces = np.stack(crops) if crops else np.zeros((0, EMOTION_SIZE, EMOTION_SIZE), np.uint8)
        t_crop = time.perf_counter()

        if self.batch or len(faces) < 2:
            probs = predict_emotions(faces, model=self._emotion, tta=False)
        else:
            probs = np.concatenate(
                [predict_emotions(f, model=self._emotion, tta=False) for f in faces]
            )
        t_predict = time.perf_counter()
        self.times["detect"].append(t_detect - start)
        self.times["crop"].append(t_crop - t_detect)
        self.times["predict"].append(t_predict - t_crop)

        points = None
        if self._keypoint is not None:
            kp_crops, transforms = [], []
            for box in boxes:
                cut = align_face if self.align else crop_face
                crop, transform = cut(gray, box, KEYPOINT_SIZE, self.keypoint_margin)
                kp_crops.append(crop)
                transforms.append(transform)
            size = (0, KEYPOINT_SIZE, KEYPOINT_SIZE)
            stack = np.stack(kp_crops) if kp_crops else np.zeros(size, np.uint8)
            on_crop = predict_keypoints(stack, model=self._keypoint)
            points = np.array(
                [_crop_points_to_image(kp, t) for kp, t in zip(on_crop, transforms, strict=True)],
                dtype=np.float32,
            ).reshape(-1, on_crop.shape[1])
            self.times["keypoints"].append(time.perf_counter() - t_predict)
        return FrameResult(boxes=boxes, probabilities=probs, crops=faces, keypoints=points)

    def summary(self) -> dict[str, Any]:
        """Frames timed, frames per second, and each stage's mean milliseconds and share."""
        n = len(self.times["detect"])
        if n == 0:
            raise ValueError("no frames timed yet: call the pipeline on a frame first")
        ms = {stage: 1000 * float(np.mean(t)) for stage, t in self.times.items()}
        total = sum(ms.values())
        return {
            "frames": n,
            "fps": 1000 / total if total > 0 else math.inf,
            "ms": ms,
            "total_ms": total,
            "share": {stage: v / total if total > 0 else 0.0 for stage, v in ms.items()},
        }


def _crop_points_to_image(keypoints: Any, transform: CropTransform | AlignTransform) -> np.ndarray:
    """Keypoints on a crop -> the photo's pixels, for a plain or an aligned crop."""
    if isinstance(transform, AlignTransform):
        return transform.to_image(keypoints)
    return crop_to_image(keypoints, transform)


class LabelSmoother:
    """Steady labels for live video: average each face's probabilities over the last frames.

    A classifier run frame by frame flickers -- one blurred frame says *surprise* between
    two *happy* ones. Averaging the last ``window`` probability vectors (about a third of a
    second at 30 frames/s) makes a single odd frame move the mean by only ``1/window``; a
    real change of expression wins after a few frames.

    >>> smoother = LabelSmoother(window=10)
    >>> label = smoother.update(probabilities)  # doctest: +SKIP
    """

    def __init__(self, window: int = 10, n_classes: int = 7) -> None:
        if window < 1:
            raise ValueError(f"window={window!r}: expected at least 1 frame")
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes!r}: expected at least 2 classes")
        self.window = int(window)
        self.n_classes = int(n_classes)
        self._history: deque[np.ndarray] = deque(maxlen=self.window)

    def update(self, probabilities: Any) -> int:
        """Add one frame's probabilities; return the index of the smoothed label."""
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if p.shape != (self.n_classes,) or not np.isfinite(p).all() or (p < 0).any():
            raise ValueError(
                f"probabilities: shape {np.asarray(probabilities).shape}; expected "
                f"{self.n_classes} finite non-negative numbers (one frame's softmax output)"
            )
        self._history.append(p)
        return int(self.probabilities.argmax())

    @property
    def probabilities(self) -> np.ndarray:
        """The mean probabilities over the frames kept (zeros before the first update)."""
        if not self._history:
            return np.zeros(self.n_classes)
        return np.mean(self._history, axis=0)

    def __len__(self) -> int:
        return len(self._history)

    def reset(self) -> None:
        """Forget the history (the face left the picture)."""
        self._history.clear()


# --------------------------------------------------------------------------------------------
# Cameras: one snapshot, or a live loop
# --------------------------------------------------------------------------------------------


class CameraUnavailableError(RuntimeError):
    """No camera could be opened (none attached, in use, or the notebook runs on a server)."""


def _no_camera_message(source: Any) -> str:
    return (
        f"no camera could be opened at {source!r} (none attached, in use by another program, "
        "or no permission). In Colab, Kaggle or a remote JupyterLab, OpenCV sees the server's "
        "cameras, not your computer's: upload a photo instead (utils.annotate.upload_demo())."
    )


def _open_capture(source: int | str) -> Any:
    """``cv2.VideoCapture(source)`` without OpenCV's own warnings when there is no camera
    (our :class:`CameraUnavailableError` explains it better)."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        return cv2.VideoCapture(source)
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_ERROR)
    try:
        return cv2.VideoCapture(source)
    finally:
        log.setLogLevel(level)


def snapshot_from_camera(index: int = 0, *, warmup_frames: int = 5) -> np.ndarray:
    """One RGB uint8 photo from the camera at ``index`` (OpenCV).

    The first frames of many webcams are dark while auto-exposure settles, so
    ``warmup_frames`` are read and dropped first. Raises :class:`CameraUnavailableError`
    with an explanation when there is no camera.
    """
    capture = _open_capture(index)
    try:
        if not capture.isOpened():
            raise CameraUnavailableError(_no_camera_message(index))
        frame = None
        for _ in range(max(0, warmup_frames) + 1):
            ok, grabbed = capture.read()
            if ok:
                frame = grabbed
        if frame is None:
            raise CameraUnavailableError(f"the camera at {index!r} opened but sent no picture")
        return np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()


def _camera_frames(source: int | str) -> Iterator[np.ndarray]:
    """RGB frames from a camera index or a video file, until it ends."""
    capture = _open_capture(source)
    try:
        if not capture.isOpened():
            raise CameraUnavailableError(_no_camera_message(source))
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def _widget_display() -> Callable[[np.ndarray], None]:
    """Show frames in the notebook: one ``ipywidgets.Image`` updated in place."""
    import ipywidgets as widgets
    from IPython.display import display

    image = widgets.Image(format="jpeg")
    image.add_class("webcam-live")
    display(image)

    def show(frame: np.ndarray) -> None:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if ok:
            image.value = data.tobytes()

    return show


def _window_display() -> Callable[[np.ndarray], None]:
    """Show frames in an OpenCV window (needs opencv-python, not the -headless wheel)."""

    def show(frame: np.ndarray) -> None:
        try:
            cv2.imshow("face-dl-course (q quits)", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        except cv2.error as e:
            raise RuntimeError(
                "OpenCV cannot open a window here (opencv-python-headless has no GUI); "
                "use show='widget' in a notebook or install opencv-python"
            ) from e
        if cv2.waitKey(1) & 0xFF == ord("q"):
            raise KeyboardInterrupt

    return show


def run_webcam(
    source: int | str | Iterable[np.ndarray] = 0,
    *,
    pipeline: FramePipeline | None = None,
    window: int = 10,
    max_frames: int | None = None,
    seconds: float | None = 30.0,
    show: str | Callable[[np.ndarray], None] | None = "widget",
    draw_keypoints: bool = False,
) -> dict[str, Any]:
    """Live emotion recognition: detect, crop, predict and draw every frame, smoothing labels.

    Args:
        source: a camera index (0 = the default webcam), a video file, or any iterable of
            uint8 RGB frames.
        pipeline: the :class:`FramePipeline` to run (default: the shipped emotion model,
            searching for faces every 3rd frame -- the cheapest way to webcam speed).
        window: frames each label is averaged over (:class:`LabelSmoother`).
        max_frames, seconds: stop after this many frames or seconds (None: no limit; stop a
            notebook cell with the stop button -- the loop ends cleanly on KeyboardInterrupt).
        show: ``"widget"`` (an image in the notebook), ``"window"`` (an OpenCV window; q
            quits), None (nothing: benchmarking) or a function called with each annotated
            RGB frame.
        draw_keypoints: draw the 15 keypoints too (needs ``pipeline.keypoints``).

    Returns ``frames``, ``seconds``, ``fps`` (the whole loop, drawing included), ``labels``
    (the smoothed label of the largest face per frame, None without a face) and the
    pipeline's per-stage ``timing``. Raises :class:`CameraUnavailableError` without a camera.
    """
    from utils.annotate import annotate_frame
    from utils.inference import EMOTIONS

    pipeline = FramePipeline(detect_every=3) if pipeline is None else pipeline
    frames: Iterable[np.ndarray] = (
        _camera_frames(source) if isinstance(source, int | str) else source
    )
    if show == "widget":
        sink: Callable[[np.ndarray], None] | None = _widget_display()
    elif show == "window":
        sink = _window_display()
    elif show is None or callable(show):
        sink = show
    else:
        raise ValueError(f"show={show!r}: expected 'widget', 'window', None or a function")

    smoother = LabelSmoother(window=window, n_classes=len(EMOTIONS))
    labels: list[str | None] = []
    missing = 0
    start = time.perf_counter()
    try:
        for frame in frames:
            result = pipeline(frame)
            smoothed: list[str | None] = list(result.emotions)
            if len(result.boxes):
                missing = 0
                smoothed[0] = EMOTIONS[smoother.update(result.probabilities[0])]
                labels.append(smoothed[0])
            else:
                missing += 1
                if missing > window:  # the face has gone: start afresh for the next one
                    smoother.reset()
                labels.append(None)
            if sink is not None:
                probs = result.probabilities.copy()
                if len(probs):
                    probs[0] = smoother.probabilities
                sink(
                    annotate_frame(
                        frame,
                        result.boxes,
                        probs,
                        keypoints=result.keypoints if draw_keypoints else None,
                    )
                )
            if max_frames is not None and len(labels) >= max_frames:
                break
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
    except KeyboardInterrupt:
        pass  # the notebook's stop button or q in the window: a normal way to end
    finally:
        if show == "window":
            cv2.destroyAllWindows()
    elapsed = time.perf_counter() - start
    return {
        "frames": len(labels),
        "seconds": elapsed,
        "fps": len(labels) / elapsed if elapsed > 0 else 0.0,
        "labels": labels,
        "timing": pipeline.summary() if len(labels) else None,
    }


def sample_photos() -> dict[str, np.ndarray]:
    """Real photos with faces that ship inside the installed libraries, so they work offline:
    scikit-image's ``astronaut`` (Eileen Collins, 512x512) and matplotlib's ``grace_hopper``
    (600x512). RGB uint8."""
    import matplotlib.cbook
    import skimage.data

    path = Path(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    hopper = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    if hopper is None:
        raise FileNotFoundError(f"{path}: matplotlib's sample photo could not be read")
    return {
        "astronaut": np.ascontiguousarray(skimage.data.astronaut()),
        "grace_hopper": np.ascontiguousarray(cv2.cvtColor(hopper, cv2.COLOR_BGR2RGB)),
    }


def realtime_frames(width: int = 640, height: int = 480) -> dict[str, np.ndarray]:
    """Webcam-sized RGB test frames made from :func:`sample_photos` (offline).

    ``"one face"``: the astronaut photo fitted into the frame (her face is about 90 px wide
    at 640x480); ``"three faces"``: three head-and-shoulders cut-outs (Hopper, the astronaut,
    Hopper mirrored) side by side; ``"no face"``: scikit-image's coffee cup. Used by
    ``benchmarks/realtime.py`` and notebook 10.
    """
    import skimage.data

    def fit(photo: np.ndarray, w: int, h: int) -> np.ndarray:
        """``photo`` scaled to fit ``w`` x ``h``, centred on a gray background."""
        scale = min(w / photo.shape[1], h / photo.shape[0])
        new_w, new_h = max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale))
        small = cv2.resize(photo, (new_w, new_h), interpolation=cv2.INTER_AREA)
        canvas = np.full((h, w, 3), 128, np.uint8)
        top, left = (h - new_h) // 2, (w - new_w) // 2
        canvas[top : top + new_h, left : left + new_w] = small
        return canvas

    photos = sample_photos()
    astronaut, hopper = photos["astronaut"], photos["grace_hopper"]
    # Head-and-shoulders cut-outs: each face about a third of its panel's width.
    heads = [hopper[60:460, 40:460], astronaut[20:260, 110:340], hopper[60:460, 40:460, :][:, ::-1]]
    third = width // 3
    panels = [
        fit(h, w, height) for h, w in zip(heads, (third, width - 2 * third, third), strict=True)
    ]
    return {
        "one face": fit(astronaut, width, height),
        "three faces": np.ascontiguousarray(np.hstack(panels)),
        "no face": fit(skimage.data.coffee(), width, height),
    }


def time_pipeline(
    pipeline: FramePipeline, frame: np.ndarray, n_frames: int = 100, *, warmup: int = 3
) -> dict[str, Any]:
    """Run ``pipeline`` on ``frame`` ``n_frames`` times (after ``warmup`` untimed runs, which
    trace the compiled model) and return :meth:`FramePipeline.summary`, plus ``wall_fps``:
    frames per second by the wall clock around the whole loop."""
    if n_frames < 1:
        raise ValueError(f"n_frames={n_frames!r}: expected at least 1")
    for _ in range(max(0, warmup)):
        pipeline(frame)
    pipeline.reset_timers()
    start = time.perf_counter()
    for _ in range(n_frames):
        pipeline(frame)
    elapsed = time.perf_counter() - start
    summary = pipeline.summary()
    summary["wall_fps"] = n_frames / elapsed
    summary["faces"] = len(pipeline(frame).boxes)
    return summary
