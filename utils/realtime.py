"""Faces in real time: detect, crop and predict on every frame, fast enough for a webcam.

::

    pipeline = FramePipeline()                  # the shipped emotion model
    result = pipeline(frame)                    # boxes, probabilities, crops (and keypoints)
    pipeline.summary()                          # milliseconds per stage, frames per second
    annotated, result = annotate_photo(photo)   # one photo: detect, predict and draw
    run_webcam(0)                               # live, with steady labels (LabelSmoother)

The stages are :mod:`utils.faces` (find and crop), :mod:`utils.inference` (the models) and
:mod:`utils.annotate` (draw); the camera itself is :mod:`utils.camera`.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from utils.annotate import MAX_PHOTO_SIDE, annotate_frame, shrink
from utils.camera import camera_frames, widget_display, window_display
from utils.faces import (
    EMOTION_MARGIN,
    KEYPOINT_MARGIN,
    align_face,
    check_detector_args,
    crop_face,
    crop_to_image,
    detect_faces,
    detect_faces_and_landmarks,
    sample_photos,
    to_gray,
    to_rgb,
)
from utils.inference import (
    EMOTION_SIZE,
    KEYPOINT_SIZE,
    compiled,
    load_emotion_model,
    load_keypoint_model,
    predict_emotions,
    predict_keypoints,
)
from utils.schema import EMOTIONS

# --------------------------------------------------------------------------------------------
# The detect -> crop -> predict pipeline, with a timer on each stage
# --------------------------------------------------------------------------------------------


def load_model_arg(model: Any, loader: Callable[..., Any]) -> Any:
    """A Keras model: the shipped one (``model`` None, via ``loader``), one loaded from a
    ``.keras`` path, or ``model`` itself. A path that does not exist raises ValueError."""
    if model is None:
        return loader()
    if isinstance(model, str | os.PathLike):
        if not Path(model).is_file():
            raise ValueError(f"{os.fspath(model)!r}: no such file; expected a saved .keras model")
        return loader(model)
    return model


@dataclass
class FrameResult:
    """What :class:`FramePipeline` found in one frame (faces largest first).

    ``boxes`` ``(k, 4)`` ``x, y, w, h`` in the frame's pixels; ``probabilities`` ``(k, 7)`` in
    FER order; ``keypoints`` ``(k, 30)`` in the frame's pixels (None unless asked for);
    ``crops`` the ``(k, 48, 48)`` uint8 faces the emotion model saw.
    """

    boxes: np.ndarray
    probabilities: np.ndarray
    crops: np.ndarray
    keypoints: np.ndarray | None = None

    @property
    def emotions(self) -> list[str]:
        """The most likely emotion of each face."""
        return [EMOTIONS[i] for i in self.probabilities.argmax(axis=1)]


@dataclass
class FramePipeline:
    """Detect faces, crop them, predict their emotions (and keypoints) -- timing each stage.

    >>> pipeline = FramePipeline()               # the shipped emotion model
    >>> result = pipeline(frame)                 # doctest: +SKIP
    >>> result.emotions, pipeline.summary()["fps"]  # doctest: +SKIP

    Speed knobs (the defaults reach 30+ frames/s on a laptop CPU for 640x480 frames):

    Args:
        emotion_model: a Keras model or ``.keras`` path; None uses the shipped one.
        keypoint_model: the same for keypoints (used only with ``keypoints=True``).
        keypoints: also predict the 15 keypoints of each face.
        detector: ``"haar"`` (OpenCV's Haar cascade: the fast one) or ``"mtcnn"`` (finds
            turned faces, several times slower; ``python -m benchmarks.realtime`` times both).
        detect_width: detect on a copy shrunk to this width (None: full size). Haar's cost
            grows with the number of pixels, so half the width is about 4x faster.
        min_face: smallest face to find, in the frame's pixels (Haar's window is 24 px, so
            on the shrunk copy nothing smaller than ``24 / shrink`` is found anyway).
        scale_factor, min_neighbors: the Haar cascade's search settings (None: 1.2 and 5);
            min_confidence: MTCNN's (None: its default). See
            :func:`~utils.faces.detect_faces`; a setting of the other detector is an error.
        align: level the eyes before cropping (:func:`~utils.faces.align_face`; slower). With
            MTCNN its eye landmarks are used; with Haar, OpenCV's eye cascade.
        batch: predict all faces of a frame in one model call (else one call per face).
        max_faces: keep only the largest faces.
        detect_every: for video, search for faces only every n-th frame and reuse the boxes
            in between (faces move little in 1/30 s; detection is the slowest stage).
    """

    emotion_model: Any = None
    keypoint_model: Any = None
    keypoints: bool = False
    detect_width: int | None = 320
    min_face: int = 48
    scale_factor: float | None = None
    min_neighbors: int | None = None
    margin: float = EMOTION_MARGIN
    keypoint_margin: float = KEYPOINT_MARGIN
    align: bool = False
    batch: bool = True
    max_faces: int | None = None
    detect_every: int = 1
    detector: str = "haar"  # after the older fields, so positional arguments keep working
    min_confidence: float | None = None
    times: dict[str, list[float]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.detect_width is not None and self.detect_width < 24:
            raise ValueError(f"detect_width={self.detect_width!r}: expected None or >= 24 px")
        if self.min_face < 1:
            raise ValueError(f"min_face={self.min_face!r}: expected a positive number of pixels")
        if self.max_faces is not None and self.max_faces < 1:
            raise ValueError(f"max_faces={self.max_faces!r}: expected None or at least 1")
        if self.detect_every < 1:
            raise ValueError(f"detect_every={self.detect_every!r}: expected 1 or more frames")
        check_detector_args(
            self.detector,
            scale_factor=self.scale_factor,
            min_neighbors=self.min_neighbors,
            min_confidence=self.min_confidence,
        )
        if self.detector == "haar":  # the video defaults: a coarser search than for photos
            self.scale_factor = 1.2 if self.scale_factor is None else self.scale_factor
            self.min_neighbors = 5 if self.min_neighbors is None else self.min_neighbors
        self._frames_seen = 0
        self._last_boxes: tuple[tuple[int, ...], np.ndarray, np.ndarray | None] | None = None
        self._eyes: np.ndarray | None = None  # MTCNN's eye landmarks of the last detect()
        self._emotion = compiled(load_model_arg(self.emotion_model, load_emotion_model))
        self._keypoint = (
            compiled(load_model_arg(self.keypoint_model, load_keypoint_model))
            if self.keypoints
            else None
        )
        self.reset_timers()

    @property
    def stages(self) -> tuple[str, ...]:
        """The timed stages, in order."""
        return ("detect", "crop", "predict") + (("keypoints",) if self.keypoints else ())

    def reset_timers(self) -> None:
        """Forget the timings so far (e.g. after a warm-up frame)."""
        self.times = {stage: [] for stage in self.stages}

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Face boxes in ``image``'s pixels, found on a shrunk copy when ``detect_width`` says
        (Haar on the gray image; MTCNN on the colour one, keeping its eyes for ``align``)."""
        image = to_gray(image) if self.detector == "haar" else to_rgb(image)
        shrink = 1.0
        small = image
        if self.detect_width is not None and image.shape[1] > self.detect_width:
            shrink = self.detect_width / image.shape[1]
            small = cv2.resize(
                image,
                (self.detect_width, max(1, round(image.shape[0] * shrink))),
                interpolation=cv2.INTER_AREA,
            )
        side = max(1, round(self.min_face * shrink))
        self._eyes = None
        if self.detector == "mtcnn":
            boxes, points = detect_faces_and_landmarks(
                small, min_size=(side, side), min_confidence=self.min_confidence
            )
            self._eyes = ((points[:, :2] + 0.5) / shrink - 0.5)[: self.max_faces]  # in the frame
        else:
            boxes = detect_faces(
                small,
                scale_factor=self.scale_factor,
                min_neighbors=self.min_neighbors,
                min_size=(side, side),
            )
        if shrink != 1.0:
            boxes = np.round(boxes / shrink).astype(np.int64)
        return boxes[: self.max_faces]

    def _cut(self, gray: np.ndarray, box: Any, eyes: Any, size: int, margin: float) -> Any:
        """One face's crop (aligned when ``align``: on MTCNN's eyes if given) and transform."""
        if self.align:
            return align_face(gray, box, size, margin, eyes=eyes)
        return crop_face(gray, box, size, margin)

    def __call__(self, frame: np.ndarray) -> FrameResult:
        """Run the whole path on one uint8 frame (RGB, BGR or gray)."""
        start = time.perf_counter()
        gray = to_gray(frame)
        last = self._last_boxes
        if self._frames_seen % self.detect_every == 0 or last is None or last[0] != gray.shape:
            boxes = self.detect(frame)
            eyes = self._eyes if self._eyes is not None and len(self._eyes) == len(boxes) else None
            self._last_boxes = (gray.shape, boxes, eyes)
        else:  # between two searches: the faces are where they were a frame ago
            _, boxes, eyes = last
        self._frames_seen += 1
        t_detect = time.perf_counter()
        face_eyes = [None if eyes is None else eyes[i] for i in range(len(boxes))]

        crops = [
            self._cut(gray, box, e, EMOTION_SIZE, self.margin)[0]
            for box, e in zip(boxes, face_eyes, strict=True)
        ]
        faces = np.stack(crops) if crops else np.zeros((0, EMOTION_SIZE, EMOTION_SIZE), np.uint8)
        t_crop = time.perf_counter()

        if self.batch or len(faces) < 2:
            probs = predict_emotions(faces, model=self._emotion, tta=False)
        else:
            probs = np.concatenate(
                [predict_emotions(f, model=self._emotion, tta=False) for f in faces]
            )
        t_predict = time.perf_counter()
        self.times["detect"].append(t_detect - start)
        self.times["crop"].append(t_crop - t_detect)
        self.times["predict"].append(t_predict - t_crop)

        points = None
        if self._keypoint is not None:
            kp_crops, transforms = [], []
            for box, e in zip(boxes, face_eyes, strict=True):
                crop, transform = self._cut(gray, box, e, KEYPOINT_SIZE, self.keypoint_margin)
                kp_crops.append(crop)
                transforms.append(transform)
            size = (0, KEYPOINT_SIZE, KEYPOINT_SIZE)
            stack = np.stack(kp_crops) if kp_crops else np.zeros(size, np.uint8)
            on_crop = predict_keypoints(stack, model=self._keypoint)
            points = np.array(
                [crop_to_image(kp, t) for kp, t in zip(on_crop, transforms, strict=True)],
                dtype=np.float32,
            ).reshape(-1, on_crop.shape[1])
            self.times["keypoints"].append(time.perf_counter() - t_predict)
        return FrameResult(boxes=boxes, probabilities=probs, crops=faces, keypoints=points)

    def summary(self) -> dict[str, Any]:
        """Frames timed, frames per second, and each stage's mean milliseconds and share."""
        n = len(self.times["detect"])
        if n == 0:
            raise ValueError("no frames timed yet: call the pipeline on a frame first")
        ms = {stage: 1000 * float(np.mean(t)) for stage, t in self.times.items()}
        total = sum(ms.values())
        return {
            "frames": n,
            "fps": 1000 / total if total > 0 else math.inf,
            "ms": ms,
            "total_ms": total,
            "share": {stage: v / total if total > 0 else 0.0 for stage, v in ms.items()},
        }


