"""utils.person_classifier: the folder-per-person export and the offline path of the
ImageNet classifier."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from utils.person_classifier import (
    BACKBONE,
    MOBILENET_BACKBONE,
    colleague_classifier,
    export_person_folders,
)


def test_export_person_folders_reads_back_with_keras(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = rng.random((9, 12, 10, 1)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    folder = export_person_folders(images, labels, ["ann", "bob", "cy"], tmp_path / "people")
    assert sorted(p.name for p in folder.iterdir()) == ["ann", "bob", "cy"]
    assert len(list((folder / "bob").glob("*.png"))) == 3
    assert not list(folder.rglob("*.tmp"))
    ds = keras.utils.image_dataset_from_directory(
        folder, image_size=(12, 10), color_mode="grayscale", batch_size=9, shuffle=False
    )
    x, y = next(iter(ds))
    assert ds.class_names == ["ann", "bob", "cy"]
    assert sorted(y.numpy().tolist()) == sorted(labels.tolist())
    # Pixels survive the round trip (8-bit rounding only).
    want = np.sort((images * 255 + 0.5).astype(np.uint8).ravel())
    np.testing.assert_array_equal(np.sort(x.numpy().astype(np.uint8).ravel()), want)
    with pytest.raises(ValueError, match="indices into names"):
        export_person_folders(images, labels + 1, ["ann", "bob", "cy"], tmp_path / "bad")
    with pytest.raises(ValueError, match="not an empty folder"):  # old people would stay
        export_person_folders(images, labels, ["dee", "eve", "fay"], folder)


def test_colleague_classifier_offline_falls_back_to_random_weights(monkeypatch) -> None:
    """This machine is offline: simulate Keras' download failure so the test never depends on
    the network, and check the clear warning and the weights=None model."""

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid: None -- offline")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_network)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = colleague_classifier(3, image_size=32, alpha=0.35)
    assert any("random weights" in str(w.message) for w in caught)
    assert model.name == "mobilenetv2_scratch_3_people"
    assert model.get_layer(MOBILENET_BACKBONE).trainable  # from scratch: trains whole
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # Step 1 of fine-tuning (only the new softmax learns) works offline too.
    head_only = colleague_classifier(3, image_size=32, weights=None, freeze_base=True)
    assert not head_only.get_layer(MOBILENET_BACKBONE).trainable
    assert [w.name for w in head_only.trainable_weights] == ["kernel", "bias"]
    with pytest.raises(ValueError, match="n_people="):
        colleague_classifier(1, weights=None)
    with pytest.raises(ValueError, match="weights="):
        colleague_classifier(3, weights="faces")


def test_colleague_classifier_offline_builds_on_the_offline_base(monkeypatch, tmp_path) -> None:
    """Offline, ``offline_base`` (a grayscale face network) replaces MobileNetV2 silently."""

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid: None -- offline")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_network)
    base_in = keras.Input((16, 16, 1))
    base_out = keras.layers.Conv2D(4, 3, name="c")(base_in)
    base = keras.Model(base_in, base_out, name="face_trunk")
    with warnings.catch_warnings():
        # The planned alternative, not a failure: no "random weights" warning.
        warnings.filterwarnings("error", message=".*random weights.*")
        model = colleague_classifier(3, image_size=32, offline_base=base)
    assert model.name == "face_trunk_3_people"
    backbone = model.get_layer(BACKBONE)
    assert not backbone.trainable  # pretrained: step 1 trains the new head only
    np.testing.assert_allclose(backbone.get_weights()[0], base.get_weights()[0])
    assert not model.get_layer("to_grayscale").trainable
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    path = tmp_path / "colleagues.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(restored.predict(x, verbose=0), probs, rtol=1e-5, atol=1e-6)
