"""Model builders: shapes, parameter counts, outputs in pixels, safe-mode save/restore."""

from __future__ import annotations

import numpy as np
import pytest

from utils.models import keypoint_convnet, keypoint_heatmap, keypoint_single_layer
from utils.training import check_save_restore

# --------------------------------------------------------------------------------------------
# Keypoints
# --------------------------------------------------------------------------------------------


def test_single_layer_parameter_count_and_shape() -> None:
    model = keypoint_single_layer(hidden=100)
    assert model.output_shape == (None, 30)
    assert model.count_params() == 96 * 96 * 100 + 100 + 100 * 30 + 30
    assert keypoint_single_layer(hidden=7).count_params() == 96 * 96 * 7 + 7 + 7 * 30 + 30
    pooled = keypoint_single_layer(hidden=100, downsample=2)
    assert pooled.count_params() == 48 * 48 * 100 + 100 + 100 * 30 + 30


def test_convnet_parameter_count_matches_its_blocks() -> None:
    filters, dense = (8, 16, 32), 64
    for downsample in (1, 2):
        model = keypoint_convnet(filters, dense, downsample=downsample, dropout=0.2)
        convs, channels = 0, 1
        for f in filters:
            convs += 3 * 3 * channels * f + f
            channels = f
        flat = (96 // downsample // 8) ** 2 * channels
        assert model.count_params() == convs + flat * dense + dense + dense * 30 + 30
        assert model.output_shape == (None, 30)
    # The default convnet is smaller than the single-layer net it beats.
    assert keypoint_convnet().count_params() < keypoint_single_layer().count_params()


@pytest.mark.parametrize("build", [keypoint_single_layer, keypoint_convnet])
def test_untrained_outputs_are_pixels_around_the_centre(build) -> None:
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((4, 96, 96, 1)).astype(np.float32)
    y = build()(x, training=False).numpy()
    assert y.shape == (4, 30)
    # The pixel head rescales outputs around the image centre (48 px), not around 0.
    assert abs(y.mean() - 48) < 8


def test_untrained_convnet_starts_inside_the_face() -> None:
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((4, 96, 96, 1)).astype(np.float32)
    y = keypoint_convnet()(x, training=False).numpy()
    assert np.all((y > 20) & (y < 76))


@pytest.mark.parametrize("build", [keypoint_single_layer, keypoint_convnet])
def test_saves_and_restores_in_safe_mode(build, tmp_path) -> None:
    x = np.random.default_rng(1).random((2, 96, 96, 1)).astype(np.float32)
    restored = check_save_restore(build(), x, tmp_path / "model.keras")
    assert restored.count_params() == build().count_params()


def test_builders_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="hidden"):
        keypoint_single_layer(hidden=0)
    with pytest.raises(ValueError, match="filters"):
        keypoint_convnet(filters=())
    with pytest.raises(ValueError, match="divisible"):
        keypoint_convnet(filters=(8,) * 6)  # 96 is not divisible by 2 * 64
    with pytest.raises(ValueError, match="downsample"):
        keypoint_convnet(downsample=0)
    with pytest.raises(ValueError, match="dropout"):
        keypoint_convnet(dropout=1.0)


