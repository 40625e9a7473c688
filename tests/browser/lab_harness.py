"""Drive the course in JupyterLab with a real browser: the server, the browser and the checks.

The browser tests (``tests/browser/test_browser_*.py``) use these pieces:

* :class:`JupyterLabServer` starts ``python -m jupyterlab`` from the course's own environment
  on 127.0.0.1 (a free port, a random token, ``--no-browser``) and always shuts it down,
  kernels included;
* :func:`find_chromium` finds the system Chromium (Debian's ``chromium`` package); Playwright's
  own browser download is never used;
* :class:`NotebookRunner` opens each notebook in a page of its own and runs it from the Run
  menu (Run All Cells, or Run All Above Selected Cell), a few kernels at a time;
* :class:`PageLog`, :func:`assert_no_error_outputs` and :func:`assert_widget_rendered` are how
  a test looks at a page, as a learner would.

It is a plain module (not a conftest) so that a test can import the checks and a developer can
use them from a Python prompt.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

#: The marks of a test that drives JupyterLab: ``browser`` (select or deselect them with
#: ``-m``), and one xdist group so that under ``pytest -n`` they all run in one worker, with
#: one server and one browser (the runner plans every browser test's notebook up front).
BROWSER = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

#: The course checkout (``tests/browser/`` is two folders below it).
REPO = Path(__file__).resolve().parents[2]
#: Every browser step's screenshot lands here (``build/`` is git-ignored).
SCREENSHOTS = REPO / "build" / "screenshots"
#: Where the README's two screenshots live (refreshed by ``update_screenshots.py``).
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"

#: A notebook the browser tests write into the course copy: a face browser shown as text only.
WIDGET_AS_TEXT = "widget_as_text.ipynb"

#: Chromium flags for containers and CI machines: no setuid sandbox (often no user namespaces),
#: no GPU, and no reliance on a small /dev/shm.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]

#: What a widget looks like when JupyterLab cannot render it: its Python repr as plain text
#: (no widget manager / mismatched versions) or ipywidgets' placeholder text.
WIDGET_TEXT_FALLBACK = re.compile(
    r"(FaceBrowser|UploadDemo|VBox|HBox|IntSlider|FileUpload|Image)\((children|value)=|"
    r"Loading widget\.\.\.|Error displaying widget|Failed to display Jupyter Widget",
)


# --------------------------------------------------------------------------------------------
# Finding the browser
# --------------------------------------------------------------------------------------------


def in_ci() -> bool:
    """True when ``$CI`` is set to something other than false/0/no (GitHub Actions, .ci/run)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}


