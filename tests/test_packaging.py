"""Packaging: pip and conda list the same environment; the extras; the licence and the citation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> dict[str, str]:
    """The core dependencies and every extra ([lab], [dev])."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        reqs += list(extra)
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


def test_core_dependencies_are_what_notebooks_need_at_run_time() -> None:
    """The notebooks' setup cell installs the core only: JupyterLab, the notebook runners and
    the test tools are extras ([lab], [dev]), so Colab and Kaggle do not reinstall them."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {Requirement(r).name.lower() for r in meta["dependencies"]}
    extras = meta["optional-dependencies"]
    lab = {Requirement(r).name.lower() for r in extras["lab"]}
    dev = {Requirement(r).name.lower() for r in extras["dev"]}
    assert {"jupyterlab", "papermill", "nbconvert"} <= lab
    assert {"pytest", "ruff", "mypy", "build"} <= dev
    assert not core & (lab | dev), core & (lab | dev)
    assert {"tensorflow", "keras", "ipywidgets", "ipykernel"} <= core
    assert meta["scripts"]["face-course"] == "utils.cli:main"


#: The keys CFF 1.2.0 allows at the top level (its schema has additionalProperties: false).
CFF_KEYS = {
    "abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi",
    "identifiers", "keywords", "license", "license-url", "message", "preferred-citation",
    "references", "repository", "repository-artifact", "repository-code", "title", "type",
    "url", "version",
}  # fmt: skip


def test_citation_and_licence_match_the_package() -> None:
    """CITATION.cff is CFF 1.2.0 with pyproject's version and licence; LICENSE is that licence."""
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert set(cff) <= CFF_KEYS, set(cff) - CFF_KEYS
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["cff-version"] == "1.2.0" and cff.get("type", "software") in {"software", "dataset"}
    assert all(
        isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in cff["authors"]
    )
    assert str(cff["version"]) == meta["version"]
    assert cff["license"] == meta["license"] == "MIT"
    assert cff["repository-code"] == "https://github.com/face-dl-course/face-dl-course"
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "the Face DL Course authors" in licence
    assert meta["license-files"] == ["LICENSE"]
