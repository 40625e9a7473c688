"""utils.data_action_units: the au_labels.csv + images/ layout, from a folder, the CSV or a zip."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from utils.data_action_units import load_action_units
from utils.schema import DataFormatError


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


def test_uncoded_intensities_are_nan(tmp_path: Path) -> None:
    root, _, intensities = make_au_folder(tmp_path / "au")
    frame = pd.read_csv(root / "au_labels.csv")
    frame.loc[0, "AU6"] = np.nan
    frame.to_csv(root / "au_labels.csv", index=False)
    au = load_action_units(root)
    assert np.isnan(au.intensities[0, 1]) and au.intensities[0, 0] == intensities[0, 0]
    assert au.intensities[1, 1] == intensities[1, 1]
    assert au.emotions[2] == -1 and au.emotions[0] == 3 and au.subjects[0] == "p0"


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


def test_sample_action_units(sample_data: Path) -> None:
    au = load_action_units(sample_data / "action_units")
    assert au.images.shape[1:] == (96, 96, 1) and au.intensities.shape == (
        len(au),
        len(au.au_names),
    )
    assert au.au_names[0] == "AU1" and 0 <= au.intensities.min() and au.intensities.max() <= 5
    assert (au.emotions == -1).any() and (au.emotions >= 0).any()
