"""Decoding image files into the arrays every loader returns.

Face data sets store pictures as JPEG, PNG, PGM (ORL) or TIFF (JAFFE), in colour or grey, in
8 or 16 bits, in many sizes. The loaders turn them all into one shape:

* :func:`decode_image` -- bytes to a NumPy image with OpenCV (a corrupt file raises
  :class:`utils.schema.DataFormatError` naming it);
* :func:`to_gray_uint8` -- grayscale, 8-bit, optionally resized to one size;
* :func:`decode_members` -- both, for many files of an :class:`utils.archives.Archive`, with
  ONE warning that counts the converted files (not one per file);
* :func:`to_float` -- uint8 ``(N, H, W)`` to float32 ``(N, H, W, 1)`` in [0, 1], the course's
  convention for images; :func:`compact_images` / :func:`expand_images` store such images as
  uint8 when that loses nothing (4x smaller caches) and read them back.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from utils.archives import Archive
from utils.schema import DataFormatError

#: File endings OpenCV decodes that face data sets use.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


def is_image_name(name: str) -> bool:
    """True when ``name`` ends in one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def decode_image(data: bytes, where: str) -> np.ndarray:
    """Decode image bytes (JPEG, PNG, PGM, ...) with OpenCV; corrupt data -> DataFormatError."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise DataFormatError(
            f"{where}: not a readable image (corrupt or not an image file); "
            f"expected one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    return image


def to_gray_uint8(image: np.ndarray, size: tuple[int, int] | None) -> tuple[np.ndarray, bool, bool]:
    """Grayscale uint8 image of ``size`` (h, w); and whether it needed (colour, size) conversion."""
    recoloured = resized = False
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) / np.iinfo(image.dtype).max * 255).round()
        image = image.clip(0, 255).astype(np.uint8)
        recoloured = True
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code) if image.shape[2] in (3, 4) else image[..., 0]
        recoloured = True
    if size is not None and image.shape != tuple(size):
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        resized = True
    return image, recoloured, resized


def decode_members(
    archive: Archive,
    names: list[str],
    size: tuple[int, int] | None,
    target: str,
    *,
    resize_expected: bool = False,
) -> np.ndarray:
    """Decode ``names`` from ``archive`` into a ``(N, h, w)`` uint8 stack.

    Images that had to be converted (colour, bit depth, or -- unless the caller asked for a
    size -- resized) are counted and reported in ONE warning, not one per file.
    """
    images: list[np.ndarray] = []
    n_changed = 0
    for name in names:
        data = decode_image(archive.read(name), archive.describe(name))
        image, recoloured, resized = to_gray_uint8(data, size)
        images.append(image)
        n_changed += recoloured or (resized and not resize_expected)
    if n_changed:
        warnings.warn(
            f"{archive.path}: {n_changed} of {len(names)} images were not {target}; converted "
            "them (colour to grayscale, resized with area interpolation)",
            UserWarning,
            stacklevel=3,  # point at the caller of load_fer2013 / load_identities
        )
    if not images:
        h, w = size if size is not None else (0, 0)
        return np.zeros((0, h, w), np.uint8)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataFormatError(
            f"{archive.path}: images have different sizes {sorted(shapes)[:4]}; "
            "pass size=(height, width) to resize them all to one size"
        )
    return np.stack(images)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W)`` -> float32 ``(N, H, W, 1)`` in [0, 1]: what every loader returns."""
    return (images.astype(np.float32) / np.float32(255.0))[..., None]


def compact_images(images: np.ndarray) -> np.ndarray:
    """Store [0, 1] float images as uint8 when that loses nothing (4x smaller caches)."""
    as_uint8 = np.rint(images * 255).clip(0, 255).astype(np.uint8)
    if np.array_equal(as_uint8.astype(np.float32) / np.float32(255.0), images):
        return as_uint8
    return images.astype(np.float32)


def expand_images(images: np.ndarray) -> np.ndarray:
    """The inverse of :func:`compact_images`: float32 in [0, 1] whatever was stored."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    return images.astype(np.float32)
