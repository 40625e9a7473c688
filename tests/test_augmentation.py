"""utils.augmentation: the same augmentation as TensorFlow ops, Keras layers and NumPy/OpenCV."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from toy_data import smooth_faces as _faces

from utils.augmentation import (
    AugmentConfig,
    _affine_matrices,  # noqa: PLC2701 (tested directly)
    augment_batch_opencv,
    augment_image_numpy,
    augmentation_layers,
    tf_augment,
)

NO_WARP = AugmentConfig(flip=False, rotation_deg=0, zoom=0, translation=0, contrast=0)


def test_tf_augment_without_ranges_is_the_identity() -> None:
    x, _ = _faces(8)
    out = tf_augment(x, tf.constant([1, 2]), NO_WARP).numpy()
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_tf_augment_flip_mirrors_about_half_the_images() -> None:
    x, _ = _faces(200)
    config = AugmentConfig(flip=True, rotation_deg=0, zoom=0, translation=0, contrast=0)
    out = tf_augment(x, tf.constant([3, 4]), config).numpy()
    mirrored = np.array(
        [np.allclose(o, i[:, ::-1], atol=1e-5) for o, i in zip(out, x, strict=True)]
    )
    unchanged = np.array([np.allclose(o, i, atol=1e-5) for o, i in zip(out, x, strict=True)])
    assert np.all(mirrored | unchanged)
    assert 0.35 < mirrored.mean() < 0.65


def test_tf_augment_numpy_and_keras_layers_change_images_equally() -> None:
    """The three implementations describe the same augmentation: same average change."""
    x, _ = _faces(256)
    rng = np.random.default_rng(0)
    tf_change = np.abs(tf_augment(x, tf.constant([5, 6])).numpy() - x).mean()
    np_change = np.abs(np.stack([augment_image_numpy(i, rng) for i in x]) - x).mean()
    keras_out = augmentation_layers(seed=3)(x, training=True)
    keras_change = np.abs(keras.ops.convert_to_numpy(keras_out) - x).mean()
    assert tf_change > 0.05
    assert np_change == pytest.approx(tf_change, rel=0.2)
    assert keras_change == pytest.approx(tf_change, rel=0.2)


def test_affine_matrices_fold_the_flip_into_opencvs_rotation_matrix() -> None:
    """One warp with the folded matrix == flip, then cv2.getRotationMatrix2D + shift."""
    x, _ = _faces(6)
    rng = np.random.default_rng(7)
    flip = np.array([True, False, True, False, True, True])
    angle, scale = rng.uniform(-20, 20, 6), rng.uniform(0.8, 1.2, 6)
    dx, dy = rng.uniform(-4, 4, 6), rng.uniform(-4, 4, 6)
    matrices = _affine_matrices(48, 48, flip, angle, scale, dx, dy)
    for i in range(6):
        src = np.ascontiguousarray(x[i, :, ::-1, 0] if flip[i] else x[i, ..., 0])
        ref = cv2.getRotationMatrix2D((23.5, 23.5), angle[i], scale[i])
        ref[:, 2] += (dx[i], dy[i])
        expected = cv2.warpAffine(src, ref, (48, 48), borderMode=cv2.BORDER_REFLECT)
        got = cv2.warpAffine(x[i, ..., 0], matrices[i], (48, 48), borderMode=cv2.BORDER_REFLECT)
        # OpenCV rounds source positions to 1/32 pixel, so the two roundings differ a little.
        np.testing.assert_allclose(got, expected, atol=5e-3)
        assert np.abs(got - expected).mean() < 1e-4


def test_augment_batch_opencv_is_the_same_augmentation() -> None:
    x, _ = _faces(256)
    np.testing.assert_allclose(augment_batch_opencv(x, [1, 2], NO_WARP), x)
    flip_only = AugmentConfig(flip=True, rotation_deg=0, zoom=0, translation=0, contrast=0)
    out = augment_batch_opencv(x, [3, -4], flip_only)  # tf.data's seeds may be negative
    mirrored = np.array([np.allclose(o, i[:, ::-1]) for o, i in zip(out, x, strict=True)])
    assert np.all(mirrored | np.all(out == x, axis=(1, 2, 3))) and 0.35 < mirrored.mean() < 0.65
    out = augment_batch_opencv(x, [5, 6])
    assert out.shape == x.shape and out.dtype == np.float32 and 0 <= out.min() <= out.max() <= 1
    np.testing.assert_array_equal(out, augment_batch_opencv(x, [5, 6]))  # seeded
    assert not np.array_equal(out, augment_batch_opencv(x, [5, 7]))
    cv_change = np.abs(out - x).mean()
    tf_change = np.abs(tf_augment(x, tf.constant([5, 6])).numpy() - x).mean()
    assert cv_change == pytest.approx(tf_change, rel=0.2)
    with pytest.raises(ValueError, match=r"images: expected a batch \(N, H, W, C\)"):
        augment_batch_opencv(x[0], [1, 2])


def test_augmented_images_stay_in_range_and_shape() -> None:
    x, _ = _faces(32)
    out = tf_augment(x, tf.constant([0, 9]), AugmentConfig(contrast=0.9)).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    one = augment_image_numpy(x[0], np.random.default_rng(1), AugmentConfig(contrast=0.9))
    assert one.shape == x[0].shape and 0.0 <= one.min() and one.max() <= 1.0


def test_augment_config_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="zoom"):
        AugmentConfig(zoom=1.5)
    with pytest.raises(ValueError, match="rotation_deg"):
        AugmentConfig(rotation_deg=-5)
