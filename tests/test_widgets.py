"""utils.widgets: the face browser and the upload demo, driven from Python as a student's
clicks would drive them."""

from __future__ import annotations

from datetime import datetime, timezone

import cv2
import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

from utils.annotate import decode_image, encode_image
from utils.faces import sample_photos
from utils.plotting import SIDE_COLOURS
from utils.realtime import photo_pipeline
from utils.widgets import FaceBrowser, UploadDemo, face_browser, render_face, upload_demo

NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _decode(png: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "not a PNG"
    return img


def _hex_to_bgr(colour: str) -> list[int]:
    return [int(colour[5:7], 16), int(colour[3:5], 16), int(colour[1:3], 16)]


@pytest.fixture
def faces() -> np.ndarray:
    # Each face a different flat grey, so the rendered bytes tell which face is shown.
    return np.stack([np.full((48, 48, 1), v, np.float32) for v in (0.1, 0.4, 0.7, 0.9)])


def test_browser_structure_and_handles(faces: np.ndarray) -> None:
    browser = face_browser(faces, [0, 1, 3, 6], label_names=NAMES)
    assert isinstance(browser, widgets.VBox) and isinstance(browser, FaceBrowser)
    controls, image, label = browser.children
    assert controls.children == (browser.prev_button, browser.slider, browser.next_button)
    assert image is browser.image and label is browser.label
    assert browser.next_button.description == "Next" and browser.next_button.tooltip == "Next"
    assert browser.prev_button.description == "Previous"
    assert (browser.slider.min, browser.slider.max, browser.slider.value) == (0, 3, 0)
    assert "face-browser" in browser._dom_classes
    assert "face-browser-next" in browser.next_button._dom_classes
    assert "face-browser-prev" in browser.prev_button._dom_classes
    assert "face-browser-image" in browser.image._dom_classes
    assert "face-browser-label" in browser.label._dom_classes
    assert "face-browser-slider" in browser.slider._dom_classes


def test_first_face_is_rendered_upscaled(faces: np.ndarray) -> None:
    browser = face_browser(faces, [0, 1, 3, 6], label_names=NAMES)
    img = _decode(browser.image.value)
    assert img.shape[0] >= 240 and img.shape[0] % 48 == 0  # a whole-number upscale of 48
    assert abs(int(img[10, 10, 0]) - round(0.1 * 255)) <= 1
    assert "angry" in browser.label.value and "#0" in browser.label.value


def test_slider_and_buttons_change_image_and_label(faces: np.ndarray) -> None:
    browser = face_browser(faces, [0, 1, 3, 6], label_names=NAMES)
    first = browser.image.value
    browser.slider.value = 2
    assert browser.image.value != first
    assert abs(int(_decode(browser.image.value)[0, 0, 0]) - round(0.7 * 255)) <= 1
    assert "happy" in browser.label.value
    browser.next_button.click()
    assert browser.index == 3 and "neutral" in browser.label.value
    browser.next_button.click()  # wraps round to the first face
    assert browser.index == 0 and browser.image.value == first
    browser.prev_button.click()
    assert browser.slider.value == 3 and "neutral" in browser.label.value


def test_keypoints_drawn_in_side_colours(faces: np.ndarray) -> None:
    pytest.importorskip("utils.data")
    kp = np.full((4, 30), np.nan, np.float32)
    kp[0, 0:2] = [30, 20]  # left_eye_center: the image's right
    kp[0, 2:4] = [15, 20]  # right_eye_center
    browser = face_browser(faces * 0, keypoints=kp)
    img = _decode(browser.image.value)
    scale = img.shape[0] // 48
    left = img[int(20.5 * scale), int(30.5 * scale)]
    right = img[int(20.5 * scale), int(15.5 * scale)]
    np.testing.assert_allclose(left, _hex_to_bgr(SIDE_COLOURS["left"]), atol=2)
    np.testing.assert_allclose(right, _hex_to_bgr(SIDE_COLOURS["right"]), atol=2)
    assert "keypoints: 2/15" in browser.label.value
    # a face with no keypoints at all is plain grey
    browser.slider.value = 1
    assert len(np.unique(_decode(browser.image.value))) == 1


def test_extra_columns_in_caption(faces: np.ndarray) -> None:
    extra = pd.DataFrame({"subject": ["s1", "s1", "s2", "<s3>"], "AU12": [0.0, 1.5, 4.25, 0.0]})
    browser = face_browser(faces, ["a", "b", "c", "d"], extra=extra)
    browser.slider.value = 2
    assert "subject: s2" in browser.label.value and "AU12: 4.25" in browser.label.value
    browser.slider.value = 3
    assert "&lt;s3&gt;" in browser.label.value  # escaped, not HTML
    vectors = face_browser(faces, extra={"AUs": np.arange(8.0).reshape(4, 2)})
    vectors.next_button.click()
    assert "AUs: [2, 3]" in vectors.label.value


def test_render_face_accepts_uint8_and_colour() -> None:
    gray = _decode(render_face(np.full((96, 96), 200, np.uint8)))
    assert gray.shape == (288, 288, 3) and gray[0, 0, 0] == 200
    rgb = np.zeros((10, 20, 3), np.float32)
    rgb[..., 0] = 1.0  # pure red
    img = _decode(render_face(rgb))
    assert img.shape == (240, 480, 3)
    assert tuple(img[0, 0]) == (0, 0, 255)  # OpenCV is BGR


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": [0, 1]}, r"labels: shape \(2,\)"),
        ({"labels": [0, 1, 2, 9], "label_names": NAMES}, r"labels\[3\] = 9"),
        ({"keypoints": np.zeros((3, 30))}, "3 rows for 4 images"),
        ({"extra": {"subject": ["s1"]}}, r"extra\['subject'\]: 1 values for 4"),
        ({"extra": ["s1", "s2", "s3", "s4"]}, "expected a dict"),
    ],
)
def test_bad_input_raises(faces: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        face_browser(faces, **kwargs)


def test_bad_index_raises(faces: np.ndarray) -> None:
    browser = face_browser(faces)
    with pytest.raises(ValueError, match=r"index 4: expected 0..3"):
        browser.show(4)


# --------------------------------------------------------------------------------------------
# The upload demo (a small untrained model: the widget is under test, not the model)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return sample_photos()["astronaut"]


@pytest.fixture(scope="module")
def pipeline():
    from utils.models import fer_cnn
    from utils.seeding import set_seed

    set_seed(0)
    return photo_pipeline(fer_cnn((8, 16), 16), keypoints=True)


def test_upload_demo_shows_an_annotated_photo(astronaut: np.ndarray, pipeline) -> None:
    demo = UploadDemo(pipeline)
    assert "upload-demo" in demo._dom_classes
    assert "upload-demo-input" in demo.upload._dom_classes
    assert "upload-demo-result" in demo.result._dom_classes
    assert "upload-demo-message" in demo.message._dom_classes
    # What the browser sends: FileUpload's value changes to a tuple of file dicts.
    jpeg = encode_image(astronaut, ".jpg")
    upload = {
        "name": "me.jpg",
        "type": "image/jpeg",
        "size": len(jpeg),
        "content": memoryview(jpeg),
    }
    demo.upload.value = ({**upload, "last_modified": datetime.now(timezone.utc)},)
    shown = decode_image(demo.result.value, "result")
    assert shown.shape == astronaut.shape  # 512 px fits max_side=800
    assert np.abs(shown.astype(int) - astronaut).max() > 100  # annotations drawn
    assert "me.jpg: 1 face(s)" in demo.message.value


def test_upload_demo_explains_bad_files(astronaut: np.ndarray, pipeline) -> None:
    demo = UploadDemo(pipeline)
    assert demo.show_file("report.pdf", b"%PDF-1.4 not an image") is False
    assert "report.pdf" in demo.message.value and "not a picture" in demo.message.value
    assert demo.result.value == b"" and demo.result.layout.display == "none"
    blank = encode_image(np.full((200, 200, 3), 90, np.uint8), ".png")
    assert demo.show_file("wall.png", blank) is False
    assert "no face found" in demo.message.value
    assert demo.result.layout.display is None  # the photo is still shown
    assert demo.show_file("me.png", encode_image(astronaut)) is True


def test_upload_demo_builds_without_loading_a_model() -> None:
    demo = upload_demo()
    assert isinstance(demo, UploadDemo) and demo.pipeline is None
