"""Input pipelines for classification: tf.data, augmentation, class balance, throughput.

The expression notebooks (05-07) feed FER-2013 images to Keras through these functions:

* :func:`make_dataset` -- the modern input pipeline: ``tf.data`` with Keras preprocessing
  layers (:func:`augmentation_layers`) applied *outside* the model, in a parallel ``map``,
  with ``cache`` and ``prefetch``. It replaces ``ImageDataGenerator``/``fit_generator``,
  which Keras 3 removed.
* :func:`list_fer_images` and :func:`file_dataset` -- the same pipeline starting from JPEG
  files on disk: parallel decoding, then ``cache`` so later epochs read nothing.
* :func:`tf_augment` (TensorFlow ops) and :func:`augment_batch_opencv` (OpenCV, through
  ``tf.numpy_function`` with ``backend="opencv"``) -- the augmentation those pipelines map
  over whole batches.
* :class:`NumpyAugmentDataset` / :class:`FileAugmentDataset` -- the same augmentations done
  per image in NumPy/OpenCV in a ``keras.utils.PyDataset`` (the file version also reads and
  decodes every image, every epoch): what a hand-written generator looks like, the baseline.
* :func:`measure_throughput` -- images per second of both file pipelines and of the model's
  own training step, measured side by side (notebook 05 and ``benchmarks/input_pipeline.py``).
* :func:`class_weights`, :func:`per_sample_weights`, :func:`balanced_dataset`,
  :func:`weighted_random_sampler`, :func:`balanced_subset_indices`, :func:`write_fer2013_csv`
  -- class imbalance (notebook 06).
* :func:`load_fer_splits` -- train/validation/test for FER-2013, whether or not the file has
  the PrivateTest third (the real data here does not).

Images are float32 in [0, 1], shape ``(N, H, W, C)``; labels are int class ids (FER order).
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import keras
import numpy as np
import tensorflow as tf

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

AUTOTUNE = tf.data.AUTOTUNE
#: FER-2013 has seven emotions (``utils.data.EMOTIONS``).
N_EMOTIONS = 7


# ---------------------------------------------------------------------------------------------
# Checking inputs
# ---------------------------------------------------------------------------------------------
def _check_images_labels(
    images: np.ndarray, labels: np.ndarray | None, where: str = "images"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``images`` as float32 (N, H, W, C) and ``labels`` as int64 (N,), or raise."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"{where}: expected images of shape (N, height, width, channels), got {images.shape}"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"{where}: expected float images in [0, 1] (as utils.data loaders return), "
            f"got dtype {images.dtype}; divide uint8 images by 255 first"
        )
    images = images.astype(np.float32, copy=False)
    if labels is None:
        return images, None
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"labels: expected shape ({len(images)},) to match {len(images)} images, "
            f"got {labels.shape}"
        )
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integer class ids, got dtype {labels.dtype}")
    return images, labels.astype(np.int64, copy=False)


def _check_positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name}={value!r}: expected a positive integer")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Augmentation: one description, two implementations (Keras layers and NumPy/OpenCV)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AugmentConfig:
    """How strongly to augment. Both pipelines read this, so they do the same thing.

    ``rotation_deg``: +- degrees; ``zoom``: +- fraction of the size (positive zooms out);
    ``translation``: +- fraction of height/width; ``contrast``: +- fraction of the contrast.
    Pixels that a warp brings in from outside the image are filled by reflection.
    """

    flip: bool = True
    rotation_deg: float = 10.0
    zoom: float = 0.15
    translation: float = 0.1
    contrast: float = 0.2

    @property
    def geometric(self) -> bool:
        """Whether any warp (rotation, zoom, shift) is asked for; a flip alone needs none."""
        return bool(self.rotation_deg or self.zoom or self.translation)

    def __post_init__(self) -> None:
        for name in ("rotation_deg", "zoom", "translation", "contrast"):
            value = getattr(self, name)
            if not 0 <= value < (180 if name == "rotation_deg" else 1):
                raise ValueError(f"AugmentConfig.{name}={value!r}: out of range")


def augmentation_layers(config: AugmentConfig | None = None, *, seed: int = 42) -> keras.Sequential:
    """Keras preprocessing layers doing ``config``'s augmentation on a batch of images.

    Use them in a ``tf.data`` map (as :func:`make_dataset` does), not inside the model: the
    geometric ones (rotation, zoom, translation) set ``supports_jit = False``, and one such
    layer inside a model makes Keras compile the *whole* model without XLA.
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
    return warped.astype(np.float32, copy=False)


