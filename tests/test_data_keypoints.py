"""utils.data_keypoints: Kaggle's training.csv/test.csv, zips, folders, subjects, npz caches."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.data_keypoints import KeypointData, keypoints_to_npz, load_keypoints
from utils.schema import KEYPOINT_COLUMNS, KEYPOINT_NAMES, DataFormatError

N = 6


def make_training(n: int = N, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A training.csv table with random pixels and keypoints, some labels missing."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 96 * 96))
    keypoints = rng.uniform(0, 96, size=(n, 30)).round(4).astype(np.float32)
    keypoints[1, 4:] = np.nan  # Kaggle's usual pattern: only the first keypoints labelled
    frame = pd.DataFrame(keypoints, columns=KEYPOINT_COLUMNS)
    frame["Image"] = [" ".join(map(str, row)) for row in pixels]
    return frame, pixels, keypoints


def make_test(n: int = 3, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 96 * 96))
    frame = pd.DataFrame({"ImageId": np.arange(1, n + 1)})
    frame["Image"] = [" ".join(map(str, row)) for row in pixels]
    return frame, pixels


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_keypoint_columns_are_kaggles_thirty_in_order() -> None:
    assert len(KEYPOINT_COLUMNS) == 30
    assert KEYPOINT_COLUMNS[:2] == ["left_eye_center_x", "left_eye_center_y"]
    assert KEYPOINT_COLUMNS[-1] == "mouth_center_bottom_lip_y"
    assert KEYPOINT_NAMES[0] == "left_eye_center" and len(KEYPOINT_NAMES) == 15


def test_training_csv_round_trip(tmp_path: Path) -> None:
    frame, pixels, keypoints = make_training()
    kp = load_keypoints(write_csv(frame, tmp_path / "training.csv"))
    images, labels, ids = kp
    assert images.shape == (N, 96, 96, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images.reshape(N, -1), pixels / 255.0, atol=1e-7)
    assert labels.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(labels), np.isnan(keypoints))
    np.testing.assert_allclose(labels, keypoints, atol=1e-4)
    np.testing.assert_array_equal(ids, np.arange(1, N + 1))
    assert kp.subjects is None and kp.columns == KEYPOINT_COLUMNS and len(kp) == N


def test_test_csv_gives_image_ids_and_no_labels(tmp_path: Path) -> None:
    frame, pixels = make_test()
    frame["ImageId"] = [7, 8, 9]
    images, labels, ids = load_keypoints(write_csv(frame, tmp_path / "test.csv"), split="test")
    np.testing.assert_array_equal(ids, [7, 8, 9])
    assert labels.shape == (3, 30) and np.isnan(labels).all()
    np.testing.assert_allclose(images.reshape(3, -1), pixels / 255.0, atol=1e-7)


@pytest.mark.parametrize("base", [0, 1])
def test_subjects_csv_beside_the_csv(tmp_path: Path, base: int) -> None:
    frame, _, _ = make_training()
    path = write_csv(frame, tmp_path / "training.csv")
    people = ["ann", "bob", "ann", "cy", "bob", "cy"]
    # Rows listed out of order: the loader must place each by its row number.
    pd.DataFrame({"row": np.arange(N)[::-1] + base, "subject": people[::-1]}).to_csv(
        tmp_path / "subjects.csv", index=False
    )
    assert load_keypoints(path).subjects.tolist() == people


def test_subjects_csv_with_wrong_rows_is_refused(tmp_path: Path) -> None:
    frame, _, _ = make_training()
    path = write_csv(frame, tmp_path / "training.csv")
    pd.DataFrame({"row": np.arange(N - 1), "subject": ["a"] * (N - 1)}).to_csv(
        tmp_path / "subjects.csv", index=False
    )
    with pytest.raises(DataFormatError, match=r"subjects\.csv.*expected one row per training row"):
        load_keypoints(path)


def test_competition_zip_with_inner_zips(tmp_path: Path) -> None:
    train, pixels, keypoints = make_training()
    test, test_pixels = make_test()
    archive = tmp_path / "facial-keypoints-detection.zip"
    archive.write_bytes(
        zip_bytes(
            {
                "training.zip": zip_bytes({"training.csv": train.to_csv(index=False).encode()}),
                "test.zip": zip_bytes({"test.csv": test.to_csv(index=False).encode()}),
                "IdLookupTable.csv": b"RowId,ImageId,FeatureName,Location\n",
            }
        )
    )
    images, labels, _ = load_keypoints(archive, split="train")
    np.testing.assert_allclose(images.reshape(N, -1), pixels / 255.0, atol=1e-7)
    np.testing.assert_allclose(labels, keypoints, atol=1e-4)
    test_images, _, ids = load_keypoints(archive, split="test")
    np.testing.assert_array_equal(ids, [1, 2, 3])
    np.testing.assert_allclose(test_images.reshape(3, -1), test_pixels / 255.0, atol=1e-7)


def test_zip_with_csv_and_subjects_nested_in_a_folder(tmp_path: Path) -> None:
    train, _, _ = make_training()
    subjects = pd.DataFrame({"row": range(N), "subject": list("aabbcc")})
    archive = tmp_path / "faces.zip"
    archive.write_bytes(
        zip_bytes(
            {
                "faces/training.csv": train.to_csv(index=False).encode(),
                "faces/subjects.csv": subjects.to_csv(index=False).encode(),
            }
        )
    )
    assert load_keypoints(archive).subjects.tolist() == list("aabbcc")


def test_folder_holding_both_csvs(tmp_path: Path) -> None:
    train, _, keypoints = make_training()
    test, _ = make_test()
    write_csv(train, tmp_path / "kaggle" / "training.csv")
    write_csv(test, tmp_path / "kaggle" / "test.csv")
    np.testing.assert_allclose(load_keypoints(tmp_path / "kaggle").keypoints, keypoints, atol=1e-4)
    assert len(load_keypoints(tmp_path / "kaggle", "test")) == 3


# --- bad input: every message names the file, the row and what was expected -----------------


def _bad_training(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    frame, _, _ = make_training()
    frame = frame.astype({"Image": object, KEYPOINT_COLUMNS[3]: object})
    edit(frame)
    return write_csv(frame, tmp_path / "training.csv")


def test_wrong_pixel_count_names_the_row(tmp_path: Path) -> None:
    def edit(f: pd.DataFrame) -> None:
        f.loc[2, "Image"] = f.loc[2, "Image"] + " 17"

    with pytest.raises(
        DataFormatError, match=r"training\.csv, row 4: 9217 pixel values, expected 9216"
    ):
        load_keypoints(_bad_training(tmp_path, edit))


def test_non_numeric_pixels_name_the_row_and_value(tmp_path: Path) -> None:
    def edit(f: pd.DataFrame) -> None:
        f.loc[4, "Image"] = "12 abc " + f.loc[4, "Image"].split(" ", 2)[2]

    with pytest.raises(DataFormatError, match=r"row 6: non-numeric pixel value 'abc'"):
        load_keypoints(_bad_training(tmp_path, edit))


def test_pixel_out_of_range(tmp_path: Path) -> None:
    def edit(f: pd.DataFrame) -> None:
        f.loc[0, "Image"] = "300 " + f.loc[0, "Image"].split(" ", 1)[1]

    with pytest.raises(DataFormatError, match=r"row 2: pixel value 300 is outside 0-255"):
        load_keypoints(_bad_training(tmp_path, edit))


def test_empty_pixel_cell(tmp_path: Path) -> None:
    def edit(f: pd.DataFrame) -> None:
        f.loc[1, "Image"] = None

    with pytest.raises(DataFormatError, match=r"row 3: the pixel column is empty"):
        load_keypoints(_bad_training(tmp_path, edit))


def test_non_numeric_keypoint(tmp_path: Path) -> None:
    def edit(f: pd.DataFrame) -> None:
        f.loc[3, KEYPOINT_COLUMNS[3]] = "left"

    with pytest.raises(DataFormatError, match=r"row 5, column right_eye_center_y: 'left'"):
        load_keypoints(_bad_training(tmp_path, edit))


def test_renamed_column(tmp_path: Path) -> None:
    frame, _, _ = make_training()
    frame = frame.rename(columns={"nose_tip_x": "nose_x"})
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['nose_tip_x'\]"):
        load_keypoints(write_csv(frame, tmp_path / "training.csv"))


def test_missing_image_column(tmp_path: Path) -> None:
    frame, _, _ = make_training()
    with pytest.raises(DataFormatError, match=r"no 'Image' column"):
        load_keypoints(write_csv(frame.drop(columns="Image"), tmp_path / "training.csv"))


@pytest.mark.parametrize("content", ["", "Image\n"])
def test_empty_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "training.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=r"training\.csv.*(empty|no rows)"):
        load_keypoints(path)


def test_zip_without_the_split(tmp_path: Path) -> None:
    archive = tmp_path / "x.zip"
    archive.write_bytes(zip_bytes({"readme.txt": b"hi"}))
    with pytest.raises(DataFormatError, match=r"holds no training\.csv"):
        load_keypoints(archive)


def test_zip_slip_entry_is_refused(tmp_path: Path) -> None:
    train, _, _ = make_training()
    archive = tmp_path / "evil.zip"
    archive.write_bytes(
        zip_bytes({"training.csv": train.to_csv(index=False).encode(), "../../evil.sh": b"rm"})
    )
    with pytest.raises(DataFormatError, match=r"'\.\./\.\./evil\.sh'.*zip slip"):
        load_keypoints(archive)


def test_bad_split_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"split='validation'"):
        load_keypoints(tmp_path, split="validation")
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        load_keypoints(tmp_path / "nope.csv")


# --- npz caches -------------------------------------------------------------------------------


def test_keypoints_to_npz_round_trip_without_pickle(tmp_path: Path) -> None:
    frame, _, _ = make_training()
    csv = write_csv(frame, tmp_path / "training.csv")
    pd.DataFrame({"row": range(N), "subject": list("abcabc")}).to_csv(
        tmp_path / "subjects.csv", index=False
    )
    original = load_keypoints(csv)
    out = keypoints_to_npz(csv, tmp_path / "cache" / "training.npz")
    with np.load(out, allow_pickle=False) as npz:
        assert npz["images"].dtype == np.uint8  # lossless and 4x smaller than float32
    again = load_keypoints(out)
    np.testing.assert_array_equal(again.images, original.images)
    np.testing.assert_array_equal(again.keypoints, original.keypoints)
    np.testing.assert_array_equal(again.ids, original.ids)
    assert again.subjects.tolist() == list("abcabc")


def test_load_keypoints_with_cache_dir(tmp_path: Path) -> None:
    frame, _, keypoints = make_training()
    csv = write_csv(frame, tmp_path / "training.csv")
    first = load_keypoints(csv, cache_dir=tmp_path / "cache")
    second = load_keypoints(csv, cache_dir=tmp_path / "cache")
    assert isinstance(second, KeypointData)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_allclose(second.keypoints, keypoints, atol=1e-4)


def test_sample_data_keypoints(sample_data: Path) -> None:
    folder = sample_data / "facial-keypoints-detection"
    kp = load_keypoints(folder)
    assert kp.images.shape[1:] == (96, 96, 1) and kp.keypoints.shape == (len(kp), 30)
    assert kp.subjects is not None and len(set(kp.subjects)) > 1
    assert np.isnan(kp.keypoints).any() and not np.isnan(kp.keypoints).all(axis=0).any()
    test = load_keypoints(folder, "test")
    np.testing.assert_array_equal(test.ids, np.arange(1, len(test) + 1))


def test_cli_keypoints_to_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from data_scripts.convert import main

    test, pixels = make_test()
    csv = write_csv(test, tmp_path / "test.csv")
    out = tmp_path / "test.npz"
    assert main(["keypoints-to-npz", str(csv), str(out), "--split", "test"]) == 0
    np.testing.assert_allclose(load_keypoints(out).images.reshape(3, -1), pixels / 255.0, atol=1e-7)
    bad = tmp_path / "bad.csv"
    bad.write_text("")
    assert main(["keypoints-to-npz", str(bad), str(tmp_path / "b.npz")]) == 1
    assert "bad.csv: the file is empty" in capsys.readouterr().err
