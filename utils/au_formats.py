"""Loaders for the real facial-expression formats you will meet after the course.

The course's own action-unit table (``au_labels.csv`` + ``images/``) is read by
:func:`utils.data_action_units.load_action_units`. Real data sets come in their own shapes; this module reads
three of them into the same :class:`utils.data_action_units.ActionUnitData` (or plain arrays), so a notebook
written for the sample data runs on them unchanged:

* **JAFFE** (Lyons et al. 1998): 213 pictures of 10 Japanese women, the emotion in the file
  name -- ``KA.HA1.29.tiff`` is subject ``KA``, happy (``HA``), the 1st happy picture, image 29.
  :func:`parse_jaffe_name`, :func:`load_jaffe`.
* **CK+** (Lucey et al. 2010): one folder per person and sequence; the peak frame of each coded
  sequence has a FACS file ``S005_001_00000011_facs.txt`` (lines ``AU intensity`` written as
  floats, ``   9.0000000e+00   0.0000000e+00``), a landmarks file
  ``S005_001_00000011_landmarks.txt`` (68 lines ``x y``) and sometimes an emotion file.
  :func:`read_ck_facs`, :func:`read_ck_landmarks`, :func:`read_ck_emotion`, :func:`load_ck_plus`.
* **EmotioNet-style CSV**: one row per image, one column per AU (``AU1``, ``AU 1``, ``AU01``...),
  ``1`` present, ``0`` absent, ``999`` (or empty) not coded. :func:`read_au_csv`,
  :func:`load_au_csv`.

Every reader checks its input and raises :class:`utils.schema.DataFormatError` (a ``ValueError``)
naming the file, the line or row, and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from utils.archives import Archive, natural_key
from utils.data_action_units import ActionUnitData
from utils.images import decode_image, is_image_name, to_float, to_gray_uint8
from utils.schema import AU_MAX, AU_SIZE, EMOTIONS, DataFormatError

# --------------------------------------------------------------------------------------------
# JAFFE: the label is in the file name
# --------------------------------------------------------------------------------------------

#: JAFFE's two-letter emotion codes, mapped to the course's FER emotion names.
JAFFE_EMOTIONS: dict[str, str] = {
    "AN": "angry",
    "DI": "disgust",
    "FE": "fear",
    "HA": "happy",
    "SA": "sad",
    "SU": "surprise",
    "NE": "neutral",
}

_JAFFE_NAME = re.compile(r"^([A-Za-z]{2})\.([A-Za-z]{2})(\d+)\.(\d+)\.([A-Za-z]+)$")


@dataclass(frozen=True)
class JaffeName:
    """What a JAFFE file name says: ``KA.HA1.29.tiff`` -> subject KA, happy, take 1, image 29."""

    subject: str
    emotion: str
    code: str
    take: int
    image_id: int

    @property
    def label(self) -> int:
        """The emotion as a FER label (index into ``utils.schema.EMOTIONS``)."""
        return EMOTIONS.index(self.emotion)


def parse_jaffe_name(name: str | os.PathLike[str]) -> JaffeName:
    """Read subject, emotion, take and image number from a JAFFE file name.

    >>> parse_jaffe_name("KA.HA1.29.tiff")
    JaffeName(subject='KA', emotion='happy', code='HA', take=1, image_id=29)
    """
    base = Path(name).name
    match = _JAFFE_NAME.match(base)
    if match is None:
        raise DataFormatError(
            f"{name}: not a JAFFE file name; expected SUBJECT.EMOTIONtake.number.ext "
            "like 'KA.HA1.29.tiff'"
        )
    subject, code, take, image_id, _ = match.groups()
    code = code.upper()
    if code not in JAFFE_EMOTIONS:
        raise DataFormatError(
            f"{name}: emotion code {code!r}; expected one of {sorted(JAFFE_EMOTIONS)}"
        )
    return JaffeName(subject.upper(), JAFFE_EMOTIONS[code], code, int(take), int(image_id))


@dataclass
class JaffeData:
    """JAFFE faces. Unpacks as ``images, emotions, subjects``.

    ``images`` ``(N, size, size, 1)`` float32 in [0, 1]; ``emotions`` ``(N,)`` int64 FER labels;
    ``subjects`` ``(N,)`` str (10 people: split with ``utils.splits.split_by_subject``).
    """

    images: np.ndarray
    emotions: np.ndarray
    subjects: np.ndarray
    files: np.ndarray
    source: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.images, self.emotions, self.subjects))

    def __len__(self) -> int:
        return len(self.subjects)


def load_jaffe(path: str | os.PathLike[str], *, size: int = AU_SIZE) -> JaffeData:
    """Load JAFFE from its folder (or a zip of it): every image file whose name parses.

    The original pictures are 256x256 with the face filling most of the frame; they are
    resized to ``size`` x ``size`` grayscale. Files that are not images (the README) are
    skipped; an image whose name is not a JAFFE name raises, so a wrong folder is noticed.
    """
    size = _check_size(size)
    with Archive(path) as archive:
        names = [n for n in archive.names if is_image_name(n)]
        if not names:
            raise DataFormatError(
                f"{path}: holds no image files; expected JAFFE's KA.HA1.29.tiff ..."
            )
        parsed = [parse_jaffe_name(archive.describe(n)) for n in names]
        images = np.stack([_read_gray(archive, n, size) for n in names])
    return JaffeData(
        images=to_float(images),
        emotions=np.array([p.label for p in parsed], np.int64),
        subjects=np.array([p.subject for p in parsed], dtype=str),
        files=np.array(names, dtype=str),
        source=str(path),
    )


# --------------------------------------------------------------------------------------------
# CK+: FACS, landmarks and emotion text files beside the image sequences
# --------------------------------------------------------------------------------------------

_CK_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)(?:_(facs|landmarks|emotion))?(?:\.\w+)?$", re.I)
#: CK+'s emotion codes (``*_emotion.txt``) as FER names; contempt has no FER class (-1).
CK_EMOTIONS: dict[int, str | None] = {
    0: "neutral",
    1: "angry",
    2: None,  # contempt
    3: "disgust",
    4: "fear",
    5: "happy",
    6: "sad",
    7: "surprise",
}
CK_LANDMARKS = 68


def parse_ck_name(name: str | os.PathLike[str]) -> tuple[str, str, int]:
    """``S005_001_00000011_facs.txt`` -> ``("S005", "001", 11)``: subject, sequence, frame."""
    match = _CK_NAME.match(Path(name).name)
    if match is None:
        raise DataFormatError(
            f"{name}: not a CK+ file name; expected S<subject>_<sequence>_<frame>[_facs].ext "
            "like 'S005_001_00000011_facs.txt'"
        )
    return match.group(1).upper(), match.group(2), int(match.group(3))


def _numbers(text: str, source: str, per_line: int, what: str) -> np.ndarray:
    """The non-empty lines of ``text`` as ``(n, per_line)`` floats; a bad line names itself."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        tokens = line.split()
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            values = []
        if len(values) != per_line or not np.all(np.isfinite(values)):
            raise DataFormatError(f"{source}, line {number}: {line.strip()!r}; expected {what}")
        rows.append(values)
    return np.array(rows, dtype=np.float64).reshape(-1, per_line)


