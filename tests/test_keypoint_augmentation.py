"""Keypoint-aware augmentation: labels must move (and be renamed) with the pixels.

The proofs use synthetic "dot faces": a dark image with one dot at each keypoint, each dot
with its own brightness, so after a transform we can look at the pixels and see which
physical point a label now points at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from utils import keypoint_augmentation as ka
from utils.schema import KEYPOINT_COLUMNS, mirror_name

# A plausible face layout (x, y) in Kaggle order; left_* = the subject's left = larger x.
LAYOUT = np.array(
    [
        (66, 38),  # left_eye_center
        (30, 38),  # right_eye_center
        (59, 39),  # left_eye_inner_corner
        (73, 39),  # left_eye_outer_corner
        (37, 39),  # right_eye_inner_corner
        (23, 39),  # right_eye_outer_corner
        (56, 29),  # left_eyebrow_inner_end
        (79, 30),  # left_eyebrow_outer_end
        (40, 29),  # right_eyebrow_inner_end
        (17, 30),  # right_eyebrow_outer_end
        (48, 57),  # nose_tip
        (63, 75),  # mouth_left_corner
        (33, 75),  # mouth_right_corner
        (48, 70),  # mouth_center_top_lip
        (48, 82),  # mouth_center_bottom_lip
    ],
    dtype=np.float32,
)
KEYPOINTS = LAYOUT.reshape(30)
NAMES = [c[:-2] for c in KEYPOINT_COLUMNS[0::2]]


def brightness(k: int) -> float:
    """The brightness of keypoint k's dot: distinct for every keypoint."""
    return (k + 1) / 16.0


def dot_face(sigma: float = 0.0) -> np.ndarray:
    """(96, 96, 1) float32: black, with a dot of brightness (k+1)/16 at keypoint k."""
    if sigma == 0:
        image = np.zeros((96, 96), np.float32)
        for k, (x, y) in enumerate(LAYOUT.astype(int)):
            image[y, x] = brightness(k)
        return image[..., None]
    yy, xx = np.mgrid[0:96, 0:96]
    image = np.zeros((96, 96), np.float32)
    for x, y in LAYOUT:
        image += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return image[..., None].astype(np.float32)


def blob_centre(image: np.ndarray, x: float, y: float, radius: int = 4) -> tuple[float, float]:
    """Brightness-weighted centre of the pixels within ``radius`` of (x, y)."""
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    window = (np.abs(xx - x) <= radius) & (np.abs(yy - y) <= radius)
    weight = np.where(window, image[..., 0], 0.0)
    return float((weight * xx).sum() / weight.sum()), float((weight * yy).sum() / weight.sum())


# --------------------------------------------------------------------------------------------
# Horizontal flip
# --------------------------------------------------------------------------------------------


def test_flip_permutation_swaps_left_and_right_names() -> None:
    perm = ka.FLIP_PERMUTATION
    assert sorted(perm.tolist()) == list(range(30))
    assert (perm[perm] == np.arange(30)).all(), "swapping twice must be the identity"
    for j, source in enumerate(perm):
        name, came_from = KEYPOINT_COLUMNS[j], KEYPOINT_COLUMNS[source]
        assert name[-2:] == came_from[-2:], "x must stay x, y must stay y"
        if "left" in name:
            assert came_from == name.replace("left", "right")
        elif "right" in name:
            assert came_from == name.replace("right", "left")
        else:  # nose tip, lip centres
            assert came_from == name


def test_flip_twice_is_identity_numpy_and_tf() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((96, 96, 1), dtype=np.float32)
    kp = KEYPOINTS + rng.normal(0, 3, 30).astype(np.float32)
    kp[[6, 7, 20, 21]] = np.nan
    im1, kp1 = ka.flip_horizontal_np(*ka.flip_horizontal_np(image, kp))
    np.testing.assert_array_equal(im1, image)
    np.testing.assert_array_equal(np.isnan(kp1), np.isnan(kp))  # NaN stays NaN
    np.testing.assert_allclose(kp1, kp, atol=1e-5, equal_nan=True)  # float32 rounding only
    im2, kp2 = ka.flip_horizontal(*ka.flip_horizontal(image, kp))
    np.testing.assert_array_equal(im2.numpy(), image)
    np.testing.assert_allclose(kp2.numpy(), kp, equal_nan=True, atol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "tf"])
