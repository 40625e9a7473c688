"""Predict facial keypoints on every face in a folder of photos.

    python -m utils.predict_keypoints --images my_photos/ [--out DIR] [--model my_model.keras]

For every file in ``my_photos/`` (and its subfolders; hidden files are left out) it finds the
faces (Haar cascade, :mod:`utils.faces`), crops each to 96x96 grayscale, predicts its 15
keypoints and maps them back onto the photo. Writes, atomically, into ``DIR`` (default:
``my_photos-keypoints/`` beside the photos):

* ``keypoints.csv`` -- one row per face: file, face box, 30 coordinates in the photo's pixels;
  a photo with no face, or a file that is not a readable image, gets one row saying so
  (nothing is skipped silently);
* ``keypoints.png`` -- every photo with its face boxes and keypoints.

Without ``--model`` it uses the course's shipped model (``utils.inference``). ``--faces`` is
the old spelling of ``--images``. ``face-course predict-keypoints`` is the same command. From
Python:
``utils.photo_folders.predict_folder("my_photos", model)``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from utils.command_line import CommandParser
from utils.photo_folders import predict_folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(
        "python -m utils.predict_keypoints",
        (__doc__ or "").splitlines()[0],
        examples=[
            "--images my_photos/            # writes my_photos-keypoints/",
            "--images my_photos/ --out results/ --min-size 60",
            "--images my_photos/ --model runs/keypoints/best.keras",
        ],
        renamed={"--faces": "--images"},
    )
    parser.add_argument("--images", required=True, type=Path, help="folder of photos")
    parser.add_argument("--out", type=Path, default=None, help="output folder (IMAGES-keypoints)")
    parser.add_argument("--model", type=Path, default=None, help=".keras keypoint model")
    parser.add_argument("--min-size", type=int, default=40, help="smallest face in pixels")
    args = parser.parse_args(argv)
    try:
        frame = predict_folder(
            args.images,
            args.model,
            out_dir=args.out,
            min_size=(args.min_size, args.min_size),
            save=True,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ok = frame[frame["status"] == "ok"]
    print(
        f"{frame['file'].nunique()} file(s), {len(ok)} face(s) in {ok['file'].nunique()} photo(s)"
    )
    for _, row in frame[frame["status"] != "ok"].iterrows():
        print(f"  {row['file']}: {row['status']}" + (f" ({row['note']})" if row["note"] else ""))
    print(f"wrote {frame.attrs['csv']}\nwrote {frame.attrs['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
