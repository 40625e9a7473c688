"""utils.data_fer2013: fer2013.csv, the msambare folders, their zip, and the converters."""

from __future__ import annotations

import io
import shutil
import warnings
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from data_scripts.convert import main as convert_main
from utils.data_fer2013 import (
    fer2013_csv_to_folders,
    folders_to_fer2013_csv,
    load_fer2013,
    write_fer2013_csv,
)
from utils.schema import EMOTIONS, FER_USAGES, DataFormatError

USAGES = ["Training"] * 8 + ["PublicTest"] * 4 + ["PrivateTest"] * 3


def make_fer(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A small fer2013.csv table in Kaggle's order: Training, then PublicTest, then PrivateTest."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(len(USAGES), 48 * 48))
    frame = pd.DataFrame(
        {
            "emotion": np.arange(len(USAGES)) % 7,
            "pixels": [" ".join(map(str, row)) for row in pixels],
            "Usage": USAGES,
        }
    )
    return frame, pixels


@pytest.fixture
def fer_csv(tmp_path: Path) -> Path:
    frame, _ = make_fer()
    path = tmp_path / "fer2013.csv"
    frame.to_csv(path, index=False)
    return path


def test_emotions_are_fer_order() -> None:
    assert EMOTIONS == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.mark.parametrize(
    ("split", "usages"),
    [
        ("Training", ["Training"]),
        ("train", ["Training"]),
        ("PublicTest", ["PublicTest"]),
        ("val", ["PublicTest"]),
        ("validation", ["PublicTest"]),
        ("PrivateTest", ["PrivateTest"]),
        ("test", ["PrivateTest"]),
        ("all", FER_USAGES),
    ],
)
def test_csv_splits_and_aliases(fer_csv: Path, split: str, usages: list[str]) -> None:
    frame, pixels = make_fer()
    rows = np.flatnonzero(frame["Usage"].isin(usages))
    fer = load_fer2013(fer_csv, split)
    images, labels, names = fer
    assert images.shape == (rows.size, 48, 48, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images.reshape(rows.size, -1), pixels[rows] / 255.0, atol=1e-7)
    assert labels.dtype == np.int64 and labels.tolist() == frame["emotion"].iloc[rows].tolist()
    assert names == EMOTIONS and set(fer.usage) == set(usages)
    assert fer.files[0] == f"{frame['Usage'].iloc[rows[0]]}_{rows[0]}"


def test_csv_to_folders_msambare_layout(fer_csv: Path, tmp_path: Path) -> None:
    counts = fer2013_csv_to_folders(fer_csv, tmp_path / "out")
    assert counts == {"Training": 8, "PublicTest": 4, "PrivateTest": 3}
    assert (tmp_path / "out/train/angry/Training_0.jpg").is_file()
    assert (tmp_path / "out/test/happy/PublicTest_10.jpg").is_file()  # row 10: 10 % 7 = 3
    assert (tmp_path / "out/test/surprise/PrivateTest_12.jpg").is_file()
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_csv_to_folders_is_deterministic(fer_csv: Path, tmp_path: Path) -> None:
    fer2013_csv_to_folders(fer_csv, tmp_path / "a")
    fer2013_csv_to_folders(fer_csv, tmp_path / "b")
    a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jpg"))
    b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.jpg"))
    assert a == b and len(a) == len(USAGES)
    assert all((tmp_path / "a" / p).read_bytes() == (tmp_path / "b" / p).read_bytes() for p in a)


def test_png_round_trip_csv_folders_csv_is_exact(fer_csv: Path, tmp_path: Path) -> None:
    fer2013_csv_to_folders(fer_csv, tmp_path / "png", image_format="png")
    from_folders = load_fer2013(tmp_path / "png", "all")
    from_csv = load_fer2013(fer_csv, "all")
    np.testing.assert_array_equal(from_folders.images, from_csv.images)
    np.testing.assert_array_equal(from_folders.labels, from_csv.labels)
    np.testing.assert_array_equal(from_folders.usage, from_csv.usage)
    assert folders_to_fer2013_csv(tmp_path / "png", tmp_path / "back.csv") == len(USAGES)
    back = pd.read_csv(tmp_path / "back.csv")
    original = pd.read_csv(fer_csv)
    pd.testing.assert_frame_equal(back, original)


def test_jpeg_round_trip_is_close(fer_csv: Path, tmp_path: Path) -> None:
    fer2013_csv_to_folders(fer_csv, tmp_path / "jpg")
    from_folders = load_fer2013(tmp_path / "jpg", "all")
    from_csv = load_fer2013(fer_csv, "all")
    np.testing.assert_array_equal(from_folders.labels, from_csv.labels)
    # JPEG is lossy; random noise is its worst case, real faces come back much closer.
    assert np.abs(from_folders.images - from_csv.images).mean() < 0.1


def test_usage_layout_reads_back_by_folder(fer_csv: Path, tmp_path: Path) -> None:
    fer2013_csv_to_folders(fer_csv, tmp_path / "u", layout="usage", image_format="png")
    assert (tmp_path / "u/validation").is_dir()
    # Strip the Usage prefix: the folder alone must then say which part a file is in.
    for path in (tmp_path / "u").rglob("*.png"):
        path.rename(path.with_name(path.name.split("_", 1)[1]))
    fer = load_fer2013(tmp_path / "u", "all")
    assert pd.Series(fer.usage).value_counts().to_dict() == {
        "Training": 8,
        "PublicTest": 4,
        "PrivateTest": 3,
    }


def test_msambare_zip_nested_one_folder(fer_csv: Path, tmp_path: Path) -> None:
    fer2013_csv_to_folders(fer_csv, tmp_path / "fer2013", image_format="png")
    archive = shutil.make_archive(str(tmp_path / "fer"), "zip", tmp_path, "fer2013")
    train = load_fer2013(archive)
    assert len(train) == 8 and set(train.usage) == {"Training"}
    public = load_fer2013(archive, "val")
    assert len(public) == 4 and all(f.startswith("fer2013/test/") for f in public.files)
    np.testing.assert_array_equal(public.images, load_fer2013(fer_csv, "val").images)


def test_folder_with_csv_prefers_the_csv(fer_csv: Path, tmp_path: Path) -> None:
    fer2013_csv_to_folders(fer_csv, tmp_path)  # the sample layout: CSV and folders side by side
    shutil.rmtree(tmp_path / "test")  # the folders lack the test part, the CSV has it
    assert len(load_fer2013(tmp_path, "test")) == 3


def test_colour_and_odd_sizes_converted_with_one_warning(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    folder = tmp_path / "train" / "happy"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "Training_1.png"), rng.integers(0, 256, (48, 48), np.uint8))
    cv2.imwrite(str(folder / "Training_2.png"), rng.integers(0, 256, (48, 48, 3), np.uint8))
    cv2.imwrite(str(folder / "Training_3.png"), rng.integers(0, 256, (64, 64), np.uint8))
    gray = np.full((10, 10, 3), (0, 0, 255), np.uint8)  # pure red in BGR
    cv2.imwrite(str(folder / "Training_4.png"), gray)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, labels, _ = load_fer2013(tmp_path)
    relevant = [w for w in caught if "converted" in str(w.message)]
    assert len(relevant) == 1 and "3 of 4 images" in str(relevant[0].message)
    assert images.shape == (4, 48, 48, 1) and labels.tolist() == [3, 3, 3, 3]
    # Red converts to gray with OpenCV's luma weights (0.299 R): about 76/255.
    assert abs(float(images[3].mean()) - 0.299) < 0.01