def _text(path: str | os.PathLike[str] | None, text: str | None) -> tuple[str, str]:
    if text is not None:
        return text, str(path or "<text>")
    if path is None:
        raise ValueError("give a path or text")
    try:
        return Path(path).read_text(encoding="utf-8", errors="strict"), str(path)
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not a text file ({exc})") from exc


def read_ck_facs(
    path: str | os.PathLike[str] | None = None, *, text: str | None = None
) -> dict[int, float]:
    """Read a CK+ FACS file into ``{AU number: intensity}``.

    Each line holds two floats, ``AU intensity`` (``   9.0000000e+00   0.0000000e+00``).
    CK+ writes intensity **0 when the AU is present but its intensity was not scored**; the
    value is returned as it is here, and :func:`load_ck_plus` decides what it means.
    """
    content, source = _text(path, text)
    rows = _numbers(content, source, 2, "two numbers 'AU intensity', e.g. '9.0e+00 0.0e+00'")
    if len(rows) == 0:
        raise DataFormatError(f"{source}: no AU lines; expected lines of 'AU intensity'")
    aus: dict[int, float] = {}
    for (au, intensity), number in zip(rows, _line_numbers(content), strict=True):
        if au != int(au) or au < 1:
            raise DataFormatError(
                f"{source}, line {number}: AU {au:g}; expected a positive whole AU number"
            )
        if not 0 <= intensity <= AU_MAX:
            raise DataFormatError(
                f"{source}, line {number}: intensity {intensity:g}; expected 0-{AU_MAX:g} "
                "(0 = present, intensity not scored)"
            )
        if int(au) in aus:
            raise DataFormatError(f"{source}, line {number}: AU{int(au)} listed twice")
        aus[int(au)] = float(intensity)
    return aus


