"""utils.realtime: label smoothing, the timed detect -> crop -> predict pipeline, photos, the
live loop."""

from __future__ import annotations

import numpy as np
import pytest

from utils.faces import sample_photos, to_gray
from utils.realtime import (
    FramePipeline,
    LabelSmoother,
    annotate_photo,
    load_model_arg,
    photo_pipeline,
    realtime_frames,
    run_webcam,
    time_pipeline,
)
from utils.schema import EMOTIONS

HAPPY, SAD, SURPRISE = EMOTIONS.index("happy"), EMOTIONS.index("sad"), EMOTIONS.index("surprise")


def _probs(winner: int, p: float = 0.6) -> np.ndarray:
    row = np.full(7, (1 - p) / 6)
    row[winner] = p
    return row


# --------------------------------------------------------------------------------------------
# LabelSmoother on synthetic probability sequences
# --------------------------------------------------------------------------------------------


def test_one_disagreeing_frame_does_not_flicker() -> None:
    smoother = LabelSmoother(window=10)
    sequence = [_probs(HAPPY)] * 12 + [_probs(SURPRISE, 1.0)] + [_probs(HAPPY)] * 5
    labels = [smoother.update(p) for p in sequence]
    raw = [int(np.argmax(p)) for p in sequence]
    assert SURPRISE in raw  # the frame-by-frame label does flicker ...
    assert labels == [HAPPY] * len(sequence)  # ... the smoothed one does not


def test_a_real_change_wins_within_the_window() -> None:
    smoother = LabelSmoother(window=10)
    for _ in range(10):
        smoother.update(_probs(HAPPY, 0.9))
    labels = [smoother.update(_probs(SAD, 0.9)) for _ in range(10)]
    switch = labels.index(SAD)
    assert 1 <= switch < 10  # not on the first sad frame, but before the window is over
    assert labels[switch:] == [SAD] * (10 - switch)  # and it stays switched


def test_window_of_one_follows_every_frame_and_reset_forgets() -> None:
    smoother = LabelSmoother(window=1)
    assert [smoother.update(_probs(k)) for k in (HAPPY, SAD, HAPPY)] == [HAPPY, SAD, HAPPY]
    smoother = LabelSmoother(window=5)
    smoother.update(_probs(HAPPY))
    assert len(smoother) == 1 and smoother.probabilities.argmax() == HAPPY
    smoother.reset()
    assert len(smoother) == 0 and not smoother.probabilities.any()


def test_smoother_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="window"):
        LabelSmoother(window=0)
    with pytest.raises(ValueError, match="7 finite"):
        LabelSmoother().update(np.ones(6) / 6)
    with pytest.raises(ValueError, match="non-negative"):
        LabelSmoother().update(np.r_[-1.0, np.ones(6)])


# --------------------------------------------------------------------------------------------
# FramePipeline on 640x480 frames made from real photos (a small untrained model: the path
# and the bookkeeping are under test here, not the model's accuracy)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    from utils.models import fer_cnn
    from utils.seeding import set_seed

    set_seed(0)
    return fer_cnn((8, 16), 16)


@pytest.fixture(scope="module")
def frames() -> dict[str, np.ndarray]:
    return realtime_frames(640, 480)


def test_realtime_frames_are_webcam_sized() -> None:
    frames = realtime_frames(320, 240)
    assert set(frames) == {"one face", "three faces", "no face"}
    assert {k: v.shape for k, v in frames.items()} == dict.fromkeys(frames, (240, 320, 3))


def test_load_model_arg(model, tmp_path) -> None:
    assert load_model_arg(model, lambda *a: None) is model
    assert load_model_arg(None, lambda: "shipped") == "shipped"
    with pytest.raises(ValueError, match="no such file"):
        load_model_arg(tmp_path / "missing.keras", lambda path: path)


def test_annotate_photo_finds_the_astronaut(model) -> None:
    astronaut = sample_photos()["astronaut"]
    annotated, result = annotate_photo(astronaut, photo_pipeline(model, keypoints=True))
    assert annotated.shape == astronaut.shape
    assert len(result.boxes) == 1 and result.keypoints is not None
    x, y, w, h = result.boxes[0]
    assert abs(x + w / 2 - 225) < 20 and abs(y + h / 2 - 115) < 20
    assert np.abs(annotated.astype(int) - astronaut).max() > 100  # something was drawn


