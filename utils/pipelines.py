"""Input pipelines for classification: ``tf.data`` from arrays or files, and the generator baseline.

The expression notebooks (05-07) feed FER-2013 images to Keras through these functions:

* :func:`make_dataset` -- the modern input pipeline: ``tf.data`` with the augmentation
  (``utils.augmentation``) applied *outside* the model, in a parallel ``map`` over batches
  (:func:`augment_batches`), with ``cache`` and ``prefetch``. It replaces
  ``ImageDataGenerator``/``fit_generator``, which Keras 3 removed.
* :func:`list_fer_images` and :func:`file_dataset` -- the same pipeline starting from JPEG
  files on disk: parallel decoding (:func:`decode_jpeg_file`), then ``cache`` so later epochs
  read nothing.
* :class:`NumpyAugmentDataset` / :class:`FileAugmentDataset` -- the same augmentations done
  per image in NumPy/OpenCV in a ``keras.utils.PyDataset`` (the file version also reads and
  decodes every image, every epoch): what a hand-written generator looks like, the baseline.

How fast each one is: ``utils.throughput``. Class balance (weights, balanced streams):
``utils.imbalance``. Train/validation/test splits: ``utils.splits``.

Images are float32 in [0, 1], shape ``(N, H, W, C)``; labels are int class ids (FER order).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np
import tensorflow as tf

from utils.augmentation import AugmentConfig, augment_batch_opencv, augment_image_numpy, tf_augment
from utils.schema import EMOTIONS, DataFormatError

AUTOTUNE = tf.data.AUTOTUNE


def without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with tf.data's autotuner switched off, for a ``model.fit`` that ends often.

    Every ``model.fit`` ends by destroying its data iterator, and in this TensorFlow (2.21) that
    waits for the autotuner's background thread, which sleeps up to a minute between rounds:
    a fit of one long epoch (as :func:`utils.runs.fit_resumable` runs them) then sat idle for
    up to 60 s after the epoch's work was done (``python -m benchmarks.fit_end_wait``
    measures it). Without the autotuner ``AUTOTUNE`` still works: a parallel ``map`` runs one
    call per CPU core and ``prefetch`` keeps a default buffer; nothing changes in the data.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


# ---------------------------------------------------------------------------------------------
# Checking inputs (also used by utils.imbalance and utils.throughput)
# ---------------------------------------------------------------------------------------------
def check_images_labels(
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


def check_positive(name: str, value: int) -> int:
    """``value`` as an int, or ValueError naming ``name`` unless it is a whole number >= 1."""
    if int(value) != value or value < 1:
        raise ValueError(f"{name}={value!r}: expected a positive integer")
    return int(value)


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
    images, labels = check_images_labels(images, labels)
    batch_size = check_positive("batch_size", batch_size)
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
    ds = augment_batches(ds.batch(batch_size), augment, seed, num_parallel_calls, backend)
    if prefetch:
        ds = ds.prefetch(AUTOTUNE)
    return ds


#: Where :func:`make_dataset` and :func:`file_dataset` run an ``AugmentConfig``'s warp.
BACKENDS = ("tf", "opencv")


def augment_batches(
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

    Raises FileNotFoundError for a missing folder, and ``utils.schema.DataFormatError`` (a
    ValueError) for a folder without emotion sub-folders, an unknown sub-folder, or a file
    that is not a JPEG.
    """
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
    if limit is not None and check_positive("limit", limit) < len(order):
        keep = np.random.default_rng(seed).permutation(len(order))[:limit]
        order = [order[i] for i in np.sort(keep)]
    return [files[i] for i in order], np.array([labels[i] for i in order], np.int64)


def fer_jpeg_folder(path: str | os.PathLike[str], workdir: str | os.PathLike[str]) -> Path:
    """A folder of FER-2013 JPEGs for the file pipelines, whatever form ``path`` has.

    A folder is returned as it is. A zip of the ``msambare/fer2013`` folders (the real data
    here) is extracted into ``workdir``; Kaggle's ``fer2013.csv`` is written out as JPEGs
    there (``utils.data_fer2013.fer2013_csv_to_folders``). Either is done once: a ``workdir`` that
    already holds the result is reused. Pass the result to :func:`list_fer_images`.
    """
    from utils.archives import extract_zip
    from utils.data_fer2013 import fer2013_csv_to_folders

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
    batch_size = check_positive("batch_size", batch_size)
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
    ds = augment_batches(ds, augment, seed, num_parallel_calls, backend)
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
        images, checked = check_images_labels(images, labels)
        assert checked is not None
        self.images, self.labels = images, checked
        self.batch_size = check_positive("batch_size", batch_size)
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
        self.batch_size = check_positive("batch_size", batch_size)
        self.augment, self.shuffle, self.seed = augment, shuffle, seed
        self.epoch = 0
        self._order = self._new_order()

    def _image(self, i: int) -> np.ndarray:
        pixels = cv2.imread(self.files[i], cv2.IMREAD_GRAYSCALE)
        if pixels is None:
            raise DataFormatError(f"{self.files[i]}: missing or not a readable image")
        if pixels.shape != self.image_size:
            raise DataFormatError(
                f"{self.files[i]}: expected a {self.image_size[0]}x{self.image_size[1]} image, "
                f"got {pixels.shape[0]}x{pixels.shape[1]}"
            )
        return (pixels.astype(np.float32) / 255.0)[..., None]
