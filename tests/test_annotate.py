"""Drawing boxes, labels, emoji and keypoints; decoding and encoding pictures; figures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from matplotlib.figure import Figure

from utils.annotate import (
    EMOTION_COLOURS,
    NotAnImageError,
    annotate_frame,
    decode_image,
    emoji_image,
    encode_image,
    plot_emotion_probabilities,
    plot_photos,
    shrink,
)
from utils.faces import sample_photos
from utils.schema import EMOTIONS


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return sample_photos()["astronaut"]


def test_each_emotion_has_its_own_round_emoji() -> None:
    icons = {e: emoji_image(e, 48) for e in EMOTIONS}
    for emotion, icon in icons.items():
        assert icon.shape == (48, 48, 4) and icon.dtype == np.uint8
        alpha = icon[..., 3]
        assert alpha[24, 24] == 255 and alpha[0, 0] == 0 and alpha[47, 47] == 0, emotion
        # Opaque area close to a circle of radius 0.47 * 48.
        assert alpha.sum() / 255 == pytest.approx(np.pi * (0.47 * 48) ** 2, rel=0.05)
    names = list(icons)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            differ = np.abs(icons[a].astype(int) - icons[b].astype(int)).mean()
            assert differ > 2, f"{a} and {b} look the same"
    with pytest.raises(ValueError, match="emotion"):
        emoji_image("bored")


def test_annotate_draws_box_label_emoji_and_keypoints() -> None:
    image = np.full((200, 300, 3), 255, np.uint8)
    box = [[100, 60, 80, 80]]
    probs = np.eye(7)[[EMOTIONS.index("sad")]]
    keypoints = np.tile([130.0, 90.0], 15)[None]
    out = annotate_frame(image, box, probs, keypoints=keypoints)
    assert out.shape == image.shape and not np.shares_memory(out, image)
    assert (image == 255).all()  # the input is untouched
    assert tuple(out[100, 100]) == EMOTION_COLOURS["sad"]  # the box's left edge
    assert (out[40:58, 100:180] != 255).any()  # the label above the box
    assert (out[60:90, 182:215] != 255).any()  # the emoji beside it
    assert (out[89:92, 129:132] != 255).all()  # a keypoint dot
    assert (out[150:, :90] == 255).all()  # and nothing far away


def test_annotate_handles_gray_images_no_faces_and_edges() -> None:
    gray = np.full((60, 60), 100, np.uint8)
    empty = annotate_frame(gray, np.zeros((0, 4)), np.zeros((0, 7)))
    assert empty.shape == (60, 60, 3) and (empty == 100).all()
    # A face at the top-right corner: label goes below, emoji inside -- no crash, no growth.
    out = annotate_frame(gray, [[30, 0, 30, 30]], np.full((1, 7), 1 / 7))
    assert out.shape == (60, 60, 3)


def test_boxes_alone_without_probabilities() -> None:
    image = np.full((200, 300, 3), 255, np.uint8)
    out = annotate_frame(image, [[100, 60, 80, 80]])
    assert tuple(out[100, 100]) == (255, 255, 0)  # a plain yellow box
    assert (out[:58] == 255).all()  # no label above it
    assert (out[60:90, 182:] == 255).all()  # no emoji beside it


def test_annotate_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        annotate_frame(np.zeros((50, 50), np.uint8), [[0, 0, 10, 10]], np.ones((1, 5)))
    with pytest.raises(ValueError, match="keypoints"):
        annotate_frame(
            np.zeros((50, 50), np.uint8), [[0, 0, 10, 10]], np.ones((1, 7)), keypoints=np.ones(4)
        )


def test_decode_and_encode_round_trip_and_errors(astronaut: np.ndarray) -> None:
    png = encode_image(astronaut, ".png")
    np.testing.assert_array_equal(decode_image(png, "a.png"), astronaut)
    with pytest.raises(NotAnImageError, match=r"notes\.txt.*not a picture"):
        decode_image(b"just some text", "notes.txt")
    with pytest.raises(NotAnImageError, match="empty"):
        decode_image(b"", "empty.jpg")
    assert issubclass(NotAnImageError, ValueError)


def test_shrink_only_shrinks(astronaut: np.ndarray) -> None:
    assert shrink(astronaut, 1024) is astronaut
    assert shrink(astronaut, 256).shape == (256, 256, 3)


def test_figures() -> None:
    p = np.full(7, 1 / 7)
    figure = plot_emotion_probabilities({"whole photo": p, "face crop": np.eye(7)[3]})
    assert isinstance(figure, Figure)
    assert len(figure.axes[0].patches) == 14
    with pytest.raises(ValueError, match="face crop"):
        plot_emotion_probabilities({"face crop": np.ones(3)})
    photos = plot_photos(
        [np.zeros((10, 20), np.uint8), np.zeros((30, 30, 3), np.uint8)], ["a", "b"]
    )
    assert len(photos.axes) == 2
    with pytest.raises(ValueError, match="titles"):
        plot_photos([np.zeros((10, 10), np.uint8)], ["a", "b"])


def test_encode_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="suffix"):
        encode_image(np.zeros((4, 4), np.uint8), ".xyz")
    assert cv2.imdecode(
        np.frombuffer(encode_image(np.zeros((4, 4), np.uint8)), np.uint8), 0
    ).shape == (4, 4)
