"""Predict facial keypoints on every face in a folder of photos.

    python -m utils.predict_keypoints --faces my_photos/ [--model my_model.keras]

Reads ``DIR/*.jpg|jpeg|png`` and ``DIR/<subfolder>/*.jpg|jpeg|png``, finds the faces (Haar
cascade, :mod:`utils.faces`), crops each to 96x96 grayscale, predicts its 15 keypoints and maps
them back onto the photo. Writes, atomically, into ``DIR``:

* ``prediction-<timestamp>.csv`` -- one row per face: file, face box, 30 coordinates in the
  photo's pixels; a photo with no face, or a file that is not a readable image, gets one row
  saying so (nothing is skipped silently);
* ``plot-<timestamp>.png`` -- every photo with its face boxes and keypoints.

Without ``--model`` it uses the course's shipped model (``utils.inference.load_keypoint_model``).
From Python: ``frame = predict_folder("my_photos", model)``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from utils.data import KEYPOINT_COLUMNS
from utils.faces import crop_face, crop_to_image, detect_faces

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: The columns of the prediction table, before the 30 keypoint columns.
INFO_COLUMNS = ["file", "status", "note", "face", "x", "y", "w", "h"]
#: Most photos drawn in one plot (the CSV always lists every one).
MAX_PLOTTED = 48


def find_images(faces_dir: str | os.PathLike[str]) -> list[Path]:
    """Image files directly in ``faces_dir`` and one folder down, sorted; earlier ``plot-*.png``
    outputs of this tool are left out."""
    folder = Path(faces_dir)
    if not folder.is_dir():
        raise ValueError(f"--faces {str(folder)!r}: not a folder; expected a folder of photos")
    found = []
    for path in [*folder.glob("*"), *folder.glob("*/*")]:
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.parent == folder and path.name.startswith("plot-"):
            continue  # our own output
        found.append(path)
    return sorted(found)


def load_model(model: Any = None) -> Any:
    """A Keras model: ``model`` itself, loaded from a ``.keras`` path (safe mode), or the
    shipped keypoint model when ``model`` is None."""
    import keras

    if model is None:
        from utils.inference import load_keypoint_model

        return load_keypoint_model()
    if isinstance(model, keras.Model):
        return model
    path = Path(model)
    if not path.is_file():
        raise ValueError(f"--model {str(path)!r}: no such file; expected a saved .keras model")
    return keras.models.load_model(path, safe_mode=True)


def _read_image(path: Path) -> tuple[np.ndarray | None, str]:
    """RGB uint8 image, or None with the reason it could not be read."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)  # handles non-ASCII paths, unlike cv2.imread
    except OSError as e:
        return None, f"cannot read the file ({e.strerror})"
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if image is None:
        return None, "not a readable JPEG/PNG image"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), ""


