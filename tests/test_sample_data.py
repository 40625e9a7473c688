"""utils.sample_data (and its command line): Kaggle/FER/ORL formats, exact labels, determinism, budgets.

Format checks run on the real sample data (the ``sample_data`` fixture); determinism, atomic
writing and ``is_complete`` on tiny copies (``scale=0.05``) generated into a temporary folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from data_scripts import make_sample_data
from utils import sample_data as sd
from utils import schema
from utils import synthetic as syn
from utils.schema import EMOTIONS, KEYPOINT_COLUMNS

KP = "facial-keypoints-detection"
FOUR = [c for c in KEYPOINT_COLUMNS if c[:-2] in sd.FOUR_KEYPOINTS]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A tiny sample data set and the CPU seconds it took to generate."""
    out = tmp_path_factory.mktemp("tiny") / "sample"
    start = time.process_time()
    sd.generate(out, scale=0.05)
    return out, time.process_time() - start


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


# --------------------------------------------------------------------------------------------
# Kaggle Facial Keypoints Detection
# --------------------------------------------------------------------------------------------


def test_training_csv_is_in_kaggles_format(sample_data: Path) -> None:
    raw = (sample_data / KP / "training.csv").read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == raw.count(b"\n")  # CRLF like Kaggle
    header, *rows = raw.decode("ascii").split("\r\n")[:-1]
    assert header.split(",") == [*KEYPOINT_COLUMNS, "Image"]
    assert 1000 <= len(rows) <= 1500
    for i, row in enumerate(rows):
        cells = row.split(",")
        assert len(cells) == 31, f"row {i + 2}"
        pixels = np.array(cells[30].split(" "), dtype=np.int64)
        assert pixels.size == 96 * 96 and pixels.min() >= 0 and pixels.max() <= 255
        for cell in cells[:30]:
            if cell:
                assert cell == format(float(cell), ".12g")  # Kaggle's number format
                assert 0 <= float(cell) < 96


def test_missing_keypoints_follow_kaggles_pattern(sample_data: Path) -> None:
    frame = pd.read_csv(sample_data / KP / "training.csv", usecols=KEYPOINT_COLUMNS)
    present = frame.notna().to_numpy()
    np.testing.assert_array_equal(present[:, 0::2], present[:, 1::2])  # x and y together
    n_labels = present.sum(axis=1)
    complete, four = n_labels == 30, n_labels == 8
    assert 0.25 <= complete.mean() <= 0.36  # Kaggle: 2140 / 7049 = 30.4%
    assert 0.62 <= four.mean() <= 0.72  # Kaggle: 4755 / 7049 = 67.5%
    assert set(frame.columns[present[four][0]]) == set(FOUR)
    assert (present[four] == present[four][0]).all()
    # Like Kaggle, the fully labelled rows come first and the 4-keypoint rows after them.
    assert np.flatnonzero(complete).max() < np.flatnonzero(four).min()
    # The 4 keypoints are labelled almost everywhere (a few partial rows miss one, as in Kaggle).
    assert present[:, [KEYPOINT_COLUMNS.index(c) for c in FOUR]].all(axis=1).mean() > 0.97


def test_missing_pattern_matches_the_real_labels(sample_data: Path, shared_data: Path) -> None:
    real = pd.read_csv(shared_data / "keypoints" / "kaggle_training_labels_no_images.csv")
    assert list(real.columns) == KEYPOINT_COLUMNS
    ours = pd.read_csv(sample_data / KP / "training.csv", usecols=KEYPOINT_COLUMNS)
    for frame in (real, ours):
        frame["n"] = frame.notna().sum(axis=1)
    for n in (30, 8):
        assert abs((real["n"] == n).mean() - (ours["n"] == n).mean()) < 0.05, n
    with open(shared_data / "keypoints" / "kaggle_training_labels_no_images.csv", "rb") as fh:
        assert fh.readline().endswith(b"\r\n")  # the real file's line ending, as ours


