"""Convert between the data formats the course reads.

    python -m data_scripts.convert fer2013-to-folders fer2013.csv out/ [--layout usage] [--format png]
    python -m data_scripts.convert folders-to-fer2013 fer2013_folder_or.zip fer2013.csv
    python -m data_scripts.convert keypoints-to-npz training.csv training.npz [--split test]

Each command is a thin wrapper over a function of the same idea (in ``utils.data_fer2013``
and ``utils.data_keypoints``), so notebooks and scripts can call those directly. Bad input stops with exit code 1 and a one-line reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from utils.data_fer2013 import fer2013_csv_to_folders, folders_to_fer2013_csv
from utils.data_keypoints import keypoints_to_npz


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_scripts.convert", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    to_folders = commands.add_parser(
        "fer2013-to-folders", help="fer2013.csv -> train|test/<emotion>/<Usage>_<row>.jpg"
    )
    to_folders.add_argument("csv", type=Path)
    to_folders.add_argument("out", type=Path)
    to_folders.add_argument("--layout", choices=["msambare", "usage"], default="msambare")
    to_folders.add_argument("--format", choices=["jpg", "png"], default="jpg", dest="image_format")

    to_csv = commands.add_parser(
        "folders-to-fer2013", help="train|test/<emotion>/*.jpg (folder or zip) -> fer2013.csv"
    )
    to_csv.add_argument("source", type=Path)
    to_csv.add_argument("csv", type=Path)

    to_npz = commands.add_parser("keypoints-to-npz", help="training.csv/test.csv/zip -> .npz cache")
    to_npz.add_argument("source", type=Path)
    to_npz.add_argument("out", type=Path)
    to_npz.add_argument("--split", choices=["training", "test"], default="training")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one conversion; return the process exit code."""
    args = _build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        if args.command == "fer2013-to-folders":
            counts = fer2013_csv_to_folders(
                args.csv, args.out, layout=args.layout, image_format=args.image_format
            )
            summary = ", ".join(f"{k} {v}" for k, v in counts.items())
            print(f"wrote {sum(counts.values())} images to {args.out} ({summary})")
        elif args.command == "folders-to-fer2013":
            n = folders_to_fer2013_csv(args.source, args.csv)
            print(f"wrote {n} rows to {args.csv}")
        else:
            path = keypoints_to_npz(args.source, args.out, split=args.split)
            print(f"wrote {path}")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
