"""Grad-CAM: where in the face did the network look for its answer?

Grad-CAM (Selvaraju et al. 2017) weighs each channel of a convolutional layer's feature maps by
how much the chosen output grows when that channel grows (its gradient, averaged over the
map), sums the weighted maps and keeps the positive part. The result is a coarse heat map of
the pixels that pushed the output *up*::

    heat = grad_cam(model, faces, output_index="aus", class_index=au_names.index("AU12"))
    plot_image_grid(overlay_heatmaps(faces, heat))

:func:`grad_cam` works for the three kinds of model the course builds, each with a known trap:

* **Sequential** models have no ``.inputs`` until they have been built or called, so the usual
  recipe ``keras.Model(model.inputs, [layer.output, model.output])`` fails;
* **Functional** models with several outputs (``{"aus": ..., "emotion": ...}``) need to be told
  which output to explain (``output_index``);
* **nested pretrained bases** (``keras.applications.ResNet50(...)`` used as one layer) hide
  their convolutional layers: ``model.get_layer("conv5_block3_out")`` fails and the inner
  layer's ``.output`` belongs to the inner model's graph, not the outer one.

Grad-CAM averages each channel's gradient over the whole map, which is exact for a head that
averages the map itself (global average pooling) but can point at the wrong place when the head
weighs each position differently (``Flatten`` then ``Dense``, as in ``utils.models.au_cnn``).
``method="hirescam"`` (HiResCAM, Draelos & Carin 2020) multiplies each cell by *its own*
gradient instead: for a head that is linear in the map, the cells' values then add up to the
score itself, so the map shows exactly where the score came from.

So instead of building a second model, :func:`grad_cam` runs the model itself once, eagerly,
under a ``tf.GradientTape``, and catches the chosen layer's output on the way through (however
deeply it is nested). It needs the TensorFlow backend (the course's default).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np

__all__ = ["CAM_METHODS", "conv_layer_names", "grad_cam", "overlay_heatmaps", "region_mass"]

CAM_METHODS = ("gradcam", "hirescam")


def _walk(layer: Any) -> Iterator[Any]:
    """Every layer inside ``layer`` (depth first, nested models included), then ``layer``."""
    for inner in getattr(layer, "layers", []) or []:
        yield from _walk(inner)
    yield layer


def _all_layers(model: keras.Model) -> list[Any]:
    return [layer for layer in _walk(model) if layer is not model]


@contextmanager
def _capture(layers: Sequence[Any]) -> Iterator[list[tuple[Any, Any]]]:
    """While active, every call of one of ``layers`` appends ``(layer, output)`` to the list.

    Done by wrapping each layer's ``call`` for the duration: this sees layers inside nested
    models too, which a second ``keras.Model(...)`` over ``layer.output`` cannot.
    """
    seen: list[tuple[Any, Any]] = []
    patched = []
    try:
        for layer in layers:
            original = layer.call

            def call(
                *args: Any, __layer: Any = layer, __call: Any = original, **kwargs: Any
            ) -> Any:
                output = __call(*args, **kwargs)
                seen.append((__layer, output))
                return output

            object.__setattr__(layer, "call", call)
            patched.append(layer)
        yield seen
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")  # back to the class's own method


def _images_array(images: Any) -> np.ndarray:
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4:
        raise ValueError(
            f"images: shape {array.shape}; expected a batch (N, height, width, channels) -- "
            "add the batch axis with images[None] for one face"
        )
    if array.shape[0] == 0:
        raise ValueError("images: empty batch; expected at least one image")
    return array


def conv_layer_names(model: keras.Model, images: Any) -> list[str]:
    """Names of the layers (nested ones included) whose output is a 4-D feature map, in the
    order the model runs them on ``images`` -- the candidates for Grad-CAM's ``layer_name``."""
    array = _images_array(images)[:1]
    with _capture(_all_layers(model)) as seen:
        model(array, training=False)
    names: list[str] = []
    for layer, output in seen:
        if len(getattr(output, "shape", ())) == 4 and layer.name not in names:
            names.append(layer.name)
    return names