def _line_numbers(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_ck_landmarks(
    path: str | os.PathLike[str] | None = None, *, text: str | None = None
) -> np.ndarray:
    """Read a CK+ landmarks file: 68 lines of ``x y`` -> ``(68, 2)`` float32 pixels."""
    content, source = _text(path, text)
    points = _numbers(content, source, 2, "two numbers 'x y'")
    if len(points) != CK_LANDMARKS:
        raise DataFormatError(
            f"{source}: {len(points)} landmark lines; expected {CK_LANDMARKS} lines of 'x y'"
        )
    if (points < 0).any():
        row = int(np.flatnonzero((points < 0).any(axis=1))[0])
        raise DataFormatError(
            f"{source}, line {_line_numbers(content)[row]}: negative coordinate; expected pixels"
        )
    return points.astype(np.float32)


def read_ck_emotion(path: str | os.PathLike[str] | None = None, *, text: str | None = None) -> int:
    """Read a CK+ emotion file (one float 0-7) as a FER label; contempt (2) gives -1."""
    content, source = _text(path, text)
    values = _numbers(content, source, 1, "one number 0-7")
    if len(values) != 1 or values[0, 0] not in CK_EMOTIONS:
        raise DataFormatError(
            f"{source}: {content.strip()!r}; expected one emotion code 0-7 "
            "(0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise)"
        )
    name = CK_EMOTIONS[int(values[0, 0])]
    return -1 if name is None else EMOTIONS.index(name)


@dataclass
class CKPlusData(ActionUnitData):
    """CK+ peak frames as :class:`~utils.data_action_units.ActionUnitData`, plus ``landmarks`` ``(N, 68, 2)``
    in the pixels of the returned (cropped, resized) images."""

    landmarks: np.ndarray = field(
        default_factory=lambda: np.zeros((0, CK_LANDMARKS, 2), np.float32)
    )


def load_ck_plus(
    path: str | os.PathLike[str],
    *,
    size: int = AU_SIZE,
    au_names: Sequence[str] | None = None,
    unscored_intensity: float = 1.0,
    margin: float = 0.25,
) -> CKPlusData:
    """Load CK+ (folder or zip): every frame that has a ``*_facs.txt`` file.

    Looks for CK+'s layout anywhere below ``path``: ``.../S005/001/S005_001_00000011_facs.txt``
    for the FACS codes, the image ``S005_001_00000011.png`` and
    ``S005_001_00000011_landmarks.txt`` (both required: the landmarks crop the face), and
    ``S005_001_00000011_emotion.txt`` when it exists (emotion -1 otherwise).

    Args:
        size: the face crop is resized to ``size`` x ``size`` grayscale.
        au_names: the AU columns to return (default: every AU that occurs, in number order);
            an AU listed here but never coded is 0 (absent) in every row.
        unscored_intensity: what to store for "present, intensity not scored" (CK+ writes 0).
            Intensity 0 means *absent* in the returned table, so it must be > 0; use such rows
            for detection (intensity > 0), not for intensity regression.
        margin: the square crop around the landmarks grows by this fraction on each side.
    """
    size = _check_size(size)
    if not 0 < unscored_intensity <= AU_MAX:
        raise ValueError(
            f"unscored_intensity={unscored_intensity!r}: expected a number in (0, {AU_MAX:g}]"
        )
    if not 0 <= margin <= 1:
        raise ValueError(f"margin={margin!r}: expected a fraction between 0 and 1")
    with Archive(path) as archive:
        by_base: dict[str, dict[str, str]] = {}
        for name in archive.names:
            base = name.rsplit("/", 1)[-1]
            match = _CK_NAME.match(base)
            if match is None:
                continue
            kind = (match.group(4) or ("image" if is_image_name(base) else "")).lower()
            if kind:
                key = "_".join(match.group(1, 2, 3)).upper()
                by_base.setdefault(key, {})[kind] = name
        coded = sorted((k for k, v in by_base.items() if "facs" in v), key=natural_key)
        if not coded:
            raise DataFormatError(
                f"{path}: no CK+ FACS files; expected .../S005/001/S005_001_00000011_facs.txt"
            )
        facs, images, landmarks, emotions, subjects = [], [], [], [], []
        for key in coded:
            files = by_base[key]
            facs_name = files["facs"]
            for needed in ("image", "landmarks"):
                if needed not in files:
                    raise DataFormatError(
                        f"{archive.describe(facs_name)}: has no matching {needed} file "
                        f"({key}{'.png' if needed == 'image' else '_landmarks.txt'}) beside it"
                    )
            facs.append(
                read_ck_facs(archive.describe(facs_name), text=_member_text(archive, facs_name))
            )
            points = read_ck_landmarks(
                archive.describe(files["landmarks"]), text=_member_text(archive, files["landmarks"])
            )
            raw = to_gray_uint8(
                decode_image(archive.read(files["image"]), archive.describe(files["image"])), None
            )[0]
            crop, points = _crop_to_landmarks(raw, points, size, margin)
            images.append(crop)
            landmarks.append(points)
            if "emotion" in files:
                emotions.append(
                    read_ck_emotion(
                        archive.describe(files["emotion"]),
                        text=_member_text(archive, files["emotion"]),
                    )
                )
            else:
                emotions.append(-1)
            subjects.append(parse_ck_name(facs_name)[0])
    numbers = sorted({au for codes in facs for au in codes})
    columns = [f"AU{n}" for n in numbers] if au_names is None else [str(a) for a in au_names]
    wanted = []
    for column in columns:
        match = re.fullmatch(r"AU(\d+)", column)
        if match is None:
            raise ValueError(f"au_names: {column!r}; expected names like 'AU12'")
        wanted.append(int(match.group(1)))
    intensities = np.zeros((len(facs), len(columns)), np.float32)
    for i, codes in enumerate(facs):
        for j, au in enumerate(wanted):
            if au in codes:
                intensities[i, j] = codes[au] if codes[au] > 0 else unscored_intensity
    return CKPlusData(
        images=to_float(np.stack(images)),
        intensities=intensities,
        au_names=columns,
        subjects=np.array(subjects, dtype=str),
        emotions=np.array(emotions, np.int64),
        files=np.array([by_base[k]["image"] for k in coded], dtype=str),
        source=str(path),
        landmarks=np.stack(landmarks).astype(np.float32),
    )


def _member_text(archive: Archive, name: str) -> str:
    try:
        return archive.read(name).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{archive.describe(name)}: not a text file ({exc})") from exc


def _crop_to_landmarks(
    image: np.ndarray, points: np.ndarray, size: int, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """A square crop around the landmarks (grown by ``margin``), resized; points moved along."""
    import cv2

    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = cx - side / 2, cy - side / 2
    scale = size / side
    # One affine warp crops, pads (edge pixels) where the square leaves the picture, and resizes.
    matrix = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]], np.float64)
    crop = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    moved = (points - np.array([left, top], np.float32)) * np.float32(scale)
    return crop, moved.astype(np.float32)