def test_pipeline_finds_the_faces_of_the_test_frames(model, frames) -> None:
    pipeline = FramePipeline(model)
    for name, expected in (("one face", 1), ("three faces", 3), ("no face", 0)):
        frame = frames[name]
        assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
        result = pipeline(frame)
        assert len(result.boxes) == expected, name
        assert result.probabilities.shape == (expected, 7)
        np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)
        assert result.crops.shape == (expected, 48, 48) and result.crops.dtype == np.uint8
        assert len(result.emotions) == expected
    # Detection on the half-size copy finds the same face as at full size (within a few px).
    full = FramePipeline(model, detect_width=None).detect(to_gray(frames["one face"]))
    half = pipeline.detect(to_gray(frames["one face"]))
    assert np.abs(full[0, :2] + full[0, 2:] / 2 - half[0, :2] - half[0, 2:] / 2).max() < 8


def test_batch_and_one_at_a_time_agree(model, frames) -> None:
    batched = FramePipeline(model, batch=True)(frames["three faces"])
    single = FramePipeline(model, batch=False)(frames["three faces"])
    np.testing.assert_array_equal(batched.boxes, single.boxes)
    np.testing.assert_allclose(batched.probabilities, single.probabilities, atol=1e-5)
    # ... and both match the public inference API on the same crops.
    from utils.inference import predict_emotions

    direct = predict_emotions(batched.crops, model=model, tta=False)
    np.testing.assert_allclose(batched.probabilities, direct, atol=1e-5)


def test_detect_every_reuses_the_boxes_between_searches(model, frames, monkeypatch) -> None:
    pipeline = FramePipeline(model, detect_every=3)
    calls = []
    original = pipeline.detect
    monkeypatch.setattr(pipeline, "detect", lambda gray: calls.append(1) or original(gray))
    results = [pipeline(frames["one face"]) for _ in range(7)]
    assert len(calls) == 3  # frames 0, 3 and 6
    assert all(np.array_equal(r.boxes, results[0].boxes) for r in results)
    pipeline(frames["three faces"][:240])  # another frame size: search again at once
    assert len(calls) == 4


def test_timers_and_summary(model, frames) -> None:
    pipeline = FramePipeline(model)
    with pytest.raises(ValueError, match="no frames"):
        pipeline.summary()
    summary = time_pipeline(pipeline, frames["one face"], 4, warmup=1)
    assert summary["frames"] == 4 and summary["faces"] == 1
    assert set(summary["ms"]) == {"detect", "crop", "predict"}
    assert all(v >= 0 for v in summary["ms"].values())
    assert sum(summary["share"].values()) == pytest.approx(1.0)
    assert summary["fps"] == pytest.approx(1000 / summary["total_ms"])
    assert summary["wall_fps"] > 0


def test_keypoints_of_the_astronaut_fall_inside_her_face_box(model, frames) -> None:
    result = FramePipeline(model, keypoints=True)(frames["one face"])  # shipped keypoint model
    assert result.keypoints is not None and result.keypoints.shape == (1, 30)
    x, y, w, h = result.boxes[0]
    xs, ys = result.keypoints[0, 0::2], result.keypoints[0, 1::2]
    assert ((xs > x) & (xs < x + w) & (ys > y) & (ys < y + h)).all()


def test_pipeline_rejects_bad_settings(model) -> None:
    for kwargs, word in (
        ({"detect_width": 10}, "detect_width"),
        ({"min_face": 0}, "min_face"),
        ({"max_faces": 0}, "max_faces"),
        ({"detect_every": 0}, "detect_every"),
        ({"detector": "yolo"}, "method='yolo'"),
        ({"detector": "mtcnn", "scale_factor": 1.3}, "scale_factor"),
        ({"min_confidence": 0.9}, "min_confidence"),
    ):
        with pytest.raises(ValueError, match=word):
            FramePipeline(model, **kwargs)


