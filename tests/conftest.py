"""Shared fixtures: the sample data (generated once per session) and the real data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Quiet TensorFlow's C++ logging and keep CPU runs deterministic before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The bundled sample data folder (``data/sample``), generated on first use."""
    from utils.config import ensure_sample_data

    return ensure_sample_data(quiet=True)


def shared_data_dir() -> Path | None:
    """The read-only real data beside the checkout (``../shared/data``), if present.

    ``$FACE_DL_SHARED`` overrides the location. Tests that need it skip when this is None.
    """
    root = Path(__file__).resolve().parent.parent
    env = os.environ.get("FACE_DL_SHARED")
    candidates = [Path(env).expanduser()] if env else []
    candidates.append(root.parent / "shared" / "data")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (the real data sets); the test is skipped when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("real data not found (../shared/data or $FACE_DL_SHARED)")
    return path
