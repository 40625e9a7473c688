"""Generate the course's sample data: synthetic faces in the real data sets' exact formats.

    python -m data_scripts.make_sample_data --out data/sample
    python -m data_scripts.make_sample_data --preview lessons/figures/sample_faces.png

(the same as ``face-course sample-data`` and ``python -m utils.make_sample_data``). A thin
command line over :mod:`utils.sample_data` (which holds the generator, the manifest and the
layout); ``--preview`` saves the figure of ``lessons/sample_data.md``. The output is identical
byte for byte every run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from utils import synthetic as syn
from utils.command_line import CommandParser
from utils.config import sample_dir
from utils.io import atomic_write_bytes
from utils.sample_data import (
    SAMPLE_SEED,
    SampleDataError,
    generate,
    is_complete,
    read_manifest,
    rng_for,
)
from utils.schema import EMOTIONS


def preview(path: Path | str, seed: int = SAMPLE_SEED) -> Path:
    """Save a small PNG explaining the generator (used in ``lessons/sample_data.md``).

    Row 1: one person showing the seven emotions. Row 2: single action units at intensity 5
    on the same person. Row 3: the same neutral face under random poses, light, blur, noise
    and an occluder, with its 15 keypoints marked.
    """
    rng = rng_for(seed, "labels", 99)
    person = syn.sample_identity(rng, "preview")
    clean = syn.Imaging(background=200.0, noise=1.0)
    cell = 96

    def label(img: np.ndarray, text: str) -> np.ndarray:
        band = np.full((14, cell), 255, np.uint8)
        cv2.putText(band, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.36, 0, 1, cv2.LINE_AA)
        return np.vstack([band, img])

    emotions = []
    for emotion in EMOTIONS:
        aus = {a: 4 for a in syn.EMOTION_PROTOTYPES[emotion]["core"]}
        aus.update({a: 3 for a in syn.EMOTION_PROTOTYPES[emotion]["optional"]})
        if emotion == "disgust":
            aus["AU17"] = 3
        face = syn.render_face(person, aus, syn.Pose(), clean)
        emotions.append(label(face.image, emotion))
    units = []
    for au in ["AU1", "AU2", "AU4", "AU5", "AU6", "AU9", "AU12"]:
        face = syn.render_face(person, {au: 5}, syn.Pose(), clean)
        units.append(label(face.image, f"{au} only"))
    posed = []
    for k in range(7):
        imaging = syn.sample_imaging(rng, occluder_prob=1.0 if k == 6 else 0.0)
        face = syn.render_face(person, {}, syn.sample_pose(rng, "fer2013"), imaging)
        img = face.image.copy()
        for x, y in face.keypoints:
            cv2.circle(img, (int(round(x)), int(round(y))), 1, 255, -1)
        posed.append(label(img, "pose, light" if k < 6 else "occluder"))
    grid = np.vstack([np.hstack(row) for row in (emotions, units, posed)])
    path = Path(path)
    ok, png = cv2.imencode(".png", grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover
        raise SampleDataError(f"OpenCV could not encode {path}")
    atomic_write_bytes(path, png.tobytes())
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(
        "python -m data_scripts.make_sample_data",
        "Generate the course's synthetic sample data (identical bytes every run).",
        examples=["", "--out data/sample --force", "--preview sample_faces.png"],
    )
    parser.add_argument("--out", type=Path, default=None, help="folder (default: data/sample)")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    parser.add_argument("--scale", type=float, default=1.0, help="size factor (0.05 = tiny)")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--preview", type=Path, default=None, help="only save a preview PNG here")
    args = parser.parse_args(argv)
    if args.preview is not None:
        print(f"Preview saved to {preview(args.preview, args.seed)}")
        return 0
    if args.out is None:
        args.out = sample_dir()
    if not args.force and is_complete(args.out, seed=args.seed, scale=args.scale):
        print(f"{args.out} is up to date (generator {syn.GENERATOR_VERSION}, seed {args.seed})")
        return 0
    start = time.perf_counter()
    print(f"Generating sample data in {args.out} ...", flush=True)
    generate(args.out, args.seed, scale=args.scale, force=True, verbose=True)
    manifest = read_manifest(args.out) or {}
    size = int(manifest.get("total_bytes", 0)) / 1e6  # type: ignore[call-overload]
    print(f"Done in {time.perf_counter() - start:.1f} s ({time.process_time():.1f} s CPU): "
          f"{size:.1f} MB, "
          f"{len(manifest.get('files', {}))} files")  # type: ignore[arg-type]  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