def test_test_csv_lookup_table_and_submission_fit_together(sample_data: Path) -> None:
    test_raw = (sample_data / KP / "test.csv").read_bytes()
    assert test_raw.startswith(b"ImageId,Image\r\n")
    test = pd.read_csv(io.BytesIO(test_raw))
    assert list(test.columns) == ["ImageId", "Image"]
    assert test["ImageId"].tolist() == list(range(1, len(test) + 1))
    assert 150 <= len(test) <= 300
    assert all(len(p.split(" ")) == 96 * 96 for p in test["Image"])

    lookup_raw = (sample_data / KP / "IdLookupTable.csv").read_bytes()
    assert b"\r" not in lookup_raw and lookup_raw.splitlines()[1].endswith(b",")  # empty Location
    lookup = pd.read_csv(io.BytesIO(lookup_raw))
    assert list(lookup.columns) == ["RowId", "ImageId", "FeatureName", "Location"]
    assert lookup["Location"].isna().all()
    assert lookup["RowId"].tolist() == list(range(1, len(lookup) + 1))
    assert set(lookup["ImageId"]) == set(test["ImageId"])
    assert lookup["ImageId"].is_monotonic_increasing
    per_image = lookup.groupby("ImageId")["FeatureName"].apply(list)
    full = per_image.map(len) > 8
    assert 0.2 <= full.mean() <= 0.45  # Kaggle: 591 of 1783 images ask for (nearly) all
    assert not full[full.idxmin() :].any()  # the full requests come first, as in Kaggle
    for features in per_image:
        assert features == [c for c in KEYPOINT_COLUMNS if c in features]  # Kaggle's order
        assert features == FOUR or (len(features) >= 18 and set(FOUR) <= set(features))

    submission = pd.read_csv(sample_data / KP / "SampleSubmission.csv")
    assert list(submission.columns) == ["RowId", "Location"]
    assert submission["RowId"].tolist() == lookup["RowId"].tolist()
    assert (submission["Location"] == 0).all()


def test_lookup_table_looks_like_the_real_one(sample_data: Path, shared_data: Path) -> None:
    for name in ("IdLookupTable.csv", "SampleSubmission.csv"):
        real = (shared_data / "keypoints" / name).read_bytes()
        ours = (sample_data / KP / name).read_bytes()
        assert ours.splitlines()[0] == real.splitlines()[0], name  # same header
        assert (b"\r\n" in ours) == (b"\r\n" in real), name  # same line endings
        assert ours.splitlines()[1] == real.splitlines()[1], name  # "1,1,left_eye_center_x,"
    real_features = set(pd.read_csv(shared_data / "keypoints" / "IdLookupTable.csv")["FeatureName"])
    assert set(pd.read_csv(sample_data / KP / "IdLookupTable.csv")["FeatureName"]) == real_features


def test_subjects_csv_names_a_person_per_training_row(sample_data: Path) -> None:
    raw = (sample_data / KP / "subjects.csv").read_bytes()
    assert raw.startswith(b"row,subject\r\n")
    subjects = pd.read_csv(io.BytesIO(raw))
    n_rows = len(pd.read_csv(sample_data / KP / "training.csv", usecols=["nose_tip_x"]))
    assert subjects["row"].tolist() == list(range(n_rows))
    assert subjects["subject"].value_counts().min() >= 4  # several pictures of each person


def test_keypoint_labels_sit_on_the_eyes_of_the_pictures(sample_data: Path) -> None:
    """The labels are the renderer's exact geometry: eye centres are dark (pupils)."""
    frame = pd.read_csv(sample_data / KP / "training.csv", nrows=200)
    images = np.stack([np.array(p.split(" "), dtype=np.float64) for p in frame["Image"]])
    images = images.reshape(-1, 96, 96)
    darker = []
    for img, (_, row) in zip(images, frame.iterrows(), strict=True):
        for eye in ("left_eye_center", "right_eye_center"):
            x, y = row[f"{eye}_x"], row[f"{eye}_y"]
            if np.isnan(x):
                continue
            patch = img[max(0, int(y) - 9) : int(y) + 10, max(0, int(x) - 9) : int(x) + 10]
            darker.append(img[int(round(y)), int(round(x))] < np.median(patch))
    assert np.mean(darker) > 0.9  # occluders and sunglasses hide a few


