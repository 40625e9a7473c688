"""``face-course``: one command dispatching to each module's ``main``; the flag conventions."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from utils import cli
from utils.command_line import CommandParser, modernise


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, command in cli.COMMANDS.items():
        assert f"  {name}  " in out and command.module in out
    assert "examples:" in out and "face-course predict-emotions --images" in out
    assert cli.main([]) == 2  # no command: the same help, as a usage error


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_has_help_with_an_example(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ")
    if name not in ("editions", "train-keypoints", "train-fer"):  # parsers this layer does not own
        assert f"usage: face-course {name}" in out
        assert f"examples:\n  face-course {name}" in out


def test_each_command_runs_its_modules_main() -> None:
    for name, command in cli.COMMANDS.items():
        main = cli._main_of(name)
        assert main.__module__ == command.module and main.__name__ == "main"


def test_unknown_command_says_what_exists(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict_emotions"]) == 2
    err = capsys.readouterr().err
    assert "did you mean predict-emotions" in err and "sample-data" in err


def test_usage_errors_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["submission"]) == 2  # --data is required: argparse's usage error
    assert "--data" in capsys.readouterr().err
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("face-course ")


def test_lab_only_commands_say_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def without_papermill(argv: object) -> int:
        raise ModuleNotFoundError("No module named 'papermill'", name="papermill")

    monkeypatch.setattr(cli, "_main_of", lambda name: without_papermill)
    assert cli.main(["course"]) == 2
    assert "pip install 'face-dl-course[lab]'" in capsys.readouterr().err


def test_old_underscore_spellings_work_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "none.keras")
    assert cli.main(["verify", "--model_weights", missing, "--data", "sample"]) == 1
    err = capsys.readouterr().err
    assert "note: --model_weights is the old spelling of --model-weights" in err
    assert "none.keras: no such model file" in err
    # The trainer accepts both spellings itself; face-course still notes the old one.
    assert cli.main(["train-fer", "--batch_size", "8"]) == 2
    assert "note: --batch_size is the old spelling of --batch-size" in capsys.readouterr().err


def test_renamed_flags_work_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from utils.predict_keypoints import main

    assert main(["--faces", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "note: --faces is the old spelling of --images" in err and "missing" in err


def test_modernise_touches_only_known_old_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--out")
    argv = [
        "--batch_size=4",
        "--batch_size",
        "5",
        "--what_ever",
        "--dest",
        "x",
        "--",
        "--batch_size",
    ]
    assert modernise(argv, parser, {"--dest": "--out"}) == [
        "--batch-size=4",
        "--batch-size",
        "5",
        "--what_ever",  # unknown: left for argparse to report as the user typed it
        "--out",
        "x",
        "--",
        "--batch_size",  # after --: an argument, not a flag
    ]
    assert capsys.readouterr().err.count("note: --batch_size") == 1  # once per spelling


def test_command_parser_examples_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    parser = CommandParser("python -m utils.x", "Do x.", examples=["--per-class", ""])
    parser.add_argument("--per-class", action="store_true")
    assert parser.parse_args(["--per_class"]).per_class
    help_text = parser.format_help()
    assert "examples:\n  python -m utils.x --per-class\n  python -m utils.x" in help_text
    with pytest.raises(SystemExit):
        parser.parse_args(["--per_klass"])
    assert "unrecognized arguments: --per_klass" in capsys.readouterr().err


def test_installed_console_script() -> None:
    """``face-course`` as pip installs it (``[project.scripts]``), in this environment."""
    script = Path(sys.executable).with_name("face-course")
    if not script.exists():
        pytest.skip(f"{script} is not installed yet: pip install -e . (make install) adds it")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "predict-emotions" in done.stdout
