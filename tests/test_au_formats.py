"""The real-format loaders (JAFFE names, CK+ FACS/landmarks/emotion files, EmotioNet-style CSV),
on small files written here -- including the malformed ones users will have."""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from utils.au_formats import (
    load_au_csv,
    load_ck_plus,
    load_jaffe,
    parse_ck_name,
    parse_jaffe_name,
    read_au_csv,
    read_ck_emotion,
    read_ck_facs,
    read_ck_landmarks,
)
from utils.schema import EMOTIONS, DataFormatError
from utils.splits import split_by_subject

# ---------------------------------------------------------------------------------------- JAFFE


@pytest.mark.parametrize(
    ("name", "subject", "emotion", "take", "image_id"),
    [
        ("KA.HA1.29.tiff", "KA", "happy", 1, 29),
        ("NA.SU2.80.tiff", "NA", "surprise", 2, 80),
        ("dir/KM.NE3.16.TIFF", "KM", "neutral", 3, 16),
        ("YM.DI1.58.tif", "YM", "disgust", 1, 58),
    ],
)
def test_parse_jaffe_name(name: str, subject: str, emotion: str, take: int, image_id: int) -> None:
    parsed = parse_jaffe_name(name)
    assert (parsed.subject, parsed.emotion, parsed.take, parsed.image_id) == (
        subject,
        emotion,
        take,
        image_id,
    )
    assert EMOTIONS[parsed.label] == emotion


@pytest.mark.parametrize("name", ["KA.XX1.29.tiff", "KA_HA1_29.tiff", "KA.HA.29.tiff", "README"])
def test_parse_jaffe_name_rejects(name: str) -> None:
    with pytest.raises(DataFormatError, match=name.split("/")[-1].replace(".", r"\.")):
        parse_jaffe_name(name)


def _face(value: int, shape: tuple[int, int] = (64, 64)) -> np.ndarray:
    image = np.full(shape, value, np.uint8)
    image[shape[0] // 4 : shape[0] // 2, :] = 255 - value  # something that survives resizing
    return image


def test_load_jaffe_folder_and_zip(tmp_path: Path) -> None:
    folder = tmp_path / "jaffe"
    folder.mkdir()
    names = ["KA.HA1.29.tiff", "KA.AN1.39.tiff", "KL.SA2.33.tiff", "KL.NE1.155.tiff"]
    for i, name in enumerate(names):
        assert cv2.imwrite(str(folder / name), _face(20 * i, (256, 256)))
    (folder / "README_FIRST.txt").write_text("not an image")
    data = load_jaffe(folder, size=48)
    images, emotions, subjects = data
    assert images.shape == (4, 48, 48, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    by_file = dict(zip(data.files, zip(emotions, subjects, strict=True), strict=True))
    assert by_file["KA.HA1.29.tiff"] == (EMOTIONS.index("happy"), "KA")
    assert by_file["KL.NE1.155.tiff"] == (EMOTIONS.index("neutral"), "KL")
    # The same pictures from a zip of the folder.
    archive = tmp_path / "jaffe.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in names:
            zf.write(folder / name, f"jaffe/{name}")
    zipped = load_jaffe(archive, size=48)
    np.testing.assert_array_equal(np.sort(zipped.emotions), np.sort(emotions))
    # Subjects are what a subject split needs: no person in two splits.
    a, b = split_by_subject(subjects, fractions=(0.5, 0.5))
    assert not set(subjects[a]) & set(subjects[b])


def test_load_jaffe_rejects_foreign_image(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "KA.HA1.29.tiff"), _face(10))
    cv2.imwrite(str(tmp_path / "holiday.png"), _face(10))
    with pytest.raises(DataFormatError, match=r"holiday\.png.*JAFFE"):
        load_jaffe(tmp_path)


# ------------------------------------------------------------------------------------------ CK+

FACS_TEXT = "   9.0000000e+00   0.0000000e+00\n   1.2000000e+01   4.0000000e+00\n\n"


def _landmarks_text(points: np.ndarray) -> str:
    return "".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points)


