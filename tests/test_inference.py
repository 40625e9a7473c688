"""The shipped models (utils/pretrained) and the inference API, plus the training scripts'
pure parts (augmentation, checkpoint/resume loop) that produce them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from utils import inference
from utils.data import EMOTIONS, KEYPOINT_COLUMNS

MAX_BYTES = 5 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# The shipped files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, input_shape, output_shape",
    [("keypoints", (None, 96, 96, 1), (None, 30)), ("emotion", (None, 48, 48, 1), (None, 7))],
)
def test_shipped_model_files(kind: str, input_shape: tuple, output_shape: tuple) -> None:
    path = inference.PRETRAINED_DIR / f"{kind}.keras"
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size <= MAX_BYTES
    model = keras.models.load_model(path, safe_mode=True)  # built-in layers only
    assert tuple(model.input_shape) == input_shape
    assert tuple(model.output_shape) == output_shape
    info = json.loads((inference.PRETRAINED_DIR / f"{kind}.json").read_text(encoding="utf-8"))
    assert info["model"] == path.name
    assert info["file_bytes"] == path.stat().st_size  # the sidecar describes this very file
    card = Path(inference.__file__).resolve().parent.parent / "lessons" / f"model_card_{kind}.md"
    assert card.is_file()


def test_load_is_cached() -> None:
    assert inference.load_keypoint_model() is inference.load_keypoint_model()
    assert inference.load_emotion_model() is inference.load_emotion_model()


def test_missing_model_file_says_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train_keypoints"):
        inference.load_keypoint_model(tmp_path / "nope.keras")


# --------------------------------------------------------------------------------------------
# predict_keypoints / predict_emotions: shapes, dtypes, errors
# --------------------------------------------------------------------------------------------


def _noise(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def test_predict_keypoints_shapes() -> None:
    faces = _noise(3, 96, 96)
    points = inference.predict_keypoints(faces)
    assert points.shape == (3, 30) and points.dtype == np.float32
    assert np.isfinite(points).all()
    # One face, and a channel axis, give the same numbers.
    np.testing.assert_allclose(inference.predict_keypoints(faces[0]), points[:1], atol=1e-4)
    np.testing.assert_allclose(inference.predict_keypoints(faces[..., None]), points, atol=1e-4)
    assert inference.predict_keypoints(np.zeros((0, 96, 96), np.uint8)).shape == (0, 30)
    tta = inference.predict_keypoints(faces, tta=True)
    assert tta.shape == (3, 30)
    if inference.model_info("keypoints").get("flip_tta_in_model"):
        # The shipped file already averages the face and its mirror: no second flip.
        np.testing.assert_allclose(tta, points, atol=1e-4)
    else:
        assert not np.allclose(tta, points)


def test_predict_emotions_probabilities() -> None:
    faces = _noise(4, 48, 48)
    for tta in (False, True):
        probs = inference.predict_emotions(faces, tta=tta)
        assert probs.shape == (4, len(EMOTIONS)) and probs.dtype == np.float32
        assert (probs >= 0).all()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert inference.predict_emotions(faces[0]).shape == (1, 7)


@pytest.mark.parametrize(
    "faces, message",
    [
        (np.zeros((2, 96, 96), np.float32), "uint8"),
        (np.zeros((2, 48, 48), np.uint8), r"\(N, 96, 96\)"),
        (np.zeros((2, 96, 96, 3), np.uint8), "grayscale"),
        (np.zeros(96, np.uint8), "expected"),
    ],
)
def test_predict_keypoints_rejects_bad_faces(faces: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        inference.predict_keypoints(faces)


def test_predict_emotions_rejects_bad_faces() -> None:
    with pytest.raises(ValueError, match=r"\(N, 48, 48\)"):
        inference.predict_emotions(np.zeros((1, 96, 96), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        inference.predict_emotions(np.zeros((1, 48, 48), np.int64))


# --------------------------------------------------------------------------------------------
# On the real data (skipped when ../shared/data is absent)
# --------------------------------------------------------------------------------------------


@pytest.mark.real_data
def test_keypoint_model_on_held_out_people(shared_data: Path) -> None:
    """Frames of the validation people (never trained on): RMSE well under the mean face."""
    info = inference.model_info("keypoints")
    people = set(info["validation_subjects"])
    zip_path = shared_data / "keypoints" / "real_faces_kaggle_format.zip"
    with zipfile.ZipFile(zip_path) as archive:
        with archive.open("subjects.csv") as fh:
            subjects = pd.read_csv(fh)
        rows = subjects.index[subjects["subject"].isin(people)].to_numpy()[::8][:60]
        wanted = set((rows + 1).tolist())  # +1: the CSV's header line
        with archive.open("training.csv") as fh:
            frame = pd.read_csv(fh, skiprows=lambda i: i > 0 and i not in wanted)
    assert len(frame) == len(rows) > 20
    faces = np.stack([np.array(s.split(), np.uint8).reshape(96, 96) for s in frame["Image"]])
    truth = frame[KEYPOINT_COLUMNS].to_numpy(np.float32)
    rmse = float(np.sqrt(np.mean((inference.predict_keypoints(faces) - truth) ** 2)))
    baseline = info["mean_face_baseline_rmse_px"]
    assert rmse < 3.5, f"RMSE {rmse:.2f} px on held-out people (mean face: {baseline:.2f})"
    assert rmse < baseline / 2


@pytest.mark.real_data
def test_emotion_model_beats_chance_on_public_test(shared_data: Path) -> None:
    import cv2

    zip_path = shared_data / "fer2013" / "fer2013_train_publictest.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(n for n in archive.namelist() if "/PublicTest_" in n)
        chosen = names[:: max(len(names) // 300, 1)][:300]  # every ~12th: all 7 classes
        faces = np.stack(
            [cv2.imdecode(np.frombuffer(archive.read(n), np.uint8), 0) for n in chosen]
        )
    labels = np.array([EMOTIONS.index(n.split("/")[-2]) for n in chosen])
    accuracy = float((inference.predict_emotions(faces).argmax(axis=1) == labels).mean())
    majority = np.bincount(labels).max() / len(labels)  # always answering "happy": ~25%
    assert accuracy > max(0.40, majority + 0.15), f"accuracy {accuracy:.2f}"


# --------------------------------------------------------------------------------------------
# The training scripts behind the shipped models
# --------------------------------------------------------------------------------------------


def test_fer_augmentation_geometry() -> None:
    from data_scripts.train_fer2013 import random_affine_batch

    faces = _noise(6, 48, 48)
    rng = np.random.default_rng
    still = dict(max_angle=0.0, max_zoom=0.0, max_shift=0.0)
    same = random_affine_batch(faces, rng(1), flip=False, **still)
    np.testing.assert_array_equal(same, faces)
    flipped = random_affine_batch(faces, rng(3), flip=True, **still)
    mirrored = [np.array_equal(f, x[:, ::-1]) for f, x in zip(flipped, faces, strict=True)]
    unchanged = [np.array_equal(f, x) for f, x in zip(flipped, faces, strict=True)]
    assert (
        all(m or u for m, u in zip(mirrored, unchanged, strict=True))
        and any(mirrored)
        and any(unchanged)
    )
    # OpenCV and the NumPy fallback apply the same transform (up to OpenCV's fixed-point maths).
    smooth = np.repeat(np.repeat(_noise(6, 12, 12), 4, axis=1), 4, axis=2)
    a = random_affine_batch(smooth, rng(5), use_opencv=True)
    b = random_affine_batch(smooth, rng(5), use_opencv=False)
    assert np.abs(a - b).mean() < 1.5


def test_keypoint_augmentation_moves_points_with_pixels() -> None:
    from data_scripts.train_keypoints import augment_epoch

    # A dark face with one bright dot per keypoint: after augmentation each point must still
    # sit on a bright spot.
    rng = np.random.default_rng(0)
    points = rng.uniform(25, 70, (4, 30)).astype(np.float32)
    images = np.zeros((4, 96, 96, 1), np.float32)
    for i in range(4):
        for x, y in points[i].reshape(-1, 2):
            images[
                i, int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2
            ] = 1
    out_x, out_y = augment_epoch(images, points, np.random.default_rng(1))
    assert out_x.shape == images.shape and out_y.shape == points.shape
    assert not np.allclose(out_y, points)
    xy = np.rint(out_y.reshape(4, -1, 2)).astype(int)
    brightness = [out_x[i, y, x, 0] for i in range(4) for x, y in xy[i]]
    background = np.median(out_x)
    assert np.median(brightness) > background + 0.3


def test_fit_resumable_continues_the_schedule(tmp_path: Path) -> None:
    from data_scripts.training_runs import fit_resumable, read_state, warmup_cosine

    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)

    def make_model() -> keras.Model:
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        model.compile(
            keras.optimizers.AdamW(warmup_cosine(0.1, total_steps=8, warmup_steps=2)), "mse"
        )
        return model

    state = {"epochs": 4, "epochs_done": 0, "best": None}

    class Interrupted(Exception):
        pass

    def epoch_data(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if epoch == 2 and not resumed:
            raise Interrupted  # the machine goes away after two epochs
        return x, y

    resumed = False
    with pytest.raises(Interrupted):
        fit_resumable(make_model(), tmp_path, state=state, epoch_data=epoch_data,
                      validation_data=(x, y), batch_size=8, monitor="val_loss", mode="min",
                      log=lambda line: None)  # fmt: skip
    saved = read_state(tmp_path)
    assert saved["epochs_done"] == 2
    model = keras.models.load_model(tmp_path / "last.keras", safe_mode=True)
    assert int(model.optimizer.iterations) == 4  # 2 epochs x 2 steps: the schedule's position
    resumed = True
    final = fit_resumable(model, tmp_path, state=saved, epoch_data=epoch_data,
                          validation_data=(x, y), batch_size=8, monitor="val_loss", mode="min",
                          log=lambda line: None)  # fmt: skip
    assert final["epochs_done"] == 4 and int(model.optimizer.iterations) == 8
    log = pd.read_csv(tmp_path / "log.csv")
    assert log["epoch"].tolist() == [1, 2, 3, 4]
    assert (tmp_path / "best.keras").is_file()
    assert log["val_loss"].iloc[-1] < log["val_loss"].iloc[0]  # it kept learning


def test_flip_tta_built_into_a_model_matches_numpy(tmp_path: Path) -> None:
    """The shipped files may hold flip TTA as plain layers; it must equal the NumPy version."""
    from data_scripts.train_keypoints import keypoint_unflip_map, mirror_keypoints
    from data_scripts.training_runs import with_flip_tta

    keras.utils.set_random_seed(0)
    inputs = keras.Input((96, 96, 1))
    x = keras.layers.Conv2D(4, 5, strides=4, activation="relu")(inputs)
    net = keras.Model(inputs, keras.layers.Dense(30)(keras.layers.Flatten()(x)))
    faces = np.random.default_rng(0).random((3, 96, 96, 1), dtype=np.float32)
    axis = 48.4  # the real faces' label axis, not the pixel mirror 47.5
    wrapped = with_flip_tta(net, keypoint_unflip_map(axis))
    wrapped.save(tmp_path / "tta.keras")
    loaded = keras.models.load_model(tmp_path / "tta.keras", safe_mode=True)
    direct = np.asarray(net(faces))
    mirrored = mirror_keypoints(np.asarray(net(faces[:, :, ::-1])), axis)
    np.testing.assert_allclose(np.asarray(loaded(faces)), (direct + mirrored) / 2, atol=1e-4)
    # Mirroring twice about the same axis gives the points back.
    np.testing.assert_allclose(
        mirror_keypoints(mirror_keypoints(direct, axis), axis), direct, atol=1e-4
    )
