"""Input pipelines: tf.data augmentation, the NumPy generator, throughput, class balance, splits."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.pipelines import (
    AugmentConfig,
    FileAugmentDataset,
    NumpyAugmentDataset,
    _affine_matrices,  # noqa: PLC2701 (tested directly)
    augment_batch_opencv,
    augment_image_numpy,
    augmentation_layers,
    balanced_dataset,
    balanced_subset_indices,
    class_weights,
    fer_jpeg_folder,
    file_dataset,
    list_fer_images,
    load_fer_splits,
    make_dataset,
    measure_throughput,
    per_sample_weights,
    stratified_split,
    tf_augment,
    weighted_random_sampler,
    write_fer2013_csv,
)

NO_WARP = AugmentConfig(flip=False, rotation_deg=0, zoom=0, translation=0, contrast=0)


def _faces(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth, asymmetric 48x48 patterns (warps visibly change them) and labels 0..6."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48] / 47.0
    images = np.stack(
        [0.5 + 0.4 * np.sin(rng.uniform(3, 9) * xx + rng.uniform(1, 4) * yy) for _ in range(n)]
    )
    return images[..., None].astype(np.float32), (np.arange(n) % 7).astype(np.int64)


def _epoch(ds: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([b[0].numpy() for b in ds])


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------


def test_tf_augment_without_ranges_is_the_identity() -> None:
    x, _ = _faces(8)
    out = tf_augment(x, tf.constant([1, 2]), NO_WARP).numpy()
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_tf_augment_flip_mirrors_about_half_the_images() -> None:
    x, _ = _faces(200)
    config = AugmentConfig(flip=True, rotation_deg=0, zoom=0, translation=0, contrast=0)
    out = tf_augment(x, tf.constant([3, 4]), config).numpy()
    mirrored = np.array(
        [np.allclose(o, i[:, ::-1], atol=1e-5) for o, i in zip(out, x, strict=True)]
    )
    unchanged = np.array([np.allclose(o, i, atol=1e-5) for o, i in zip(out, x, strict=True)])
    assert np.all(mirrored | unchanged)
    assert 0.35 < mirrored.mean() < 0.65


def test_tf_augment_numpy_and_keras_layers_change_images_equally() -> None:
    """The three implementations describe the same augmentation: same average change."""
    x, _ = _faces(256)
    rng = np.random.default_rng(0)
    tf_change = np.abs(tf_augment(x, tf.constant([5, 6])).numpy() - x).mean()
    np_change = np.abs(np.stack([augment_image_numpy(i, rng) for i in x]) - x).mean()
    keras_out = augmentation_layers(seed=3)(x, training=True)
    keras_change = np.abs(keras.ops.convert_to_numpy(keras_out) - x).mean()
    assert tf_change > 0.05
    assert np_change == pytest.approx(tf_change, rel=0.2)
    assert keras_change == pytest.approx(tf_change, rel=0.2)


def test_affine_matrices_fold_the_flip_into_opencvs_rotation_matrix() -> None:
    """One warp with the folded matrix == flip, then cv2.getRotationMatrix2D + shift."""
    x, _ = _faces(6)
    rng = np.random.default_rng(7)
    flip = np.array([True, False, True, False, True, True])
    angle, scale = rng.uniform(-20, 20, 6), rng.uniform(0.8, 1.2, 6)
    dx, dy = rng.uniform(-4, 4, 6), rng.uniform(-4, 4, 6)
    matrices = _affine_matrices(48, 48, flip, angle, scale, dx, dy)
    for i in range(6):
        src = np.ascontiguousarray(x[i, :, ::-1, 0] if flip[i] else x[i, ..., 0])
        ref = cv2.getRotationMatrix2D((23.5, 23.5), angle[i], scale[i])
        ref[:, 2] += (dx[i], dy[i])
        expected = cv2.warpAffine(src, ref, (48, 48), borderMode=cv2.BORDER_REFLECT)
        got = cv2.warpAffine(x[i, ..., 0], matrices[i], (48, 48), borderMode=cv2.BORDER_REFLECT)
        # OpenCV rounds source positions to 1/32 pixel, so the two roundings differ a little.
        np.testing.assert_allclose(got, expected, atol=5e-3)
        assert np.abs(got - expected).mean() < 1e-4


def test_augment_batch_opencv_is_the_same_augmentation() -> None:
    x, _ = _faces(256)
    np.testing.assert_allclose(augment_batch_opencv(x, [1, 2], NO_WARP), x)
    flip_only = AugmentConfig(flip=True, rotation_deg=0, zoom=0, translation=0, contrast=0)
    out = augment_batch_opencv(x, [3, -4], flip_only)  # tf.data's seeds may be negative
    mirrored = np.array([np.allclose(o, i[:, ::-1]) for o, i in zip(out, x, strict=True)])
    assert np.all(mirrored | np.all(out == x, axis=(1, 2, 3))) and 0.35 < mirrored.mean() < 0.65
    out = augment_batch_opencv(x, [5, 6])
    assert out.shape == x.shape and out.dtype == np.float32 and 0 <= out.min() <= out.max() <= 1
    np.testing.assert_array_equal(out, augment_batch_opencv(x, [5, 6]))  # seeded
    assert not np.array_equal(out, augment_batch_opencv(x, [5, 7]))
    cv_change = np.abs(out - x).mean()
    tf_change = np.abs(tf_augment(x, tf.constant([5, 6])).numpy() - x).mean()
    assert cv_change == pytest.approx(tf_change, rel=0.2)
    with pytest.raises(ValueError, match=r"images: expected a batch \(N, H, W, C\)"):
        augment_batch_opencv(x[0], [1, 2])


def test_augmented_images_stay_in_range_and_shape() -> None:
    x, _ = _faces(32)
    out = tf_augment(x, tf.constant([0, 9]), AugmentConfig(contrast=0.9)).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    one = augment_image_numpy(x[0], np.random.default_rng(1), AugmentConfig(contrast=0.9))
    assert one.shape == x[0].shape and 0.0 <= one.min() and one.max() <= 1.0


def test_augment_config_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="zoom"):
        AugmentConfig(zoom=1.5)
    with pytest.raises(ValueError, match="rotation_deg"):
        AugmentConfig(rotation_deg=-5)


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
# The generator baseline and the throughput measurement
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
    from utils.data import EMOTIONS

    images, labels = _faces(n)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / "train" / EMOTIONS[label]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = cv2.resize(np.rint(image[..., 0] * 255).astype(np.uint8), (size, size))
        assert cv2.imwrite(str(folder / f"Training_{i}.jpg"), pixels)
    return root


def test_list_fer_images_finds_files_and_labels(tmp_path: Path) -> None:
    from utils.data import EMOTIONS

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
    from utils.data import DataFormatError

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
    from utils.data import load_fer2013

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
    from utils.data import DataFormatError

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


def test_measure_throughput_reports_every_contender(tmp_path: Path) -> None:
    files, labels = list_fer_images(_jpeg_folder(tmp_path, n=40))
    model = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, "softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    result = measure_throughput(
        files, labels, model=model, batch_size=16, repeats=2, keras_layers=True, train_steps=2
    )
    pipelines = ["python generator", "tf.data", "tf.data, OpenCV map", "tf.data, Keras layers"]
    assert list(result.runs) == [*pipelines, "training step"]
    assert all(len(v) == 2 and min(v) > 0 for v in result.runs.values())
    assert set(result.first_epoch) == set(pipelines)
    med = result.median()
    assert result.ratio("tf.data", "python generator") == pytest.approx(
        med["tf.data"] / med["python generator"]
    )
    assert result.best_ratio("tf.data", "python generator") == pytest.approx(
        max(result.runs["tf.data"]) / max(result.runs["python generator"])
    )
    assert "images/s" in result.report() and "1st epoch" in result.report()
    fig = result.plot()
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="batch_size"):
        measure_throughput(files[:8], labels[:8], batch_size=16)


# --------------------------------------------------------------------------------------------
# Class imbalance
# --------------------------------------------------------------------------------------------

IMBALANCED = np.repeat(np.arange(7), [400, 20, 300, 900, 500, 250, 600])


def test_class_weights_give_every_class_the_same_total() -> None:
    weights = class_weights(IMBALANCED)
    counts = np.bincount(IMBALANCED)
    totals = [weights[c] * counts[c] for c in range(7)]
    np.testing.assert_allclose(totals, totals[0])
    assert np.mean([weights[c] for c in IMBALANCED]) == pytest.approx(1.0)
    assert weights[1] == max(weights.values())  # disgust, the rarest, weighs most
    partial = class_weights(np.array([0, 0, 3]))
    assert partial[1] == 0.0 and partial[3] == pytest.approx(3 / (2 * 1))
    with pytest.raises(ValueError, match="n_classes"):
        class_weights(np.array([0, 9]))


def test_per_sample_weights_balance_a_weighted_sampler() -> None:
    w = per_sample_weights(IMBALANCED)
    assert w.shape == IMBALANCED.shape and w.sum() == pytest.approx(1.0)
    drawn = IMBALANCED[weighted_random_sampler(w, 7000, seed=0)]
    shares = np.bincount(drawn, minlength=7) / 7000
    np.testing.assert_allclose(shares, 1 / 7, atol=0.02)


def test_per_class_weights_in_a_sampler_only_draw_the_first_rows() -> None:
    """The seeds' WeightedRandomSampler bug: 7 class weights are read as 7 example weights."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(IMBALANCED)
    per_class = [class_weights(labels)[c] for c in range(7)]
    indices = weighted_random_sampler(per_class, 7000, seed=0)
    assert set(np.unique(indices)) <= set(range(7))
    drawn = labels[indices]
    assert len(np.unique(drawn)) <= len(np.unique(labels[:7]))


