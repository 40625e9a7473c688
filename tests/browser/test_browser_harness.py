"""The browser tests' own machinery: versions, the widget manager, finding and installing
Chromium, skip-or-fail, server shutdown, and that the widget checks do catch a broken widget."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
from lab_harness import (
    BROWSER,
    REPO,
    WIDGET_AS_TEXT,
    JupyterLabServer,
    assert_widget_rendered,
    find_chromium,
    require_browser,
)
from packaging.requirements import Requirement
from packaging.version import Version


def browser_test(test):
    """Mark a test that drives JupyterLab (see lab_harness.BROWSER)."""
    for mark in BROWSER:
        test = mark(test)
    return test


ENSURE_CHROMIUM = REPO / "scripts" / "ensure_chromium.sh"

# JupyterLab 4 renders ipywidgets 8 through jupyterlab_widgets 3 (a prebuilt extension that
# pip installs with ipywidgets): no `jupyter labextension install`. Other pairs break widgets.
COMPATIBLE = {
    "jupyterlab": ("4.0", "5"),
    "ipywidgets": ("8.0", "9"),
    "jupyterlab_widgets": ("3.0", "4"),
}


def test_declared_ranges_keep_jupyterlab_and_ipywidgets_compatible() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    every = [*meta["dependencies"], *meta.get("optional-dependencies", {}).get("lab", [])]
    declared = {Requirement(d).name.lower(): Requirement(d) for d in every}
    for name in ("jupyterlab", "ipywidgets"):
        low, high = COMPATIBLE[name]
        spec = declared[name].specifier
        assert Version(low) in spec, f"pyproject.toml {name}{spec} should allow {low}"
        too_old = f"{int(low.split('.')[0]) - 1}.99"
        for outside in (too_old, high):
            assert Version(outside) not in spec, (
                f"pyproject.toml {name}{spec} allows {outside}, which does not work with the "
                f"other (JupyterLab 4 needs ipywidgets 8)"
            )


def test_installed_jupyterlab_and_widgets_work_together() -> None:
    for name, (low, high) in COMPATIBLE.items():
        installed = Version(version(name))
        assert Version(low) <= installed < Version(high), (
            f"{name} {installed} is installed; the course needs >={low},<{high} "
            "(pip install -c constraints.txt -e '.[dev,lab]')"
        )


@browser_test
def test_widget_manager_is_served_by_jupyterlab(lab_server) -> None:
    """The page JupyterLab serves lists the widget manager among its prebuilt extensions."""
    request = urllib.request.Request(
        f"{lab_server.base_url}/lab", headers={"Authorization": f"token {lab_server.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        page = response.read().decode("utf-8")
    config = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert config, "no jupyter-config-data in JupyterLab's page"
    extensions = {e["name"]: e for e in json.loads(config.group(1))["federated_extensions"]}
    assert "@jupyter-widgets/jupyterlab-manager" in extensions, sorted(extensions)


def test_server_gets_a_learners_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Settings of the test process must not reach the kernels (inline figures need this)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = JupyterLabServer(tmp_path, tmp_path / "state", env={"EXTRA": "1"}).environment()
    assert "MPLBACKEND" not in env
    assert env["EXTRA"] == "1" and env["JUPYTER_CONFIG_DIR"].startswith(str(tmp_path))


def test_find_chromium_honours_chromium_variable(tmp_path: Path) -> None:
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o755)
    assert find_chromium({"CHROMIUM": str(fake), "PATH": ""}) == str(fake)
    assert find_chromium({"CHROME_PATH": "my-chrome", "PATH": str(tmp_path)}) == str(fake)
    # An explicit choice that is not there is not silently replaced by another browser.
    assert find_chromium({"CHROMIUM": str(tmp_path / "missing"), "PATH": str(tmp_path)}) is None
    (tmp_path / "chromium").symlink_to(fake)
    found = find_chromium({"PATH": str(tmp_path)})
    assert found in ("/usr/bin/chromium", str(tmp_path / "chromium"))


def test_no_browser_skips_on_a_laptop_and_fails_in_ci(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no browser"):
        require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_browser()
    monkeypatch.setenv("CI", "false")  # CI=false is not CI
    with pytest.raises(pytest.skip.Exception):
        require_browser()


def _ensure_chromium(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("bash") is None:
        pytest.skip("scripts/ensure_chromium.sh needs bash")
    return subprocess.run(
        ["bash", str(ENSURE_CHROMIUM)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,  # it never fails the build by itself
    )


def test_ensure_chromium_does_nothing_when_a_browser_is_there(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o755)
    log = tmp_path / "apt.log"
    apt = tmp_path / "fake-apt-get"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {log}\n', encoding="utf-8")
    apt.chmod(0o755)
    done = _ensure_chromium(tmp_path, CHROMIUM=str(fake), APT_GET=str(apt))
    assert "nothing to do" in done.stdout
    assert not log.exists(), "apt-get must not run when a browser is installed"


def test_ensure_chromium_installs_with_apt_get_when_missing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("installing needs root; the not-root path is tested below")
    target = tmp_path / "bin" / "chromium"
    log = tmp_path / "apt.log"
    apt = tmp_path / "fake-apt-get"
    # A fake apt-get: records its arguments; "install" puts a browser in place.
    apt.write_text(
        "#!/bin/sh\n"
        f'echo "$DEBIAN_FRONTEND $@" >> {log}\n'
        f'case "$*" in *install*) mkdir -p {target.parent} && '
        f"printf '#!/bin/sh\\n' > {target} && chmod +x {target};; esac\n",
        encoding="utf-8",
    )
    apt.chmod(0o755)
    done = _ensure_chromium(tmp_path, CHROMIUM=str(target), APT_GET=str(apt))
    calls = log.read_text(encoding="utf-8").splitlines()
    assert calls == [
        "noninteractive update -qq",
        "noninteractive install -y -qq --no-install-recommends chromium",
    ], calls
    assert f"installed: {target}" in done.stdout
    # Idempotent: the second run finds it and does not call apt-get again.
    assert (
        "nothing to do" in _ensure_chromium(tmp_path, CHROMIUM=str(target), APT_GET=str(apt)).stdout
    )
    assert len(log.read_text(encoding="utf-8").splitlines()) == 2


def test_ensure_chromium_explains_when_it_cannot_install(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    done = _ensure_chromium(tmp_path, CHROMIUM=str(missing), APT_GET=str(tmp_path / "no-apt"))
    # Root: no apt-get here; not root: no sudo. Either way a reason, and exit status 0.
    assert re.search(r"no apt-get|cannot install", done.stdout), done.stdout


@browser_test
@pytest.mark.parametrize("notebook", [WIDGET_AS_TEXT])
def test_checks_catch_a_widget_shown_as_text(runner, notebook: str) -> None:
    """The widget check must fail where a learner would see text instead of the face browser."""
    run = runner.wait(notebook)
    try:
        run.check()
        with pytest.raises(AssertionError, match="shown as text") as caught:
            assert_widget_rendered(run.page, "face-browser", timeout_s=3)
        print(f"the check fails as it should: {caught.value}")
    finally:
        runner.release(notebook)


@browser_test
def test_checks_catch_a_widget_without_picture(browser) -> None:
    """A face browser whose image never loads (no src) fails the check too."""
    page = browser.new_page()
    try:
        page.set_content(
            '<div class="jp-OutputArea-output"><div class="face-browser" '
            'style="width:200px;height:200px"><img class="face-browser-image"></div></div>'
        )
        with pytest.raises(AssertionError, match="shows no picture"):
            assert_widget_rendered(page, "face-browser", timeout_s=1)
        page.set_content('<div class="jp-OutputArea-output">nothing here</div>')
        with pytest.raises(AssertionError, match="not rendered"):
            assert_widget_rendered(page, "face-browser", timeout_s=1)
    finally:
        page.close()