class LabelSmoother:
    """Steady labels for live video: average each face's probabilities over the last frames.

    A classifier run frame by frame flickers -- one blurred frame says *surprise* between
    two *happy* ones. Averaging the last ``window`` probability vectors (about a third of a
    second at 30 frames/s) makes a single odd frame move the mean by only ``1/window``; a
    real change of expression wins after a few frames.

    >>> smoother = LabelSmoother(window=10)
    >>> label = smoother.update(probabilities)  # doctest: +SKIP
    """

    def __init__(self, window: int = 10, n_classes: int = 7) -> None:
        if window < 1:
            raise ValueError(f"window={window!r}: expected at least 1 frame")
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes!r}: expected at least 2 classes")
        self.window = int(window)
        self.n_classes = int(n_classes)
        self._history: deque[np.ndarray] = deque(maxlen=self.window)

    def update(self, probabilities: Any) -> int:
        """Add one frame's probabilities; return the index of the smoothed label."""
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if p.shape != (self.n_classes,) or not np.isfinite(p).all() or (p < 0).any():
            raise ValueError(
                f"probabilities: shape {np.asarray(probabilities).shape}; expected "
                f"{self.n_classes} finite non-negative numbers (one frame's softmax output)"
            )
        self._history.append(p)
        return int(self.probabilities.argmax())

    @property
    def probabilities(self) -> np.ndarray:
        """The mean probabilities over the frames kept (zeros before the first update)."""
        if not self._history:
            return np.zeros(self.n_classes)
        return np.mean(self._history, axis=0)

    def __len__(self) -> int:
        return len(self._history)

    def reset(self) -> None:
        """Forget the history (the face left the picture)."""
        self._history.clear()


