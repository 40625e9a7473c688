"""utils.pipelines: tf.data from arrays and files, and the hand-written generator baseline."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from toy_data import smooth_faces as _faces

from utils.augmentation import augmentation_layers
from utils.data_fer2013 import load_fer2013, write_fer2013_csv
from utils.pipelines import (
    FileAugmentDataset,
    NumpyAugmentDataset,
    fer_jpeg_folder,
    file_dataset,
    list_fer_images,
    make_dataset,
    without_autotune,
)
from utils.schema import EMOTIONS, DataFormatError


def _epoch(ds: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([b[0].numpy() for b in ds])


# --------------------------------------------------------------------------------------------
# tf.data pipeline
# --------------------------------------------------------------------------------------------


def test_make_dataset_without_augmentation_or_shuffle_returns_the_data() -> None:
    x, y = _faces(50)
    batches = list(make_dataset(x, y, batch_size=16, shuffle=False))
    assert [len(b[1]) for b in batches] == [16, 16, 16, 2]
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)


@pytest.mark.parametrize("backend", ["tf", "opencv"])
def test_make_dataset_is_reproducible_and_new_every_epoch(backend: str) -> None:
    x, y = _faces(96)
    ds = make_dataset(x, y, augment=True, batch_size=32, seed=7, backend=backend)
    first, second = _epoch(ds), _epoch(ds)
    again = _epoch(make_dataset(x, y, augment=True, batch_size=32, seed=7, backend=backend))
    other = _epoch(make_dataset(x, y, augment=True, batch_size=32, seed=8, backend=backend))
    np.testing.assert_array_equal(first, again)  # same seed, same batches (parallel map too)
    assert not np.allclose(first, second)  # a new shuffle and new augmentations each epoch
    assert not np.allclose(first, other)


def test_without_autotune_switches_the_tuner_off_and_keeps_the_data() -> None:
    x, y = _faces(96)

    def pipeline() -> tf.data.Dataset:
        return make_dataset(x, y, augment=True, batch_size=32, seed=7, backend="opencv")

    quiet = without_autotune(pipeline())
    assert pipeline().options().autotune.enabled is not False  # the default: on
    assert quiet.options().autotune.enabled is False
    # The first pass of each: the same order and the same augmentations.
    np.testing.assert_array_equal(_epoch(quiet), _epoch(pipeline()))


def test_make_dataset_keeps_labels_with_their_images() -> None:
    x, _ = _faces(64)
    y = np.arange(64)
    (xb, yb) = next(iter(make_dataset(x, y, batch_size=64, seed=3)))
    np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])  # shuffled together


def test_make_dataset_with_sample_weights_and_keras_layers() -> None:
    x, y = _faces(20)
    w = np.linspace(0.5, 1.5, 20).astype(np.float32)
    xb, yb, wb = next(iter(make_dataset(x, y, sample_weights=w, batch_size=20, shuffle=False)))
    np.testing.assert_allclose(wb.numpy(), w)
    xb, yb = next(iter(make_dataset(x, y, augment=augmentation_layers(seed=1), batch_size=8)))
    assert xb.shape == (8, 48, 48, 1)


def test_make_dataset_feeds_model_fit() -> None:
    x, y = _faces(64)
    model = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, "softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(make_dataset(x, y, augment=True, batch_size=32), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_make_dataset_rejects_bad_input() -> None:
    x, y = _faces(10)
    with pytest.raises(ValueError, match="float images"):
        make_dataset((x * 255).astype(np.uint8), y)
    with pytest.raises(ValueError, match="shape"):
        make_dataset(x[..., 0], y)
    with pytest.raises(ValueError, match="labels"):
        make_dataset(x, y[:5])
    with pytest.raises(ValueError, match="batch_size"):
        make_dataset(x, y, batch_size=0)
    with pytest.raises(ValueError, match="augment"):
        make_dataset(x, y, augment="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"backend='cv2': expected one of \('tf', 'opencv'\)"):
        make_dataset(x, y, augment=True, backend="cv2")


# --------------------------------------------------------------------------------------------
# The generator baseline, and the same pipeline from files
# --------------------------------------------------------------------------------------------


def test_numpy_dataset_batches_are_reproducible_and_reshuffled() -> None:
    x, y = _faces(40)
    a = NumpyAugmentDataset(x, y, batch_size=16, seed=1)
    b = NumpyAugmentDataset(x, y, batch_size=16, seed=1)
    assert len(a) == 3
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert a[2][0].shape == (8, 48, 48, 1)
    first = a[0][1].copy()
    a.on_epoch_end()
    assert not np.array_equal(first, a[0][1])
    with pytest.raises(IndexError):
        a[3]
    plain = NumpyAugmentDataset(x, y, batch_size=40, augment=None, shuffle=False)
    np.testing.assert_array_equal(plain[0][0], x)


def _jpeg_folder(root: Path, n: int = 42, size: int = 48) -> Path:
    """A msambare-style ``train/<emotion>/Training_i.jpg`` folder of ``n`` smooth faces."""
    images, labels = _faces(n)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / "train" / EMOTIONS[label]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = cv2.resize(np.rint(image[..., 0] * 255).astype(np.uint8), (size, size))
        assert cv2.imwrite(str(folder / f"Training_{i}.jpg"), pixels)
    return root


def test_list_fer_images_finds_files_and_labels(tmp_path: Path) -> None:
    files, labels = list_fer_images(_jpeg_folder(tmp_path))  # the root: its train/ is used
    assert len(files) == 42 and labels.dtype == np.int64
    assert [Path(f).parent.name for f in files] == [EMOTIONS[c] for c in labels]
    assert list(labels) == sorted(labels)  # grouped by emotion, in FER order
    again, _ = list_fer_images(tmp_path / "train")  # or the part folder itself
    assert again == files
    some, some_labels = list_fer_images(tmp_path, limit=10, seed=1)
    assert len(some) == 10 and set(some) <= set(files)
    assert some == list_fer_images(tmp_path, limit=10, seed=1)[0]  # seeded
    assert [files.index(f) for f in some] == sorted(files.index(f) for f in some)


def test_list_fer_images_rejects_missing_empty_and_odd_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        list_fer_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="no images"):
        list_fer_images(tmp_path / "empty")
    (tmp_path / "odd" / "bored").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="'bored' is not an emotion"):
        list_fer_images(tmp_path / "odd")
    (tmp_path / "png" / "happy").mkdir(parents=True)
    (tmp_path / "png" / "happy" / "a.png").write_bytes(b"x")
    with pytest.raises(DataFormatError, match=r"a\.png: not a JPEG"):
        list_fer_images(tmp_path / "png")


def test_fer_jpeg_folder_accepts_folder_zip_and_csv(tmp_path: Path) -> None:
    import shutil

    root = _jpeg_folder(tmp_path / "data", n=14)
    assert fer_jpeg_folder(root, tmp_path / "unused") == root
    archive = shutil.make_archive(str(tmp_path / "fer"), "zip", tmp_path, "data")
    extracted = fer_jpeg_folder(archive, tmp_path / "work")
    assert list_fer_images(extracted)[1].tolist() == list_fer_images(root)[1].tolist()
    assert fer_jpeg_folder(archive, tmp_path / "work") == extracted  # done once, then reused
    x, y = _faces(14)
    csv_path = write_fer2013_csv(tmp_path / "fer2013.csv", x, y)
    written = fer_jpeg_folder(csv_path, tmp_path / "from_csv")
    assert sorted(list_fer_images(written)[1].tolist()) == sorted(y.tolist())
    with pytest.raises(FileNotFoundError, match="no such file"):
        fer_jpeg_folder(tmp_path / "missing.zip", tmp_path / "w2")


def test_file_pipelines_give_the_same_images_as_the_loader(tmp_path: Path) -> None:
    """tf.data and the generator decode the same pixels (as utils.data.load_fer2013 does)."""
    files, labels = list_fer_images(_jpeg_folder(tmp_path))
    ds = file_dataset(files, labels, batch_size=16, shuffle=False)
    x_tf = np.concatenate([b[0].numpy() for b in ds])
    y_tf = np.concatenate([b[1].numpy() for b in ds])
    gen = FileAugmentDataset(files, labels, batch_size=16, augment=None, shuffle=False)
    x_gen = np.concatenate([gen[i][0] for i in range(len(gen))])
    assert x_tf.shape == (42, 48, 48, 1) and x_tf.dtype == x_gen.dtype == np.float32
    np.testing.assert_array_equal(x_tf, x_gen)
    np.testing.assert_array_equal(y_tf, labels)
    loaded = load_fer2013(tmp_path, split="Training")
    order = np.argsort([Path(f).name for f in loaded.files])
    mine = np.argsort([Path(f).name for f in files])
    np.testing.assert_allclose(x_tf[mine], loaded.images[order], atol=1e-6)


def test_file_pipelines_are_deterministic_and_augment_alike(tmp_path: Path) -> None:
    files, labels = list_fer_images(_jpeg_folder(tmp_path))
    plain = np.stack([cv2.imread(f, cv2.IMREAD_GRAYSCALE) for f in files])[..., None] / 255.0

    def tf_epoch(seed: int) -> tuple[np.ndarray, np.ndarray]:
        ds = file_dataset(files, labels, augment=True, batch_size=16, seed=seed)
        batches = list(ds)
        return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])

    first, again, other = tf_epoch(3), tf_epoch(3), tf_epoch(4)
    np.testing.assert_array_equal(first[0], again[0])  # same seed, same batches
    assert not np.allclose(first[0], other[0])
    gen = FileAugmentDataset(files, labels, batch_size=16, seed=3)
    gen_x = np.concatenate([gen[i][0] for i in range(len(gen))])
    gen_y = np.concatenate([gen[i][1] for i in range(len(gen))])
    np.testing.assert_array_equal(gen_x, np.concatenate([gen[i][0] for i in range(len(gen))]))
    # Every image once per epoch in both; the augmentations change the faces alike.
    assert sorted(first[1]) == sorted(gen_y) == sorted(labels)
    ref = dict(enumerate(plain))
    tf_change = np.mean([np.abs(x - ref_x).mean() for x, ref_x in _match(first[0], ref)])
    gen_change = np.mean([np.abs(x - ref_x).mean() for x, ref_x in _match(gen_x, ref)])
    assert tf_change > 0.02
    assert gen_change == pytest.approx(tf_change, rel=0.35)


def _match(batch: np.ndarray, ref: dict[int, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pair each augmented image with the original it is closest to (shuffled order)."""
    stack = np.stack(list(ref.values()))
    return [(x, stack[np.abs(stack - x).mean(axis=(1, 2, 3)).argmin()]) for x in batch]


def test_file_pipelines_name_the_bad_file(tmp_path: Path) -> None:
    _jpeg_folder(tmp_path, n=8)
    big = tmp_path / "train" / "happy" / "Training_99.jpg"
    assert cv2.imwrite(str(big), np.zeros((60, 50), np.uint8))
    files, labels = list_fer_images(tmp_path)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Training_99.jpg"):
        list(file_dataset(files, labels, batch_size=4, shuffle=False))
    gen = FileAugmentDataset(files, labels, batch_size=16, augment=None, shuffle=False)
    with pytest.raises(DataFormatError, match=r"Training_99\.jpg: expected a 48x48 image"):
        gen[0]
    with pytest.raises(ValueError, match="labels"):
        file_dataset(files, labels[:3])
    with pytest.raises(ValueError, match="files: empty"):
        FileAugmentDataset([], labels[:0])
