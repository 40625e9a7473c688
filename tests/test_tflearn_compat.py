"""The tflearn-style API computes what the equivalent plain Keras code computes.

Each shim is compared with the Keras layer it stands for, on fixed weights; the tflearn
gotchas (keep_prob, staircase decay, L2 halving, gradient clipping) are checked by value.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from utils import tflearn_compat as tc
from utils.seeding import set_seed
from utils.tflearn_compat import (
    DNN,
    SGD,
    Adam,
    Momentum,
    RMSProp,
    activation,
    avg_pool_2d,
    batch_normalization,
    conv_2d,
    dropout,
    flatten,
    fully_connected,
    input_data,
    max_pool_2d,
    regression,
)

# The snippet from the "Keypoints track" issue, exactly as written after its import line.
SNIPPET = """\
def network(placeholderX=None):
    x = input_data(shape=[None, 96, 96, 1], name='input', placeholder=placeholderX)
    x = conv_2d(x, 32, 3, activation='relu', scope='conv1_1')
    x = max_pool_2d(x, 2, name='maxpool1')
    x = fully_connected(x, 30)
    return regression(x, optimizer=SGD(learning_rate=0.7, lr_decay=0.96, decay_step=2400), loss='mean_square')
model = DNN(network(), tensorboard_dir='runs/')
model.fit(X, Y, n_epoch=100, validation_set=0.1, run_id='v1-single-layer', show_metric=True, batch_size=64)
model.save('models/v1/model.keras'); model.load('models/v1/model.keras'); model.predict(X[:16])
"""


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _model(inp: object, out: object) -> keras.Model:
    return keras.Model(inp, out)


def _copy_weights(src: keras.Model, dst: keras.Model) -> None:
    """Give every weighted layer of ``dst`` the weights of the matching layer of ``src``,
    after drawing fresh random values (so equality cannot come from equal initialisation)."""
    src_layers = [layer for layer in src.layers if layer.weights]
    dst_layers = [layer for layer in dst.layers if layer.weights]
    assert len(src_layers) == len(dst_layers)
    rng = np.random.default_rng(1)
    for a, b in zip(src_layers, dst_layers, strict=True):
        fresh = [rng.standard_normal(w.shape).astype("float32") * 0.3 for w in a.get_weights()]
        a.set_weights(fresh)
        b.set_weights(fresh)


def _same(a: keras.Model, b: keras.Model, x: np.ndarray, training: bool = False) -> None:
    out_a = keras.ops.convert_to_numpy(a(x, training=training))
    out_b = keras.ops.convert_to_numpy(b(x, training=training))
    assert out_a.shape == out_b.shape
    np.testing.assert_allclose(out_a, out_b, rtol=1e-5, atol=1e-5)


def test_star_import_gives_the_tflearn_names() -> None:
    namespace: dict[str, object] = {}
    exec("from utils.tflearn_compat import *", namespace)
    for name in (
        "input_data",
        "conv_2d",
        "max_pool_2d",
        "avg_pool_2d",
        "fully_connected",
        "dropout",
        "batch_normalization",
        "flatten",
        "activation",
        "regression",
        "SGD",
        "Adam",
        "Momentum",
        "RMSProp",
        "DNN",
    ):
        assert name in namespace, name
    assert "keras" not in namespace and "np" not in namespace  # __all__ keeps it clean


def test_conv_2d_is_keras_conv2d_with_same_padding() -> None:
    x = _rand(2, 7, 7, 3)
    inp = input_data(shape=[None, 7, 7, 3])
    shim = _model(inp, conv_2d(inp, 4, 3, strides=2, activation="relu"))
    k_in = keras.Input((7, 7, 3))
    plain = _model(
        k_in, keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(k_in)
    )
    assert shim.output_shape == (None, 4, 4, 4)  # 'same': ceil(7 / 2); 'valid' would give 3
    _copy_weights(shim, plain)
    _same(shim, plain, x)


def test_conv_2d_default_init_is_uniform_scaling() -> None:
    inp = input_data(shape=[None, 9, 9, 8])
    layer = _model(inp, conv_2d(inp, 16, 3, scope="c")).get_layer("c")
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    limit = np.sqrt(3.0 / (3 * 3 * 8))  # tflearn: U(-sqrt(3/fan_in), +sqrt(3/fan_in))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.9 * limit  # 1152 draws reach close to the bound
    np.testing.assert_allclose(kernel.std(), limit / np.sqrt(3), rtol=0.1)


@pytest.mark.parametrize(
    ("shim", "layer"),
    [
        (lambda t: max_pool_2d(t, 2), keras.layers.MaxPooling2D(2, 2, padding="same")),
        (lambda t: avg_pool_2d(t, 3, strides=2), keras.layers.AveragePooling2D(3, 2, "same")),
    ],
    ids=["max_pool_2d", "avg_pool_2d"],
)
def test_pooling_matches_keras_same_padding(shim: object, layer: keras.layers.Layer) -> None:
    x = _rand(2, 7, 7, 2)
    inp = input_data(shape=[None, 7, 7, 2])
    out = shim(inp)  # type: ignore[operator]
    k_in = keras.Input((7, 7, 2))
    assert tuple(out.shape) == (None, 4, 4, 2)
    _same(_model(inp, out), _model(k_in, layer(k_in)), x)


def test_fully_connected_flattens_like_tflearn() -> None:
    x = _rand(3, 4, 4, 2)
    inp = input_data(shape=[None, 4, 4, 2])
    shim = _model(inp, fully_connected(inp, 5, activation="tanh"))
    k_in = keras.Input((4, 4, 2))
    plain = _model(k_in, keras.layers.Dense(5, activation="tanh")(keras.layers.Flatten()(k_in)))
    assert shim.output_shape == (None, 5)  # a bare Dense would give (None, 4, 4, 5)
    _copy_weights(shim, plain)
    _same(shim, plain, x)
    dense = [layer for layer in shim.layers if isinstance(layer, keras.layers.Dense)][0]
    init = dense.kernel_initializer
    assert isinstance(init, keras.initializers.TruncatedNormal) and init.stddev == 0.02


def test_dropout_keep_prob_keeps_that_fraction() -> None:
    inp = input_data(shape=[None, 20_000])
    model = _model(inp, dropout(inp, 0.8))
    assert model.layers[-1].rate == pytest.approx(0.2)  # keep 0.8 == drop 0.2
    ones = np.ones((1, 20_000), "float32")
    out = keras.ops.convert_to_numpy(model(ones, training=True))
    assert np.mean(out == 0) == pytest.approx(0.2, abs=0.015)
    assert out.mean() == pytest.approx(1.0, abs=0.03)  # kept units scaled by 1/0.8
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(ones, training=False)), ones)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="keep_prob"):
            dropout(inp, bad)


def test_batch_normalization_uses_tflearn_decay_and_epsilon() -> None:
    x = _rand(16, 3, 3, 4) * 2 + 1
    inp = input_data(shape=[None, 3, 3, 4])
    shim = _model(inp, batch_normalization(inp))
    k_in = keras.Input((3, 3, 4))
    plain = _model(k_in, keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(k_in))
    _copy_weights(shim, plain)
    bn = shim.layers[-1]
    bn.moving_mean.assign(np.zeros(4, "float32"))
    bn.moving_variance.assign(np.ones(4, "float32"))
    plain.layers[-1].set_weights(bn.get_weights())
    _same(shim, plain, x, training=True)
    _same(shim, plain, x, training=False)
    # decay=0.9: one training batch moves the running mean 10% of the way to the batch mean
    bn.moving_mean.assign(np.zeros(4, "float32"))
    shim(x, training=True)
    expected = 0.1 * x.mean(axis=(0, 1, 2))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), expected, rtol=1e-4)


def test_activation_flatten_and_leaky_relu_slope() -> None:
    x = _rand(2, 3, 3, 2)
    inp = input_data(shape=[None, 3, 3, 2])
    leaky = keras.ops.convert_to_numpy(_model(inp, activation(inp, "leaky_relu"))(x))
    np.testing.assert_allclose(leaky, np.where(x > 0, x, 0.1 * x), rtol=1e-6)  # tflearn alpha
    flat = keras.ops.convert_to_numpy(_model(inp, flatten(inp))(x))
    np.testing.assert_array_equal(flat, x.reshape(2, -1))
    relu = keras.ops.convert_to_numpy(_model(inp, activation(inp, "relu"))(x))
    np.testing.assert_array_equal(relu, np.maximum(x, 0))


def test_l2_regularizer_is_half_sum_of_squares() -> None:
    inp = input_data(shape=[None, 6])
    model = _model(inp, fully_connected(inp, 3, regularizer="L2", weight_decay=0.01, scope="fc"))
    kernel = keras.ops.convert_to_numpy(model.get_layer("fc").kernel)
    model(np.zeros((1, 6), "float32"))
    penalty = float(sum(keras.ops.convert_to_numpy(v) for v in model.losses))
    assert penalty == pytest.approx(0.01 * np.sum(kernel**2) / 2, rel=1e-5)


def test_sgd_lr_decay_schedule_values() -> None:
    staircase = SGD(learning_rate=0.7, lr_decay=0.96, decay_step=2400, staircase=True).build()

    def rate_at(optimizer: keras.optimizers.Optimizer, step: int) -> float:
        optimizer.iterations.assign(step)  # the step counts optimizer updates (batches)
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    values = {s: rate_at(staircase, s) for s in (0, 2399, 2400, 4800)}
    assert values[0] == pytest.approx(0.7)
    assert values[2399] == pytest.approx(0.7)
    assert values[2400] == pytest.approx(0.7 * 0.96)
    assert values[4800] == pytest.approx(0.7 * 0.96**2)
    # tflearn's default is staircase=False: a smooth decay
    smooth = SGD(learning_rate=0.7, lr_decay=0.96, decay_step=2400).build()
    assert rate_at(smooth, 1200) == pytest.approx(0.7 * 0.96**0.5)
    assert rate_at(smooth, 2399) == pytest.approx(0.7 * 0.96 ** (2399 / 2400))
    # no decay: a constant rate
    assert float(keras.ops.convert_to_numpy(SGD(0.1).build().learning_rate)) == pytest.approx(0.1)


def test_optimizers_map_their_arguments() -> None:
    adam = Adam(learning_rate=0.01, beta1=0.5, beta2=0.9, epsilon=1e-4).build()
    assert isinstance(adam, keras.optimizers.Adam)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.5, 0.9, 1e-4)
    rms = RMSProp(decay=0.8, momentum=0.1).build()
    assert isinstance(rms, keras.optimizers.RMSprop) and (rms.rho, rms.momentum) == (0.8, 0.1)
    mom = Momentum(learning_rate=0.05).build()
    assert isinstance(mom, keras.optimizers.SGD) and mom.momentum == 0.9
    with pytest.raises(NotImplementedError, match="use_locking"):
        SGD(use_locking=True)


def test_regression_defaults_and_dnn_gradient_clipping() -> None:
    inp = input_data(shape=[None, 4])
    net = regression(fully_connected(inp, 3, activation="softmax"))
    spec = net._tflearn_regression
    assert isinstance(spec.optimizer, Adam) and spec.optimizer.learning_rate == 0.001
    assert spec.loss_name == "categorical_crossentropy" and spec.batch_size == 64
    assert spec.metric is not None and spec.metric.name == "acc"
    dnn = DNN(net)
    assert dnn.model.optimizer.global_clipnorm == 5.0  # tflearn clip_gradients=5.0
    assert DNN(net, clip_gradients=0).model.optimizer.global_clipnorm is None
    sgd_net = regression(
        fully_connected(input_data(shape=[None, 4]), 2),
        optimizer="sgd",
        learning_rate=0.3,
        loss="mean_square",
    )
    lr = DNN(sgd_net).model.optimizer.learning_rate
    assert float(keras.ops.convert_to_numpy(lr)) == pytest.approx(0.3)
    assert sgd_net._tflearn_regression.metric is None  # no argmax "accuracy" on regression


def test_unsupported_options_raise_naming_the_argument() -> None:
    inp = input_data(shape=[None, 5, 5, 1])
    cases = [
        (lambda: conv_2d(inp, 2, 3, reuse=True), "reuse"),
        (lambda: conv_2d(inp, 2, 3, activation="crelu"), "activation"),
        (lambda: conv_2d(inp, 2, 3, weights_init="orthogonal"), "weights_init"),
        (lambda: input_data(shape=[None, 4], data_augmentation=object()), "data_augmentation"),
        (lambda: regression(flatten(inp), loss="hinge_loss"), "loss"),
        (lambda: regression(flatten(inp), optimizer="ftrl"), "optimizer"),
        (lambda: DNN(regression(flatten(inp)), tensorboard_verbose=3), "tensorboard_verbose"),
        (lambda: DNN(regression(flatten(inp)), checkpoint_path="ck"), "checkpoint_path"),
    ]
    for make, argument in cases:
        with pytest.raises(NotImplementedError, match=argument):
            make()
    with pytest.raises(ValueError, match="shape"):
        input_data()


def _tiny_regressor(optimizer: object = "adam", keep_prob: float = 0.9) -> object:
    inp = input_data(shape=[None, 6, 6, 1], name="input")
    x = conv_2d(inp, 3, 3, activation="relu", scope="conv")
    x = dropout(x, keep_prob)  # keep_prob=1: no random masks, so two runs can match exactly
    x = fully_connected(x, 4, scope="out")
    return regression(x, optimizer=optimizer, loss="mean_square", learning_rate=0.01)


def test_fit_validation_set_fraction_and_tuple(tmp_path: Path) -> None:
    set_seed(3)
    X, Y = _rand(20, 6, 6, 1), _rand(20, 4, seed=1)
    dnn = DNN(_tiny_regressor(), tensorboard_dir=tmp_path)
    history = dnn.fit(X, Y, n_epoch=2, validation_set=0.25, batch_size=8, run_id="frac")
    assert len(history.history["val_loss"]) == 2
    with pytest.raises(ValueError, match="rows"):
        dnn.fit(X, Y[:10], n_epoch=1)
    # a tuple: the last val_loss is the loss on exactly those rows after training
    history = dnn.fit(X[:15], Y[:15], n_epoch=1, validation_set=(X[15:], Y[15:]), run_id="tup")
    assert dnn.evaluate(X[15:], Y[15:]) == [
        pytest.approx(history.history["val_loss"][-1], rel=1e-5)
    ]
    # the fraction split is drawn from NumPy's global generator, so set_seed fixes it
    picks = []
    for _ in range(2):
        set_seed(7)
        seen: list[np.ndarray] = []
        dnn.model.fit = lambda x, y, validation_data, seen=seen, **kw: seen.append(
            validation_data[0]
        )  # type: ignore[method-assign]
        dnn.fit(X, Y, n_epoch=1, validation_set=0.25, run_id="seeded")
        picks.append(seen[0])
    assert picks[0].shape == (5, 6, 6, 1)
    np.testing.assert_array_equal(picks[0], picks[1])


def test_save_load_round_trip_restores_weights_and_optimizer(tmp_path: Path) -> None:
    set_seed(0)
    X, Y = _rand(16, 6, 6, 1), _rand(16, 4, seed=2)
    dnn = DNN(
        _tiny_regressor(SGD(0.05, lr_decay=0.5, decay_step=3, staircase=True), keep_prob=1.0),
        tensorboard_dir=tmp_path,
    )
    dnn.fit(X, Y, n_epoch=2, batch_size=4, shuffle=False, run_id="a")
    before = dnn.predict(X)
    path = dnn.save(tmp_path / "m" / "model.keras")
    assert path.is_file() and not list(path.parent.glob("*.tmp*"))

    fresh = DNN(_tiny_regressor(), tensorboard_dir=tmp_path)  # a different, untrained network
    assert not np.allclose(fresh.predict(X), before)
    fresh.load(path)
    np.testing.assert_array_equal(fresh.predict(X), before)
    assert int(fresh.model.optimizer.iterations.numpy()) == 8  # 2 epochs x 4 batches
    # the restored optimizer (step count, so decayed rate) continues exactly like the original
    dnn.fit(X, Y, n_epoch=1, batch_size=4, shuffle=False, run_id="b")
    fresh.fit(X, Y, n_epoch=1, batch_size=4, shuffle=False, run_id="c")
    for a, b in zip(dnn.model.get_weights(), fresh.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # plain Keras loads it too, in safe mode, with no custom objects
    restored = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(restored.predict(X, verbose=0), before)


def test_classification_one_hot_evaluate_and_labels(tmp_path: Path) -> None:
    set_seed(1)
    X = _rand(30, 5)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)  # classes 0..2
    inp = input_data(shape=[None, 5])
    net = regression(
        fully_connected(inp, 3, activation="softmax"),
        to_one_hot=True,
        n_classes=3,
        learning_rate=0.05,
    )
    dnn = DNN(net, tensorboard_dir=tmp_path)
    dnn.fit(X, y, n_epoch=3, show_metric=True, run_id="cls")
    (acc,) = dnn.evaluate(X, y)
    probs = dnn.predict(X)
    assert acc == pytest.approx(np.mean(probs.argmax(1) == y))
    labels = dnn.predict_label(X)
    np.testing.assert_array_equal(labels[:, 0], probs.argmax(1))
    with pytest.raises(ValueError, match="int labels"):
        dnn.fit(X, y + 5, n_epoch=1)


def test_snippet_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's snippet, unchanged except n_epoch=100 -> 2 (100 epochs of a 2.2M-weight net
    take ~2 minutes on a loaded 2-core CPU), on 64 random 96x96 images."""
    import tensorflow as tf

    assert SNIPPET.count("n_epoch=100") == 1
    code = SNIPPET.replace("n_epoch=100", "n_epoch=2")
    monkeypatch.chdir(tmp_path)
    set_seed(0)
    rng = np.random.default_rng(0)
    namespace: dict[str, object] = {
        "X": rng.random((64, 96, 96, 1), dtype=np.float32),
        "Y": rng.uniform(-1, 1, (64, 30)).astype("float32"),
    }
    exec("from utils.tflearn_compat import *\n" + code, namespace)
    model = namespace["model"]
    assert isinstance(model, DNN)
    X = namespace["X"]
    preds = model.predict(X[:16])  # type: ignore[index]
    assert preds.shape == (16, 30) and np.isfinite(preds).all()
    saved = keras.models.load_model("models/v1/model.keras", safe_mode=True)
    np.testing.assert_allclose(saved.predict(X[:16], verbose=0), preds, rtol=1e-6)  # type: ignore[index]
    assert [layer.name for layer in saved.layers][:3] == ["input", "conv1_1", "maxpool1"]

    # TensorBoard events per run_id, written by keras.callbacks.TensorBoard: the loss per epoch
    # (steps 0 and 1), and validation's loss also against the training step, as tflearn drew it
    for split, tags in (
        ("train", {"epoch_loss", "epoch_learning_rate"}),
        ("validation", {"epoch_loss", "evaluation_loss_vs_iterations"}),
    ):
        files = glob.glob(os.path.join("runs", "v1-single-layer", split, "events.out.tfevents.*"))
        assert files, split
        found: dict[str, list[int]] = {}
        for event in tf.compat.v1.train.summary_iterator(files[0]):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(event.step)
        assert tags <= set(found), (split, found)
        assert found["epoch_loss"] == [0, 1]
    # 58 training images = one batch of 64 per epoch: training steps 1 and 2
    assert found["evaluation_loss_vs_iterations"] == [1, 2]


