"""Metrics: keypoint RMSE in pixels (NaN-aware), per keypoint, and the Keras metric."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from utils.metrics import MaskedRMSE, per_keypoint_rmse, rmse_pixels

# --------------------------------------------------------------------------------------------
# Keypoints
# --------------------------------------------------------------------------------------------


def test_rmse_pixels_skips_missing_targets() -> None:
    y_true = np.array([[10.0, np.nan, 20.0], [np.nan, 5.0, np.nan]])
    y_pred = np.array([[13.0, 500.0, 16.0], [-100.0, 5.0, 0.0]])
    # Errors 3, -4, 0 on the three labelled values.
    assert rmse_pixels(y_true, y_pred) == pytest.approx(np.sqrt(25 / 3))


def test_rmse_pixels_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        rmse_pixels(np.zeros((2, 30)), np.zeros((3, 30)))
    with pytest.raises(ValueError, match="no labelled"):
        rmse_pixels(np.full((2, 30), np.nan), np.zeros((2, 30)))
    with pytest.raises(ValueError, match="NaN"):
        rmse_pixels(np.zeros((2, 30)), np.full((2, 30), np.nan))


def test_per_keypoint_rmse_combines_x_and_y_of_each_keypoint() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.uniform(0, 96, (50, 30))
    errors = np.zeros((50, 15, 2))
    errors[:, :, 0] = np.arange(15)  # x error of keypoint k: k pixels
    errors[:, :, 1] = -2 * np.arange(15)  # y error: -2k pixels
    y_pred = y_true + errors.reshape(50, 30)
    y_true[::2, 4:] = np.nan  # half the faces have only the first two keypoints
    y_true[:, 8:10] = np.nan  # keypoint 4 never labelled
    result = per_keypoint_rmse(y_true, y_pred)
    assert result.shape == (15,)
    expected = np.sqrt((np.arange(15) ** 2 + (2 * np.arange(15)) ** 2) / 2)
    expected[4] = np.nan
    np.testing.assert_allclose(result, expected, rtol=1e-9)


def test_per_keypoint_rmse_squared_mean_is_the_overall_mse() -> None:
    rng = np.random.default_rng(1)
    y_true = rng.uniform(0, 96, (20, 30))
    y_pred = y_true + rng.normal(0, 2, (20, 30))
    per = per_keypoint_rmse(y_true, y_pred)
    assert np.sqrt(np.mean(per**2)) == pytest.approx(rmse_pixels(y_true, y_pred))


def test_masked_rmse_metric_accumulates_and_reports_pixels() -> None:
    rng = np.random.default_rng(2)
    y_true = rng.uniform(-1, 1, (12, 30)).astype(np.float32)
    y_true[rng.random((12, 30)) < 0.4] = np.nan
    y_pred = rng.uniform(-1, 1, (12, 30)).astype(np.float32)
    metric = MaskedRMSE(scale=48)
    metric.update_state(y_true[:5], y_pred[:5])
    metric.update_state(y_true[5:], y_pred[5:])
    assert float(metric.result()) == pytest.approx(48 * rmse_pixels(y_true, y_pred), rel=1e-5)
    metric.reset_state()
    metric.update_state(y_true[:5], y_pred[:5])
    assert float(metric.result()) == pytest.approx(
        48 * rmse_pixels(y_true[:5], y_pred[:5]), rel=1e-5
    )


def test_masked_rmse_sample_weight_and_config() -> None:
    y_true = np.array([[0.0, np.nan], [0.0, 0.0]], np.float32)
    y_pred = np.array([[3.0, 9.0], [1.0, 1.0]], np.float32)
    metric = MaskedRMSE()
    metric.update_state(y_true, y_pred, sample_weight=np.array([0.0, 1.0]))
    assert float(metric.result()) == pytest.approx(1.0)  # only the second face counts
    clone = MaskedRMSE.from_config(MaskedRMSE(scale=2.5, name="px").get_config())
    assert clone.scale == 2.5 and clone.name == "px"
    with pytest.raises(ValueError, match="scale"):
        MaskedRMSE(scale=0)


def test_masked_rmse_in_compile_and_after_reload(tmp_path) -> None:
    from utils.losses import masked_mse

    x = np.random.default_rng(3).random((16, 4)).astype(np.float32)
    y = np.random.default_rng(4).random((16, 30)).astype(np.float32)
    y[:, 10:] = np.nan
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(30)])
    model.compile(optimizer="adam", loss=masked_mse, metrics=[MaskedRMSE(scale=48)])
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = 48 * rmse_pixels(y, model.predict(x, verbose=0))
    assert result["rmse_px"] == pytest.approx(expected, rel=1e-4)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    again = restored.evaluate(x, y, verbose=0, return_dict=True)
    assert again["rmse_px"] == pytest.approx(expected, rel=1e-4)


# --------------------------------------------------------------------------------------------
# Classification (notebooks 06-07, utils.verify_model)
# --------------------------------------------------------------------------------------------

# 10 examples, 3 classes; class 2 is never predicted.
CLS_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 0])
CLS_PRED = np.array([0, 0, 1, 0, 1, 1, 0, 0, 1, 0])


def test_classification_report_matches_hand_counts() -> None:
    from utils.metrics import classification_report_df

    report = classification_report_df(CLS_TRUE, CLS_PRED, ["a", "b", "c"])
    # class a: 4 of 5 found (recall 0.8); 6 predicted a, 4 right (precision 2/3).
    assert report.loc["a", "recall"] == pytest.approx(0.8)
    assert report.loc["a", "precision"] == pytest.approx(4 / 6)
    assert report.loc["a", "f1"] == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    # class c is never predicted: a row of zeros, not a missing row.
    assert report.loc["c", ["precision", "recall", "f1"]].tolist() == [0.0, 0.0, 0.0]
    assert report["support"].tolist()[:3] == [5, 3, 2]
    assert report.loc["macro avg", "f1"] == pytest.approx(report.loc[["a", "b", "c"], "f1"].mean())
    assert report.loc["weighted avg", "support"] == 10


def test_classification_report_takes_probabilities_and_checks_names() -> None:
    from utils.metrics import classification_report_df

    probs = np.eye(3)[CLS_PRED] * 0.9 + 0.03
    a = classification_report_df(CLS_TRUE, probs, ["a", "b", "c"])
    b = classification_report_df(CLS_TRUE, CLS_PRED, ["a", "b", "c"])
    assert a.equals(b)
    with pytest.raises(ValueError, match="only 2 names"):
        classification_report_df(CLS_TRUE, CLS_PRED, ["a", "b"])
    with pytest.raises(ValueError, match="shape"):
        classification_report_df(CLS_TRUE, CLS_PRED[:5], ["a", "b", "c"])


def test_macro_f1_counts_every_class_equally() -> None:
    from sklearn.metrics import f1_score

    from utils.metrics import accuracy, macro_f1

    assert macro_f1(CLS_TRUE, CLS_PRED) == pytest.approx(
        f1_score(CLS_TRUE, CLS_PRED, average="macro", zero_division=0)
    )
    # Always predicting the majority class: fine accuracy, poor macro-F1.
    majority = np.zeros_like(CLS_TRUE)
    assert accuracy(CLS_TRUE, majority) == pytest.approx(0.5)
    assert macro_f1(CLS_TRUE, majority) == pytest.approx((2 / 3) / 3)


def test_bootstrap_ci_brackets_the_value_and_narrows_with_data() -> None:
    from utils.metrics import accuracy, bootstrap_ci

    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 2000)
    pred = np.where(rng.random(2000) < 0.6, y, rng.integers(0, 7, 2000))
    small = bootstrap_ci(y[:200], pred[:200], accuracy, n=500, seed=1)
    large = bootstrap_ci(y, pred, accuracy, n=500, seed=1)
    assert small.low < small.value < small.high
    assert large.high - large.low < small.high - small.low
    # Binomial standard error: the 95% interval is about +-1.96 * sqrt(p(1-p)/n).
    half = 1.96 * np.sqrt(large.value * (1 - large.value) / 2000)
    assert (large.high - large.low) / 2 == pytest.approx(half, rel=0.2)
    again = bootstrap_ci(y[:200], pred[:200], accuracy, n=500, seed=1)
    np.testing.assert_array_equal(small.samples, again.samples)
    assert "CI" in str(small)
    with pytest.raises(ValueError, match="n="):
        bootstrap_ci(y, pred, accuracy, n=3)


def test_classification_table_has_a_row_per_split() -> None:
    from utils.metrics import classification_table

    table = classification_table({"train": (CLS_TRUE, CLS_TRUE), "test": (CLS_TRUE, CLS_PRED)})
    assert list(table.index) == ["train", "test"]
    assert table.loc["train", ["accuracy", "precision", "recall", "f1"]].tolist() == [1, 1, 1, 1]
    assert table.loc["test", "accuracy"] == pytest.approx(0.6)
    assert table.loc["test", "n"] == 10
    with pytest.raises(ValueError, match="at least one split"):
        classification_table({})


def test_bootstrap_difference_is_paired() -> None:
    from utils.metrics import accuracy, bootstrap_ci, bootstrap_difference

    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 400)
    a = np.where(rng.random(400) < 0.5, y, rng.integers(0, 7, 400))
    b = a.copy()
    wrong = np.flatnonzero(a != y)[:20]
    b[wrong] = y[wrong]  # b fixes 20 of a's mistakes and changes nothing else
    diff = bootstrap_difference(y, a, b, accuracy, n=500, seed=0)
    assert diff.value == pytest.approx(20 / 400)
    assert 0 < diff.low <= diff.value <= diff.high  # always better: the interval excludes 0
    separate = bootstrap_ci(y, a, accuracy, n=500, seed=0)
    assert diff.high - diff.low < (separate.high - separate.low) / 2
    same = bootstrap_difference(y, a, a, accuracy, n=50, seed=0)
    assert same.low == same.high == 0.0


def test_macro_f1_matches_sklearn_on_random_labels() -> None:
    from sklearn.metrics import f1_score

    from utils.metrics import macro_f1

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 60))
        y, p = rng.integers(0, 7, n), rng.integers(0, 7, n)
        expected = f1_score(y, p, labels=np.unique(y), average="macro", zero_division=0)
        assert macro_f1(y, p) == pytest.approx(expected)
        every = list(range(7))
        expected = f1_score(y, p, labels=every, average="macro", zero_division=0)
        assert macro_f1(y, p, labels=every) == pytest.approx(expected)
