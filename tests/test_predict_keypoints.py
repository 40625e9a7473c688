"""``python -m utils.predict_keypoints``: real photo, blank photo, broken and non-image files."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np
import pandas as pd
import pytest
import skimage.data

from utils.faces import crop_face, crop_to_image, detect_faces
from utils.models import keypoint_convnet
from utils.photo_folders import KEYPOINTS_CSV, KEYPOINTS_PLOT, photo_files, predict_folder
from utils.predict_keypoints import main
from utils.schema import KEYPOINT_COLUMNS


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    astronaut = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(folder / "trip" / "astronaut.jpg"), astronaut)
    assert cv2.imwrite(str(folder / "blank.png"), np.full((200, 260), 128, np.uint8))
    (folder / "broken.jpg").write_text("this is not a JPEG")
    (folder / "notes.txt").write_text("not an image at all")
    return folder


@pytest.fixture(scope="module")
def fixed_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved model whose prediction is known: every keypoint at crop pixel (48 + 24*b)."""
    model = keypoint_convnet(filters=(4, 4, 4, 4), dense=8)
    head = model.get_layer("keypoints_scaled")
    kernel, _ = head.get_weights()
    bias = np.linspace(-0.5, 0.5, 30).astype(np.float32)  # scaled units: 1 = half the crop
    head.set_weights([np.zeros_like(kernel), bias])
    path = tmp_path_factory.mktemp("model") / "fixed.keras"
    model.save(path)
    return path


def expected_crop_keypoints() -> np.ndarray:
    return 48.0 + 48.0 * np.linspace(-0.5, 0.5, 30)


def test_reads_every_file_in_subfolders_but_not_hidden_ones_or_the_output(photos: Path) -> None:
    (photos / ".DS_Store").write_bytes(b"\0\1")
    (photos / "out").mkdir()
    (photos / "out" / "keypoints.png").write_bytes(b"an earlier output")
    files = list(photo_files(photos, photos / "out"))
    names = [f.name for f in files]
    assert names == ["blank.png", "broken.jpg", "notes.txt", "trip/astronaut.jpg"]
    readable = {f.name: f.image is not None for f in files}
    assert readable == dict(zip(names, [True, False, False, True], strict=True))
    assert files[-1].image.shape == (512, 512, 3) and files[1].problem == "not a readable image"


def test_predict_folder_reports_every_photo_and_maps_back(photos: Path, fixed_model: Path) -> None:
    frame = predict_folder(photos, fixed_model)
    assert list(frame.columns[-30:]) == KEYPOINT_COLUMNS
    status = dict(zip(frame["file"], frame["status"], strict=True))
    assert status == {
        "blank.png": "no face",
        "broken.jpg": "unreadable",
        "notes.txt": "unreadable",
        "trip/astronaut.jpg": "ok",
    }
    assert "not a readable" in frame.loc[frame["file"] == "broken.jpg", "note"].item()
    assert frame.loc[frame["status"] != "ok", KEYPOINT_COLUMNS].isna().all().all()
    # The known crop prediction, mapped back through the crop transform onto the photo.
    face = frame[frame["status"] == "ok"].iloc[0]
    # The photo as the tool reads it back (JPEG is lossy, so not skimage's exact pixels).
    photo = cv2.cvtColor(cv2.imread(str(photos / "trip" / "astronaut.jpg")), cv2.COLOR_BGR2RGB)
    box = detect_faces(photo)[0]
    assert [face["x"], face["y"], face["w"], face["h"]] == box.tolist()
    _, transform = crop_face(photo, box)
    expected = crop_to_image(expected_crop_keypoints(), transform)
    np.testing.assert_allclose(face[KEYPOINT_COLUMNS].to_numpy(float), expected, atol=1e-3)
    assert not (photos.parent / "photos-keypoints").exists(), "save=False must not write files"


def test_command_line_writes_csv_and_plot(photos: Path, fixed_model: Path, capsys) -> None:
    before = sorted(p.name for p in photos.iterdir())
    assert main(["--images", str(photos), "--model", str(fixed_model)]) == 0
    out = capsys.readouterr().out
    assert "blank.png: no face" in out and "broken.jpg: unreadable" in out
    folder = photos.parent / "photos-keypoints"  # beside the photos, not inside
    assert sorted(p.name for p in folder.iterdir()) == [KEYPOINTS_CSV, KEYPOINTS_PLOT]
    assert sorted(p.name for p in photos.iterdir()) == before
    table = pd.read_csv(folder / KEYPOINTS_CSV)
    assert table["status"].tolist() == ["no face", "unreadable", "unreadable", "ok"]
    assert table.loc[3, KEYPOINT_COLUMNS].notna().all()
    plot = cv2.imread(str(folder / KEYPOINTS_PLOT))
    assert plot is not None and plot.shape[0] > 100 and plot.std() > 10
    # --faces (the old spelling) and --out.
    elsewhere = photos.parent / "results"
    assert main(["--faces", str(photos), "--model", str(fixed_model), "--out", str(elsewhere)]) == 0
    assert (elsewhere / KEYPOINTS_CSV).read_bytes() == (folder / KEYPOINTS_CSV).read_bytes()


def test_clear_errors(tmp_path: Path, photos: Path, capsys) -> None:
    assert main(["--faces", str(tmp_path / "missing"), "--model", "x.keras"]) == 2
    assert "not a folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no such file"):
        predict_folder(photos, tmp_path / "nope.keras")
    wrong = keras.Sequential(
        [keras.Input((96, 96, 1)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    with pytest.raises(ValueError, match="predicts shape"):
        predict_folder(photos, wrong)