# --------------------------------------------------------------------------------------------
# EmotioNet-style CSV: one column per AU, 1 / 0 / 999
# --------------------------------------------------------------------------------------------

_AU_COLUMN = re.compile(r"^\s*AU\s*[_ -]?\s*0*(\d+)\s*$", re.I)
_FILE_COLUMNS = ("file", "filename", "image", "path", "url", "name")


@dataclass
class AUTable:
    """An AU label table: ``files`` ``(N,)``, ``au_names`` (``AU1`` ...), ``labels`` ``(N, n_au)``
    float32 with NaN where not coded."""

    files: np.ndarray
    au_names: list[str]
    labels: np.ndarray
    source: str = ""


def read_au_csv(path: str | os.PathLike[str], *, not_coded: Sequence[float] = (999, -1)) -> AUTable:
    """Read an EmotioNet-style AU table: an image column, then one column per AU.

    The image column is the first of ``file, filename, image, path, url, name`` found
    (any case), else the first column. AU columns are any spelled ``AU1``, ``AU 1``, ``AU01`` or
    ``au_1``; they are returned as ``AU1``... in the file's order. Values are 0/1 (EmotioNet) or
    intensities 0-5; the codes in ``not_coded`` (EmotioNet uses 999) and empty cells become NaN.
    """
    source = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{source}: not a readable CSV table ({exc})") from exc
    columns = [str(c) for c in frame.columns]
    au_columns = [c for c in columns if _AU_COLUMN.match(c)]
    if not au_columns:
        raise DataFormatError(
            f"{source}: no AU columns among {columns[:8]}; expected headers like AU1, 'AU 12', AU01"
        )
    au_names = [f"AU{int(_AU_COLUMN.match(c).group(1))}" for c in au_columns]  # type: ignore[union-attr]
    duplicates = sorted({a for a in au_names if au_names.count(a) > 1})
    if duplicates:
        raise DataFormatError(f"{source}: {duplicates} appear in more than one column")
    lower = {c.strip().lower(): c for c in columns}
    file_column = next((lower[n] for n in _FILE_COLUMNS if n in lower), columns[0])
    if file_column in au_columns:
        raise DataFormatError(f"{source}: no image column; expected a first column such as 'file'")
    if len(frame) == 0:
        raise DataFormatError(f"{source}: has a header but no rows")
    skip = {float(v) for v in not_coded}
    labels = np.empty((len(frame), len(au_columns)), np.float32)
    for j, column in enumerate(au_columns):
        for i, cell in enumerate(frame[column].tolist()):
            text = str(cell).strip()
            try:
                value = float(text) if text else np.nan
            except ValueError:
                value = None
            if value is not None and value in skip:
                value = np.nan
            if value is None or not (np.isnan(value) or 0 <= value <= AU_MAX):
                raise DataFormatError(
                    f"{source}, row {i + 2}, column {column!r}: {text!r}; expected 0/1 or an "
                    f"intensity 0-{AU_MAX:g}, or one of {sorted(skip)} / empty when not coded"
                )
            labels[i, j] = value
    files = frame[file_column].astype(str).str.strip().to_numpy().astype(str)
    empty = np.flatnonzero(files == "")
    if empty.size:
        raise DataFormatError(f"{source}, row {int(empty[0]) + 2}: empty {file_column!r}")
    return AUTable(files, au_names, labels, source)