def test_after_a_flip_each_label_points_at_the_mirrored_part(backend: str) -> None:
    image = dot_face()
    if backend == "numpy":
        flipped, kp = ka.flip_horizontal_np(image, KEYPOINTS)
    else:
        flipped_t, kp_t = ka.flip_horizontal(image, KEYPOINTS)
        flipped, kp = flipped_t.numpy(), kp_t.numpy()
    points = kp.reshape(15, 2)
    # The subject's left is still the image's right (larger x) after the flip...
    assert points[0, 0] > points[1, 0], "left_eye_center must keep the larger x"
    assert points[11, 0] > points[12, 0], "mouth_left_corner must keep the larger x"
    for k, (x, y) in enumerate(points):
        # ...every label sits exactly on a dot (x' = 95 - x matches cv2/tf pixel flipping)...
        value = flipped[int(round(y)), int(round(x)), 0]
        assert x == pytest.approx(round(x)) and value > 0, f"{NAMES[k]} is not on a dot"
        # ...and on the *mirror twin's* dot: the mirrored face's left eye is the old right eye.
        twin = NAMES.index(mirror_name(NAMES[k]))
        assert value == pytest.approx(brightness(twin)), f"{NAMES[k]} points at the wrong part"


def test_tf_flip_matches_numpy_flip_on_a_batch() -> None:
    rng = np.random.default_rng(1)
    images = rng.random((3, 96, 96, 1), dtype=np.float32)
    kps = np.stack([KEYPOINTS + i for i in range(3)])
    im_tf, kp_tf = ka.flip_horizontal(images, kps)
    for i in range(3):
        im_np, kp_np = ka.flip_horizontal_np(images[i], kps[i])
        np.testing.assert_array_equal(im_tf.numpy()[i], im_np)
        np.testing.assert_allclose(kp_tf.numpy()[i], kp_np, atol=1e-5)


def test_random_flip_flips_about_half_and_keeps_pairs_consistent() -> None:
    images = np.repeat(dot_face(), 200, axis=-1).transpose(2, 0, 1)[..., None]
    kps = np.repeat(KEYPOINTS[None], 200, axis=0)
    out_im, out_kp = ka.random_flip(images, kps, rate=0.5, seed=[3, 4])
    flipped = out_kp.numpy()[:, 0] != KEYPOINTS[0]
    assert 70 < flipped.sum() < 130
    # A flipped label set always goes with a flipped image.
    first_dot = out_im.numpy()[:, 38, 95 - 66, 0] > 0
    np.testing.assert_array_equal(first_dot, flipped)


# --------------------------------------------------------------------------------------------
# Rotation, scale, shift
# --------------------------------------------------------------------------------------------


def test_quarter_turn_moves_pixels_exactly_onto_the_keypoints() -> None:
    # About the centre (47.5, 47.5) a 90-degree turn maps the pixel grid onto itself, so any
    # half-pixel disagreement between pixels and labels would show here.
    image = dot_face()
    turned, kp = ka.affine_transform(image, KEYPOINTS, angle=90.0, out_of_bounds="keep")
    turned, kp = turned.numpy(), kp.numpy()
    for k, (x, y) in enumerate(kp.reshape(15, 2)):
        assert x == pytest.approx(round(x), abs=1e-4) and y == pytest.approx(round(y), abs=1e-4)
        assert turned[int(round(y)), int(round(x)), 0] == pytest.approx(brightness(k), abs=1e-4)
    # Positive angles turn clockwise on screen: the subject's left eye (right of centre,
    # slightly above) goes below the centre.
    assert kp[1] > 47.5