def test_cli_round_trip(fer_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "folders"
    assert convert_main(["fer2013-to-folders", str(fer_csv), str(out), "--format", "png"]) == 0
    assert "wrote 15 images" in capsys.readouterr().out
    assert convert_main(["folders-to-fer2013", str(out), str(tmp_path / "back.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "back.csv"), pd.read_csv(fer_csv))
    assert convert_main(["folders-to-fer2013", str(tmp_path / "missing"), "x.csv"]) == 1
    assert "missing" in capsys.readouterr().err


# --- bad input --------------------------------------------------------------------------------


def _write(frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def test_wrong_pixel_count(tmp_path: Path) -> None:
    frame, _ = make_fer()
    frame.loc[5, "pixels"] = " ".join(["1"] * 2000)
    with pytest.raises(DataFormatError, match=r"bad\.csv, row 7: 2000 pixel values, expected 2304"):
        load_fer2013(_write(frame, tmp_path))


def test_non_numeric_pixels(tmp_path: Path) -> None:
    frame, _ = make_fer()
    frame.loc[9, "pixels"] = frame.loc[9, "pixels"].replace(" ", " x", 1)
    path = _write(frame, tmp_path)
    load_fer2013(path, "Training")  # row 11 is PublicTest: Training still loads
    with pytest.raises(DataFormatError, match=r"row 11: non-numeric pixel value 'x"):
        load_fer2013(path, "val")


@pytest.mark.parametrize("label", [7, -1, "happy", 2.5])
def test_label_out_of_range(tmp_path: Path, label: object) -> None:
    frame, _ = make_fer()
    frame["emotion"] = frame["emotion"].astype(object)
    frame.loc[3, "emotion"] = label
    with pytest.raises(DataFormatError, match=r"row 5: emotion .* expected an integer 0-6"):
        load_fer2013(_write(frame, tmp_path))


def test_bad_usage(tmp_path: Path) -> None:
    frame, _ = make_fer()
    frame.loc[0, "Usage"] = "Train"
    with pytest.raises(DataFormatError, match=r"row 2: Usage 'Train'"):
        load_fer2013(_write(frame, tmp_path))


def test_missing_column(tmp_path: Path) -> None:
    frame, _ = make_fer()
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['Usage'\]"):
        load_fer2013(_write(frame.rename(columns={"Usage": "usage"}), tmp_path))


@pytest.mark.parametrize("content", ["", "emotion,pixels,Usage\n"])
def test_empty_csv(tmp_path: Path, content: str) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=r"fer2013\.csv: (the file is empty|has a header)"):
        load_fer2013(path)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "fer" / "train" / "angry"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "Training_1.jpg"), np.zeros((48, 48), np.uint8))
    return tmp_path / "fer"


def test_corrupt_image(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    (root / "train/angry/Training_2.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataFormatError, match=r"Training_2\.jpg: not a readable image"):
        load_fer2013(root)


def test_non_image_file_in_an_emotion_folder(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    (root / "train/angry/notes.txt").write_text("hello")
    with pytest.raises(DataFormatError, match=r"notes\.txt: not an image file"):
        load_fer2013(root)


def test_hidden_files_are_ignored(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    (root / "train/angry/.DS_Store").write_bytes(b"\0\1")
    assert len(load_fer2013(root)) == 1


def test_unknown_emotion_folder(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    (root / "train/happiness").mkdir()
    cv2.imwrite(str(root / "train/happiness/Training_3.jpg"), np.zeros((48, 48), np.uint8))
    with pytest.raises(DataFormatError, match=r"folder 'happiness' is not an emotion"):
        load_fer2013(root)


def test_zip_slip_entry(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(
            "train/angry/Training_1.jpg", cv2.imencode(".jpg", np.zeros((48, 48)))[1].tobytes()
        )
        z.writestr("/etc/evil", b"x")
    path = tmp_path / "fer.zip"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(DataFormatError, match=r"'/etc/evil'.*zip slip"):
        load_fer2013(path)


def test_split_with_no_images_says_what_is_there(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    with pytest.raises(DataFormatError, match=r"no images for split='test'.*'Training': 1"):
        load_fer2013(root, "test")


def test_folder_without_fer_data(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DataFormatError, match=r"neither fer2013\.csv nor images"):
        load_fer2013(tmp_path)


def test_bad_arguments(fer_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"split='holdout'"):
        load_fer2013(fer_csv, "holdout")
    with pytest.raises(FileNotFoundError, match=r"absent"):
        load_fer2013(tmp_path / "absent")
    with pytest.raises(ValueError, match=r"layout='kaggle'"):
        fer2013_csv_to_folders(fer_csv, tmp_path / "o", layout="kaggle")
    with pytest.raises(ValueError, match=r"image_format='gif'"):
        fer2013_csv_to_folders(fer_csv, tmp_path / "o", image_format="gif")


def test_a_part_folder_itself(fer_csv: Path, tmp_path: Path) -> None:
    fer2013_csv_to_folders(fer_csv, tmp_path / "f", image_format="png")
    assert len(load_fer2013(tmp_path / "f" / "train")) == 8
    assert len(load_fer2013(tmp_path / "f" / "test", "test")) == 3


def test_sample_data_csv_and_folders_agree(sample_data: Path) -> None:
    folder = sample_data / "fer2013"
    from_csv = load_fer2013(folder, "all")  # the folder holds fer2013.csv: read from it
    assert from_csv.images.shape[1:] == (48, 48, 1) and len(from_csv) > 0
    assert set(from_csv.usage) == set(FER_USAGES)
    from_jpegs = load_fer2013(folder / "train")
    training = from_csv.usage == "Training"
    np.testing.assert_array_equal(from_jpegs.labels, from_csv.labels[training])
    # JPEG is lossy, but the sample faces come back close to their CSV pixels.
    assert np.abs(from_jpegs.images - from_csv.images[training]).mean() < 0.02


def test_interleaved_usages_keep_row_numbers(tmp_path: Path) -> None:
    frame, pixels = make_fer()
    order = np.random.default_rng(3).permutation(len(frame))  # Training rows scattered
    frame, pixels = frame.iloc[order].reset_index(drop=True), pixels[order]
    path = _write(frame, tmp_path)
    for usage in FER_USAGES:
        rows = np.flatnonzero(frame["Usage"] == usage)
        fer = load_fer2013(path, usage)
        np.testing.assert_allclose(
            fer.images.reshape(len(rows), -1), pixels[rows] / 255.0, atol=1e-7
        )
        assert fer.files.tolist() == [f"{usage}_{i}" for i in rows]
    bad_row = int(np.flatnonzero(frame["Usage"] == "PrivateTest")[-1])
    frame.loc[bad_row, "pixels"] = "1 2 3"
    with pytest.raises(DataFormatError, match=rf"row {bad_row + 2}: 3 pixel values"):
        load_fer2013(_write(frame, tmp_path), "test")


# --------------------------------------------------------------------------------------------
# write_fer2013_csv: arrays to a fer2013.csv
# --------------------------------------------------------------------------------------------


def _float_faces(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random float faces in [0, 1], shape (n, 48, 48, 1), and labels 0..6."""
    rng = np.random.default_rng(0)
    return rng.random((n, 48, 48, 1), dtype=np.float32), (np.arange(n) % 7).astype(np.int64)


def test_write_fer2013_csv_round_trips(tmp_path: Path) -> None:
    x, y = _float_faces(14)
    path = write_fer2013_csv(tmp_path / "sub" / "fer2013.csv", x, y)
    assert path.read_text().splitlines()[0] == "emotion,pixels,Usage"
    back = load_fer2013(path, split="Training")
    np.testing.assert_array_equal(back.labels, y)
    np.testing.assert_allclose(back.images, np.rint(x * 255) / 255, atol=1e-6)
    assert [p.name for p in path.parent.iterdir()] == ["fer2013.csv"]  # no temp file left


def test_write_fer2013_csv_rejects_bad_input(tmp_path: Path) -> None:
    x, y = _float_faces(4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        write_fer2013_csv(tmp_path / "a.csv", x * 2, y)
    with pytest.raises(ValueError, match="labels"):
        write_fer2013_csv(tmp_path / "a.csv", x, y[:3])
    with pytest.raises(ValueError, match="usage"):
        write_fer2013_csv(tmp_path / "a.csv", x, y, ["Training"] * 3)
    assert not list(tmp_path.iterdir())