# --------------------------------------------------------------------------------------------
# FER-2013, action units, identities
# --------------------------------------------------------------------------------------------


def test_fer2013_csv_and_folders(sample_data: Path) -> None:
    raw = (sample_data / "fer2013" / "fer2013.csv").read_bytes()
    assert raw.startswith(b"emotion,pixels,Usage\n")
    fer = pd.read_csv(io.BytesIO(raw))
    assert fer["emotion"].between(0, 6).all()
    assert all(len(p.split(" ")) == 48 * 48 for p in fer["pixels"])
    usage = fer["Usage"].value_counts(normalize=True)
    assert abs(usage["Training"] - 0.8) < 0.01 and abs(usage["PublicTest"] - 0.1) < 0.01
    order = [list(sd.FER_USAGE_FRACTIONS).index(u) for u in fer["Usage"]]
    assert order == sorted(order)  # Training rows, then PublicTest, then PrivateTest
    train = fer[fer["Usage"] == "Training"]
    share = np.bincount(train["emotion"], minlength=7) / len(train)
    real = np.array([syn.FER_TRAINING_COUNTS[e] for e in EMOTIONS], dtype=float)
    np.testing.assert_allclose(share, real / real.sum(), atol=0.002)
    assert int(np.argmin(share)) == EMOTIONS.index("disgust") and share.min() < 0.03
    # The msambare folders hold exactly the CSV's pictures, by emotion and part.
    for usage, folder in (("Training", "train"), ("PublicTest", "test"), ("PrivateTest", "test")):
        part = fer[fer["Usage"] == usage]
        for label, emotion in enumerate(EMOTIONS):
            files = sorted((sample_data / "fer2013" / folder / emotion).glob(f"{usage}_*.jpg"))
            assert len(files) == int((part["emotion"] == label).sum()), (usage, emotion)
    some = next((sample_data / "fer2013" / "train" / "happy").glob("Training_*.jpg"))
    assert cv2.imread(str(some), cv2.IMREAD_UNCHANGED).shape == (48, 48)


