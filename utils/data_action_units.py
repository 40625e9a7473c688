"""Action units (FACS): ``images, intensities, au_names, subjects, emotions = load_action_units(path)``.

The Facial Action Coding System describes a face by the muscles that move it: AU12 pulls the
lip corners (a smile), AU4 lowers the brows, each scored 0 (absent) to 5 (maximal). The
course's action-unit data (the sample's ``action_units/``, and the layout to put your own data
in) is one label table and one folder of pictures::

    au_labels.csv        file,subject,emotion,AU1,AU2,...,AU26   (one row per picture)
    images/<file>.png    the pictures (any size: they are resized to ``size`` x ``size``)

:func:`load_action_units` reads it (a folder, the CSV, or a zip of the folder) into an
:class:`ActionUnitData`. Real AU data sets come in their own shapes (JAFFE file names, CK+
FACS files, EmotioNet-style CSVs): :mod:`utils.au_formats` reads those into the same class.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.archives import Archive
from utils.images import decode_members, to_float
from utils.schema import AU_MAX, AU_SIZE, EMOTIONS, DataFormatError
from utils.tables import format_cell, is_number, read_csv, require_columns


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
    with Archive(path) as archive:
        table = next((n for n in archive.names if n.split("/")[-1].lower() == AU_TABLE), None)
        if table is None:
            raise DataFormatError(
                f"{path}: holds no {AU_TABLE}; expected file,subject,emotion,AU1,...,AU26 + images/"
            )
        source = archive.describe(table)
        root = table.rsplit("/", 1)[0] + "/" if "/" in table else ""
        with archive.open(table) as f:
            frame = read_csv(f, source, dtype={"file": str, "subject": str})
        require_columns(frame, ["file", "subject", "emotion"], source)
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
        images = decode_members(archive, names, (size, size), f"{size}x{size} grayscale")
    return ActionUnitData(
        images=to_float(images),
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
    number = float(text) if is_number(text) else np.nan
    if np.isfinite(number) and number == int(number) and 0 <= number < len(EMOTIONS):
        return int(number)
    raise DataFormatError(
        f"{source}, row {row}: emotion {format_cell(value)}; expected one of {EMOTIONS} "
        f"or 0-{len(EMOTIONS) - 1}"
    )
