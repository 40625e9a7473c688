"""Keypoint-aware augmentation: move the labels with the pixels.

Flipping or rotating a face changes where its eyes are, so the keypoints must be transformed
with the image -- and a horizontal flip must also *rename* them: the subject's left eye, seen
in a mirror, is now on the subject's right side. Forgetting that swap is the classic bug: the
model is then trained on half its data with left and right exchanged.

Conventions (the same as the Kaggle labels, NumPy indexing, OpenCV and ``tf.image``):

* a keypoint's ``(x, y)`` is in pixels with pixel *centres* at integer coordinates: the pixel
  in column ``j`` is centred at ``x = j``, so an image of width ``W`` spans ``-0.5 .. W - 0.5``;
* a horizontal flip moves column ``j`` to column ``W - 1 - j`` (what ``cv2.flip(img, 1)`` and
  ``tf.image.flip_left_right`` do), so ``x' = W - 1 - x`` (``95 - x`` for a 96-pixel face);
* rotation, scale and shift are one affine matrix about the image centre ``((W-1)/2, (H-1)/2)``
  applied to the pixels *and* to the keypoints; a positive angle turns the face clockwise as
  displayed (the y axis points down);
* a missing keypoint (NaN) stays NaN; a keypoint pushed outside the image becomes NaN (it is
  no longer visible, and the masked loss then ignores it) unless ``out_of_bounds="keep"``.

The TensorFlow functions (:func:`flip_horizontal`, :func:`affine_transform`, :func:`random_affine`,
:func:`random_brightness_contrast`, :func:`augment`) are pure TF ops, so they run inside
``tf.data.Dataset.map`` on one example ``(H, W, C)`` + ``(30,)`` or a batch
``(B, H, W, C)`` + ``(B, 30)``. :func:`augment_keypoints_dataset` wires them into a pipeline.
:func:`flip_horizontal_np` and :func:`warp_affine_np` are the NumPy/OpenCV equivalents.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import tensorflow as tf

from utils.schema import FLIP_PERMUTATION, KEYPOINT_COLUMNS, KEYPOINT_SIZE

OutOfBounds = Literal["nan", "keep"]


#: ``True`` for the x columns (even positions in Kaggle's interleaved x, y order).
_IS_X = np.arange(len(KEYPOINT_COLUMNS)) % 2 == 0


def _check_out_of_bounds(out_of_bounds: str) -> None:
    if out_of_bounds not in ("nan", "keep"):
        raise ValueError(f"out_of_bounds={out_of_bounds!r}: expected 'nan' or 'keep'")


# --------------------------------------------------------------------------------------------
# NumPy / OpenCV
# --------------------------------------------------------------------------------------------


def flip_keypoints_np(keypoints: np.ndarray, width: int = 96) -> np.ndarray:
    """Mirror ``(..., 30)`` keypoints for a horizontally flipped image of ``width`` pixels.

    ``x' = width - 1 - x``, and left/right names swap (see :data:`FLIP_PERMUTATION`).
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape[-1] != len(KEYPOINT_COLUMNS):
        raise ValueError(
            f"keypoints have shape {kp.shape}; expected (..., {len(KEYPOINT_COLUMNS)})"
        )
    mirrored = np.where(_IS_X, (width - 1) - kp, kp)
    return mirrored[..., FLIP_PERMUTATION]


