"""utils.detector_comparison: the ground truth, the scoring and the Haar-vs-MTCNN table."""

from __future__ import annotations

import numpy as np
import pytest

from utils import detector_comparison
from utils.detector_comparison import (
    LabelledImage,
    agreed_regions,
    compare_detectors,
    rotate,
    score_boxes,
)
from utils.faces import sample_photos

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_agreed_regions_pair_boxes_whose_centres_lie_in_each_other() -> None:
    haar = np.array([[100, 100, 50, 50], [300, 300, 40, 40], [0, 0, 20, 20]])
    mtcnn = np.array([[105, 95, 45, 60], [500, 500, 30, 30], [310, 305, 30, 40]])
    regions = agreed_regions(haar, mtcnn)
    # (100,100,50,50) + (105,95,45,60) -> the rectangle around both; (300,...) + (310,...).
    np.testing.assert_array_equal(regions, [[100, 95, 50, 60], [300, 300, 40, 45]])
    assert agreed_regions(haar, np.zeros((0, 4))).shape == (0, 4)


def test_score_counts_found_faces_and_false_boxes() -> None:
    test = LabelledImage(
        "two",
        np.zeros((200, 300), np.uint8),
        np.array([[10, 10, 50, 50], [200, 20, 60, 60]], dtype=float),
        IDENTITY,
    )
    boxes = np.array([[15, 12, 40, 40], [20, 20, 20, 20], [100, 150, 30, 30], [205, 30, 50, 50]])
    # First box finds face 1, the second is a duplicate on it (false), the third is in no
    # region (false), the fourth finds face 2.
    assert score_boxes(boxes, test) == (2, 2)
    assert score_boxes(np.zeros((0, 4)), test) == (0, 0)


def test_rotate_maps_the_turned_pixels_back() -> None:
    image = np.zeros((101, 201), np.uint8)
    image[20, 150] = 255
    turned, back = rotate(image, 30)
    assert turned.shape == image.shape
    y, x = np.unravel_index(np.argmax(turned), turned.shape)
    np.testing.assert_allclose(back[:, :2] @ [x, y] + back[:, 2], [150, 20], atol=1.0)


def test_ground_truth_must_match_the_known_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    # If the two detectors agreed on no face, the regions could not be derived: it says so.
    monkeypatch.setattr(detector_comparison, "detect_faces", lambda *a, **k: np.zeros((0, 4)))
    with pytest.raises(RuntimeError, match="astronaut.*agree on 0 face.*holds 1"):
        detector_comparison.comparison_images(rotations=())


def test_compare_detectors_on_a_photo_and_a_turned_copy() -> None:
    photo = sample_photos()["astronaut"]
    region = np.array([[175.0, 60.0, 100.0, 110.0]])  # around her face
    turned, back = rotate(photo, 30)
    images = [
        LabelledImage("astronaut", photo, region, IDENTITY),
        LabelledImage("astronaut 30 deg", turned, region, back, 30.0),
    ]
    result = compare_detectors(images, repeats=1)
    assert list(result.table.index) == ["astronaut", "astronaut 30 deg"]
    assert list(result.table.columns) == [
        "faces",
        "haar found",
        "haar false",
        "mtcnn found",
        "mtcnn false",
    ]
    assert result.table["mtcnn found"].tolist() == [1, 1]
    assert result.table["mtcnn false"].tolist() == [0, 0]
    assert result.table.loc["astronaut", "haar found"] == 1
    summary = result.summary
    assert list(summary.index) == ["haar", "mtcnn"]
    assert summary.loc["mtcnn", "found"] == 2 and summary.loc["mtcnn", "faces"] == 2
    assert (summary["ms per 640x480 frame"] > 0).all()
    assert set(result.boxes) == {"haar", "mtcnn"}
    with pytest.raises(ValueError, match="repeats"):
        compare_detectors(images, repeats=0)
    with pytest.raises(ValueError, match="method='dlib'"):
        compare_detectors(images, methods=("dlib",))