def _pick_output(outputs: Any, output_index: int | str | None) -> Any:
    """The one output tensor to explain from a model's (possibly list/dict) outputs."""
    if isinstance(outputs, dict):
        keys = list(outputs)
        if output_index is None:
            if len(keys) == 1:
                return outputs[keys[0]]
            raise ValueError(f"the model has outputs {keys}; pass output_index= one of them")
        if isinstance(output_index, int) and not isinstance(output_index, bool):
            if not 0 <= output_index < len(keys):
                raise ValueError(f"output_index={output_index}: the model has outputs {keys}")
            return outputs[keys[output_index]]
        if output_index not in outputs:
            raise ValueError(f"output_index={output_index!r}: the model has outputs {keys}")
        return outputs[output_index]
    if isinstance(outputs, (list, tuple)):
        if output_index is None:
            if len(outputs) == 1:
                return outputs[0]
            raise ValueError(
                f"the model has {len(outputs)} outputs; pass output_index=0..{len(outputs) - 1}"
            )
        if not isinstance(output_index, int) or not 0 <= output_index < len(outputs):
            raise ValueError(
                f"output_index={output_index!r}: expected 0..{len(outputs) - 1} "
                f"(the model has {len(outputs)} outputs)"
            )
        return outputs[output_index]
    if output_index not in (None, 0):
        raise ValueError(f"output_index={output_index!r}: the model has a single output")
    return outputs


def grad_cam(
    model: keras.Model,
    images: Any,
    *,
    layer_name: str | None = None,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    output_index: int | str | None = None,
    normalize: bool = True,
    method: str = "gradcam",
) -> np.ndarray:
    """Grad-CAM heat maps of ``model``'s answer for each image, at the images' resolution.

    Args:
        model: a Sequential or Functional Keras model (built or not), possibly holding a nested
            pretrained base such as ``keras.applications.ResNet50``.
        images: ``(N, H, W, C)`` batch, prepared exactly as the model expects.
        layer_name: the convolutional layer to explain (searched in nested models too).
            Default: the last layer that outputs a 4-D feature map -- usually the best
            trade-off between meaning (late layers) and resolution. See
            :func:`conv_layer_names` for the choices.
        class_index: which unit of the output to explain: one int for every image, one per
            image, or None for each image's highest-scoring unit (its predicted class).
        output_index: for a model with several outputs, which one (position, or name for a
            dict of outputs such as ``"aus"``).
        normalize: scale each map to a maximum of 1 (a map with no positive evidence stays 0).
        method: ``"gradcam"`` (one weight per channel: its gradient averaged over positions) or
            ``"hirescam"`` (each cell times its own gradient: faithful for position-aware heads
            such as ``Flatten`` + ``Dense``; the same as Grad-CAM after global average pooling).

    Returns:
        ``(N, H, W)`` float32 heat maps, >= 0 (in [0, 1] when ``normalize``).
    """
    if method not in CAM_METHODS:
        raise ValueError(f"method={method!r}: expected one of {CAM_METHODS}")
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"grad_cam needs the TensorFlow backend; Keras is using {keras.backend.backend()!r}. "
            "Set KERAS_BACKEND=tensorflow before importing keras."
        )
    import tensorflow as tf

    array = _images_array(images)
    n, height, width = array.shape[:3]
    layers = _all_layers(model)
    if layer_name is not None:
        targets = [layer for layer in layers if layer.name == layer_name]
        if not targets:
            names = conv_layer_names(model, array)
            raise ValueError(
                f"layer_name={layer_name!r}: no such layer in model {model.name!r} or its nested "
                f"models; layers with 4-D feature maps: {names[-12:]}"
            )
        layers = targets[:1]
    x = tf.convert_to_tensor(array)
    with tf.GradientTape() as tape, _capture(layers) as seen:
        # Watching the input records the whole forward pass, even through frozen layers.
        tape.watch(x)
        outputs = model(x, training=False)
        chosen = _pick_output(outputs, output_index)
        scores = tf.reshape(tf.convert_to_tensor(chosen), (n, -1))
        units = _units(class_index, scores, n)
        score = tf.reduce_sum(tf.gather(scores, units, axis=1, batch_dims=1))
    maps = [(layer, out) for layer, out in seen if len(getattr(out, "shape", ())) == 4]
    if not maps:
        where = f"layer {layer_name!r}" if layer_name else "no layer"
        raise ValueError(
            f"{where} of model {model.name!r} produced a 4-D (N, h, w, channels) feature map; "
            "Grad-CAM explains a convolutional layer's output"
        )
    feature_map = maps[-1][1]  # the last one the model ran
    grads = tape.gradient(score, feature_map)
    if grads is None:
        raise ValueError(
            f"the output does not depend on layer {maps[-1][0].name!r}; choose a layer on the "
            "path to that output"
        )
    if method == "hirescam":
        weights = grads  # each cell weighed by its own gradient
    else:
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one weight per channel
    cam = tf.nn.relu(tf.reduce_sum(weights * feature_map, axis=-1))
    cam = tf.image.resize(cam[..., None], (height, width), method="bilinear")[..., 0]
    heat = np.maximum(cam.numpy().astype(np.float32), 0.0)
    if normalize:
        peak = heat.reshape(n, -1).max(axis=1).reshape(n, 1, 1)
        heat = np.divide(heat, peak, out=np.zeros_like(heat), where=peak > 0)
    return heat


