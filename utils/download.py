"""Download the real Kaggle data sets into ``data/kaggle/`` (once; later runs reuse the files).

    python -m data_scripts.download keypoints   # Facial Keypoints Detection competition
    python -m data_scripts.download fer2013     # msambare/fer2013 (train/ and test/ folders)

(the same as ``face-course download keypoints``; ``python -m utils.download`` too). The data
sets' terms of use -- research and the competition only, no redistribution -- are in
``lessons/data_and_terms.md``.

Uses ``kagglehub``, which needs a Kaggle API token. After the first download the sha256 of
every file is recorded in ``checksums.json`` beside the files (as d2l's ``DATA_HUB`` does);
later runs verify the files against it and skip the download when they match. Without a
token or a network connection the command stops with exit code 2 and says what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from utils.archives import extract_zip
from utils.command_line import CommandParser
from utils.config import DATASET_DIRS, kaggle_dir
from utils.io import atomic_write_text
from utils.schema import DataFormatError

CHECKSUMS = "checksums.json"
EXIT_NEEDS_USER = 2


@dataclass(frozen=True)
class KaggleSource:
    """Where a data set lives on Kaggle and which files make it complete."""

    name: str
    handle: str
    kind: str  # "competition" or "dataset"
    required: tuple[str, ...]  # files or folders that must exist once it is downloaded
    page: str


SOURCES: dict[str, KaggleSource] = {
    "keypoints": KaggleSource(
        name="keypoints",
        handle="facial-keypoints-detection",
        kind="competition",
        required=("training.csv", "test.csv", "IdLookupTable.csv", "SampleSubmission.csv"),
        page="https://www.kaggle.com/c/facial-keypoints-detection",
    ),
    "fer2013": KaggleSource(
        name="fer2013",
        handle="msambare/fer2013",
        kind="dataset",
        required=("train", "test"),
        page="https://www.kaggle.com/datasets/msambare/fer2013",
    ),
}


class DownloadError(RuntimeError):
    """The download could not be done; the message tells the user how to fix it."""


def destination(name: str) -> Path:
    """Where ``name``'s files go: ``data/kaggle/facial-keypoints-detection/`` or ``.../fer2013/``."""
    return kaggle_dir() / DATASET_DIRS[name]


