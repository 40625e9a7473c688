"""utils.archives: folders and zips read alike, junk files left out, zip slips refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from utils.archives import Archive, extract_zip, natural_key
from utils.schema import DataFormatError


def test_extract_zip_refuses_zip_slip(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok/file.txt", "fine")
        z.writestr("ok/../../outside.txt", "evil")
    with pytest.raises(DataFormatError, match=r"zip slip"):
        extract_zip(archive, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "dest" / "ok").exists()
    good = tmp_path / "b.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("ok/file.txt", "fine")
    assert extract_zip(good, tmp_path / "dest") == [tmp_path / "dest" / "ok" / "file.txt"]


def test_folder_and_zip_list_the_same_names_in_natural_order(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    for name in ("s10/1.pgm", "s2/1.pgm", "s2/10.pgm", "s2/9.pgm", ".DS_Store", "s2/Thumbs.db"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
        z.writestr("__MACOSX/s2/._1.pgm", "resource fork")
    expected = ["s2/1.pgm", "s2/9.pgm", "s2/10.pgm", "s10/1.pgm"]
    with Archive(folder) as a, Archive(tmp_path / "faces.zip") as b:
        assert a.names == b.names == expected
        assert a.read("s2/9.pgm") == b.read("s2/9.pgm") == b"s2/9.pgm"
        assert b.describe("s2/9.pgm") == f"{tmp_path / 'faces.zip'}:s2/9.pgm"
    assert sorted(["Training_10", "Training_9"], key=natural_key) == ["Training_9", "Training_10"]


def test_archive_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        Archive(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataFormatError, match="expected a folder or a .zip file"):
        Archive(tmp_path / "notes.txt")
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("/etc/passwd", "x")
    with pytest.raises(DataFormatError, match="zip slip"):
        Archive(tmp_path / "evil.zip")
