"""The two face detectors side by side: OpenCV's Haar cascade and MTCNN (notebook 10).

::

    comparison = compare_detectors()      # the sample photos, turned copies, webcam frames
    comparison.summary                    # per detector: faces found, false boxes, ms/frame
    comparison.table                      # the same, image by image
    side_by_side({"haar": FramePipeline(), "mtcnn": FramePipeline(detector="mtcnn")}, frame)

**The test images** (all offline): the two sample photos (:func:`~utils.faces.sample_photos`:
the astronaut and Grace Hopper, one face each), copies of them turned about the photo's centre
by each of ``rotations`` degrees, and the three 640x480 webcam test frames
(:func:`~utils.realtime.realtime_frames`: one face, three faces, none).

**Ground truth.** How many faces each upright image holds is known (1, 1, 1, 3 and 0). Where
they are is derived: on each upright image, a *face region* is a Haar box and an MTCNN box that
agree -- each box's centre lies inside the other box -- and the region is the rectangle around
both. The derivation is checked: the number of agreeing pairs must equal the known number of
faces, or :func:`comparison_images` raises. A turned copy keeps its photo's regions, and a box
found on it is mapped back through the inverse rotation.

**Scoring.** A box *finds* a face when its centre lies inside a face region not already found
by a larger box of the same detector; every other box is a *false box* (a wrong place, or a
second box on a face already found). **Speed** is the median milliseconds of one full-size
detection (each detector's photo defaults) on the 640x480 frames, the detectors taking turns
frame by frame so that a busy machine slows both alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pandas as pd

from utils.faces import DETECTORS, detect_faces, sample_photos
from utils.realtime import FramePipeline, realtime_frames

#: How many faces each upright test image holds (the photos' and the frame builder's).
KNOWN_FACES = {"astronaut": 1, "grace_hopper": 1, "one face": 1, "three faces": 3, "no face": 0}
#: The default turns of the photos, in degrees anticlockwise.
ROTATIONS = (15, 30, 45)


@dataclass(frozen=True, eq=False)
class LabelledImage:
    """One image of the comparison: its face regions (``x, y, w, h`` in the *upright*
    image's pixels), the 2x3 map from this image's pixels back to the upright one's, and the
    boxes each detector already found on it (an upright image's, used for its regions)."""

    name: str
    image: np.ndarray
    regions: np.ndarray
    to_upright: np.ndarray
    degrees: float = 0.0
    found: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


@dataclass(eq=False)
class DetectorComparison:
    """What :func:`compare_detectors` measured: ``summary`` (one row per detector),
    ``table`` (one row per image), and the boxes each detector found on each image."""

    summary: pd.DataFrame
    table: pd.DataFrame
    images: list[LabelledImage]
    boxes: dict[str, dict[str, np.ndarray]] = field(repr=False)


def rotate(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned ``degrees`` anticlockwise (on screen) about its centre, the same size
    (the corners repeat the edge pixels), and the 2x3 map from the turned pixels back."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    turned = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    return turned, cv2.invertAffineTransform(matrix)


def _centres(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, :2] + boxes[:, 2:] / 2


def _inside(point: np.ndarray, box: np.ndarray) -> bool:
    x, y, w, h = box
    return bool(x <= point[0] <= x + w and y <= point[1] <= y + h)


def agreed_regions(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The face regions two detectors agree on: each pair of boxes whose centres lie inside
    each other's box (a box pairs at most once), as the ``x, y, w, h`` rectangle around both."""
    regions, used = [], set()
    for a, ca in zip(np.reshape(first, (-1, 4)), _centres(first), strict=True):
        for j, (b, cb) in enumerate(
            zip(np.reshape(second, (-1, 4)), _centres(second), strict=True)
        ):
            if j not in used and _inside(ca, b) and _inside(cb, a):
                used.add(j)
                x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                regions.append([x0, y0, x1 - x0, y1 - y0])
                break
    return np.asarray(regions, dtype=np.float64).reshape(-1, 4)


def score_boxes(boxes: Any, test: LabelledImage) -> tuple[int, int]:
    """``(faces found, false boxes)`` of ``boxes`` (largest first) found on ``test.image``."""
    centres = _centres(boxes)
    if len(centres):
        centres = centres @ test.to_upright[:, :2].T + test.to_upright[:, 2]
    found: set[int] = set()
    false = 0
    for centre in centres:
        hit = next(
            (i for i, r in enumerate(test.regions) if i not in found and _inside(centre, r)), None
        )
        if hit is None:
            false += 1
        else:
            found.add(hit)
    return len(found), false


def comparison_images(rotations: Any = ROTATIONS) -> list[LabelledImage]:
    """The comparison's images with their face regions (see the module's docstring): the two
    sample photos, each turned by every angle in ``rotations``, and the three webcam frames.

    Raises RuntimeError when the two detectors do not agree on exactly the known number of
    faces of an upright image (the ground truth could not be derived).
    """
    degrees_list = [float(d) for d in np.atleast_1d(np.asarray(rotations, dtype=np.float64))]
    upright = {**sample_photos(), **realtime_frames(640, 480)}
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    tests = []
    for name, image in upright.items():
        found = {method: detect_faces(image, method=method) for method in ("haar", "mtcnn")}
        regions = agreed_regions(found["haar"], found["mtcnn"])
        if len(regions) != KNOWN_FACES[name]:
            raise RuntimeError(
                f"{name}: the Haar cascade and MTCNN agree on {len(regions)} face(s), but the "
                f"image holds {KNOWN_FACES[name]}; the ground truth could not be derived"
            )
        tests.append(LabelledImage(name, image, regions, identity, found=found))
        if name in ("astronaut", "grace_hopper"):
            for degrees in degrees_list:
                turned, back = rotate(image, degrees)
                tests.append(
                    LabelledImage(f"{name} {degrees:g} deg", turned, regions, back, degrees)
                )
    return tests


def compare_detectors(
    images: list[LabelledImage] | None = None,
    *,
    methods: tuple[str, ...] = DETECTORS,
    repeats: int = 3,
) -> DetectorComparison:
    """Run each detector (its photo defaults) on every test image, score it against the face
    regions, and time it on the 640x480 frames, the detectors taking turns.

    Args:
        images: the test images (None: :func:`comparison_images` with the default turns).
        methods: the detectors, as ``detect_faces``' ``method``.
        repeats: timed passes over the 640x480 frames.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats!r}: expected at least 1 timed pass")
    for method in methods:
        detect_faces(np.zeros((48, 48), np.uint8), method=method)  # checks it; loads MTCNN
    tests = comparison_images() if images is None else images
    boxes: dict[str, dict[str, np.ndarray]] = {m: {} for m in methods}
    rows = []
    for test in tests:
        row: dict[str, Any] = {"image": test.name, "faces": len(test.regions)}
        for method in methods:
            found = test.found.get(method)
            found = detect_faces(test.image, method=method) if found is None else found
            boxes[method][test.name] = found
            row[f"{method} found"], row[f"{method} false"] = score_boxes(found, test)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("image")

    frames = [t.image for t in tests if t.image.shape[:2] == (480, 640)]
    if not frames:
        frames = list(realtime_frames(640, 480).values())
    times: dict[str, list[float]] = {m: [] for m in methods}
    for _ in range(repeats):
        for frame in frames:
            for method in methods:  # side by side: a busy moment slows both detectors alike
                start = time.perf_counter()
                detect_faces(frame, method=method)
                times[method].append(1000 * (time.perf_counter() - start))
    summary = pd.DataFrame(
        [
            {
                "detector": method,
                "images": len(tests),
                "faces": int(table["faces"].sum()),
                "found": int(table[f"{method} found"].sum()),
                "false boxes": int(table[f"{method} false"].sum()),
                "ms per 640x480 frame": float(np.median(times[method])),
            }
            for method in methods
        ]
    ).set_index("detector")
    return DetectorComparison(summary=summary, table=table, images=tests, boxes=boxes)


def side_by_side(
    pipelines: dict[str, FramePipeline], frame: np.ndarray, n_frames: int = 30, *, block: int = 10
) -> dict[str, dict[str, Any]]:
    """Time several pipelines on ``frame`` taking turns, ``block`` frames each, until each has
    run ``n_frames`` (after 3 untimed warm-up frames each), so a busy machine slows them alike.

    Returns, per pipeline, :meth:`~utils.realtime.FramePipeline.summary` plus ``wall_fps``
    (frames per second by the wall clock), ``cpu_ms`` (process CPU time per frame) and
    ``faces`` (found in ``frame``).
    """
    if n_frames < 1 or block < 1:
        raise ValueError(f"n_frames={n_frames!r}, block={block!r}: expected at least 1 each")
    wall = dict.fromkeys(pipelines, 0.0)
    cpu = dict.fromkeys(pipelines, 0.0)
    for pipeline in pipelines.values():
        for _ in range(3):
            pipeline(frame)
        pipeline.reset_timers()
    done = 0
    while done < n_frames:
        size = min(block, n_frames - done)
        for name, pipeline in pipelines.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(size):
                pipeline(frame)
            wall[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - start_cpu
        done += size
    results = {}
    for name, pipeline in pipelines.items():
        summary = pipeline.summary()
        summary["wall_fps"] = n_frames / wall[name]
        summary["cpu_ms"] = 1000 * cpu[name] / n_frames
        summary["faces"] = len(pipeline(frame).boxes)
        results[name] = summary
    return results
