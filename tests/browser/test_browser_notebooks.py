"""Every other notebook opens in JupyterLab without page errors and runs its first cells.

Cheap on purpose: only the setup cell (imports the course package, reports the GPU) and the
``parameters`` cell run, one kernel per notebook, shut down right after. Notebooks 00 and 10
have their own, complete browser tests; tests/test_notebooks.py executes every notebook fully.
"""

from __future__ import annotations

import pytest
from lab_harness import BROWSER

from utils.editions import notebook_paths

pytestmark = BROWSER

OWN_TESTS = ("00_", "10_")  # test_browser_nb00.py, test_browser_nb10.py
NOTEBOOKS = [p.name for p in notebook_paths() if not p.name.startswith(OWN_TESTS)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.split("_")[0] for n in NOTEBOOKS])
def test_notebook_opens_and_first_cells_run(runner, notebook: str) -> None:
    run = runner.wait(notebook)
    print(f"{notebook}: opened in {run.open_seconds:.0f} s, first cells in {run.run_seconds:.0f} s")
    run.check()
    assert run.plan.expected >= 2, "the setup and parameters cells"
    assert all(p.strip("[]:").isdigit() for p in run.prompts[: run.plan.expected]), run.prompts
    assert not run.error_texts, f"{notebook}: error output in the browser: {run.error_texts}"
    run.log.assert_clean()
