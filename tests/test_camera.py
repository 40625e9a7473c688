"""utils.camera: a snapshot and a stream of frames, with a stand-in for OpenCV's camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from utils import camera
from utils.realtime import run_webcam


class _FakeCapture:
    """Stands in for cv2.VideoCapture: ``frames`` BGR frames, or no camera at all."""

    def __init__(self, frames: list[np.ndarray] | None) -> None:
        self.frames = list(frames or [])
        self.opened = frames is not None
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        return (True, self.frames.pop(0)) if self.frames else (False, None)

    def release(self) -> None:
        self.released = True


def test_snapshot_without_a_camera_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeCapture(None)
    monkeypatch.setattr(cv2, "VideoCapture", lambda index: fake)
    with pytest.raises(camera.CameraUnavailableError, match="upload a photo"):
        camera.snapshot_from_camera(0)
    assert fake.released
    with pytest.raises(camera.CameraUnavailableError, match="no camera"):
        run_webcam(0, pipeline=object(), show=None)  # type: ignore[arg-type]


def test_snapshot_returns_the_last_warmed_up_frame_as_rgb(monkeypatch: pytest.MonkeyPatch) -> None:
    bgr = [np.full((4, 6, 3), (i, 0, 255), np.uint8) for i in range(4)]
    fake = _FakeCapture(bgr)
    monkeypatch.setattr(cv2, "VideoCapture", lambda index: fake)
    photo = camera.snapshot_from_camera(0, warmup_frames=2)
    assert photo.shape == (4, 6, 3) and tuple(photo[0, 0]) == (255, 0, 2)  # frame 2, RGB
    assert fake.released


def test_camera_frames_are_rgb_until_the_camera_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeCapture([np.full((2, 3, 3), (0, 0, 255), np.uint8)] * 3)
    monkeypatch.setattr(cv2, "VideoCapture", lambda source: fake)
    frames = list(camera.camera_frames("clip.mp4"))
    assert len(frames) == 3 and all(tuple(f[0, 0]) == (255, 0, 0) for f in frames)
    assert fake.released
