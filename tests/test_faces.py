"""Face detection on a real photo, cropping, and the exact crop <-> photo coordinate mapping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from utils import faces
from utils.faces import CropTransform, crop_face, crop_to_image, detect_faces, image_to_crop


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """A real RGB photo with one face (Eileen Collins), shipped inside scikit-image."""
    return skimage.data.astronaut()


def test_detects_the_one_face_in_a_real_photo(astronaut: np.ndarray) -> None:
    boxes = detect_faces(astronaut)
    assert boxes.shape == (1, 4) and boxes.dtype.kind == "i"
    x, y, w, h = boxes[0]
    # Her face is centred near (225, 115) in the 512x512 photo and about 90 px wide.
    assert abs(x + w / 2 - 225) < 20 and abs(y + h / 2 - 115) < 20
    assert 60 < w < 140 and 60 < h < 140


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY),
        lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)[..., None],
        lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2BGR),
        lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2RGBA),
    ],
    ids=["gray", "gray1", "bgr", "rgba"],
)
def test_accepts_gray_and_colour_layouts(astronaut: np.ndarray, convert) -> None:
    assert len(detect_faces(convert(astronaut))) == 1


def test_blank_image_has_no_face() -> None:
    boxes = detect_faces(np.full((240, 320, 3), 128, np.uint8))
    assert boxes.shape == (0, 4)


def test_rejects_float_images_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="uint8"):
        detect_faces(np.zeros((100, 100), np.float32))
    with pytest.raises(ValueError, match="shape"):
        detect_faces(np.zeros((100, 100, 2), np.uint8))
    with pytest.raises(ValueError, match="scale_factor"):
        detect_faces(np.zeros((100, 100), np.uint8), scale_factor=1.0)


def test_clear_error_when_opencv_lacks_cascades(monkeypatch: pytest.MonkeyPatch) -> None:
    faces._cascade.cache_clear()
    monkeypatch.delattr(cv2, "CascadeClassifier")
    try:
        with pytest.raises(RuntimeError, match="CascadeClassifier"):
            detect_faces(np.zeros((100, 100), np.uint8))
    finally:
        faces._cascade.cache_clear()


def test_crop_is_gray_square_uint8_of_the_face(astronaut: np.ndarray) -> None:
    box = detect_faces(astronaut)[0]
    crop, transform = crop_face(astronaut, box, size=96, margin=0.2)
    assert crop.shape == (96, 96) and crop.dtype == np.uint8
    # The crop's centre maps back to the box's centre (within one crop pixel).
    centre = crop_to_image([47.5, 47.5], transform)
    assert np.allclose(
        centre, [box[0] + box[2] / 2 - 0.5, box[1] + box[3] / 2 - 0.5], atol=transform.scale
    )
    # With a 20% margin on each side the crop spans 1.4 box widths.
    assert transform.scale * 96 == pytest.approx(1.4 * box[2], abs=1)


def test_crop_uncrop_round_trip_is_exact() -> None:
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(-20, 120, (5, 30))
    keypoints[0, 4:8] = np.nan
    transform = CropTransform(x0=123.25, y0=-7.5, scale=1.7)
    back = image_to_crop(crop_to_image(keypoints, transform), transform)
    np.testing.assert_allclose(back, keypoints, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(back[0, 4:8]).all()


@pytest.mark.parametrize("box", [(100, 80, 150, 150), (40, 60, 40, 40), (-30, 200, 120, 120)])
def test_crop_transform_tells_where_each_pixel_went(box: tuple[int, int, int, int]) -> None:
    # A blurred dot in the photo must appear in the crop where image_to_crop says it is --
    # whether the crop shrinks (150 px -> 96), enlarges (40 px -> 96) or leaves the photo.
    yy, xx = np.mgrid[0:300, 0:400]
    dot_x, dot_y = box[0] + 0.63 * box[2], box[1] + 0.41 * box[3]
    photo = (255 * np.exp(-((xx - dot_x) ** 2 + (yy - dot_y) ** 2) / (2 * 6.0**2))).astype(np.uint8)
    crop, transform = crop_face(photo, box, size=96, margin=0.2)
    expect_x, expect_y = image_to_crop([dot_x, dot_y], transform)
    cyy, cxx = np.mgrid[0:96, 0:96]
    weight = crop.astype(np.float64) * ((cxx - expect_x) ** 2 + (cyy - expect_y) ** 2 < 12**2)
    found = (weight * cxx).sum() / weight.sum(), (weight * cyy).sum() / weight.sum()
    assert found == pytest.approx((expect_x, expect_y), abs=0.3)


def test_crop_rejects_bad_boxes() -> None:
    image = np.zeros((50, 50), np.uint8)
    with pytest.raises(ValueError, match="box"):
        crop_face(image, (1, 2, 3))
    with pytest.raises(ValueError, match="positive"):
        crop_face(image, (1, 2, 0, 5))


# --------------------------------------------------------------------------------------------
# Eye-based alignment, sample photos, cameras
# --------------------------------------------------------------------------------------------


def _rotated(photo: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """``photo`` turned ``degrees`` anticlockwise (on screen) about ``centre``."""
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(photo, matrix, photo.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def test_detect_eyes_finds_the_astronauts_eyes(astronaut: np.ndarray) -> None:
    box = detect_faces(astronaut)[0]
    eyes = faces.detect_eyes(astronaut, box)
    assert eyes is not None and eyes.shape == (2, 2)
    # Her eyes are about (202, 100) and (247, 103): image-left eye first, level within 10 deg.
    np.testing.assert_allclose(eyes, [[202, 100], [247, 103]], atol=8)
    assert faces.detect_eyes(np.full((200, 200), 128, np.uint8), (50, 50, 100, 100)) is None


@pytest.mark.parametrize("degrees", [-20, -10, 10, 20])
def test_eye_cascade_measures_the_tilt_of_a_turned_photo(
    astronaut: np.ndarray, degrees: float
) -> None:
    box = detect_faces(astronaut)[0]
    centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
    crop, transform = faces.align_face(_rotated(astronaut, centre, degrees), box)
    upright = faces.align_face(astronaut, box)[1].angle  # she tilts her head ~4 deg already
    # Turning the photo anticlockwise by d lowers the image-left eye: the measured tilt is -d.
    assert transform.angle == pytest.approx(upright - degrees, abs=4)
    assert crop.shape == (96, 96) and crop.dtype == np.uint8


def test_align_face_levels_the_given_eyes_exactly() -> None:
    # Two dots (eyes) on a line tilted by 25 degrees; after alignment they sit on one row.
    yy, xx = np.mgrid[0:300, 0:300]
    eyes = np.array([[120.0, 130.0], [120 + 60 * np.cos(0.4363), 130 + 60 * np.sin(0.4363)]])
    photo = np.zeros((300, 300), np.float64)
    for ex, ey in eyes:
        photo += 255 * np.exp(-((xx - ex) ** 2 + (yy - ey) ** 2) / (2 * 4.0**2))
    photo = photo.clip(0, 255).astype(np.uint8)
    crop, transform = faces.align_face(photo, (100, 100, 100, 100), size=96, eyes=eyes[::-1])
    assert transform.angle == pytest.approx(25, abs=0.01)
    in_crop = transform.to_crop(eyes)
    assert in_crop[0, 1] == pytest.approx(in_crop[1, 1], abs=1e-9)
    np.testing.assert_allclose(transform.to_image(in_crop), eyes, atol=1e-9)
    for cx, cy in in_crop:  # the pixels moved there too
        window = crop[int(cy) - 6 : int(cy) + 7, int(cx) - 6 : int(cx) + 7].astype(np.float64)
        wy, wx = np.mgrid[int(cy) - 6 : int(cy) + 7, int(cx) - 6 : int(cx) + 7]
        found = ((window * wx).sum() / window.sum(), (window * wy).sum() / window.sum())
        assert found == pytest.approx((cx, cy), abs=0.3)


@pytest.mark.parametrize("size", [48, 96])
def test_level_eyes_give_the_same_crop_as_crop_face(astronaut: np.ndarray, size: int) -> None:
    box = detect_faces(astronaut)[0]
    aligned, transform = faces.align_face(astronaut, box, size, eyes=[[0, 0], [1, 0]])
    plain, plain_transform = crop_face(astronaut, box, size)
    assert transform.angle == 0
    assert np.abs(aligned.astype(int) - plain).mean() < 0.5
    corners = [[0, 0], [size - 1, size - 1]]
    np.testing.assert_allclose(
        transform.to_image(corners), crop_to_image(corners, plain_transform), atol=1e-6
    )


def test_align_face_rejects_bad_eyes_and_ignores_wild_tilts(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="eyes"):
        faces.align_face(astronaut, (177, 66, 95, 95), eyes=[[1, 2, 3]])
    with pytest.raises(ValueError, match="box"):
        faces.align_face(astronaut, (177, 66, 95))
    _, transform = faces.align_face(astronaut, (177, 66, 95, 95), eyes=[[200, 100], [220, 160]])
    assert transform.angle == 0  # 71 degrees: a bad estimate, not a head tilt


def test_sample_photos_work_offline() -> None:
    photos = faces.sample_photos()
    assert set(photos) == {"astronaut", "grace_hopper"}
    for name, photo in photos.items():
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
        assert len(detect_faces(photo)) == 1, name


def test_to_rgb_accepts_every_layout() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for image in (gray, gray[..., None], np.dstack([gray] * 3), np.dstack([gray] * 4)):
        rgb = faces.to_rgb(image)
        assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
        np.testing.assert_array_equal(rgb[..., 1], gray)
    colour = np.dstack([gray] * 3)
    assert faces.to_rgb(colour) is not colour  # a copy: drawing on it leaves the photo alone


def test_crop_to_image_also_undoes_an_aligned_crop(astronaut: np.ndarray) -> None:
    box = detect_faces(astronaut)[0]
    _, transform = faces.align_face(astronaut, box, eyes=[[190, 100], [240, 110]])
    corners = np.array([[0.0, 0.0], [95.0, 95.0]])
    np.testing.assert_allclose(crop_to_image(corners, transform), transform.to_image(corners))


# --------------------------------------------------------------------------------------------
# MTCNN: the second detector (detect_faces(method="mtcnn")), its landmarks, offline and lazy
# --------------------------------------------------------------------------------------------


def _centre(box: np.ndarray) -> np.ndarray:
    return np.asarray(box[:2], dtype=np.float64) + np.asarray(box[2:], dtype=np.float64) / 2


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_mtcnn_finds_the_face_in_each_sample_photo_like_haar(name: str) -> None:
    photo = faces.sample_photos()[name]
    boxes = detect_faces(photo, method="mtcnn")
    haar = detect_faces(photo)
    # The same convention as Haar: (k, 4) int x, y, w, h in the photo's pixels, on the same face.
    assert boxes.shape == (1, 4) and boxes.dtype == haar.dtype == np.int64
    assert np.abs(_centre(boxes[0]) - _centre(haar[0])).max() < 0.2 * haar[0, 2]
    assert 0.6 < boxes[0, 2] / haar[0, 2] < 1.2 and 0.8 < boxes[0, 3] / haar[0, 3] < 1.3


@pytest.mark.parametrize("degrees", [30, -30])
def test_mtcnn_finds_the_face_on_a_turned_copy(astronaut: np.ndarray, degrees: float) -> None:
    upright = detect_faces(astronaut)[0]
    height, width = astronaut.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    turned = cv2.warpAffine(astronaut, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    boxes = detect_faces(turned, method="mtcnn")
    assert len(boxes) == 1
    # Its centre, turned back, lies on her face (the upright Haar box).
    back = cv2.invertAffineTransform(matrix)
    x, y = back[:, :2] @ _centre(boxes[0]) + back[:, 2]
    assert upright[0] <= x <= upright[0] + upright[2] and upright[1] <= y <= upright[1] + upright[3]


def test_mtcnn_accepts_gray_and_colour_layouts_and_finds_nothing_on_blank(
    astronaut: np.ndarray,
) -> None:
    for image in (
        cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY),
        cv2.cvtColor(astronaut, cv2.COLOR_RGB2RGBA),
    ):
        assert len(detect_faces(image, method="mtcnn")) == 1
    for shape in ((240, 320, 3), (30, 30, 3), (12, 12)):
        boxes = detect_faces(np.full(shape, 128, np.uint8), method="mtcnn")
        assert boxes.shape == (0, 4) and boxes.dtype == np.int64
    _, points = faces.detect_faces_and_landmarks(np.full((100, 100), 128, np.uint8))
    assert points.shape == (0, 5, 2)


def test_mtcnn_larger_smallest_face_still_finds_her(astronaut: np.ndarray) -> None:
    # mtcnn 1.0.0 alone finds nothing with min_face_size >= ~24 (its pyramid runs out of
    # pixels); utils.faces shrinks the photo instead. Her face is ~85 px wide; MTCNN's
    # smallest face is approximate (its first network tolerates faces somewhat smaller).
    for side in (20, 40, 80):
        assert len(detect_faces(astronaut, method="mtcnn", min_size=(side, side))) == 1, side
    assert len(detect_faces(astronaut, method="mtcnn", min_size=(300, 300))) == 0


def test_mtcnn_eye_landmarks_level_a_turned_face(astronaut: np.ndarray) -> None:
    boxes, points = faces.detect_faces_and_landmarks(astronaut)
    assert boxes.shape == (1, 4) and points.shape == (1, 5, 2) and len(faces.LANDMARKS) == 5
    # The same eyes as OpenCV's eye cascade, image-left first (the subject's right eye).
    np.testing.assert_allclose(points[0, :2], [[202, 100], [247, 103]], atol=8)
    nose, mouth = points[0, 2], points[0, 3:]
    assert points[0, :2, 1].max() < nose[1] < mouth[:, 1].min()  # eyes above nose above mouth
    upright = faces.align_face(astronaut, boxes[0], eyes=points[0, :2])[1].angle
    for degrees in (-20, 20):
        turned = _rotated(astronaut, tuple(_centre(boxes[0])), degrees)
        turned_boxes, turned_points = faces.detect_faces_and_landmarks(turned)
        crop, transform = faces.align_face(turned, turned_boxes[0], eyes=turned_points[0, :2])
        assert transform.angle == pytest.approx(upright - degrees, abs=4)
        assert crop.shape == (96, 96) and crop.dtype == np.uint8


def test_detect_faces_rejects_bad_arguments(astronaut: np.ndarray) -> None:
    for kwargs, word in (
        ({"method": "dlib"}, "method='dlib'"),
        ({"method": "mtcnn", "scale_factor": 1.2}, "scale_factor.*Haar"),
        ({"method": "mtcnn", "min_neighbors": 3}, "min_neighbors.*Haar"),
        ({"min_confidence": 0.9}, "min_confidence.*MTCNN"),
        ({"method": "mtcnn", "min_confidence": 1.5}, "min_confidence"),
        ({"method": "mtcnn", "min_size": (0, 40)}, "min_size"),
        ({"min_size": 40}, "min_size"),
        ({"min_neighbors": -1}, "min_neighbors"),
    ):
        with pytest.raises(ValueError, match=word):
            detect_faces(astronaut, **kwargs)
    with pytest.raises(ValueError, match="uint8"):
        detect_faces(astronaut.astype(np.float32), method="mtcnn")


def test_mtcnn_is_built_once() -> None:
    assert faces.mtcnn_detector() is faces.mtcnn_detector()


def test_mtcnn_is_imported_lazily_works_offline_and_ignores_stray_weights(tmp_path) -> None:
    # A fresh Python whose every attempt to open a network connection is recorded, run in a
    # folder holding junk files named like MTCNN's weights (the package would read those
    # first; they would fail to load).
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    for name in ("pnet.lz4", "rnet.lz4", "onet.lz4"):
        (tmp_path / name).write_bytes(b"not weights")
    script = """
import json, sys
network = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                 "socket.sendto", "urllib.Request", "http.client.connect"):
        network.append(event)
sys.addaudithook(hook)
import utils.faces
lazy = "mtcnn" not in sys.modules and "tensorflow" not in sys.modules
boxes = utils.faces.detect_faces(utils.faces.sample_photos()["astronaut"], method="mtcnn")
print(json.dumps({"lazy": lazy, "faces": len(boxes), "network": network}))
"""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"lazy": True, "faces": 1, "network": []}
