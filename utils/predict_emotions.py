"""Recognise the emotion of every face in a folder of photos, and draw it on a copy.

    python -m utils.predict_emotions --images my_photos/ [--out DIR] [--model my.keras] [--keypoints]

For every file in ``my_photos/`` (and its subfolders; hidden files are left out) it finds the
faces (Haar cascade), crops each to FER-2013's 48x48 grayscale framing, predicts the 7 emotion
probabilities, and writes, atomically, into ``DIR`` (default: ``my_photos-emotions/`` beside
the photos):

* ``<same name>`` -- an annotated copy of each photo: box, ``emotion NN%`` and an emoji per
  face (``--keypoints`` adds the 15 keypoints);
* ``emotions.csv`` -- one row per face: file, face, box ``x, y, w, h``, emotion and the 7
  probabilities. A photo with no face, and a file that is not an image, get a row too
  (``status`` says which), and are listed on the screen: nothing is dropped silently.

Without ``--model`` it uses the course's shipped model (``utils.inference``).
``face-course predict-emotions`` is the same command. From Python:
``utils.photo_folders.annotate_folder("my_photos")``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from utils.command_line import CommandParser
from utils.photo_folders import annotate_folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(
        "python -m utils.predict_emotions",
        (__doc__ or "").splitlines()[0],
        examples=[
            "--images my_photos/            # writes my_photos-emotions/",
            "--images my_photos/ --out results/ --keypoints",
            "--images my_photos/ --model runs/emotion/best.keras",
        ],
    )
    parser.add_argument("--images", required=True, type=Path, help="folder of photos")
    parser.add_argument("--out", type=Path, default=None, help="output folder (IMAGES-emotions)")
    parser.add_argument("--model", type=Path, default=None, help=".keras emotion model")
    parser.add_argument("--keypoints", action="store_true", help="draw the 15 keypoints too")
    args = parser.parse_args(argv)
    try:
        frame = annotate_folder(
            args.images, args.out, emotion_model=args.model, keypoints=args.keypoints
        )
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ok = frame[frame["status"] == "ok"]
    print(
        f"{frame['file'].nunique()} file(s): {len(ok)} face(s) in {ok['file'].nunique()} photo(s)"
    )
    for _, row in ok.iterrows():
        print(
            f"  {row['file']} face {row['face']}: {row['emotion']} ({row[f'p_{row.emotion}']:.0%})"
        )
    for _, row in frame[frame["status"] != "ok"].iterrows():
        print(f"  {row['file']}: {row['status']}" + (f" ({row['note']})" if row["note"] else ""))
    print(f"wrote {frame.attrs['csv']} and the annotated photos in {frame.attrs['out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
