"""Draw what the models found on a photo: face boxes, emotion labels, emoji and keypoints.

::

    from utils.annotate import annotate_frame
    drawn = annotate_frame(photo, boxes, probabilities, keypoints=keypoints)  # RGB in, RGB out

Finding the faces and predicting is :mod:`utils.realtime` (``annotate_photo`` does all three
steps); this module only draws, decodes and encodes pictures, and makes figures of them.

The emoji are drawn with OpenCV's circles, ellipses and lines (:func:`emoji_image`) rather than
an emoji font, so they look the same offline, in CI and on every operating system.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
from matplotlib import colors
from matplotlib.figure import Figure

from utils.faces import to_rgb
from utils.plotting import SIDE_COLOURS, keypoint_sides
from utils.schema import EMOTIONS, KEYPOINT_COLUMNS

__all__ = [
    "EMOTION_COLOURS",
    "MAX_PHOTO_SIDE",
    "NotAnImageError",
    "annotate_frame",
    "decode_image",
    "emoji_image",
    "encode_image",
    "plot_emotion_probabilities",
    "plot_photos",
    "shrink",
]

#: Box and bar colour of each emotion (RGB), in FER order.
EMOTION_COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (220, 50, 40),
    "disgust": (110, 160, 40),
    "fear": (130, 90, 200),
    "happy": (250, 190, 0),
    "sad": (40, 110, 220),
    "surprise": (240, 120, 20),
    "neutral": (150, 150, 150),
}
#: Photos are shrunk to at most this many pixels on their longer side before analysis (a
#: 12-megapixel phone photo would make the Haar search take seconds) and before display.
MAX_PHOTO_SIDE = 1024

_INK = (60, 40, 30)
_SKIN = {
    "angry": (240, 110, 70),
    "disgust": (160, 205, 90),
    "fear": (180, 205, 245),
}
_YELLOW = (255, 205, 60)


class NotAnImageError(ValueError):
    """A file or upload that is not a picture OpenCV can decode."""


# --------------------------------------------------------------------------------------------
# Emoji, drawn with OpenCV primitives
# --------------------------------------------------------------------------------------------


def emoji_image(emotion: str, size: int = 64) -> np.ndarray:
    """A small emoji face for ``emotion`` as an RGBA uint8 ``(size, size, 4)`` image.

    Drawn 4x larger and averaged down, which smooths the edges (anti-aliasing by hand). The
    alpha channel is the round face, so :func:`annotate_frame` can paste it on any photo.
    """
    if emotion not in EMOTIONS:
        raise ValueError(f"emotion={emotion!r}: expected one of {EMOTIONS}")
    if size < 8:
        raise ValueError(f"size={size!r}: expected at least 8 pixels")
    big = 4 * size
    canvas = np.zeros((big, big, 3), np.uint8)
    alpha = np.zeros((big, big), np.uint8)

    def pt(u: float, v: float) -> tuple[int, int]:
        return int(round(u * big)), int(round(v * big))

    def ln(u: float) -> int:
        return max(1, int(round(u * big)))

    centre, radius = pt(0.5, 0.5), ln(0.47)
    cv2.circle(alpha, centre, radius, 255, -1, cv2.LINE_AA)
    cv2.circle(canvas, centre, radius, _SKIN.get(emotion, _YELLOW), -1, cv2.LINE_AA)
    cv2.circle(canvas, centre, radius, (200, 140, 20), ln(0.02), cv2.LINE_AA)
    thick = ln(0.045)
    eyes = (0.35, 0.42), (0.65, 0.42)

    # Eyes: closed smiling arcs (happy), wide open (surprise, fear), or plain dots.
    for u, v in eyes:
        if emotion == "happy":
            cv2.ellipse(canvas, pt(u, v + 0.03), (ln(0.07), ln(0.06)), 0, 180, 360, _INK, thick)
        elif emotion in ("surprise", "fear"):
            cv2.circle(canvas, pt(u, v), ln(0.09), (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(canvas, pt(u, v), ln(0.09), _INK, ln(0.015), cv2.LINE_AA)
            cv2.circle(canvas, pt(u, v + 0.01), ln(0.04), _INK, -1, cv2.LINE_AA)
        else:
            cv2.circle(canvas, pt(u, v), ln(0.055), _INK, -1, cv2.LINE_AA)

    # Eyebrows: the action units that tell the emotions apart (AU4 lowers, AU1 raises inner).
    brows = {
        "angry": [((0.22, 0.26), (0.44, 0.34)), ((0.78, 0.26), (0.56, 0.34))],
        "sad": [((0.22, 0.33), (0.42, 0.26)), ((0.78, 0.33), (0.58, 0.26))],
        "fear": [((0.22, 0.30), (0.42, 0.22)), ((0.78, 0.30), (0.58, 0.22))],
        "disgust": [((0.24, 0.31), (0.44, 0.33)), ((0.76, 0.31), (0.56, 0.33))],
    }
    for a, b in brows.get(emotion, []):
        cv2.line(canvas, pt(*a), pt(*b), _INK, thick, cv2.LINE_AA)
    if emotion == "surprise":
        for u, v in eyes:
            cv2.ellipse(canvas, pt(u, v - 0.1), (ln(0.09), ln(0.05)), 0, 200, 340, _INK, thick)

    # Mouths.
    if emotion == "happy":
        cv2.ellipse(canvas, pt(0.5, 0.6), (ln(0.22), ln(0.17)), 0, 0, 180, _INK, -1, cv2.LINE_AA)
        cv2.ellipse(
            canvas, pt(0.5, 0.6), (ln(0.16), ln(0.07)), 0, 0, 180, (255, 255, 255), -1, cv2.LINE_AA
        )
    elif emotion == "sad":
        cv2.ellipse(canvas, pt(0.5, 0.8), (ln(0.16), ln(0.09)), 0, 180, 360, _INK, thick)
    elif emotion == "angry":
        cv2.ellipse(canvas, pt(0.5, 0.77), (ln(0.15), ln(0.06)), 0, 180, 360, _INK, thick)
    elif emotion == "surprise":
        cv2.ellipse(canvas, pt(0.5, 0.72), (ln(0.08), ln(0.11)), 0, 0, 360, _INK, -1, cv2.LINE_AA)
    elif emotion == "fear":
        cv2.ellipse(canvas, pt(0.5, 0.72), (ln(0.17), ln(0.07)), 0, 0, 360, _INK, -1, cv2.LINE_AA)
        cv2.line(canvas, pt(0.36, 0.72), pt(0.64, 0.72), (255, 255, 255), ln(0.02), cv2.LINE_AA)
    elif emotion == "disgust":
        zigzag = np.array(
            [pt(0.32 + 0.06 * i, 0.72 + (0.03 if i % 2 else -0.03)) for i in range(7)]
        )
        cv2.polylines(canvas, [zigzag.astype(np.int32)], False, _INK, thick, cv2.LINE_AA)
    else:  # neutral
        cv2.line(canvas, pt(0.34, 0.72), pt(0.66, 0.72), _INK, thick, cv2.LINE_AA)

    rgba = np.dstack([canvas, alpha])
    return cv2.resize(rgba, (size, size), interpolation=cv2.INTER_AREA)


def _paste(image: np.ndarray, rgba: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend ``rgba`` onto RGB ``image`` with its top-left at (x, y), clipped."""
    h, w = rgba.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.shape[1], x + w), min(image.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    patch = rgba[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
    a = patch[..., 3:] / 255.0
    region = image[y0:y1, x0:x1].astype(np.float32)
    image[y0:y1, x0:x1] = np.round(a * patch[..., :3] + (1 - a) * region).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Annotating a photo or a video frame
# --------------------------------------------------------------------------------------------


def annotate_frame(
    image: np.ndarray,
    boxes: Any,
    probabilities: Any = None,
    *,
    keypoints: Any = None,
    emoji: bool = True,
    names: Sequence[str] = EMOTIONS,
) -> np.ndarray:
    """An RGB copy of ``image`` with each face's box, ``emotion NN%`` label and emoji drawn,
    plus its 15 keypoints when given (subject's left blue, right red, centre line green).

    Args:
        image: uint8 photo (gray, RGB or RGBA).
        boxes: ``(k, 4)`` face boxes ``x, y, w, h`` in the photo's pixels.
        probabilities: ``(k, len(names))`` probabilities of each face; None draws the
            boxes alone (what a detector found, before any emotion is predicted).
        keypoints: ``(k, 30)`` keypoints in the photo's pixels (Kaggle order), or None.
        emoji: paste the emoji of each face's emotion beside its box.
        names: the class names (FER order).
    """
    canvas = to_rgb(image)
    box_array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labelled = probabilities is not None
    probs = np.asarray(probabilities if labelled else [], dtype=np.float64)
    if not labelled:
        probs = np.zeros((len(box_array), len(names)))
    elif probs.size != len(box_array) * len(names):
        raise ValueError(
            f"probabilities: shape {np.asarray(probabilities).shape}; expected "
            f"({len(box_array)}, {len(names)}), one row per box"
        )
    probs = probs.reshape(len(box_array), len(names))
    points = None
    if keypoints is not None:
        points = np.asarray(keypoints, dtype=np.float64)
        if points.size != len(box_array) * len(KEYPOINT_COLUMNS):
            raise ValueError(
                f"keypoints: shape {np.asarray(keypoints).shape}; expected "
                f"({len(box_array)}, {len(KEYPOINT_COLUMNS)})"
            )
        points = points.reshape(len(box_array), len(KEYPOINT_COLUMNS))
    height, width = canvas.shape[:2]
    line = max(1, round(min(height, width) / 250))
    sides = keypoint_sides(KEYPOINT_COLUMNS)
    for i, (x, y, w, h) in enumerate(box_array):
        best = int(probs[i].argmax())
        name = names[best]
        colour = EMOTION_COLOURS.get(name, (255, 255, 0)) if labelled else (255, 255, 0)
        x0, y0, x1, y1 = (int(round(v)) for v in (x, y, x + w - 1, y + h - 1))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, line)  # axis-aligned: crisp
        if labelled:
            text = f"{name} {probs[i, best]:.0%}"
            scale = float(np.clip(w / 180, 0.4, 1.5))
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, line)
            ty = y0 - base - 2 if y0 - th - base - 4 >= 0 else y1 + th + 2  # above, else below
            cv2.rectangle(canvas, (x0, ty - th - 2), (x0 + tw + 4, ty + base), colour, -1)
            cv2.putText(
                canvas,
                text,
                (x0 + 2, ty),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (0, 0, 0),
                line,
                cv2.LINE_AA,
            )
            if emoji:
                size = int(np.clip(0.4 * w, 16, 160))
                ex = x1 + 3 if x1 + 3 + size <= width else x1 - size  # beside the box, else inside
                _paste(canvas, emoji_image(name, size), ex, y0)
        if points is not None:
            for j in range(0, points.shape[1], 2):
                px, py = points[i, j], points[i, j + 1]
                if np.isfinite(px) and np.isfinite(py):
                    rgb = tuple(int(255 * c) for c in colors.to_rgb(SIDE_COLOURS[sides[j // 2]]))
                    cv2.circle(canvas, (int(round(px)), int(round(py))), line + 1, rgb, -1)
    return canvas


def shrink(image: np.ndarray, max_side: int = MAX_PHOTO_SIDE) -> np.ndarray:
    """``image`` shrunk (never enlarged) so its longer side is at most ``max_side``."""
    height, width = image.shape[:2]
    factor = max_side / max(height, width)
    if factor >= 1:
        return image
    new = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, new, interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------------------------
# Files and bytes
# --------------------------------------------------------------------------------------------


def decode_image(data: bytes | bytearray | memoryview, name: str = "upload") -> np.ndarray:
    """Decode JPEG/PNG/BMP/TIFF/WebP bytes into an RGB uint8 image (phone photos are turned
    upright from their EXIF orientation). Raises :class:`NotAnImageError` naming ``name``."""
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if image is None:
        kind = "an empty file" if raw.size == 0 else f"{raw.size:,} bytes that are not a picture"
        raise NotAnImageError(
            f"{name}: {kind}; expected a photo OpenCV can read (JPEG, PNG, BMP, TIFF or WebP)"
        )
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode an RGB (or gray) uint8 image as PNG/JPEG bytes (``suffix`` picks the format)."""
    rgb = to_rgb(image)
    try:
        ok, data = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"suffix={suffix!r}: OpenCV cannot write this format; use .png or .jpg")
    return data.tobytes()


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def plot_emotion_probabilities(
    probabilities: Mapping[str, Any], *, names: Sequence[str] = EMOTIONS, title: str | None = None
) -> Figure:
    """Side-by-side bars of several predictions for one face, e.g.
    ``{"whole photo": p1, "face crop": p2}``; each value has one probability per name."""
    if not probabilities:
        raise ValueError("probabilities: expected at least one named prediction")
    rows = {}
    for label, p in probabilities.items():
        row = np.asarray(p, dtype=np.float64).reshape(-1)
        if row.shape != (len(names),):
            raise ValueError(
                f"probabilities[{label!r}]: shape {np.asarray(p).shape}; expected ({len(names)},)"
            )
        rows[label] = row
    figure = Figure(figsize=(7, 3), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / len(rows)
    positions = np.arange(len(names))
    for k, (label, row) in enumerate(rows.items()):
        bars = ax.bar(positions + (k - (len(rows) - 1) / 2) * width, row, width, label=label)
        ax.bar_label(bars, labels=[f"{v:.0%}" if v >= 0.05 else "" for v in row], fontsize=7)
    ax.set_xticks(positions, list(names))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("probability")
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    return figure


def plot_photos(images: Sequence[np.ndarray], titles: Sequence[str] | None = None) -> Figure:
    """A row of photos of any sizes (RGB or gray uint8), each with its title."""
    if not images:
        raise ValueError("images: expected at least one photo")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles: {len(titles)} titles for {len(images)} photos")
    figure = Figure(figsize=(3.2 * len(images), 3.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(images)))
    for i, (ax, image) in enumerate(zip(axes, images, strict=True)):
        array = np.asarray(image)
        gray = array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1)
        ax.imshow(array.squeeze(), cmap="gray" if gray else None, vmin=0, vmax=255)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    return figure