def _ck_points(cx: float = 320, cy: float = 240, r: float = 100) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)


def test_read_ck_facs_parses_floats() -> None:
    assert read_ck_facs(text=FACS_TEXT) == {9: 0.0, 12: 4.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   9.0e+00\n", r"line 1.*two numbers"),
        ("   9.0e+00   1.0e+00\n  1.2e+01  nine\n", r"line 2.*two numbers"),
        ("   9.5e+00   1.0e+00\n", r"line 1: AU 9\.5"),
        ("   9.0e+00   7.0e+00\n", r"line 1: intensity 7"),
        ("   9.0e+00   1.0e+00\n   9.0e+00   2.0e+00\n", r"line 2: AU9 listed twice"),
        ("\n\n", r"no AU lines"),
    ],
)
def test_read_ck_facs_rejects(text: str, message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        read_ck_facs("S005_001_00000011_facs.txt", text=text)


def test_read_ck_facs_from_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "S005_001_00000011_facs.txt"
    path.write_text("   1.0e+00   x\n")
    with pytest.raises(DataFormatError, match=r"S005_001_00000011_facs\.txt, line 1"):
        read_ck_facs(path)


def test_read_ck_landmarks() -> None:
    points = _ck_points()
    parsed = read_ck_landmarks(text=_landmarks_text(points))
    assert parsed.shape == (68, 2) and parsed.dtype == np.float32
    np.testing.assert_allclose(parsed, points, atol=1e-3)
    with pytest.raises(DataFormatError, match="67 landmark lines; expected 68"):
        read_ck_landmarks("x_landmarks.txt", text=_landmarks_text(points[:67]))
    with pytest.raises(DataFormatError, match="line 3"):
        bad = _landmarks_text(points).splitlines()
        bad[2] = "   1.0e+02"
        read_ck_landmarks("x_landmarks.txt", text="\n".join(bad))


def test_read_ck_emotion() -> None:
    assert read_ck_emotion(text="   5.0000000e+00\n") == EMOTIONS.index("happy")
    assert read_ck_emotion(text="   2.0000000e+00\n") == -1  # contempt: no FER class
    with pytest.raises(DataFormatError, match="expected one emotion code 0-7"):
        read_ck_emotion("e.txt", text="   9.0000000e+00\n")


def test_parse_ck_name() -> None:
    assert parse_ck_name("a/S005_001_00000011_facs.txt") == ("S005", "001", 11)
    assert parse_ck_name("S137_002_00000020.png") == ("S137", "002", 20)
    with pytest.raises(DataFormatError, match="not a CK\\+ file name"):
        parse_ck_name("face_001.png")


def _write_ck(
    root: Path, subject: str, seq: str, frame: int, facs: str, emotion: str | None
) -> None:
    base = f"{subject}_{seq}_{frame:08d}"
    images = root / "cohn-kanade-images" / subject / seq
    images.mkdir(parents=True, exist_ok=True)
    picture = np.full((490, 640), 30, np.uint8)
    cv2.circle(picture, (320, 240), 100, 200, -1)  # the "face" the landmarks ring
    cv2.imwrite(str(images / f"{base}.png"), picture)
    for kind, text in (("FACS", facs), ("Landmarks", _landmarks_text(_ck_points()))):
        folder = root / kind / subject / seq
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{base}_{kind.lower()}.txt").write_text(text)
    if emotion is not None:
        folder = root / "Emotion" / subject / seq
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{base}_emotion.txt").write_text(emotion)


def test_load_ck_plus(tmp_path: Path) -> None:
    _write_ck(tmp_path, "S005", "001", 11, FACS_TEXT, "   5.0e+00\n")
    _write_ck(tmp_path, "S010", "002", 14, "   1.0e+00   2.0e+00\n", None)
    data = load_ck_plus(tmp_path, size=64)
    images, intensities, au_names, subjects, emotions = data
    assert au_names == ["AU1", "AU9", "AU12"]
    assert subjects.tolist() == ["S005", "S010"]
    assert emotions.tolist() == [EMOTIONS.index("happy"), -1]
    # AU9 was "present, intensity not scored" (0 in the file): present, not absent.
    np.testing.assert_array_equal(intensities, [[0, 1, 4], [2, 0, 0]])
    assert images.shape == (2, 64, 64, 1)
    # The crop is centred on the landmarks: the bright disc fills the middle of the crop, and
    # the landmarks (a ring of radius 100 px) now sit within the 64-pixel frame around its centre.
    assert images[0, 28:36, 28:36].mean() > 0.7 and images[0, :3, :3].mean() < 0.2
    centre = data.landmarks[0].mean(axis=0)
    np.testing.assert_allclose(centre, [32, 32], atol=1.0)
    radius = np.linalg.norm(data.landmarks[0] - centre, axis=1)
    np.testing.assert_allclose(radius, 64 / 3.0, rtol=0.02)  # 200 px across -> 64 / 1.5
    chosen = load_ck_plus(tmp_path, size=64, au_names=["AU12", "AU4"], unscored_intensity=3)
    np.testing.assert_array_equal(chosen.intensities, [[4, 0], [0, 0]])


def test_load_ck_plus_missing_landmarks(tmp_path: Path) -> None:
    _write_ck(tmp_path, "S005", "001", 11, FACS_TEXT, None)
    (tmp_path / "Landmarks" / "S005" / "001" / "S005_001_00000011_landmarks.txt").unlink()
    with pytest.raises(DataFormatError, match=r"S005_001_00000011_facs\.txt.*landmarks"):
        load_ck_plus(tmp_path)


def test_load_ck_plus_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no CK\\+ FACS files"):
        load_ck_plus(tmp_path)


# ------------------------------------------------------------------------------ EmotioNet CSV


def test_read_au_csv_emotionet_style(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "URL,AU 1,AU 2,AU 12,AU 26\n"
        "http://example.org/a/img1.jpg,1,0,999,0\n"
        "http://example.org/a/img2.jpg,0,0,1,\n"
    )
    table = read_au_csv(path)
    assert table.au_names == ["AU1", "AU2", "AU12", "AU26"]
    assert table.files.tolist() == [
        "http://example.org/a/img1.jpg",
        "http://example.org/a/img2.jpg",
    ]
    np.testing.assert_array_equal(table.labels, [[1, 0, np.nan, 0], [0, 0, 1, np.nan]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,AU1,AU2\na.jpg,1,yes\n", r"row 2, column 'AU2': 'yes'"),
        ("file,AU1,AU2\na.jpg,1,0\nb.jpg,7,0\n", r"row 3, column 'AU1': '7'"),
        ("file,smile,brows\na.jpg,1,0\n", r"no AU columns"),
        ("file,AU1,AU01\na.jpg,1,0\n", r"\['AU1'\] appear in more than one column"),
        ("file,AU1\n", r"header but no rows"),
        ("file,AU1\n,1\n", r"row 2: empty 'file'"),
    ],
)
def test_read_au_csv_rejects(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message):
        read_au_csv(path)


def test_load_au_csv_with_images(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    for name, value in (("img1.jpg", 40), ("img2.png", 200)):
        cv2.imwrite(str(tmp_path / "imgs" / name), _face(value, (120, 100)))
    path = tmp_path / "labels.csv"
    path.write_text("image,AU6,AU12\nhttp://x.org/img1.jpg,1,1\nimg2.png,0,999\n")
    data = load_au_csv(path, tmp_path / "imgs", size=32)
    assert data.images.shape == (2, 32, 32, 1)
    assert data.au_names == ["AU6", "AU12"]
    np.testing.assert_array_equal(data.intensities, [[1, 1], [0, np.nan]])
    assert data.emotions.tolist() == [-1, -1]
    assert data.images[0].mean() < data.images[1].mean()  # the right picture per row
    path.write_text("image,AU6\nmissing.jpg,1\n")
    with pytest.raises(DataFormatError, match=r"row 2: image 'missing\.jpg' not found"):
        load_au_csv(path, tmp_path / "imgs")