def _units(class_index: Any, scores: Any, n: int) -> Any:
    """The output unit to explain for each of the ``n`` images, as an int tensor."""
    import tensorflow as tf

    k = int(scores.shape[1])
    if class_index is None:
        return tf.argmax(scores, axis=1, output_type=tf.int32)
    units = np.asarray(class_index)
    if units.ndim == 0:
        units = np.full(n, units)
    if units.shape != (n,) or not np.issubdtype(units.dtype, np.integer):
        raise ValueError(
            f"class_index={class_index!r}: expected one int, or one int per image ({n})"
        )
    if units.min() < 0 or units.max() >= k:
        raise ValueError(f"class_index={class_index!r}: the output has units 0..{k - 1}")
    return tf.constant(units.astype(np.int32))


def overlay_heatmaps(images: Any, heatmaps: Any, *, alpha: float = 0.45) -> np.ndarray:
    """Blend heat maps (jet colours) over grayscale or RGB faces -> ``(N, H, W, 3)`` in [0, 1].

    Ready for ``utils.plotting.plot_image_grid``. ``alpha`` is the heat map's share.
    """
    import matplotlib

    faces = np.asarray(images, dtype=np.float32)
    heat = np.asarray(heatmaps, dtype=np.float32)
    if faces.ndim == 3:
        faces = faces[..., None]
    if faces.ndim != 4 or faces.shape[-1] not in (1, 3):
        raise ValueError(f"images: shape {np.shape(images)}; expected (N, H, W[, 1 or 3])")
    if heat.shape != faces.shape[:3]:
        raise ValueError(
            f"heatmaps: shape {heat.shape}; expected {faces.shape[:3]}, one map per image"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha!r}: expected a fraction between 0 and 1")
    if faces.max() > 1.0:  # uint8-range pictures
        faces = faces / 255.0
    rgb = np.repeat(faces, 3, axis=-1) if faces.shape[-1] == 1 else faces
    colours = matplotlib.colormaps["jet"](np.clip(heat, 0.0, 1.0))[..., :3].astype(np.float32)
    return np.clip((1 - alpha) * rgb + alpha * colours, 0.0, 1.0)


def region_mass(
    heatmaps: Any, rows: tuple[float, float], cols: tuple[float, float] = (0, 1)
) -> np.ndarray:
    """The fraction of each heat map's total inside a box given as fractions of the image.

    ``region_mass(heat, rows=(2/3, 1))`` is the share of the map in the lower third of the
    face -- the mouth, where a lip-corner AU12 detector should look. A map with no mass gives NaN.
    """
    heat = np.asarray(heatmaps, dtype=np.float64)
    if heat.ndim != 3:
        raise ValueError(f"heatmaps: shape {heat.shape}; expected (N, H, W)")
    for name, (lo, hi) in (("rows", rows), ("cols", cols)):
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"{name}={(lo, hi)!r}: expected fractions 0 <= start < stop <= 1")
    h, w = heat.shape[1:]
    r0, r1 = round(rows[0] * h), round(rows[1] * h)
    c0, c1 = round(cols[0] * w), round(cols[1] * w)
    total = heat.sum(axis=(1, 2))
    inside = heat[:, r0:r1, c0:c1].sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)