def find_chromium(env: dict[str, str] | None = None) -> str | None:
    """The path of a Chromium (or Chrome) executable, or None.

    Looks at ``$CHROMIUM`` and ``$CHROME_PATH`` first (a path, or a name on ``PATH``), then
    Debian's ``/usr/bin/chromium``, then ``chromium``, ``chromium-browser``, ``google-chrome``
    on ``PATH``.
    """
    env = dict(os.environ) if env is None else env
    path = env.get("PATH")
    for var in ("CHROMIUM", "CHROME_PATH"):
        given = env.get(var, "").strip()
        if given:
            found = given if _is_executable(given) else shutil.which(given, path=path)
            # An explicit choice that does not exist is an error, not a reason to use another.
            return found
    if _is_executable("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here (one line), or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -c constraints.txt -e '.[dev]')"
    if find_chromium() is None:
        given = os.environ.get("CHROMIUM") or os.environ.get("CHROME_PATH")
        if given:
            return f"no browser: $CHROMIUM/$CHROME_PATH={given!r} is not an executable"
        return "no Chromium found (apt-get install chromium, or set $CHROMIUM)"
    return None


def require_browser() -> str:
    """The Chromium to use; else skip the test (one-line reason), or fail it when CI is set.

    On a laptop without Chromium the browser tests are skipped; in CI a missing browser is a
    broken setup and must not pass silently as skipped tests.
    """
    reason = browser_unavailable_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(
                f"{reason}; CI is set, so the browser tests fail instead of skipping "
                "(scripts/ensure_chromium.sh installs Chromium)",
                pytrace=False,
            )
        pytest.skip(reason)
    chromium = find_chromium()
    assert chromium is not None  # browser_unavailable_reason() said so
    return chromium


# --------------------------------------------------------------------------------------------
# The JupyterLab server
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


class JupyterLabServer:
    """JupyterLab on 127.0.0.1 serving ``root_dir``; ``start()`` it, ``stop()`` it.

    Its configuration, runtime files, settings and workspaces live under ``state_dir``, so the
    user's own Jupyter settings (a theme, an extension, a saved workspace) cannot change what
    the tests see. The server runs in its own process group; :meth:`stop` asks it to shut
    down (which stops its kernels), then terminates whatever of the group and of its kernels
    is left, and reports any process still alive.
    """

    def __init__(self, root_dir: Path, state_dir: Path, env: dict[str, str] | None = None) -> None:
        self.root_dir = Path(root_dir)
        self.state_dir = Path(state_dir)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.state_dir / "jupyterlab.log"
        self._known_pids: set[int] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, **query: str) -> str:
        """The browser URL of ``path`` (e.g. ``lab/tree/x.ipynb``), logged in by the token."""
        params = "&".join(
            [*(f"{k}={v}" if v else k for k, v in query.items()), f"token={self.token}"]
        )
        return f"{self.base_url}/{path.lstrip('/')}?{params}"

    def _settings(self) -> Path:
        """User settings that keep the page quiet and every cell in the DOM."""
        settings = self.state_dir / "lab-settings"
        # No news/update checks: they would reach the internet and pop up a notification.
        _write_json(
            settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )
        # 'none' keeps every cell attached to the page, so a test can find any cell's output.
        _write_json(
            settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
            {"windowingMode": "none"},
        )
        return settings

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.user_settings_dir={self._settings()}",
            f"--LabApp.workspaces_dir={self.state_dir / 'workspaces'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly",  # it would query PyPI
            "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers often run as root
            command.append("--allow-root")
        return command

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # A learner's kernel draws figures inline because ipykernel picks its inline backend
        # when MPLBACKEND is unset; a test process's "Agg" would make every plot silently
        # vanish from the page.
        env.pop("MPLBACKEND", None)
        for var, sub in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTER_DATA_DIR", "data"),
            ("IPYTHONDIR", "ipython"),
        ):
            env[var] = str(self.state_dir / sub)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until ``/api/status`` answers with the token."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child process writes it
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.root_dir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can end all of it
        )
        log.close()
        self._known_pids.add(self.process.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.process.returncode} while starting; "
                    f"its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            try:
                status = self.api("GET", "api/status", timeout=2)
            except (OSError, urllib.error.URLError):
                time.sleep(0.25)
                continue
            if "started" in status:
                return
        self.stop()
        raise TimeoutError(
            f"JupyterLab did not answer /api/status within {timeout:.0f} s; log:\n{self.log_tail()}"
        )

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """Call the server's REST API with the token; the decoded JSON answer (or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def descendant_pids(self) -> set[int]:
        """The server and every process it started that is alive now (kernels included)."""
        import psutil  # ipykernel depends on it, so it is in the course's environment

        if self.process is None:
            return set()
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return set()
        pids = {self.process.pid, *(c.pid for c in children)}
        self._known_pids |= pids
        return pids

    def kernel_for(self, notebook: str) -> dict[str, Any] | None:
        """The kernel model (id, execution_state, ...) of the session of ``notebook``, if any."""
        for session in self.api("GET", "api/sessions"):
            if session.get("path") == notebook and session.get("kernel"):
                return dict(session["kernel"])
        return None

    def shutdown_session(self, notebook: str) -> None:
        """Shut down ``notebook``'s session and kernel (as File > Close and Shut Down does)."""
        for session in self.api("GET", "api/sessions"):
            if session.get("path") == notebook:
                self.api("DELETE", f"api/sessions/{session['id']}")

    def stop(self, timeout: float = 20.0) -> list[int]:
        """Shut the server and its kernels down; return the pids still alive (should be [])."""
        import psutil

        if self.process is None:
            return []
        pids = self.descendant_pids() | self._known_pids
        if self.process.poll() is None:
            try:  # the clean way: the server stops its kernels, then exits
                self.api("POST", "api/shutdown", timeout=5)
            except (OSError, urllib.error.URLError):
                pass
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                self.process.wait(timeout=5)
        # Kernels run in sessions of their own: end those this server started, by pid.
        left = [p for p in alive_pids(pids) if p != self.process.pid]
        procs = []
        for pid in left:
            try:
                proc = psutil.Process(pid)
                proc.terminate()
                procs.append(proc)
            except psutil.NoSuchProcess:
                pass
        _, still = psutil.wait_procs(procs, timeout=5)
        for proc in still:
            proc.kill()
        psutil.wait_procs(still, timeout=5)
        return sorted(alive_pids(pids))


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid`` (just ``pid`` where there are none)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(os.getpgid(pid), sig)
        else:  # Windows: no process groups to signal
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def alive_pids(pids: Iterable[int]) -> set[int]:
    """Those of ``pids`` that are running (zombies, already dead, do not count)."""
    import psutil

    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def make_course_copy(dest: Path) -> Path:
    """A temporary copy of the course for the server: ``dest/notebooks`` (copied) beside
    symlinks to this checkout's ``utils`` and ``data_scripts``, so each notebook's setup cell
    imports this checkout's package (it looks one folder up). Returns ``dest/notebooks``."""
    notebooks = dest / "notebooks"
    shutil.copytree(
        REPO / "notebooks",
        notebooks,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "runs", "__pycache__"),
    )
    for package in ("utils", "data_scripts"):
        (dest / package).symlink_to(REPO / package, target_is_directory=True)
    return notebooks


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

