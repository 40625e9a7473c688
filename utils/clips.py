"""Short synthetic video clips for the real-time lessons: a face whose expression changes.

A label smoother (``utils.realtime.LabelSmoother``) only shows what it does on frames whose
raw label flickers. Real webcam footage does that by itself; a notebook that must run
offline and give the same result every time needs a clip it can make: one face fading into
another expression, with a wobble and camera noise, drawn from a seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Box = Sequence[int]  # (x, y, width, height), as utils.faces.detect_faces returns


def _padded(box: Box, pad: float) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in box)
    return int(y - pad * h), int(x - pad * w), int(w * (1 + 2 * pad)), int(h * (1 + 2 * pad))


def swap_face(
    frame: np.ndarray, box: Box, donor: np.ndarray, donor_box: Box, *, pad: float = 0.35
) -> np.ndarray:
    """``frame`` with the face in ``box`` replaced by the face in ``donor_box`` of ``donor``.

    Both boxes grow by ``pad`` of their size on each side (forehead, chin and cheeks come
    along); the donor face is resized to fit and blended in through a soft-edged oval, so no
    seam draws a detector's or a classifier's attention. Returns a new uint8 image.
    """
    frame = np.asarray(frame)
    donor = np.asarray(donor)
    if frame.dtype != np.uint8 or donor.dtype != np.uint8:
        raise ValueError(f"frame {frame.dtype}, donor {donor.dtype}: expected uint8 images")
    if frame.ndim != donor.ndim or frame.shape[2:] != donor.shape[2:]:
        raise ValueError(f"frame {frame.shape}, donor {donor.shape}: expected the same channels")
    top, left, width, height = _padded(box, pad)
    d_top, d_left, d_width, d_height = _padded(donor_box, pad)
    inside = (
        top >= 0
        and left >= 0
        and top + height <= frame.shape[0]
        and left + width <= frame.shape[1]
        and d_top >= 0
        and d_left >= 0
        and d_top + d_height <= donor.shape[0]
        and d_left + d_width <= donor.shape[1]
    )
    if not inside:
        raise ValueError(f"box {tuple(box)} or donor_box {tuple(donor_box)} with pad={pad}: "
                         "the padded face must lie inside its image")  # fmt: skip
    face = donor[d_top : d_top + d_height, d_left : d_left + d_width]
    face = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    edge = np.zeros((height, width), np.float32)  # 1 on an oval over the face, 0 outside
    centre, axes = (width // 2, height // 2), (int(width * 0.42), int(height * 0.48))
    cv2.ellipse(edge, centre, axes, 0, 0, 360, 1, -1)
    soft = np.asarray(cv2.GaussianBlur(edge, (0, 0), max(width * 0.06, 0.5)), np.float32)
    if frame.ndim == 3:
        soft = soft[..., None]
    out = frame.astype(np.float32)
    area = out[top : top + height, left : left + width]  # a view: writes into `out`
    area[:] = area * (1 - soft) + face * soft
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def expression_clip(
    start: np.ndarray,
    end: np.ndarray,
    *,
    n_frames: int = 30,
    first: float = 0.3,
    wobble: float = 0.25,
    noise: float = 15.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """``n_frames`` uint8 frames fading from ``start`` towards ``end``, as a shaky webcam would.

    Frame ``i`` is ``(1 - a) * start + a * end`` plus Gaussian camera noise (``noise`` grey
    levels), with ``a`` rising from ``first`` to 1 and a random ``wobble`` around that line:
    the expression drifts back and forth while it changes, so a frame-by-frame classifier's
    label flickers near the middle. The same ``seed`` gives the same clip.
    """
    start, end = np.asarray(start), np.asarray(end)
    if start.shape != end.shape:
        raise ValueError(f"start {start.shape}, end {end.shape}: expected the same shape")
    if n_frames < 2:
        raise ValueError(f"n_frames={n_frames!r}: expected at least 2")
    rng = np.random.default_rng(seed)
    mix = np.clip(np.linspace(first, 1.0, n_frames) + rng.normal(0, wobble, n_frames), 0, 1)
    a, b = start.astype(np.float32), end.astype(np.float32)
    return [
        np.clip((1 - m) * a + m * b + rng.normal(0, noise, a.shape), 0, 255).astype(np.uint8)
        for m in mix
    ]
