"""A classifier for "our colleagues' faces": a folder per person -> a fine-tuned ImageNet net.

Notebook 08's last step, the other way to recognise known people (an embedding needs no
retraining for a new person; this needs a few photos of each and a short fine-tuning):

    folder = export_person_folders(images, labels, names, "colleagues")  # folder/<name>/<n>.png
    train = keras.utils.image_dataset_from_directory(folder, image_size=(96, 96))
    model = colleague_classifier(len(names))  # ImageNet MobileNetV2 + a new softmax

Offline the ImageNet weights cannot be downloaded; pass ``offline_base`` (a network trained
on faces that you have, e.g. the shipped keypoint network's convolutional trunk) and the
classifier is built on it instead, so the transfer still transfers.
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


#: The name of the pretrained network (the base) nested in :func:`colleague_classifier`'s
#: model, MobileNetV2 or the offline base: ``model.get_layer(BACKBONE).trainable = True``.
BACKBONE = "backbone"
#: The former name of :data:`BACKBONE`.
MOBILENET_BACKBONE = BACKBONE


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
    if weights == "imagenet":
        try:
            return _mobilenet_v2(image_size, alpha, "imagenet"), True
        except _DownloadFailed as exc:
            warnings.warn(
                f"Could not download MobileNetV2's ImageNet weights ({exc}). Continuing with "
                "random weights (weights=None): this trains from scratch, so expect far lower "
                "accuracy. Go online once (the file is cached in ~/.keras/models) to "
                "fine-tune a real ImageNet model.",
                stacklevel=2,
            )
    return _mobilenet_v2(image_size, alpha, None), False


class _DownloadFailed(Exception):
    """The ImageNet weights could not be downloaded (offline)."""


def _mobilenet_v2(image_size: int, alpha: float, weights: str | None) -> keras.Model:
    try:
        return keras.applications.MobileNetV2(
            input_shape=(image_size, image_size, 3),
            alpha=alpha,
            include_top=False,
            weights=weights,
            pooling="avg",
            name=BACKBONE,
        )
    except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...")
        if not isinstance(exc, OSError) and "fetch failure" not in str(exc):
            raise
        raise _DownloadFailed(f"{type(exc).__name__}: {exc}") from exc


def colleague_classifier(
    n_people: int,
    *,
    image_size: int = 96,
    alpha: float = 0.35,
    weights: str | None = "imagenet",
    offline_base: keras.Model | None = None,
    dropout: float = 0.2,
    freeze_base: bool | None = None,
) -> keras.Model:
    """A pretrained network with a new softmax over ``n_people``, for RGB 0-255 faces.

    The input is what ``keras.utils.image_dataset_from_directory(..., image_size=(s, s))``
    yields. The base is an ImageNet MobileNetV2 when its weights can be loaded; its
    preprocessing (to [-1, 1]) is a built-in ``Rescaling`` layer inside the model, so it saves
    and loads in safe mode. The model's name says which base it got
    (``mobilenetv2_imagenet_...``, ``<offline_base name>_...`` or ``mobilenetv2_scratch_...``);
    the base is ``model.get_layer(BACKBONE)``.

    Args:
        offline_base: used when the ImageNet weights cannot be loaded (offline) instead of a
            MobileNetV2 with random weights: a pretrained feature network for faces in
            [0, 1], grayscale (one channel) or RGB, e.g.
            ``utils.embeddings.chop_head(load_keypoint_model(), at="first_dense")``. A copy
            is used (fine-tuning leaves the original as it was); the photos are resized to
            its input size and, for a grayscale base, turned grey inside the model.
        freeze_base: train only the new softmax (step 1 of fine-tuning: then unfreeze the
            base and continue with a small learning rate). None (the default) freezes a
            pretrained base and trains a random one (offline, no ``offline_base``) whole,
            from scratch. A frozen base always runs in inference mode (its batch-norm
            statistics stay as they are).
    """
    if n_people < 2:
        raise ValueError(f"n_people={n_people!r}: expected at least 2 people")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights={weights!r}: expected 'imagenet' or None")
    inputs = keras.Input((image_size, image_size, 3), name="photo")
    to_minus1_1 = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_minus1_1")
    if offline_base is None or weights is None:
        base, pretrained = mobilenet_v2_backbone(image_size, alpha=alpha, weights=weights)
        kind = f"mobilenetv2_{'imagenet' if pretrained else 'scratch'}"
        x = to_minus1_1(inputs)
    else:
        try:  # no warning offline: the offline base is the planned alternative
            base, pretrained = _mobilenet_v2(image_size, alpha, "imagenet"), True
            kind = "mobilenetv2_imagenet"
            x = to_minus1_1(inputs)
        except _DownloadFailed:
            base, pretrained = _copy_as_backbone(offline_base), True
            kind = offline_base.name
            x = _face_input(inputs, base)
    frozen = pretrained if freeze_base is None else bool(freeze_base)
    base.trainable = not frozen
    x = base(x, training=False if frozen else None)
    if len(x.shape) > 2:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_people, activation="softmax", name="person")(x)
    return keras.Model(inputs, outputs, name=f"{kind}_{n_people}_people")


def _face_input(photos: Any, base: keras.Model) -> Any:
    """RGB 0-255 photos as ``base`` expects them: [0, 1], its size, grey for a 1-channel base."""
    height, width, channels = (int(d) for d in keras.tree.flatten(base.inputs)[0].shape[1:])
    if channels not in (1, 3):
        raise ValueError(f"offline_base: expected 1 or 3 input channels, got {channels}")
    x = layers.Rescaling(1 / 255, name="to_0_1")(photos)
    if (height, width) != tuple(int(d) for d in photos.shape[1:3]):
        x = layers.Resizing(height, width, name="resize")(x)
    if channels == 1:
        # Luminance as a fixed 1 x 1 convolution: a built-in layer, so the model loads in safe
        # mode; never trained (it stays frozen when the base is unfrozen).
        grey = layers.Conv2D(1, 1, use_bias=False, trainable=False, name="to_grayscale")
        x = grey(x)
        grey.kernel.assign(np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 1, 3, 1))
    return x


def _copy_as_backbone(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with its weights, named :data:`BACKBONE`."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    inputs, outputs = keras.tree.flatten(copy.inputs), keras.tree.flatten(copy.outputs)
    return keras.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        outputs[0] if len(outputs) == 1 else outputs,
        name=BACKBONE,
    )