#: Console errors that say nothing about the course. Each entry says why it is harmless.
BENIGN_CONSOLE_ERRORS = [
    # Chromium asks every site for /favicon.ico; JupyterLab serves its icon elsewhere.
    re.compile(r"favicon\.ico"),
]


class PageLog:
    """Records a page's uncaught errors (``pageerror``) and console errors."""

    def __init__(self, page: Any) -> None:
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = f"{message.text} ({message.location.get('url', '')})"
        if not any(pattern.search(text) for pattern in BENIGN_CONSOLE_ERRORS):
            self.console_errors.append(text)

    def assert_clean(self) -> None:
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not self.console_errors, f"errors in the browser console: {self.console_errors}"


def screenshot(page_or_locator: Any, name: str) -> Path:
    """Save a screenshot of a page (the viewport) or of one element to build/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page_or_locator.screenshot(path=str(path))
    return path


def run_menu(page: Any, menu: str, item: str) -> None:
    """Click ``menu`` in JupyterLab's menu bar, then its entry ``item`` (exact label)."""
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def prompts(page: Any) -> list[str]:
    """The execution prompts of the code cells: ``[3]:``, ``[*]:`` (running) or ``[ ]:``."""
    texts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").all_inner_texts()
    return [t.strip() for t in texts]


def error_outputs(page: Any) -> list[str]:
    """The text of every error output (a traceback) shown in the notebook."""
    stderr = page.locator(
        '.jp-NotebookPanel .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    ).all_inner_texts()
    # TensorFlow writes warnings to stderr too; an exception shows a traceback.
    return [t for t in stderr if "Traceback" in t or re.search(r"^\w+Error\b", t, re.M)]


def assert_no_error_outputs(page: Any, notebook: str) -> None:
    """No traceback in any output, and no output that is a widget shown as text."""
    errors = error_outputs(page)
    assert not errors, f"{notebook}: error output in the browser:\n" + "\n---\n".join(
        e[-2000:] for e in errors
    )
    assert_no_widget_as_text(page)


def assert_no_widget_as_text(page: Any) -> None:
    """No output shows a widget's text fallback (``VBox(children=...``, 'Loading widget...')."""
    texts = page.locator(".jp-OutputArea-output").all_inner_texts()
    as_text = [t[:200] for t in texts if WIDGET_TEXT_FALLBACK.search(t)]
    assert not as_text, (
        f"a widget is shown as text, not rendered (is @jupyter-widgets/jupyterlab-manager "
        f"missing or of the wrong version?): {as_text}"
    )


def assert_widget_rendered(
    page: Any, css: str, *, image: bool = True, timeout_s: float = 30
) -> Any:
    """Assert the widget with CSS class ``css`` is rendered as a live widget; return its locator.

    Rendered means: an element with that class is visible with a size, no output on the page
    is the widget's text fallback, and (``image=True``) it holds a loaded ``<img>`` with a
    non-empty ``src``. Raises AssertionError saying which of these failed.
    """
    assert_no_widget_as_text(page)
    widget = page.locator(f".{css}").first
    try:
        widget.wait_for(state="visible", timeout=timeout_s * 1000)
    except Exception as error:  # Playwright's TimeoutError: say it in the course's words
        raise AssertionError(
            f"widget .{css} is not rendered: no visible element with class {css!r} "
            f"after {timeout_s:.0f} s ({type(error).__name__})"
        ) from None
    box = widget.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0, f"widget .{css} has no size: {box}"
    if image:
        img = widget.locator("img").first
        assert img.count(), f"widget .{css} holds no <img>"
        try:
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0 && !!img.getAttribute('src')",
                arg=img.element_handle(),
                timeout=timeout_s * 1000,
            )
        except Exception as error:
            raise AssertionError(
                f"widget .{css} shows no picture: its <img> has src "
                f"{(img.get_attribute('src') or '')[:60]!r} and did not load in {timeout_s:.0f} s "
                f"({type(error).__name__})"
            ) from None
    return widget


