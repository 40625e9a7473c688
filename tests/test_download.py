"""data_scripts.download with kagglehub mocked: installs, verifies, caches, and fails helpfully.

No test here touches the network: both kagglehub entry points are replaced.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import kagglehub
import pytest

from data_scripts import download as dl

KEYPOINT_FILES = {
    "training.csv": b"left_eye_center_x,Image\n1,2 3\n",
    "test.csv": b"ImageId,Image\n1,2 3\n",
    "IdLookupTable.csv": b"RowId,ImageId,FeatureName,Location\n1,1,nose_tip_x,\n",
    "SampleSubmission.csv": b"RowId,Location\n1,0\n",
}


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def fake_competition(root: Path) -> Path:
    """What kagglehub.competition_download leaves: inner training.zip / test.zip plus two CSVs."""
    root.mkdir(parents=True)
    (root / "training.zip").write_bytes(_zip({"training.csv": KEYPOINT_FILES["training.csv"]}))
    (root / "test.zip").write_bytes(_zip({"test.csv": KEYPOINT_FILES["test.csv"]}))
    for name in ("IdLookupTable.csv", "SampleSubmission.csv"):
        (root / name).write_bytes(KEYPOINT_FILES[name])
    return root


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace kagglehub's downloads; tests install their own fakes. Records every call."""
    calls: list[str] = []

    def refuse(handle: str, *args: object, **kwargs: object) -> str:
        calls.append(handle)
        raise kagglehub.exceptions.UnauthenticatedError("User is not authenticated")

    monkeypatch.setattr(kagglehub, "competition_download", refuse)
    monkeypatch.setattr(kagglehub, "dataset_download", refuse)
    return calls


def test_keypoints_download_installs_and_records_checksums(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: list[str]
) -> None:
    source = fake_competition(tmp_path / "kagglehub-cache")
    calls = []

    def fetch(handle: str, *args: object, **kwargs: object) -> str:
        calls.append(handle)
        return str(source)

    monkeypatch.setattr(kagglehub, "competition_download", fetch)
    dest = tmp_path / "data" / "facial-keypoints-detection"
    assert dl.main(["keypoints", "--dest", str(dest)]) == 0
    assert calls == ["facial-keypoints-detection"]
    for name, data in KEYPOINT_FILES.items():
        assert (dest / name).read_bytes() == data
    sums = json.loads((dest / "checksums.json").read_text())["files"]
    assert set(sums) == set(KEYPOINT_FILES)
    assert sums["test.csv"] == dl.sha256(dest / "test.csv")
    assert not list(dest.parent.glob(".facial-keypoints-detection-*"))  # staging cleaned up

    # Second run: verified from checksums.json, no download.
    assert dl.main(["keypoints", "--dest", str(dest)]) == 0
    assert len(calls) == 1

    # A damaged file is noticed and fetched again.
    (dest / "training.csv").write_bytes(b"truncated")
    assert dl.main(["keypoints", "--dest", str(dest)]) == 0
    assert len(calls) == 2
    assert (dest / "training.csv").read_bytes() == KEYPOINT_FILES["training.csv"]


def test_fer2013_dataset_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: list[str]
) -> None:
    source = tmp_path / "cache" / "versions" / "1"
    for part, name in [("train", "angry/Training_1.jpg"), ("test", "happy/PublicTest_2.jpg")]:
        (source / part / name).parent.mkdir(parents=True)
        (source / part / name).write_bytes(b"jpeg bytes")
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle, *a, **k: str(source))
    dest = tmp_path / "fer2013"
    assert dl.main(["fer2013", "--dest", str(dest)]) == 0
    assert (dest / "train" / "angry" / "Training_1.jpg").is_file()
    sums = json.loads((dest / "checksums.json").read_text())["files"]
    assert set(sums) == {"train/angry/Training_1.jpg", "test/happy/PublicTest_2.jpg"}


def test_no_credentials_exits_2_with_instructions(
    tmp_path: Path, offline: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "kaggle" / "facial-keypoints-detection"
    assert dl.main(["keypoints", "--dest", str(dest)]) == dl.EXIT_NEEDS_USER
    err = capsys.readouterr().err
    assert offline == ["facial-keypoints-detection"]
    assert "Traceback" not in err and "UnauthenticatedError" in err
    assert "Create New Token" in err and "kaggle.json" in err and "KAGGLE_USERNAME" in err
    assert "facial-keypoints-detection/rules" in err  # competitions need their rules accepted
    assert str(dest) in err and "training.csv" in err
    assert not dest.exists()  # an empty folder would look like a finished download


def test_network_errors_are_caught_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_network(handle: str, *args: object, **kwargs: object) -> str:
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(kagglehub, "dataset_download", no_network)
    assert dl.main(["fer2013", "--dest", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "Name or service not known" in err and "rules" not in err


def test_files_placed_by_hand_are_adopted(tmp_path: Path, offline: list[str]) -> None:
    dest = tmp_path / "kp"
    dest.mkdir()
    for name, data in KEYPOINT_FILES.items():
        (dest / name).write_bytes(data)
    assert dl.main(["keypoints", "--dest", str(dest)]) == 0
    assert offline == []  # no download attempted
    assert dl.is_cached(dest, dl.SOURCES["keypoints"])[0]


def test_unsafe_archive_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = fake_competition(tmp_path / "cache")
    (source / "training.zip").write_bytes(_zip({"../../escaped.csv": b"x"}))
    monkeypatch.setattr(kagglehub, "competition_download", lambda h, *a, **k: str(source))
    assert dl.main(["keypoints", "--dest", str(tmp_path / "kp")]) == 2
    assert "zip slip" in capsys.readouterr().err
    assert not list(tmp_path.rglob("escaped.csv"))


def test_default_destination_is_under_data_kaggle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACE_DL_DATA", str(tmp_path))
    assert dl.destination("keypoints") == tmp_path / "kaggle" / "facial-keypoints-detection"
    assert dl.destination("fer2013") == tmp_path / "kaggle" / "fer2013"
