"""``face-course submission`` (``python -m utils.make_submission``) on the sample data."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import keras
import pandas as pd
import pytest

from utils.make_submission import default_out, find_lookup_table, main


@pytest.fixture(scope="module")
def kaggle_folder(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample keypoint data: the competition's files in Kaggle's formats."""
    folder = tmp_path_factory.mktemp("data") / "facial-keypoints-detection"
    shutil.copytree(sample_data / "facial-keypoints-detection", folder)
    return folder


def test_writes_a_valid_submission_with_the_shipped_model(
    kaggle_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "subs"
    assert main(["--data", str(kaggle_folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    (path,) = out.glob("submission-*.csv")
    lookup = pd.read_csv(kaggle_folder / "IdLookupTable.csv")
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["RowId", "Location"]
    assert frame["RowId"].tolist() == lookup["RowId"].tolist()
    assert frame["Location"].between(0, 96).all()
    # Faces are faces: eye x between 20 and 80 px, say, not a constant.
    assert frame["Location"].std() > 5
    assert f"kaggle competitions submit -c facial-keypoints-detection -f {path}" in printed
    assert main(["--data", str(kaggle_folder), "--check", str(path)]) == 0
    assert "a valid submission" in capsys.readouterr().out


def test_check_names_the_bad_row(
    kaggle_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    lookup = pd.read_csv(kaggle_folder / "IdLookupTable.csv")
    frame = pd.DataFrame({"RowId": lookup["RowId"], "Location": 40.0})
    frame.loc[4, "Location"] = 140.0
    frame.to_csv(bad, index=False)
    assert main(["--data", str(kaggle_folder), "--check", str(bad)]) == 1
    assert "row 6: Location 140 is outside the image" in capsys.readouterr().err


def test_lookup_table_from_a_zip_and_beside_test_csv(kaggle_folder: Path, tmp_path: Path) -> None:
    assert find_lookup_table(kaggle_folder / "test.csv") == kaggle_folder / "IdLookupTable.csv"
    archive = tmp_path / "facial-keypoints-detection.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(kaggle_folder / "IdLookupTable.csv", "IdLookupTable.csv")
        z.write(kaggle_folder / "test.csv", "test.csv")
    table = find_lookup_table(archive)
    assert isinstance(table, pd.DataFrame) and len(table) == 3050
    assert default_out(archive) == tmp_path / "facial-keypoints-detection-submissions"
    assert default_out(kaggle_folder) == kaggle_folder.parent / (
        kaggle_folder.name + "-submissions"
    )
    assert default_out(kaggle_folder / "test.csv") == default_out(kaggle_folder)


def test_bad_inputs_say_what_was_expected(
    kaggle_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(kaggle_folder / "test.csv", lonely / "test.csv")
    assert main(["--data", str(lonely / "test.csv"), "--out", str(tmp_path / "o")]) == 1
    assert "IdLookupTable.csv: no such file" in capsys.readouterr().err

    wrong = tmp_path / "wrong.keras"
    keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7)]
    ).save(wrong)
    args = ["--data", str(kaggle_folder), "--model", str(wrong), "--out", str(tmp_path / "o")]
    assert main(args) == 1
    assert "expected (96, 96, 1) faces" in capsys.readouterr().err
    assert main(["--data", str(tmp_path / "nowhere")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
