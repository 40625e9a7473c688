"""Use the course's two shipped models on your own faces.

>>> from utils.inference import predict_keypoints, predict_emotions
>>> points = predict_keypoints(faces96)   # (N, 96, 96) uint8 -> (N, 30) pixels, Kaggle order
>>> probs = predict_emotions(faces48)     # (N, 48, 48) uint8 -> (N, 7) probabilities, FER order

The models live in ``utils/pretrained/`` (``keypoints.keras``, ``emotion.keras``), each with a
JSON sidecar holding its validation numbers and a model card in ``lessons/``. They are plain
Keras models (built-in layers only), loaded in ``safe_mode``; you can also load them yourself
with ``keras.models.load_model(path, safe_mode=True)`` and feed float32 ``[0, 1]`` images.

Faces must already be cropped like the training data: Kaggle's 96x96 framing for keypoints,
FER-2013's 48x48 for emotions (:mod:`utils.faces` finds and crops faces in a photo).
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from utils.schema import EMOTIONS, KEYPOINT_COLUMNS, KEYPOINT_SIZE
from utils.schema import FER_SIZE as EMOTION_SIZE

#: Where the shipped models and their JSON sidecars live.
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
KEYPOINT_MODEL = PRETRAINED_DIR / "keypoints.keras"
EMOTION_MODEL = PRETRAINED_DIR / "emotion.keras"

_HOW_TO_TRAIN = {
    "keypoints": "python -m utils.train_keypoints --preset shipped --data FACES_ZIP --out RUN",
    "emotion": "python -m utils.train_fer --preset shipped --data FER2013_ZIP --out RUN",
}
_cache: dict[tuple[str, int], Any] = {}
_lock = threading.Lock()


class CompiledModel:
    """A Keras model wrapped in one ``tf.function``: fast calls for any batch size.

    ``model.predict`` builds a data pipeline on every call, and an eager ``model(x)`` runs
    layer by layer in Python: tens of milliseconds for one face, fine for a data set but far
    too slow for a webcam or a loop over photos. The compiled call is traced once (the batch
    dimension is left open, so no batch size traces again) and then costs about a
    millisecond plus the arithmetic. ``python -m benchmarks.inference_speed`` measures it.
    """

    def __init__(self, model: Any) -> None:
        import tensorflow as tf

        self.model = model
        spec = tf.TensorSpec((None, *tuple(model.input_shape)[1:]), tf.float32)
        self._fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def __call__(self, x: Any, training: bool = False) -> Any:
        return self._fn(x)


_compiled: weakref.WeakKeyDictionary[Any, CompiledModel] = weakref.WeakKeyDictionary()


def compiled(model: Any) -> CompiledModel:
    """The :class:`CompiledModel` of ``model``, made once per model and then reused."""
    if isinstance(model, CompiledModel):
        return model
    with _lock:
        fast = _compiled.get(model)
        if fast is None:
            fast = _compiled[model] = CompiledModel(model)
        return fast


def _load(path: str | os.PathLike[str], kind: str) -> Any:
    """Load a ``.keras`` model once (safe mode) and reuse it; reload if the file changes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the shipped {kind} model is missing. Reinstall the course package, or "
            f"train one yourself: `{_HOW_TO_TRAIN[kind]}`"
        )
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    with _lock:
        if key not in _cache:
            import keras

            _cache[key] = keras.models.load_model(path, safe_mode=True, compile=False)
        return _cache[key]


def load_keypoint_model(path: str | os.PathLike[str] | None = None) -> Any:
    """The shipped keypoint model (loaded once, then cached).

    Input ``(96, 96, 1)`` float32 in [0, 1]; output ``(30,)`` pixel coordinates in Kaggle's
    column order (``utils.schema.KEYPOINT_COLUMNS``). ``path`` loads another ``.keras`` file.
    """
    return _load(KEYPOINT_MODEL if path is None else path, "keypoints")


def load_emotion_model(path: str | os.PathLike[str] | None = None) -> Any:
    """The shipped emotion model (loaded once, then cached).

    Input ``(48, 48, 1)`` float32 in [0, 1]; output softmax ``(7,)`` in FER order
    (:data:`EMOTIONS`). ``path`` loads another ``.keras`` file.
    """
    return _load(EMOTION_MODEL if path is None else path, "emotion")


def model_info(kind: str) -> dict[str, Any]:
    """The JSON sidecar of a shipped model (``"keypoints"`` or ``"emotion"``): its numbers."""
    if kind not in ("keypoints", "emotion"):
        raise ValueError(f"kind={kind!r}: expected 'keypoints' or 'emotion'")
    path = PRETRAINED_DIR / f"{kind}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model card data; train the model first")
    info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return info


