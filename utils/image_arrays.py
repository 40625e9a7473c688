"""Checks of image arrays shared by the learning code and the figures.

:func:`as_image_batch` accepts the shapes images come in (one image, a batch, with or without a
channel axis) and returns one shape; :func:`display_range` says on what scale to show them.
NumPy only, so ``utils.embeddings`` (learning) and ``utils.plotting``/``utils.widgets``
(figures) use the same checks without importing each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_image_batch(images: Any, name: str = "images") -> np.ndarray:
    """Return ``images`` as an array ``(N, H, W)`` (grayscale) or ``(N, H, W, 3)`` (colour).

    Accepts one image ``(H, W)``, a grayscale batch ``(N, H, W)``, or a batch with a channel
    axis ``(N, H, W, 1)`` / ``(N, H, W, 3)``. Raises ``ValueError`` for anything else.
    """
    arr = np.asarray(images)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 4:
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
        elif arr.shape[-1] != 3:
            raise ValueError(
                f"{name}: shape {arr.shape} has {arr.shape[-1]} channels; expected 1 or 3"
            )
    elif arr.ndim != 3:
        raise ValueError(
            f"{name}: shape {arr.shape}; expected (H, W), (N, H, W), (N, H, W, 1) or (N, H, W, 3)"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: got 0 images; expected at least one")
    if min(arr.shape[1:3]) == 0:
        raise ValueError(f"{name}: shape {arr.shape} has an empty height or width")
    return arr


def display_range(images: np.ndarray) -> tuple[float | None, float | None]:
    """The (vmin, vmax) to show images with: 0-255 for uint8, 0-1 for floats in [0, 1].

    A fixed range (rather than stretching each image's contrast) shows faces as they really
    are, so a dark or washed-out image looks dark or washed out.
    """
    if images.dtype == np.uint8:
        return 0.0, 255.0
    finite = images[np.isfinite(images)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        return 0.0, 1.0
    return None, None  # some other scale: let matplotlib stretch it
