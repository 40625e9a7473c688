"""utils.submission: writing Kaggle's RowId,Location file and validating one before upload."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.schema import KEYPOINT_COLUMNS
from utils.submission import (
    SubmissionError,
    read_lookup_table,
    validate_submission,
    write_submission,
)


def make_lookup(tmp_path: Path, n_images: int = 3) -> Path:
    """A small IdLookupTable.csv: image 2 asks for only four keypoints, as Kaggle's does."""
    rows = []
    for image in range(1, n_images + 1):
        features = KEYPOINT_COLUMNS[:4] if image == 2 else KEYPOINT_COLUMNS
        rows += [(image, f) for f in features]
    frame = pd.DataFrame(rows, columns=["ImageId", "FeatureName"])
    frame.insert(0, "RowId", np.arange(1, len(frame) + 1))
    frame["Location"] = np.nan
    path = tmp_path / "IdLookupTable.csv"
    frame.to_csv(path, index=False)
    return path


def predictions(n_images: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 96, (n_images, 30))


def test_write_submission_maps_rows_through_the_lookup(tmp_path: Path) -> None:
    lookup = make_lookup(tmp_path)
    preds = predictions()
    path = write_submission(preds, lookup, tmp_path / "subs")
    assert re.fullmatch(r"submission-\d{8}-\d{6}\.csv", path.name)
    sub = pd.read_csv(path)
    table = pd.read_csv(lookup)
    assert list(sub.columns) == ["RowId", "Location"] and len(sub) == len(table) == 64
    cols = table["FeatureName"].map(KEYPOINT_COLUMNS.index)
    expected = preds[table["ImageId"] - 1, cols]
    np.testing.assert_allclose(sub["Location"], expected, atol=5e-5)
    assert not list(path.parent.glob("*.tmp"))
    validate_submission(path, lookup)


def test_predictions_outside_the_image_are_clipped(tmp_path: Path) -> None:
    lookup = make_lookup(tmp_path)
    preds = predictions()
    preds[0, 0], preds[0, 1] = -3.0, 120.0
    sub = pd.read_csv(write_submission(preds, lookup, tmp_path))
    assert sub["Location"].iloc[0] == 0.0 and sub["Location"].iloc[1] == 96.0


def test_dataframe_indexed_by_image_id(tmp_path: Path) -> None:
    lookup = make_lookup(tmp_path)
    preds = predictions()
    # Columns and rows shuffled: the writer must go by name and ImageId, not by position.
    frame = pd.DataFrame(preds, columns=KEYPOINT_COLUMNS, index=[1, 2, 3])
    frame = frame.iloc[[2, 0, 1], ::-1]
    by_frame = pd.read_csv(write_submission(frame, lookup, tmp_path / "a"))
    by_array = pd.read_csv(write_submission(preds, lookup, tmp_path / "b"))
    pd.testing.assert_frame_equal(by_frame, by_array)


def test_two_submissions_in_one_second_do_not_overwrite(tmp_path: Path) -> None:
    lookup = make_lookup(tmp_path)
    paths = {write_submission(predictions(seed=s), lookup, tmp_path / "s") for s in range(3)}
    assert len(paths) == 3


