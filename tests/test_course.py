"""The course runner: executes a notebook, collects its headline metric, writes the summary."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from utils.course import NotebookResult, run_notebook, write_summary


def _tiny_notebook(path: Path, body: str) -> Path:
    params = new_code_cell(
        "DATA = 'sample'\nEPOCHS = 1\nSEED = 0", metadata={"tags": ["parameters"]}
    )
    nb = new_notebook(cells=[params, new_code_cell(body)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_run_notebook_collects_headline_and_parameters(tmp_path: Path) -> None:
    nb = _tiny_notebook(
        tmp_path / "01_tiny.ipynb",
        "from utils.course import headline\nheadline('score', EPOCHS * 2.5, unit='px')",
    )
    result = run_notebook(nb, tmp_path / "out", {"EPOCHS": 4}, progress_bar=False)
    assert result.status == "ok", result.error
    assert result.metric == "score (px)" and result.value == 10.0
    assert (tmp_path / "out" / "notebooks" / "01_tiny.ipynb").exists()
    assert (tmp_path / "out" / "html" / "01_tiny.html").read_text().count("Headline") >= 1


def test_run_notebook_reports_failure(tmp_path: Path) -> None:
    nb = _tiny_notebook(tmp_path / "02_bad.ipynb", "assert EPOCHS > 5, 'too few epochs'")
    result = run_notebook(nb, tmp_path / "out", progress_bar=False, html=False)
    assert result.status == "failed"
    assert "too few epochs" in result.error


def test_write_summary(tmp_path: Path) -> None:
    results = [
        NotebookResult("00_a.ipynb", "ok", 12.5, "faces", 100.0),
        NotebookResult("01_b.ipynb", "failed", 3.0, "", None, "boom"),
    ]
    md = write_summary(results, tmp_path)
    text = md.read_text()
    assert "| 00_a.ipynb | ok | 12.5 | faces | 100 |" in text
    assert "**total** | | 15.5" in text
    assert (tmp_path / "summary.csv").read_text().splitlines()[0].startswith("notebook,status")
    assert not list(tmp_path.glob("*.tmp"))