def augment_batch_opencv(
    images: np.ndarray, seed: Sequence[int] | np.ndarray, config: AugmentConfig | None = None
) -> np.ndarray:
    """Augment a batch ``(N, H, W, C)`` float32 with OpenCV: what :func:`augment_image_numpy`
    does, but with the random numbers and matrices made for the whole batch at once.

    Only the warp itself runs once per image (``cv2.warpAffine``, with the flip folded into
    its matrix); the contrast change is one NumPy expression over the batch. ``seed``: any
    NumPy seed, e.g. the ``(2,)`` stateless seed :func:`make_dataset` draws per batch.

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
        return _contrast(out, uniform(5, config.contrast), config)
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
    return _contrast(out, uniform(5, config.contrast), config)


def _contrast(images: tf.Tensor, offset: tf.Tensor, config: AugmentConfig) -> tf.Tensor:
    """Scale each image's deviation from its mean by (1 + offset), clipped to [0, 1]."""
    if not config.contrast:
        return images
    factor = tf.reshape(1.0 + offset, [-1, 1, 1, 1])
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    return tf.clip_by_value((images - mean) * factor + mean, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# The modern pipeline: tf.data
# ---------------------------------------------------------------------------------------------
def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    augment: bool | AugmentConfig | keras.layers.Layer = False,
    batch_size: int = 64,
    shuffle: bool = True,
    cache: bool = True,
    prefetch: bool = True,
    seed: int = 42,
    sample_weights: np.ndarray | None = None,
    repeat: bool = False,
    num_parallel_calls: int | None = AUTOTUNE,
    backend: str = "tf",
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of ``(images, labels[, sample_weights])`` batches for ``model.fit``.

    The order of the steps is the lesson:

    1. ``cache`` -- keep the decoded images after the first pass (here they are already in
       memory, so it costs nothing; for images decoded from files it saves the decoding);
    2. ``shuffle`` -- a new order every epoch (seeded);
    3. ``batch`` -- *then* augment, so each Keras layer transforms a whole batch at once;
    4. ``map(augment, num_parallel_calls=AUTOTUNE)`` -- batches are augmented in parallel;
    5. ``prefetch`` -- the next batches are prepared while the model trains on this one.

    ``augment``: False (none), True (the default :class:`AugmentConfig`), an
    ``AugmentConfig``, or any Keras layer/model taking a batch of images. Never augment
    validation or test data. ``backend`` says what does an ``AugmentConfig``'s work:
    ``"tf"`` (:func:`tf_augment`, TensorFlow ops, the default) or ``"opencv"``
    (:func:`augment_batch_opencv` through ``tf.numpy_function``: faster on a CPU, but
    Python code in the graph, so the pipeline cannot be saved or run off this process).
    """
    images, labels = _check_images_labels(images, labels)
    batch_size = _check_positive("batch_size", batch_size)
    tensors: tuple[np.ndarray, ...] = (images,)
    if labels is not None:
        tensors += (labels,)
    if sample_weights is not None:
        if labels is None:
            raise ValueError("sample_weights: given without labels")
        sample_weights = np.asarray(sample_weights, dtype=np.float32)
        if sample_weights.shape != (len(images),):
            raise ValueError(
                f"sample_weights: expected shape ({len(images)},), got {sample_weights.shape}"
            )
        tensors += (sample_weights,)
    ds = tf.data.Dataset.from_tensor_slices(tensors if len(tensors) > 1 else tensors[0])
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = _augment_batches(ds.batch(batch_size), augment, seed, num_parallel_calls, backend)
    if prefetch:
        ds = ds.prefetch(AUTOTUNE)
    return ds


#: Where :func:`make_dataset` and :func:`file_dataset` run an ``AugmentConfig``'s warp.
BACKENDS = ("tf", "opencv")


def _augment_batches(
    ds: tf.data.Dataset,
    augment: bool | AugmentConfig | keras.layers.Layer | None,
    seed: int,
    num_parallel_calls: int | None,
    backend: str = "tf",
) -> tf.data.Dataset:
    """Map the augmentation over batches whose first element is the images."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: expected one of {BACKENDS}")
    if augment is False or augment is None:
        return ds
    if isinstance(augment, keras.layers.Layer):
        layer = augment

        def _with_layer(x: tf.Tensor, *rest: tf.Tensor) -> Any:
            out = layer(x, training=True)
            return (out, *rest) if rest else out

        return ds.map(_with_layer, num_parallel_calls=num_parallel_calls)
    if augment is True:
        augment = AugmentConfig()
    if not isinstance(augment, AugmentConfig):
        raise ValueError(
            f"augment={augment!r}: expected False, True, an AugmentConfig or a Keras layer"
        )
    config = augment
    # One random number per batch, a new sequence every epoch but the same every run:
    # the stateless seeds that make a *parallel* map reproducible.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def _opencv(images: tf.Tensor, batch_seed: tf.Tensor) -> tf.Tensor:
        out = tf.numpy_function(
            lambda x, s: augment_batch_opencv(x, s, config),
            [images, batch_seed],
            tf.float32,
            stateful=False,
        )
        return tf.ensure_shape(out, images.shape)

    def _with_seed(batch: Any, r: tf.Tensor) -> Any:
        parts = batch if isinstance(batch, tuple) else (batch,)
        batch_seed = tf.stack([tf.constant(seed, tf.int64), r])
        if backend == "opencv":
            out = _opencv(parts[0], batch_seed)
        else:
            out = tf_augment(parts[0], batch_seed, config)
        return (out, *parts[1:]) if len(parts) > 1 else out

    return tf.data.Dataset.zip(ds, seeds).map(_with_seed, num_parallel_calls=num_parallel_calls)


