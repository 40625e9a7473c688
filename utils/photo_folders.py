"""The models on a whole folder of photos: what ``python -m utils.predict_emotions`` and
``python -m utils.predict_keypoints`` do, callable from Python.

::

    table = annotate_folder("my_photos")   # -> my_photos-emotions/: annotated copies, emotions.csv
    table = predict_folder("my_photos", save=True)  # -> my_photos-keypoints/: keypoints.csv, .png

Both read the folder the same way (:func:`photo_files`: every file, subfolders included, hidden
files and the output folder left out) and write the same way: into an output folder *beside*
the photos (:func:`default_out_dir`, never mixed into them), each file written atomically. A
file that is not a picture, or a photo without a face, still gets a row in the table: nothing
is dropped silently.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.annotate import NotAnImageError, decode_image, encode_image
from utils.faces import KEYPOINT_MARGIN, crop_face, crop_to_image, detect_faces
from utils.inference import KEYPOINT_SIZE, load_keypoint_model, predict_keypoints
from utils.io import atomic_write, atomic_write_bytes, atomic_write_text
from utils.progress import progress
from utils.realtime import annotate_photo, load_model_arg, photo_pipeline
from utils.schema import EMOTIONS, KEYPOINT_COLUMNS

#: Columns of ``emotions.csv``, before one ``p_<emotion>`` column per emotion.
EMOTION_INFO_COLUMNS = ["file", "status", "note", "face", "x", "y", "w", "h", "emotion"]
PROBABILITY_COLUMNS = [f"p_{e}" for e in EMOTIONS]
#: Columns of ``keypoints.csv``, before the 30 keypoint columns.
KEYPOINT_INFO_COLUMNS = ["file", "status", "note", "face", "x", "y", "w", "h"]
EMOTIONS_CSV = "emotions.csv"
KEYPOINTS_CSV = "keypoints.csv"
KEYPOINTS_PLOT = "keypoints.png"
#: Annotated copies keep their format when OpenCV can write it; anything else becomes PNG.
WRITABLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
#: Most photos drawn in the keypoints plot (the CSV always lists every one).
MAX_PLOTTED = 48


# --------------------------------------------------------------------------------------------
# Reading a folder, choosing where results go
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PhotoFile:
    """One file of the folder: ``name`` relative to it (``/``-separated), the RGB uint8
    ``image`` or None when it cannot be read, and then ``problem`` says why."""

    name: str
    path: Path
    image: np.ndarray | None
    problem: str = ""


def default_out_dir(images_dir: str | os.PathLike[str], what: str) -> Path:
    """Where results go unless you say: a folder beside ``images_dir`` named after it,
    e.g. ``my_photos`` -> ``my_photos-emotions``."""
    folder = Path(images_dir).resolve()
    return folder.parent / f"{folder.name or 'photos'}-{what}"


def photo_files(
    images_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> Iterator[PhotoFile]:
    """Every non-hidden file under ``images_dir`` (subfolders included), sorted, read as a photo.

    Files inside ``out_dir`` (an earlier run's output, if it was put there) are left out.
    Raises ValueError when ``images_dir`` is not a folder.
    """
    folder = Path(images_dir)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r}: not a folder; expected a folder of photos")
    out = Path(out_dir).resolve() if out_dir is not None else None
    paths = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if out is not None and path.resolve().is_relative_to(out):
            continue  # our own earlier output
        paths.append(path)
    for path in sorted(paths):
        name = path.relative_to(folder).as_posix()
        try:
            yield PhotoFile(name, path, decode_image(path.read_bytes(), name))
        except NotAnImageError:
            yield PhotoFile(name, path, None, "not a readable image")
        except OSError as e:
            yield PhotoFile(name, path, None, f"cannot read the file ({e.strerror})")


def _finish(frame: pd.DataFrame, integer_columns: list[str]) -> pd.DataFrame:
    for column in integer_columns:
        frame[column] = frame[column].astype("Int64")
    frame["note"] = frame["note"].fillna("")
    return frame


# --------------------------------------------------------------------------------------------
# Emotions: an annotated copy of every photo and emotions.csv
# --------------------------------------------------------------------------------------------


def _annotated_name(name: str) -> str:
    return name if Path(name).suffix.lower() in WRITABLE_SUFFIXES else name + ".png"


def annotate_folder(
    images_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    emotion_model: Any = None,
    keypoints: bool = False,
    max_side: int = 1600,
) -> pd.DataFrame:
    """Annotate every photo in ``images_dir`` into ``out_dir`` and write ``emotions.csv``.

    Args:
        images_dir: folder of photos (subfolders included).
        out_dir: where the annotated copies (same names) and the CSV go; default
            :func:`default_out_dir` (``<images_dir>-emotions`` beside it).
        emotion_model: a Keras model or ``.keras`` path; None uses the shipped model.
        keypoints: also draw the 15 keypoints (the shipped keypoint model).
        max_side: photos are analysed and drawn at most this many pixels on their longer
            side; boxes in the CSV are in the original photo's pixels.

    Returns the table, one row per face (``status`` ``"ok"``), per photo without a face
    (``"no face"``) and per file that is not a picture (``"not an image"``); its path is in
    ``.attrs["csv"]``, the output folder in ``.attrs["out"]``.
    """
    out = default_out_dir(images_dir, "emotions") if out_dir is None else Path(out_dir)
    files = list(photo_files(images_dir, out))
    pipeline = photo_pipeline(emotion_model, keypoints=keypoints)
    rows: list[dict[str, Any]] = []
    for file in progress(files, desc="photos", unit="photo"):  # with the time left, if watched
        if file.image is None:
            rows.append({"file": file.name, "status": "not an image", "note": file.problem})
            continue
        annotated, result = annotate_photo(file.image, pipeline, max_side=max_side)
        target = out / _annotated_name(file.name)
        atomic_write_bytes(target, encode_image(annotated, target.suffix))
        if len(result.boxes) == 0:
            rows.append({"file": file.name, "status": "no face", "note": ""})
            continue
        to_photo = max(file.image.shape[:2]) / max(annotated.shape[:2])  # undo the shrink
        for i, (box, probs) in enumerate(zip(result.boxes, result.probabilities, strict=True)):
            x, y, w, h = (int(round(v * to_photo)) for v in box)
            row = {"file": file.name, "status": "ok", "note": "", "face": i, "x": x, "y": y}
            row |= {"w": w, "h": h, "emotion": EMOTIONS[int(np.argmax(probs))]}
            row |= dict(zip(PROBABILITY_COLUMNS, (float(p) for p in probs), strict=True))
            rows.append(row)

    frame = pd.DataFrame(rows, columns=EMOTION_INFO_COLUMNS + PROBABILITY_COLUMNS)
    frame = _finish(frame, ["face", "x", "y", "w", "h"])
    frame["emotion"] = frame["emotion"].fillna("")
    csv_path = out / EMOTIONS_CSV
    atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.4f"))
    frame.attrs["csv"] = str(csv_path)
    frame.attrs["out"] = str(out)
    return frame


# --------------------------------------------------------------------------------------------
# Keypoints: keypoints.csv and one figure of every photo
# --------------------------------------------------------------------------------------------


def predict_folder(
    images_dir: str | os.PathLike[str],
    model: Any = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    min_size: tuple[int, int] = (40, 40),
    margin: float = KEYPOINT_MARGIN,
    save: bool = False,
) -> pd.DataFrame:
    """Detect, crop and predict the 15 keypoints of every face in ``images_dir``.

    Args:
        images_dir: folder of photos (subfolders included).
        model: a Keras model, a ``.keras`` path, or None for the shipped model. Its input is a
            96x96 grayscale face in [0, 1]; its output 30 coordinates in that face's pixels.
        out_dir: where ``save`` writes; default :func:`default_out_dir`
            (``<images_dir>-keypoints`` beside it).
        min_size: smallest face to detect, in pixels.
        margin: extra border around each detected face, as a fraction of its size.
        save: write ``keypoints.csv`` and ``keypoints.png`` (every photo with its boxes and
            keypoints) into ``out_dir``; their paths are then in ``.attrs["csv"]``/``["plot"]``.

    Returns one row per face (``status="ok"``), per photo without a face (``"no face"``) and
    per file that is not a picture (``"unreadable"``, the reason in ``note``). Columns:
    :data:`KEYPOINT_INFO_COLUMNS` then ``KEYPOINT_COLUMNS``, in the photo's pixels.
    """
    out = default_out_dir(images_dir, "keypoints") if out_dir is None else Path(out_dir)
    files = list(photo_files(images_dir, out))
    net = load_model_arg(model, load_keypoint_model)
    if tuple(net.input_shape[1:]) != (KEYPOINT_SIZE, KEYPOINT_SIZE, 1):
        raise ValueError(
            f"the model's input shape is {tuple(net.input_shape)}; expected "
            f"(None, {KEYPOINT_SIZE}, {KEYPOINT_SIZE}, 1): a 96x96 grayscale face"
        )
    rows: list[dict[str, Any]] = []
    crops, transforms, face_rows = [], [], []
    for file in progress(files, desc="photos", unit="photo"):  # with the time left, if watched
        if file.image is None:
            rows.append({"file": file.name, "status": "unreadable", "note": file.problem})
            continue
        boxes = detect_faces(file.image, min_size=min_size)
        if len(boxes) == 0:
            rows.append({"file": file.name, "status": "no face", "note": ""})
        for i, box in enumerate(boxes):
            crop, transform = crop_face(file.image, box, size=KEYPOINT_SIZE, margin=margin)
            crops.append(crop)
            transforms.append(transform)
            face_rows.append(len(rows))
            x, y, w, h = (int(v) for v in box)
            rows.append({"file": file.name, "status": "ok", "note": "", "face": i})
            rows[-1] |= {"x": x, "y": y, "w": w, "h": h}

    frame = pd.DataFrame(rows, columns=KEYPOINT_INFO_COLUMNS + KEYPOINT_COLUMNS)
    if crops:
        predicted = predict_keypoints(np.stack(crops), model=net)
        if predicted.shape != (len(crops), len(KEYPOINT_COLUMNS)):
            raise ValueError(
                f"the model predicts shape {predicted.shape[1:]}; expected "
                f"({len(KEYPOINT_COLUMNS)},) keypoint coordinates in Kaggle order"
            )
        for row, kp, transform in zip(face_rows, predicted, transforms, strict=True):
            frame.loc[row, KEYPOINT_COLUMNS] = crop_to_image(kp.astype(np.float64), transform)
    frame[KEYPOINT_COLUMNS] = frame[KEYPOINT_COLUMNS].astype(np.float64)
    frame = _finish(frame, ["face", "x", "y", "w", "h"])
    if save:
        csv_path, plot_path = out / KEYPOINTS_CSV, out / KEYPOINTS_PLOT
        atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.2f"))
        figure = plot_predictions(frame, images_dir)
        atomic_write(plot_path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
        frame.attrs["csv"], frame.attrs["plot"] = str(csv_path), str(plot_path)
    frame.attrs["out"] = str(out)
    return frame


def plot_predictions(frame: pd.DataFrame, images_dir: str | os.PathLike[str]) -> Any:
    """A figure of every readable photo in ``frame`` with its face boxes and keypoints."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    files = list(dict.fromkeys(frame["file"]))
    readable = [f for f in files if (frame.loc[frame["file"] == f, "status"] != "unreadable").all()]
    shown = readable[:MAX_PLOTTED]
    cols = max(1, min(4, len(shown)))
    rows = max(1, math.ceil(len(shown) / cols))
    figure = Figure(figsize=(3.2 * cols, 3.4 * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    if not shown:
        axes[0].text(0.5, 0.5, "no readable photos", ha="center", va="center")
    for ax, name in zip(axes, shown, strict=False):
        try:
            image = decode_image((Path(images_dir) / name).read_bytes(), name)
        except (OSError, NotAnImageError):  # changed since prediction
            continue
        ax.imshow(image)
        faces = frame[(frame["file"] == name) & (frame["status"] == "ok")]
        for _, face in faces.iterrows():
            corner = (face["x"] - 0.5, face["y"] - 0.5)
            ax.add_patch(
                Rectangle(corner, face["w"], face["h"], fill=False, edgecolor="yellow", lw=1)
            )
            kp = face[KEYPOINT_COLUMNS].to_numpy(dtype=np.float64)
            ax.scatter(kp[0::2], kp[1::2], s=8, c="red", marker="o", linewidths=0)
        ax.set_title(f"{name}" + ("" if len(faces) else " (no face)"), fontsize=8)
    if len(readable) > len(shown):
        figure.suptitle(f"first {len(shown)} of {len(readable)} photos (all are in the CSV)")
    return figure