def flip_horizontal_np(image: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip one ``(H, W[, C])`` image left-right and its ``(30,)`` keypoints with it."""
    image = np.asarray(image)
    return image[:, ::-1].copy(), flip_keypoints_np(keypoints, image.shape[1])


def affine_matrix(
    angle: float = 0.0,
    scale: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
    size: tuple[int, int] = (96, 96),
) -> np.ndarray:
    """The ``(2, 3)`` forward matrix: rotate by ``angle`` degrees and scale about the centre,
    then shift by ``(dx, dy)`` pixels. ``size`` is ``(height, width)``.

    It maps an original point ``(x, y, 1)`` to its augmented position, which is also what
    ``cv2.warpAffine(image, matrix, ...)`` expects.
    """
    height, width = size
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    theta = np.deg2rad(angle)
    cos, sin = scale * np.cos(theta), scale * np.sin(theta)
    dx, dy = shift
    return np.array(
        [
            [cos, -sin, cx - cos * cx + sin * cy + dx],
            [sin, cos, cy - sin * cx - cos * cy + dy],
        ],
        dtype=np.float64,
    )


def transform_keypoints_np(
    keypoints: np.ndarray,
    matrix: np.ndarray,
    size: tuple[int, int] = (96, 96),
    *,
    out_of_bounds: OutOfBounds = "nan",
) -> np.ndarray:
    """Apply a ``(2, 3)`` forward matrix to ``(..., 30)`` keypoints; NaN stays NaN."""
    _check_out_of_bounds(out_of_bounds)
    kp = np.asarray(keypoints, dtype=np.float64)
    points = kp.reshape(*kp.shape[:-1], -1, 2)
    m = np.asarray(matrix, dtype=np.float64)
    moved = points @ m[:, :2].T + m[:, 2]
    if out_of_bounds == "nan":
        height, width = size
        inside = (
            (moved[..., 0] >= 0)
            & (moved[..., 0] <= width - 1)
            & (moved[..., 1] >= 0)
            & (moved[..., 1] <= height - 1)
        )
        moved = np.where(inside[..., None], moved, np.nan)
    return moved.reshape(kp.shape).astype(np.float32)


def warp_affine_np(
    image: np.ndarray,
    keypoints: np.ndarray,
    matrix: np.ndarray,
    *,
    out_of_bounds: OutOfBounds = "nan",
) -> tuple[np.ndarray, np.ndarray]:
    """Warp one ``(H, W[, 1])`` image with OpenCV and move its keypoints with the same matrix.

    Borders are filled by repeating the edge pixels (like the TF version's ``"NEAREST"``).
    """
    image = np.asarray(image)
    height, width = image.shape[:2]
    warped = cv2.warpAffine(
        image,
        np.asarray(matrix, dtype=np.float64),
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    if image.ndim == 3 and warped.ndim == 2:  # OpenCV drops a single channel axis
        warped = warped[..., None]
    moved = transform_keypoints_np(keypoints, matrix, (height, width), out_of_bounds=out_of_bounds)
    return warped, moved


# --------------------------------------------------------------------------------------------
# Mirror axes, flip test-time augmentation and a whole batch at once (NumPy)
# --------------------------------------------------------------------------------------------

#: Where a horizontal flip mirrors the pixels: ``x -> 95 - x`` is a mirror about x = 47.5.
PIXEL_AXIS = (KEYPOINT_SIZE - 1) / 2.0


def keypoint_unflip_map(axis: float = PIXEL_AXIS) -> tuple[np.ndarray, np.ndarray]:
    """``(kernel, bias)`` with ``points @ kernel + bias == mirror_keypoints(points, axis)``."""
    n = len(FLIP_PERMUTATION)
    is_x = np.arange(n) % 2 == 0
    kernel = np.zeros((n, n), np.float32)
    bias = np.zeros(n, np.float32)
    for j, source in enumerate(FLIP_PERMUTATION):
        kernel[source, j] = -1.0 if is_x[source] else 1.0
        bias[j] = 2 * axis if is_x[source] else 0.0
    return kernel, bias


def mirror_keypoints(points: np.ndarray, axis: float = PIXEL_AXIS) -> np.ndarray:
    """Keypoints of the mirrored face: ``x -> 2 * axis - x``, left/right names swapped.

    ``axis = 47.5`` is the exact pixel mirror (:func:`flip_keypoints_np`).
    Labels that sit a constant ``d`` px right of the feature they mark (a cropping or
    coordinate-convention offset) mirror correctly about ``47.5 + d`` instead: mirroring
    about 47.5 would then teach the network a ``2 d`` px error on every flipped face.
    """
    is_x = np.arange(points.shape[-1]) % 2 == 0
    return flip_keypoints_np(points, KEYPOINT_SIZE) + np.where(is_x, 2 * axis - 2 * PIXEL_AXIS, 0.0)


def estimate_label_axis(keypoints: np.ndarray) -> float:
    """The labels' own mirror axis: the mean x midway between the two eye centres.

    Faces are cropped centred, so for correctly placed labels this is ~47.5 (the pixel
    mirror). On the real-faces zip it is ~48.4: the labels sit ~0.9 px right of the pixels'
    mirror axis, which a network trained with 47.5-flips shows as a ~2 px x bias on mirrored
    faces.
    """
    left = keypoints[:, KEYPOINT_COLUMNS.index("left_eye_center_x")]
    right = keypoints[:, KEYPOINT_COLUMNS.index("right_eye_center_x")]
    return float(np.nanmean((left + right) / 2))


def augment_batch_np(
    images: np.ndarray,
    keypoints: np.ndarray,
    rng: np.random.Generator,
    flip_axis: float = PIXEL_AXIS,
) -> tuple[np.ndarray, np.ndarray]:
    """A fresh random flip + rotation/scale/shift + brightness/contrast for every face.

    ``images`` ``(N, 96, 96, 1)`` float32 in [0, 1], ``keypoints`` ``(N, 30)`` pixels. Flip
    with p=0.5 (left/right names swapped), rotation +-12 degrees, scale +-10%, shift +-6 px
    (one matrix for the pixels and the points, :func:`warp_affine_np`), contrast x0.7-1.3 and
    brightness +-0.1: what the shipped keypoint model trains with, one call per epoch.
    The keypoints of a flipped face are mirrored about ``flip_axis`` (:func:`mirror_keypoints`).
    """
    n = len(images)
    flips = rng.random(n) < 0.5
    angles = rng.uniform(-12, 12, n)
    scales = rng.uniform(0.9, 1.1, n)
    shifts = rng.uniform(-6, 6, (n, 2))
    contrast = rng.uniform(0.7, 1.3, n).astype(np.float32)
    brightness = rng.uniform(-0.1, 0.1, n).astype(np.float32)
    out_x = np.empty_like(images)
    out_y = np.empty_like(keypoints)
    for i in range(n):
        image, points = images[i], keypoints[i]
        if flips[i]:
            image, points = image[:, ::-1], mirror_keypoints(points, flip_axis)
        matrix = affine_matrix(angles[i], scales[i], (shifts[i, 0], shifts[i, 1]))
        image, points = warp_affine_np(
            np.ascontiguousarray(image), points, matrix, out_of_bounds="keep"
        )
        out_x[i] = image.reshape(KEYPOINT_SIZE, KEYPOINT_SIZE, 1)
        out_y[i] = points
    mean = out_x.mean(axis=(1, 2, 3), keepdims=True)
    out_x = (out_x - mean) * contrast[:, None, None, None] + mean + brightness[:, None, None, None]
    return np.clip(out_x, 0.0, 1.0).astype(np.float32), out_y


# --------------------------------------------------------------------------------------------
# TensorFlow (for tf.data)
# --------------------------------------------------------------------------------------------


def _as_batch(image: Any, keypoints: Any) -> tuple[tf.Tensor, tf.Tensor, bool]:
    """Cast to float32 and add a batch axis to a single example; say whether we added one."""
    image = tf.convert_to_tensor(image)
    if not image.dtype.is_floating:
        raise ValueError(f"image dtype is {image.dtype.name}; expected float32 in [0, 1]")
    image = tf.cast(image, tf.float32)
    keypoints = tf.cast(tf.convert_to_tensor(keypoints), tf.float32)
    if image.shape.rank not in (3, 4):
        raise ValueError(f"image has shape {image.shape}; expected (H, W, C) or (B, H, W, C)")
    single = image.shape.rank == 3
    if single:
        image, keypoints = image[None], keypoints[None]
    if keypoints.shape.rank != 2 or keypoints.shape[-1] != len(KEYPOINT_COLUMNS):
        raise ValueError(
            f"keypoints have shape {keypoints.shape}; expected ({len(KEYPOINT_COLUMNS)},) per image"
        )
    return image, keypoints, single


def _unbatch(image: tf.Tensor, keypoints: tf.Tensor, single: bool) -> tuple[tf.Tensor, tf.Tensor]:
    return (image[0], keypoints[0]) if single else (image, keypoints)


def _seeds(seed: Any, n: int) -> list[tf.Tensor]:
    """``n`` independent stateless seeds from one (or a fresh random one if ``seed`` is None)."""
    if seed is None:
        seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return list(tf.unstack(tf.random.experimental.stateless_split(seed, num=n)))


def _flip_keypoints_tf(keypoints: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    mirrored = tf.where(tf.constant(_IS_X), tf.cast(width, tf.float32) - 1.0 - keypoints, keypoints)
    return tf.gather(mirrored, tf.constant(FLIP_PERMUTATION), axis=-1)


def flip_horizontal(image: Any, keypoints: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """Flip image(s) left-right, mirror ``x' = W - 1 - x`` and swap left/right keypoints."""
    image, keypoints, single = _as_batch(image, keypoints)
    width = tf.shape(image)[2]
    return _unbatch(tf.reverse(image, axis=[2]), _flip_keypoints_tf(keypoints, width), single)


def random_flip(
    image: Any, keypoints: Any, *, rate: float = 0.5, seed: Any = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """Flip each image (and its keypoints) with probability ``rate``."""
    image, keypoints, single = _as_batch(image, keypoints)
    (s,) = _seeds(seed, 1)
    n = tf.shape(image)[0]
    flip = tf.random.stateless_uniform([n], seed=s) < rate
    flipped_image, flipped_kp = flip_horizontal(image, keypoints)
    image = tf.where(flip[:, None, None, None], flipped_image, image)
    keypoints = tf.where(flip[:, None], flipped_kp, keypoints)
    return _unbatch(image, keypoints, single)


def affine_transform(
    image: Any,
    keypoints: Any,
    *,
    angle: Any = 0.0,
    scale: Any = 1.0,
    shift: Any = (0.0, 0.0),
    out_of_bounds: OutOfBounds = "nan",
) -> tuple[tf.Tensor, tf.Tensor]:
    """Rotate by ``angle`` degrees and zoom by ``scale`` about the centre, then shift by
    ``(dx, dy)`` pixels -- the same matrix as :func:`affine_matrix`, for image(s) and keypoints.

    For a batch, ``angle`` and ``scale`` may be ``(B,)`` and ``shift`` ``(2, B)`` (one transform
    per image). Pixels that come from outside the image repeat the nearest edge pixel.
    """
    _check_out_of_bounds(out_of_bounds)
    image, keypoints, single = _as_batch(image, keypoints)
    n = tf.shape(image)[0]
    height, width = tf.shape(image)[1], tf.shape(image)[2]

    def per_image(value: Any) -> tf.Tensor:
        return tf.broadcast_to(tf.cast(value, tf.float32), [n])

    theta = per_image(angle) * (np.pi / 180.0)
    zoom = per_image(scale)
    shift = tf.cast(tf.convert_to_tensor(shift), tf.float32)
    dx, dy = per_image(shift[0]), per_image(shift[1])
    cx = (tf.cast(width, tf.float32) - 1.0) / 2.0
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    cos, sin = tf.cos(theta), tf.sin(theta)

    # Keypoints go forward: p' = zoom * R (p - c) + c + shift.
    points = tf.reshape(keypoints, [n, -1, 2])
    px, py = points[..., 0] - cx, points[..., 1] - cy
    zc, zs = (zoom * cos)[:, None], (zoom * sin)[:, None]
    new_x = zc * px - zs * py + cx + dx[:, None]
    new_y = zs * px + zc * py + cy + dy[:, None]
    if out_of_bounds == "nan":
        w1, h1 = tf.cast(width, tf.float32) - 1.0, tf.cast(height, tf.float32) - 1.0
        inside = (new_x >= 0) & (new_x <= w1) & (new_y >= 0) & (new_y <= h1)
        nan = tf.fill(tf.shape(new_x), np.float32(np.nan))
        new_x, new_y = tf.where(inside, new_x, nan), tf.where(inside, new_y, nan)
    keypoints = tf.reshape(tf.stack([new_x, new_y], axis=-1), [n, len(KEYPOINT_COLUMNS)])

    # Pixels go backward: output pixel p' reads the input at p = R^T (p' - c - shift) / zoom + c.
    a0, a1 = cos / zoom, sin / zoom
    b0, b1 = -sin / zoom, cos / zoom
    a2 = cx - a0 * (cx + dx) - a1 * (cy + dy)
    b2 = cy - b0 * (cx + dx) - b1 * (cy + dy)
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    image = tf.raw_ops.ImageProjectiveTransformV3(
        images=image,
        transforms=transforms,
        output_shape=tf.stack([height, width]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return _unbatch(image, keypoints, single)


def random_affine(
    image: Any,
    keypoints: Any,
    *,
    rotation: float = 10.0,
    scale: float = 0.1,
    shift: float = 4.0,
    out_of_bounds: OutOfBounds = "nan",
    seed: Any = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Rotate (``+-rotation`` degrees), scale (``1 +- scale``) and shift (``+-shift`` px) each
    image about its centre: one random :func:`affine_transform` per image, applied to its
    keypoints too.
    """
    image, keypoints, single = _as_batch(image, keypoints)
    s_angle, s_scale, s_shift = _seeds(seed, 3)
    n = tf.shape(image)[0]
    image, keypoints = affine_transform(
        image,
        keypoints,
        angle=tf.random.stateless_uniform([n], s_angle, -rotation, rotation),
        scale=tf.random.stateless_uniform([n], s_scale, 1.0 - scale, 1.0 + scale),
        shift=tf.random.stateless_uniform([2, n], s_shift, -shift, shift),
        out_of_bounds=out_of_bounds,
    )
    return _unbatch(image, keypoints, single)


def random_brightness_contrast(
    image: Any, *, brightness: float = 0.1, contrast: float = 0.2, seed: Any = None
) -> tf.Tensor:
    """Shift brightness by ``+-brightness`` and scale contrast by ``1 +- contrast`` about each
    image's mean; the result is clipped to [0, 1]. Keypoints do not move."""
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    single = image.shape.rank == 3
    if single:
        image = image[None]
    s_b, s_c = _seeds(seed, 2)
    n = tf.shape(image)[0]
    delta = tf.random.stateless_uniform([n, 1, 1, 1], s_b, -brightness, brightness)
    factor = tf.random.stateless_uniform([n, 1, 1, 1], s_c, 1.0 - contrast, 1.0 + contrast)
    mean = tf.reduce_mean(image, axis=[1, 2, 3], keepdims=True)
    image = tf.clip_by_value((image - mean) * factor + mean + delta, 0.0, 1.0)
    return image[0] if single else image


def augment(
    image: Any,
    keypoints: Any,
    *,
    flip: float = 0.5,
    rotation: float = 10.0,
    scale: float = 0.1,
    shift: float = 4.0,
    brightness: float = 0.1,
    contrast: float = 0.2,
    out_of_bounds: OutOfBounds = "nan",
    seed: Any = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Random flip (with left/right swap), affine warp and brightness/contrast, in that order.

    Set any strength to 0 to switch that step off. ``seed`` (two integers) makes the result
    reproducible; :func:`augment_keypoints_dataset` passes a fresh one per batch and epoch.
    """
    image, keypoints, single = _as_batch(image, keypoints)
    s_flip, s_affine, s_photo = _seeds(seed, 3)
    if flip:
        image, keypoints = random_flip(image, keypoints, rate=flip, seed=s_flip)
    if rotation or scale or shift:
        image, keypoints = random_affine(
            image,
            keypoints,
            rotation=rotation,
            scale=scale,
            shift=shift,
            out_of_bounds=out_of_bounds,
            seed=s_affine,
        )
    if brightness or contrast:
        image = random_brightness_contrast(
            image, brightness=brightness, contrast=contrast, seed=s_photo
        )
    return _unbatch(image, keypoints, single)


def augment_keypoints_dataset(
    ds: tf.data.Dataset,
    *,
    seed: int | None = None,
    num_parallel_calls: int | None = tf.data.AUTOTUNE,
    **strengths: Any,
) -> tf.data.Dataset:
    """Map :func:`augment` over a dataset of ``(image, keypoints)`` pairs (batched or not).

    Each element gets its own random transform, different every epoch, yet the whole stream is
    reproducible from ``seed`` (a ``Dataset.random`` stream supplies stateless seeds).
    ``strengths`` are :func:`augment`'s keyword arguments (``flip=0.5``, ``rotation=10``, ...).

    >>> train = augment_keypoints_dataset(train, seed=SEED, rotation=8)  # doctest: +SKIP
    """
    allowed = {"flip", "rotation", "scale", "shift", "brightness", "contrast", "out_of_bounds"}
    unknown = sorted(set(strengths) - allowed)
    if unknown:
        raise ValueError(
            f"unknown augmentation option(s) {unknown}; expected some of {sorted(allowed)}"
        )
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(f"dataset elements are {spec}; expected (image, keypoints) pairs")
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def _map(pair: tuple[tf.Tensor, tf.Tensor], s: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return augment(pair[0], pair[1], seed=s, **strengths)

    return tf.data.Dataset.zip((ds, seeds)).map(
        _map, num_parallel_calls=num_parallel_calls, deterministic=True
    )
