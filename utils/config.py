"""Where the course's data lives, how ``DATA = ...`` is resolved, and the default seed.

Every notebook's ``parameters`` cell has ``DATA = "sample"``. This module turns that string
into a folder or file:

* ``"sample"`` -- the bundled synthetic faces under ``data/sample/`` (generated on first use,
  identical run to run);
* ``"kaggle"`` -- the real data downloaded by ``python -m data_scripts.download`` into
  ``data/kaggle/``;
* anything else -- a path you give (a CSV, a zip or a folder), used as it is.

Seeds are set by :func:`utils.seeding.set_seed` (default :data:`DEFAULT_SEED`); the TensorFlow
and GPU report is :func:`utils.environment.report_environment`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

Dataset = Literal["keypoints", "fer2013", "action_units", "identities"]

#: Folder names of each data set, inside ``data/sample`` and ``data/kaggle``.
DATASET_DIRS: dict[str, str] = {
    "keypoints": "facial-keypoints-detection",
    "fer2013": "fer2013",
    "action_units": "action_units",
    "identities": "identities",
}

#: The seed every notebook and command uses unless told otherwise (``SEED = 42``).
DEFAULT_SEED = 42


def project_root() -> Path:
    """The course's checkout (the folder holding ``pyproject.toml``), or the current folder."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


def data_root() -> Path:
    """Where data sets live: ``$FACE_DL_DATA`` if set, else ``<project>/data``."""
    env = os.environ.get("FACE_DL_DATA")
    return Path(env).expanduser() if env else project_root() / "data"


def sample_dir() -> Path:
    """The bundled sample data folder (``data/sample``)."""
    return data_root() / "sample"


def kaggle_dir() -> Path:
    """Where ``python -m data_scripts.download`` puts the real Kaggle data (``data/kaggle``)."""
    return data_root() / "kaggle"


def ensure_sample_data(out: Path | None = None, *, quiet: bool = False) -> Path:
    """Return the sample data folder, generating it first if it is missing or stale.

    Generation is deterministic (seeded), so every student gets byte-identical files; it shows
    a progress bar in a terminal or in Jupyter, unless ``quiet``.
    """
    out = Path(out) if out is not None else sample_dir()
    from utils.sample_data import generate, is_complete

    if not is_complete(out):
        if not quiet:
            print(f"Generating the sample data in {out} (once, about a minute)...")
        generate(out, quiet=quiet)
    return out


def resolve_data(data: str | os.PathLike[str], dataset: Dataset) -> Path:
    """Turn a notebook's ``DATA`` parameter into a path for ``dataset``.

    ``"sample"`` (generated on first use), ``"kaggle"`` (what ``python -m
    data_scripts.download`` fetched), or a path: a file, a folder holding the data set, or a
    folder laid out like ``data/sample`` (then its ``dataset`` subfolder is used).

    >>> resolve_data("sample", "keypoints")  # doctest: +SKIP
    PosixPath('.../data/sample/facial-keypoints-detection')
    """
    if dataset not in DATASET_DIRS:
        raise ValueError(f"dataset={dataset!r}: expected one of {sorted(DATASET_DIRS)}")
    text = os.fspath(data)
    if text == "sample":
        return ensure_sample_data(quiet=True) / DATASET_DIRS[dataset]
    if text == "kaggle":
        path = kaggle_dir() / DATASET_DIRS[dataset]
        if not path.exists():
            if dataset in ("keypoints", "fer2013"):
                how = (
                    f"Download the real data first: `python -m data_scripts.download {dataset}` "
                    "(needs a Kaggle API token), or set DATA to the path of files you already have."
                )
            else:
                how = (
                    f"The {dataset!r} data set has no Kaggle download; set DATA to the path of "
                    "your copy (e.g. the AT&T/ORL faces zip for identities)."
                )
            raise FileNotFoundError(f"DATA='kaggle' but {path} does not exist. {how}")
        return path
    path = Path(text).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"DATA={text!r}: no such file or folder. Expected 'sample', 'kaggle' or an existing path."
        )
    if path.is_dir() and (path / DATASET_DIRS[dataset]).exists():
        return path / DATASET_DIRS[dataset]  # a folder laid out like data/sample or data/kaggle
    return path
