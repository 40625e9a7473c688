"""Download the real Kaggle data sets into ``data/kaggle/`` (once; later runs reuse the files).

    python -m data_scripts.download keypoints   # Facial Keypoints Detection competition
    python -m data_scripts.download fer2013     # msambare/fer2013 (train/ and test/ folders)

The same command as ``python -m utils.download`` and ``face-course download``, where the code
and its documentation live (the library cannot import ``data_scripts``, and ``face-course`` is
part of the library).
"""

from __future__ import annotations

import sys

from utils.download import (
    CHECKSUMS,
    EXIT_NEEDS_USER,
    SOURCES,
    DownloadError,
    KaggleSource,
    destination,
    download,
    file_checksums,
    help_message,
    is_cached,
    main,
    record_checksums,
    sha256,
)

__all__ = [
    "CHECKSUMS",
    "EXIT_NEEDS_USER",
    "SOURCES",
    "DownloadError",
    "KaggleSource",
    "destination",
    "download",
    "file_checksums",
    "help_message",
    "is_cached",
    "main",
    "record_checksums",
    "sha256",
]

if __name__ == "__main__":
    sys.exit(main())
