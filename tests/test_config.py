"""utils.config: resolving DATA, the data folders, generating the sample data on first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from utils import config


def test_data_root_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACE_DL_DATA", str(tmp_path))
    assert config.data_root() == tmp_path
    assert config.sample_dir() == tmp_path / "sample"
    assert config.kaggle_dir() == tmp_path / "kaggle"


def test_resolve_data_path_and_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACE_DL_DATA", str(tmp_path))
    given = tmp_path / "training.csv"
    given.write_text("x\n")
    assert config.resolve_data(str(given), "keypoints") == given
    with pytest.raises(FileNotFoundError, match="no such file"):
        config.resolve_data(str(tmp_path / "missing.csv"), "keypoints")
    with pytest.raises(FileNotFoundError, match="data_scripts.download fer2013"):
        config.resolve_data("kaggle", "fer2013")
    with pytest.raises(ValueError, match="dataset='faces'"):
        config.resolve_data("sample", "faces")  # type: ignore[arg-type]


def test_resolve_sample(sample_data: Path) -> None:
    for dataset, folder in config.DATASET_DIRS.items():
        path = config.resolve_data("sample", dataset)  # type: ignore[arg-type]
        assert path == sample_data / folder and path.is_dir()
        # A path to a folder laid out like data/sample resolves to the data set inside it.
        assert config.resolve_data(str(sample_data), dataset) == path  # type: ignore[arg-type]


def test_two_callers_at_once_get_the_sample_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two notebooks (or test workers) starting together: one generates, the other waits.

    Goes through the real generator (tiny scale) and its lock, so a second lock taken around
    it -- which once deadlocked the parallel test run -- would hang here and fail the test.
    """
    import threading
    import time

    from utils import sample_data

    real_generate = sample_data.generate
    writes: list[Path] = []

    def tiny_generate(path: Path, **kwargs: object) -> Path:
        writes.append(path)
        return real_generate(path, scale=0.02)

    monkeypatch.setattr(sample_data, "generate", tiny_generate)
    monkeypatch.setattr(
        sample_data, "is_complete", lambda path, **_: (Path(path) / "manifest.json").exists()
    )
    out = tmp_path / "sample"
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(config.ensure_sample_data(out, quiet=True)), daemon=True
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 90  # tiny data: a few seconds when nothing is stuck
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
    assert not any(t.is_alive() for t in threads), "a caller is stuck waiting (deadlock)"
    assert results == [out, out]
    assert (out / "manifest.json").exists()
