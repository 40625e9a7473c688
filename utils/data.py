"""Loaders for every data format the course uses, the unified ``FaceRecord``, splits and caches.

Every loader returns images as float32 in [0, 1] with a channel axis, ``(N, H, W, 1)``, and
labels in the course's conventions (see ``CONTRIBUTING.md``):

* keypoints in pixels, in Kaggle's 30-column order (:data:`KEYPOINT_COLUMNS`), NaN where missing;
* emotions as int64 in FER order (:data:`EMOTIONS`);
* one string subject id per row, so :func:`split_by_subject` can keep each person in one split.

The public functions, in the order a notebook meets them::

    images, keypoints, ids = load_keypoints(path, split="training")   # Kaggle keypoints
    images, labels, names = load_fer2013(path, split="Training")       # FER-2013
    au = load_action_units(path)                                       # FACS action units
    images, labels, names = load_identities(path)                      # folder per person
    train_idx, val_idx, test_idx = split_by_subject(subjects)          # no person in two splits
    records = to_records(result)                                       # one FaceRecord per face

Converters: :func:`fer2013_csv_to_folders`, :func:`folders_to_fer2013_csv`,
:func:`keypoints_to_npz`; caches: :func:`serialize`, :func:`load_cached`. The command line
``python -m data_scripts.convert`` wraps the converters.

Bad input raises :class:`DataFormatError` (a ``ValueError``) naming the file, the row (1-based,
as a spreadsheet shows it) and what was expected.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import pandas as pd

# The vocabulary and the atomic writes live in utils.schema and utils.io; they are imported
# here too because notebooks and users know them as ``utils.data.EMOTIONS`` and so on.
from utils.io import atomic_write_bytes, atomic_write_text  # noqa: F401
from utils.schema import (  # noqa: F401
    AU_MAX,
    AU_SIZE,
    EMOTIONS,
    FER_SIZE,
    FER_USAGES,
    KEYPOINT_COLUMNS,
    KEYPOINT_NAMES,
    KEYPOINT_SIZE,
)

#: Folder of each ``Usage`` in the msambare layout (Kaggle's ``msambare/fer2013``).
_MSAMBARE_FOLDER = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
#: Folder of each ``Usage`` in the ``layout="usage"`` layout (one folder per part).
_USAGE_FOLDER = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}


class DataFormatError(ValueError):
    """A data file is not in the expected format; the message names the file, row and fix."""


# --------------------------------------------------------------------------------------------
# Small shared helpers: pixel-string parsing, image decoding
# --------------------------------------------------------------------------------------------


def _parse_pixel_strings(
    strings: Iterable[object], n_pixels: int, source: str, *, first_row: int = 2
) -> np.ndarray:
    """Parse space-separated pixel strings into a ``(N, n_pixels)`` float32 array in 0..255.

    Each row is parsed by NumPy's C parser (``np.fromstring``) as integers -- about 6x faster
    than parsing floats -- with a float fallback for rows written with decimals. The Python
    loop runs over rows, never over pixels. ``first_row`` is the spreadsheet row of the first
    string (2 when a header line precedes it).
    """
    rows = list(strings)
    out = np.empty((len(rows), n_pixels), np.float32)
    side = int(round(np.sqrt(n_pixels)))
    with warnings.catch_warnings():
        # NumPy < 2.3 warns (instead of raising) on trailing garbage; treat both as failure.
        warnings.simplefilter("error", DeprecationWarning)
        for i, text in enumerate(rows):
            row = i + first_row
            if not isinstance(text, str) or not text.strip():
                raise DataFormatError(
                    f"{source}, row {row}: the pixel column is empty; expected {n_pixels} "
                    f"space-separated values ({side}x{side} grayscale)"
                )
            parsed = _fromstring(text, np.int32)
            if parsed is None:
                parsed = _fromstring(text, np.float32)
            if parsed is None:
                bad = next((t for t in text.split() if not _is_number(t)), "?")
                raise DataFormatError(
                    f"{source}, row {row}: non-numeric pixel value {bad[:20]!r}; "
                    f"expected {n_pixels} integers 0-255"
                )
            if parsed.size != n_pixels:
                raise DataFormatError(
                    f"{source}, row {row}: {parsed.size} pixel values, expected {n_pixels} "
                    f"({side}x{side} grayscale, space-separated)"
                )
            out[i] = parsed
    ok = np.isfinite(out) & (out >= 0) & (out <= 255)
    bad_rows = np.flatnonzero(~ok.all(axis=1))
    if bad_rows.size:
        i = int(bad_rows[0])
        bad_val = out[i][~ok[i]][0]
        raise DataFormatError(
            f"{source}, row {i + first_row}: pixel value {bad_val:g} is outside 0-255; "
            "expected 8-bit grayscale values"
        )
    return out


def _fromstring(text: str, dtype: type[np.generic]) -> np.ndarray | None:
    """NumPy's fast whitespace-separated parser; None when the text holds a non-number."""
    try:
        return np.fromstring(text, dtype=dtype, sep=" ")
    except (ValueError, DeprecationWarning):
        return None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def format_cell(value: object) -> str:
    """A cell value as an error message shows it: ``7``, ``2.5``, ``'abc'``, ``empty``."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "empty" if pd.isna(value) else f"{value:g}"
    if value is None:
        return "empty"
    return repr(str(value))


def _read_csv(
    path: Path | str | IO[bytes], source: str | None = None, **kwargs: object
) -> pd.DataFrame:
    """``pd.read_csv`` that turns empty or unparsable files into a :class:`DataFormatError`."""
    source = source or str(path)
    try:
        frame = pd.read_csv(path, **kwargs)  # type: ignore[call-overload]
    except pd.errors.EmptyDataError as e:
        raise DataFormatError(
            f"{source}: the file is empty; expected a CSV with a header row"
        ) from e
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataFormatError(f"{source}: not a readable CSV ({e})") from e
    return frame


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFormatError(
            f"{source}: missing column(s) {missing}; found {list(frame.columns)[:12]}"
            f"{'...' if len(frame.columns) > 12 else ''}"
        )


# --------------------------------------------------------------------------------------------
# FER-2013: fer2013.csv <-> folder layouts
# --------------------------------------------------------------------------------------------


def _read_fer2013_csv_frame(file: Path | IO[bytes], source: str) -> pd.DataFrame:
    """Read and validate ``fer2013.csv`` (columns ``emotion,pixels,Usage``)."""
    if isinstance(file, Path) and not file.exists():
        raise FileNotFoundError(f"{source}: no such file")
    frame = _read_csv(file, source, dtype={"pixels": str, "Usage": str})
    _require_columns(frame, ["emotion", "pixels", "Usage"], source)
    if len(frame) == 0:
        raise DataFormatError(
            f"{source}: has a header but no rows; expected emotion,pixels,Usage rows"
        )
    emotion = pd.to_numeric(frame["emotion"], errors="coerce")
    bad = ~(emotion.notna() & (emotion == emotion.round()) & emotion.between(0, len(EMOTIONS) - 1))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(
            f"{source}, row {i + 2}: emotion {format_cell(frame['emotion'].iloc[i])} is not a label; "
            f"expected an integer 0-{len(EMOTIONS) - 1} ({', '.join(EMOTIONS)})"
        )
    usage = frame["Usage"].astype(str).str.strip()
    bad_usage = ~usage.isin(FER_USAGES)
    if bad_usage.any():
        i = int(np.flatnonzero(bad_usage.to_numpy())[0])
        raise DataFormatError(
            f"{source}, row {i + 2}: Usage {format_cell(frame['Usage'].iloc[i])}; expected one of {FER_USAGES}"
        )
    frame = frame.assign(emotion=emotion.astype(np.int64), Usage=usage)
    return frame


def fer2013_csv_to_folders(
    csv_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    layout: str = "msambare",
    image_format: str = "jpg",
) -> dict[str, int]:
    """Write the images of Kaggle's ``fer2013.csv`` as one image file per row, in folders.

    ``layout="msambare"`` (Kaggle's ``msambare/fer2013`` download)::

        out_dir/train/<emotion>/Training_<i>.jpg
        out_dir/test/<emotion>/PublicTest_<i>.jpg   and   PrivateTest_<i>.jpg

    ``layout="usage"`` gives each part its own folder: ``train/``, ``validation/``
    (PublicTest), ``test/`` (PrivateTest). ``<i>`` is the row's 0-based index in the CSV, so
    the output is identical every run. Returns the number of images written per ``Usage``.
    """
    csv_path, out_dir = Path(csv_path), Path(out_dir)
    if layout not in ("msambare", "usage"):
        raise ValueError(f"layout={layout!r}: expected 'msambare' or 'usage'")
    fmt = image_format.lower().lstrip(".")
    if fmt not in ("jpg", "jpeg", "png"):
        raise ValueError(f"image_format={image_format!r}: expected 'jpg' or 'png'")
    frame = _read_fer2013_csv_frame(csv_path, str(csv_path))
    pixels = _parse_pixel_strings(frame["pixels"], FER_SIZE * FER_SIZE, str(csv_path))
    images = pixels.reshape(-1, FER_SIZE, FER_SIZE).astype(np.uint8)
    folders = _MSAMBARE_FOLDER if layout == "msambare" else _USAGE_FOLDER
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if fmt in ("jpg", "jpeg") else []
    counts = dict.fromkeys(FER_USAGES, 0)
    for i, (label, usage) in enumerate(zip(frame["emotion"], frame["Usage"], strict=True)):
        ok, encoded = cv2.imencode(f".{fmt}", images[i], params)
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise RuntimeError(f"OpenCV could not encode row {i + 2} of {csv_path}")
        path = out_dir / folders[usage] / EMOTIONS[label] / f"{usage}_{i}.{fmt}"
        atomic_write_bytes(path, encoded.tobytes())
        counts[usage] += 1
    return counts


# --------------------------------------------------------------------------------------------
# Folders and zips, read the same way
# --------------------------------------------------------------------------------------------

#: File endings OpenCV decodes that face data sets use.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


_JUNK_FILES = ("Thumbs.db", "desktop.ini")


def _is_junk(name: str) -> bool:
    """Files that operating systems add to folders and zips (``.DS_Store``, ``__MACOSX/``...)."""
    parts = name.split("/")
    hidden = any(p.startswith(".") and p != "." for p in parts)
    return parts[0] == "__MACOSX" or hidden or parts[-1] in _JUNK_FILES


def _natural_key(text: str) -> tuple[object, ...]:
    """Sort ``s2`` before ``s10`` and ``Training_9`` before ``Training_10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


def _check_member_name(name: str, source: str) -> None:
    """Refuse zip entries that would land outside the target folder (the "zip slip" attack)."""
    normalized = name.replace("\\", "/")
    parts = normalized.split("/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized) or ".." in parts:
        raise DataFormatError(
            f"{source}: entry {name!r} points outside the archive's folder (zip slip); "
            "refusing to read an archive with such entries -- re-download it from the original source"
        )


class _Archive:
    """A folder or a zip file, seen as a list of relative ``a/b/c.jpg`` file names."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            names = [
                p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()
            ]
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as e:
                raise DataFormatError(f"{self.path}: not a readable zip file ({e})") from e
            names = []
            for info in self._zip.infolist():
                _check_member_name(info.filename, str(self.path))
                if not info.is_dir():
                    names.append(info.filename)
        elif self.path.exists():
            raise DataFormatError(f"{self.path}: expected a folder or a .zip file")
        else:
            raise FileNotFoundError(f"{self.path}: no such file or folder")
        self.names = sorted((n for n in names if not _is_junk(n)), key=_natural_key)

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(name)
            return (self.path / name).read_bytes()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise DataFormatError(f"{self.describe(name)}: could not be read ({e})") from e

    def open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(name)
        return open(self.path / name, "rb")

    def describe(self, name: str) -> str:
        """How to name a member in an error message: ``x.zip:a/b.jpg`` or ``folder/a/b.jpg``."""
        return f"{self.path}:{name}" if self._zip is not None else str(self.path / name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def extract_zip(zip_path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[Path]:
    """Extract ``zip_path`` into ``dest`` safely; return the files written.

    Every entry is checked first: an entry naming an absolute path or climbing out with ``..``
    (a "zip slip") raises :class:`DataFormatError` before anything is written. Each file is
    written atomically.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataFormatError(f"{zip_path}: not a readable zip file ({e})") from e
    root = dest.resolve()
    written = []
    with archive:
        infos = archive.infolist()
        for info in infos:
            _check_member_name(info.filename, str(zip_path))
            target = (root / info.filename).resolve()
            if not target.is_relative_to(root):  # pragma: no cover - caught by the name check
                raise DataFormatError(f"{zip_path}: entry {info.filename!r} escapes {dest}")
        for info in infos:
            if info.is_dir():
                continue
            target = root / info.filename
            atomic_write_bytes(target, archive.read(info))
            written.append(target)
    return written


# --------------------------------------------------------------------------------------------
# Images: decode any format, convert to grayscale of one size, warn once
# --------------------------------------------------------------------------------------------


def _decode_image(data: bytes, where: str) -> np.ndarray:
    """Decode image bytes (JPEG, PNG, PGM, ...) with OpenCV; corrupt data -> DataFormatError."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise DataFormatError(
            f"{where}: not a readable image (corrupt or not an image file); "
            f"expected one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    return image


def _to_gray_uint8(
    image: np.ndarray, size: tuple[int, int] | None
) -> tuple[np.ndarray, bool, bool]:
    """Grayscale uint8 image of ``size`` (h, w); and whether it needed (colour, size) conversion."""
    recoloured = resized = False
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) / np.iinfo(image.dtype).max * 255).round()
        image = image.clip(0, 255).astype(np.uint8)
        recoloured = True
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code) if image.shape[2] in (3, 4) else image[..., 0]
        recoloured = True
    if size is not None and image.shape != tuple(size):
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        resized = True
    return image, recoloured, resized


def _decode_members(
    archive: _Archive,
    names: list[str],
    size: tuple[int, int] | None,
    target: str,
    *,
    resize_expected: bool = False,
) -> np.ndarray:
    """Decode ``names`` from ``archive`` into a ``(N, h, w)`` uint8 stack.

    Images that had to be converted (colour, bit depth, or -- unless the caller asked for a
    size -- resized) are counted and reported in ONE warning, not one per file.
    """
    images: list[np.ndarray] = []
    n_changed = 0
    for name in names:
        data = _decode_image(archive.read(name), archive.describe(name))
        image, recoloured, resized = _to_gray_uint8(data, size)
        images.append(image)
        n_changed += recoloured or (resized and not resize_expected)
    if n_changed:
        warnings.warn(
            f"{archive.path}: {n_changed} of {len(names)} images were not {target}; converted "
            "them (colour to grayscale, resized with area interpolation)",
            UserWarning,
            stacklevel=3,  # point at the caller of load_fer2013 / load_identities
        )
    if not images:
        h, w = size if size is not None else (0, 0)
        return np.zeros((0, h, w), np.uint8)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataFormatError(
            f"{archive.path}: images have different sizes {sorted(shapes)[:4]}; "
            "pass size=(height, width) to resize them all to one size"
        )
    return np.stack(images)


def _to_float(images: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W)`` -> float32 ``(N, H, W, 1)`` in [0, 1]: what every loader returns."""
    return (images.astype(np.float32) / np.float32(255.0))[..., None]


# --------------------------------------------------------------------------------------------
# Kaggle Facial Keypoints
# --------------------------------------------------------------------------------------------


@dataclass
class KeypointData:
    """Kaggle Facial Keypoints data. Unpacks as ``images, keypoints, ids``.

    * ``images``: ``(N, 96, 96, 1)`` float32 in [0, 1];
    * ``keypoints``: ``(N, 30)`` float32 pixels in :data:`KEYPOINT_COLUMNS` order, NaN where
      the label is missing (all NaN for ``test.csv``);
    * ``ids``: ``(N,)`` int64 -- ``ImageId`` for ``test.csv``, the 1-based row for training;
    * ``subjects``: ``(N,)`` str person ids when a ``subjects.csv`` sits beside the CSV, else None.
    """

    images: np.ndarray
    keypoints: np.ndarray
    ids: np.ndarray
    subjects: np.ndarray | None = None
    columns: list[str] = field(default_factory=lambda: list(KEYPOINT_COLUMNS))
    source: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.images, self.keypoints, self.ids))

    def __len__(self) -> int:
        return len(self.ids)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays to cache as ``.npz`` (images stored as uint8 when that is lossless)."""
        arrays = {
            "images": _compact_images(self.images),
            "keypoints": self.keypoints,
            "ids": self.ids,
            "columns": np.asarray(self.columns, dtype=str),
        }
        if self.subjects is not None:
            arrays["subjects"] = np.asarray(self.subjects, dtype=str)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], source: str = "") -> KeypointData:
        """Rebuild from :meth:`to_arrays` output (e.g. a loaded ``.npz``)."""
        missing = [k for k in ("images", "keypoints", "ids") if k not in arrays]
        if missing:
            raise DataFormatError(
                f"{source}: missing array(s) {missing}; expected images, keypoints, ids"
            )
        subjects = arrays["subjects"] if "subjects" in arrays else None
        columns = [str(c) for c in arrays["columns"]] if "columns" in arrays else KEYPOINT_COLUMNS
        return cls(
            images=_expand_images(np.asarray(arrays["images"])),
            keypoints=np.asarray(arrays["keypoints"], np.float32),
            ids=np.asarray(arrays["ids"], np.int64),
            subjects=None if subjects is None else np.asarray(subjects, dtype=str),
            columns=list(columns),
            source=source,
        )


def _compact_images(images: np.ndarray) -> np.ndarray:
    """Store [0, 1] float images as uint8 when that loses nothing (4x smaller caches)."""
    as_uint8 = np.rint(images * 255).clip(0, 255).astype(np.uint8)
    if np.array_equal(as_uint8.astype(np.float32) / np.float32(255.0), images):
        return as_uint8
    return images.astype(np.float32)


def _expand_images(images: np.ndarray) -> np.ndarray:
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    return images.astype(np.float32)


_KEYPOINT_SPLITS = {"training": "training", "train": "training", "test": "test"}


def load_keypoints(
    path: str | os.PathLike[str],
    split: str = "training",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> KeypointData:
    """Load Kaggle Facial Keypoints data: ``images, keypoints, ids = load_keypoints(path)``.

    ``path`` may be ``training.csv`` or ``test.csv`` itself, the competition zip (holding
    ``training.zip``/``test.zip`` or the CSVs), a folder holding them, or a ``.npz`` written
    by :func:`keypoints_to_npz`. ``split`` ("training" or "test") picks the file inside a zip
    or folder. A ``subjects.csv`` (``row,subject``) beside ``training.csv`` fills ``.subjects``.

    With ``cache_dir``, the parsed arrays are cached there as ``.npz`` and reused until the
    file changes (see :func:`load_cached`).
    """
    path = Path(path)
    key = str(split).lower()
    if key not in _KEYPOINT_SPLITS:
        raise ValueError(f"split={split!r}: expected 'training' (or 'train') or 'test'")
    split = _KEYPOINT_SPLITS[key]
    if cache_dir is not None and path.suffix.lower() != ".npz":
        arrays = load_cached(
            path,
            lambda p: _load_keypoints(p, split).to_arrays(),
            cache_dir=cache_dir,
            key=f"load_keypoints:{split}",
        )
        return KeypointData.from_arrays(arrays, source=str(path))
    return _load_keypoints(path, split)


def _load_keypoints(path: Path, split: str) -> KeypointData:
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such file or folder. Expected Kaggle's {split}.csv, the competition zip "
            "or a folder holding them (`python -m data_scripts.download keypoints` fetches them)"
        )
    if path.suffix.lower() == ".npz":
        return KeypointData.from_arrays(_load_npz(path), source=str(path))
    if path.is_file() and not zipfile.is_zipfile(path):
        frame = _read_csv(path, str(path), dtype={"Image": str})
        subjects_file = path.parent / "subjects.csv"
        subjects = None
        if _is_training_table(frame) and subjects_file.exists():
            subjects = _read_subjects(subjects_file, str(subjects_file), len(frame))
        return _keypoints_from_frame(frame, str(path), subjects)
    with _Archive(path) as archive:
        return _keypoints_from_archive(archive, split)


def _is_training_table(frame: pd.DataFrame) -> bool:
    """training.csv has keypoint columns; test.csv has ``ImageId`` instead."""
    return "ImageId" not in frame.columns


def _keypoints_from_archive(archive: _Archive, split: str) -> KeypointData:
    """Find ``<split>.csv`` (or ``<split>.zip`` holding it) in a folder or zip, shallowest first."""
    by_depth = sorted(archive.names, key=lambda n: (n.count("/"), n))
    csv_name = next((n for n in by_depth if n.split("/")[-1].lower() == f"{split}.csv"), None)
    if csv_name is not None:
        source = archive.describe(csv_name)
        with archive.open(csv_name) as f:
            frame = _read_csv(f, source, dtype={"Image": str})
        subjects = None
        subjects_name = (
            csv_name.rsplit("/", 1)[0] + "/subjects.csv" if "/" in csv_name else "subjects.csv"
        )
        if split == "training" and subjects_name in archive.names:
            with archive.open(subjects_name) as f:
                subjects = _read_subjects(f, archive.describe(subjects_name), len(frame))
        return _keypoints_from_frame(frame, source, subjects)
    zip_name = next((n for n in by_depth if n.split("/")[-1].lower() == f"{split}.zip"), None)
    if zip_name is not None:
        inner = io.BytesIO(archive.read(zip_name))
        if not zipfile.is_zipfile(inner):
            raise DataFormatError(f"{archive.describe(zip_name)}: not a readable zip file")
        with zipfile.ZipFile(inner) as z:
            names = [n for n in z.namelist() if not _is_junk(n)]
            for n in names:
                _check_member_name(n, archive.describe(zip_name))
            member = next((n for n in names if n.split("/")[-1].lower() == f"{split}.csv"), None)
            if member is None:
                raise DataFormatError(
                    f"{archive.describe(zip_name)}: holds no {split}.csv (found {names[:5]})"
                )
            with z.open(member) as f:
                frame = _read_csv(f, f"{archive.describe(zip_name)}:{member}", dtype={"Image": str})
        return _keypoints_from_frame(frame, f"{archive.describe(zip_name)}:{member}", None)
    raise DataFormatError(
        f"{archive.path}: holds no {split}.csv or {split}.zip; expected Kaggle's Facial Keypoints "
        f"files (found {archive.names[:6]})"
    )


def _keypoints_from_frame(
    frame: pd.DataFrame, source: str, subjects: np.ndarray | None
) -> KeypointData:
    """Validate a training.csv / test.csv table and turn it into arrays."""
    if "Image" not in frame.columns:
        raise DataFormatError(
            f"{source}: no 'Image' column; expected Kaggle's training.csv (30 keypoint columns + "
            f"Image) or test.csv (ImageId,Image), found columns {list(frame.columns)[:8]}"
        )
    n = len(frame)
    if n == 0:
        raise DataFormatError(f"{source}: has a header but no rows")
    if "ImageId" in frame.columns:  # test.csv
        ids_num = pd.to_numeric(frame["ImageId"], errors="coerce")
        bad = ~(ids_num.notna() & (ids_num == ids_num.round()))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataFormatError(
                f"{source}, row {i + 2}: ImageId {format_cell(frame['ImageId'].iloc[i])}; expected an integer"
            )
        ids = ids_num.to_numpy(np.int64)
        keypoints = np.full((n, len(KEYPOINT_COLUMNS)), np.nan, np.float32)
    else:
        _require_columns(frame, KEYPOINT_COLUMNS, source)
        values = np.empty((n, len(KEYPOINT_COLUMNS)), np.float32)
        for j, column in enumerate(KEYPOINT_COLUMNS):
            numeric = pd.to_numeric(frame[column], errors="coerce")
            bad = (numeric.isna() & frame[column].notna()) | np.isinf(numeric)
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataFormatError(
                    f"{source}, row {i + 2}, column {column}: {format_cell(frame[column].iloc[i])} is not a "
                    "number; expected a pixel coordinate or an empty cell for a missing label"
                )
            values[:, j] = numeric.to_numpy(np.float32)
        keypoints = values
        ids = np.arange(1, n + 1, dtype=np.int64)
    pixels = _parse_pixel_strings(frame["Image"], KEYPOINT_SIZE * KEYPOINT_SIZE, source)
    np.divide(pixels, np.float32(255.0), out=pixels)  # in place: 126 MB saved on real data
    images = pixels.reshape(n, KEYPOINT_SIZE, KEYPOINT_SIZE, 1)
    return KeypointData(images, keypoints, ids, subjects, list(KEYPOINT_COLUMNS), source)


def _read_subjects(file: Path | str | IO[bytes], source: str, n_rows: int) -> np.ndarray:
    """Read ``subjects.csv`` (``row,subject``): one person id per training row.

    ``row`` may count from 0 (pandas' index) or from 1 (the training.csv data row).
    """
    frame = _read_csv(file, source, dtype={"subject": str})
    _require_columns(frame, ["row", "subject"], source)
    rows = pd.to_numeric(frame["row"], errors="coerce")
    if rows.isna().any():
        i = int(np.flatnonzero(rows.isna().to_numpy())[0])
        raise DataFormatError(
            f"{source}, row {i + 2}: row {format_cell(frame['row'].iloc[i])} is not an integer"
        )
    if frame["subject"].isna().any():
        i = int(np.flatnonzero(frame["subject"].isna().to_numpy())[0])
        raise DataFormatError(f"{source}, row {i + 2}: empty subject; expected a person id")
    row_ids = rows.to_numpy(np.int64)
    for base in (0, 1):
        if np.array_equal(np.sort(row_ids), np.arange(base, base + n_rows)):
            subjects = np.empty(n_rows, dtype=object)
            subjects[row_ids - base] = frame["subject"].astype(str).to_numpy()
            return subjects.astype(str)
    raise DataFormatError(
        f"{source}: {len(frame)} rows numbered {row_ids.min() if len(row_ids) else '-'}.."
        f"{row_ids.max() if len(row_ids) else '-'}; expected one row per training row "
        f"(0..{n_rows - 1} or 1..{n_rows})"
    )


def keypoints_to_npz(
    path: str | os.PathLike[str], out: str | os.PathLike[str], split: str = "training"
) -> Path:
    """Parse a keypoints CSV/zip/folder once and save it as ``.npz`` (loads in a second).

    ``load_keypoints(out)`` reads the result back. Returns the written path.
    """
    return serialize(out, **load_keypoints(path, split).to_arrays())


# --------------------------------------------------------------------------------------------
# FER-2013: loading from the CSV, the msambare folders or their zip
# --------------------------------------------------------------------------------------------


@dataclass
class FerData:
    """FER-2013 images. Unpacks as ``images, labels, names``.

    * ``images``: ``(N, 48, 48, 1)`` float32 in [0, 1];
    * ``labels``: ``(N,)`` int64 in FER order (0 angry ... 6 neutral);
    * ``names``: :data:`EMOTIONS`;
    * ``files``: where each image came from (a path, or ``Usage_<row>`` for the CSV);
    * ``usage``: ``Training``, ``PublicTest`` or ``PrivateTest`` per image.
    """

    images: np.ndarray
    labels: np.ndarray
    names: list[str]
    files: np.ndarray
    usage: np.ndarray
    source: str = ""

    def __iter__(self) -> Iterator[object]:
        return iter((self.images, self.labels, self.names))

    def __len__(self) -> int:
        return len(self.labels)


_FER_SPLITS = {
    "training": "Training",
    "train": "Training",
    "publictest": "PublicTest",
    "val": "PublicTest",
    "validation": "PublicTest",
    "privatetest": "PrivateTest",
    "test": "PrivateTest",
    "all": "all",
}
#: Folder names of the folder layouts and the part of FER-2013 each holds by default.
_FER_FOLDERS = {
    "train": "Training",
    "training": "Training",
    "validation": "PublicTest",
    "val": "PublicTest",
    "publictest": "PublicTest",
    "test": "PrivateTest",
    "privatetest": "PrivateTest",
}
_FER_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_")


def _fer_usages(split: str) -> list[str]:
    key = str(split).lower()
    if key not in _FER_SPLITS:
        raise ValueError(
            f"split={split!r}: expected 'Training', 'PublicTest', 'PrivateTest' or 'all' "
            "(aliases: 'train', 'val'/'validation' = PublicTest, 'test' = PrivateTest)"
        )
    usage = _FER_SPLITS[key]
    return list(FER_USAGES) if usage == "all" else [usage]


def load_fer2013(path: str | os.PathLike[str], split: str = "Training") -> FerData:
    """Load FER-2013: ``images, labels, names = load_fer2013(path, split="Training")``.

    Reads the three real-world layouts:

    * Kaggle's ICML ``fer2013.csv`` (``emotion,pixels,Usage``), or a folder/zip holding it;
    * the ``msambare/fer2013`` folders ``train|test/<emotion>/*.jpg`` (files in ``test/``
      are ``PublicTest_*`` or ``PrivateTest_*``: the prefix says which part they belong to);
    * a zip of those folders (possibly nested one folder deep).

    ``split``: "Training" | "PublicTest" | "PrivateTest" | "all", or "train", "val"
    (PublicTest), "test" (PrivateTest). Images of another size or in colour are converted,
    with one warning that counts them.
    """
    usages = _fer_usages(split)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such file or folder. Expected fer2013.csv, the msambare/fer2013 folder "
            "or its zip (`python -m data_scripts.download fer2013` fetches it)"
        )
    if path.is_file() and not zipfile.is_zipfile(path):
        return _fer_from_csv(path, usages)
    with _Archive(path) as archive:
        csv_name = next(
            (n for n in archive.names if n.split("/")[-1].lower() == "fer2013.csv"), None
        )
        if csv_name is not None and path.is_dir():
            # The CSV holds all three parts (the folders often lack PrivateTest): prefer it.
            return _fer_from_csv(path / csv_name, usages)
        entries = _fer_folder_entries(archive)
        if not entries and csv_name is not None:
            with archive.open(csv_name) as f:
                return _fer_from_csv(f, usages, source=archive.describe(csv_name))
        if not entries:
            raise DataFormatError(
                f"{path}: found neither fer2013.csv nor images in train|test/<emotion>/ folders; "
                "expected Kaggle's fer2013.csv or the msambare/fer2013 layout"
            )
        chosen = [e for e in entries if e[1] in usages]
        _require_nonempty(chosen, entries, split, str(path))
        names = [e[0] for e in chosen]
        images = _decode_members(archive, names, (FER_SIZE, FER_SIZE), "48x48 grayscale")
        return FerData(
            images=_to_float(images),
            labels=np.array([e[2] for e in chosen], np.int64),
            names=list(EMOTIONS),
            files=np.array(names, dtype=str),
            usage=np.array([e[1] for e in chosen], dtype=str),
            source=str(path),
        )


def _require_nonempty(chosen: list[Any], entries: list[Any], split: str, source: str) -> None:
    if chosen:
        return
    found = pd.Series([e[1] for e in entries]).value_counts().to_dict() if entries else {}
    raise DataFormatError(
        f"{source}: no images for split={split!r}; this copy holds {found or 'nothing'}. "
        "(Kaggle's msambare/fer2013 test/ folder holds PublicTest_* files = split='val'.)"
    )


def _fer_folder_entries(archive: _Archive) -> list[tuple[str, str, int]]:
    """``(name, usage, label)`` of every image in ``<part>/<emotion>/`` folders, in order.

    A path that *is* a part folder (``.../fer2013/train``) works too: its name is the part.
    """
    entries: list[tuple[str, str, int]] = []
    roots: set[str] = set()
    is_part = archive.path.is_dir() and archive.path.name.lower() in _FER_FOLDERS
    virtual = archive.path.name + "/" if is_part else ""
    for name in archive.names:
        parts = (virtual + name).split("/")
        if len(parts) < 3 or parts[-3].lower() not in _FER_FOLDERS:
            continue
        emotion = parts[-2].lower()
        if emotion not in EMOTIONS:
            raise DataFormatError(
                f"{archive.describe(name)}: folder {parts[-2]!r} is not an emotion; expected "
                f"one of {EMOTIONS}"
            )
        if not _is_image_name(name):
            raise DataFormatError(
                f"{archive.describe(name)}: not an image file; emotion folders must hold only "
                f"images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        roots.add("/".join(parts[:-3]))
        prefix = _FER_PREFIX.match(parts[-1])
        usage = prefix.group(1) if prefix else _FER_FOLDERS[parts[-3].lower()]
        entries.append((name, usage, EMOTIONS.index(emotion)))
    if len(roots) > 1:
        raise DataFormatError(
            f"{archive.path}: holds more than one FER-2013 folder tree ({sorted(roots)}); "
            "expected one train|test/<emotion>/ layout"
        )
    rank = {u: i for i, u in enumerate(FER_USAGES)}
    # Kaggle's CSV order: Training, then PublicTest, then PrivateTest, by the number in the name.
    entries.sort(key=lambda e: (rank[e[1]], _natural_key(e[0].split("/")[-1]), e[0]))
    return entries


def _fer_from_csv(file: Path | IO[bytes], usages: list[str], source: str | None = None) -> FerData:
    source = source or str(file)
    frame = _read_fer2013_csv_frame(file, source)
    keep = frame["Usage"].isin(usages).to_numpy()
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        found = frame["Usage"].value_counts().to_dict()
        raise DataFormatError(f"{source}: no rows with Usage in {usages}; this file holds {found}")
    pixels = np.empty((rows.size, FER_SIZE * FER_SIZE), np.float32)
    column = frame["pixels"].to_numpy()
    # Parse contiguous runs so error messages keep the true spreadsheet row numbers.
    done = 0
    for start, stop in _runs(rows):
        pixels[done : done + stop - start] = _parse_pixel_strings(
            column[start:stop], FER_SIZE * FER_SIZE, source, first_row=start + 2
        )
        done += stop - start
    np.divide(pixels, np.float32(255.0), out=pixels)  # in place: no second copy of the data
    usage = frame["Usage"].to_numpy()[rows]
    return FerData(
        images=pixels.reshape(-1, FER_SIZE, FER_SIZE, 1),
        labels=frame["emotion"].to_numpy(np.int64)[rows],
        names=list(EMOTIONS),
        files=np.array([f"{u}_{i}" for u, i in zip(usage, rows, strict=True)], dtype=str),
        usage=usage.astype(str),
        source=source,
    )


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous ``[start, stop)`` runs of sorted row indices."""
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([[rows[0]], rows[breaks + 1]])
    stops = np.concatenate([rows[breaks] + 1, [rows[-1] + 1]])
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def folders_to_fer2013_csv(path: str | os.PathLike[str], csv_path: str | os.PathLike[str]) -> int:
    """Write Kaggle's ``fer2013.csv`` (``emotion,pixels,Usage``) from the folder layout or its zip.

    The inverse of :func:`fer2013_csv_to_folders`; rows come in Kaggle's order (Training,
    PublicTest, PrivateTest). Returns the number of rows written.
    """
    fer = load_fer2013(path, "all")
    pixels = np.rint(fer.images[..., 0].reshape(len(fer), -1) * 255).astype(np.uint8)
    lut = np.array([str(v) for v in range(256)], dtype=object)
    lines = ["emotion,pixels,Usage"]
    for label, row, usage in zip(fer.labels, pixels, fer.usage, strict=True):
        lines.append(f"{label},{' '.join(lut[row])},{usage}")
    atomic_write_text(Path(csv_path), "\n".join(lines) + "\n")
    return len(fer)


# --------------------------------------------------------------------------------------------
# Action units (FACS): a label table plus an images folder
# --------------------------------------------------------------------------------------------


@dataclass
class ActionUnitData:
    """Faces with FACS action-unit intensities (0 = absent ... 5 = maximal).

    Unpacks as ``images, intensities, au_names, subjects, emotions``:
    ``(N, 96, 96, 1)`` float32 [0, 1]; ``(N, n_au)`` float32 (NaN where not coded); the AU
    column names (``["AU1", "AU2", ...]``); ``(N,)`` str person ids; ``(N,)`` int64 FER
    emotion labels (-1 where the table gives none).
    """

    images: np.ndarray
    intensities: np.ndarray
    au_names: list[str]
    subjects: np.ndarray
    emotions: np.ndarray
    files: np.ndarray
    source: str = ""

    def __iter__(self) -> Iterator[object]:
        return iter((self.images, self.intensities, self.au_names, self.subjects, self.emotions))

    def __len__(self) -> int:
        return len(self.subjects)


AU_TABLE = "au_labels.csv"


def load_action_units(path: str | os.PathLike[str], *, size: int = AU_SIZE) -> ActionUnitData:
    """Load an action-unit data set: ``au_labels.csv`` (``file,subject,emotion,AU1,...``) + ``images/``.

    ``path`` is the folder holding ``au_labels.csv``, the CSV itself, or a zip of the folder.
    ``file`` names an image in ``images/`` (with or without its extension). ``emotion`` may be a
    FER name ("happy") or label (3). Images are returned ``size`` x ``size`` grayscale.
    """
    path = Path(path)
    if path.is_file() and path.name.lower().endswith(".csv"):
        path = path.parent
    with _Archive(path) as archive:
        table = next((n for n in archive.names if n.split("/")[-1].lower() == AU_TABLE), None)
        if table is None:
            raise DataFormatError(
                f"{path}: holds no {AU_TABLE}; expected file,subject,emotion,AU1,...,AU26 + images/"
            )
        source = archive.describe(table)
        root = table.rsplit("/", 1)[0] + "/" if "/" in table else ""
        with archive.open(table) as f:
            frame = _read_csv(f, source, dtype={"file": str, "subject": str})
        _require_columns(frame, ["file", "subject", "emotion"], source)
        au_names = [c for c in frame.columns if re.fullmatch(r"AU\d+", str(c))]
        if not au_names:
            raise DataFormatError(f"{source}: no AU<number> columns; expected AU1, AU2, ...")
        if len(frame) == 0:
            raise DataFormatError(f"{source}: has a header but no rows")
        intensities = np.empty((len(frame), len(au_names)), np.float32)
        for j, column in enumerate(au_names):
            numeric = pd.to_numeric(frame[column], errors="coerce")
            bad = (numeric.isna() & frame[column].notna()) | ~(
                numeric.isna() | numeric.between(0, AU_MAX)
            )
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataFormatError(
                    f"{source}, row {i + 2}, column {column}: {format_cell(frame[column].iloc[i])}; "
                    f"expected an intensity 0-{AU_MAX:g} (or empty when not coded)"
                )
            intensities[:, j] = numeric.to_numpy(np.float32)
        emotions = np.array(
            [_emotion_label(v, source, i + 2) for i, v in enumerate(frame["emotion"])], np.int64
        )
        for column in ("file", "subject"):
            if frame[column].isna().any():
                i = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
                raise DataFormatError(f"{source}, row {i + 2}: empty {column!r}")
        available = set(archive.names)
        names = []
        for i, file in enumerate(frame["file"].astype(str)):
            candidates = [f"{root}images/{file}"] + [
                f"{root}images/{file}{e}" for e in (".png", ".jpg")
            ]
            found = next((c for c in candidates if c in available), None)
            if found is None:
                raise DataFormatError(
                    f"{source}, row {i + 2}: image {file!r} not found in {archive.describe(root + 'images/')}"
                )
            names.append(found)
        images = _decode_members(archive, names, (size, size), f"{size}x{size} grayscale")
    return ActionUnitData(
        images=_to_float(images),
        intensities=intensities,
        au_names=au_names,
        subjects=frame["subject"].astype(str).to_numpy().astype(str),
        emotions=emotions,
        files=np.array(names, dtype=str),
        source=source,
    )


def _emotion_label(value: object, source: str, row: int) -> int:
    """A FER label from a name ("happy"), a number (3), or -1 for an empty cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return -1
    text = str(value).strip().lower()
    if text in EMOTIONS:
        return EMOTIONS.index(text)
    number = float(text) if _is_number(text) else np.nan
    if np.isfinite(number) and number == int(number) and 0 <= number < len(EMOTIONS):
        return int(number)
    raise DataFormatError(
        f"{source}, row {row}: emotion {format_cell(value)}; expected one of {EMOTIONS} "
        f"or 0-{len(EMOTIONS) - 1}"
    )


# --------------------------------------------------------------------------------------------
# Identities: one folder per person (ORL s1..s40, the sample identities/)
# --------------------------------------------------------------------------------------------


@dataclass
class IdentityData:
    """Faces grouped by person. Unpacks as ``images, labels, names``.

    ``(N, H, W, 1)`` float32 [0, 1]; ``(N,)`` int64 person index; ``names[label]`` is the
    person's folder name (``"s1"``, ...); ``files`` says where each image came from.
    """

    images: np.ndarray
    labels: np.ndarray
    names: list[str]
    files: np.ndarray
    source: str = ""

    def __iter__(self) -> Iterator[object]:
        return iter((self.images, self.labels, self.names))

    def __len__(self) -> int:
        return len(self.labels)


def load_identities(
    path: str | os.PathLike[str], *, size: tuple[int, int] | None = None
) -> IdentityData:
    """Load a folder-per-person data set (a folder or a zip, e.g. ORL's ``s1/1.pgm ... s40/10.pgm``).

    People are the folders holding images, numbered in natural order (s1, s2, ..., s10).
    ``size=(height, width)`` resizes every image; without it all images must share one size.
    """
    path = Path(path)
    with _Archive(path) as archive:
        images_by_person: dict[str, list[str]] = {}
        for name in archive.names:
            if "/" not in name or not _is_image_name(name):
                continue
            person_dir = name.rsplit("/", 1)[0]
            images_by_person.setdefault(person_dir, []).append(name)
        if not images_by_person:
            raise DataFormatError(
                f"{path}: no images in per-person folders; expected <person>/<image> files "
                f"such as s1/1.pgm ({', '.join(IMAGE_EXTENSIONS)})"
            )
        parents = {d.rsplit("/", 1)[0] if "/" in d else "" for d in images_by_person}
        if len(parents) > 1:
            raise DataFormatError(
                f"{path}: person folders sit at different depths ({sorted(parents)[:4]}); "
                "expected all person folders side by side"
            )
        for name in archive.names:  # anything else inside a person folder is a mistake
            folder = name.rsplit("/", 1)[0] if "/" in name else None
            if folder in images_by_person and not _is_image_name(name):
                raise DataFormatError(
                    f"{archive.describe(name)}: not an image file; person folders must hold only "
                    f"images ({', '.join(IMAGE_EXTENSIONS)})"
                )
        person_dirs = sorted(images_by_person, key=_natural_key)
        names, labels = [], []
        for label, person_dir in enumerate(person_dirs):
            for name in images_by_person[person_dir]:
                names.append(name)
                labels.append(label)
        target = f"{size[0]}x{size[1]} grayscale" if size else "grayscale"
        shape = (int(size[0]), int(size[1])) if size else None
        images = _decode_members(archive, names, shape, target, resize_expected=True)
    return IdentityData(
        images=_to_float(images),
        labels=np.array(labels, np.int64),
        names=[d.rsplit("/", 1)[-1] for d in person_dirs],
        files=np.array(names, dtype=str),
        source=str(path),
    )


def load_lfw(
    *,
    min_faces_per_person: int = 20,
    resize: float = 0.5,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> IdentityData:
    """Labeled Faces in the Wild through ``sklearn.datasets.fetch_lfw_people``.

    The first call downloads LFW (about 200 MB, needs internet) into scikit-learn's data
    folder (``~/scikit_learn_data``, or ``data_home``); later calls read that copy. Only
    people with at least ``min_faces_per_person`` photos are kept (20 gives 62 people and
    3,023 faces at ``resize=0.5``: 62x47 pixels). Offline, or with ``download=False`` and no
    copy, raises ``ConnectionError`` saying what to do.
    """
    from sklearn.datasets import fetch_lfw_people

    if min_faces_per_person < 1:
        raise ValueError(f"min_faces_per_person={min_faces_per_person!r}: expected 1 or more")
    if not 0 < resize <= 1:
        raise ValueError(f"resize={resize!r}: expected a scale in (0, 1]")
    try:
        lfw = fetch_lfw_people(
            min_faces_per_person=min_faces_per_person,
            resize=resize,
            data_home=None if data_home is None else os.fspath(data_home),
            download_if_missing=download,
        )
    except OSError as exc:  # urllib's URLError (offline) and "is missing" are OSErrors
        raise ConnectionError(
            f"LFW is not on this machine and could not be fetched ({type(exc).__name__}: "
            f"{exc}). sklearn.datasets.fetch_lfw_people downloads it once (~200 MB) into "
            f"{data_home or '~/scikit_learn_data'}/lfw_home: connect to the internet and run "
            "again, or pass data_home= where a copy lives. Offline, use DATA = 'sample' or the "
            "ORL faces (a folder s1..s40 of .pgm files, or its zip)."
        ) from exc
    images = np.asarray(lfw.images, dtype=np.float32)
    if images.size and images.max() > 1.5:  # older scikit-learn returns 0-255
        images = images / 255.0
    labels = np.asarray(lfw.target, dtype=np.int64)
    names = [str(n) for n in lfw.target_names]
    files = np.array([f"lfw/{names[label]}/{i}" for i, label in enumerate(labels)], dtype=str)
    return IdentityData(
        images=np.clip(images, 0.0, 1.0)[..., None],
        labels=labels,
        names=names,
        files=files,
        source="sklearn.datasets.fetch_lfw_people",
    )


# --------------------------------------------------------------------------------------------
# One record type for every data set
# --------------------------------------------------------------------------------------------


@dataclass
class FaceRecord:
    """One face from any of the course's data sets, with whatever labels that set has.

    ``image`` is ``(H, W, 1)`` float32 in [0, 1]; ``landmarks`` ``(15, 2)`` (x, y) pixels in
    :data:`KEYPOINT_NAMES` order with NaN where missing; ``emotion`` a FER label; ``action_units``
    maps ``"AU12"`` to an intensity 0-5; ``attributes`` holds anything else (file, usage, id).
    """

    image: np.ndarray
    action_units: dict[str, float] = field(default_factory=dict)
    source: str = ""
    landmarks: np.ndarray | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    subject_id: str | None = None
    emotion: int | None = None


def records_from_keypoints(data: KeypointData) -> list[FaceRecord]:
    """One :class:`FaceRecord` per keypoint image; landmarks reshaped to ``(15, 2)``."""
    subjects = data.subjects
    return [
        FaceRecord(
            image=data.images[i],
            source=data.source,
            landmarks=data.keypoints[i].reshape(-1, 2),
            attributes={"id": int(data.ids[i])},
            subject_id=None if subjects is None else str(subjects[i]),
        )
        for i in range(len(data))
    ]


def records_from_fer2013(data: FerData) -> list[FaceRecord]:
    """One :class:`FaceRecord` per FER-2013 image (emotion set; no subject ids exist)."""
    return [
        FaceRecord(
            image=data.images[i],
            source=data.source,
            attributes={"file": str(data.files[i]), "usage": str(data.usage[i])},
            emotion=int(data.labels[i]),
        )
        for i in range(len(data))
    ]


def records_from_action_units(data: ActionUnitData) -> list[FaceRecord]:
    """One :class:`FaceRecord` per AU image (NaN intensities are left out of the dict)."""
    records = []
    for i in range(len(data)):
        aus = {
            name: float(v)
            for name, v in zip(data.au_names, data.intensities[i], strict=True)
            if not np.isnan(v)
        }
        emotion = int(data.emotions[i])
        records.append(
            FaceRecord(
                image=data.images[i],
                action_units=aus,
                source=data.source,
                attributes={"file": str(data.files[i])},
                subject_id=str(data.subjects[i]),
                emotion=emotion if emotion >= 0 else None,
            )
        )
    return records


def records_from_identities(data: IdentityData) -> list[FaceRecord]:
    """One :class:`FaceRecord` per image; ``subject_id`` is the person's folder name."""
    return [
        FaceRecord(
            image=data.images[i],
            source=data.source,
            attributes={"file": str(data.files[i])},
            subject_id=data.names[int(data.labels[i])],
        )
        for i in range(len(data))
    ]


def to_records(data: KeypointData | FerData | ActionUnitData | IdentityData) -> list[FaceRecord]:
    """Convert any loader's result into a list of :class:`FaceRecord`."""
    if isinstance(data, KeypointData):
        return records_from_keypoints(data)
    if isinstance(data, FerData):
        return records_from_fer2013(data)
    if isinstance(data, ActionUnitData):
        return records_from_action_units(data)
    if isinstance(data, IdentityData):
        return records_from_identities(data)
    raise TypeError(f"to_records: expected a loader result, got {type(data).__name__}")


# --------------------------------------------------------------------------------------------
# Splitting by person
# --------------------------------------------------------------------------------------------


def split_by_subject(
    subjects: Iterable[object] | np.ndarray,
    fractions: tuple[float, ...] = (0.7, 0.15, 0.15),
    seed: int = 42,
) -> tuple[np.ndarray, ...]:
    """Split row indices so that no person appears in two splits.

    Frames of one person are near-duplicates: a random row split would leak faces from train
    into test and flatter the model. People are shuffled (deterministically, by ``seed``) and
    dealt into splits so that each split gets roughly ``fractions`` of the *rows*. Returns one
    sorted int64 index array per fraction, e.g. ``train_idx, val_idx, test_idx``.
    """
    subject_ids = np.asarray(list(subjects) if not isinstance(subjects, np.ndarray) else subjects)
    if subject_ids.ndim != 1:
        raise ValueError(
            f"subjects: expected a 1-D sequence of person ids, got shape {subject_ids.shape}"
        )
    if subject_ids.size and pd.isna(pd.Series(subject_ids, dtype=object)).any():
        row = int(np.flatnonzero(pd.isna(pd.Series(subject_ids, dtype=object)).to_numpy())[0])
        raise ValueError(f"subjects: row {row + 1} has no person id (None/NaN)")
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or fr.size < 2 or (fr < 0).any() or not np.isclose(fr.sum(), 1.0, atol=1e-6):
        raise ValueError(
            f"fractions={tuple(fractions)}: expected two or more non-negative numbers summing to 1"
        )
    people, inverse, counts = np.unique(
        subject_ids.astype(str), return_inverse=True, return_counts=True
    )
    wanted = int((fr > 0).sum())
    if len(people) < wanted:
        raise ValueError(
            f"subjects: {len(people)} distinct people cannot fill {wanted} non-empty splits; "
            "use fewer splits or more people"
        )
    order = np.random.default_rng(seed).permutation(len(people))
    # Each person goes to the split where the middle of its rows falls on the cumulative scale.
    ends = np.cumsum(counts[order])
    middles = (ends - counts[order] / 2) / ends[-1]
    bounds = np.cumsum(fr)[:-1]
    assignment = np.searchsorted(bounds, middles, side="right")
    # Small data: make sure every split with a positive fraction gets at least one person.
    for k in np.flatnonzero(fr > 0):
        if not (assignment == k).any():
            sizes = np.bincount(assignment, minlength=fr.size)
            donor = int(np.argmax(sizes))
            members = np.flatnonzero(assignment == donor)
            # Move the donor's person nearest to split k's side (keeps the cut contiguous).
            assignment[members[0] if k < donor else members[-1]] = k
    split_of_person = np.empty(len(people), np.int64)
    split_of_person[order] = assignment
    row_split = split_of_person[inverse]
    return tuple(np.flatnonzero(row_split == k).astype(np.int64) for k in range(fr.size))


# --------------------------------------------------------------------------------------------
# npz caches: parse a big CSV once
# --------------------------------------------------------------------------------------------


def serialize(path: str | os.PathLike[str], **arrays: Any) -> Path:
    """Save named arrays to ``path`` (``.npz``) atomically, without pickle.

    Strings are stored as fixed-width unicode arrays, so ``np.load(path, allow_pickle=False)``
    reads everything back.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path={str(path)!r}: expected a file name ending in '.npz'")
    clean: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            if not all(isinstance(v, str) for v in array.ravel()):
                raise ValueError(
                    f"serialize: array {name!r} holds Python objects; only numbers and strings "
                    "can be saved without pickle"
                )
            array = array.astype(str)
        clean[name] = array
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **clean)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataFormatError(f"{path}: not a readable .npz file ({e})") from e


_CACHE_KEY = "__cache_key__"


def load_cached(
    csv_path: str | os.PathLike[str],
    loader: Callable[[Path], Mapping[str, np.ndarray]],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    key: str = "",
) -> dict[str, np.ndarray]:
    """``loader(csv_path)``, cached as ``.npz``: the first call parses, later calls load.

    The cache is keyed on the file's absolute path, size and modification time (plus ``key``,
    e.g. the split): change the file and the next call re-parses it. Caches live in
    ``cache_dir`` (default ``<data_root>/cache``), never beside read-only data.
    """
    csv_path = Path(csv_path)
    if not csv_path.exists():
        raise FileNotFoundError(f"{csv_path}: no such file or folder")
    stat = csv_path.stat()
    resolved = str(csv_path.resolve())
    fingerprint = f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}|{key}"
    if cache_dir is None:
        from utils.config import data_root

        cache_dir = data_root() / "cache"
    name_hash = hashlib.sha256(f"{resolved}|{key}".encode()).hexdigest()[:12]
    cache_file = Path(cache_dir) / f"{csv_path.stem}-{name_hash}.npz"
    if cache_file.exists():
        try:
            cached = _load_npz(cache_file)
        except DataFormatError:
            cached = {}  # a damaged cache is rebuilt, never trusted
        if _CACHE_KEY in cached and str(cached[_CACHE_KEY]) == fingerprint:
            cached.pop(_CACHE_KEY)
            return cached
    arrays = {k: np.asarray(v) for k, v in loader(csv_path).items()}
    serialize(cache_file, **arrays, **{_CACHE_KEY: np.asarray(fingerprint)})
    return arrays