def predict_folder(
    faces_dir: str | os.PathLike[str],
    model: Any = None,
    *,
    min_size: tuple[int, int] = (40, 40),
    margin: float = 0.2,
    save: bool = False,
    timestamp: str | None = None,
) -> pd.DataFrame:
    """Detect, crop and predict keypoints for every photo in ``faces_dir``; return the table.

    Args:
        faces_dir: folder of photos (and subfolders of photos).
        model: a Keras model, a ``.keras`` path, or None for the shipped model. Its input is a
            square grayscale face in [0, 1]; its output 30 coordinates in that face's pixels.
        min_size: smallest face to detect, in pixels.
        margin: extra border around each detected face, as a fraction of its size.
        save: also write ``prediction-<timestamp>.csv`` and ``plot-<timestamp>.png`` into
            ``faces_dir`` (their paths are then in ``frame.attrs["csv"]`` / ``["plot"]``).
        timestamp: the name's timestamp (default: now, ``YYYYmmdd-HHMMSS``).

    Returns:
        One row per face (``status="ok"``), per photo without a face (``"no face"``) and per
        unreadable file (``"unreadable"``, with the reason in ``note``). Columns:
        :data:`INFO_COLUMNS` then ``KEYPOINT_COLUMNS``; coordinates are the photo's pixels.
    """
    folder = Path(faces_dir)
    paths = find_images(folder)
    net = load_model(model)
    size = _input_size(net)

    rows: list[dict[str, Any]] = []
    crops, transforms, face_rows = [], [], []
    for path in paths:
        name = path.relative_to(folder).as_posix()
        image, reason = _read_image(path)
        if image is None:
            rows.append({"file": name, "status": "unreadable", "note": reason})
            continue
        boxes = detect_faces(image, min_size=min_size)
        if len(boxes) == 0:
            rows.append({"file": name, "status": "no face", "note": ""})
            continue
        for i, box in enumerate(boxes):
            crop, transform = crop_face(image, box, size=size, margin=margin)
            crops.append(crop)
            transforms.append(transform)
            face_rows.append(len(rows))
            x, y, w, h = (int(v) for v in box)
            rows.append(
                {
                    "file": name,
                    "status": "ok",
                    "note": "",
                    "face": i,
                    "x": x,
                    "y": y,
                    "w": w,
                    "h": h,
                }
            )

    frame = pd.DataFrame(rows, columns=INFO_COLUMNS + KEYPOINT_COLUMNS)
    if crops:
        batch = np.stack(crops)[..., None].astype(np.float32) / 255.0
        predicted = np.asarray(net.predict(batch, verbose=0), dtype=np.float64)
        if predicted.shape != (len(crops), len(KEYPOINT_COLUMNS)):
            raise ValueError(
                f"the model predicts shape {predicted.shape[1:]}; expected "
                f"({len(KEYPOINT_COLUMNS)},) keypoint coordinates in Kaggle order"
            )
        for row, kp, transform in zip(face_rows, predicted, transforms, strict=True):
            frame.loc[row, KEYPOINT_COLUMNS] = crop_to_image(kp, transform)
    frame[KEYPOINT_COLUMNS] = frame[KEYPOINT_COLUMNS].astype(np.float64)
    frame["face"] = frame["face"].astype("Int64")
    for column in ("x", "y", "w", "h"):
        frame[column] = frame[column].astype("Int64")
    frame["note"] = frame["note"].fillna("")

    if save:
        stamp = timestamp or datetime.now().strftime("%Y%m%d-%H%M%S")
        csv_path = folder / f"prediction-{stamp}.csv"
        plot_path = folder / f"plot-{stamp}.png"
        _atomic_write(csv_path, frame.to_csv(index=False, float_format="%.2f").encode("utf-8"))
        figure = plot_predictions(frame, folder)
        _atomic_save_figure(figure, plot_path)
        frame.attrs["csv"] = str(csv_path)
        frame.attrs["plot"] = str(plot_path)
    return frame


def _input_size(model: Any) -> int:
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1 or shape[1] is None:
        raise ValueError(
            f"the model's input shape is {shape}; expected (None, S, S, 1): a square grayscale face"
        )
    return int(shape[1])


def plot_predictions(frame: pd.DataFrame, faces_dir: str | os.PathLike[str]) -> Any:
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
        image, _ = _read_image(Path(faces_dir) / name)
        if image is None:  # removed since prediction
            continue
        ax.imshow(image)
        faces = frame[(frame["file"] == name) & (frame["status"] == "ok")]
        for _, face in faces.iterrows():
            ax.add_patch(
                Rectangle(
                    (face["x"] - 0.5, face["y"] - 0.5),
                    face["w"],
                    face["h"],
                    fill=False,
                    edgecolor="yellow",
                    linewidth=1,
                )
            )
            kp = face[KEYPOINT_COLUMNS].to_numpy(dtype=np.float64)
            ax.scatter(kp[0::2], kp[1::2], s=8, c="red", marker="o", linewidths=0)
        ax.set_title(f"{name}" + ("" if len(faces) else " (no face)"), fontsize=8)
    if len(readable) > len(shown):
        figure.suptitle(f"first {len(shown)} of {len(readable)} photos (all are in the CSV)")
    return figure


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_save_figure(figure: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            figure.savefig(fh, format="png", dpi=100)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", required=True, type=Path, help="folder of photos")
    parser.add_argument(
        "--model", type=Path, default=None, help=".keras model (default: the shipped model)"
    )
    parser.add_argument("--min-size", type=int, default=40, help="smallest face in pixels")
    args = parser.parse_args(argv)
    try:
        frame = predict_folder(
            args.faces, args.model, min_size=(args.min_size, args.min_size), save=True
        )
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n_photos = frame["file"].nunique()
    ok = frame[frame["status"] == "ok"]
    print(f"{n_photos} file(s), {len(ok)} face(s) in {ok['file'].nunique()} photo(s)")
    for _, row in frame[frame["status"] != "ok"].iterrows():
        print(f"  {row['file']}: {row['status']}" + (f" ({row['note']})" if row["note"] else ""))
    print(f"wrote {frame.attrs['csv']}\nwrote {frame.attrs['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