@pytest.mark.parametrize("seed", [[1, 2], [3, 4], [5, 6], [7, 8]])
def test_random_affine_moves_keypoints_with_the_dots(seed: list[int]) -> None:
    image = dot_face(sigma=1.2)
    warped, kp = ka.random_affine(image, KEYPOINTS, rotation=25, scale=0.15, shift=6, seed=seed)
    warped, kp = warped.numpy(), kp.numpy()
    assert not np.allclose(kp, KEYPOINTS, atol=0.5), "the transform should move the keypoints"
    for x, y in kp.reshape(15, 2):
        cx, cy = blob_centre(warped, x, y, radius=3)
        assert abs(cx - x) < 0.35 and abs(cy - y) < 0.35, (x, y, cx, cy)


def test_tf_affine_matches_opencv() -> None:
    image = dot_face(sigma=1.5)
    matrix = ka.affine_matrix(angle=17.0, scale=1.08, shift=(3.0, -2.5))
    cv_image, cv_kp = ka.warp_affine_np(image, KEYPOINTS, matrix)
    tf_image, tf_kp = ka.affine_transform(
        image, KEYPOINTS, angle=17.0, scale=1.08, shift=(3.0, -2.5)
    )
    np.testing.assert_allclose(tf_kp.numpy(), cv_kp, atol=1e-3)
    # Interpolation details differ slightly (OpenCV uses fixed-point weights).
    assert np.abs(tf_image.numpy() - cv_image).max() < 0.02
    for x, y in cv_kp.reshape(15, 2):
        cx, cy = blob_centre(cv_image, x, y, radius=3)
        assert abs(cx - x) < 0.35 and abs(cy - y) < 0.35


def test_nan_stays_nan_and_outside_keypoints_become_nan() -> None:
    kp = KEYPOINTS.copy()
    kp[20:22] = np.nan  # nose tip missing
    # A 30-pixel shift right pushes the outer left-eyebrow end (x=79) out of the image.
    _, moved = ka.affine_transform(dot_face(), kp, shift=(30.0, 0.0))
    moved = moved.numpy()
    assert np.isnan(moved[20:22]).all()
    assert np.isnan(moved[14:16]).all(), "a keypoint pushed outside becomes missing"
    np.testing.assert_allclose(moved[2:4], kp[2:4] + [30, 0], atol=1e-4)
    _, kept = ka.affine_transform(dot_face(), kp, shift=(30.0, 0.0), out_of_bounds="keep")
    np.testing.assert_allclose(kept.numpy()[14:16], [109.0, 30.0], atol=1e-4)
    moved_np = ka.transform_keypoints_np(kp, ka.affine_matrix(shift=(30.0, 0.0)))
    np.testing.assert_allclose(moved_np, moved, atol=1e-4, equal_nan=True)


# --------------------------------------------------------------------------------------------
# Photometric, the combined augment, the dataset builder
# --------------------------------------------------------------------------------------------


def test_brightness_contrast_changes_pixels_not_keypoints() -> None:
    rng = np.random.default_rng(2)
    images = rng.random((8, 96, 96, 1), dtype=np.float32)
    kps = np.repeat(KEYPOINTS[None], 8, axis=0)
    out_im, out_kp = ka.augment(
        images, kps, flip=0, rotation=0, scale=0, shift=0, brightness=0.3, contrast=0.3, seed=[0, 1]
    )
    out = out_im.numpy()
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out.mean(axis=(1, 2, 3)) - images.mean(axis=(1, 2, 3))).max() > 0.01
    np.testing.assert_array_equal(out_kp.numpy(), kps)


def test_augment_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8|float32"):
        ka.augment(np.zeros((96, 96, 1), np.uint8), KEYPOINTS)
    with pytest.raises(ValueError, match=r"keypoints have shape"):
        ka.augment(dot_face(), KEYPOINTS[:28])
    with pytest.raises(ValueError, match="out_of_bounds"):
        ka.random_affine(dot_face(), KEYPOINTS, out_of_bounds="clip")  # type: ignore[arg-type]