def test_weighted_random_sampler_rejects_bad_weights() -> None:
    with pytest.raises(ValueError, match="weights"):
        weighted_random_sampler([0.0, 0.0], 5)
    with pytest.raises(ValueError, match="weights"):
        weighted_random_sampler([1.0, -1.0], 5)
    with pytest.raises(ValueError, match="num_samples"):
        weighted_random_sampler([1.0], 0)


def test_balanced_dataset_draws_classes_equally() -> None:
    x = np.zeros((len(IMBALANCED), 4, 4, 1), np.float32)
    ds = balanced_dataset(x, IMBALANCED, batch_size=100, seed=1)
    labels = np.concatenate([b[1].numpy() for b in ds.take(70)])
    shares = np.bincount(labels, minlength=7) / len(labels)
    np.testing.assert_allclose(shares, 1 / 7, atol=0.02)


def test_balanced_subset_indices() -> None:
    idx = balanced_subset_indices(IMBALANCED, seed=0)
    assert np.all(np.bincount(IMBALANCED[idx]) == 20)
    assert len(np.unique(idx)) == len(idx)
    idx10 = balanced_subset_indices(IMBALANCED, 10, seed=0)
    assert np.all(np.bincount(IMBALANCED[idx10]) == 10)
    with pytest.raises(ValueError, match=r"classes \[1\]"):
        balanced_subset_indices(IMBALANCED, 50)