def test_heatmap_network_reads_positions_off_its_maps(tmp_path) -> None:
    """Each keypoint is its softmax map's centre of mass, in pixels, x before y."""
    import keras

    model = keypoint_heatmap(widths=(4, 4, 4, 4), stem=4)
    assert model.output_shape == (None, 30)
    assert not model.get_layer("cell_centres").trainable
    # Reading one-hot maps: cell (row 5, col 2) of the 24x24 grid covers pixels 8..11 in x
    # and 20..23 in y, so its centre is (9.5, 21.5); a map split between two cells of a row
    # lands halfway.
    read = keras.Sequential(
        [model.get_layer(n) for n in ("flat_maps", "map_per_keypoint", "heatmaps", "cell_centres")]
    )
    logits = np.full((1, 24, 24, 15), -1e4, dtype=np.float32)
    logits[0, 5, 2, 0] = 0.0
    logits[0, 10, 3, 1] = logits[0, 10, 4, 1] = 0.0
    points = read(logits).numpy()[0]
    np.testing.assert_allclose(points[0], [9.5, 21.5], atol=1e-4)
    np.testing.assert_allclose(points[1], [15.5, 41.5], atol=1e-4)
    # Uniform maps (an untrained net is close to that) put every keypoint near the centre.
    x = np.random.default_rng(0).random((2, 96, 96, 1)).astype(np.float32)
    y = model(x, training=False).numpy()
    assert np.all(np.abs(y - 47.5) < 10)
    restored = check_save_restore(model, x, tmp_path / "heatmap.keras")
    assert restored.count_params() == model.count_params()
    with pytest.raises(ValueError, match="four positive widths"):
        keypoint_heatmap(widths=(8, 8, 8))
    with pytest.raises(ValueError, match="divisible by 16"):
        keypoint_heatmap(input_shape=(90, 90, 1))


# --------------------------------------------------------------------------------------------
# Emotions (FER-2013)
# --------------------------------------------------------------------------------------------


def test_fer_baseline_shape_and_parameter_count() -> None:
    from utils.models import fer_baseline_cnn

    model = fer_baseline_cnn(filters=(8, 16), dense=32)
    assert model.output_shape == (None, 7)
    convs = (3 * 3 * 1 * 8 + 8) + (3 * 3 * 8 * 16 + 16)
    flat = 12 * 12 * 16
    assert model.count_params() == convs + flat * 32 + 32 + 32 * 7 + 7
    probs = model(np.zeros((2, 48, 48, 1), np.float32)).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_fer_cnn_switches_add_the_layers_they_name() -> None:
    from utils.models import fer_cnn

    def kinds(model) -> list[str]:
        return [type(layer).__name__ for layer in model.layers]

    plain = fer_cnn()
    assert "BatchNormalization" not in kinds(plain) and "Dropout" not in kinds(plain)
    bn = fer_cnn(batch_norm=True)
    assert kinds(bn).count("BatchNormalization") == 3  # after both convs and the dense layer
    assert not bn.get_layer("conv1").use_bias  # BN's offset replaces the bias
    inbn = fer_cnn(input_bn=True)
    assert kinds(inbn)[1] == "BatchNormalization"
    selu = fer_cnn(activation="selu", dropout=0.2)
    assert "AlphaDropout" in kinds(selu) and "Dropout" not in kinds(selu)
    assert selu.get_layer("conv1").kernel_initializer.__class__.__name__ == "LecunNormal"
    relu = fer_cnn(dropout=0.5)
    assert relu.get_layer("dropout").rate == 0.5
    assert relu.get_layer("conv1").kernel_initializer.__class__.__name__ == "HeNormal"


def test_fer_input_bn_absorbs_scale_and_offset() -> None:
    """In training mode an input BN layer makes the network blind to how pixels were scaled."""
    from utils.models import fer_cnn

    x = np.random.default_rng(3).random((16, 48, 48, 1)).astype(np.float32)
    model = fer_cnn(input_bn=True)
    a = model(x, training=True).numpy()
    b = model(x * 255.0 + 100.0, training=True).numpy()
    # Equal up to BN's epsilon (added to the variance, which is tiny for [0, 1] pixels).
    np.testing.assert_allclose(a, b, atol=1e-2)
    # Without it, the same change of scale swings the predictions completely.
    plain = fer_cnn()
    swing = np.abs(plain(x, training=True).numpy() - plain(x * 255.0 + 100.0, training=True))
    assert float(np.max(swing)) > 0.2


def test_fer_cnn_saves_and_restores_in_safe_mode(tmp_path) -> None:
    from utils.models import fer_cnn

    x = np.random.default_rng(4).random((2, 48, 48, 1)).astype(np.float32)
    model = fer_cnn(batch_norm=True, activation="selu", dropout=0.1, input_bn=True)
    restored = check_save_restore(model, x, tmp_path / "fer.keras")
    assert restored.name == model.name


