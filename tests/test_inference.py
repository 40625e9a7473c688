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
from utils.schema import EMOTIONS, KEYPOINT_COLUMNS

MAX_BYTES = 5_000_000


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


def test_compiled_model_is_made_once_and_matches_the_model() -> None:
    model = inference.load_emotion_model()
    fast = inference.compiled(model)
    assert inference.compiled(model) is fast and inference.compiled(fast) is fast
    x = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)
    for n in (1, 5):  # any batch size, one trace
        np.testing.assert_allclose(np.asarray(fast(x[:n])), np.asarray(model(x[:n])), atol=1e-5)


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