def test_mtcnn_pipeline_finds_the_faces_of_the_test_frames(model, frames) -> None:
    pipeline = FramePipeline(model, detector="mtcnn")
    haar = FramePipeline(model)
    for name, expected in (("one face", 1), ("three faces", 3), ("no face", 0)):
        result = pipeline(frames[name])
        assert result.boxes.shape == (expected, 4) and result.boxes.dtype == np.int64, name
        assert result.probabilities.shape == (expected, 7) and len(result.emotions) == expected
        # On the same faces as the Haar pipeline (box centres within a third of a face).
        ours = np.sort(result.boxes[:, 0] + result.boxes[:, 2] / 2)
        theirs = np.sort(haar(frames[name]).boxes[:, 0] + haar(frames[name]).boxes[:, 2] / 2)
        assert np.abs(ours - theirs).max(initial=0) < 30, name
    assert set(pipeline.summary()["ms"]) == {"detect", "crop", "predict"}


def test_mtcnn_pipeline_aligns_on_its_eye_landmarks(model, frames, monkeypatch) -> None:
    import utils.realtime

    seen = []
    original = utils.realtime.align_face
    monkeypatch.setattr(
        utils.realtime,
        "align_face",
        lambda *args, eyes=None, **kw: seen.append(eyes) or original(*args, eyes=eyes, **kw),
    )
    pipeline = FramePipeline(model, detector="mtcnn", align=True, detect_every=2)
    for _ in range(3):  # frames 0 and 2 search, frame 1 reuses the boxes and their eyes
        result = pipeline(frames["one face"])
    assert len(result.boxes) == 1 and len(seen) == 3
    x, y, w, h = result.boxes[0]
    for eyes in seen:  # two eye centres in the frame's pixels, inside the face box
        assert eyes is not None and eyes.shape == (2, 2)
        assert ((eyes[:, 0] > x) & (eyes[:, 0] < x + w) & (eyes[:, 1] > y)).all()
        assert (eyes[:, 1] < y + h / 2).all() and eyes[0, 0] < eyes[1, 0]


# --------------------------------------------------------------------------------------------
# The live loop, fed with frames instead of a camera
# --------------------------------------------------------------------------------------------


def test_run_webcam_on_a_frame_sequence(model, frames) -> None:
    sequence = [frames["one face"]] * 5 + [frames["no face"]] * 2 + [frames["one face"]]
    shown: list[np.ndarray] = []
    stats = run_webcam(
        sequence, pipeline=FramePipeline(model), window=4, seconds=None, show=shown.append
    )
    assert stats["frames"] == len(sequence) == len(shown)
    labels = stats["labels"]
    assert labels[5] is None and labels[6] is None
    assert all(label in EMOTIONS for i, label in enumerate(labels) if i not in (5, 6))
    assert all(s.shape == (480, 640, 3) and s.dtype == np.uint8 for s in shown)
    assert not np.array_equal(shown[0], frames["one face"])  # something was drawn
    np.testing.assert_array_equal(shown[5], frames["no face"])  # nothing to draw
    assert stats["timing"]["frames"] == len(sequence)


def test_run_webcam_stops_at_max_frames_and_checks_show(model, frames) -> None:
    def endless():
        while True:
            yield frames["no face"]

    stats = run_webcam(endless(), pipeline=FramePipeline(model), max_frames=3, show=None)
    assert stats["frames"] == 3 and stats["labels"] == [None] * 3
    with pytest.raises(ValueError, match="show"):
        run_webcam([], pipeline=FramePipeline(model), show="screen")


@pytest.mark.skipif(
    not __import__("utils.inference").inference.EMOTION_MODEL.exists(),
    reason="utils/pretrained/emotion.keras not shipped yet",
)
def test_shipped_model_sees_the_crop_not_the_whole_frame(frames) -> None:
    import cv2

    from utils.inference import predict_emotions

    result = FramePipeline()(frames["one face"])  # the shipped emotion model
    assert len(result.boxes) == 1
    whole = cv2.resize(to_gray(frames["one face"]), (48, 48), interpolation=cv2.INTER_AREA)
    p_whole = predict_emotions(whole)[0]
    assert 0.5 * np.abs(p_whole - result.probabilities[0]).sum() > 0.1
