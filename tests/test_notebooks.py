"""Execute every course notebook in sample mode, as a student (and CI) would.

Each notebook asserts the claim it teaches on the sample data, so a library upgrade that
silently breaks a lesson fails here. A new ``notebooks/NN_*.ipynb`` is covered automatically.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_output import stderr_noise

from utils.claims import STRICT_ENV
from utils.course import run_notebook
from utils.editions import notebook_paths

NOTEBOOKS = notebook_paths()
# Generous guard: the budget is ~60-120 s per notebook on a 2-core CPU; this catches runaways.
TIME_LIMIT_S = 420


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(
    path: Path, sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits the environment: every lesson claim must hold on the sample data.
    monkeypatch.setenv(STRICT_ENV, "1")
    result = run_notebook(path, tmp_path, progress_bar=False, html=False)
    assert result.status == "ok", f"{path.name} failed: {result.error}"
    assert result.seconds < TIME_LIMIT_S, f"{path.name} took {result.seconds:.0f} s"
    noise = stderr_noise(nbformat.read(tmp_path / "notebooks" / path.name, as_version=4))
    assert not noise, f"{path.name} shows a learner stderr noise:\n" + "\n".join(noise)


def test_stderr_noise_is_found_and_progress_bars_are_not() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="train: 100%|███| 3/3 [00:01<00:00, 2.9it/s]\n"
        ),
        nbformat.v4.new_output("stream", name="stdout", text="W0000 printed on stdout is fine\n"),
        nbformat.v4.new_output(
            "stream", name="stderr", text="UserWarning: Skipping variable loading\n"
        ),
    ]
    nb.cells.append(cell)
    assert stderr_noise(nb) == ["  cell 0: UserWarning: Skipping variable loading"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_shape(path: Path) -> None:
    """Committed without outputs, with a tagged ``parameters`` cell defining DATA/EPOCHS/SEED."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
        f"{path.name} is committed with outputs; clear them before committing"
    )
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{path.name}: expected exactly one cell tagged 'parameters'"
    for name in ("DATA", "EPOCHS", "SEED"):
        assert f"{name} =" in params[0].source, f"{path.name}: parameters cell lacks {name}"
    assert "install" in code[0].source.lower(), f"{path.name}: first cell must be the setup cell"
    # Without a kernelspec papermill cannot inject parameters (`-p`): "No language found".
    kernel = nb.metadata.get("kernelspec", {})
    assert kernel.get("name") == "python3" and kernel.get("language") == "python", (
        f"{path.name}: metadata.kernelspec must name the python3 kernel, got {kernel!r}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_papermill_reads_every_parameter(path: Path) -> None:
    """`-p NAME=VALUE` needs papermill to parse each line of the parameters cell (a comment
    with "=" in it is not parsed: papermill then warns and shows the parameter nowhere)."""
    from papermill.translators import PythonTranslator

    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [ln.split("=")[0].strip() for ln in cell.source.splitlines() if "=" in ln]
    parsed = [p.name for p in PythonTranslator.inspect(cell)]
    assert parsed == assigned, f"{path.name}: papermill cannot parse {set(assigned) - set(parsed)}"
