"""Kaggle Facial Keypoints: ``images, keypoints, ids = load_keypoints(path)``.

The competition ships ``training.csv`` (30 keypoint columns, in pixels, and an ``Image``
column of 96x96 grey levels written as text) and ``test.csv`` (``ImageId,Image``), usually
inside a zip that holds ``training.zip`` and ``test.zip``. :func:`load_keypoints` reads any of
these (or a folder holding them) into a :class:`KeypointData`; a ``subjects.csv`` beside
``training.csv`` says who is in each row, so :func:`utils.splits.split_by_subject` can keep a
person in one split. :func:`keypoints_to_npz` parses the text once into a ``.npz`` that loads
in a second.

Keypoints follow the course's conventions (``CONTRIBUTING.md``): pixels, Kaggle's column
order (:data:`utils.schema.KEYPOINT_COLUMNS`), NaN where a label is missing.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from utils.archives import Archive, check_member_name, is_junk
from utils.cache import load_cached, load_npz, serialize
from utils.images import compact_images, expand_images
from utils.schema import KEYPOINT_COLUMNS, KEYPOINT_SIZE, DataFormatError
from utils.tables import format_cell, parse_pixel_strings, read_csv, require_columns


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
            "images": compact_images(self.images),
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
            images=expand_images(np.asarray(arrays["images"])),
            keypoints=np.asarray(arrays["keypoints"], np.float32),
            ids=np.asarray(arrays["ids"], np.int64),
            subjects=None if subjects is None else np.asarray(subjects, dtype=str),
            columns=list(columns),
            source=source,
        )


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
        return KeypointData.from_arrays(load_npz(path), source=str(path))
    if path.is_file() and not zipfile.is_zipfile(path):
        frame = read_csv(path, str(path), dtype={"Image": str})
        subjects_file = path.parent / "subjects.csv"
        subjects = None
        if _is_training_table(frame) and subjects_file.exists():
            subjects = _read_subjects(subjects_file, str(subjects_file), len(frame))
        return _keypoints_from_frame(frame, str(path), subjects)
    with Archive(path) as archive:
        return _keypoints_from_archive(archive, split)


def _is_training_table(frame: pd.DataFrame) -> bool:
    """training.csv has keypoint columns; test.csv has ``ImageId`` instead."""
    return "ImageId" not in frame.columns


def _keypoints_from_archive(archive: Archive, split: str) -> KeypointData:
    """Find ``<split>.csv`` (or ``<split>.zip`` holding it) in a folder or zip, shallowest first."""
    by_depth = sorted(archive.names, key=lambda n: (n.count("/"), n))
    csv_name = next((n for n in by_depth if n.split("/")[-1].lower() == f"{split}.csv"), None)
    if csv_name is not None:
        source = archive.describe(csv_name)
        with archive.open(csv_name) as f:
            frame = read_csv(f, source, dtype={"Image": str})
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
            names = [n for n in z.namelist() if not is_junk(n)]
            for n in names:
                check_member_name(n, archive.describe(zip_name))
            member = next((n for n in names if n.split("/")[-1].lower() == f"{split}.csv"), None)
            if member is None:
                raise DataFormatError(
                    f"{archive.describe(zip_name)}: holds no {split}.csv (found {names[:5]})"
                )
            with z.open(member) as f:
                frame = read_csv(f, f"{archive.describe(zip_name)}:{member}", dtype={"Image": str})
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
        require_columns(frame, KEYPOINT_COLUMNS, source)
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
    pixels = parse_pixel_strings(frame["Image"], KEYPOINT_SIZE * KEYPOINT_SIZE, source)
    np.divide(pixels, np.float32(255.0), out=pixels)  # in place: 126 MB saved on real data
    images = pixels.reshape(n, KEYPOINT_SIZE, KEYPOINT_SIZE, 1)
    return KeypointData(images, keypoints, ids, subjects, list(KEYPOINT_COLUMNS), source)


def _read_subjects(file: Path | str | IO[bytes], source: str, n_rows: int) -> np.ndarray:
    """Read ``subjects.csv`` (``row,subject``): one person id per training row.

    ``row`` may count from 0 (pandas' index) or from 1 (the training.csv data row).
    """
    frame = read_csv(file, source, dtype={"subject": str})
    require_columns(frame, ["row", "subject"], source)
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


def load_complete_faces(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fully labelled faces of a table with person ids, for training on real people.

    Returns images ``(N, 96, 96, 1)`` float32 in [0, 1], keypoints ``(N, 30)`` in pixels (rows
    with any missing coordinate are left out) and each row's person id. Raises
    :class:`DataFormatError` when the table has no ``subjects.csv`` (a model validated on
    held-out *people* needs them) or no complete row.
    """
    data = load_keypoints(path)
    if data.subjects is None:
        raise DataFormatError(
            f"{path}: no subjects.csv beside the training table; the model is validated on "
            "held-out *people*, so every row needs a person id"
        )
    complete = ~np.isnan(data.keypoints).any(axis=1)
    if not complete.any():
        raise DataFormatError(
            f"{path}: no row has all {len(KEYPOINT_COLUMNS)} keypoint coordinates"
        )
    return data.images[complete], data.keypoints[complete], np.asarray(data.subjects)[complete]


def keypoints_to_npz(
    path: str | os.PathLike[str], out: str | os.PathLike[str], split: str = "training"
) -> Path:
    """Parse a keypoints CSV/zip/folder once and save it as ``.npz`` (loads in a second).

    ``load_keypoints(out)`` reads the result back. Returns the written path.
    """
    return serialize(out, **load_keypoints(path, split).to_arrays())