# --------------------------------------------------------------------------------------------
# Photos: the same pipeline, set up for one large picture
# --------------------------------------------------------------------------------------------


def photo_pipeline(
    emotion_model: Any = None, keypoint_model: Any = None, *, keypoints: bool = True
) -> FramePipeline:
    """A :class:`FramePipeline` set up for photos rather than video: full-size detection with
    the finer Haar search (slower, finds more), keypoints included."""
    return FramePipeline(
        emotion_model,
        keypoint_model=keypoint_model,
        keypoints=keypoints,
        detect_width=None,
        min_face=40,
        scale_factor=1.1,
    )


def annotate_photo(
    image: np.ndarray,
    pipeline: FramePipeline | None = None,
    *,
    max_side: int = MAX_PHOTO_SIDE,
) -> tuple[np.ndarray, FrameResult]:
    """Detect, crop, predict and draw: the annotated RGB photo and what was found.

    The photo is first shrunk to ``max_side`` pixels (boxes and keypoints in the result are
    in the shrunk photo's pixels, which is also the annotated image's size).
    """
    small = shrink(to_rgb(image), max_side)
    pipeline = photo_pipeline() if pipeline is None else pipeline
    result = pipeline(small)
    annotated = annotate_frame(
        small, result.boxes, result.probabilities, keypoints=result.keypoints
    )
    return annotated, result