def test_au_table_is_consistent_with_emotions_and_images(sample_data: Path) -> None:
    folder = sample_data / "action_units"
    table = pd.read_csv(folder / "au_labels.csv", dtype={"emotion": str})
    assert list(table.columns) == ["file", "subject", "emotion", *schema.AU_NAMES]
    values = table[schema.AU_NAMES].to_numpy()
    assert values.dtype.kind == "i" and values.min() == 0 and values.max() == 5
    assert (values > 0).sum(axis=0).min() >= 40  # every AU has positives to learn from
    assert table["subject"].value_counts().min() >= 20
    posed = table[table["emotion"].notna()]
    assert set(posed["emotion"]) == set(EMOTIONS) and len(posed) > len(table) * 0.35
    for emotion, rows in posed.groupby("emotion"):
        for au in syn.EMOTION_PROTOTYPES[emotion]["core"]:
            assert (rows[au] > 0).all(), (emotion, au)
    # AU12 is not tied to AU6: random combinations show each without the other.
    assert ((table["AU12"] > 0) & (table["AU6"] == 0)).sum() >= 30
    for file in table["file"].sample(25, random_state=0):
        img = cv2.imread(str(folder / "images" / f"{file}.png"), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.shape == (96, 96) and img.dtype == np.uint8


def test_identities_are_in_orl_layout(sample_data: Path) -> None:
    folder = sample_data / "identities"
    people = sorted(p.name for p in folder.iterdir())
    assert len(people) >= 50 and set(people) == {f"s{i}" for i in range(1, len(people) + 1)}
    for person in people[:5]:
        files = sorted((folder / person).iterdir())
        assert len(files) >= 20 and {f.name for f in files} >= {f"{i}.pgm" for i in range(1, 21)}
        data = files[0].read_bytes()
        assert data.startswith(b"P5\n92 112\n255\n") and len(data) == 14 + 92 * 112


def test_course_loaders_read_every_part(sample_data: Path) -> None:
    from utils.data import load_action_units, load_fer2013, load_identities, load_keypoints

    kp = load_keypoints(sample_data / KP, split="training")
    assert kp.images.shape[1:] == (96, 96, 1) and kp.subjects is not None
    fer = load_fer2013(sample_data / "fer2013" / "fer2013.csv", split="PublicTest")
    assert fer.images.shape[1:] == (48, 48, 1) and len(fer.labels) > 0
    au = load_action_units(sample_data / "action_units")
    assert au.au_names == schema.AU_NAMES and au.images.shape[1:] == (96, 96, 1)
    people = load_identities(sample_data / "identities")
    assert people.images.shape[1:] == (112, 92, 1) and len(people.names) >= 50


# --------------------------------------------------------------------------------------------
# Manifest, size, time, determinism, atomic writing
# --------------------------------------------------------------------------------------------


def test_manifest_lists_every_file_with_its_hash(sample_data: Path) -> None:
    manifest = sd.read_manifest(sample_data)
    assert manifest is not None and manifest["generator_version"] == syn.GENERATOR_VERSION
    files = manifest["files"]
    assert isinstance(files, dict)
    on_disk = {p.relative_to(sample_data).as_posix() for p in sample_data.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == set(files)
    for rel in ["facial-keypoints-detection/training.csv", "fer2013/fer2013.csv"]:
        assert hashlib.sha256((sample_data / rel).read_bytes()).hexdigest() == files[rel]["sha256"]
    total = sum(int(f["bytes"]) for f in files.values())
    assert total == manifest["total_bytes"] <= 100_000_000
    assert sd.is_complete(sample_data)


def test_generation_fits_the_time_budget(tiny: tuple[Path, float]) -> None:
    """Extrapolate the tiny run's CPU time per face to the full data: at most 60 s."""
    out, cpu = tiny
    counts = sd.read_manifest(out)["counts"]  # type: ignore[index]
    faces = lambda c: (c["keypoints_training_rows"] + c["keypoints_test_images"]  # noqa: E731
                       + sum(c[f"fer2013_{u}"] for u in sd.FER_USAGE_FRACTIONS)
                       + c["action_units_images"] + c["identities_pictures"])  # fmt: skip
    s = sd.SIZES
    full = (
        (s["keypoints_train_subjects"] + s["keypoints_test_subjects"]) * s["keypoints_per_subject"]
        + s["fer2013"]
        + s["au_subjects"] * s["au_per_subject"]
        + s["identities"] * s["identity_pictures"]
    )
    assert cpu / faces(counts) * full <= 60.0, f"{cpu:.1f} s CPU for {faces(counts)} faces"


def test_same_seed_same_bytes_other_seed_other_bytes(
    tiny: tuple[Path, float], tmp_path: Path
) -> None:
    out, _ = tiny
    again = sd.generate(tmp_path / "again", scale=0.05)
    first, second = sd.read_manifest(out), sd.read_manifest(again)
    assert first is not None and second is not None
    assert first["files"] == second["files"]
    other = sd.read_manifest(sd.generate(tmp_path / "other", seed=7, scale=0.05))
    assert other is not None and other["files"] != first["files"]
    assert not sd.is_complete(tmp_path / "other")  # not the default seed
    assert sd.is_complete(tmp_path / "other", seed=7, scale=0.05)


def test_is_complete_notices_missing_or_changed_files(
    tiny: tuple[Path, float], tmp_path: Path
) -> None:
    out, _ = tiny
    assert sd.is_complete(out, scale=0.05) and not sd.is_complete(out)  # scale differs
    copy = Path(shutil.copytree(out, tmp_path / "copy"))
    (copy / "identities" / "s1" / "1.pgm").write_bytes(b"P5\n")
    assert not sd.is_complete(copy, scale=0.05)
    (copy / "identities" / "s1" / "1.pgm").unlink()
    assert not sd.is_complete(copy, scale=0.05)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["generator_version"] = "0.0.1"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert not sd.is_complete(copy, scale=0.05)
    assert not sd.is_complete(tmp_path / "nothing-here")


def test_a_crash_leaves_nothing_half_written(
    tiny: tuple[Path, float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = Path(shutil.copytree(tiny[0], tmp_path / "sample"))
    before = (out / "manifest.json").read_bytes()

    def broken(root: Path, seed: int, scale: float, tick: sd.Tick) -> dict[str, int]:
        (root / "partial.txt").write_text("half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sd, "STEPS", [sd.STEPS[0], ("broken", broken)])
    with pytest.raises(RuntimeError, match="disk full"):
        sd.generate(out, force=True, scale=0.05)
    assert (out / "manifest.json").read_bytes() == before  # the old data is untouched
    assert not (out / "partial.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["sample"]
    with pytest.raises(RuntimeError):
        sd.generate(tmp_path / "fresh", scale=0.05)
    assert not (tmp_path / "fresh").exists()


def test_bad_scale_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale=0"):
        sd.generate(tmp_path / "x", scale=0)


def test_pixel_text_matches_the_slow_obvious_way() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    images[0, 0, 0], images[1, -1, -1] = 0, 255
    expected = [" ".join(str(v) for v in img.ravel()).encode() for img in images]
    assert sd.pixels_to_text(images) == expected
    assert (
        sd.format_number(float("nan")) == "" and sd.format_number(66.0335639098) == "66.0335639098"
    )
    rows = list(csv.reader(io.StringIO(sd.pixels_to_text(images[:1])[0].decode())))
    assert len(rows[0]) == 1  # no commas: one CSV field


def test_command_line(
    tiny: tuple[Path, float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m data_scripts.make_sample_data``: up-to-date check and the preview figure."""
    assert make_sample_data.main(["--out", str(tiny[0]), "--scale", "0.05"]) == 0
    assert "is up to date" in capsys.readouterr().out
    png = tmp_path / "figures" / "preview.png"
    assert make_sample_data.main(["--preview", str(png)]) == 0
    image = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    assert image is not None and image.shape == (3 * (14 + 96), 7 * 96)
    assert [p.name for p in png.parent.iterdir()] == ["preview.png"]  # no temporary file left


def test_generate_counts_every_face_on_its_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar's total is the faces the makers render, and each one moves it once."""

    class Bar:
        disable = True

        def __init__(self, **kwargs: object) -> None:
            self.kwargs, self.n = kwargs, 0
            bars.append(self)

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, n: int) -> None:
            self.n += n

        def set_postfix_str(self, text: str) -> None:
            pass

        def write(self, text: str, file: object = None) -> None:
            print(text, file=file)  # type: ignore[call-overload]

    bars: list[Bar] = []
    monkeypatch.setattr(sd, "progress", lambda **kwargs: Bar(**kwargs))
    sd.generate(tmp_path / "counted", scale=0.02, quiet=True)
    (bar,) = bars
    assert bar.kwargs["total"] == sum(sd.face_counts(0.02).values()) == bar.n
    assert bar.kwargs["quiet"] is True and bar.kwargs["unit"] == "face"
    manifest = sd.read_manifest(tmp_path / "counted") or {}
    counts = manifest["counts"]
    assert isinstance(counts, dict)
    assert sd.face_counts(0.02)["fer2013"] == sum(v for k, v in counts.items() if "fer2013" in k)
