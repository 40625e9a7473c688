"""``python -m utils.predict_emotions``: annotated copies and a CSV for a folder of photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from utils.faces import sample_photos
from utils.inference import EMOTION_MODEL
from utils.photo_folders import EMOTIONS_CSV, PROBABILITY_COLUMNS, annotate_folder
from utils.predict_emotions import main
from utils.schema import EMOTIONS


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untrained emotion model saved like the shipped one (the tool is under test)."""
    from utils.models import fer_cnn
    from utils.seeding import set_seed

    set_seed(0)
    path = tmp_path_factory.mktemp("model") / "emotion.keras"
    fer_cnn((8, 16), 16).save(path)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder with a face photo, a photo without a face (in a subfolder), a blank image,
    a text file and a hidden file."""
    folder = tmp_path / "photos"
    (folder / "holiday").mkdir(parents=True)
    astronaut = sample_photos()["astronaut"]
    cv2.imwrite(str(folder / "astronaut.jpg"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    import skimage.data

    coffee = cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "holiday" / "coffee.png"), coffee)
    cv2.imwrite(str(folder / "blank.bmp"), np.full((120, 160), 200, np.uint8))
    (folder / "notes.txt").write_text("not a photo")
    (folder / ".DS_Store").write_bytes(b"\0\1")
    return folder


def test_cli_annotates_every_photo_and_reports_the_rest(
    photos: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--images", str(photos), "--model", str(model_path)]) == 0
    out = photos.parent / "photos-emotions"  # beside the photos, not inside
    assert sorted(p.name for p in photos.iterdir()) == [
        ".DS_Store",
        "astronaut.jpg",
        "blank.bmp",
        "holiday",
        "notes.txt",
    ]
    table = pd.read_csv(out / EMOTIONS_CSV, keep_default_na=False)
    status = dict(zip(table["file"], table["status"], strict=True))
    assert status == {
        "astronaut.jpg": "ok",
        "blank.bmp": "no face",
        "holiday/coffee.png": "no face",
        "notes.txt": "not an image",
    }
    face = table[table["status"] == "ok"].iloc[0]
    x, y, w, h = (int(face[c]) for c in "xywh")
    assert abs(x + w / 2 - 225) < 20 and abs(y + h / 2 - 115) < 20  # her face, in photo pixels
    probs = face[PROBABILITY_COLUMNS].to_numpy(float)
    assert probs.sum() == pytest.approx(1, abs=1e-3)
    assert face["emotion"] == EMOTIONS[int(probs.argmax())]
    # An annotated copy of every image (faces or not), same format, same size; none of the rest.
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["astronaut.jpg", "blank.bmp", EMOTIONS_CSV, "holiday/coffee.png"]
    annotated = cv2.imread(str(out / "astronaut.jpg"))
    original = cv2.imread(str(photos / "astronaut.jpg"))
    assert annotated.shape == original.shape
    assert np.abs(annotated.astype(int) - original)[y : y + h, x : x + w].max() > 100
    printed = capsys.readouterr().out
    assert "blank.bmp: no face" in printed and "notes.txt: not an image" in printed
    assert "astronaut.jpg face 0:" in printed


def test_rerun_skips_its_own_output_and_out_option(photos: Path, model_path: Path) -> None:
    inside = photos / "annotated"  # an output folder inside the photos is not read back
    first = annotate_folder(photos, inside, emotion_model=model_path)
    again = annotate_folder(photos, inside, emotion_model=model_path)
    pd.testing.assert_frame_equal(first, again)
    elsewhere = photos.parent / "results"
    table = annotate_folder(photos, elsewhere, emotion_model=model_path)
    csv_path = elsewhere / EMOTIONS_CSV
    assert csv_path.is_file() and table.attrs["csv"] == str(csv_path)
    assert not list(elsewhere.rglob("*.tmp"))  # atomic writes leave no temporaries


def test_bad_arguments_give_clear_errors(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--images", str(tmp_path / "nope"), "--model", str(model_path)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["--images", str(tmp_path), "--model", str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras" in capsys.readouterr().err


@pytest.mark.skipif(
    not EMOTION_MODEL.exists(), reason="utils/pretrained/emotion.keras not shipped yet"
)
def test_cli_with_the_shipped_model(photos: Path) -> None:
    assert main(["--images", str(photos), "--keypoints"]) == 0
    table = pd.read_csv(photos.parent / "photos-emotions" / EMOTIONS_CSV, keep_default_na=False)
    assert (table["status"] == "ok").sum() == 1