def _faces_to_input(faces: Any, size: int, name: str = "faces") -> np.ndarray:
    """Check uint8 grayscale faces of ``size`` x ``size`` and turn them into model input.

    Accepts one face ``(size, size)``, a batch ``(N, size, size)`` or ``(N, size, size, 1)``.
    Returns float32 ``(N, size, size, 1)`` in [0, 1].
    """
    array = np.asarray(faces)
    if array.dtype != np.uint8:
        hint = (
            " (float images in [0, 1]? use (faces * 255).round().astype(np.uint8))"
            if np.issubdtype(array.dtype, np.floating)
            else ""
        )
        raise ValueError(
            f"{name}: dtype {array.dtype}; expected uint8 grayscale pixels 0-255{hint}"
        )
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != (size, size):
        raise ValueError(
            f"{name}: shape {np.asarray(faces).shape}; expected ({size}, {size}), "
            f"(N, {size}, {size}) or (N, {size}, {size}, 1) grayscale faces "
            f"(resize/crop first, e.g. with utils.faces; convert colour to gray)"
        )
    return (array.astype(np.float32) / np.float32(255.0))[..., None]


def _run(model: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs for ``x`` in batches (inference mode: no dropout), compiled."""
    fast = compiled(model)
    outputs = [np.asarray(fast(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return np.concatenate(outputs).astype(np.float32)


def predict_keypoints(
    faces: Any, *, tta: bool = False, model: Any = None, batch_size: int = 256
) -> np.ndarray:
    """The 15 keypoints of each face: ``(N, 30)`` float32 pixels in Kaggle's column order.

    Args:
        faces: uint8 grayscale faces cropped like Kaggle's, ``(96, 96)``, ``(N, 96, 96)``
            or ``(N, 96, 96, 1)``.
        tta: also predict on the mirrored faces (un-mirroring the points and swapping
            left/right names) and average -- twice the work. The shipped model has it
            built in already when it helped (``flip_tta_in_model`` in ``keypoints.json``).
        model: a Keras model to use instead of the shipped one.
        batch_size: faces per forward pass.
    """
    x = _faces_to_input(faces, KEYPOINT_SIZE)
    net = load_keypoint_model() if model is None else model
    if len(x) == 0:
        return np.zeros((0, len(KEYPOINT_COLUMNS)), np.float32)
    points = _run(net, x, batch_size)
    if tta:
        from utils.keypoint_augmentation import PIXEL_AXIS, mirror_keypoints

        # The shipped model's labels mirror about their own axis (see its model card).
        axis = _keypoint_flip_axis() if model is None else PIXEL_AXIS
        on_mirror = _run(net, np.ascontiguousarray(x[:, :, ::-1]), batch_size)
        points = (points + mirror_keypoints(on_mirror, axis)) / 2
    return points.astype(np.float32)


def predict_emotions(
    faces: Any, *, tta: bool | None = None, model: Any = None, batch_size: int = 256
) -> np.ndarray:
    """Probabilities of the 7 emotions for each face: ``(N, 7)`` float32 in FER order.

    Args:
        faces: uint8 grayscale faces cropped like FER-2013's, ``(48, 48)``, ``(N, 48, 48)``
            or ``(N, 48, 48, 1)``.
        tta: average with the prediction for the mirrored face. ``None`` uses the shipped
            model's setting (``default_tta`` in ``emotion.json``: on if it helped on its
            validation data).
        model: a Keras model to use instead of the shipped one.
        batch_size: faces per forward pass.

    ``EMOTIONS[probs.argmax(axis=1)]`` gives the predicted names.
    """
    x = _faces_to_input(faces, EMOTION_SIZE)
    net = load_emotion_model() if model is None else model
    if tta is None:
        tta = bool(_default_tta()) if model is None else False
    if len(x) == 0:
        return np.zeros((0, len(EMOTIONS)), np.float32)
    probs = _run(net, x, batch_size).astype(np.float64)
    if tta:
        probs = (probs + _run(net, np.ascontiguousarray(x[:, :, ::-1]), batch_size)) / 2
    probs /= probs.sum(axis=1, keepdims=True)  # exact sums despite float32 rounding
    return probs.astype(np.float32)


def _keypoint_flip_axis() -> float:
    try:
        return float(model_info("keypoints").get("flip_axis_px", (KEYPOINT_SIZE - 1) / 2))
    except (FileNotFoundError, json.JSONDecodeError):
        return (KEYPOINT_SIZE - 1) / 2


def _default_tta() -> bool:
    try:
        return bool(model_info("emotion").get("default_tta", False))
    except (FileNotFoundError, json.JSONDecodeError):
        return False