# --------------------------------------------------------------------------------------------
# Video: the live loop, test frames and a stopwatch
# --------------------------------------------------------------------------------------------


def run_webcam(
    source: int | str | Iterable[np.ndarray] = 0,
    *,
    pipeline: FramePipeline | None = None,
    window: int = 10,
    max_frames: int | None = None,
    seconds: float | None = 30.0,
    show: str | Callable[[np.ndarray], None] | None = "widget",
    draw_keypoints: bool = False,
) -> dict[str, Any]:
    """Live emotion recognition: detect, crop, predict and draw every frame, smoothing labels.

    Args:
        source: a camera index (0 = the default webcam), a video file, or any iterable of
            uint8 RGB frames.
        pipeline: the :class:`FramePipeline` to run (default: the shipped emotion model,
            searching for faces every 3rd frame -- the cheapest way to webcam speed).
        window: frames each label is averaged over (:class:`LabelSmoother`).
        max_frames, seconds: stop after this many frames or seconds (None: no limit; stop a
            notebook cell with the stop button -- the loop ends cleanly on KeyboardInterrupt).
        show: ``"widget"`` (an image in the notebook), ``"window"`` (an OpenCV window; q
            quits), None (nothing: benchmarking) or a function called with each annotated
            RGB frame.
        draw_keypoints: draw the 15 keypoints too (needs ``pipeline.keypoints``).

    Returns ``frames``, ``seconds``, ``fps`` (the whole loop, drawing included), ``labels``
    (the smoothed label of the largest face per frame, None without a face) and the
    pipeline's per-stage ``timing``. Raises :class:`~utils.camera.CameraUnavailableError`
    without a camera.
    """
    pipeline = FramePipeline(detect_every=3) if pipeline is None else pipeline
    frames: Iterable[np.ndarray] = (
        camera_frames(source) if isinstance(source, int | str) else source
    )
    if show == "widget":
        sink: Callable[[np.ndarray], None] | None = widget_display()
    elif show == "window":
        sink = window_display()
    elif show is None or callable(show):
        sink = show
    else:
        raise ValueError(f"show={show!r}: expected 'widget', 'window', None or a function")

    smoother = LabelSmoother(window=window, n_classes=len(EMOTIONS))
    labels: list[str | None] = []
    missing = 0
    start = time.perf_counter()
    try:
        for frame in frames:
            result = pipeline(frame)
            smoothed: list[str | None] = list(result.emotions)
            if len(result.boxes):
                missing = 0
                smoothed[0] = EMOTIONS[smoother.update(result.probabilities[0])]
                labels.append(smoothed[0])
            else:
                missing += 1
                if missing > window:  # the face has gone: start afresh for the next one
                    smoother.reset()
                labels.append(None)
            if sink is not None:
                probs = result.probabilities.copy()
                if len(probs):
                    probs[0] = smoother.probabilities
                sink(
                    annotate_frame(
                        frame,
                        result.boxes,
                        probs,
                        keypoints=result.keypoints if draw_keypoints else None,
                    )
                )
            if max_frames is not None and len(labels) >= max_frames:
                break
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
    except KeyboardInterrupt:
        pass  # the notebook's stop button or q in the window: a normal way to end
    finally:
        if show == "window":
            cv2.destroyAllWindows()
    elapsed = time.perf_counter() - start
    return {
        "frames": len(labels),
        "seconds": elapsed,
        "fps": len(labels) / elapsed if elapsed > 0 else 0.0,
        "labels": labels,
        "timing": pipeline.summary() if len(labels) else None,
    }


