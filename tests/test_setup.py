"""utils.setup: the first cell of every notebook, and what it calls."""

from __future__ import annotations

import os

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from utils import setup


def test_the_setup_cell_is_short_valid_ipython_and_installs_from_pip_url() -> None:
    assert len(setup.SETUP_CELL.splitlines()) <= 7
    assert f'%pip install -q "{setup.PIP_URL}"' in setup.SETUP_CELL
    python = TransformerManager().transform_cell(setup.SETUP_CELL)
    compile(python, "setup cell", "exec")  # the %pip line becomes a plain call
    assert "run_line_magic('pip'" in python


def test_notebook_reports_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    setup.notebook()
    out = capsys.readouterr().out
    assert out.startswith("TensorFlow ") and "Keras" in out
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"]


def test_native_stderr_is_dropped_only_meanwhile(capfd: pytest.CaptureFixture[str]) -> None:
    with setup._native_stderr_silenced():
        os.write(2, b"I0000 a C++ log line\n")
        print("printed text stays")
    os.write(2, b"after\n")
    captured = capfd.readouterr()
    assert "C++ log line" not in captured.err and "after" in captured.err
    assert "printed text stays" in captured.out


@pytest.mark.parametrize("module", ["utils.train_fer", "utils.train_keypoints"])
def test_training_commands_start_without_tensorflow_log_lines(module: str) -> None:
    """Importing a trainer loads TensorFlow; its C++ start-up lines must not reach the user."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}, keras; keras.ops.ones(2)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    assert done.stderr == "", done.stderr
