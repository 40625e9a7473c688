"""``.npz`` caches: parse a big CSV once, load it in a second afterwards.

Kaggle's ``training.csv`` and ``fer2013.csv`` hold their pixels as text; parsing them takes
seconds to minutes. :func:`load_cached` runs a loader once and keeps its arrays as ``.npz``
in ``<data_root>/cache`` (see :func:`utils.config.data_root`), keyed on the file's path, size
and modification time, so an edited file is parsed again. :func:`serialize` writes named
arrays to ``.npz`` atomically and without pickle; :func:`load_npz` reads them back.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from utils.config import data_root
from utils.io import atomic_write
from utils.schema import DataFormatError


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
    return atomic_write(path, lambda tmp: np.savez(tmp, **clean))  # type: ignore[arg-type]


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (no pickle); a damaged file raises DataFormatError."""
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
        cache_dir = data_root() / "cache"
    name_hash = hashlib.sha256(f"{resolved}|{key}".encode()).hexdigest()[:12]
    cache_file = Path(cache_dir) / f"{csv_path.stem}-{name_hash}.npz"
    if cache_file.exists():
        try:
            cached = load_npz(cache_file)
        except DataFormatError:
            cached = {}  # a damaged cache is rebuilt, never trusted
        if _CACHE_KEY in cached and str(cached[_CACHE_KEY]) == fingerprint:
            cached.pop(_CACHE_KEY)
            return cached
    arrays = {k: np.asarray(v) for k, v in loader(csv_path).items()}
    serialize(cache_file, **arrays, **{_CACHE_KEY: np.asarray(fingerprint)})
    return arrays
