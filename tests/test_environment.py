"""utils.environment: the TensorFlow/Keras/GPU report of every notebook's first cell."""

from __future__ import annotations

import pytest

from utils.environment import report_environment


def test_report_environment_says_what_to_do_without_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    info = report_environment()
    out = capsys.readouterr().out
    assert "TensorFlow" in out and info["tensorflow"]
    if not info["gpus"]:
        assert "tensorflow[and-cuda]" in out
