"""utils.data_identities: folder-per-person data sets (ORL layout), from a folder or a zip."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from utils.data_identities import load_identities
from utils.schema import DataFormatError
from utils.splits import split_by_subject


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
    assert ids.names[ids.labels[3]] == "s2" and ids.files[3].endswith("s2/1.pgm")


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


def test_sample_identities(sample_data: Path) -> None:
    ids = load_identities(sample_data / "identities")
    assert len(ids.names) >= 50 and np.bincount(ids.labels).min() >= 20
    train, val, test = split_by_subject(np.array(ids.names)[ids.labels])
    assert len(train) and len(val) and len(test)
