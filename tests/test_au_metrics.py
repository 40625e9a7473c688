"""Action-unit metrics (utils.metrics): per-AU F1, thresholds chosen on validation, the report
that shows why accuracy misleads, ICC(3,1) for intensities; and the weighted BCE (utils.losses)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.metrics import f1_score

from utils.losses import WeightedBinaryCrossentropy, positive_weights
from utils.metrics import au_report, icc_3_1, mean_au_f1, per_au_f1, select_thresholds


def _labels_and_scores(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = np.array([0.5, 0.2, 0.05])
    y = (rng.random((n, 3)) < rates).astype(np.float64)
    # Like a network trained on few positives: present AUs score only ~0.4, absent ones ~0.15.
    score = np.clip(0.25 * y + rng.normal(0.15, 0.1, y.shape), 0, 1)
    return y, score


def test_per_au_f1_matches_sklearn() -> None:
    y, score = _labels_and_scores()
    thresholds = np.array([0.5, 0.4, 0.6])
    got = per_au_f1(y, score, thresholds=thresholds)
    expected = [f1_score(y[:, j], score[:, j] >= thresholds[j]) for j in range(3)]
    np.testing.assert_allclose(got, expected)
    assert mean_au_f1(y, score, thresholds=thresholds) == pytest.approx(np.mean(expected))


def test_not_coded_labels_are_skipped() -> None:
    y = np.array([[1.0], [0.0], [np.nan], [1.0]])
    score = np.array([[0.9], [0.1], [0.9], [0.2]])
    # The NaN row's confident "present" is neither a hit nor a false alarm: TP 1, FN 1.
    assert per_au_f1(y, score)[0] == pytest.approx(2 / 3)


def test_select_thresholds_beats_half_on_rare_aus() -> None:
    y_val, s_val = _labels_and_scores(seed=1)
    y_test, s_test = _labels_and_scores(seed=2)
    chosen = select_thresholds(y_val, s_val)
    assert chosen.shape == (3,) and ((chosen >= 0.05) & (chosen <= 0.95)).all()
    # Each chosen threshold is the best of the grid on validation ...
    for j in range(3):
        best = max(
            per_au_f1(y_val[:, [j]], s_val[:, [j]], thresholds=t)[0]
            for t in np.arange(0.05, 0.96, 0.05)
        )
        assert per_au_f1(y_val[:, [j]], s_val[:, [j]], thresholds=chosen[j])[0] == pytest.approx(
            best
        )
    # ... and carries over to unseen data better than 0.5 (0.5 misses most positives).
    assert mean_au_f1(y_test, s_test, thresholds=chosen) > mean_au_f1(y_test, s_test) + 0.2


def test_select_thresholds_without_positives_keeps_half() -> None:
    y = np.zeros((10, 1))
    assert select_thresholds(y, np.linspace(0, 1, 10)[:, None]).tolist() == [0.5]


def test_report_shows_all_negative_accuracy_trap() -> None:
    y, _ = _labels_and_scores()
    nothing = np.zeros_like(y)
    report = au_report(y, nothing, ["AU1", "AU6", "AU12"])
    assert list(report.index) == ["AU1", "AU6", "AU12", "mean"]
    np.testing.assert_allclose(report.loc["AU12", "accuracy"], 1 - y[:, 2].mean())
    assert report.loc["mean", "accuracy"] > 0.7  # looks good ...
    assert report.loc["mean", "f1"] == 0.0  # ... finds nothing
    np.testing.assert_allclose(report["base_rate"].iloc[:3], y.mean(axis=0))
    assert report.loc["mean", "support"] == int(y.sum())


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="0/1 labels"):
        per_au_f1([[3.0]], [[0.5]])
    with pytest.raises(ValueError, match="equal"):
        per_au_f1(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="3 names for 2"):
        au_report(np.zeros((4, 2)), np.zeros((4, 2)), ["a", "b", "c"])


def test_icc_3_1() -> None:
    rng = np.random.default_rng(0)
    true = rng.integers(0, 6, size=(200, 2)).astype(float)
    # Consistency ICC ignores a constant offset between the raters ...
    np.testing.assert_allclose(icc_3_1(true, true + 1.0), [1.0, 1.0])
    # ... and for two raters equals 2 cov / (var_a + var_b).
    pred = true + rng.normal(0, 1.5, true.shape)
    cov = [np.cov(true[:, j], pred[:, j])[0, 1] for j in range(2)]
    expected = [
        2 * c / (true[:, j].var(ddof=1) + pred[:, j].var(ddof=1)) for j, c in enumerate(cov)
    ]
    np.testing.assert_allclose(icc_3_1(true, pred), expected)
    assert icc_3_1(true[:, 0], -true[:, 0])[0] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="NaN"):
        icc_3_1([1.0, np.nan], [1.0, 2.0])


# ---------------------------------------------------------------------------------- the loss


def test_positive_weights() -> None:
    y = np.array([[1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 1]], np.float32)
    weights = positive_weights(y, max_weight=10)
    np.testing.assert_allclose(weights, [3.0, 3.0, 1.0])  # negatives / positives, at least 1
    assert positive_weights(np.zeros((5, 1)), max_weight=10).tolist() == [10.0]


def test_weighted_bce_matches_formula_and_saves(tmp_path) -> None:  # type: ignore[no-untyped-def]
    y = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    p = np.array([[0.8, 0.3], [0.4, 0.6]], np.float32)
    w = np.array([4.0, 1.0], np.float32)
    loss = WeightedBinaryCrossentropy(w)
    expected = -(w * y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1).mean()
    assert float(loss(y, p)) == pytest.approx(expected, rel=1e-5)
    # Weight 1 everywhere is Keras' own binary cross-entropy.
    plain = keras.losses.BinaryCrossentropy()(y, p)
    assert float(WeightedBinaryCrossentropy([1.0, 1.0])(y, p)) == pytest.approx(
        float(plain), rel=1e-5
    )
    # Compiled into a model, it saves and loads back with safe_mode.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="sigmoid")])
    model.compile("adam", loss=loss)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.loss.pos_weight, w)
    with pytest.raises(ValueError, match="pos_weight"):
        WeightedBinaryCrossentropy([-1.0, 2.0])
