"""Refresh the README's two screenshots (docs/screenshots/) from the browser tests.

    .venv/bin/python tests/browser/update_screenshots.py            # run the two tests, copy
    .venv/bin/python tests/browser/update_screenshots.py --no-run   # copy the last run's

The browser tests write every step's screenshot to build/screenshots/ (git-ignored) and never
touch docs/. This script runs the notebook 00 and 10 browser tests, then copies their widget
screenshots into docs/screenshots/, cropped to the content and kept under 150 KB (shrunk, then
reduced to 256 colours if need be) so the repository stays small.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageChops

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_harness import DOCS_SCREENSHOTS, REPO, SCREENSHOTS  # noqa: E402

#: build/screenshots/<source> -> docs/screenshots/<target>
SHOTS = {
    "00_face_browser.png": "face_browser.png",
    "10_annotated_photo.png": "annotated_photo.png",
}
MAX_BYTES = 150_000
TESTS = ["tests/browser/test_browser_nb00.py", "tests/browser/test_browser_nb10.py"]


def crop_to_content(image: Image.Image) -> Image.Image:
    """Cut the empty (background-coloured) margins, keeping a few pixels of border."""
    rgb = image.convert("RGB")
    background = Image.new("RGB", rgb.size, rgb.getpixel((rgb.width - 1, rgb.height - 1)))
    box = ImageChops.difference(rgb, background).getbbox()
    if box is None:
        return rgb
    pad = 4
    left, top, right, bottom = box
    return rgb.crop(
        (
            max(0, left - pad),
            max(0, top - pad),
            min(rgb.width, right + pad),
            min(rgb.height, bottom + pad),
        )
    )


def small_png(image: Image.Image, max_bytes: int = MAX_BYTES) -> bytes:
    """PNG bytes of ``image`` under ``max_bytes``: as is, else 256 colours, else smaller."""
    candidate = image
    while True:
        for version in (candidate, candidate.quantize(256, method=Image.Quantize.FASTOCTREE)):
            buffer = io.BytesIO()
            version.save(buffer, format="PNG", optimize=True)
            if buffer.tell() <= max_bytes:
                return buffer.getvalue()
        if min(candidate.size) < 120:
            raise ValueError(f"cannot fit a {image.size} screenshot under {max_bytes} bytes")
        candidate = candidate.resize(
            (int(candidate.width * 0.85), int(candidate.height * 0.85)), Image.Resampling.LANCZOS
        )


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-run", action="store_true", help="copy the last run's screenshots")
    args = parser.parse_args(argv)
    if not args.no_run:
        done = subprocess.run([sys.executable, "-m", "pytest", *TESTS, "-q"], cwd=REPO)
        if done.returncode != 0:
            print("the browser tests failed; docs/screenshots/ left as it was", file=sys.stderr)
            return done.returncode
    for source, target in SHOTS.items():
        path = SCREENSHOTS / source
        if not path.exists():
            print(f"{path} is missing: run the browser tests first", file=sys.stderr)
            return 1
        with Image.open(path) as image:
            data = small_png(crop_to_content(image))
        write_atomically(DOCS_SCREENSHOTS / target, data)
        print(f"{DOCS_SCREENSHOTS / target}: {len(data) / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
