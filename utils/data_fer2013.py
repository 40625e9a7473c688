"""FER-2013: ``images, labels, names = load_fer2013(path, split="Training")``, and converters.

FER-2013 (Goodfellow et al. 2013) is 35,887 grey 48x48 faces, each labelled with one of seven
emotions (:data:`utils.schema.EMOTIONS`) and one of three parts (``Usage``: Training,
PublicTest, PrivateTest). It circulates in two shapes, and :func:`load_fer2013` reads both:

* Kaggle's ICML ``fer2013.csv`` -- ``emotion,pixels,Usage``, the pixels as text;
* the ``msambare/fer2013`` folders -- ``train|test/<emotion>/<Usage>_<n>.jpg`` -- or their zip.

:func:`fer2013_csv_to_folders` and :func:`folders_to_fer2013_csv` convert one into the other
(``python -m data_scripts.convert`` wraps them).
:func:`write_fer2013_csv` writes arrays (a balanced subset, say) as such a CSV.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import pandas as pd

from utils.archives import Archive, natural_key
from utils.images import IMAGE_EXTENSIONS, decode_members, is_image_name, to_float
from utils.io import atomic_write_bytes, atomic_write_text
from utils.schema import EMOTIONS, FER_SIZE, FER_USAGES, DataFormatError
from utils.tables import format_cell, parse_pixel_strings, read_csv, require_columns

#: Folder of each ``Usage`` in the msambare layout (Kaggle's ``msambare/fer2013``).
_MSAMBARE_FOLDER = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
#: Folder of each ``Usage`` in the ``layout="usage"`` layout (one folder per part).
_USAGE_FOLDER = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}


def _read_fer2013_csv_frame(file: Path | IO[bytes], source: str) -> pd.DataFrame:
    """Read and validate ``fer2013.csv`` (columns ``emotion,pixels,Usage``)."""
    if isinstance(file, Path) and not file.exists():
        raise FileNotFoundError(f"{source}: no such file")
    frame = read_csv(file, source, dtype={"pixels": str, "Usage": str})
    require_columns(frame, ["emotion", "pixels", "Usage"], source)
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
    pixels = parse_pixel_strings(frame["pixels"], FER_SIZE * FER_SIZE, str(csv_path))
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
    with Archive(path) as archive:
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
        images = decode_members(archive, names, (FER_SIZE, FER_SIZE), "48x48 grayscale")
        return FerData(
            images=to_float(images),
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


def _fer_folder_entries(archive: Archive) -> list[tuple[str, str, int]]:
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
        if not is_image_name(name):
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
    entries.sort(key=lambda e: (rank[e[1]], natural_key(e[0].split("/")[-1]), e[0]))
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
        pixels[done : done + stop - start] = parse_pixel_strings(
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


def write_fer2013_csv(
    path: str | os.PathLike[str],
    images: np.ndarray,
    labels: np.ndarray,
    usage: str | Sequence[str] = "Training",
) -> Path:
    """Write images and labels as a FER-2013 (ICML) CSV: ``emotion,pixels,Usage``, atomically.

    ``images`` float in [0, 1] (rounded to 0-255) or uint8, shape (N, H, W[, 1]);
    ``usage`` one string for every row or one per row. :func:`load_fer2013` reads it back.
    """
    path = Path(path)
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"images: expected shape (N, H, W) or (N, H, W, 1), got {images.shape}")
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels: expected shape ({len(images)},), got {labels.shape}")
    if np.issubdtype(images.dtype, np.floating):
        if images.size and (images.min() < 0 or images.max() > 1):
            raise ValueError("images: float images must be in [0, 1]")
        pixels = np.rint(images * 255).astype(np.uint8)
    elif images.dtype == np.uint8:
        pixels = images
    else:
        raise ValueError(f"images: expected float in [0, 1] or uint8, got dtype {images.dtype}")
    usages = [usage] * len(images) if isinstance(usage, str) else list(usage)
    if len(usages) != len(images):
        raise ValueError(f"usage: expected one string or {len(images)}, got {len(usages)}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["emotion", "pixels", "Usage"])
    for img, label, use in zip(pixels, labels, usages, strict=True):
        writer.writerow([int(label), " ".join(map(str, img.ravel().tolist())), use])
    atomic_write_text(path, buf.getvalue())
    return path
