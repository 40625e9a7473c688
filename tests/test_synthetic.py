"""utils.synthetic: the face renderer's keypoints are exact and each AU moves only its part."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils import schema
from utils import synthetic as syn
from utils.schema import EMOTIONS

KP = {name: i for i, name in enumerate(schema.KEYPOINT_NAMES)}
CLEAN = syn.Imaging(background=120.0, noise=0.0)  # no noise, blur, light or occluder


def identities(n: int, seed: int = 0) -> list[syn.Identity]:
    rng = np.random.default_rng(seed)
    return [syn.sample_identity(rng, f"t{i}") for i in range(n)]


def test_render_is_deterministic_and_noise_seeded() -> None:
    rng = np.random.default_rng(1)
    ident = syn.sample_identity(rng, "a")
    aus = syn.sample_aus(rng, "happy")
    pose, imaging = syn.sample_pose(rng), syn.sample_imaging(rng)
    a = syn.render_face(ident, aus, pose, imaging)
    b = syn.render_face(ident, aus, pose, imaging)
    assert a.image.dtype == np.uint8 and a.image.shape == (96, 96)
    assert a.image.tobytes() == b.image.tobytes()
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    c = syn.render_face(ident, aus, pose, syn.Imaging(**{**imaging.__dict__, "noise_seed": 7}))
    assert c.image.tobytes() != a.image.tobytes()
    np.testing.assert_array_equal(c.keypoints, a.keypoints)  # noise never moves a keypoint


@pytest.mark.parametrize("framing", ["keypoints", "fer2013", "identities"])
def test_framings_give_their_sizes(framing: str) -> None:
    face = syn.render_face(identities(1)[0], {}, syn.Pose(), CLEAN, framing)
    f = syn.FRAMINGS[framing]
    assert face.image.shape == (f.height, f.width)
    assert ((face.keypoints >= 0) & (face.keypoints < [f.width, f.height])).all()


def test_subjects_left_is_larger_x_and_parts_are_in_order() -> None:
    for ident in identities(25):
        k = syn.render_face(ident, {}, syn.Pose(), CLEAN).keypoints
        x, y = k[:, 0], k[:, 1]
        assert x[KP["left_eye_center"]] > 48 > x[KP["right_eye_center"]]
        assert (
            x[KP["left_eye_outer_corner"]]
            > x[KP["left_eye_center"]]
            > x[KP["left_eye_inner_corner"]]
        )
        assert (
            x[KP["right_eye_outer_corner"]]
            < x[KP["right_eye_center"]]
            < x[KP["right_eye_inner_corner"]]
        )
        assert x[KP["left_eyebrow_outer_end"]] > x[KP["left_eyebrow_inner_end"]]
        assert x[KP["mouth_left_corner"]] > x[KP["mouth_right_corner"]]
        brow_y = y[KP["left_eyebrow_inner_end"]]
        assert brow_y < y[KP["left_eye_center"]] < y[KP["nose_tip"]]
        assert y[KP["nose_tip"]] < y[KP["mouth_center_top_lip"]] < y[KP["mouth_center_bottom_lip"]]


def _ring_mean(image: np.ndarray, x: float, y: float, r0: float, r1: float) -> float:
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    d = np.hypot(xx - x, yy - y)
    return float(image[(d >= r0) & (d <= r1)].mean())


@pytest.mark.parametrize("pose", [syn.Pose(), syn.Pose(roll=22, yaw=15, scale=1.1, dx=4, dy=-3)])
def test_keypoints_land_on_the_drawn_features(pose: syn.Pose) -> None:
    """Eye centres are on the dark pupils; the lips (between the mouth keypoints) are darker
    than the cheeks -- also after rotation, head turn, scaling and shift."""
    for ident in identities(20, seed=3):
        face = syn.render_face(ident, {}, pose, CLEAN)
        img = face.image.astype(np.float64)
        for name in ("left_eye_center", "right_eye_center"):
            x, y = face.keypoints[KP[name]]
            center = img[int(round(y)), int(round(x))]
            assert center < _ring_mean(img, x, y, 7, 10) - 25, (ident.subject, name)
        mid = (
            face.keypoints[KP["mouth_center_top_lip"]]
            + face.keypoints[KP["mouth_center_bottom_lip"]]
        ) / 2
        lips = img[int(round(mid[1])), int(round(mid[0]))]
        nose_tip = face.keypoints[KP["nose_tip"]]
        cheek = face.keypoints[KP["left_eye_center"]] + [
            0,
            0.55 * (nose_tip[1] - face.keypoints[KP["left_eye_center"], 1]),
        ]
        assert lips < img[int(round(cheek[1])), int(round(cheek[0]))] - 10, ident.subject


def test_keypoints_follow_the_in_plane_pose_exactly() -> None:
    ident = identities(1, seed=5)[0]
    aus = {"AU12": 3, "AU26": 2}
    base = syn.render_face(ident, aus, syn.Pose(), CLEAN).keypoints
    roll, scale, dx, dy = 17.0, 1.08, 3.5, -2.0
    moved = syn.render_face(ident, aus, syn.Pose(roll=roll, scale=scale, dx=dx, dy=dy), CLEAN)
    c, s = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    center = np.array([48.0, 50.0])
    expected = (base - center) @ (scale * np.array([[c, -s], [s, c]])).T + center + [dx, dy]
    np.testing.assert_allclose(moved.keypoints, expected, atol=1e-9)


def test_head_turn_moves_the_nose_more_than_the_eyes() -> None:
    ident = identities(1, seed=6)[0]
    front = syn.render_face(ident, {}, syn.Pose(), CLEAN).keypoints
    turned = syn.render_face(ident, {}, syn.Pose(yaw=20), CLEAN).keypoints
    shift = turned[:, 0] - front[:, 0]
    assert shift[KP["nose_tip"]] > shift[KP["left_eye_center"]] > 0
    np.testing.assert_allclose(turned[:, 1], front[:, 1])  # yaw is about the vertical axis


#: Keypoints each AU may move (all others must stay exactly where they were).
MOVES = {
    "AU1": {"left_eyebrow_inner_end", "right_eyebrow_inner_end"},
    "AU2": {"left_eyebrow_outer_end", "right_eyebrow_outer_end"},
    "AU4": {"left_eyebrow_inner_end", "right_eyebrow_inner_end", "left_eyebrow_outer_end",
            "right_eyebrow_outer_end"},
    "AU5": set(),
    "AU6": set(),
    "AU7": set(),
    "AU12": {"mouth_left_corner", "mouth_right_corner"},
    "AU15": {"mouth_left_corner", "mouth_right_corner"},
    "AU20": {"mouth_left_corner", "mouth_right_corner", "mouth_center_top_lip",
             "mouth_center_bottom_lip"},
    "AU26": {"mouth_left_corner", "mouth_right_corner", "mouth_center_bottom_lip"},
}  # fmt: skip


@pytest.mark.parametrize("au", sorted(MOVES))
def test_each_au_moves_only_its_keypoints(au: str) -> None:
    ident = identities(1, seed=7)[0]
    before = syn.render_face(ident, {}, syn.Pose(), CLEAN).keypoints
    after = syn.render_face(ident, {au: 5}, syn.Pose(), CLEAN).keypoints
    moved = {
        schema.KEYPOINT_NAMES[i] for i in np.flatnonzero(np.abs(after - before).max(axis=1) > 1e-9)
    }
    assert moved == MOVES[au]


def _changed_pixels(au: str, ident: syn.Identity) -> tuple[np.ndarray, np.ndarray]:
    before = syn.render_face(ident, {}, syn.Pose(), CLEAN)
    after = syn.render_face(ident, {au: 5}, syn.Pose(), CLEAN)
    diff = np.abs(after.image.astype(int) - before.image.astype(int)) > 8
    return diff, before.keypoints


@pytest.mark.parametrize("au", schema.AU_NAMES)
def test_each_au_changes_only_its_region(au: str) -> None:
    """The pixels an AU changes lie in its part of the face (AU12: lip corners and furrows)."""
    for ident in identities(6, seed=8):
        diff, k = _changed_pixels(au, ident)
        assert diff.sum() >= 8, f"{au} barely changes the picture of {ident.subject}"
        ys, xs = np.nonzero(diff)
        eye_y = k[[KP["left_eye_center"], KP["right_eye_center"]], 1].mean()
        nose_y = k[KP["nose_tip"], 1]
        mouth = k[[KP[n] for n in ("mouth_left_corner", "mouth_right_corner",
                                    "mouth_center_top_lip", "mouth_center_bottom_lip")]]  # fmt: skip
        region = schema.AU_REGIONS[au]
        if region == "brows":
            assert ys.max() <= eye_y + 3, (au, ident.subject)
        elif region == "eyes":
            assert eye_y - 10 <= ys.min() and ys.max() <= eye_y + 9, (au, ident.subject)
        elif region == "nose":  # AU9 also lowers the inner brows and lifts the upper lip
            assert eye_y - 16 <= ys.min() and ys.max() <= mouth[:, 1].max() + 2, ident.subject
        else:  # the mouth and chin (AU12's furrows start beside the nose wings)
            assert ys.min() >= nose_y - (6 if au == "AU12" else 2), (au, ident.subject)
        if au == "AU12":  # the lip corners and the nasolabial furrows: nose wings to mouth
            x0, x1 = mouth[:, 0].min() - 8, mouth[:, 0].max() + 8  # corners move out 3 px
            y0, y1 = nose_y - 6, mouth[:, 1].max() + 4
            assert (xs >= x0).all() and (xs <= x1).all(), ident.subject
            assert (ys >= y0).all() and (ys <= y1).all(), ident.subject
            assert ys.min() > eye_y + 12, ident.subject  # nothing near the eyes (that is AU6)


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_sample_aus_composes_each_emotion_from_its_prototype(emotion: str) -> None:
    rng = np.random.default_rng(9)
    proto = syn.EMOTION_PROTOTYPES[emotion]
    draws = [syn.sample_aus(rng, emotion) for _ in range(300)]
    for aus in draws:
        assert set(aus) <= set(schema.AU_NAMES)
        assert all(isinstance(v, int) and 1 <= v <= 5 for v in aus.values())
        assert set(proto["core"]) <= set(aus)
        if emotion == "disgust":
            assert "AU16" in aus or "AU17" in aus
    if emotion == "neutral":
        assert np.mean([len(a) == 0 for a in draws]) > 0.6
    else:
        typical = set(proto["core"]) | set(proto["optional"])
        share = np.mean([len(set(a) & typical) / len(typical) for a in draws])
        assert share > 0.8
        intensities = [v for a in draws for v in a.values()]
        assert min(intensities) == 1 and max(intensities) == 5  # subtle and strong faces


def test_sample_emotions_keeps_fer_proportions() -> None:
    labels = syn.sample_emotions(np.random.default_rng(0), 3000)
    counts = np.bincount(labels, minlength=7)
    fer = np.array([syn.FER_TRAINING_COUNTS[e] for e in EMOTIONS], dtype=float)
    np.testing.assert_allclose(counts / 3000, fer / fer.sum(), atol=1 / 3000 + 1e-12)
    assert int(np.argmin(counts)) == EMOTIONS.index("disgust")
    small = syn.sample_emotions(np.random.default_rng(0), 10)
    assert len(small) == 10 and len(set(small.tolist())) == 7  # every class at least once


def test_bad_arguments_say_what_was_expected() -> None:
    ident = identities(1)[0]
    with pytest.raises(ValueError, match="AU3"):
        syn.render_face(ident, {"AU3": 2}, syn.Pose(), CLEAN)
    with pytest.raises(ValueError, match="AU12 intensity 7"):
        syn.render_face(ident, {"AU12": 7}, syn.Pose(), CLEAN)
    with pytest.raises(ValueError, match="framing='passport'"):
        syn.render_face(ident, {}, syn.Pose(), CLEAN, "passport")
    with pytest.raises(ValueError, match="emotion='bored'"):
        syn.sample_aus(np.random.default_rng(0), "bored")
    with pytest.raises(ValueError, match="kind='webcam'"):
        syn.sample_pose(np.random.default_rng(0), "webcam")
