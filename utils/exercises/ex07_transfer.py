"""Exercises for notebook 07, ResNet50 transfer: ImageNet preprocessing and fine-tuning flags."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises import Incorrect, Question, as_array, expect, expect_close, require_function

NOTEBOOK = "07_resnet50_transfer"


def _faces() -> np.ndarray:
    from utils.exercises import sample_fer

    return sample_fer().images[:4]


def _check_preprocess(answer: Any) -> str:
    prepare = require_function(answer, "a function to_resnet_input(faces, size)")
    import keras

    faces = _faces()
    size = 64
    got = as_array(prepare(faces.copy(), size), "your ResNet input")
    expect(
        got.shape == (4, size, size, 3),
        f"your input has shape {got.shape}; ResNet50 wants (4, {size}, {size}, 3): upscale and "
        "tile the gray channel to three",
    )
    upscaled = keras.ops.convert_to_numpy(keras.layers.Resizing(size, size)(faces))
    rgb = np.repeat(upscaled, 3, axis=-1)
    want = keras.applications.resnet50.preprocess_input(rgb * 255.0)
    if np.allclose(got, keras.applications.resnet50.preprocess_input(rgb.copy()), atol=1e-2):
        raise Incorrect(
            "preprocess_input expects pixels 0-255 (ImageNet's photos), and yours are in [0, 1]: "
            "multiply by 255 first"
        )
    if np.allclose(got, rgb * 255.0, atol=1e-2):
        raise Incorrect("apply keras.applications.resnet50.preprocess_input (the ImageNet mean)")
    expect_close(got, want, "your ResNet input", atol=0.05, rtol=1e-3)
    return "upscaled, 0-255, three channels, ImageNet's mean subtracted: what the weights expect."


q1 = Question(
    "q1",
    _check_preprocess,
    hint="keras.layers.Resizing(size, size)(faces), times 255, np.repeat(..., 3, axis=-1), "
    "then keras.applications.resnet50.preprocess_input.",
    solution="""
import keras


def to_resnet_input(faces, size):
    upscaled = keras.ops.convert_to_numpy(keras.layers.Resizing(size, size)(faces))
    rgb = np.repeat(upscaled * 255.0, 3, axis=-1)
    return keras.applications.resnet50.preprocess_input(rgb)
""",
    notebook=NOTEBOOK,
    title="ImageNet preprocessing for a gray face",
    answer_name="to_resnet_input",
)


def toy_transfer_model() -> Any:
    """A tiny stand-in for ``resnet50_classifier``: a nested base (with batch norm) + a head."""
    import keras
    from keras import layers

    from utils.models import RESNET50_BACKBONE

    inputs = keras.Input((16, 16, 3))
    x = inputs
    for i in range(3):
        x = layers.Conv2D(4, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    base = keras.Model(inputs, x, name=RESNET50_BACKBONE)
    base.trainable = False
    face = keras.Input((16, 16, 3))
    outputs = layers.Dense(7, activation="softmax", name="emotion")(base(face, training=False))
    return keras.Model(face, outputs, name="toy_transfer")


def _check_unfreeze(answer: Any) -> str:
    unfreeze = require_function(answer, "a function unfreeze_last(model, last_n)")
    from keras import layers

    from utils.models import RESNET50_BACKBONE

    for last_n in (4, 7):
        model = toy_transfer_model()
        unfreeze(model, last_n)
        base = model.get_layer(RESNET50_BACKBONE)
        expect(base.trainable, "set the base's own `trainable` to True first")
        n = len(base.layers)
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization) and layer.trainable:
                raise Incorrect(
                    f"{layer.name} is trainable: keep batch norm frozen when fine-tuning, or its "
                    "ImageNet statistics are overwritten by small, different batches"
                )
        for i, layer in enumerate(base.layers):
            is_bn = isinstance(layer, layers.BatchNormalization)
            want = i >= n - last_n and not is_bn
            expect(
                layer.trainable == want or not layer.weights,
                f"with last_n={last_n}, {layer.name} (layer {i + 1} of {n}) should be "
                f"{'trainable' if want else 'frozen'}",
            )
        expect(model.get_layer("emotion").trainable, "the new head must stay trainable")
    return "the last layers learn, batch norm keeps its statistics, the head stays trainable."


q2 = Question(
    "q2",
    _check_unfreeze,
    hint="base = model.get_layer('resnet50'); base.trainable = True; then loop over "
    "enumerate(base.layers): trainable only for the last `last_n`, never for BatchNormalization.",
    solution="""
import keras


def unfreeze_last(model, last_n):
    base = model.get_layer("resnet50")
    base.trainable = True
    start = len(base.layers) - last_n
    for i, layer in enumerate(base.layers):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = i >= start and not is_bn
""",
    notebook=NOTEBOOK,
    title="unfreeze the last layers for fine-tuning",
    answer_name="unfreeze_last",
)