def image_sources(page: Any, selector: str) -> list[dict[str, Any]]:
    """``src``, natural size and visibility of each ``<img>`` matching ``selector``."""
    return list(
        page.eval_on_selector_all(
            selector,
            """imgs => imgs.map(img => ({
                src: img.getAttribute('src') || '',
                width: img.naturalWidth,
                height: img.naturalHeight,
                complete: img.complete,
                shown: img.getClientRects().length > 0,
            }))""",
        )
    )


def fetch_image_bytes(page: Any, img: Any) -> bytes:
    """The bytes behind an ``<img>`` (a blob: or data: URL), read in the page."""
    data = page.evaluate(
        """async img => {
            const blob = await (await fetch(img.src)).blob();
            const buffer = new Uint8Array(await blob.arrayBuffer());
            let s = '';
            for (let i = 0; i < buffer.length; i += 8192) {
                s += String.fromCharCode(...buffer.subarray(i, i + 8192));
            }
            return btoa(s);
        }""",
        img.element_handle(),
    )
    import base64

    return base64.b64decode(data)


# --------------------------------------------------------------------------------------------
# Running several notebooks at once
# --------------------------------------------------------------------------------------------


class NotebookPlan:
    """What to run in one notebook: every cell, or the cells above ``stop_before``.

    Args:
        notebook: its path under the server's root, e.g. ``00_setup_and_data_tour.ipynb``.
        cells: the notebook's cells (``nbformat`` cells), to count the code cells that must run.
        stop_before: index of the first cell *not* to run (``Run All Above Selected Cell``);
            None runs all cells (``Run All Cells``).
        keep_open: keep the page and kernel after the run, for a test to interact with.
    """

    def __init__(
        self,
        notebook: str,
        cells: list[Any],
        stop_before: int | None = None,
        *,
        keep_open: bool = False,
    ) -> None:
        if stop_before is not None and not 0 < stop_before <= len(cells):
            raise ValueError(f"{notebook}: stop_before={stop_before}; it has {len(cells)} cells")
        self.notebook = notebook
        self.stop_before = None if stop_before == len(cells) else stop_before
        ran = cells if self.stop_before is None else cells[: self.stop_before]
        self.expected = sum(c.cell_type == "code" for c in ran)
        self.keep_open = keep_open

    @property
    def stem(self) -> str:
        return Path(self.notebook).stem