def test_fer_cnn_rejects_bad_arguments() -> None:
    from utils.models import fer_cnn

    with pytest.raises(ValueError, match="activation"):
        fer_cnn(activation="tanh")
    with pytest.raises(ValueError, match="dropout"):
        fer_cnn(dropout=1.0)
    with pytest.raises(ValueError, match="divisible"):
        fer_cnn(filters=(8,) * 5)  # 48 is not divisible by 32
    with pytest.raises(ValueError, match="filters"):
        fer_cnn(filters=())


# --------------------------------------------------------------------------------------------
# ResNet50 transfer learning
# --------------------------------------------------------------------------------------------


def _offline(*args: object, **kwargs: object) -> str:
    raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network")


def test_resnet50_offline_warns_and_uses_random_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    from utils.models import resnet50_classifier, resnet50_imagenet_weights

    monkeypatch.setattr(keras.utils, "get_file", _offline)
    with pytest.warns(UserWarning, match="random weights"):
        assert resnet50_imagenet_weights() is None
    with pytest.warns(UserWarning, match="Could not download"):
        model = resnet50_classifier(weights="imagenet", image_size=32)
    assert model.name == "resnet50_scratch_32"
    assert model.get_layer("resnet50").trainable  # nothing pretrained to protect


def test_resnet50_weights_come_from_keras_url_with_checksum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Online, the real file is fetched with Keras' own URL and hash (no network here)."""
    import keras

    from utils.models import RESNET50_NOTOP_MD5, RESNET50_NOTOP_URL, resnet50_imagenet_weights

    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []

    def fake_get_file(*args: object, **kwargs: object) -> str:
        calls.append((args, kwargs))
        return "/cache/models/resnet50_notop.h5"

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    assert resnet50_imagenet_weights() == "/cache/models/resnet50_notop.h5"
    (fname, origin), kwargs = calls[0]
    assert origin == RESNET50_NOTOP_URL and str(fname).endswith("_notop.h5")
    assert kwargs["file_hash"] == RESNET50_NOTOP_MD5 and kwargs["cache_subdir"] == "models"
    # The same URL and hash keras.applications itself uses.
    from keras.src.applications import resnet

    assert RESNET50_NOTOP_URL == resnet.BASE_WEIGHTS_PATH + str(fname)
    assert RESNET50_NOTOP_MD5 == resnet.WEIGHTS_HASHES["resnet50"][1]


def test_resnet50_preprocessing_equals_keras_preprocess_input() -> None:
    import keras

    from utils.models import resnet50_classifier

    model = resnet50_classifier(weights=None, image_size=64)
    x = np.random.default_rng(0).random((3, 48, 48, 1), dtype=np.float32)
    inside = keras.Model(model.input, model.get_layer("imagenet_mean").output)
    got = np.asarray(inside.predict(x, verbose=0))
    upscaled = keras.ops.convert_to_numpy(keras.layers.Resizing(64, 64)(x))
    expected = keras.applications.resnet50.preprocess_input(np.repeat(upscaled * 255.0, 3, -1))
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert model.output_shape == (None, 7)


def test_resnet50_freeze_and_fine_tune_counts() -> None:
    from utils.models import resnet50_classifier, set_backbone_trainable

    model = resnet50_classifier(weights=None, freeze=True, dropout=0.0)
    head = 2048 * 7 + 7
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == head
    everything = set_backbone_trainable(model, True)
    assert head < everything < model.count_params()  # batch-norm statistics stay frozen
    top = set_backbone_trainable(model, True, last_n=5)
    assert head < top < everything
    assert set_backbone_trainable(model, False) == head
    with pytest.raises(ValueError, match="resnet50"):
        set_backbone_trainable(keypoint_single_layer(), True)


def test_resnet50_saves_and_restores_in_safe_mode(tmp_path: object) -> None:
    from pathlib import Path

    from utils.models import resnet50_classifier

    model = resnet50_classifier(weights=None, image_size=32)
    x = np.random.default_rng(1).random((2, 48, 48, 1), dtype=np.float32)
    check_save_restore(model, x, Path(str(tmp_path)) / "r50.keras", atol=1e-5)


