"""A classifier for "our colleagues' faces": a folder per person -> a fine-tuned ImageNet net.

Notebook 08's last step, the other way to recognise known people (an embedding needs no
retraining for a new person; this needs a few photos of each and a short fine-tuning):

    folder = export_person_folders(images, labels, names, "colleagues")  # folder/<name>/<n>.png
    train = keras.utils.image_dataset_from_directory(folder, image_size=(96, 96))
    model = colleague_classifier(len(names))  # ImageNet MobileNetV2 + a new softmax
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from utils.image_arrays import as_image_batch
from utils.io import atomic_write_bytes


def export_person_folders(
    images: Any, labels: Any, names: Sequence[str], folder: str | os.PathLike[str]
) -> Path:
    """Write faces as ``folder/<name>/<n>.png``: the layout you get by sorting photos of
    colleagues into one folder per person, and what ``keras.utils.image_dataset_from_directory``
    reads. Each file is written atomically. Returns ``folder``.

    ``folder`` must be new or empty: ``image_dataset_from_directory`` makes a class of every
    sub-folder, so people left over from an earlier export would silently become extra
    classes (and labels the new softmax cannot output).
    """
    import cv2

    batch = as_image_batch(images)
    y = np.asarray(labels)
    if len(y) != len(batch):
        raise ValueError(f"images, labels: {len(batch)} images but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= len(names)):
        raise ValueError(f"labels: expected indices into names (0..{len(names) - 1})")
    out = Path(folder)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(
            f"{out}: already exists and is not an empty folder; expected a new folder (delete "
            "it first: its old person folders would become extra classes)"
        )
    counters: dict[int, int] = {}
    for image, label in zip(batch, y, strict=True):
        pixels = image if image.dtype == np.uint8 else np.clip(image * 255 + 0.5, 0, 255)
        ok, png = cv2.imencode(".png", pixels.astype(np.uint8))
        if not ok:
            raise ValueError(f"could not encode an image of shape {image.shape} as PNG")
        counters[int(label)] = counters.get(int(label), 0) + 1
        atomic_write_bytes(
            out / str(names[int(label)]) / f"{counters[int(label)]}.png", png.tobytes()
        )
    return out


#: The name of the nested MobileNetV2 inside :func:`colleague_classifier`'s model.
MOBILENET_BACKBONE = "mobilenetv2"


def mobilenet_v2_backbone(
    image_size: int = 96, *, alpha: float = 0.35, weights: str | None = "imagenet"
) -> tuple[keras.Model, bool]:
    """``keras.applications.MobileNetV2`` without its top: ``(model, pretrained)``.

    ``weights="imagenet"`` downloads ImageNet weights once (a few MB). Offline, it warns with
    what to do and falls back to random weights (``pretrained`` False): the code still runs,
    but the "fine-tuning" is then training from scratch.
    """
    if weights not in ("imagenet", None):
        raise ValueError(f"weights={weights!r}: expected 'imagenet' or None")
    if image_size < 32:
        raise ValueError(f"image_size={image_size!r}: MobileNetV2 needs at least 32 pixels")

    def build(w: str | None) -> keras.Model:
        return keras.applications.MobileNetV2(
            input_shape=(image_size, image_size, 3),
            alpha=alpha,
            include_top=False,
            weights=w,
            pooling="avg",
            name=MOBILENET_BACKBONE,
        )

    if weights == "imagenet":
        try:
            return build("imagenet"), True
        except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...")
            if not isinstance(exc, OSError) and "fetch failure" not in str(exc):
                raise
            warnings.warn(
                f"Could not download MobileNetV2's ImageNet weights ({type(exc).__name__}: "
                f"{exc}). Continuing with random weights (weights=None): this trains from "
                "scratch, so expect far lower accuracy. Go online once (the file is cached in "
                "~/.keras/models) to fine-tune a real ImageNet model.",
                stacklevel=2,
            )
    return build(None), False


def colleague_classifier(
    n_people: int,
    *,
    image_size: int = 96,
    alpha: float = 0.35,
    weights: str | None = "imagenet",
    dropout: float = 0.2,
    freeze_base: bool | None = None,
) -> keras.Model:
    """An ImageNet MobileNetV2 with a new softmax over ``n_people``, for RGB 0-255 faces.

    The input is what ``keras.utils.image_dataset_from_directory(..., image_size=(s, s))``
    yields; MobileNetV2's preprocessing (to [-1, 1]) is a built-in ``Rescaling`` layer inside
    the model, so it saves and loads in safe mode. The model's name says whether the
    ImageNet weights could be loaded; the base is ``model.get_layer(MOBILENET_BACKBONE)``.

    Args:
        freeze_base: train only the new softmax (step 1 of fine-tuning: then unfreeze the
            base and continue with a small learning rate). None (the default) freezes an
            ImageNet base and trains a random one (offline) whole, from scratch. A frozen base
            always runs in inference mode (its batch-norm statistics stay as they are).
    """
    if n_people < 2:
        raise ValueError(f"n_people={n_people!r}: expected at least 2 people")
    base, pretrained = mobilenet_v2_backbone(image_size, alpha=alpha, weights=weights)
    frozen = pretrained if freeze_base is None else bool(freeze_base)
    base.trainable = not frozen
    inputs = keras.Input((image_size, image_size, 3), name="photo")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_minus1_1")(inputs)
    x = base(x, training=False if frozen else None)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_people, activation="softmax", name="person")(x)
    name = f"mobilenetv2_{'imagenet' if pretrained else 'scratch'}_{n_people}_people"
    return keras.Model(inputs, outputs, name=name)