def load_au_csv(
    path: str | os.PathLike[str],
    images: str | os.PathLike[str] | None = None,
    *,
    size: int = AU_SIZE,
    not_coded: Sequence[float] = (999, -1),
) -> ActionUnitData:
    """An EmotioNet-style CSV plus its images as :class:`~utils.data_action_units.ActionUnitData`.

    ``images`` is the folder (or zip) holding the files the CSV names (matched by their path
    relative to it, or by their base name; a URL is matched by its last part); default: the
    CSV's folder. EmotioNet has no person ids, so each image is its own subject -- a subject
    split is then only as honest as the data set's promise of one picture per person.
    """
    table = read_au_csv(path, not_coded=not_coded)
    size = _check_size(size)
    folder = Path(images) if images is not None else Path(path).parent
    with Archive(folder) as archive:
        by_name: dict[str, str] = {}
        for name in archive.names:
            by_name.setdefault(name, name)
            by_name.setdefault(name.rsplit("/", 1)[-1], name)
        members = []
        for i, file in enumerate(table.files.tolist()):
            key = file.split("?")[0].replace("\\", "/")
            found = by_name.get(key) or by_name.get(key.rsplit("/", 1)[-1])
            if found is None:
                raise DataFormatError(
                    f"{table.source}, row {i + 2}: image {str(file)!r} not found in {folder}"
                )
            members.append(found)
        stack = np.stack([_read_gray(archive, m, size) for m in members])
    return ActionUnitData(
        images=to_float(stack),
        intensities=table.labels,
        au_names=table.au_names,
        subjects=table.files.copy(),
        emotions=np.full(len(table.files), -1, np.int64),
        files=np.array(members, dtype=str),
        source=table.source,
    )


# --------------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------------


def _check_size(size: int) -> int:
    if int(size) != size or size < 8:
        raise ValueError(f"size={size!r}: expected a whole number of pixels, at least 8")
    return int(size)


def _read_gray(archive: Archive, name: str, size: int) -> np.ndarray:
    image = decode_image(archive.read(name), archive.describe(name))
    return to_gray_uint8(image, (size, size))[0]
