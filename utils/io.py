"""Writing files safely: a crash half-way never leaves a truncated file under the final name.

Every file the course writes (CSV submissions, model files, caches, notebooks) goes through
:func:`atomic_write` or one of its two shorthands: the data is written to a temporary file in
the same folder, then renamed over the target with ``os.replace`` (atomic on one file system).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``.

    ``write`` receives the temporary path (same folder and suffix as ``path``, so writers that
    look at the suffix -- ``model.save``, ``np.savez`` -- behave as for the real name). If it
    raises, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.unlink()  # some writers (Keras) refuse to overwrite; they create the file themselves
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_model(model: object, path: str | os.PathLike[str]) -> Path:
    """``model.save(path)`` atomically: a Keras ``.keras`` file is never left half-written."""
    return atomic_write(path, lambda tmp: model.save(tmp))  # type: ignore[attr-defined]