class NotebookRun:
    """The state of one notebook's run in the browser (see :class:`NotebookRunner`)."""

    def __init__(self, plan: NotebookPlan) -> None:
        self.plan = plan
        self.page: Any = None
        self.log: PageLog | None = None
        self.state = "queued"  # -> opening -> running -> done | failed (-> closed)
        self.error: str | None = None
        self.open_seconds = 0.0  # page load until the kernel is idle
        self.run_seconds = 0.0  # Run until the kernel is idle again
        self.prompts: list[str] = []
        self.error_texts: list[str] = []  # tracebacks shown when the run ended
        self._t0 = 0.0
        self._quiet = 0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "closed")

    def check(self) -> None:
        """Fail (AssertionError) unless every planned code cell ran and no error showed."""
        name = self.plan.notebook
        assert self.error is None, f"{name}: {self.error}"
        ran = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in self.prompts)
        assert ran >= self.plan.expected, (
            f"{name}: {ran} of the {self.plan.expected} code cells ran; prompts {self.prompts}"
        )


class NotebookRunner:
    """Opens each planned notebook in a page of its own and runs it, a few kernels at a time.

    On a 2-core machine most of a notebook's time is its kernel importing TensorFlow; running
    ``max_kernels`` notebooks side by side overlaps that waiting. Playwright's sync API drives
    all pages from this one thread: :meth:`poll` advances every run one step, :meth:`wait`
    polls until one notebook is finished.
    """

    def __init__(
        self,
        server: JupyterLabServer,
        browser: Any,
        planner: Callable[[str], NotebookPlan],
        notebooks: Iterable[str] = (),
        *,
        max_kernels: int = 5,
        open_timeout_s: float = 240,
        run_timeout_s: float = 360,
    ) -> None:
        """``planner(notebook)`` says how far to run a notebook; ``notebooks`` are queued now,
        in this order (others are queued when a test first waits for them)."""
        self.server = server
        self.browser = browser
        self.planner = planner
        self.runs: dict[str, NotebookRun] = {}
        for notebook in notebooks:
            self.runs[notebook] = NotebookRun(planner(notebook))
        self.max_kernels = max_kernels
        self.open_timeout_s = open_timeout_s
        self.run_timeout_s = run_timeout_s

    def poll(self) -> None:
        """Advance every run by one step and start queued ones while kernels are free."""
        for run in self.runs.values():
            if run.state in ("opening", "running"):
                try:
                    self._advance(run)
                except Exception as error:  # one broken notebook must not stop the others
                    self._fail(run, f"{type(error).__name__}: {error}")
        busy = sum(r.state in ("opening", "running") for r in self.runs.values())
        for run in self.runs.values():
            if busy >= self.max_kernels:
                break
            if run.state == "queued":
                try:
                    self._open(run)
                    busy += 1
                except Exception as error:
                    self._fail(run, f"could not open the page: {type(error).__name__}: {error}")

    def wait(self, notebook: str) -> NotebookRun:
        """Poll until ``notebook`` has finished its run; return it (check it with ``.check()``)."""
        if notebook not in self.runs:
            self.runs[notebook] = NotebookRun(self.planner(notebook))
        run = self.runs[notebook]
        while not run.finished:
            self.poll()
            if not run.finished:
                time.sleep(0.5)
        return run

    def release(self, notebook: str) -> None:
        """Shut the notebook's kernel down and close its page."""
        run = self.runs[notebook]
        if run.page is not None:
            try:
                self.server.shutdown_session(run.plan.notebook)
            except (OSError, urllib.error.URLError):
                pass  # the server is going away anyway; stop() ends what is left
            run.page.context.close()
            run.page = None
        if run.state != "queued":
            run.state = "closed" if run.state == "done" else run.state

    def close(self) -> None:
        for notebook in self.runs:
            self.release(notebook)

    # -- the steps ---------------------------------------------------------------------------

    def _open(self, run: NotebookRun) -> None:
        # A browser context (own storage) per page: JupyterLab pages opened at the same moment
        # in one context race for a window name ('Window name candidate "null" already
        # exists', an uncaught error). A learner opens one JupyterLab at a time.
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        run.page = context.new_page()
        run.log = PageLog(run.page)
        run.state = "opening"
        run._t0 = time.monotonic()
        workspace = re.sub(r"\W", "-", run.plan.stem)
        # A workspace per notebook: JupyterLab must not restore (and start kernels for) the
        # notebooks other pages opened.
        url = self.server.url(f"lab/workspaces/{workspace}/tree/{run.plan.notebook}", reset="")
        run.page.goto(url, wait_until="commit")  # don't wait here: poll() sees when it is ready

    def _advance(self, run: NotebookRun) -> None:
        page = run.page
        elapsed = time.monotonic() - run._t0
        if run.state == "opening":
            if kernel_ready(page):
                run.open_seconds = elapsed
                screenshot(page, f"{run.plan.stem}_1_opened")
                self._start_run(run)
            elif elapsed > self.open_timeout_s:
                self._fail(run, f"the Python 3 kernel was not idle {elapsed:.0f} s after opening")
            return
        # running
        kernel = self.server.kernel_for(run.plan.notebook)
        shown = prompts(page)
        busy = kernel is None or kernel.get("execution_state") != "idle" or "[*]:" in shown
        run._quiet = 0 if busy else run._quiet + 1
        ran = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in shown)
        # Two idle polls in a row: a queued cell starts a moment after the previous one ends.
        # JupyterLab clears the queue when a cell fails, so an error output also ends the run.
        if run._quiet >= 2 and (ran >= run.plan.expected or error_outputs(page)):
            run.run_seconds = elapsed
            run.prompts = shown
            run.error_texts = error_outputs(page)
            run.state = "done"
            last = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(max(0, ran - 1))
            last.scroll_into_view_if_needed()
            screenshot(page, f"{run.plan.stem}_2_ran")
            if not run.plan.keep_open:
                self.release(run.plan.notebook)
        elif elapsed > self.run_timeout_s:
            self._fail(run, f"still running after {elapsed:.0f} s; prompts {shown}")

    def _start_run(self, run: NotebookRun) -> None:
        page = run.page
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        if run.plan.stop_before is None:
            cells.first.locator(".jp-InputPrompt").first.click()  # make the notebook current
            run_menu(page, "Run", "Run All Cells")
        else:
            cells.nth(run.plan.stop_before).locator(".jp-InputPrompt").first.click()
            run_menu(page, "Run", "Run All Above Selected Cell")
        run.state = "running"
        run._t0 = time.monotonic()

    def _fail(self, run: NotebookRun, message: str) -> None:
        run.error = message
        run.state = "failed"
        if run.page is not None:
            try:
                run.prompts = prompts(run.page)
                screenshot(run.page, f"{run.plan.stem}_9_failed")
            except Exception:  # the page may be gone; the message says enough
                pass


def kernel_ready(page: Any) -> bool:
    """True once the notebook shows the Python 3 kernel, idle. Accepts the kernel dialog."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        return _kernel_ready(page)
    except PlaywrightError:  # the page is still loading (its document is being replaced)
        return False


def _kernel_ready(page: Any) -> bool:
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and dialog.first.is_visible():
        # "Select Kernel": the default choice is the notebook's own kernel (Python 3).
        dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()
        return False
    kernel = page.locator(".jp-NotebookPanel-toolbar .jp-KernelName")
    status = page.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator")
    return bool(
        kernel.count()
        and "Python 3" in kernel.first.inner_text()
        and status.count()
        and status.first.get_attribute("data-status") == "idle"
    )
