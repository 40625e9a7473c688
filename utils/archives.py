"""Reading a folder and a zip file the same way, safely.

Real data sets arrive as a folder or as a zip of that folder. :class:`Archive` shows both as
one sorted list of relative file names (``a/b/c.jpg``), so a loader is written once:

    with Archive(path) as archive:
        for name in archive.names:
            data = archive.read(name)

Names are sorted naturally (``s2`` before ``s10``, :func:`natural_key`) and files that
operating systems add (``.DS_Store``, ``__MACOSX/``, ``Thumbs.db``: :func:`is_junk`) are left
out. A zip entry that would land outside its folder (a "zip slip": ``../x`` or ``/etc/x``) is
refused before anything is read (:func:`check_member_name`); :func:`extract_zip` unpacks a zip
with the same check. Problems raise :class:`utils.schema.DataFormatError` naming the file.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import IO

from utils.io import atomic_write_bytes
from utils.schema import DataFormatError

#: Files that operating systems add to folders (besides hidden ``.*`` files).
JUNK_FILES = ("Thumbs.db", "desktop.ini")


def is_junk(name: str) -> bool:
    """Files that operating systems add to folders and zips (``.DS_Store``, ``__MACOSX/``...)."""
    parts = name.split("/")
    hidden = any(p.startswith(".") and p != "." for p in parts)
    return parts[0] == "__MACOSX" or hidden or parts[-1] in JUNK_FILES


def natural_key(text: str) -> tuple[object, ...]:
    """Sort ``s2`` before ``s10`` and ``Training_9`` before ``Training_10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


def check_member_name(name: str, source: str) -> None:
    """Refuse zip entries that would land outside the target folder (the "zip slip" attack)."""
    normalized = name.replace("\\", "/")
    parts = normalized.split("/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized) or ".." in parts:
        raise DataFormatError(
            f"{source}: entry {name!r} points outside the archive's folder (zip slip); "
            "refusing to read an archive with such entries -- re-download it from the original source"
        )


class Archive:
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
                check_member_name(info.filename, str(self.path))
                if not info.is_dir():
                    names.append(info.filename)
        elif self.path.exists():
            raise DataFormatError(f"{self.path}: expected a folder or a .zip file")
        else:
            raise FileNotFoundError(f"{self.path}: no such file or folder")
        self.names = sorted((n for n in names if not is_junk(n)), key=natural_key)

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

    def __enter__(self) -> Archive:
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
            check_member_name(info.filename, str(zip_path))
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