def test_weight_histograms_at_tensorboard_verbose_2(tmp_path: Path) -> None:
    import tensorflow as tf

    X, Y = _rand(8, 6, 6, 1), _rand(8, 4)
    DNN(_tiny_regressor(), tensorboard_dir=tmp_path, tensorboard_verbose=2).fit(
        X, Y, n_epoch=1, run_id="h"
    )
    (events,) = glob.glob(str(tmp_path / "h" / "train" / "events.out.tfevents.*"))
    histograms = {
        value.tag
        for event in tf.compat.v1.train.summary_iterator(events)
        for value in event.summary.value
        if value.metadata.plugin_data.plugin_name == "histograms"
    }
    assert {"conv/kernel/histogram", "out/kernel/histogram"} <= histograms


def test_save_appends_keras_extension_with_warning(tmp_path: Path) -> None:
    dnn = DNN(_tiny_regressor(), tensorboard_dir=tmp_path)
    with pytest.warns(UserWarning, match=".keras"):
        path = dnn.save(tmp_path / "model.tflearn")
    assert path.name == "model.tflearn.keras" and path.is_file()
    dnn.load(tmp_path / "model.tflearn")  # finds the .keras file, as saved
    with pytest.raises(FileNotFoundError, match="missing"):
        dnn.load(tmp_path / "missing.keras")
    assert tc.__all__ == sorted(set(tc.__all__), key=tc.__all__.index)  # no duplicates