def sha256(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_checksums(dest: Path, source: KaggleSource) -> dict[str, str]:
    """sha256 of every file making up ``source`` inside ``dest`` (relative posix path -> hash)."""
    sums = {}
    for item in source.required:
        target = dest / item
        files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
        for file in files:
            sums[file.relative_to(dest).as_posix()] = sha256(file)
    return sums


def is_cached(dest: Path, source: KaggleSource) -> tuple[bool, str]:
    """Whether ``dest`` already holds ``source`` intact; and a line saying why (not)."""
    missing = [item for item in source.required if not (dest / item).exists()]
    if missing:
        return False, f"missing {missing}"
    record = dest / CHECKSUMS
    if not record.exists():
        return False, "files present but no checksums recorded yet"
    try:
        recorded = json.loads(record.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return False, f"{record} is unreadable"
    current = file_checksums(dest, source)
    changed = sorted(
        k for k in recorded.keys() | current.keys() if recorded.get(k) != current.get(k)
    )
    if changed:
        return False, f"{len(changed)} file(s) differ from {CHECKSUMS}, e.g. {changed[:3]}"
    return True, f"{len(current)} file(s) match {CHECKSUMS}"


def record_checksums(dest: Path, source: KaggleSource) -> Path:
    """Write ``checksums.json`` for the files now in ``dest`` (atomically)."""
    sums = file_checksums(dest, source)
    payload = {"source": f"kaggle {source.kind} {source.handle}", "files": sums}
    path = dest / CHECKSUMS
    atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return path


def help_message(source: KaggleSource, dest: Path, reason: str) -> str:
    """What the user can do when the download fails (printed, no traceback)."""
    files = ", ".join(source.required)
    rules = (
        f"\n  3. Accept the competition's rules once: {source.page}/rules (the 'Join Competition' button)."
        if source.kind == "competition"
        else ""
    )
    return (
        f"Could not download {source.name} from Kaggle ({source.handle}): {reason}\n\n"
        "To download it:\n"
        "  1. Create a Kaggle API token: kaggle.com > Settings > API > Create New Token.\n"
        "  2. Put the downloaded kaggle.json in ~/.kaggle/ (chmod 600 ~/.kaggle/kaggle.json), or\n"
        "     set the environment variables KAGGLE_USERNAME and KAGGLE_KEY."
        f"{rules}\n"
        f"Then run again: python -m data_scripts.download {source.name}\n\n"
        f"Or place the files yourself (from {source.page}) at:\n  {dest}/\n"
        f"  holding: {files}\n"
        f"and run the command again to verify them. Meanwhile every notebook runs on DATA='sample'."
    )


def _kaggle_fetch(source: KaggleSource) -> Path:
    """Download with kagglehub into its own cache; return the folder (or file) it gives."""
    try:
        import kagglehub
    except ImportError as e:
        raise DownloadError("the kagglehub package is not installed (pip install kagglehub)") from e
    fetch: Callable[..., str] = (
        kagglehub.competition_download
        if source.kind == "competition"
        else kagglehub.dataset_download
    )
    try:
        return Path(fetch(source.handle))
    except Exception as e:  # kagglehub raises many types: auth, HTTP 403, DNS, timeouts
        raise DownloadError(f"{type(e).__name__}: {e}".strip()) from e


def _install(downloaded: Path, dest: Path, source: KaggleSource) -> None:
    """Copy/extract what kagglehub gave into ``dest`` so that ``source.required`` exists there."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        staging = Path(tmp) / "files"
        staging.mkdir()
        if downloaded.is_file() and downloaded.suffix == ".zip":
            extract_zip(downloaded, staging)
        elif downloaded.is_dir():
            shutil.copytree(downloaded, staging, dirs_exist_ok=True)
        else:
            raise DownloadError(
                f"kagglehub returned {downloaded}, which is neither a folder nor a zip"
            )
        # Competitions ship training.zip / test.zip (or one archive of everything): unpack them.
        for _ in range(2):
            for archive in sorted(staging.rglob("*.zip")):
                extract_zip(archive, archive.parent)
                archive.unlink()
        for item in source.required:
            found = _find(staging, item)
            if found is None:
                raise DownloadError(
                    f"the download holds no {item!r} (found "
                    f"{sorted(p.relative_to(staging).as_posix() for p in staging.rglob('*'))[:8]})"
                )
            target = dest / item
            if target.is_dir():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(found, target)


def _find(root: Path, name: str) -> Path | None:
    """The shallowest file or folder called ``name`` under ``root``."""
    matches = sorted(root.rglob(name), key=lambda p: (len(p.parts), str(p)))
    return matches[0] if matches else None


def download(name: str, *, dest: Path | None = None, force: bool = False) -> Path:
    """Make sure ``name``'s Kaggle files are in ``dest`` (verified); return ``dest``.

    Raises :class:`DownloadError` (with instructions) when Kaggle cannot be reached.
    """
    if name not in SOURCES:
        raise ValueError(f"name={name!r}: expected one of {sorted(SOURCES)}")
    source = SOURCES[name]
    dest = Path(dest) if dest is not None else destination(name)
    # Only the parent now: an empty ``dest`` would look like a finished download to DATA="kaggle".
    dest.parent.mkdir(parents=True, exist_ok=True)
    cached, why = is_cached(dest, source)
    if cached and not force:
        print(f"{name}: already downloaded and verified in {dest} ({why})")
        return dest
    has_files = all((dest / item).exists() for item in source.required)
    if has_files and not (dest / CHECKSUMS).exists() and not force:
        # Files placed by hand (or by an older version): record their checksums and use them.
        record_checksums(dest, source)
        print(f"{name}: found the files in {dest}; recorded their checksums in {CHECKSUMS}")
        return dest
    print(f"{name}: downloading {source.handle} from Kaggle ({why})...")
    downloaded = _kaggle_fetch(source)
    try:
        _install(downloaded, dest, source)
    except DataFormatError as e:
        raise DownloadError(f"the downloaded archive is damaged or unsafe: {e}") from e
    path = record_checksums(dest, source)
    print(f"{name}: ready in {dest} (checksums in {path.name})")
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m data_scripts.download {keypoints,fer2013} [--out D] [--force]``."""
    parser = CommandParser(
        "python -m data_scripts.download",
        (__doc__ or "").split("\n\n")[0],
        examples=["keypoints", "fer2013 --out data/kaggle/fer2013", "keypoints --force"],
        renamed={"--dest": "--out"},
    )
    parser.add_argument("name", choices=sorted(SOURCES), help="which data set")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder (default: data/kaggle/<data set>)"
    )
    parser.add_argument("--force", action="store_true", help="download again even if cached")
    args = parser.parse_args(argv)
    dest = args.out if args.out is not None else destination(args.name)
    try:
        download(args.name, dest=dest, force=args.force)
    except DownloadError as e:
        print(help_message(SOURCES[args.name], dest, str(e)), file=sys.stderr)
        return EXIT_NEEDS_USER
    return 0


if __name__ == "__main__":
    sys.exit(main())