def test_stratified_split_holds_out_each_class() -> None:
    keep, held = stratified_split(IMBALANCED, 0.1, seed=0)
    assert len(np.intersect1d(keep, held)) == 0 and len(keep) + len(held) == len(IMBALANCED)
    np.testing.assert_allclose(
        np.bincount(IMBALANCED[held]), np.round(np.bincount(IMBALANCED) * 0.1), atol=1
    )


# --------------------------------------------------------------------------------------------
# FER-2013 CSV writing and splits
# --------------------------------------------------------------------------------------------


def _write_csv(path: Path, usages: list[str], n_each: int = 21) -> None:
    rng = np.random.default_rng(0)
    n = n_each * len(usages)
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    labels = np.arange(n) % 7
    write_fer2013_csv(path, images, labels, [u for u in usages for _ in range(n_each)])


def test_write_fer2013_csv_round_trips(tmp_path: Path) -> None:
    from utils.data import load_fer2013

    x, y = _faces(14)
    path = write_fer2013_csv(tmp_path / "sub" / "fer2013.csv", x, y)
    assert path.read_text().splitlines()[0] == "emotion,pixels,Usage"
    back = load_fer2013(path, split="Training")
    np.testing.assert_array_equal(back.labels, y)
    np.testing.assert_allclose(back.images, np.rint(x * 255) / 255, atol=1e-6)
    assert [p.name for p in path.parent.iterdir()] == ["fer2013.csv"]  # no temp file left


