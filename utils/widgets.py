"""Interactive widgets for JupyterLab: step through a data set, try the models on your photo.

::

    from utils.widgets import face_browser, upload_demo
    face_browser(X, y, label_names=EMOTIONS, extra={"subject": subjects})
    upload_demo()   # an upload button: your photo comes back with faces, emotions, keypoints

The face browser's slider (or the Previous/Next buttons) picks a face; the picture is rendered
in Python with OpenCV (upscaled so a 48x48 face is visible, keypoints drawn in the same side
colours as ``utils.plotting``) and sent to the browser as PNG bytes, so neither widget needs
JavaScript of its own.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import ipywidgets as widgets
import numpy as np

from utils.annotate import NotAnImageError, decode_image, encode_image
from utils.image_arrays import as_image_batch
from utils.plotting import (
    SIDE_COLOURS,
    as_keypoint_batch,
    label_texts,
    resolve_keypoint_sides,
)
from utils.realtime import FramePipeline, annotate_photo, photo_pipeline

__all__ = ["FaceBrowser", "UploadDemo", "face_browser", "render_face", "upload_demo"]

#: The rendered picture's shorter side is upscaled to at least this many pixels.
MIN_DISPLAY_SIZE = 240


def _bgr(hex_colour: str) -> tuple[int, int, int]:
    """'#rrggbb' -> OpenCV's (blue, green, red)."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return b, g, r


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    img = np.nan_to_num(image.astype(np.float64), nan=0.0)
    if img.size and (img.min() < 0.0 or img.max() > 1.0):  # another scale: stretch to 0-255
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def render_face(
    image: np.ndarray,
    keypoints: np.ndarray | None = None,
    sides: Sequence[str] | None = None,
    *,
    min_size: int = MIN_DISPLAY_SIZE,
) -> bytes:
    """Render one face as PNG bytes: upscaled by a whole factor, keypoints as coloured dots.

    Args:
        image: ``(H, W)`` grayscale or ``(H, W, 3)`` RGB, float in [0, 1] or uint8.
        keypoints: optional ``(K, 2)`` pixel coordinates (x, y) in the original image; NaN
            keypoints are skipped.
        sides: ``"left"``/``"right"``/``"centre"`` per keypoint (its colour).
        min_size: upscale until the shorter side is at least this many pixels.
    """
    img = _to_uint8(np.asarray(image))
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    h, w = img.shape[:2]
    scale = max(1, int(np.ceil(min_size / min(h, w))))
    # Nearest neighbour keeps the real pixels visible: this is what the network sees.
    img = cv2.resize(img, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
    if keypoints is not None:
        sides = list(sides) if sides is not None else ["centre"] * len(keypoints)
        radius = max(2, scale)
        for (x, y), side in zip(keypoints, sides, strict=True):
            if not (np.isfinite(x) and np.isfinite(y)):
                continue
            # Pixel centres: pixel i spans [i - 0.5, i + 0.5] in Kaggle's coordinates.
            centre = (int(round((x + 0.5) * scale)), int(round((y + 0.5) * scale)))
            cv2.circle(img, centre, radius, _bgr(SIDE_COLOURS[side]), -1, lineType=cv2.LINE_AA)
    ok, png = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV only fails here on an impossible image
        raise ValueError(f"could not encode an image of shape {img.shape} as PNG")
    return png.tobytes()


def _format_value(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.3g}"
    arr = np.asarray(value)
    if arr.ndim >= 1 and np.issubdtype(arr.dtype, np.number):
        return "[" + ", ".join(f"{float(v):.3g}" for v in arr.reshape(-1)) + "]"
    return str(value)


class FaceBrowser(widgets.VBox):
    """A slider, Previous/Next buttons, the face and its label; see :func:`face_browser`.

    Handles for driving it from code (or a browser test): ``.slider``, ``.prev_button``,
    ``.next_button``, ``.image`` (its ``.value`` is the PNG bytes shown) and ``.label`` (its
    ``.value`` is the HTML caption). ``.index`` is the face shown.
    """

    def __init__(
        self,
        images: Any,
        labels: Any = None,
        keypoints: Any = None,
        label_names: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> None:
        self._images = as_image_batch(images)
        n = self._images.shape[0]
        self._labels = None if labels is None else label_texts(labels, n, label_names)
        self._keypoints = None
        self._sides: list[str] | None = None
        if keypoints is not None:
            self._keypoints = as_keypoint_batch(keypoints, n)
            self._sides = resolve_keypoint_sides(self._keypoints.shape[1], columns)
        self._extra = self._check_extra(extra, n)

        self.slider = widgets.IntSlider(
            value=0,
            min=0,
            max=n - 1,
            step=1,
            description="Face",
            tooltip="Choose a face",
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        self.prev_button = widgets.Button(
            description="Previous", tooltip="Previous", icon="arrow-left"
        )
        self.next_button = widgets.Button(description="Next", tooltip="Next", icon="arrow-right")
        # flex-start: a VBox stretches its children to its full width, which blew the
        # 240-px picture up to the whole output width and pushed the controls off screen.
        self.image = widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start"))
        self.label = widgets.HTML()
        for widget, css in (
            (self.slider, "face-browser-slider"),
            (self.prev_button, "face-browser-prev"),
            (self.next_button, "face-browser-next"),
            (self.image, "face-browser-image"),
            (self.label, "face-browser-label"),
        ):
            widget.add_class(css)

        self.slider.observe(self._on_slider, names="value")
        self.prev_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))
        controls = widgets.HBox([self.prev_button, self.slider, self.next_button])
        super().__init__([controls, self.image, self.label])
        self.add_class("face-browser")
        self.show(0)

    @staticmethod
    def _check_extra(extra: Mapping[str, Any] | None, n: int) -> dict[str, Sequence[Any]]:
        if extra is None:
            return {}
        if not hasattr(extra, "keys"):
            raise ValueError(
                f"extra: got {type(extra).__name__}; expected a dict (or DataFrame) of columns"
            )
        out = {}
        for key in extra.keys():
            column = extra[key]
            values = column.to_numpy() if hasattr(column, "to_numpy") else column
            if len(values) != n:
                raise ValueError(f"extra[{key!r}]: {len(values)} values for {n} images")
            out[str(key)] = values
        return out

    def __len__(self) -> int:
        return int(self._images.shape[0])

    @property
    def index(self) -> int:
        """The index of the face shown."""
        return int(self.slider.value)

    def step(self, delta: int) -> None:
        """Move ``delta`` faces forward (negative: back), wrapping around at the ends."""
        self.slider.value = (self.index + int(delta)) % len(self)

    def caption(self, i: int) -> str:
        """The HTML caption of face ``i``: its index, label and the ``extra`` values."""
        parts = [f"<b>#{i}</b>"]
        if self._labels is not None:
            parts.append(f"label: <b>{html.escape(self._labels[i])}</b>")
        if self._keypoints is not None:
            present = int(np.isfinite(self._keypoints[i]).all(axis=1).sum())
            parts.append(f"keypoints: {present}/{self._keypoints.shape[1]}")
        for key, values in self._extra.items():
            parts.append(f"{html.escape(key)}: {html.escape(_format_value(values[i]))}")
        return " &nbsp;|&nbsp; ".join(parts)

    def show(self, i: int) -> None:
        """Render face ``i`` into ``.image`` and its caption into ``.label``."""
        if not 0 <= i < len(self):
            raise ValueError(f"index {i}: expected 0..{len(self) - 1}")
        points = None if self._keypoints is None else self._keypoints[i]
        self.image.value = render_face(self._images[i], points, self._sides)
        self.label.value = self.caption(i)

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        self.show(int(change["new"]))


def face_browser(
    images: Any,
    labels: Any = None,
    keypoints: Any = None,
    label_names: Sequence[str] | None = None,
    extra: Mapping[str, Any] | None = None,
    *,
    columns: Sequence[str] | None = None,
) -> FaceBrowser:
    """Build an interactive browser over ``images``; display it by leaving it as a cell's value.

    Args:
        images: ``(N, H, W[, 1|3])`` faces, float in [0, 1] or uint8.
        labels: optional ``(N,)`` labels: class indices (named via ``label_names``) or strings.
        keypoints: optional ``(N, 30)`` Kaggle-order pixels (or ``(N, K, 2)``), NaN where missing.
        label_names: names of the class indices, e.g. ``utils.data.EMOTIONS``.
        extra: more per-face facts for the caption: a dict (or DataFrame) of columns with one
            value per face, e.g. ``{"subject": subjects, "AU12": intensities[:, 7]}``.
        columns: keypoint column names when they are not Kaggle's 15 keypoints.

    Returns:
        A :class:`FaceBrowser` (an ``ipywidgets.VBox``).
    """
    return FaceBrowser(images, labels, keypoints, label_names, extra, columns=columns)


# --------------------------------------------------------------------------------------------
# Your own photo: an upload widget
# --------------------------------------------------------------------------------------------


class UploadDemo(widgets.VBox):
    """A file-upload button, the annotated photo and a message line, in one box.

    CSS classes (stable, for browser tests): the box ``upload-demo``, the upload button
    ``upload-demo-input``, the picture ``upload-demo-result``, the message
    ``upload-demo-message``. :meth:`show_file` is what an upload triggers; call it yourself
    with a file's bytes to get the same result without a browser.
    """

    def __init__(self, pipeline: FramePipeline | None = None, *, max_side: int = 800) -> None:
        self.pipeline = pipeline
        self.max_side = max_side
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Photo")
        self.upload.add_class("upload-demo-input")
        # flex-start: shown at its own size (at most the output's width), not stretched to it.
        self.result = widgets.Image(
            format="png", layout=widgets.Layout(max_width="100%", align_self="flex-start")
        )
        self.result.add_class("upload-demo-result")
        self.message = widgets.HTML("Choose a photo with a face (JPEG or PNG).")
        self.message.add_class("upload-demo-message")
        super().__init__([self.upload, self.message, self.result])
        self.add_class("upload-demo")
        self.upload.observe(self._on_upload, names="value")

    def _on_upload(self, change: Mapping[str, Any]) -> None:
        files = change["new"]
        if files:
            first = files[0]
            self.show_file(str(first["name"]), bytes(first["content"]))

    def show_file(self, name: str, content: bytes) -> bool:
        """Analyse one uploaded file and show the result; False (and a message) if it failed."""
        try:
            photo = decode_image(content, name)
        except NotAnImageError as e:
            self.result.value = b""
            self.result.layout.display = "none"
            self._say(str(e), error=True)
            return False
        if self.pipeline is None:
            self.pipeline = photo_pipeline()
        annotated, found = annotate_photo(photo, self.pipeline, max_side=self.max_side)
        self.result.value = encode_image(annotated, ".png")
        self.result.layout.display = None
        if len(found.boxes) == 0:
            self._say(
                f"{name}: no face found. The Haar detector wants a frontal, upright, well-lit "
                "face at least 40 pixels wide; try another photo.",
                error=True,
            )
            return False
        faces = ", ".join(
            f"{e} ({p.max():.0%})" for e, p in zip(found.emotions, found.probabilities, strict=True)
        )
        self._say(f"{name}: {len(found.boxes)} face(s): {faces}")
        return True

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "inherit"
        self.message.value = f'<span style="color:{colour}">{html.escape(text)}</span>'


def upload_demo(
    emotion_model: Any = None, keypoint_model: Any = None, *, max_side: int = 800
) -> UploadDemo:
    """Try the models on your own photo: returns the widget box (show it as a cell's value).

    The models load on the first upload, so showing the box is instant.
    """
    pipeline = None
    if emotion_model is not None or keypoint_model is not None:
        pipeline = photo_pipeline(emotion_model, keypoint_model)
    return UploadDemo(pipeline, max_side=max_side)
