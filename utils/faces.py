"""Find faces in a photo and cut them out as the square grayscale crops the models expect.

Two detectors, both offline. The default is OpenCV's classic Haar cascade (Viola-Jones, 2001):
fast, shipped with ``opencv-python``, good on frontal faces and poor on turned ones.
``method="mtcnn"`` is MTCNN (Zhang et al., 2016), three small convolutional networks from the
``mtcnn`` package (its weights ship inside the wheel): slower, but it finds turned faces and
also gives five landmarks (eyes, nose, mouth corners). A crop remembers where it came from
(:class:`CropTransform`), so keypoints predicted on the crop map back onto the photo::

    boxes = detect_faces(photo)                  # (k, 4): x, y, w, h
    boxes = detect_faces(photo, method="mtcnn")  # the same convention, another detector
    crop, transform = crop_face(photo, boxes[0])  # (96, 96) uint8
    keypoints = crop_to_image(predicted_on_crop, transform)
    boxes, points = detect_faces_and_landmarks(photo)  # MTCNN: points (k, 5, 2)
    crop, transform = align_face(photo, boxes[0], eyes=points[0, :2])

:func:`align_face` also turns the face so the eyes are level. Running this on every frame of
a video, with the models, is :mod:`utils.realtime`; drawing the results is :mod:`utils.annotate`.

Coordinates follow the course's convention: pixel centres at integer coordinates (the pixel
in column ``j`` is centred at ``x = j``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from utils.mtcnn_faces import LANDMARKS as LANDMARKS  # re-exported: MTCNN's five points
from utils.mtcnn_faces import MTCNN_MIN_CONFIDENCE as MTCNN_MIN_CONFIDENCE
from utils.mtcnn_faces import mtcnn_detector as mtcnn_detector
from utils.mtcnn_faces import mtcnn_faces

#: The cascade file used by :func:`detect_faces`, from ``cv2.data.haarcascades``.
FRONTAL_FACE_CASCADE = "haarcascade_frontalface_default.xml"
#: Margin around the Haar box for the emotion crop (FER-2013's faces are tightly framed).
EMOTION_MARGIN = 0.1
#: Margin around the Haar box for the keypoint crop (Kaggle's 96x96 framing).
KEYPOINT_MARGIN = 0.2
#: The detectors :func:`detect_faces` knows (``method=``): OpenCV's Haar cascade, MTCNN.
DETECTORS = ("haar", "mtcnn")
#: The Haar cascade's defaults: window growth per step, overlapping detections a face needs.
HAAR_SCALE_FACTOR = 1.1
HAAR_MIN_NEIGHBORS = 5


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


def to_rgb(image: np.ndarray) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` RGB copy of a gray, gray + channel, RGB or RGBA uint8 image."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        return array.copy()
    if array.ndim == 3 and array.shape[2] == 4 and array.dtype == np.uint8:
        return np.ascontiguousarray(array[..., :3])
    return cv2.cvtColor(to_gray(array), cv2.COLOR_GRAY2RGB)


def check_detector_args(
    method: str,
    *,
    scale_factor: float | None = None,
    min_neighbors: int | None = None,
    min_size: Any = (40, 40),
    min_confidence: float | None = None,
) -> tuple[int, int]:
    """Check :func:`detect_faces`' settings for ``method``; return ``min_size`` as two ints.

    Each detector has its own knobs: ``scale_factor`` and ``min_neighbors`` are the Haar
    cascade's, ``min_confidence`` is MTCNN's; passing one to the other detector is an error
    rather than silently ignored. Raises ValueError naming the argument.
    """
    if method not in DETECTORS:
        raise ValueError(
            f"method={method!r}: expected 'haar' (OpenCV's Haar cascade, the default) or "
            "'mtcnn' (the MTCNN networks of the mtcnn package)"
        )
    try:
        width, height = (int(v) for v in np.asarray(min_size).reshape(2))
    except (TypeError, ValueError) as e:
        raise ValueError(f"min_size={min_size!r}: expected (width, height) in pixels") from e
    if width < 1 or height < 1:
        raise ValueError(f"min_size={min_size!r}: expected a positive width and height")
    if method == "haar":
        if min_confidence is not None:
            raise ValueError(
                f"min_confidence={min_confidence!r} is MTCNN's setting; the Haar cascade has no "
                "confidence (use min_neighbors, or method='mtcnn')"
            )
        if scale_factor is not None and not scale_factor > 1.0:
            raise ValueError(f"scale_factor={scale_factor!r}: expected a number > 1 (e.g. 1.1)")
        if min_neighbors is not None and min_neighbors < 0:
            raise ValueError(f"min_neighbors={min_neighbors!r}: expected 0 or more")
    else:
        for name, value in (("scale_factor", scale_factor), ("min_neighbors", min_neighbors)):
            if value is not None:
                raise ValueError(
                    f"{name}={value!r} is a setting of the Haar cascade; method='mtcnn' searches "
                    "its own image pyramid (use min_size and min_confidence)"
                )
        if min_confidence is not None and not 0.0 < min_confidence < 1.0:
            raise ValueError(f"min_confidence={min_confidence!r}: expected a number in (0, 1)")
    return width, height


def detect_faces(
    image: np.ndarray,
    *,
    method: str = "haar",
    scale_factor: float | None = None,
    min_neighbors: int | None = None,
    min_size: Any = (40, 40),
    min_confidence: float | None = None,
) -> np.ndarray:
    """Find faces; return a ``(k, 4)`` int array of ``x, y, w, h`` boxes, largest first.

    ``x, y`` is the box's top-left pixel and ``w, h`` its size, in ``image``'s pixels, for
    either detector. Haar's boxes are square; MTCNN's are a little taller than wide (brow to
    chin). :func:`crop_face` and :func:`align_face` frame a square on the longer side.

    Args:
        image: uint8 grayscale or colour image (colour is read as RGB; MTCNN uses it).
        method: ``"haar"`` (OpenCV's Haar cascade: fast, frontal faces) or ``"mtcnn"``
            (MTCNN: slower, finds turned and tilted faces too).
        scale_factor: Haar only -- how much the search window grows per step (default 1.1;
            smaller: slower, finds more).
        min_neighbors: Haar only -- overlapping detections a face needs (default 5; larger:
            fewer false faces).
        min_size: smallest face ``(width, height)`` in pixels, for both detectors (for
            MTCNN where its search starts: it also finds faces somewhat smaller).
        min_confidence: MTCNN only -- the probability a box needs to count as a face
            (default 0.8; larger: fewer false faces).
    """
    width, height = check_detector_args(
        method,
        scale_factor=scale_factor,
        min_neighbors=min_neighbors,
        min_size=min_size,
        min_confidence=min_confidence,
    )
    if method == "mtcnn":
        return mtcnn_faces(to_rgb(image), min(width, height), min_confidence)[0]
    gray = to_gray(image)
    found = _cascade().detectMultiScale(
        gray,
        scaleFactor=HAAR_SCALE_FACTOR if scale_factor is None else float(scale_factor),
        minNeighbors=HAAR_MIN_NEIGHBORS if min_neighbors is None else int(min_neighbors),
        minSize=(width, height),
    )
    boxes = np.asarray(found, dtype=np.int64).reshape(-1, 4)
    order = np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")
    return boxes[order]


def detect_faces_and_landmarks(
    image: np.ndarray,
    *,
    min_size: Any = (40, 40),
    min_confidence: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MTCNN's faces and their five landmarks.

    Returns the ``(k, 4)`` int boxes of ``detect_faces(image, method="mtcnn")`` (largest
    first) and ``(k, 5, 2)`` float points ``x, y`` in the image's pixels, in :data:`LANDMARKS`
    order: the two eye centres (the image's left one first), the nose tip and the two mouth
    corners. ``points[i, :2]`` are the eyes :func:`align_face` levels.
    """
    width, height = check_detector_args("mtcnn", min_size=min_size, min_confidence=min_confidence)
    return mtcnn_faces(to_rgb(image), min(width, height), min_confidence)


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


def crop_to_image(keypoints: Any, transform: CropTransform | AlignTransform) -> np.ndarray:
    """Map keypoints from crop pixels back to the original image's pixels (NaN stays NaN).

    ``keypoints`` is ``(..., 30)`` (x, y alternating, Kaggle order) or ``(..., 2)`` points;
    ``transform`` is what :func:`crop_face` or :func:`align_face` returned with the crop.
    """
    if isinstance(transform, AlignTransform):
        return transform.to_image(keypoints)
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
    x, y, w, h = _box_numbers(box)
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