def test_write_fer2013_csv_rejects_bad_input(tmp_path: Path) -> None:
    x, y = _faces(4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        write_fer2013_csv(tmp_path / "a.csv", x * 2, y)
    with pytest.raises(ValueError, match="labels"):
        write_fer2013_csv(tmp_path / "a.csv", x, y[:3])
    with pytest.raises(ValueError, match="usage"):
        write_fer2013_csv(tmp_path / "a.csv", x, y, ["Training"] * 3)
    assert not list(tmp_path.iterdir())


def test_load_fer_splits_with_private_test(tmp_path: Path) -> None:
    _write_csv(tmp_path / "fer2013.csv", ["Training", "PublicTest", "PrivateTest"])
    splits = load_fer_splits(tmp_path / "fer2013.csv")
    assert [len(s[1]) for _, s in splits.items()] == [21, 21, 21]
    assert "test = PrivateTest" in splits.description
    assert splits.names[1] == "disgust"


def test_load_fer_splits_without_private_test_validates_on_training(tmp_path: Path) -> None:
    _write_csv(tmp_path / "fer2013.csv", ["Training", "PublicTest"], n_each=70)
    splits = load_fer_splits(tmp_path / "fer2013.csv", val_fraction=0.1, seed=0)
    assert len(splits.test[1]) == 70  # PublicTest becomes the test set
    assert len(splits.val[1]) == 7 and len(splits.train[1]) == 63
    assert sorted(splits.val[1].tolist()) == list(range(7))  # one of each class
    assert "no PrivateTest" in splits.description
    limited = load_fer_splits(tmp_path / "fer2013.csv", limit=20)
    assert len(limited.train[1]) == 20 and len(limited.test[1]) == 20


def test_load_fer_splits_on_sample_data(sample_data: Path) -> None:
    import pandas as pd

    usage = pd.read_csv(sample_data / "fer2013" / "fer2013.csv", usecols=["Usage"])["Usage"]
    counts = usage.value_counts()
    splits = load_fer_splits(sample_data / "fer2013")
    sizes = {name: len(s[1]) for name, s in splits.items()}
    assert sizes == {
        "train": counts["Training"],
        "val": counts["PublicTest"],
        "test": counts["PrivateTest"],
    }
    assert splits.train[0].shape[1:] == (48, 48, 1)


@pytest.mark.slow
@pytest.mark.real_data
def test_load_fer_splits_on_the_real_zip(shared_data: Path) -> None:
    """The real copy has no PrivateTest: test on PublicTest, validate on 10% of Training."""
    splits = load_fer_splits(shared_data / "fer2013" / "fer2013_train_publictest.zip")
    assert len(splits.test[1]) == 3589
    assert len(splits.train[1]) + len(splits.val[1]) == 28707
    assert abs(len(splits.val[1]) - 2871) < 10