def _dataset(batch: int | None) -> tf.data.Dataset:
    images = np.repeat(dot_face(sigma=1.2)[None], 6, axis=0)
    kps = np.repeat(KEYPOINTS[None], 6, axis=0)
    ds = tf.data.Dataset.from_tensor_slices((images, kps))
    return ds.batch(batch) if batch else ds


def _epoch(ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    ims, kps = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate([np.reshape(i, (-1, 96, 96, 1)) for i in ims]), np.concatenate(
        [np.reshape(k, (-1, 30)) for k in kps]
    )


@pytest.mark.parametrize("batch", [None, 3])
def test_dataset_is_reproducible_fresh_each_epoch_and_consistent(batch: int | None) -> None:
    # Photometric jitter off: it would blur the dot-centre measurement below.
    options = {"rotation": 15, "shift": 4, "brightness": 0, "contrast": 0}
    ds = ka.augment_keypoints_dataset(_dataset(batch), seed=7, **options)
    first, second = _epoch(ds), _epoch(ds)
    again = _epoch(ka.augment_keypoints_dataset(_dataset(batch), seed=7, **options))
    np.testing.assert_array_equal(first[1], again[1])  # same seed, same stream
    assert not np.allclose(first[1], second[1], equal_nan=True), "each epoch must differ"
    assert len({tuple(np.round(k[:2], 3)) for k in first[1]}) > 1, "each face its own transform"
    for image, kp in zip(*first, strict=True):  # labels still sit on the dots
        for x, y in kp.reshape(15, 2):
            if np.isnan(x):
                continue
            cx, cy = blob_centre(image, x, y, radius=3)
            assert abs(cx - x) < 0.5 and abs(cy - y) < 0.5


def test_dataset_builder_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="rotaton"):
        ka.augment_keypoints_dataset(_dataset(None), rotaton=10)


def test_keypoint_augmentation_moves_points_with_pixels() -> None:
    # A dark face with one bright dot per keypoint: after augmentation each point must still
    # sit on a bright spot.
    rng = np.random.default_rng(0)
    points = rng.uniform(25, 70, (4, 30)).astype(np.float32)
    images = np.zeros((4, 96, 96, 1), np.float32)
    for i in range(4):
        for x, y in points[i].reshape(-1, 2):
            images[
                i, int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2
            ] = 1
    out_x, out_y = ka.augment_batch_np(images, points, np.random.default_rng(1))
    assert out_x.shape == images.shape and out_y.shape == points.shape
    assert not np.allclose(out_y, points)
    xy = np.rint(out_y.reshape(4, -1, 2)).astype(int)
    brightness = [out_x[i, y, x, 0] for i in range(4) for x, y in xy[i]]
    background = np.median(out_x)
    assert np.median(brightness) > background + 0.3


def test_flip_tta_built_into_a_model_matches_numpy(tmp_path: Path) -> None:
    """The shipped files may hold flip TTA as plain layers; it must equal the NumPy version."""
    import keras

    from utils.runs import with_flip_tta

    keras.utils.set_random_seed(0)
    inputs = keras.Input((96, 96, 1))
    x = keras.layers.Conv2D(4, 5, strides=4, activation="relu")(inputs)
    net = keras.Model(inputs, keras.layers.Dense(30)(keras.layers.Flatten()(x)))
    faces = np.random.default_rng(0).random((3, 96, 96, 1), dtype=np.float32)
    axis = 48.4  # the real faces' label axis, not the pixel mirror 47.5
    wrapped = with_flip_tta(net, ka.keypoint_unflip_map(axis))
    wrapped.save(tmp_path / "tta.keras")
    loaded = keras.models.load_model(tmp_path / "tta.keras", safe_mode=True)
    direct = np.asarray(net(faces))
    mirrored = ka.mirror_keypoints(np.asarray(net(faces[:, :, ::-1])), axis)
    np.testing.assert_allclose(np.asarray(loaded(faces)), (direct + mirrored) / 2, atol=1e-4)
    # Mirroring twice about the same axis gives the points back.
    np.testing.assert_allclose(
        ka.mirror_keypoints(ka.mirror_keypoints(direct, axis), axis), direct, atol=1e-4
    )
