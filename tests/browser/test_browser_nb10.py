"""Notebook 10 in JupyterLab: upload a real photo through the FileUpload widget, then a non-image.

The file goes the way a learner's does: click the upload button, pick the file in the file
chooser; the browser sends its bytes to the kernel, which annotates the photo and sends back the
picture and a message.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from lab_harness import (
    BROWSER,
    assert_no_error_outputs,
    assert_widget_rendered,
    fetch_image_bytes,
    screenshot,
)

from utils.schema import EMOTIONS

pytestmark = BROWSER

NB10 = "10_real_world_inference.ipynb"
#: Where her face is in scikit-image's astronaut photo (notebook 10 asserts the same).
FACE_CENTRE = (225, 115)


def upload(page, path: Path) -> None:
    """Click the upload button and choose ``path`` in the file chooser, as a learner does."""
    with page.expect_file_chooser() as chooser:
        page.locator(".upload-demo-input").click()
    chooser.value.set_files(str(path))


@pytest.mark.parametrize("notebook", [NB10])
def test_notebook_10_upload_in_jupyterlab(runner, notebook: str, tmp_path: Path) -> None:
    import skimage.data

    photo = tmp_path / "astronaut.jpg"
    assert cv2.imwrite(str(photo), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    sent = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)  # the bytes the kernel gets
    text = tmp_path / "shopping_list.txt"
    text.write_text("eggs\nmilk\n", encoding="utf-8")

    run = runner.wait(notebook)
    try:
        run.check()
        page = run.page
        print(f"{notebook}: opened in {run.open_seconds:.0f} s, ran in {run.run_seconds:.0f} s")
        assert_no_error_outputs(page, notebook)
        demo = assert_widget_rendered(page, "upload-demo", image=False)
        demo.scroll_into_view_if_needed()
        screenshot(page, "10_upload_demo")

        # A real photo: the annotated picture and the emotion found appear below the button.
        upload(page, photo)
        message = page.locator(".upload-demo-message")
        message.filter(has_text="astronaut.jpg").wait_for(timeout=120_000)
        emotions = "|".join(EMOTIONS)
        assert re.fullmatch(
            rf"astronaut\.jpg: 1 face\(s\): ({emotions}) \(\d+%\)", message.inner_text().strip()
        ), message.inner_text()
        result = page.locator("img.upload-demo-result")
        result.wait_for(state="visible", timeout=30_000)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=result.element_handle()
        )
        natural, width = result.evaluate("i => [i.naturalWidth, i.getBoundingClientRect().width]")
        assert width <= natural + 1, f"the {natural}-px photo is stretched to {width:.0f} px"
        shown = cv2.imdecode(np.frombuffer(fetch_image_bytes(page, result), np.uint8), 1)
        assert shown is not None and shown.shape == sent.shape, "the annotated photo, full size"
        # The box, label, emoji and keypoints are drawn around her face, and only there.
        drawn = np.abs(cv2.cvtColor(shown, cv2.COLOR_BGR2RGB).astype(int) - sent).max(axis=2) > 60
        ys, xs = np.nonzero(drawn)
        assert 0.002 < drawn.mean() < 0.2, f"{drawn.mean():.1%} of the pixels changed"
        centre = (xs.mean(), ys.mean())
        assert np.hypot(centre[0] - FACE_CENTRE[0], centre[1] - FACE_CENTRE[1]) < 80, (
            f"the drawing is centred at {centre}, not on her face at {FACE_CENTRE}"
        )
        screenshot(demo, "10_annotated_photo")

        # Not a picture: a clear message, no traceback, and no stale picture.
        upload(page, text)
        message.filter(has_text="shopping_list.txt").wait_for(timeout=60_000)
        assert "not a picture" in message.inner_text(), message.inner_text()
        result.wait_for(state="hidden", timeout=30_000)
        screenshot(demo, "10_not_a_picture")
        assert_no_error_outputs(page, notebook)
        run.log.assert_clean()
    finally:
        runner.release(notebook)
