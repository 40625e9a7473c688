"""The two ways to install the course (pip and conda) must describe the same environment."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(meta["dependencies"]) + list(meta["optional-dependencies"]["dev"])
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def _environment_pip_requirements() -> dict[str, str]:
    """Parse the `- pip:` block of environment.yml (plain text: no YAML dependency needed)."""
    lines = (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    reqs = {}
    for line in lines[start + 1 :]:
        if line.strip().startswith("#") or not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent:
            break
        text = re.sub(r"^\s*-\s*", "", line).strip()
        req = Requirement(text)
        reqs[req.name.lower()] = str(req.specifier)
    return reqs


def test_environment_yml_matches_pyproject() -> None:
    assert _environment_pip_requirements() == _pyproject_requirements()


def test_constraints_pin_every_dependency_within_its_range() -> None:
    """CI installs constraints.txt: each direct dependency must be pinned there, inside its range."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    for name, spec in _pyproject_requirements().items():
        key = name.replace("_", "-")
        assert key in pins, f"constraints.txt does not pin {name}"
        req = Requirement(f"{name}{spec}")
        assert req.specifier.contains(pins[key], prereleases=True), (
            f"constraints.txt pins {name}=={pins[key]}, outside pyproject's range {spec!r}"
        )


def test_opencv_is_headless_4x() -> None:
    """OpenCV 5 wheels dropped CascadeClassifier and the Haar cascades the course uses."""
    import cv2

    assert cv2.__version__.startswith("4."), cv2.__version__
    assert hasattr(cv2, "CascadeClassifier")
    assert Path(cv2.data.haarcascades, "haarcascade_frontalface_default.xml").exists()


def test_jupyterlab_and_ipywidgets_work_together() -> None:
    """JupyterLab 4 needs ipywidgets 8 (its widget manager ships with jupyterlab_widgets 3)."""
    from importlib.metadata import version

    lab, widgets = version("jupyterlab"), version("ipywidgets")
    jlw = version("jupyterlab_widgets")
    assert lab.split(".")[0] == "4" and widgets.split(".")[0] == "8", (lab, widgets)
    assert jlw.split(".")[0] == "3", f"jupyterlab_widgets {jlw} does not match ipywidgets {widgets}"
