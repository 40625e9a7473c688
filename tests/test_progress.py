"""utils.progress: tqdm bars drawn only where someone watches (a terminal or Jupyter)."""

from __future__ import annotations

import io
import sys
import types

import pytest

from utils.progress import progress, watching


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_watching_a_terminal_but_not_a_pipe_or_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not watching()
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert watching()


def test_watching_in_a_jupyter_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    ZMQInteractiveShell = type("ZMQInteractiveShell", (), {})  # noqa: N806 -- IPython's name
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: ZMQInteractiveShell()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert watching()
    fake.get_ipython = lambda: None  # type: ignore[attr-defined]  # IPython imported, no kernel
    assert not watching()


def test_progress_draws_with_eta_in_a_terminal_and_nothing_when_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert list(progress(range(3), desc="faces", unit="face")) == [0, 1, 2]
    drawn = terminal.getvalue()
    assert "faces" in drawn and "3/3" in drawn and "face/s" in drawn
    quiet = progress(range(3), quiet=True)
    assert quiet.disable and list(quiet) == [0, 1, 2]
    before = len(terminal.getvalue())
    with progress(total=5, quiet=True) as bar:
        bar.update(5)
    assert len(terminal.getvalue()) == before  # nothing drawn