def test_resnet50_rejects_bad_arguments() -> None:
    from utils.models import resnet50_classifier

    with pytest.raises(ValueError, match="at least 32"):
        resnet50_classifier(weights=None, image_size=16)
    with pytest.raises(ValueError, match="channels"):
        resnet50_classifier((48, 48, 2), weights=None)
    with pytest.raises(ValueError, match="weights="):
        resnet50_classifier(weights="no_such_file.h5")


# --------------------------------------------------------------------------------------------
# Action units (notebook 09)
# --------------------------------------------------------------------------------------------


def test_au_cnn_learned_stem_replaces_the_average_pooling(tmp_path: object) -> None:
    from pathlib import Path

    from utils.models import au_cnn

    pooled = au_cnn(3, filters=(4, 8), dense=8)
    learned = au_cnn(3, filters=(4, 8), dense=8, stem=5)
    names = {layer.name for layer in learned.layers}
    assert "stem" in names and "downsample" not in names
    assert "downsample" in {layer.name for layer in pooled.layers}
    stem = learned.get_layer("stem")
    assert stem.strides == (2, 2) and stem.kernel_size == (4, 4) and stem.filters == 5
    # Same trunk after the stem: conv1 sees 48x48 maps either way, with 5 channels instead of 1.
    assert (
        learned.get_layer("relu1").output.shape[1:3] == pooled.get_layer("relu1").output.shape[1:3]
    )
    assert learned.output_shape == (None, 3)
    x = np.random.default_rng(0).random((2, 96, 96, 1), dtype=np.float32)
    check_save_restore(learned, x, Path(str(tmp_path)) / "au.keras", atol=1e-5)
    for bad in ({"stem": -1}, {"stem": 4, "downsample": 1}):
        with pytest.raises(ValueError, match="stem="):
            au_cnn(3, filters=(4, 8), **bad)  # type: ignore[arg-type]


def test_two_headed_au_cnn_masks_missing_emotions_with_sample_weights() -> None:
    """Weight 0 on the emotion output: that head gets no gradient, the AU head still learns."""
    import keras

    from utils.losses import WeightedBinaryCrossentropy
    from utils.models import au_cnn
    from utils.seeding import set_seed

    set_seed(0)
    model = au_cnn(3, emotions=4, filters=(4,), dense=4, stem=2, dropout=0.0)
    model.compile(
        keras.optimizers.SGD(0.1),
        loss={
            "aus": WeightedBinaryCrossentropy([2.0, 1.0, 1.0]),
            "emotion": "categorical_crossentropy",
        },
    )
    rng = np.random.default_rng(0)
    x = rng.random((8, 96, 96, 1), dtype=np.float32)
    aus = (rng.random((8, 3)) > 0.5).astype(np.float32)
    emotion = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]  # labels that would pull
    before = {name: model.get_layer(name).get_weights()[0].copy() for name in ("aus", "emotion")}
    history = model.fit(
        x,
        {"aus": aus, "emotion": emotion},
        sample_weight={"aus": np.ones(8, np.float32), "emotion": np.zeros(8, np.float32)},
        batch_size=8,
        epochs=1,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"]).all()
    np.testing.assert_array_equal(model.get_layer("emotion").get_weights()[0], before["emotion"])
    assert not np.allclose(model.get_layer("aus").get_weights()[0], before["aus"])


def test_check_save_restore_of_a_compiled_untrained_model_warns_nothing(tmp_path) -> None:
    import warnings

    from utils.models import keypoint_convnet

    model = keypoint_convnet((4, 8))
    model.compile(optimizer="adam", loss="mse")
    x = np.zeros((2, 96, 96, 1), "float32")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*Skipping variable loading.*")
        restored = check_save_restore(model, x, tmp_path / "untrained.keras")
    assert len(restored.optimizer.variables) == len(model.optimizer.variables) > 2
