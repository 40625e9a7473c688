"""Fixtures of the browser tests: one JupyterLab server, one Chromium, and the notebook runs.

* ``lab_server`` -- JupyterLab from this environment on 127.0.0.1 (free port, random token)
  serving a temporary copy of ``notebooks/``, with the sample data; always shut down. Its
  teardown starts a kernel, shuts the server down and fails (an ERROR at teardown) if any
  process it started, that kernel included, is still alive;
* ``browser`` -- headless system Chromium through Playwright (skipped without one, failed in CI);
* ``runner`` -- a :class:`lab_harness.NotebookRunner` that runs, in the browser, the notebooks
  that the selected tests ask for (their ``notebook`` parameter), several at once, from the
  start of the session: a test then ``runner.wait(notebook)`` for its results.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lab_harness import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    WIDGET_AS_TEXT,
    JupyterLabServer,
    NotebookPlan,
    NotebookRunner,
    alive_pids,
    make_course_copy,
    require_browser,
)

_RUNNER: NotebookRunner | None = None


def write_widget_as_text_notebook(folder: Path) -> None:
    """A face browser displayed as its text repr only (no widget view): must fail the checks."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import pathlib, sys\n"
            "sys.path.insert(0, str(pathlib.Path.cwd().parent))  # the course package\n"
            "import numpy as np\n"
            "from IPython.display import display\n"
            "from utils.widgets import face_browser"
        ),
        nbformat.v4.new_code_cell(
            "browser = face_browser(np.linspace(0, 1, 3 * 48 * 48).reshape(3, 48, 48, 1))\n"
            "# Only the text/plain part of the widget's output: what a learner sees when\n"
            "# @jupyter-widgets/jupyterlab-manager is missing or does not match ipywidgets.\n"
            'display({"text/plain": repr(browser)}, raw=True)'
        ),
    ]
    nbformat.write(nb, folder / WIDGET_AS_TEXT)


def plan_for(notebook: str, folder: Path) -> NotebookPlan:
    """How far each notebook runs in the browser.

    00 (the data tour and face browser) and the widget-as-text notebook: every cell. 10: up to
    and including the upload demo (the rest times the video pipeline, which the papermill run
    of tests/test_notebooks.py covers). Every other notebook: its setup and parameters cells.
    """
    cells = nbformat.read(folder / notebook, as_version=4).cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    if notebook.startswith("00_") or notebook == WIDGET_AS_TEXT:
        return NotebookPlan(notebook, cells, None, keep_open=True)
    if notebook.startswith("10_"):
        demo = [i for i in code if "upload_demo(" in cells[i].source]
        if not demo:
            raise ValueError(f"{notebook}: no cell calls upload_demo(); update plan_for()")
        return NotebookPlan(notebook, cells, demo[0] + 1, keep_open=True)
    params = [i for i in code if "parameters" in cells[i].metadata.get("tags", [])]
    if not params:
        raise ValueError(f"{notebook}: no cell is tagged 'parameters'")
    return NotebookPlan(notebook, cells, params[0] + 1)


def _priority(notebook: str) -> tuple[int, str]:
    # The longest runs first, so they overlap with everything else.
    order = {"00_": 0, "10_": 1, "wid": 2}
    return order.get(notebook[:3], 3), notebook


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_browser()


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    """Headless system Chromium (Playwright's own browser download is never used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def lab_server(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """JupyterLab serving a temporary copy of the course's notebooks, with the sample data."""
    root = tmp_path_factory.mktemp("course")
    notebooks = make_course_copy(root)
    write_widget_as_text_notebook(notebooks)
    server = JupyterLabServer(
        notebooks, root / "jupyter-state", env={"FACE_DL_DATA": str(sample_data.parent)}
    )
    server.start()
    try:
        yield server
    finally:
        # Shutting down must end the kernels too: leave one running to prove it every time.
        kernel = None
        with contextlib.suppress(OSError):
            kernel = server.api("POST", "api/kernels", {"name": "python3"})
        pids = server.descendant_pids()
        left = server.stop()
        assert not left and not alive_pids(pids), (
            f"processes still alive after JupyterLab shut down: {sorted(alive_pids(pids) | set(left))}"
            f" (of the server and its kernels {sorted(pids)})"
        )
        assert kernel and len(pids) >= 2, (
            f"no kernel could be started before shutdown, so the check proved nothing; "
            f"server log:\n{server.log_tail()}"
        )


@pytest.fixture(scope="session")
def runner(
    request: pytest.FixtureRequest, lab_server: JupyterLabServer, browser: Any
) -> Iterator[NotebookRunner]:
    """Runs the notebooks the selected tests ask for (parameter ``notebook``) in the browser.

    All of them are queued at once, so they run side by side while the tests wait -- unless
    pytest-xdist may hand this worker only some of the browser tests (``-n`` without working
    ``--dist loadgroup``: with pytest 9.2 and pytest-xdist 3.8 the ``xdist_group`` mark is
    silently ignored, pytest-dev/pytest-xdist#1386). Then each notebook is queued when its test
    asks for it, so that no notebook runs twice.
    """
    global _RUNNER
    items = [
        item
        for item in request.session.items
        if "notebook" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    grouped = all(item.nodeid.endswith("@browser") for item in items)
    upfront = not os.environ.get("PYTEST_XDIST_WORKER") or grouped
    wanted = {item.callspec.params["notebook"] for item in items} if upfront else set()
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # (workers would delete each other's)
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # only this run's screenshots
    _RUNNER = NotebookRunner(
        lab_server,
        browser,
        lambda notebook: plan_for(notebook, lab_server.root_dir),
        sorted(wanted, key=_priority),
    )
    _RUNNER.poll()  # start the first notebooks now: they run while other tests do
    try:
        yield _RUNNER
    finally:
        _RUNNER.close()
        _RUNNER = None


@pytest.fixture(autouse=True)
def _advance_notebook_runs(request: pytest.FixtureRequest) -> None:
    """Start the runs at the first browser test, and move them on at every test after it."""
    if request.node.get_closest_marker("browser") is not None:
        request.getfixturevalue("runner")
    if _RUNNER is not None:
        _RUNNER.poll()
