"""Recognise the emotion of every face in a folder of photos, and draw it on a copy.

    python -m utils.predict_emotions --images my_photos/ [--out annotated/] [--model my.keras]

For every file in ``DIR`` (and its subfolders; hidden files and the output folder are left
out) it finds the faces (Haar cascade), crops each to FER-2013's 48x48 grayscale framing,
predicts the 7 emotion probabilities, and writes, atomically:

* ``OUT/<same name>`` -- an annotated copy of each photo: box, ``emotion NN%`` and an emoji
  per face (``--keypoints`` adds the 15 keypoints);
* ``OUT/emotions.csv`` -- one row per face: file, face, box ``x, y, w, h``, emotion and the
  7 probabilities. A photo with no face, and a file that is not an image, get a row too
  (``status`` says which), and are listed on the screen: nothing is dropped silently.

``OUT`` defaults to ``DIR/annotated``. Without ``--model`` it uses the course's shipped
model (``utils.inference.load_emotion_model``). From Python: ``annotate_folder("my_photos")``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.annotate import (
    NotAnImageError,
    annotate_photo,
    decode_image,
    encode_image,
    photo_pipeline,
)
from utils.data import atomic_write_bytes, atomic_write_text
from utils.faces import FramePipeline
from utils.inference import EMOTIONS

#: Columns of ``emotions.csv``, before one ``p_<emotion>`` column per emotion.
INFO_COLUMNS = ["file", "status", "note", "face", "x", "y", "w", "h", "emotion"]
PROBABILITY_COLUMNS = [f"p_{e}" for e in EMOTIONS]
CSV_NAME = "emotions.csv"
#: Annotated copies keep their format when OpenCV can write it; anything else becomes PNG.
WRITABLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def list_files(images_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Every non-hidden file under ``images_dir``, sorted, except those inside ``out_dir``."""
    folder = Path(images_dir)
    if not folder.is_dir():
        raise ValueError(f"--images {str(folder)!r}: not a folder; expected a folder of photos")
    out = Path(out_dir).resolve()
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.resolve().is_relative_to(out):
            continue  # our own earlier output
        found.append(path)
    return sorted(found)


def _annotated_name(relative: Path) -> Path:
    suffix = relative.suffix.lower()
    return relative if suffix in WRITABLE_SUFFIXES else relative.with_name(relative.name + ".png")


def annotate_folder(
    images_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    emotion_model: Any = None,
    keypoints: bool = False,
    max_side: int = 1600,
) -> pd.DataFrame:
    """Annotate every photo in ``images_dir`` into ``out_dir`` and write ``emotions.csv``.

    Args:
        images_dir: folder of photos (subfolders included).
        out_dir: where the annotated copies and the CSV go (default ``images_dir/annotated``).
        emotion_model: a Keras model or ``.keras`` path; None uses the shipped model.
        keypoints: also draw the 15 keypoints (the shipped keypoint model).
        max_side: photos are analysed and drawn at most this many pixels on their longer
            side; boxes in the CSV are in the original photo's pixels.

    Returns the table written to ``out_dir/emotions.csv`` (its path is in ``.attrs["csv"]``).
    """
    folder = Path(images_dir)
    out = folder / "annotated" if out_dir is None else Path(out_dir)
    files = list_files(folder, out)
    pipeline: FramePipeline = photo_pipeline(emotion_model, keypoints=keypoints)
    rows: list[dict[str, Any]] = []
    for path in files:
        name = path.relative_to(folder).as_posix()
        try:
            photo = decode_image(path.read_bytes(), name)
        except NotAnImageError:
            rows.append({"file": name, "status": "not an image", "note": "not a readable image"})
            continue
        except OSError as e:
            rows.append({"file": name, "status": "not an image", "note": f"cannot read: {e}"})
            continue
        annotated, result = annotate_photo(photo, pipeline, max_side=max_side)
        target = out / _annotated_name(path.relative_to(folder))
        atomic_write_bytes(target, encode_image(annotated, target.suffix))
        if len(result.boxes) == 0:
            rows.append({"file": name, "status": "no face", "note": ""})
            continue
        to_photo = max(photo.shape[:2]) / max(annotated.shape[:2])  # undo annotate's shrink
        for i, (box, probs) in enumerate(zip(result.boxes, result.probabilities, strict=True)):
            x, y, w, h = (int(round(v * to_photo)) for v in box)
            row = {"file": name, "status": "ok", "note": "", "face": i, "x": x, "y": y}
            row |= {"w": w, "h": h, "emotion": EMOTIONS[int(np.argmax(probs))]}
            row |= dict(zip(PROBABILITY_COLUMNS, (float(p) for p in probs), strict=True))
            rows.append(row)

    frame = pd.DataFrame(rows, columns=INFO_COLUMNS + PROBABILITY_COLUMNS)
    for column in ("face", "x", "y", "w", "h"):
        frame[column] = frame[column].astype("Int64")
    frame["note"] = frame["note"].fillna("")
    frame["emotion"] = frame["emotion"].fillna("")
    csv_path = out / CSV_NAME
    atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.4f"))
    frame.attrs["csv"] = str(csv_path)
    frame.attrs["out"] = str(out)
    return frame


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.predict_emotions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--images", required=True, type=Path, help="folder of photos")
    parser.add_argument("--out", type=Path, default=None, help="output folder (DIR/annotated)")
    parser.add_argument("--model", type=Path, default=None, help=".keras emotion model")
    parser.add_argument("--keypoints", action="store_true", help="draw the 15 keypoints too")
    args = parser.parse_args(argv)
    if args.model is not None and not args.model.is_file():
        print(
            f"error: --model {str(args.model)!r}: no such file; expected a .keras model",
            file=sys.stderr,
        )
        return 2
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
