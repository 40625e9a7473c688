"""Notebook 00 in JupyterLab, as a learner sees it: Run All, then the face browser and the plots."""

from __future__ import annotations

import re

import pytest
from lab_harness import (
    BROWSER,
    assert_no_error_outputs,
    assert_widget_rendered,
    image_sources,
    screenshot,
)

pytestmark = BROWSER

NB00 = "00_setup_and_data_tour.ipynb"


@pytest.mark.parametrize("notebook", [NB00])
def test_notebook_00_in_jupyterlab(runner, notebook: str) -> None:
    run = runner.wait(notebook)
    try:
        run.check()
        page = run.page
        print(
            f"{notebook}: opened in {run.open_seconds:.0f} s, Run All took {run.run_seconds:.0f} s"
        )
        assert_no_error_outputs(page, notebook)

        # The face browser is a live widget, with a picture, not text.
        widget = assert_widget_rendered(page, "face-browser")
        widget.scroll_into_view_if_needed()
        screenshot(widget, "00_face_browser")
        image = widget.locator("img.face-browser-image")
        label = widget.locator(".face-browser-label")
        # Shown at its own size, so controls, picture and caption fit on one screen.
        natural, shown = image.evaluate("i => [i.naturalWidth, i.getBoundingClientRect().width]")
        assert shown <= natural + 1, f"the {natural}-px picture is stretched to {shown:.0f} px"
        height = widget.bounding_box()["height"]
        assert height < 600, f"the face browser is {height:.0f} px tall: it does not fit"
        before = (image.get_attribute("src"), label.inner_text())
        assert before[0] and "#0" in before[1], (
            f"first face: src {before[0]!r}, label {before[1]!r}"
        )

        # Next: the kernel renders face #1 and the browser shows its picture and caption.
        widget.locator(".face-browser-next").click()
        label.filter(has_text="#1").wait_for(timeout=30_000)
        page.wait_for_function(
            "([img, old]) => img.getAttribute('src') !== old && img.complete && img.naturalWidth",
            arg=[image.element_handle(), before[0]],
            timeout=30_000,
        )
        after = (image.get_attribute("src"), label.inner_text())
        assert after[0] != before[0] and after[1] != before[1], f"{before} -> {after}"
        slider = widget.locator(".face-browser-slider .widget-readout")
        assert slider.inner_text().strip() == "1", "the slider follows the Next button"
        screenshot(widget, "00_face_browser_next")

        # Previous wraps back to face #0.
        widget.locator(".face-browser-prev").click()
        label.filter(has_text="#0").wait_for(timeout=30_000)

        # The data tour's figures are images that loaded (matplotlib PNGs in the outputs).
        figures = image_sources(
            page, '.jp-NotebookPanel .jp-OutputArea-output[data-mime-type="image/png"] img'
        )
        assert len(figures) >= 4, f"expected a figure per data set at least, got {len(figures)}"
        broken = [i for i, f in enumerate(figures) if not (f["complete"] and f["width"] > 0)]
        assert not broken, f"figures {broken} of {len(figures)} did not load"
        assert all(f["shown"] for f in figures), "a figure is hidden"
        first_figure = page.locator(
            '.jp-NotebookPanel .jp-OutputArea-output[data-mime-type="image/png"]'
        ).first
        first_figure.scroll_into_view_if_needed()
        screenshot(page, "00_data_tour_figure")
        headline = page.locator(".jp-OutputArea-output", has_text=re.compile(r"Headline: faces"))
        assert re.fullmatch(r"Headline: faces toured = \d+ faces", headline.inner_text().strip())

        run.log.assert_clean()
    finally:
        runner.release(notebook)
