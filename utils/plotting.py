"""Every figure of the course: each function takes arrays and returns a matplotlib ``Figure``.

The figures are built with matplotlib's object API (``matplotlib.figure.Figure``), never through
``pyplot``'s global state, so they work the same in JupyterLab, in a script (``fig.savefig``)
and in tests (no display needed). Heat maps (confusion matrices, AU means per emotion) and
distributions with intervals are drawn by seaborn (``seaborn.heatmap``, ``seaborn.violinplot``)
into those figures' axes: the calls to reach for in your own analyses. In a notebook, leave
the figure as the cell's last line, or call ``display(fig)``, to show it::

    from utils.plotting import plot_image_grid
    plot_image_grid(X[:16], y[:16], label_names=EMOTIONS)

Conventions (see ``CONTRIBUTING.md``): images are float32 in [0, 1] (uint8 also works) with or
without a channel axis; keypoints are pixels in Kaggle's column order, NaN where missing, and
``left_*`` is the *subject's* left, which appears on the image's right.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from utils.image_arrays import as_image_batch, display_range


def _enable_notebook_display() -> None:
    """In Jupyter, let a ``Figure`` left as a cell's value show as a picture.

    The figures here never go through pyplot, so matplotlib would not load its inline backend
    (which is what registers IPython's Figure display) until something else used pyplot.
    """
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    backend = str(matplotlib.rcParams._get("backend"))
    if get_ipython() is not None and backend in (
        "inline",
        "module://matplotlib_inline.backend_inline",
    ):
        import matplotlib_inline.backend_inline  # noqa: F401 -- importing it enables the display


_enable_notebook_display()

#: Colours of the subject's left, right, and centre-line keypoints (left/right must differ, so a
#: flip that forgot to swap the labels shows up as the wrong colour on the wrong side).
SIDE_COLOURS: dict[str, str] = {"left": "#1f77b4", "right": "#d62728", "centre": "#2ca02c"}
#: How rows without an emotion label (-1) are named in :func:`plot_au_intensities`.
UNLABELLED = "unlabelled"
#: FACS intensities run from 0 (absent) to 5 (maximal).
AU_MAX_INTENSITY = 5.0
#: Marker of ground-truth keypoints (hollow circle) and of predictions (cross).
TRUTH_MARKER = "o"
PREDICTION_MARKER = "x"

__all__ = [
    "SIDE_COLOURS",
    "compare_curves",
    "keypoint_names",
    "keypoint_sides",
    "plot_au_intensities",
    "plot_class_balance",
    "plot_confusion_matrix",
    "plot_history",
    "plot_image_grid",
    "plot_intervals",
    "plot_keypoints",
    "plot_per_keypoint_rmse",
]


# --------------------------------------------------------------------------------------------
# Input checks shared by the plots (and by utils.widgets)
# --------------------------------------------------------------------------------------------
def as_keypoint_batch(keypoints: Any, n_images: int, name: str = "keypoints") -> np.ndarray:
    """Return keypoints as ``(N, K, 2)`` float pixels (x, y) from ``(N, 2K)`` or ``(N, K, 2)``.

    ``(N, 2K)`` is Kaggle's layout: x and y of each keypoint side by side
    (``left_eye_center_x, left_eye_center_y, ...``).
    """
    try:
        arr = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numbers (pixels, NaN where missing): {exc}") from exc
    if arr.ndim == 1 and n_images == 1:
        arr = arr[None]
    if arr.ndim == 2:
        if arr.shape[1] % 2:
            raise ValueError(
                f"{name}: shape {arr.shape} has an odd number of columns; expected x, y pairs "
                "(Kaggle's 30 columns for 15 keypoints)"
            )
        arr = arr.reshape(arr.shape[0], -1, 2)
    if arr.ndim != 3 or arr.shape[2] != 2:
        raise ValueError(f"{name}: shape {arr.shape}; expected (N, 2K) or (N, K, 2)")
    if arr.shape[0] != n_images:
        raise ValueError(
            f"{name}: {arr.shape[0]} rows for {n_images} images; expected one per image"
        )
    return arr


def keypoint_names(columns: Sequence[str]) -> list[str]:
    """Keypoint names from column names: ``left_eye_center_x`` -> ``left_eye_center``.

    ``columns`` may be Kaggle's 30 x/y columns (pairs are merged) or one name per keypoint.
    """
    cols = [str(c) for c in columns]
    if cols and len(cols) % 2 == 0 and all(c.endswith(("_x", "_y")) for c in cols):
        xs, ys = cols[0::2], cols[1::2]
        if all(x[:-2] == y[:-2] for x, y in zip(xs, ys, strict=True)):
            return [x[:-2] for x in xs]
    return cols


def keypoint_sides(columns: Sequence[str]) -> list[str]:
    """``"left"``, ``"right"`` or ``"centre"`` for each keypoint, read from its name.

    The subject's left (``left_eye_center``, ``mouth_left_corner``) appears on the image's
    right; nose tip and lip centres lie on the centre line.
    """
    sides = []
    for key in keypoint_names(columns):
        low = key.lower()
        sides.append("left" if "left" in low else "right" if "right" in low else "centre")
    return sides


def resolve_keypoint_sides(n_keypoints: int, columns: Sequence[str] | None) -> list[str]:
    """The side of each of ``n_keypoints`` keypoints, from ``columns`` or Kaggle's order.

    With no ``columns``, 15 keypoints are taken to be Kaggle's (``utils.data.KEYPOINT_COLUMNS``)
    and any other number are drawn in one colour.
    """
    if columns is None and n_keypoints == 15:
        from utils.schema import KEYPOINT_COLUMNS  # Kaggle's order, the course's convention

        columns = KEYPOINT_COLUMNS
    if columns is None:
        return ["centre"] * n_keypoints  # unnamed landmarks: one colour
    sides = keypoint_sides(columns)
    if len(sides) != n_keypoints:
        raise ValueError(
            f"columns: {len(list(columns))} names for {n_keypoints} keypoints; expected one name "
            f"per keypoint or an x and a y column per keypoint"
        )
    return sides


def label_texts(
    labels: Any, n: int, label_names: Sequence[str] | None, name: str = "labels"
) -> list[str]:
    """Turn ``n`` labels (class indices, strings, or one-hot rows) into display strings.

    Class indices are named through ``label_names`` when it is given.
    """
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[0] == n and np.issubdtype(arr.dtype, np.number):
        arr = arr.argmax(axis=1)  # one-hot or probabilities
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name}: shape {arr.shape}; expected ({n},), one label per image")
    if np.issubdtype(arr.dtype, np.integer) and label_names is not None:
        bad = (arr < 0) | (arr >= len(label_names))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name}[{i}] = {arr[i]}: expected a class index in 0..{len(label_names) - 1} "
                f"(label_names has {len(label_names)} names)"
            )
        return [str(label_names[int(v)]) for v in arr]
    return [str(v) for v in arr.tolist()]


def _grid(n: int, ncols: int, size: float = 1.6) -> tuple[Figure, list[Any]]:
    """A figure holding exactly ``n`` axes laid out ``ncols`` wide (spare cells removed)."""
    if not isinstance(ncols, int | np.integer) or ncols < 1:
        raise ValueError(f"ncols={ncols!r}: expected a positive integer")
    ncols = min(int(ncols), n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(size * ncols, size * nrows + 0.3), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel())
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def _show_image(ax: Any, image: np.ndarray, cmap: str | None, vrange: tuple[Any, Any]) -> None:
    vmin, vmax = vrange
    if image.ndim == 2:
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


# --------------------------------------------------------------------------------------------
# Images and keypoints
# --------------------------------------------------------------------------------------------
def plot_image_grid(
    images: Any,
    labels: Any = None,
    *,
    ncols: int = 8,
    titles: Sequence[str] | None = None,
    cmap: str = "gray",
    label_names: Sequence[str] | None = None,
    max_images: int = 64,
    title: str | None = None,
) -> Figure:
    """Show a grid of faces, each titled with its label.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)``, float in [0, 1] or uint8.
        labels: one label per image: class indices (named through ``label_names``), strings,
            or one-hot rows. Optional.
        ncols: images per row.
        titles: one title per image; overrides ``labels``.
        cmap: colour map for grayscale images.
        label_names: names of the class indices, e.g. ``utils.data.EMOTIONS``.
        max_images: only the first ``max_images`` images are drawn (a grid of thousands of
            faces is unreadable and slow); pass a slice to choose which.
        title: a title over the whole grid.

    Returns:
        The ``Figure`` (one axes per image drawn).
    """
    batch = as_image_batch(images)
    n_all = batch.shape[0]
    if max_images < 1:
        raise ValueError(f"max_images={max_images}: expected at least 1")
    texts: list[str] | None = None
    if titles is not None:
        if len(titles) != n_all:
            raise ValueError(f"titles: {len(titles)} titles for {n_all} images; expected one each")
        texts = [str(t) for t in titles]
    elif labels is not None:
        texts = label_texts(labels, n_all, label_names)
    n = min(n_all, max_images)
    fig, axes = _grid(n, ncols)
    vrange = display_range(batch[:n])
    for i, ax in enumerate(axes):
        _show_image(ax, batch[i], cmap, vrange)
        if texts is not None:
            ax.set_title(texts[i], fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def plot_keypoints(
    images: Any,
    keypoints: Any,
    *,
    predictions: Any = None,
    ncols: int = 4,
    columns: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    max_images: int = 32,
) -> Figure:
    """Overlay keypoints on faces: ground truth as hollow circles, predictions as crosses.

    Colour tells the side: blue for the subject's left (the image's right), red for the
    subject's right, green for the centre line. A horizontal flip that forgot to swap the
    left/right labels therefore shows blue points on the image's left. Missing (NaN) keypoints
    are skipped.

    Args:
        images: ``(N, H, W[, 1])`` faces.
        keypoints: ``(N, 30)`` Kaggle-order pixels (or ``(N, K, 2)``), NaN where missing.
        predictions: optional model outputs, same shape as ``keypoints``.
        ncols: faces per row.
        columns: keypoint column names (default: ``utils.data.KEYPOINT_COLUMNS`` for 15
            keypoints), used to colour the sides.
        titles: optional title per face (e.g. its RMSE).
        max_images: only the first ``max_images`` faces are drawn.

    Returns:
        The ``Figure``: one axes per face, with one scatter per side and kind drawn.
    """
    batch = as_image_batch(images)
    n_all = batch.shape[0]
    truth = as_keypoint_batch(keypoints, n_all)
    pred = None
    if predictions is not None:
        pred = as_keypoint_batch(predictions, n_all, name="predictions")
        if pred.shape != truth.shape:
            raise ValueError(
                f"predictions: shape {pred.shape} differs from keypoints' {truth.shape}"
            )
    if titles is not None and len(titles) != n_all:
        raise ValueError(f"titles: {len(titles)} titles for {n_all} images; expected one each")
    sides = np.array(resolve_keypoint_sides(truth.shape[1], columns))
    n = min(n_all, max_images)
    fig, axes = _grid(n, ncols, size=2.4)
    vrange = display_range(batch[:n])
    kinds = [("truth", truth, TRUTH_MARKER)] + (
        [("prediction", pred, PREDICTION_MARKER)] if pred is not None else []
    )
    for i, ax in enumerate(axes):
        _show_image(ax, batch[i], "gray", vrange)
        for _, points, marker in kinds:
            for side, colour in SIDE_COLOURS.items():
                xy = points[i][sides == side]
                xy = xy[np.isfinite(xy).all(axis=1)]  # a missing label is NaN: draw nothing
                if not len(xy):
                    continue
                style: dict[str, Any] = {"marker": marker, "s": 28, "linewidths": 1.4}
                if marker == TRUTH_MARKER:
                    style.update(facecolors="none", edgecolors=colour)
                else:
                    style.update(c=colour)
                ax.scatter(xy[:, 0], xy[:, 1], **style)
        # imshow's limits: scatter must not widen the view when a prediction lands outside
        ax.set_xlim(-0.5, batch.shape[2] - 0.5)
        ax.set_ylim(batch.shape[1] - 0.5, -0.5)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    handles = [
        Line2D([], [], ls="", marker="s", color=SIDE_COLOURS[s], label=lab)
        for s, lab in (
            ("left", "subject's left"),
            ("right", "subject's right"),
            ("centre", "centre"),
        )
        if (sides == s).any()
    ]
    handles.append(
        Line2D([], [], ls="", marker=TRUTH_MARKER, mfc="none", color="k", label="ground truth")
    )
    if pred is not None:
        handles.append(
            Line2D([], [], ls="", marker=PREDICTION_MARKER, color="k", label="prediction")
        )
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------------
def history_dict(history: Any, name: str = "history") -> dict[str, np.ndarray]:
    """Read a training history into ``{metric: values per epoch}``.

    ``history`` may be the ``History`` that ``model.fit`` returns, its ``.history`` dict, or
    the path of a CSV written by ``keras.callbacks.CSVLogger``.
    """
    if isinstance(history, str | os.PathLike):
        path = Path(history)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such CSV (expected a CSVLogger file)")
        import pandas as pd

        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a CSVLogger file: {exc}") from exc
        frame = frame.drop(columns=["epoch"], errors="ignore")
        non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise ValueError(f"{path}: columns {non_numeric} are not numbers")
        raw: Mapping[str, Any] = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns}
        name = str(path)
    elif isinstance(history, Mapping):
        raw = history
    elif isinstance(getattr(history, "history", None), Mapping):
        raw = history.history
    else:
        raise ValueError(
            f"{name}: got {type(history).__name__}; expected a keras History, a dict of "
            "per-epoch lists, or a CSVLogger CSV path"
        )
    out: dict[str, np.ndarray] = {}
    for key, values in raw.items():
        try:
            arr = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}[{key!r}]: expected one number per epoch: {exc}") from exc
        out[str(key)] = arr
    if not out or all(len(v) == 0 for v in out.values()):
        raise ValueError(f"{name}: the history is empty (no epochs recorded)")
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        detail = ", ".join(f"{k}: {len(v)}" for k, v in out.items())
        raise ValueError(f"{name}: metrics have different numbers of epochs ({detail})")
    return out


def _base_metrics(hist: Mapping[str, np.ndarray]) -> list[str]:
    """Metrics that have a training curve (``loss``, ``mae``, ...), in recorded order."""
    return [k for k in hist if not k.startswith("val_")] + [
        k[4:] for k in hist if k.startswith("val_") and k[4:] not in hist
    ]


def plot_history(history_or_csv: Any, *, metrics: Sequence[str] | None = None) -> Figure:
    """Training curves: one panel per metric, training and validation side by side.

    The gap between the two curves is the point: validation flattening (or rising) while
    training keeps improving is over-fitting.

    Args:
        history_or_csv: ``model.fit``'s ``History``, its ``.history`` dict, or a
            ``CSVLogger`` CSV path.
        metrics: which metrics to draw (e.g. ``["loss", "mae"]``); default: all of them.

    Returns:
        The ``Figure``, one axes per metric.
    """
    hist = history_dict(history_or_csv)
    available = _base_metrics(hist)
    chosen = list(metrics) if metrics is not None else available
    if not chosen:
        raise ValueError("metrics: expected at least one metric name")
    for metric in chosen:
        if metric not in hist and f"val_{metric}" not in hist:
            raise ValueError(f"metrics: {metric!r} was not recorded; available: {available}")
    fig = Figure(figsize=(4.2 * len(chosen), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(chosen), squeeze=False)).ravel()
    for ax, metric in zip(axes, chosen, strict=True):
        for key, label, style in ((metric, "train", "-"), (f"val_{metric}", "validation", "--")):
            if key in hist:
                values = hist[key]
                ax.plot(np.arange(1, len(values) + 1), values, style, marker=".", label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def compare_curves(
    histories: Mapping[str, Any], metric: str = "loss", *, validation: bool = True
) -> Figure:
    """Compare several training runs on one metric (e.g. with vs without batch norm).

    Args:
        histories: ``{run name: History, history dict, or CSVLogger path}``.
        metric: the metric to compare, e.g. ``"loss"`` or ``"accuracy"``.
        validation: also draw a panel of ``val_<metric>`` when the runs recorded it.

    Returns:
        The ``Figure``: a training panel (and a validation panel), one line per run, with
        the same colour for a run in both panels.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories: expected a non-empty dict {run name: history}")
    runs = {str(k): history_dict(v, name=f"histories[{k!r}]") for k, v in histories.items()}
    for run, hist in runs.items():
        if metric not in hist and f"val_{metric}" not in hist:
            raise ValueError(
                f"histories[{run!r}]: {metric!r} was not recorded; available: {_base_metrics(hist)}"
            )
    keys = [metric]
    if validation and any(f"val_{metric}" in h for h in runs.values()):
        keys.append(f"val_{metric}")
    keys = [k for k in keys if any(k in h for h in runs.values())]
    fig = Figure(figsize=(4.8 * len(keys), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys), squeeze=False, sharey=True)).ravel()
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key in zip(axes, keys, strict=True):
        for i, (run, hist) in enumerate(runs.items()):
            if key in hist:
                values = hist[key]
                ax.plot(
                    np.arange(1, len(values) + 1),
                    values,
                    marker=".",
                    color=colours[i % len(colours)],
                    label=run,
                )
        ax.set_title(("validation " if key.startswith("val_") else "training ") + metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


# --------------------------------------------------------------------------------------------
# Classification and data-set summaries
# --------------------------------------------------------------------------------------------
def _class_indices(values: Any, n_classes: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 2 and np.issubdtype(arr.dtype, np.number) and arr.shape[1] == n_classes:
        arr = arr.argmax(axis=1)  # probabilities or one-hot rows
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: shape {arr.shape}; expected (N,) class indices or (N, {n_classes}) scores"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name}: expected integer class indices, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {arr[i]}: expected a class index in 0..{n_classes - 1}")
    return arr.astype(np.int64)


def confusion_counts(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """The ``(n_classes, n_classes)`` confusion matrix: rows are true classes, columns predicted.

    scikit-learn's ``confusion_matrix(y_true, y_pred, labels=range(n_classes))``, after
    checking the labels (scores become their argmax; an index out of range is an error naming
    its position) so that a class never seen still gets its row and column.
    """
    from sklearn.metrics import confusion_matrix

    t = _class_indices(y_true, n_classes, "y_true")
    p = _class_indices(y_pred, n_classes, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}; expected equal")
    return confusion_matrix(t, p, labels=np.arange(n_classes)).astype(np.int64)


def plot_confusion_matrix(
    y_true: Any, y_pred: Any, labels: Sequence[str], *, normalize: bool = True
) -> Figure:
    """Confusion matrix: rows are the true class, columns the prediction.

    Drawn with ``seaborn.heatmap`` from scikit-learn's ``confusion_matrix``; for your own
    models, ``sklearn.metrics.ConfusionMatrixDisplay.from_predictions(y_true, y_pred,
    normalize="true")`` draws the same picture.

    Args:
        y_true: ``(N,)`` true class indices.
        y_pred: ``(N,)`` predicted indices, or ``(N, K)`` probabilities (their argmax is used).
        labels: the class names, e.g. ``utils.data.EMOTIONS``.
        normalize: show each row as fractions of that true class (its recall on the
            diagonal), so rare classes such as *disgust* are as readable as common ones.

    Returns:
        The ``Figure``: the heat map's axes (its cells are ``ax.collections[0]``) plus its
        colour bar; every cell is annotated.
    """
    import seaborn as sns

    names = [str(x) for x in labels]
    if not names:
        raise ValueError("labels: expected the class names, got none")
    counts = confusion_counts(y_true, y_pred, len(names))
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        shown = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    else:
        shown = counts.astype(np.float64)
    k = len(names)
    fig = Figure(figsize=(1.0 + 0.75 * k, 0.6 + 0.7 * k), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(
        shown,
        ax=ax,
        cmap="Blues",
        vmin=0.0,
        vmax=1.0 if normalize else max(float(shown.max()), 1.0),
        annot=shown if normalize else counts,
        fmt=".2f" if normalize else "d",
        annot_kws={"fontsize": 8},
        square=True,
        xticklabels=names,
        yticklabels=names,
        cbar_kws={"label": "fraction of the true class" if normalize else "count"},
    )
    ax.tick_params(axis="x", labelrotation=45)
    for text in ax.get_xticklabels():
        text.set_horizontalalignment("right")
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return fig


def plot_class_balance(
    labels: Any, names: Sequence[str], *, title: str = "examples per class"
) -> Figure:
    """Bar chart of how many examples each class has, with counts and percentages.

    Args:
        labels: ``(N,)`` class indices (``0 .. len(names) - 1``).
        names: the class names, in index order.
        title: the axes title.

    Returns:
        The ``Figure``: one bar per class; the rarest class is drawn in orange.
    """
    classes = [str(x) for x in names]
    if not classes:
        raise ValueError("names: expected the class names, got none")
    idx = _class_indices(labels, len(classes), "labels")
    if idx.size == 0:
        raise ValueError("labels: got no labels to count")
    counts = np.bincount(idx, minlength=len(classes))
    fig = Figure(figsize=(max(4.0, 0.9 * len(classes)), 3.4), layout="constrained")
    ax = fig.subplots()
    colours = ["#ff7f0e" if c == counts.min() else "#1f77b4" for c in counts]
    bars = ax.bar(range(len(classes)), counts, color=colours)
    total = counts.sum()
    ax.bar_label(bars, [f"{c}\n{100 * c / total:.1f}%" for c in counts], fontsize=8)
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_ylabel("examples")
    ax.set_ylim(0, counts.max() * 1.25 + 1)
    ax.set_title(title)
    return fig


def plot_au_intensities(
    intensities: Any,
    au_names: Sequence[str],
    *,
    emotions: Any = None,
    emotion_names: Sequence[str] | None = None,
) -> Figure:
    """Action-unit intensities: how often each AU occurs, and (given emotions) the mean per emotion.

    FACS codes each action unit (AU6 cheek raiser, AU12 lip corner puller, ...) with an
    intensity from 0 (absent) to 5 (maximum). The heat map shows which AUs make up each
    emotion (happiness: AU6 + AU12).

    Args:
        intensities: ``(N, n_au)`` intensities 0-5, NaN where an AU was not coded.
        au_names: the ``n_au`` column names, e.g. ``["AU1", "AU2", ...]``.
        emotions: optional ``(N,)`` emotion of each row: names, or indices into
            ``emotion_names`` (-1 = no emotion label, shown as "unlabelled").
        emotion_names: the names of emotion indices, or the order to list emotion names in.

    Returns:
        The ``Figure``: stacked bars of how often each AU is present at each intensity level
        (1-5), plus a heat map of the mean intensity per emotion when ``emotions`` is given
        (``seaborn.heatmap``; its cells are ``ax.collections[0]``), annotated when it is small
        enough to read. The same table in pandas: ``frame.groupby("emotion")[au_names].mean()``.
    """
    try:
        values = np.asarray(intensities, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"intensities: expected numbers: {exc}") from exc
    aus = [str(a) for a in au_names]
    if values.ndim != 2 or values.shape[1] != len(aus) or values.shape[0] == 0:
        raise ValueError(
            f"intensities: shape {values.shape}; expected (N, {len(aus)}), one column per AU name"
        )
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > AU_MAX_INTENSITY):
        raise ValueError(
            f"intensities: values from {finite.min():g} to {finite.max():g}; "
            f"expected FACS intensities 0-{AU_MAX_INTENSITY:g}"
        )
    groups: list[str] = []
    means = np.zeros((0, len(aus)))
    if emotions is not None:
        emo = np.asarray(emotions)
        if emo.ndim != 1 or len(emo) != len(values):
            raise ValueError(f"emotions: shape {emo.shape}; expected ({len(values)},)")
        if np.issubdtype(emo.dtype, np.integer):
            if emotion_names is None:
                raise ValueError("emotion_names: needed to name integer emotions")
            # -1 is how utils.data marks a row with no emotion label
            unlabelled = emo == -1
            named = label_texts(np.where(unlabelled, 0, emo), len(emo), emotion_names, "emotions")
            emo = np.where(unlabelled, UNLABELLED, np.asarray(named))
        emo = emo.astype(str)
        present = set(emo.tolist())
        order = [str(e) for e in emotion_names] if emotion_names is not None else sorted(present)
        groups = [e for e in order if e in present] + sorted(present - set(order))
        means = np.stack([np.nanmean(values[emo == g], axis=0) for g in groups])
    ncols = 2 if groups else 1
    fig = Figure(figsize=(max(5.0, 0.45 * len(aus)) * ncols, 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, ncols, squeeze=False)).ravel()
    # Most AUs are absent (0) in most faces, so show how often each is present, split by
    # intensity level (rounded), as fractions of the faces where the AU was coded.
    coded = np.isfinite(values)
    n_coded = np.maximum(coded.sum(axis=0), 1)
    levels = np.rint(np.nan_to_num(values, nan=0.0))
    bottom = np.zeros(len(aus))
    cmap = matplotlib.colormaps["viridis"]
    for level in range(1, int(AU_MAX_INTENSITY) + 1):
        share = ((levels == level) & coded).sum(axis=0) / n_coded
        axes[0].bar(
            aus, share, bottom=bottom, color=cmap(level / AU_MAX_INTENSITY), label=str(level)
        )
        bottom += share
    axes[0].set_ylabel("fraction of faces")
    axes[0].set_ylim(0, max(float(bottom.max()) * 1.15, 0.05))
    axes[0].set_title("how often each action unit is present")
    axes[0].legend(title="intensity", fontsize=7, title_fontsize=8, ncols=5)
    axes[0].tick_params(axis="x", rotation=90)
    if groups:
        import seaborn as sns

        ax = axes[1]
        sns.heatmap(
            means,
            ax=ax,
            cmap="viridis",
            vmin=0.0,
            annot=means.size <= 20 * 10,  # a value per cell while there is room to read it
            fmt=".1f",
            annot_kws={"fontsize": 6},
            xticklabels=aus,
            yticklabels=groups,
            cbar_kws={"label": "mean intensity"},
        )
        ax.tick_params(axis="x", labelrotation=90)
        ax.tick_params(axis="y", labelrotation=0)
        ax.set_title("mean intensity per emotion")
    return fig


def plot_intervals(
    intervals: Mapping[str, Any], *, xlabel: str = "metric", title: str | None = None
) -> Figure:
    """Bootstrap distributions side by side: one violin per model, its interval as a bar.

    Overlapping violins are the picture of "no evidence that one is better": the test set is
    a sample, and another one would move every number within its violin.

    Args:
        intervals: ``{name: BootstrapCI}`` from ``utils.metrics.bootstrap_ci`` (anything with
            ``value``, ``low``, ``high``, ``level`` and the resampled values in ``samples``).
        xlabel: what was measured, e.g. ``"test macro-F1"``.
        title: the axes title (default: the interval's level).

    Returns:
        The ``Figure``: a ``seaborn.violinplot`` of each model's resampled values, with the
        value on all the data as a dot and the percentile interval as a black bar.
    """
    import pandas as pd
    import seaborn as sns

    if not isinstance(intervals, Mapping) or not intervals:
        raise ValueError("intervals: expected a non-empty dict {name: BootstrapCI}")
    names, samples, rows = [], [], []
    for name, ci in intervals.items():
        try:
            values = np.asarray(ci.samples, dtype=np.float64).reshape(-1)
            row = (float(ci.value), float(ci.low), float(ci.high))
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(
                f"intervals[{name!r}]: expected a BootstrapCI (value, low, high, samples): {exc}"
            ) from exc
        if not values.size or not row[1] <= row[2]:
            raise ValueError(f"intervals[{name!r}]: expected resampled values and low <= high")
        names.append(str(name))
        samples.append(values)
        rows.append(row)
    frame = pd.DataFrame(
        {"name": np.repeat(names, [len(s) for s in samples]), "value": np.concatenate(samples)}
    )
    fig = Figure(figsize=(6.0, 0.9 + 0.7 * len(names)), layout="constrained")
    ax = fig.subplots()
    sns.violinplot(
        data=frame, x="value", y="name", ax=ax, inner=None, cut=0, color="#c6dbef", linewidth=0.8
    )
    value, low, high = np.array(rows).T
    positions = np.arange(len(names))
    # The percentile interval need not be centred on (or even hold) the value on all the data.
    ax.errorbar((low + high) / 2, positions, xerr=(high - low) / 2, fmt="none", ecolor="k",
                capsize=4, lw=1.5)  # fmt: skip
    ax.plot(value, positions, "o", color="k")
    level = getattr(next(iter(intervals.values())), "level", None)
    if title is None:
        title = f"bootstrap: {level:.0%} intervals" if level else "bootstrap intervals"
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("")
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_per_keypoint_rmse(
    rmse: Any, columns: Sequence[str], *, unit: str = "px", title: str | None = None
) -> Figure:
    """Horizontal bar chart of the error of each keypoint, coloured by side.

    Args:
        rmse: one RMSE per keypoint (or per x/y column), NaN where a keypoint had no labels.
        columns: matching names: one per value, or Kaggle's 30 x/y columns for 15 values.
        unit: the unit shown on the axis.
        title: the axes title (default: the mean RMSE).

    Returns:
        The ``Figure``: one bar per value; keypoints with no labels are marked "no labels".
    """
    try:
        values = np.asarray(rmse, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rmse: expected numbers: {exc}") from exc
    cols = [str(c) for c in columns]
    names = cols if len(cols) == len(values) else keypoint_names(cols)
    if len(names) != len(values) or not len(values):
        raise ValueError(
            f"rmse has {len(values)} values but columns has {len(cols)} names; expected one name "
            "per value (or an x and a y column per keypoint value)"
        )
    if (values[np.isfinite(values)] < 0).any():
        raise ValueError("rmse: expected non-negative errors")
    sides = keypoint_sides(names)
    fig = Figure(figsize=(6.0, 0.8 + 0.28 * len(values)), layout="constrained")
    ax = fig.subplots()
    heights = np.nan_to_num(values, nan=0.0)
    bars = ax.barh(range(len(values)), heights, color=[SIDE_COLOURS[s] for s in sides])
    ax.bar_label(
        bars, ["no labels" if not np.isfinite(v) else f"{v:.2f}" for v in values], fontsize=7
    )
    ax.set_yticks(range(len(values)), names, fontsize=8)
    ax.invert_yaxis()  # first keypoint on top, as in the column list
    ax.set_xlabel(f"RMSE ({unit})")
    ax.set_xlim(0, (np.nanmax(values) if np.isfinite(values).any() else 1.0) * 1.2)
    finite = values[np.isfinite(values)]
    mean = float(finite.mean()) if finite.size else float("nan")
    ax.set_title(title if title is not None else f"per-keypoint RMSE (mean {mean:.2f} {unit})")
    if finite.size:
        ax.axvline(mean, color="k", ls=":", lw=1)
    return fig
