"""Image augmentation: one set of parameters, one implementation per backend.

:class:`AugmentConfig` says how strongly to augment (flip, rotation, zoom, shift, contrast,
random erasing); each function below does exactly that, in its own way:

* :func:`augmentation_layers` -- Keras preprocessing layers, for a ``tf.data`` ``map``;
* :func:`tf_augment` -- TensorFlow ops on a batch, one affine warp per image, with stateless
  seeds (what ``utils.pipelines.make_dataset(augment=True)`` maps);
* :func:`augment_batch_opencv` -- OpenCV/NumPy on a batch (``backend="opencv"``);
* :func:`augment_image_numpy` -- OpenCV/NumPy on one image at a time, as a hand-written
  generator does (``utils.pipelines.NumpyAugmentDataset``, the baseline).

Images are float32 in [0, 1], shape ``(N, H, W, C)`` (one image: ``(H, W, C)``). Keypoint-aware
augmentation (a flip that swaps left and right points) is ``utils.keypoint_augmentation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import keras
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    """How strongly to augment. Every backend reads this, so they all do the same thing.

    ``rotation_deg``: +- degrees; ``zoom``: +- fraction of the size (positive zooms out);
    ``translation``: +- fraction of height/width; ``contrast``: +- fraction of the contrast;
    ``erase``: probability of random erasing (Zhong et al., 2017) -- one rectangle covering
    2-25% of the image, aspect ratio 0.3-3.3, filled with uniform noise, so the network cannot
    rely on any single part of the face. Pixels that a warp brings in from outside the image
    are filled by reflection.
    """

    flip: bool = True
    rotation_deg: float = 10.0
    zoom: float = 0.15
    translation: float = 0.1
    contrast: float = 0.2
    erase: float = 0.0

    @property
    def geometric(self) -> bool:
        """Whether any warp (rotation, zoom, shift) is asked for; a flip alone needs none."""
        return bool(self.rotation_deg or self.zoom or self.translation)

    def __post_init__(self) -> None:
        for name in ("rotation_deg", "zoom", "translation", "contrast"):
            value = getattr(self, name)
            if not 0 <= value < (180 if name == "rotation_deg" else 1):
                raise ValueError(f"AugmentConfig.{name}={value!r}: out of range")
        if not 0 <= self.erase <= 1:
            raise ValueError(
                f"AugmentConfig.erase={self.erase!r}: expected a probability in [0, 1]"
            )


#: Random erasing's rectangle: its share of the image's area, and its aspect-ratio range.
ERASE_AREA = (0.02, 0.25)
ERASE_ASPECT = (0.3, 3.3)


def _erase_boxes(
    uniforms: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rectangles ``(top, left, rows, cols)`` from five uniform [0, 1) numbers per image."""
    area = (ERASE_AREA[0] + uniforms[:, 0] * (ERASE_AREA[1] - ERASE_AREA[0])) * height * width
    log_lo, log_hi = np.log(ERASE_ASPECT[0]), np.log(ERASE_ASPECT[1])
    aspect = np.exp(log_lo + uniforms[:, 1] * (log_hi - log_lo))
    rows = np.clip(np.rint(np.sqrt(area * aspect)), 1, height).astype(np.int64)
    cols = np.clip(np.rint(np.sqrt(area / aspect)), 1, width).astype(np.int64)
    top = np.floor(uniforms[:, 2] * (height - rows + 1)).astype(np.int64)
    left = np.floor(uniforms[:, 3] * (width - cols + 1)).astype(np.int64)
    return top, left, rows, cols


def erase_numpy(images: np.ndarray, rng: np.random.Generator, probability: float) -> np.ndarray:
    """Random erasing of a batch ``(N, H, W, C)`` in place: see :class:`AugmentConfig`."""
    n, height, width = images.shape[:3]
    hit = rng.random(n) < probability
    top, left, rows, cols = _erase_boxes(rng.random((n, 5)), height, width)
    for i in np.flatnonzero(hit):
        box = images[i, top[i] : top[i] + rows[i], left[i] : left[i] + cols[i]]
        box[...] = rng.random(box.shape, dtype=np.float32)
    return images


