"""The shipped models' training scripts: argument checks and resuming, before any training.

Both scripts share the run plumbing (``data_scripts.training_runs``); these
tests run each ``main()`` up to the point where it would load data, so they are fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from data_scripts import train_fer2013, train_keypoints, training_runs

SCRIPTS = [train_fer2013, train_keypoints]
IDS = ["train_fer2013", "train_keypoints"]


def _error(script: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``script.main(argv)``, expect argparse's exit 2, return its message."""
    with pytest.raises(SystemExit) as exc:
        script.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_bad_numbers_are_refused(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "faces.zip"
    out = str(tmp_path / "run")
    message = _error(script, ["--data", str(data), "--out", out, "--epochs", "0"], capsys)
    assert "--epochs 0: expected a positive number of epochs" in message
    message = _error(script, ["--data", str(data), "--out", out, "--val-fraction", "1.5"], capsys)
    assert "--val-fraction 1.5: expected a number in (0, 1)" in message
    assert not (tmp_path / "run").exists(), "a refused run must not leave a folder behind"


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_missing_data_names_where_it_looked(
    script: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(script, "default_data", lambda: None)
    message = _error(script, ["--out", str(tmp_path / "run")], capsys)
    assert "--data: no file given" in message and "../shared/data/" in message


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_resume_checks_the_run(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="no run to resume here"):
        script.main(["--out", str(out), "--resume"])
    out.mkdir()
    (out / "state.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="state.json: not valid JSON"):
        script.main(["--out", str(out), "--resume"])
    state = {"data": str(tmp_path / "a.zip"), "epochs": 5, "epochs_done": 2, "settings": {}}
    (out / "state.json").write_text(json.dumps(state), encoding="utf-8")
    message = _error(script, ["--out", str(out), "--resume", "--data", str(tmp_path)], capsys)
    assert "differs from the run's data" in message
    message = _error(script, ["--out", str(out), "--resume", "--epochs", "7"], capsys)
    assert "started for 5 epochs" in message and "start a new --out" in message


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_new_run_refuses_a_folder_that_holds_one(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "state.json").write_text("{}", encoding="utf-8")
    message = _error(script, ["--data", str(tmp_path / "a.zip"), "--out", str(out)], capsys)
    assert "already holds a run; pass --resume" in message


def test_resume_or_build_builds_then_resumes(tmp_path: Path) -> None:
    import argparse

    import keras

    def build() -> keras.Model:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="tiny")
        model.compile(optimizer="adam", loss="mse")
        return model

    out = tmp_path / "run"
    state = {"epochs": 2, "epochs_done": 5, "best": 1.0}  # stale numbers a new run must reset
    first = training_runs.resume_or_build(argparse.Namespace(out=out, resume=False), state, build)
    assert (state["epochs_done"], state["best"]) == (0, None)
    assert json.loads((out / "state.json").read_text())["epochs_done"] == 0
    first.fit(np.ones((4, 3)), np.zeros((4, 2)), batch_size=4, epochs=1, verbose=0)
    first.save(out / "last.keras")
    state["epochs_done"] = 1
    again = training_runs.resume_or_build(
        argparse.Namespace(out=out, resume=True), state, lambda: pytest.fail("rebuilt")
    )
    assert state["epochs_done"] == 1
    assert again.optimizer.iterations.numpy() == 1, "the optimizer state must come back too"
