"""Training helpers shared by the notebooks: save-and-restore check, callbacks, ``lr_find``."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np


def check_save_restore(
    model: keras.Model,
    sample_x: np.ndarray,
    path: str | Path,
    *,
    atol: float = 1e-6,
) -> keras.Model:
    """Save ``model`` to ``path`` (``.keras``), load it back in safe mode, and compare predictions.

    Run this *before* a long training: a model that does not restore identically (a custom
    layer without ``get_config``, a lambda, an unregistered object) fails here in seconds
    instead of after hours. Returns the restored model; raises ``AssertionError`` on mismatch.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path={str(path)!r}: expected a file name ending in '.keras'")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    before = np.asarray(model.predict(sample_x, verbose=0))
    after = np.asarray(restored.predict(sample_x, verbose=0))
    if before.shape != after.shape or not np.allclose(before, after, atol=atol):
        worst = float(np.max(np.abs(before - after))) if before.shape == after.shape else np.nan
        raise AssertionError(
            f"{path}: the restored model predicts differently (max abs difference {worst:.3g}); "
            "check custom layers have get_config() and are registered."
        )
    return restored