def augmentation_layers(config: AugmentConfig | None = None, *, seed: int = 42) -> keras.Sequential:
    """Keras preprocessing layers doing ``config``'s augmentation on a batch of images.

    Use them in a ``tf.data`` map (as ``utils.pipelines.make_dataset`` does), not inside the
    model: the geometric ones (rotation, zoom, translation) set ``supports_jit = False``, and
    one such layer inside a model makes Keras compile the *whole* model without XLA.
    """
    config = config or AugmentConfig()
    layers: list[keras.layers.Layer] = []
    if config.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if config.rotation_deg:
        # RandomRotation's factor is a fraction of a full turn.
        factor = config.rotation_deg / 360.0
        layers.append(keras.layers.RandomRotation(factor, fill_mode="reflect", seed=seed + 1))
    if config.zoom:
        layers.append(
            keras.layers.RandomZoom((-config.zoom, config.zoom), fill_mode="reflect", seed=seed + 2)
        )
    if config.translation:
        t = config.translation
        layers.append(keras.layers.RandomTranslation(t, t, fill_mode="reflect", seed=seed + 3))
    if config.contrast:
        # value_range: our images are in [0, 1], not the layer's default [0, 255].
        layers.append(
            keras.layers.RandomContrast(config.contrast, value_range=(0, 1), seed=seed + 4)
        )
    return keras.Sequential(layers, name="augmentation")


