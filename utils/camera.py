"""Cameras: one snapshot, a stream of frames, and two ways to show frames as they come.

::

    photo = snapshot_from_camera()          # one RGB uint8 photo from the default webcam
    for frame in camera_frames(0): ...      # RGB frames until the camera stops
    show = widget_display()                 # show(frame) updates an image in the notebook

OpenCV opens the camera of the computer the *kernel* runs on: in Colab, Kaggle or a remote
JupyterLab that is the server, which has none -- :class:`CameraUnavailableError` says so.
The live emotion loop built on these is :func:`utils.realtime.run_webcam`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np


class CameraUnavailableError(RuntimeError):
    """No camera could be opened (none attached, in use, or the notebook runs on a server)."""


def _no_camera_message(source: Any) -> str:
    return (
        f"no camera could be opened at {source!r} (none attached, in use by another program, "
        "or no permission). In Colab, Kaggle or a remote JupyterLab, OpenCV sees the server's "
        "cameras, not your computer's: upload a photo instead (utils.widgets.upload_demo())."
    )


def _open_capture(source: int | str) -> Any:
    """``cv2.VideoCapture(source)`` without OpenCV's own warnings when there is no camera
    (our :class:`CameraUnavailableError` explains it better)."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        return cv2.VideoCapture(source)
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_ERROR)
    try:
        return cv2.VideoCapture(source)
    finally:
        log.setLogLevel(level)


def snapshot_from_camera(index: int = 0, *, warmup_frames: int = 5) -> np.ndarray:
    """One RGB uint8 photo from the camera at ``index`` (OpenCV).

    The first frames of many webcams are dark while auto-exposure settles, so
    ``warmup_frames`` are read and dropped first. Raises :class:`CameraUnavailableError`
    with an explanation when there is no camera.
    """
    capture = _open_capture(index)
    try:
        if not capture.isOpened():
            raise CameraUnavailableError(_no_camera_message(index))
        frame = None
        for _ in range(max(0, warmup_frames) + 1):
            ok, grabbed = capture.read()
            if ok:
                frame = grabbed
        if frame is None:
            raise CameraUnavailableError(f"the camera at {index!r} opened but sent no picture")
        return np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()


def camera_frames(source: int | str) -> Iterator[np.ndarray]:
    """RGB frames from a camera index or a video file, until it ends."""
    capture = _open_capture(source)
    try:
        if not capture.isOpened():
            raise CameraUnavailableError(_no_camera_message(source))
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def widget_display() -> Callable[[np.ndarray], None]:
    """Show frames in the notebook: one ``ipywidgets.Image`` updated in place."""
    import ipywidgets as widgets
    from IPython.display import display

    image = widgets.Image(format="jpeg")
    image.add_class("webcam-live")
    display(image)

    def show(frame: np.ndarray) -> None:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if ok:
            image.value = data.tobytes()

    return show


def window_display() -> Callable[[np.ndarray], None]:
    """Show frames in an OpenCV window (needs opencv-python, not the -headless wheel)."""

    def show(frame: np.ndarray) -> None:
        try:
            cv2.imshow("face-dl-course (q quits)", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        except cv2.error as e:
            raise RuntimeError(
                "OpenCV cannot open a window here (opencv-python-headless has no GUI); "
                "use show='widget' in a notebook or install opencv-python"
            ) from e
        if cv2.waitKey(1) & 0xFF == ord("q"):
            raise KeyboardInterrupt

    return show