# ---------------------------------------------------------------------------------------------
# Images on disk: listing the files, and the tf.data pipeline that reads them
# ---------------------------------------------------------------------------------------------
#: File endings the file pipelines read (FER-2013's folders hold JPEGs).
JPEG_EXTENSIONS = (".jpg", ".jpeg")


def list_fer_images(
    folder: str | os.PathLike[str], *, limit: int | None = None, seed: int = 42
) -> tuple[list[str], np.ndarray]:
    """The JPEG files of a FER-2013 folder and their labels: ``files, labels = list_fer_images(p)``.

    ``folder`` is one part of Kaggle's ``msambare/fer2013`` download (``train/`` or ``test/``,
    holding ``<emotion>/*.jpg``) or the download itself, whose ``train/`` is then used. Files
    are sorted by emotion (FER order) and name; labels are int64 in FER order.
    ``limit`` keeps a random (seeded) subset of that many files, still sorted.

    Raises FileNotFoundError for a missing folder, and ``utils.data.DataFormatError`` (a
    ValueError) for a folder without emotion sub-folders, an unknown sub-folder, or a file
    that is not a JPEG.
    """
    from utils.data import EMOTIONS, DataFormatError

    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: no such folder; expected a FER-2013 folder holding <emotion>/*.jpg "
            "(the train/ or test/ folder of Kaggle's msambare/fer2013 download)"
        )
    if not any((root / e).is_dir() for e in EMOTIONS) and (root / "train").is_dir():
        root = root / "train"
    files: list[str] = []
    labels: list[int] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name.lower() not in EMOTIONS:
            raise DataFormatError(
                f"{sub}: folder {sub.name!r} is not an emotion; expected one of {EMOTIONS}"
            )
        for file in sorted(f for f in sub.iterdir() if not f.name.startswith(".")):
            if file.suffix.lower() not in JPEG_EXTENSIONS:
                raise DataFormatError(f"{file}: not a JPEG file; expected *.jpg images only")
            files.append(str(file))
            labels.append(EMOTIONS.index(sub.name.lower()))
    if not files:
        raise DataFormatError(
            f"{root}: no images; expected <emotion>/*.jpg sub-folders ({', '.join(EMOTIONS)})"
        )
    order = sorted(range(len(files)), key=lambda i: (labels[i], files[i]))
    if limit is not None and _check_positive("limit", limit) < len(order):
        keep = np.random.default_rng(seed).permutation(len(order))[:limit]
        order = [order[i] for i in np.sort(keep)]
    return [files[i] for i in order], np.array([labels[i] for i in order], np.int64)


def fer_jpeg_folder(path: str | os.PathLike[str], workdir: str | os.PathLike[str]) -> Path:
    """A folder of FER-2013 JPEGs for the file pipelines, whatever form ``path`` has.

    A folder is returned as it is. A zip of the ``msambare/fer2013`` folders (the real data
    here) is extracted into ``workdir``; Kaggle's ``fer2013.csv`` is written out as JPEGs
    there (``utils.data.fer2013_csv_to_folders``). Either is done once: a ``workdir`` that
    already holds the result is reused. Pass the result to :func:`list_fer_images`.
    """
    from utils.data import extract_zip, fer2013_csv_to_folders

    path, workdir = Path(path), Path(workdir)
    if path.is_dir():
        return path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder (FER-2013 folder, zip or CSV)")
    done = workdir / ".complete"
    if not done.exists():
        if zipfile.is_zipfile(path):
            extract_zip(path, workdir)
        elif path.suffix.lower() == ".csv":
            fer2013_csv_to_folders(path, workdir)
        else:
            raise ValueError(f"{path}: expected a FER-2013 folder, its zip, or fer2013.csv")
        done.write_text(str(path))
    for folder in [workdir, *sorted(p for p in workdir.iterdir() if p.is_dir())]:
        if (folder / "train").is_dir():
            return folder
    raise ValueError(f"{path}: holds no train/<emotion>/*.jpg folders")


def decode_jpeg_file(path: tf.Tensor, image_size: tuple[int, int] = (48, 48)) -> tf.Tensor:
    """Read one JPEG file and decode it to a grayscale uint8 tensor of shape ``(*image_size, 1)``.

    ``dct_method="INTEGER_ACCURATE"`` gives exactly OpenCV's (and PIL's) pixels; TensorFlow's
    default, a faster approximation, is off by a few grey levels. An image of another size
    stops the pipeline with an error that names the file.
    """
    image = tf.io.decode_jpeg(tf.io.read_file(path), channels=1, dct_method="INTEGER_ACCURATE")
    ok = tf.reduce_all(tf.shape(image)[:2] == tf.constant(image_size, tf.int32))
    check = tf.debugging.Assert(
        ok, [path, f"expected a {image_size[0]}x{image_size[1]} image, got", tf.shape(image)]
    )
    with tf.control_dependencies([check]):
        image = tf.identity(image)
    return tf.ensure_shape(image, (*image_size, 1))


def _check_files(
    files: Sequence[str], labels: np.ndarray | None
) -> tuple[list[str], np.ndarray | None]:
    """``files`` as a list of str, ``labels`` as int64 with one id per file, or raise."""
    paths = [os.fspath(f) for f in files]
    if not paths:
        raise ValueError("files: empty; expected image file paths (see list_fer_images)")
    if labels is None:
        return paths, None
    labels = np.asarray(labels)
    if labels.shape != (len(paths),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels: expected {len(paths)} integer class ids, one per file, "
            f"got shape {labels.shape} dtype {labels.dtype}"
        )
    return paths, labels.astype(np.int64)


def file_dataset(
    files: Sequence[str],
    labels: np.ndarray | None = None,
    *,
    image_size: tuple[int, int] = (48, 48),
    augment: bool | AugmentConfig | keras.layers.Layer = False,
    batch_size: int = 64,
    shuffle: bool = True,
    cache: bool = True,
    prefetch: bool = True,
    seed: int = 42,
    repeat: bool = False,
    num_parallel_calls: int | None = AUTOTUNE,
    backend: str = "tf",
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline that reads images from files: ``(images, labels)`` batches.

    Images come out float32 in [0, 1], shape ``(batch, *image_size, 1)``, as from
    :func:`make_dataset`. The steps, in the order that makes it fast:

    1. the file *names* (and labels) as a dataset -- cheap strings;
    2. ``map(read and decode, num_parallel_calls=AUTOTUNE)`` -- several files decoded at once;
    3. ``cache()`` -- the decoded images stay in memory after the first epoch, so later
       epochs neither read nor decode anything (FER-2013's 28,709 images take 66 MB);
    4. ``shuffle`` -- a new order every epoch (seeded);
    5. ``batch``, *then* ``map(to float, augment)`` -- each op works on a whole batch;
    6. ``prefetch`` -- the next batches are made while the model trains on this one.

    ``augment`` and ``backend`` are as in :func:`make_dataset`. Give the same ``files`` and
    ``labels`` to :class:`FileAugmentDataset` for the hand-written generator doing the same
    work.
    """
    files, labels = _check_files(files, labels)
    batch_size = _check_positive("batch_size", batch_size)
    size = (int(image_size[0]), int(image_size[1]))
    if labels is not None:
        ds = tf.data.Dataset.from_tensor_slices((files, labels))
        ds = ds.map(
            lambda p, y: (decode_jpeg_file(p, size), y), num_parallel_calls=num_parallel_calls
        )
    else:
        ds = tf.data.Dataset.from_tensor_slices(files)
        ds = ds.map(lambda p: decode_jpeg_file(p, size), num_parallel_calls=num_parallel_calls)
    if cache:
        ds = ds.cache()  # uint8: a quarter of the memory of float32
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def _to_float(x: tf.Tensor, *rest: tf.Tensor) -> Any:
        x = tf.cast(x, tf.float32) / 255.0
        return (x, *rest) if rest else x

    ds = ds.batch(batch_size).map(_to_float, num_parallel_calls=num_parallel_calls)
    ds = _augment_batches(ds, augment, seed, num_parallel_calls, backend)
    return ds.prefetch(AUTOTUNE) if prefetch else ds


# ---------------------------------------------------------------------------------------------
# The baseline: a hand-written generator (single-worker PyDataset)
# ---------------------------------------------------------------------------------------------
class NumpyAugmentDataset(keras.utils.PyDataset):
    """Batches augmented one image at a time in NumPy/OpenCV -- the pre-tf.data way.

    A ``keras.utils.PyDataset`` (Keras 3's replacement for ``keras.utils.Sequence``): give
    it to ``model.fit`` directly. With ``workers=1`` (the default) every image is augmented
    in the Python thread that also drives training, so the model waits while it happens.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        batch_size: int = 64,
        augment: AugmentConfig | None = AugmentConfig(),  # noqa: B008 (frozen, immutable)
        shuffle: bool = True,
        seed: int = 42,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        images, checked = _check_images_labels(images, labels)
        assert checked is not None
        self.images, self.labels = images, checked
        self.batch_size = _check_positive("batch_size", batch_size)
        self.augment, self.shuffle, self.seed = augment, shuffle, seed
        self.epoch = 0
        self._order = self._new_order()

    def _new_order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.labels))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.labels))

    def _image(self, i: int) -> np.ndarray:
        """Image ``i`` as float32 (H, W, C) in [0, 1]."""
        return self.images[i]

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (0..{len(self) - 1})")
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        # One generator per (epoch, batch): reproducible, and independent of worker order.
        rng = np.random.default_rng([self.seed, self.epoch, index])
        batch = []
        for i in idx:  # one image at a time, as a hand-written generator does
            image = self._image(int(i))
            if self.augment is not None:
                image = augment_image_numpy(image, rng, self.augment)
            batch.append(image)
        return np.stack(batch), self.labels[idx]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._new_order()


class FileAugmentDataset(NumpyAugmentDataset):
    """The generator a student writes for a folder of JPEGs: read, decode, augment, per image.

    Every epoch, every image is read from disk and decoded with OpenCV, then augmented with
    :func:`augment_image_numpy`, one at a time in the Python thread that also drives
    training (``workers=1``). Same files and labels in, same batches out as
    :func:`file_dataset` (without shuffling and augmentation the pixels are identical).
    """

    def __init__(
        self,
        files: Sequence[str],
        labels: np.ndarray,
        *,
        image_size: tuple[int, int] = (48, 48),
        batch_size: int = 64,
        augment: AugmentConfig | None = AugmentConfig(),  # noqa: B008 (frozen, immutable)
        shuffle: bool = True,
        seed: int = 42,
        **kwargs: Any,
    ) -> None:
        keras.utils.PyDataset.__init__(self, **kwargs)
        self.files, checked = _check_files(files, labels)
        assert checked is not None
        self.labels = checked
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.batch_size = _check_positive("batch_size", batch_size)
        self.augment, self.shuffle, self.seed = augment, shuffle, seed
        self.epoch = 0
        self._order = self._new_order()

    def _image(self, i: int) -> np.ndarray:
        from utils.data import DataFormatError

        pixels = cv2.imread(self.files[i], cv2.IMREAD_GRAYSCALE)
        if pixels is None:
            raise DataFormatError(f"{self.files[i]}: missing or not a readable image")
        if pixels.shape != self.image_size:
            raise DataFormatError(
                f"{self.files[i]}: expected a {self.image_size[0]}x{self.image_size[1]} image, "
                f"got {pixels.shape[0]}x{pixels.shape[1]}"
            )
        return (pixels.astype(np.float32) / 255.0)[..., None]


# ---------------------------------------------------------------------------------------------
# Throughput: does the input pipeline keep the model fed?
# ---------------------------------------------------------------------------------------------
@dataclass
class ThroughputResult:
    """Images per second of each contender, one entry per timed epoch (see :meth:`median`).

    ``first_epoch`` holds each pipeline's images/s in its first epoch, timed separately:
    for tf.data that epoch reads and decodes every file to fill the cache.
    """

    runs: dict[str, list[float]] = field(default_factory=dict)
    batch_size: int = 0
    n_images: int = 0
    first_epoch: dict[str, float] = field(default_factory=dict)

    def median(self) -> dict[str, float]:
        """Median images/s of each contender over the repeats."""
        return {name: statistics.median(values) for name, values in self.runs.items()}

    def ratio(self, faster: str, slower: str) -> float:
        """How many times ``faster``'s median throughput is ``slower``'s."""
        med = self.median()
        return med[faster] / med[slower]

    def best_ratio(self, faster: str, slower: str) -> float:
        """The same with each contender's *best* run: what each can do when the machine lets
        it (a busy shared machine slows some runs a lot, never speeds one up)."""
        return max(self.runs[faster]) / max(self.runs[slower])

    def report(self) -> str:
        """A plain-text table: median (min-max) images/s and the ratio to the first."""
        med = self.median()
        names = list(self.runs)
        base = names[0]
        lines = [
            f"{self.n_images} images in batches of {self.batch_size}; steady state = median of "
            f"{self.repeats} epochs after a warm-up epoch (which fills tf.data's cache)"
        ]
        for name in names:
            lo, hi = min(self.runs[name]), max(self.runs[name])
            lines.append(
                f"  {name:<30} {med[name]:>9,.0f} images/s  (runs {lo:,.0f}-{hi:,.0f})"
                f"  x{med[name] / med[base]:.2f} vs {base}"
            )
        for name, value in self.first_epoch.items():
            lines.append(f"  {name + ', 1st epoch':<30} {value:>9,.0f} images/s  (warm-up)")
        return "\n".join(lines)

    @property
    def repeats(self) -> int:
        return max((len(v) for v in self.runs.values()), default=0)

    def plot(self) -> Figure:
        """A bar chart of the median throughputs (log scale), each run shown as a dot."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 0.6 + 0.6 * len(self.runs)), layout="constrained")
        ax = fig.subplots()
        names = list(self.runs)
        med = self.median()
        colours = ["#c44e52", "#4c72b0", "#8172b2", "#55a868"]
        ax.barh(names, [med[n] for n in names], color=[colours[i % 4] for i in range(len(names))])
        for i, name in enumerate(names):
            ax.plot(self.runs[name], [i] * len(self.runs[name]), "k.", ms=4)
            ax.text(med[name], i, f"  {med[name]:,.0f}", va="center")
            if name in self.first_epoch:
                ax.plot([self.first_epoch[name]], [i], "wx", ms=7, mew=2)
        ax.set_xscale("log")
        ax.set_xlabel("images per second (median of epochs, log scale; x = first epoch)")
        ax.invert_yaxis()
        ax.set_title("Who is the bottleneck?")
        return fig


def _epoch_rate(run_epoch: Callable[[], int]) -> float:
    """Run one epoch (the callable returns how many images it produced); return images/s."""
    start = time.perf_counter()
    count = run_epoch()
    return count / (time.perf_counter() - start)


def measure_throughput(
    files: Sequence[str],
    labels: np.ndarray,
    *,
    model: keras.Model | None = None,
    augment: AugmentConfig | None = None,
    image_size: tuple[int, int] = (48, 48),
    batch_size: int = 64,
    repeats: int = 3,
    seed: int = 42,
    num_parallel_calls: int | None = AUTOTUNE,
    keras_layers: bool = False,
    train_steps: int = 10,
) -> ThroughputResult:
    """Images/s, on files: (a) a Python generator, (b) tf.data and (c) ``model``'s training step.

    Both pipelines start from the same JPEG ``files`` and yield the same kind of batches
    (float32, augmented by ``augment``). (a) :class:`FileAugmentDataset` reads, decodes and
    augments every image in Python, every epoch; (b) :func:`file_dataset` decodes in parallel,
    caches the decoded images and augments whole batches. Each is timed over whole epochs:
    one warm-up epoch first (reported as ``first_epoch``: tf.data fills its cache, Keras
    compiles the step), then ``repeats`` epochs, taking turns so a busy machine slows all
    alike. Report the median.

    ``keras_layers=True`` adds tf.data with Keras' preprocessing layers
    (:func:`augmentation_layers`) instead of the one-warp :func:`tf_augment`.
    ``model`` (compiled) trains on one in-memory batch for ``train_steps`` steps per run:
    the most images/s the model can consume. None times only the pipelines.
    """
    batch_size = _check_positive("batch_size", batch_size)
    repeats = _check_positive("repeats", repeats)
    if len(files) < batch_size:
        raise ValueError(f"files: need at least batch_size={batch_size} files, got {len(files)}")
    augment = augment or AugmentConfig()
    size = (int(image_size[0]), int(image_size[1]))
    generator = FileAugmentDataset(
        files, labels, image_size=size, batch_size=batch_size, augment=augment, seed=seed
    )

    def _files(**kwargs: Any) -> tf.data.Dataset:
        return file_dataset(
            files, labels, image_size=size, batch_size=batch_size, seed=seed, **kwargs
        )

    def _generator_epoch() -> int:
        count = sum(len(generator[i][1]) for i in range(len(generator)))
        generator.on_epoch_end()
        return count

    def _dataset_epoch(ds: tf.data.Dataset) -> Callable[[], int]:
        return lambda: sum(int(batch[0].shape[0]) for batch in ds)

    contenders: dict[str, Callable[[], int]] = {"python generator": _generator_epoch}
    contenders["tf.data"] = _dataset_epoch(
        _files(augment=augment, num_parallel_calls=num_parallel_calls)
    )
    contenders["tf.data, OpenCV map"] = _dataset_epoch(
        _files(augment=augment, num_parallel_calls=num_parallel_calls, backend="opencv")
    )
    if keras_layers:
        layers = augmentation_layers(augment, seed=seed)
        contenders["tf.data, Keras layers"] = _dataset_epoch(
            _files(augment=layers, num_parallel_calls=num_parallel_calls)
        )
    if model is not None:
        x_fixed, y_fixed = next(iter(_files(shuffle=False, cache=False)))
        steps = _check_positive("train_steps", train_steps)

        def _train_epoch() -> int:  # updates the weights: a benchmark, not a training run
            for _ in range(steps):
                model.train_on_batch(x_fixed, y_fixed)
            return steps * batch_size

        contenders["training step"] = _train_epoch
    result = ThroughputResult(
        {name: [] for name in contenders}, batch_size=batch_size, n_images=len(files)
    )
    for name, run_epoch in contenders.items():  # warm-up: cache filled, graphs traced
        rate = _epoch_rate(run_epoch)
        if name != "training step":
            result.first_epoch[name] = rate
    for _ in range(repeats):
        for name, run_epoch in contenders.items():
            result.runs[name].append(_epoch_rate(run_epoch))
    return result


# ---------------------------------------------------------------------------------------------
# Class imbalance
# ---------------------------------------------------------------------------------------------
def _check_labels(labels: np.ndarray, n_classes: int | None) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels: expected a non-empty 1-D array of class ids, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integer class ids, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"labels: class ids must be >= 0, found {int(labels.min())}")
    k = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    if labels.max() >= k:
        raise ValueError(f"labels: found class {int(labels.max())} but n_classes={n_classes}")
    return labels.astype(np.int64, copy=False), k


def class_weights(labels: np.ndarray, n_classes: int | None = N_EMOTIONS) -> dict[int, float]:
    """``{class: weight}`` for ``model.fit(class_weight=...)``: rare classes count more.

    weight = N / (n_classes_present * count), scikit-learn's "balanced" rule, so every class
    contributes the same total weight and the average weight per example is 1. A class with
    no examples gets 0 (it never occurs, so its weight is never used).
    """
    labels, k = _check_labels(labels, n_classes)
    counts = np.bincount(labels, minlength=k)
    present = int((counts > 0).sum())
    return {c: (float(len(labels) / (present * counts[c])) if counts[c] else 0.0) for c in range(k)}


def per_sample_weights(labels: np.ndarray, n_classes: int | None = N_EMOTIONS) -> np.ndarray:
    """One weight per *example* (1 / its class's count), summing to 1.

    This is what a weighted sampler needs (PyTorch's ``WeightedRandomSampler`` included):
    drawing example i with probability ``w[i]`` gives every class the same share.
    """
    labels, k = _check_labels(labels, n_classes)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    weights = 1.0 / counts[labels]
    return weights / weights.sum()


def weighted_random_sampler(
    weights: Sequence[float] | np.ndarray, num_samples: int, *, seed: int = 42
) -> np.ndarray:
    """Indices drawn like PyTorch's ``WeightedRandomSampler(weights, num_samples)``.

    Index i (0 <= i < len(weights)) is drawn with probability ``weights[i] / sum(weights)``,
    with replacement. The sampler knows nothing about classes: pass *per-class* weights
    (7 numbers) by mistake and it happily returns indices 0-6 only -- the first seven
    examples of the data set, over and over. Notebook 06 shows the resulting histogram.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            "weights: expected a 1-D array of non-negative numbers with a positive sum"
        )
    num_samples = _check_positive("num_samples", num_samples)
    rng = np.random.default_rng(seed)
    return rng.choice(len(w), size=num_samples, replace=True, p=w / w.sum())


def balanced_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 64,
    augment: bool | AugmentConfig | keras.layers.Layer = False,
    seed: int = 42,
    num_parallel_calls: int | None = AUTOTUNE,
) -> tf.data.Dataset:
    """An endless ``tf.data`` stream in which every present class is equally likely.

    One dataset per class (each shuffled and repeated), mixed by
    ``tf.data.Dataset.sample_from_datasets`` with equal weights: rare classes are repeated,
    frequent ones under-used. The stream never ends, so give ``model.fit`` a
    ``steps_per_epoch`` (for example ``len(labels) // batch_size``).
    """
    images, checked = _check_images_labels(images, labels)
    assert checked is not None
    labels = checked
    batch_size = _check_positive("batch_size", batch_size)
    classes = np.unique(labels)
    if len(classes) == 0:
        raise ValueError("labels: empty")
    per_class = []
    for i, c in enumerate(classes):
        mask = labels == c
        ds = tf.data.Dataset.from_tensor_slices((images[mask], labels[mask]))
        per_class.append(ds.shuffle(int(mask.sum()), seed=seed + i).repeat())
    ds = tf.data.Dataset.sample_from_datasets(
        per_class, weights=[1.0 / len(classes)] * len(classes), seed=seed
    )
    ds = _augment_batches(ds.batch(batch_size), augment, seed, num_parallel_calls)
    return ds.prefetch(AUTOTUNE)


def balanced_subset_indices(
    labels: np.ndarray, per_class: int | None = None, *, seed: int = 42
) -> np.ndarray:
    """Row indices of a balanced subset: ``per_class`` examples of every present class.

    ``per_class=None`` takes as many as the rarest class has (undersampling). Rows are drawn
    without replacement, so asking for more than a class has raises ValueError.
    """
    labels, k = _check_labels(labels, None)
    counts = np.bincount(labels, minlength=k)
    present = np.flatnonzero(counts)
    n = int(counts[present].min()) if per_class is None else _check_positive("per_class", per_class)
    short = [int(c) for c in present if counts[c] < n]
    if short:
        raise ValueError(
            f"per_class={n}: classes {short} have only {[int(counts[c]) for c in short]} examples"
        )
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=n, replace=False) for c in present]
    return np.sort(np.concatenate(chosen))


def write_fer2013_csv(
    path: str | os.PathLike[str],
    images: np.ndarray,
    labels: np.ndarray,
    usage: str | Sequence[str] = "Training",
) -> Path:
    """Write images and labels as a FER-2013 (ICML) CSV: ``emotion,pixels,Usage``, atomically.

    ``images`` float in [0, 1] (rounded to 0-255) or uint8, shape (N, H, W[, 1]);
    ``usage`` one string for every row or one per row. ``utils.data.load_fer2013`` reads it back.
    """
    path = Path(path)
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"images: expected shape (N, H, W) or (N, H, W, 1), got {images.shape}")
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels: expected shape ({len(images)},), got {labels.shape}")
    if np.issubdtype(images.dtype, np.floating):
        if images.size and (images.min() < 0 or images.max() > 1):
            raise ValueError("images: float images must be in [0, 1]")
        pixels = np.rint(images * 255).astype(np.uint8)
    elif images.dtype == np.uint8:
        pixels = images
    else:
        raise ValueError(f"images: expected float in [0, 1] or uint8, got dtype {images.dtype}")
    usages = [usage] * len(images) if isinstance(usage, str) else list(usage)
    if len(usages) != len(images):
        raise ValueError(f"usage: expected one string or {len(images)}, got {len(usages)}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["emotion", "pixels", "Usage"])
    for img, label, use in zip(pixels, labels, usages, strict=True):
        writer.writerow([int(label), " ".join(map(str, img.ravel().tolist())), use])
    from utils.data import atomic_write_text

    atomic_write_text(path, buf.getvalue())
    return path


# ---------------------------------------------------------------------------------------------
# FER-2013 splits
# ---------------------------------------------------------------------------------------------
@dataclass
class FerSplits:
    """Train/validation/test arrays and a sentence saying where each came from."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    names: list[str]
    description: str

    def items(self) -> list[tuple[str, tuple[np.ndarray, np.ndarray]]]:
        return [("train", self.train), ("val", self.val), ("test", self.test)]


def stratified_split(
    labels: np.ndarray, fraction: float, *, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: ``fraction`` of every class held out (at least one)."""
    labels, _ = _check_labels(labels, None)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction!r}: expected a number between 0 and 1")
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = max(1, round(fraction * len(idx))) if len(idx) > 1 else 0
        held.append(idx[:n])
    held_out = np.sort(np.concatenate(held))
    keep = np.setdiff1d(np.arange(len(labels)), held_out)
    return keep, held_out


def _subset(
    x: np.ndarray, y: np.ndarray, limit: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if limit is None or limit >= len(y):
        return x, y
    idx = np.sort(
        np.random.default_rng(seed).permutation(len(y))[: _check_positive("limit", limit)]
    )
    return x[idx], y[idx]


def load_fer_splits(
    path: str | os.PathLike[str],
    *,
    val_fraction: float = 0.1,
    seed: int = 42,
    limit: int | None = None,
) -> FerSplits:
    """FER-2013 as train/validation/test, whatever the file holds.

    With all three Usage values (the sample data, Kaggle's full CSV): Training /
    PublicTest / PrivateTest. Without PrivateTest (the real data here, and the msambare
    folders' ``test/`` read as PublicTest): test on PublicTest and validate on a stratified
    ``val_fraction`` of Training. ``limit`` caps each split (a random subset) for quick runs.
    """
    from utils.data import load_fer2013

    fer = load_fer2013(path, split="all")  # decode once, then split by Usage
    usage = np.asarray(fer.usage)

    def part(name: str) -> tuple[np.ndarray, np.ndarray]:
        mask = usage == name
        return fer.images[mask], fer.labels[mask]

    x_tr, y_tr = part("Training")
    public, private = part("PublicTest"), part("PrivateTest")
    if len(y_tr) == 0 or len(public[1]) == 0:
        raise ValueError(
            f"{path}: expected Training and PublicTest images, found "
            f"{dict(zip(*np.unique(usage, return_counts=True), strict=True))}"
        )
    if len(private[1]):
        val, test = public, private
        description = "train = Training, val = PublicTest, test = PrivateTest"
    else:
        keep, held = stratified_split(y_tr, val_fraction, seed=seed)
        val = (x_tr[held], y_tr[held])
        x_tr, y_tr = x_tr[keep], y_tr[keep]
        test = public
        description = (
            f"no PrivateTest in {Path(path).name}: train = {1 - val_fraction:.0%} of Training, "
            f"val = the other {val_fraction:.0%} (stratified), test = PublicTest"
        )
    return FerSplits(
        train=_subset(x_tr, y_tr, limit, seed),
        val=_subset(val[0], val[1], limit, seed + 1),
        test=_subset(test[0], test[1], limit, seed + 2),
        names=list(fer.names),
        description=description,
    )