def realtime_frames(width: int = 640, height: int = 480) -> dict[str, np.ndarray]:
    """Webcam-sized RGB test frames made from :func:`~utils.faces.sample_photos` (offline).

    ``"one face"``: the astronaut photo fitted into the frame (her face is about 90 px wide
    at 640x480); ``"three faces"``: three head-and-shoulders cut-outs (Hopper, the astronaut,
    Hopper mirrored) side by side; ``"no face"``: scikit-image's coffee cup. Used by
    ``benchmarks/realtime.py`` and notebook 10.
    """
    import skimage.data

    def fit(photo: np.ndarray, w: int, h: int) -> np.ndarray:
        """``photo`` scaled to fit ``w`` x ``h``, centred on a gray background."""
        scale = min(w / photo.shape[1], h / photo.shape[0])
        new_w, new_h = max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale))
        small = cv2.resize(photo, (new_w, new_h), interpolation=cv2.INTER_AREA)
        canvas = np.full((h, w, 3), 128, np.uint8)
        top, left = (h - new_h) // 2, (w - new_w) // 2
        canvas[top : top + new_h, left : left + new_w] = small
        return canvas

    photos = sample_photos()
    astronaut, hopper = photos["astronaut"], photos["grace_hopper"]
    # Head-and-shoulders cut-outs: each face about a third of its panel's width.
    heads = [hopper[60:460, 40:460], astronaut[20:260, 110:340], hopper[60:460, 40:460, :][:, ::-1]]
    third = width // 3
    panels = [
        fit(h, w, height) for h, w in zip(heads, (third, width - 2 * third, third), strict=True)
    ]
    return {
        "one face": fit(astronaut, width, height),
        "three faces": np.ascontiguousarray(np.hstack(panels)),
        "no face": fit(skimage.data.coffee(), width, height),
    }


def time_pipeline(
    pipeline: FramePipeline, frame: np.ndarray, n_frames: int = 100, *, warmup: int = 3
) -> dict[str, Any]:
    """Run ``pipeline`` on ``frame`` ``n_frames`` times (after ``warmup`` untimed runs, which
    trace the compiled model) and return :meth:`FramePipeline.summary`, plus ``wall_fps``:
    frames per second by the wall clock around the whole loop."""
    if n_frames < 1:
        raise ValueError(f"n_frames={n_frames!r}: expected at least 1")
    for _ in range(max(0, warmup)):
        pipeline(frame)
    pipeline.reset_timers()
    start = time.perf_counter()
    for _ in range(n_frames):
        pipeline(frame)
    elapsed = time.perf_counter() - start
    summary = pipeline.summary()
    summary["wall_fps"] = n_frames / elapsed
    summary["faces"] = len(pipeline(frame).boxes)
    return summary
