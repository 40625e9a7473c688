"""Benchmark: can face detection + emotion recognition keep up with a webcam (30 frames/s)?

Times the full path of ``utils.realtime.FramePipeline`` -- detect, crop to 48x48, predict the
emotion -- on 640x480 frames made from photos that ship with the libraries
(``utils.realtime.realtime_frames``: one face, three faces, no face), and prints

* frames per second and each stage's share of the time with each face detector side by side
  (OpenCV's Haar cascade, the default, and MTCNN), searching every frame and every 3rd frame
  (what ``run_webcam`` does), the default real-time settings otherwise; the pipelines take
  turns in blocks of frames (``utils.detector_comparison.side_by_side``), so a busy machine
  slows them alike;
* the slower "photo" settings (full-size detection, finer search);
* what each speed knob buys: detecting on a shrunk copy, a coarser ``scale_factor``, a larger
  smallest face, searching only every n-th frame;
* three faces in one model call (a batch) versus one call per face;
* the model call itself: ``model.predict`` per frame versus the compiled ``tf.function``.

    python -m benchmarks.realtime                  # the shipped emotion model
    python -m benchmarks.realtime --quick          # only the detectors side by side
    python -m benchmarks.realtime --model my.keras --frames 200

Wall-clock numbers depend on what else the machine is doing, so the process CPU time per
frame is printed too (for the single-threaded OpenCV stages it is what an idle core would
take). Nothing is asserted: these are measurements to read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any


def _row(label: str, summary: dict[str, Any], cpu_ms: float) -> str:
    ms = summary["ms"]
    shares = "  ".join(f"{k} {100 * v:4.1f}%" for k, v in summary["share"].items())
    return (
        f"{label:<34} {summary['faces']:>5} {summary['wall_fps']:>7.1f} "
        f"{summary['total_ms']:>8.1f} {cpu_ms:>7.1f}   "
        f"detect {ms['detect']:5.1f} crop {ms['crop']:4.1f} predict {ms['predict']:5.1f} ms  "
        f"({shares})"
    )


def _timed(pipeline: Any, frame: Any, n: int) -> tuple[dict[str, Any], float]:
    from utils.realtime import time_pipeline

    cpu = time.process_time()
    summary = time_pipeline(pipeline, frame, n)
    cpu_ms = 1000 * (time.process_time() - cpu) / (n + 4)  # time_pipeline runs n + 4 frames
    return summary, cpu_ms


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.realtime",
        description="frames/s of detect + crop + predict on 640x480 frames",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", default=None, help=".keras emotion model (default: shipped)")
    parser.add_argument("--frames", type=int, default=100, help="timed frames per setting")
    parser.add_argument("--quick", action="store_true", help="only the detectors side by side")
    args = parser.parse_args(argv)
    from utils.setup import quiet_tensorflow

    quiet_tensorflow()  # before anything loads it: no C++ start-up lines
    if args.frames < 1:
        parser.error(f"--frames {args.frames}: expected a positive number")

    import cv2
    import numpy as np

    from utils.detector_comparison import side_by_side
    from utils.environment import report_environment
    from utils.inference import load_emotion_model
    from utils.realtime import FramePipeline, realtime_frames

    report_environment()
    print(f"CPU cores visible: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")
    frames = realtime_frames(640, 480)
    model = load_emotion_model(args.model)
    print(f"emotion model: {args.model or 'shipped'} ({model.count_params():,} parameters)")

    header = (
        f"{'setting':<34} {'faces':>5} {'fps':>7} {'ms/frame':>8} {'cpu ms':>7}   stages (mean)"
    )
    print(
        "\n== The full path with each detector, side by side: searching every frame "
        "(FramePipeline(detector=...)) and every 3rd frame (run_webcam's live loop) =="
    )
    print(header)
    detectors = {
        f"{d}{suffix}": FramePipeline(model, detector=d, detect_every=every)
        for every, suffix in ((1, ""), (3, ", every 3rd"))
        for d in ("haar", "mtcnn")
    }
    fps: dict[str, list[float]] = {d: [] for d in detectors}
    for name, frame in frames.items():
        for detector, summary in side_by_side(detectors, frame, args.frames).items():
            print(_row(f"{name}, {detector}", summary, summary["cpu_ms"]))
            fps[detector].append(summary["wall_fps"])
    print("slowest frame (the webcam needs 30 frames/s):")
    for detector, values in fps.items():
        print(f"  {detector:<20} {min(values):5.1f} frames/s")
    if args.quick:
        return 0

    one, three = frames["one face"], frames["three faces"]
    print("\n== Speed knobs, one face per frame ==")
    print(header)
    settings: list[tuple[str, dict[str, Any]]] = [
        ("photo settings (full size, 1.1)", {"detect_width": None, "scale_factor": 1.1}),
        ("full-size detection", {"detect_width": None}),
        ("detect at 320 px (default)", {}),
        ("detect at 320 px, scale 1.3", {"scale_factor": 1.3}),
        ("detect at 320 px, faces >= 80 px", {"min_face": 80}),
        ("detect every 3rd frame", {"detect_every": 3}),
        ("+ eye alignment", {"align": True}),
        ("+ keypoints", {"keypoints": True}),
        ("mtcnn, faces >= 80 px", {"detector": "mtcnn", "min_face": 80}),
        ("mtcnn, + alignment on its eyes", {"detector": "mtcnn", "align": True}),
    ]
    for label, kwargs in settings:
        summary, cpu_ms = _timed(FramePipeline(model, **kwargs), one, args.frames)
        print(_row(label, summary, cpu_ms))

    print("\n== Three faces: one model call for all (batch) vs one call per face ==")
    print(header)
    for label, batch in (("batch of 3 faces", True), ("one face at a time", False)):
        summary, cpu_ms = _timed(FramePipeline(model, batch=batch), three, args.frames)
        print(_row(label, summary, cpu_ms))

    print("\n== The model call alone, one 48x48 face ==")
    face = np.zeros((1, 48, 48, 1), np.float32)
    pipeline = FramePipeline(model)
    compiled = pipeline._emotion  # the tf.function the pipeline uses
    calls: list[tuple[str, Any]] = [
        ("model.predict(x)", lambda: model.predict(face, verbose=0)),
        ("model(x, training=False)", lambda: model(face, training=False)),
        ("compiled tf.function", lambda: compiled(face)),
    ]
    for label, call in calls:
        for _ in range(3):
            call()
        n = max(10, args.frames // 2)
        start = time.perf_counter()
        for _ in range(n):
            np.asarray(call())
        ms = 1000 * (time.perf_counter() - start) / n
        print(f"{label:<34} {ms:7.2f} ms per call")
    print(f"\nOpenCV threads: {cv2.getNumThreads()}; load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