@pytest.mark.parametrize(
    ("preds", "message"),
    [
        (np.zeros((2, 30)), r"shape \(2, 30\); expected \(3, 30\)"),
        (np.zeros((3, 15, 2)), r"shape \(3, 15, 2\)"),
        (
            np.where(np.eye(3, 30) > 0, np.nan, 1.0),
            r"3 value\(s\) are NaN.*ImageId 1, left_eye_center_x",
        ),
        (np.full((3, 30), np.inf), r"NaN or infinite"),
    ],
)
def test_bad_predictions(tmp_path: Path, preds: np.ndarray, message: str) -> None:
    with pytest.raises(SubmissionError, match=message):
        write_submission(preds, make_lookup(tmp_path), tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_dataframe_missing_images_or_columns(tmp_path: Path) -> None:
    lookup = make_lookup(tmp_path)
    frame = pd.DataFrame(predictions(), columns=KEYPOINT_COLUMNS, index=[1, 2, 4])
    with pytest.raises(SubmissionError, match=r"no row for ImageId \[3\]"):
        write_submission(frame, lookup, tmp_path)
    with pytest.raises(SubmissionError, match=r"lacks column\(s\) \['nose_tip_x'"):
        write_submission(frame.drop(columns="nose_tip_x"), lookup, tmp_path)


def test_bad_lookup_tables(tmp_path: Path) -> None:
    bad = tmp_path / "lookup.csv"
    bad.write_text("RowId,ImageId,Feature\n1,1,nose_tip_x\n")
    with pytest.raises(SubmissionError, match=r"missing column\(s\) \['FeatureName'\]"):
        read_lookup_table(bad)
    bad.write_text("RowId,ImageId,FeatureName\n1,1,nose\n")
    with pytest.raises(SubmissionError, match=r"row 2: FeatureName 'nose'"):
        read_lookup_table(bad)
    bad.write_text("RowId,ImageId,FeatureName\n1,x,nose_tip_x\n")
    with pytest.raises(SubmissionError, match=r"row 2: ImageId 'x'"):
        read_lookup_table(bad)
    with pytest.raises(FileNotFoundError, match=r"IdLookupTable\.csv comes with"):
        read_lookup_table(tmp_path / "absent.csv")


# --- validate_submission: each way a file can be wrong ----------------------------------------


@pytest.fixture
def good(tmp_path: Path) -> tuple[Path, Path]:
    lookup = make_lookup(tmp_path)
    return write_submission(predictions(), lookup, tmp_path / "subs"), lookup


def _edit(path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    frame = pd.read_csv(path, dtype=str)
    frame = edit(frame)
    out = path.with_name("edited.csv")
    frame.to_csv(out, index=False)
    return out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.rename(columns={"Location": "location"}), r"header \['RowId', 'location'\]"),
        (lambda f: f.iloc[:-1], r"63 rows; expected 64"),
        (
            lambda f: f.assign(RowId=f["RowId"].replace("5", "500")),
            r"missing \[5\], unexpected \[500\]",
        ),
        (lambda f: f.assign(RowId=f["RowId"].replace("5", "4")), r"row 6: RowId 4 appears twice"),
        (lambda f: f.assign(RowId=f["RowId"].replace("5", "five")), r"row 6: RowId 'five'"),
        (
            lambda f: f.assign(Location=f["Location"].where(f.index != 7, "abc")),
            r"row 9: Location 'abc' is not a number",
        ),
        (
            lambda f: f.assign(Location=f["Location"].where(f.index != 2, "")),
            r"row 4: Location '' is not a number",
        ),
        (
            lambda f: f.assign(Location=f["Location"].where(f.index != 3, "96.5")),
            r"row 5: Location 96.5 is outside the image \[0, 96\]",
        ),
    ],
)
def test_validate_rejects(good: tuple[Path, Path], edit, message: str) -> None:  # type: ignore[no-untyped-def]
    path, lookup = good
    with pytest.raises(SubmissionError, match=message):
        validate_submission(_edit(path, edit), lookup)


def test_validate_rejects_an_empty_file(good: tuple[Path, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SubmissionError, match=r"empty\.csv: the file is empty"):
        validate_submission(empty, good[1])


def test_validate_accepts_rows_in_any_order(good: tuple[Path, Path]) -> None:
    path, lookup = good
    validate_submission(_edit(path, lambda f: f.iloc[::-1]), lookup)


# --- full scale, against the real competition files --------------------------------------------


@pytest.mark.real_data
def test_real_lookup_table_full_scale(shared_data: Path, tmp_path: Path) -> None:
    lookup = shared_data / "keypoints" / "IdLookupTable.csv"
    sample = shared_data / "keypoints" / "SampleSubmission.csv"
    if not lookup.exists() or not sample.exists():
        pytest.skip("IdLookupTable.csv / SampleSubmission.csv not in the shared data")
    table = read_lookup_table(lookup)
    assert len(table) == 27124 and table["ImageId"].nunique() == 1783
    validate_submission(sample, lookup)  # Kaggle's own sample file passes
    path = write_submission(predictions(1783), lookup, tmp_path)
    validate_submission(path, lookup)
    sub = pd.read_csv(path)
    np.testing.assert_array_equal(sub["RowId"], pd.read_csv(sample)["RowId"])
    assert sub["Location"].between(0, 96).all()


def test_sample_data_submission(sample_data: Path, tmp_path: Path) -> None:
    from utils.data_keypoints import load_keypoints

    folder = sample_data / "facial-keypoints-detection"
    lookup = folder / "IdLookupTable.csv"
    validate_submission(folder / "SampleSubmission.csv", lookup)
    n_test = len(load_keypoints(folder, "test"))
    path = write_submission(np.full((n_test, 30), 48.0), lookup, tmp_path)
    validate_submission(path, lookup)
