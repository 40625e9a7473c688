"""utils.data: action units, identity folders, FaceRecord conversions and split_by_subject."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from utils.data import (
    DataFormatError,
    FaceRecord,
    extract_zip,
    load_action_units,
    load_identities,
    records_from_action_units,
    records_from_identities,
    split_by_subject,
    to_records,
)

# --- action units -----------------------------------------------------------------------------


def make_au_folder(root: Path, n: int = 5, seed: int = 0) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    images = rng.integers(0, 256, (n, 96, 96), np.uint8)
    intensities = rng.integers(0, 6, (n, 3)).astype(np.float32)
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"face_{i}.png"), images[i])
    frame = pd.DataFrame(
        {
            "file": [f"face_{i}" if i % 2 else f"face_{i}.png" for i in range(n)],
            "subject": [f"p{i // 2}" for i in range(n)],
            "emotion": ["happy", 5, "", "neutral", "0"][:n],
            "AU1": intensities[:, 0],
            "AU6": intensities[:, 1],
            "AU12": intensities[:, 2],
        }
    )
    frame.to_csv(root / "au_labels.csv", index=False)
    return root, images, intensities


def test_load_action_units(tmp_path: Path) -> None:
    root, images, intensities = make_au_folder(tmp_path / "au")
    au = load_action_units(root)
    got_images, got_intensities, au_names, subjects, emotions = au
    np.testing.assert_allclose(got_images[..., 0], images / 255.0, atol=1e-7)
    np.testing.assert_array_equal(got_intensities, intensities)
    assert au_names == ["AU1", "AU6", "AU12"]
    assert subjects.tolist() == ["p0", "p0", "p1", "p1", "p2"]
    assert emotions.tolist() == [3, 5, -1, 6, 0]
    # The CSV path itself works too.
    assert len(load_action_units(root / "au_labels.csv")) == 5


def test_action_units_from_a_zip(tmp_path: Path) -> None:
    make_au_folder(tmp_path / "action_units")
    archive = shutil.make_archive(str(tmp_path / "au"), "zip", tmp_path, "action_units")
    assert load_action_units(archive).intensities.shape == (5, 3)


def test_records_from_action_units_skip_uncoded(tmp_path: Path) -> None:
    root, _, intensities = make_au_folder(tmp_path / "au")
    frame = pd.read_csv(root / "au_labels.csv")
    frame.loc[0, "AU6"] = np.nan
    frame.to_csv(root / "au_labels.csv", index=False)
    records = records_from_action_units(load_action_units(root))
    assert set(records[0].action_units) == {"AU1", "AU12"}
    assert records[1].action_units["AU6"] == intensities[1, 1]
    assert records[2].emotion is None and records[0].emotion == 3 and records[0].subject_id == "p0"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("AU6", 7, r"row 3, column AU6: 7.*expected an intensity 0-5"),
        ("AU1", "high", r"row 3, column AU1: 'high'"),
        ("emotion", "joy", r"row 3: emotion 'joy'"),
        ("file", "face_99", r"row 3: image 'face_99' not found"),
    ],
)
def test_action_unit_bad_rows(tmp_path: Path, column: str, value: object, message: str) -> None:
    root, _, _ = make_au_folder(tmp_path / "au")
    frame = pd.read_csv(root / "au_labels.csv", dtype=str)
    frame.loc[1, column] = str(value)
    frame.to_csv(root / "au_labels.csv", index=False)
    with pytest.raises(DataFormatError, match=message):
        load_action_units(root)


def test_action_units_without_au_columns_or_table(tmp_path: Path) -> None:
    root, _, _ = make_au_folder(tmp_path / "au")
    pd.read_csv(root / "au_labels.csv")[["file", "subject", "emotion"]].to_csv(
        root / "au_labels.csv", index=False
    )
    with pytest.raises(DataFormatError, match=r"no AU<number> columns"):
        load_action_units(root)
    (root / "au_labels.csv").unlink()
    with pytest.raises(DataFormatError, match=r"holds no au_labels\.csv"):
        load_action_units(root)


# --- identities -------------------------------------------------------------------------------


def make_people(root: Path, people: int = 12, per_person: int = 3, shape=(112, 92)) -> Path:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    for p in range(1, people + 1):
        folder = root / f"s{p}"
        folder.mkdir(parents=True)
        for k in range(1, per_person + 1):
            # Encode the person in the image so the test can check labels match pixels.
            image = rng.integers(0, 50, shape).astype(np.uint8) + np.uint8(p * 10)
            cv2.imwrite(str(folder / f"{k}.pgm"), image)
    (root / "README").write_text("ORL-style faces")
    return root


def test_load_identities_natural_order(tmp_path: Path) -> None:
    ids = load_identities(make_people(tmp_path / "orl"))
    images, labels, names = ids
    assert images.shape == (36, 112, 92, 1) and images.dtype == np.float32
    assert names[:3] == ["s1", "s2", "s3"] and names[9] == "s10" and len(names) == 12
    assert np.bincount(labels).tolist() == [3] * 12
    # Person p's images were drawn from [10p, 10p + 50): check each image sits in its person.
    means = images.reshape(36, -1).mean(axis=1) * 255
    person = np.array([int(names[label][1:]) for label in labels])
    assert (np.abs(means - (person * 10 + 24.5)) < 3).all()


def test_load_identities_nested_zip_and_resize(tmp_path: Path) -> None:
    make_people(tmp_path / "att_faces_orl")
    archive = shutil.make_archive(str(tmp_path / "orl"), "zip", tmp_path, "att_faces_orl")
    ids = load_identities(archive, size=(56, 46))
    assert ids.images.shape == (36, 56, 46, 1) and ids.files[0] == "att_faces_orl/s1/1.pgm"
    records = records_from_identities(ids)
    assert records[3].subject_id == "s2" and records[3].attributes["file"].endswith("s2/1.pgm")


def test_identities_of_mixed_sizes_need_size(tmp_path: Path) -> None:
    root = make_people(tmp_path / "p", people=2)
    cv2.imwrite(str(root / "s1" / "9.png"), np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(DataFormatError, match=r"different sizes.*pass size="):
        with pytest.warns(UserWarning, match=r"1 of 7 images"):  # the colour one
            load_identities(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = load_identities(root, size=(112, 92))
    assert ids.images.shape == (7, 112, 92, 1)
    assert sum("converted" in str(w.message) for w in caught) == 1


def test_identity_folder_problems(tmp_path: Path) -> None:
    root = make_people(tmp_path / "p", people=2)
    (root / "s2" / "notes.txt").write_text("x")
    with pytest.raises(DataFormatError, match=r"notes\.txt: not an image file"):
        load_identities(root)
    (root / "s2" / "notes.txt").unlink()
    (root / "s2" / "4.pgm").write_bytes(b"P5 garbage")
    with pytest.raises(DataFormatError, match=r"4\.pgm: not a readable image"):
        load_identities(root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match=r"no images in per-person folders"):
        load_identities(empty)


def test_extract_zip_refuses_zip_slip(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok/file.txt", "fine")
        z.writestr("ok/../../outside.txt", "evil")
    with pytest.raises(DataFormatError, match=r"zip slip"):
        extract_zip(archive, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "dest" / "ok").exists()
    good = tmp_path / "b.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("ok/file.txt", "fine")
    assert extract_zip(good, tmp_path / "dest") == [tmp_path / "dest" / "ok" / "file.txt"]


def test_to_records_dispatch(tmp_path: Path) -> None:
    ids = load_identities(make_people(tmp_path / "p", people=2))
    records = to_records(ids)
    assert all(isinstance(r, FaceRecord) for r in records) and len(records) == 6
    assert records[0].image.shape == (112, 92, 1)
    with pytest.raises(TypeError):
        to_records(np.zeros(3))  # type: ignore[arg-type]


# --- split_by_subject -------------------------------------------------------------------------


def _people(n_people: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 30, n_people)  # people with very different numbers of frames
    return np.repeat([f"person_{i}" for i in range(n_people)], counts)


def test_split_by_subject_keeps_people_together() -> None:
    subjects = _people()
    train, val, test = split_by_subject(subjects)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(subjects)))
    sets = [set(subjects[idx]) for idx in (train, val, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    fractions = np.array([len(train), len(val), len(test)]) / len(subjects)
    np.testing.assert_allclose(fractions, [0.7, 0.15, 0.15], atol=0.06)


def test_split_by_subject_is_deterministic() -> None:
    subjects = _people()
    a = split_by_subject(subjects, seed=1)
    b = split_by_subject(list(subjects), seed=1)
    c = split_by_subject(subjects, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert all(x.dtype == np.int64 for x in a)


def test_split_by_subject_fills_every_split_with_few_people() -> None:
    subjects = ["a"] * 50 + ["b"] + ["c"]
    splits = split_by_subject(subjects, seed=0)
    assert all(len(s) > 0 for s in splits)
    two = split_by_subject(subjects, fractions=(0.5, 0.5))
    assert len(two) == 2


@pytest.mark.parametrize(
    ("subjects", "fractions", "message"),
    [
        (["a", "b", "c"], (0.7, 0.2, 0.2), r"summing to 1"),
        (["a", "b", "c"], (1.2, -0.2), r"non-negative"),
        (["a", "b"], (0.7, 0.15, 0.15), r"2 distinct people cannot fill 3"),
        (["a", None, "b", "c"], (0.7, 0.15, 0.15), r"row 2 has no person id"),
    ],
)
def test_split_by_subject_errors(subjects: list, fractions: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        split_by_subject(subjects, fractions=fractions)


def test_sample_action_units_and_identities(sample_data: Path) -> None:
    au = load_action_units(sample_data / "action_units")
    assert au.images.shape[1:] == (96, 96, 1) and au.intensities.shape == (
        len(au),
        len(au.au_names),
    )
    assert au.au_names[0] == "AU1" and 0 <= au.intensities.min() and au.intensities.max() <= 5
    assert (au.emotions == -1).any() and (au.emotions >= 0).any()
    ids = load_identities(sample_data / "identities")
    assert len(ids.names) >= 50 and np.bincount(ids.labels).min() >= 20
    train, val, test = split_by_subject(np.array(ids.names)[ids.labels])
    assert len(train) and len(val) and len(test)
