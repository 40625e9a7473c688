"""utils.cache: ``.npz`` caches keyed on the file, written atomically and without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.cache import load_cached, serialize


def test_load_cached_parses_once_and_notices_changes(tmp_path: Path) -> None:
    csv = tmp_path / "table.csv"
    csv.write_text("a\n1\n2\n")
    calls = []

    def loader(path: Path) -> dict[str, np.ndarray]:
        calls.append(path)
        return {"a": pd.read_csv(path)["a"].to_numpy()}

    first = load_cached(csv, loader, cache_dir=tmp_path / "cache")
    second = load_cached(csv, loader, cache_dir=tmp_path / "cache")
    assert len(calls) == 1
    np.testing.assert_array_equal(first["a"], second["a"])
    assert set(second) == {"a"}
    csv.write_text("a\n1\n2\n3\n")  # a different size: the cache must be rebuilt
    third = load_cached(csv, loader, cache_dir=tmp_path / "cache")
    assert len(calls) == 2 and third["a"].tolist() == [1, 2, 3]
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1  # replaced, not accumulated


def test_load_cached_rebuilds_a_damaged_cache(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("a\n5\n")
    calls = []

    def loader(path: Path) -> dict[str, np.ndarray]:
        calls.append(1)
        return {"a": np.array([5])}

    load_cached(csv, loader, cache_dir=tmp_path)
    for cache in tmp_path.glob("*.npz"):
        cache.write_bytes(b"garbage")
    assert load_cached(csv, loader, cache_dir=tmp_path)["a"].tolist() == [5]
    assert len(calls) == 2


def test_serialize_is_atomic_and_refuses_objects(tmp_path: Path) -> None:
    path = serialize(tmp_path / "a.npz", x=np.arange(3), names=np.array(["a", "bc"], dtype=object))
    with np.load(path, allow_pickle=False) as npz:
        assert npz["names"].tolist() == ["a", "bc"]
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no temp file left behind
    with pytest.raises(ValueError, match=r"'bad' holds Python objects"):
        serialize(tmp_path / "b.npz", bad=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"\.npz"):
        serialize(tmp_path / "c.pkl", x=np.arange(2))


def test_load_cached_defaults_to_the_data_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACE_DL_DATA", str(tmp_path / "data"))
    csv = tmp_path / "t.csv"
    csv.write_text("a\n5\n")
    assert load_cached(csv, lambda path: {"a": np.array([5])})["a"].tolist() == [5]
    assert len(list((tmp_path / "data" / "cache").glob("t-*.npz"))) == 1
