"""utils.plotting: every function returns a Figure with the expected axes/artists, bad input raises."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from utils import plotting
from utils.metrics import bootstrap_ci
from utils.plotting import (
    compare_curves,
    confusion_counts,
    history_dict,
    keypoint_names,
    keypoint_sides,
    plot_au_intensities,
    plot_class_balance,
    plot_confusion_matrix,
    plot_history,
    plot_image_grid,
    plot_intervals,
    plot_keypoints,
    plot_per_keypoint_rmse,
)

# Agg for this process only: an MPLBACKEND variable would leak into every notebook kernel
# and JupyterLab server the test session starts, and they would lose their inline figures.
matplotlib.use("Agg")

# Kaggle's column order, written out so these tests do not depend on utils.data.
KAGGLE = [
    f"{name}_{axis}"
    for name in [
        "left_eye_center",
        "right_eye_center",
        "left_eye_inner_corner",
        "left_eye_outer_corner",
        "right_eye_inner_corner",
        "right_eye_outer_corner",
        "left_eyebrow_inner_end",
        "left_eyebrow_outer_end",
        "right_eyebrow_inner_end",
        "right_eyebrow_outer_end",
        "nose_tip",
        "mouth_left_corner",
        "mouth_right_corner",
        "mouth_center_top_lip",
        "mouth_center_bottom_lip",
    ]
    for axis in "xy"
]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _faces(rng: np.random.Generator, n: int, size: int = 96) -> np.ndarray:
    return rng.random((n, size, size, 1), dtype=np.float32)


def _keypoints(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(10, 86, size=(n, 30)).astype(np.float32)


def _renders(fig: Figure) -> None:
    """Draw it for real (Agg): catches errors matplotlib only raises at draw time."""
    fig.canvas.draw()


def _heatmap(ax) -> np.ndarray:
    """The values of the heat map seaborn drew in ``ax`` (its one ``QuadMesh``), as a 2-D array."""
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    return np.asarray(mesh.get_array())


# ---------------------------------------------------------------- keypoint names and sides
def test_keypoint_names_and_sides_follow_kaggle_convention() -> None:
    names = keypoint_names(KAGGLE)
    assert len(names) == 15 and names[0] == "left_eye_center" and names[10] == "nose_tip"
    sides = keypoint_sides(KAGGLE)
    assert sides[:2] == ["left", "right"]
    assert sides[10] == "centre" and sides[11] == "left" and sides[12] == "right"
    assert sides.count("left") == sides.count("right") == 6 and sides.count("centre") == 3


def test_default_columns_match_utils_data() -> None:
    data = pytest.importorskip("utils.data")
    assert list(data.KEYPOINT_COLUMNS) == KAGGLE


# ---------------------------------------------------------------- image grid
def test_image_grid_one_axes_per_image_with_label_names(rng: np.random.Generator) -> None:
    fig = plot_image_grid(
        _faces(rng, 10, 48), np.arange(10) % 7, ncols=4, label_names=list("abcdefg")
    )
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes[:8]] == list("abcdefga")
    assert all(len(ax.get_images()) == 1 for ax in fig.axes)
    _renders(fig)


def test_image_grid_shows_floats_on_a_fixed_0_1_scale(rng: np.random.Generator) -> None:
    dark = np.full((2, 8, 8), 0.1, dtype=np.float32)
    fig = plot_image_grid(dark)
    image: AxesImage = fig.axes[0].get_images()[0]
    assert image.get_clim() == (0.0, 1.0)  # not stretched: a dark face stays dark
    fig8 = plot_image_grid((dark * 255).astype(np.uint8))
    assert fig8.axes[0].get_images()[0].get_clim() == (0.0, 255.0)


def test_image_grid_titles_override_labels_and_max_images(rng: np.random.Generator) -> None:
    faces = _faces(rng, 100, 16)
    fig = plot_image_grid(faces, titles=[f"t{i}" for i in range(100)], max_images=12)
    assert len(fig.axes) == 12 and fig.axes[11].get_title() == "t11"
    # string labels and one-hot labels work too
    assert plot_image_grid(faces[:3], ["x", "y", "z"]).axes[2].get_title() == "z"
    onehot = np.eye(3)[[2, 0, 1]]
    assert (
        plot_image_grid(faces[:3], onehot, label_names=["a", "b", "c"]).axes[0].get_title() == "c"
    )


def test_image_grid_accepts_single_and_colour_images(rng: np.random.Generator) -> None:
    assert len(plot_image_grid(rng.random((20, 30))).axes) == 1
    colour = plot_image_grid(rng.random((3, 20, 30, 3)))
    assert colour.axes[0].get_images()[0].get_array().shape == (20, 30, 3)


@pytest.mark.parametrize(
    "images, labels, kwargs, match",
    [
        (np.zeros((2, 8, 8, 2)), None, {}, "channels"),
        (np.zeros((8,)), None, {}, "expected"),
        (np.zeros((0, 8, 8)), None, {}, "0 images"),
        (np.array([["a"]]), None, {}, "numeric"),
        (np.zeros((3, 8, 8)), [0, 1], {}, r"labels: shape \(2,\)"),
        (np.zeros((3, 8, 8)), [0, 1, 9], {"label_names": ["a", "b"]}, r"labels\[2\] = 9"),
        (np.zeros((3, 8, 8)), None, {"titles": ["a"]}, "1 titles for 3"),
        (np.zeros((3, 8, 8)), None, {"ncols": 0}, "ncols"),
    ],
)
def test_image_grid_bad_input(images, labels, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        plot_image_grid(images, labels, **kwargs)


# ---------------------------------------------------------------- keypoints
def _scatters(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_keypoints_truth_and_predictions_in_side_colours(rng: np.random.Generator) -> None:
    kp = _keypoints(rng, 3)
    fig = plot_keypoints(_faces(rng, 3), kp, predictions=kp + 1, columns=KAGGLE, ncols=2)
    assert len(fig.axes) == 3
    scatters = _scatters(fig.axes[0])
    assert len(scatters) == 6  # {truth, prediction} x {left, right, centre}
    counts = sorted(len(s.get_offsets()) for s in scatters)
    assert counts == [3, 3, 6, 6, 6, 6]
    # the subject's left and right are drawn in different colours
    colours = {tuple(np.round(s.get_edgecolors()[0], 3)) for s in scatters[:3]}
    assert len(colours) == 3
    legend_labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "ground truth" in legend_labels and "prediction" in legend_labels
    assert "subject's left" in legend_labels
    _renders(fig)


def test_keypoints_left_points_have_left_colour(rng: np.random.Generator) -> None:
    kp = np.full((1, 30), np.nan, dtype=np.float32)
    kp[0, 0:2] = [60, 40]  # left_eye_center
    fig = plot_keypoints(_faces(rng, 1), kp, columns=KAGGLE)
    (scatter,) = _scatters(fig.axes[0])
    np.testing.assert_allclose(scatter.get_offsets(), [[60, 40]])
    expected = np.array([0x1F, 0x77, 0xB4]) / 255
    np.testing.assert_allclose(scatter.get_edgecolors()[0][:3], expected, atol=1e-6)


def test_keypoints_nan_are_skipped_and_view_stays_on_image(rng: np.random.Generator) -> None:
    kp = _keypoints(rng, 2)
    kp[0, 4:] = np.nan  # only 2 of 15 labelled, like most Kaggle rows have 4
    pred = kp.copy()
    pred[1, :2] = [500, -300]  # a wild prediction must not zoom the axes out
    fig = plot_keypoints(_faces(rng, 2), kp, predictions=pred, columns=KAGGLE)
    assert sum(len(s.get_offsets()) for s in _scatters(fig.axes[0])) == 2 * 2
    assert fig.axes[1].get_xlim() == (-0.5, 95.5)
    assert fig.axes[1].get_ylim() == (95.5, -0.5)


def test_keypoints_accepts_k_by_2_and_default_columns(rng: np.random.Generator) -> None:
    pytest.importorskip("utils.data")
    kp = _keypoints(rng, 2).reshape(2, 15, 2)
    fig = plot_keypoints(_faces(rng, 2), kp)
    assert len(_scatters(fig.axes[0])) == 3


def test_keypoints_unnamed_landmarks_one_colour(rng: np.random.Generator) -> None:
    fig = plot_keypoints(_faces(rng, 1), rng.uniform(0, 90, (1, 68, 2)))
    (scatter,) = _scatters(fig.axes[0])
    assert len(scatter.get_offsets()) == 68


@pytest.mark.parametrize(
    "keypoints, predictions, kwargs, match",
    [
        (np.zeros((2, 30)), None, {}, "2 rows for 3 images"),
        (np.zeros((3, 29)), None, {}, "odd number"),
        (np.zeros((3, 30)), np.zeros((3, 28)), {}, "predictions"),
        (np.zeros((3, 30)), None, {"columns": ["a_x", "a_y"]}, "columns"),
        (np.full((3, 30), "x"), None, {}, "expected numbers"),
    ],
)
def test_keypoints_bad_input(rng, keypoints, predictions, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        plot_keypoints(_faces(rng, 3), keypoints, predictions=predictions, **kwargs)


# ---------------------------------------------------------------- history
HISTORY = {
    "loss": [1.0, 0.5, 0.3],
    "mae": [0.9, 0.6, 0.4],
    "val_loss": [1.1, 0.7, 0.6],
    "val_mae": [1, 0.8, 0.7],
}


class FakeHistory:
    """What model.fit returns: an object with a ``.history`` dict."""

    def __init__(self, history: dict) -> None:
        self.history = history


def test_history_from_dict_history_object_and_csv(tmp_path: Path) -> None:
    csv = tmp_path / "log.csv"
    csv.write_text(
        "epoch,loss,mae,val_loss,val_mae\n0,1.0,0.9,1.1,1\n1,0.5,0.6,0.7,0.8\n2,0.3,0.4,0.6,0.7\n"
    )
    for source in (HISTORY, FakeHistory(HISTORY), csv, str(csv)):
        fig = plot_history(source)
        assert [ax.get_title() for ax in fig.axes] == ["loss", "mae"]
        lines = fig.axes[0].get_lines()
        assert [line.get_label() for line in lines] == ["train", "validation"]
        np.testing.assert_allclose(lines[1].get_ydata(), HISTORY["val_loss"])
        np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])  # epochs count from 1


def test_history_from_real_keras_fit() -> None:
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x = np.zeros((8, 2), np.float32)
    hist = model.fit(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=2, verbose=0)
    fig = plot_history(hist, metrics=["mae"])
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 2


def test_history_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'accuracy' was not recorded"):
        plot_history(HISTORY, metrics=["accuracy"])
    with pytest.raises(ValueError, match="different numbers of epochs"):
        plot_history({"loss": [1, 2], "val_loss": [1]})
    with pytest.raises(ValueError, match="empty"):
        plot_history({"loss": []})
    with pytest.raises(ValueError, match="expected a keras History"):
        plot_history(42)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        plot_history(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,loss\n0,abc\n")
    with pytest.raises(ValueError, match="not numbers"):
        plot_history(bad)


def test_history_dict_keeps_per_epoch_values() -> None:
    hist = history_dict(FakeHistory(HISTORY))
    assert set(hist) == set(HISTORY) and hist["loss"].tolist() == [1.0, 0.5, 0.3]


def test_compare_curves_one_line_per_run_same_colour_in_both_panels() -> None:
    other = {k: [v * 2 for v in vals] for k, vals in HISTORY.items()}
    fig = compare_curves({"with BN": HISTORY, "no BN": other}, "loss")
    assert len(fig.axes) == 2
    train, val = fig.axes
    assert [line.get_label() for line in train.get_lines()] == ["with BN", "no BN"]
    assert [line.get_color() for line in train.get_lines()] == [
        line.get_color() for line in val.get_lines()
    ]
    np.testing.assert_allclose(val.get_lines()[1].get_ydata(), other["val_loss"])
    only_train = compare_curves({"a": {"loss": [1, 2]}, "b": {"loss": [2, 1, 0]}}, "loss")
    assert len(only_train.axes) == 1


def test_compare_curves_bad_input() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        compare_curves({}, "loss")
    with pytest.raises(ValueError, match=r"histories\['b'\]: 'accuracy'"):
        compare_curves({"a": {"accuracy": [1]}, "b": HISTORY}, "accuracy")


# ---------------------------------------------------------------- confusion matrix
def test_confusion_counts_rows_true_columns_predicted() -> None:
    counts = confusion_counts([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_confusion_matrix_normalized_rows_and_annotations() -> None:
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 2, 0])
    fig = plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"])
    assert len(fig.axes) == 2  # matrix + colour bar
    ax = fig.axes[0]
    shown = _heatmap(ax)
    assert shown.shape == (3, 3)
    np.testing.assert_allclose(shown.sum(axis=1), 1.0)
    np.testing.assert_allclose(shown[2], [1 / 3, 0, 2 / 3])
    assert len(ax.texts) == 9 and ax.texts[0].get_text() == "0.50"
    # row-major from the top-left cell: true class a's row first
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.50", "0.00", "0.00", "1.00", "0.00",
                                                "0.33", "0.00", "0.67"]  # fmt: skip
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert fig.axes[1].get_ylabel() == "fraction of the true class"
    # the top row on screen is the first true class (y grows downwards, as in a table)
    assert ax.yaxis_inverted()
    raw = plot_confusion_matrix(y_true, np.eye(3)[y_pred], ["a", "b", "c"], normalize=False)
    assert [t.get_text() for t in raw.axes[0].texts][:3] == ["1", "1", "0"]
    np.testing.assert_array_equal(_heatmap(raw.axes[0]), confusion_counts(y_true, y_pred, 3))
    _renders(fig)


def test_confusion_counts_match_scikit_learn() -> None:
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    np.testing.assert_array_equal(confusion_counts(t, p, 5), confusion_matrix(t, p))
    # a class that never occurs keeps its (empty) row and column
    assert confusion_counts([0, 1], [1, 1], 4).shape == (4, 4)


def test_confusion_matrix_class_never_seen_is_zero_not_nan() -> None:
    fig = plot_confusion_matrix([0, 0], [0, 1], ["a", "b", "c"])
    assert np.isfinite(_heatmap(fig.axes[0])).all()


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        ([0, 1], [0], "2 labels but y_pred has 1"),
        ([0, 3], [0, 1], r"y_true\[1\] = 3"),
        ([0, -1], [0, 1], r"y_true\[1\] = -1"),
        ([0.5, 1], [0, 1], "integer class indices"),
        ([[0, 1]], [0], "shape"),
    ],
)
def test_confusion_matrix_bad_input(y_true, y_pred, match) -> None:
    with pytest.raises(ValueError, match=match):
        plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"])


# ---------------------------------------------------------------- class balance
def test_class_balance_counts_and_rarest_highlighted() -> None:
    labels = np.array([0] * 5 + [1] * 1 + [2] * 3)
    fig = plot_class_balance(labels, ["angry", "disgust", "fear", "happy"])
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [5, 1, 3, 0]
    assert ax.patches[3].get_facecolor() != ax.patches[0].get_facecolor()  # rarest: 0
    assert "55.6%" in ax.texts[0].get_text()


def test_class_balance_bad_input() -> None:
    with pytest.raises(ValueError, match=r"labels\[1\] = 5"):
        plot_class_balance([0, 5], ["a", "b"])
    with pytest.raises(ValueError, match="no labels"):
        plot_class_balance([], ["a", "b"])
    with pytest.raises(ValueError, match="names"):
        plot_class_balance([0], [])


# ---------------------------------------------------------------- AU intensities
def test_au_intensities_box_plot_and_mean_per_emotion(rng: np.random.Generator) -> None:
    aus = ["AU1", "AU6", "AU12"]
    values = rng.uniform(0, 1, (6, 3))
    values[:3, 2] = 4.0  # "happy" rows: AU12 strong
    emotions = ["happy"] * 3 + ["sad"] * 3
    only_bars = plot_au_intensities(values, aus)
    assert len(only_bars.axes) == 1
    assert len(only_bars.axes[0].containers) == 5  # one stack per intensity level 1..5
    fig = plot_au_intensities(values, aus, emotions=emotions)
    assert len(fig.axes) == 3  # box plot, heat map, colour bar
    heat = _heatmap(fig.axes[1])
    assert heat.shape == (2, 3)
    assert fig.axes[2].get_ylabel() == "mean intensity"
    assert len(fig.axes[1].texts) == 6  # small enough: every mean is written in its cell
    np.testing.assert_allclose(heat[0, 2], 4.0)
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["happy", "sad"]
    by_index = plot_au_intensities(
        values, aus, emotions=[3] * 3 + [4] * 3, emotion_names=list("abcdefg")
    )
    assert [t.get_text() for t in by_index.axes[1].get_yticklabels()] == ["d", "e"]
    # -1 marks a row without an emotion: its own group, listed last
    partly = plot_au_intensities(
        values, aus, emotions=[3, 3, -1, 4, 4, 4], emotion_names=list("abcdefg")
    )
    assert [t.get_text() for t in partly.axes[1].get_yticklabels()] == ["d", "e", "unlabelled"]
    np.testing.assert_allclose(_heatmap(partly.axes[1])[2], values[2])
    _renders(fig)


def test_au_intensities_bars_are_fractions_per_level() -> None:
    values = np.array([[0, 4.2, np.nan], [1, 4, 2], [0, 0, 2], [0, 5, np.nan]])
    fig = plot_au_intensities(values, ["AU1", "AU6", "AU12"])
    ax = fig.axes[0]
    heights = np.array([[bar.get_height() for bar in stack] for stack in ax.containers])
    np.testing.assert_allclose(heights[0], [0.25, 0, 0])  # level 1: one AU1 face in four
    np.testing.assert_allclose(heights[1], [0, 0, 1.0])  # AU12 coded in 2 faces, both level 2
    np.testing.assert_allclose(heights[3], [0, 0.5, 0])  # 4.2 rounds to level 4
    np.testing.assert_allclose(heights[4], [0, 0.25, 0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1", "2", "3", "4", "5"]


def test_au_intensities_bad_input(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        plot_au_intensities(rng.random((4, 3)), ["AU1", "AU2"])
    with pytest.raises(ValueError, match="emotions"):
        plot_au_intensities(rng.random((4, 2)), ["AU1", "AU2"], emotions=["a"])
    with pytest.raises(ValueError, match="expected FACS intensities 0-5"):
        plot_au_intensities(np.full((2, 2), 7.0), ["AU1", "AU2"])
    with pytest.raises(ValueError, match="emotion_names"):
        plot_au_intensities(rng.random((2, 2)), ["AU1", "AU2"], emotions=[0, 1])
    with pytest.raises(ValueError, match=r"emotions\[1\] = 9"):
        plot_au_intensities(rng.random((2, 2)), ["AU1", "AU2"], emotions=[0, 9], emotion_names="ab")


# ---------------------------------------------------------------- bootstrap intervals
def test_intervals_one_violin_and_one_interval_per_model() -> None:
    y = np.arange(100) % 4
    good, bad = y.copy(), y.copy()
    bad[:40] = (bad[:40] + 1) % 4
    acc = lambda t, p: float(np.mean(t == p))  # noqa: E731
    cis = {"good": bootstrap_ci(y, good, acc, n=50), "bad": bootstrap_ci(y, bad, acc, n=50)}
    fig = plot_intervals(cis, xlabel="accuracy")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["good", "bad"]
    assert ax.get_xlabel() == "accuracy" and "95%" in ax.get_title()
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(dots[0].get_xdata(), [1.0, 0.6])
    (bars,) = [c for c in ax.containers if hasattr(c, "has_xerr") and c.has_xerr]
    segments = bars.lines[2][0].get_segments()
    np.testing.assert_allclose(segments[1][:, 0], [cis["bad"].low, cis["bad"].high])
    _renders(fig)


def test_intervals_bad_input() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        plot_intervals({})
    with pytest.raises(ValueError, match=r"intervals\['a'\]: expected a BootstrapCI"):
        plot_intervals({"a": 0.5})


# ---------------------------------------------------------------- per-keypoint RMSE
def test_per_keypoint_rmse_bars_coloured_by_side() -> None:
    rmse = np.linspace(1, 3, 15)
    rmse[13] = np.nan  # a keypoint with no labels
    fig = plot_per_keypoint_rmse(rmse, KAGGLE)
    ax = fig.axes[0]
    assert len(ax.patches) == 15
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "left_eye_center"
    assert ax.patches[0].get_facecolor() != ax.patches[1].get_facecolor()  # left vs right
    texts = [t.get_text() for t in ax.texts]
    assert "no labels" in texts and "1.00" in texts
    assert "mean" in ax.get_title()
    per_column = plot_per_keypoint_rmse(np.ones(30), KAGGLE)
    assert len(per_column.axes[0].patches) == 30


def test_per_keypoint_rmse_bad_input() -> None:
    with pytest.raises(ValueError, match="14 values but columns has 30"):
        plot_per_keypoint_rmse(np.ones(14), KAGGLE)
    with pytest.raises(ValueError, match="non-negative"):
        plot_per_keypoint_rmse(-np.ones(15), KAGGLE)


def test_module_never_calls_pyplot_show() -> None:
    source = Path(plotting.__file__).read_text(encoding="utf-8")
    assert "plt.show" not in source and "pyplot.show" not in source