def augment_image_numpy(
    image: np.ndarray, rng: np.random.Generator, config: AugmentConfig | None = None
) -> np.ndarray:
    """Augment one (H, W, C) float image in NumPy/OpenCV, exactly as :func:`augmentation_layers`.

    One random flip, one affine warp (rotation, zoom and shift together) and one contrast
    change per image. This is how a hand-written generator does it: one image at a time.
    """
    config = config or AugmentConfig()
    height, width = image.shape[:2]
    out = image
    if config.flip and rng.random() < 0.5:
        out = out[:, ::-1]
    if config.geometric:
        angle = rng.uniform(-config.rotation_deg, config.rotation_deg)
        # Keras' zoom factor z shows the image at 1 / (1 + z) of its size (z > 0 zooms out).
        scale = 1.0 / (1.0 + rng.uniform(-config.zoom, config.zoom))
        dx = rng.uniform(-config.translation, config.translation) * width
        dy = rng.uniform(-config.translation, config.translation) * height
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, scale)
        matrix[:, 2] += (dx, dy)
        out = cv2.warpAffine(
            np.ascontiguousarray(out),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
    warped = out.reshape(image.shape)
    if config.contrast:
        factor = rng.uniform(1 - config.contrast, 1 + config.contrast)
        mean = warped.mean(axis=(0, 1), keepdims=True)
        warped = np.clip((warped - mean) * factor + mean, 0.0, 1.0)
    warped = warped.astype(np.float32, copy=False)
    if config.erase:
        warped = erase_numpy(warped[None].copy(), rng, config.erase)[0]
    return warped


def augment_batch_opencv(
    images: np.ndarray, seed: Sequence[int] | np.ndarray, config: AugmentConfig | None = None
) -> np.ndarray:
    """Augment a batch ``(N, H, W, C)`` float32 with OpenCV: what :func:`augment_image_numpy`
    does, but with the random numbers and matrices made for the whole batch at once.

    Only the warp itself runs once per image (``cv2.warpAffine``, with the flip folded into
    its matrix); the contrast change is one NumPy expression over the batch. ``seed``: any
    NumPy seed, e.g. the ``(2,)`` stateless seed ``utils.pipelines.make_dataset`` draws per
    batch.

    Used with ``backend="opencv"`` inside a tf.data ``map`` (through ``tf.numpy_function``).
    It holds Python's lock except inside OpenCV, so parallel map calls barely overlap. It is
    still faster on a CPU because OpenCV's warp is: 13-25 microseconds per 48x48 face,
    against 50-90 for TensorFlow's ``ImageProjectiveTransformV3`` on the course's 2-core
    machine (``python -m benchmarks.augment_cost`` times both side by side).
    """
    config = config or AugmentConfig()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images: expected a batch (N, H, W, C), got shape {images.shape}")
    n, height, width = images.shape[:3]
    # tf.data's stateless seeds are int64 and may be negative; NumPy wants them unsigned.
    rng = np.random.default_rng(np.asarray(seed).astype(np.int64).view(np.uint64))
    flip = np.asarray(rng.random(n) < 0.5) if config.flip else np.zeros(n, bool)
    out = images
    if config.geometric:
        angle = np.asarray(rng.uniform(-config.rotation_deg, config.rotation_deg, n))
        scale = 1.0 / (1.0 + np.asarray(rng.uniform(-config.zoom, config.zoom, n)))
        dx = rng.uniform(-config.translation, config.translation, n) * width
        dy = rng.uniform(-config.translation, config.translation, n) * height
        matrices = _affine_matrices(height, width, flip, angle, scale, dx, dy)
        out = np.empty_like(images)
        size, flags, border = (width, height), cv2.INTER_LINEAR, cv2.BORDER_REFLECT
        if images.shape[3] == 1:  # grey: (H, W) views, and OpenCV writes straight into out
            for src, dst, matrix in zip(images[..., 0], out[..., 0], matrices, strict=True):
                cv2.warpAffine(src, matrix, size, dst, flags, border)
        else:
            for i in range(n):  # the one per-image step: OpenCV's warp
                out[i] = cv2.warpAffine(images[i], matrices[i], size, None, flags, border)
    elif flip.any():
        out = np.where(flip[:, None, None, None], images[:, :, ::-1], images)
    if config.contrast:
        factor = rng.uniform(1 - config.contrast, 1 + config.contrast, (n, 1, 1, 1))
        mean = out.mean(axis=(1, 2), keepdims=True, dtype=np.float32)
        out = out - mean  # a new array: the caller's images stay as they were
        out *= factor.astype(np.float32)  # in place from here: no more temporary arrays
        out += mean
        np.clip(out, 0.0, 1.0, out=out)
    if config.erase:
        out = erase_numpy(out if out is not images else out.copy(), rng, config.erase)
    return out.astype(np.float32, copy=False)


def _affine_matrices(
    height: int,
    width: int,
    flip: np.ndarray,
    angle_deg: np.ndarray,
    scale: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
) -> np.ndarray:
    """``(N, 2, 3)`` matrices for ``cv2.warpAffine``: flip, then what :func:`augment_image_numpy`
    does (``cv2.getRotationMatrix2D`` about the centre, plus the shift), in one matrix each."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    angle = np.deg2rad(angle_deg)
    a, b = scale * np.cos(angle), scale * np.sin(angle)
    m = np.empty((len(flip), 2, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = a, b, (1 - a) * cx - b * cy + dx
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = -b, a, b * cx + (1 - a) * cy + dy
    # Flipping first maps x to (w - 1) - x: the matrix times [[-1, 0, w-1], [0, 1, 0]].
    m[:, :, 2] += np.where(flip, width - 1, 0)[:, None] * m[:, :, 0]
    m[:, :, 0] *= np.where(flip, -1.0, 1.0)[:, None]
    return m


def tf_augment(
    images: tf.Tensor, seed: tf.Tensor, config: AugmentConfig | None = None
) -> tf.Tensor:
    """Augment a batch with TensorFlow ops: the same steps as :func:`augment_image_numpy`.

    Flip, rotation, zoom and shift are folded into *one* affine warp per image (Keras'
    layers do three separate warps: slower, and each one blurs a little), then a contrast
    change. ``seed`` is a stateless seed, shape ``(2,)`` int: the same seed gives the same
    batch, which parallel ``map`` calls cannot promise with stateful random layers.
    """
    config = config or AugmentConfig()
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    n = shape[0]
    h = tf.cast(shape[1], tf.float32)
    w = tf.cast(shape[2], tf.float32)
    seed = tf.cast(seed, tf.int64)

    def uniform(i: int, limit: float) -> tf.Tensor:
        return tf.random.stateless_uniform(
            [n], seed=seed + tf.constant([0, i], tf.int64), minval=-limit, maxval=limit
        )

    flip = tf.cast(uniform(0, 1.0) < 0.0, tf.float32) if config.flip else tf.zeros([n])
    if not config.geometric:  # a flip alone is a cheap reversal, no warp needed
        mirrored = tf.reverse(images, axis=[2])
        out = tf.where(tf.reshape(flip, [-1, 1, 1, 1]) > 0, mirrored, images)
        return _erase_tf(_contrast(out, uniform(5, config.contrast), config), seed, config)
    angle = uniform(1, config.rotation_deg) * (np.pi / 180.0)
    scale = 1.0 / (1.0 + uniform(2, config.zoom))  # as Keras: zoom z shows 1/(1+z) of the size
    tx = uniform(3, config.translation) * w
    ty = uniform(4, config.translation) * h
    # The warp op wants the inverse map, output pixel -> input pixel. Forward, the flipped
    # image is rotated and scaled about the centre c, then shifted by t.
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    ox, oy = -cx - tx, -cy - ty
    a0, a1, a2 = cos, sin, cx + cos * ox + sin * oy
    b0, b1, b2 = -sin, cos, cy - sin * ox + cos * oy
    sign = 1.0 - 2.0 * flip  # a horizontal flip maps x to (w - 1) - x
    a0, a1, a2 = sign * a0, sign * a1, flip * (w - 1) + sign * a2
    zero = tf.zeros([n])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=tf.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1),
        output_shape=shape[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    return _erase_tf(_contrast(out, uniform(5, config.contrast), config), seed, config)


def _erase_tf(images: tf.Tensor, seed: tf.Tensor, config: AugmentConfig) -> tf.Tensor:
    """Random erasing with TensorFlow ops (see :class:`AugmentConfig`), stateless."""
    if not config.erase:
        return images
    shape = tf.shape(images)
    n, height, width = shape[0], shape[1], shape[2]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    u = tf.random.stateless_uniform([n, 5], seed=seed + tf.constant([0, 6], tf.int64))
    area = (ERASE_AREA[0] + u[:, 0] * (ERASE_AREA[1] - ERASE_AREA[0])) * h * w
    log_lo, log_hi = float(np.log(ERASE_ASPECT[0])), float(np.log(ERASE_ASPECT[1]))
    aspect = tf.exp(log_lo + u[:, 1] * (log_hi - log_lo))
    rows = tf.clip_by_value(tf.round(tf.sqrt(area * aspect)), 1.0, h)
    cols = tf.clip_by_value(tf.round(tf.sqrt(area / aspect)), 1.0, w)
    top = tf.floor(u[:, 2] * (h - rows + 1.0))
    left = tf.floor(u[:, 3] * (w - cols + 1.0))
    y = tf.range(h)[None, :, None]
    x = tf.range(w)[None, None, :]
    inside = (
        (y >= top[:, None, None])
        & (y < (top + rows)[:, None, None])
        & (x >= left[:, None, None])
        & (x < (left + cols)[:, None, None])
        & (u[:, 4] < config.erase)[:, None, None]
    )
    noise = tf.random.stateless_uniform(shape, seed=seed + tf.constant([0, 7], tf.int64))
    return tf.where(inside[..., None], noise, images)


def _contrast(images: tf.Tensor, offset: tf.Tensor, config: AugmentConfig) -> tf.Tensor:
    """Scale each image's deviation from its mean by (1 + offset), clipped to [0, 1]."""
    if not config.contrast:
        return images
    factor = tf.reshape(1.0 + offset, [-1, 1, 1, 1])
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    return tf.clip_by_value((images - mean) * factor + mean, 0.0, 1.0)
