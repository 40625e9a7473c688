"""utils.clips: the face swap and the flickering expression clip of the real-time lesson."""

from __future__ import annotations

import numpy as np
import pytest

from utils.clips import expression_clip, swap_face


def _frames() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 100, (60, 80, 3), dtype=np.uint8)
    donor = rng.integers(150, 256, (50, 50, 3), dtype=np.uint8)
    return frame, donor


def test_swap_face_blends_the_donor_inside_the_box_only() -> None:
    frame, donor = _frames()
    out = swap_face(frame, (30, 20, 20, 20), donor, (15, 15, 20, 20), pad=0.25)
    assert out.dtype == np.uint8 and out.shape == frame.shape
    assert out[30, 40].mean() > 150  # the box's centre now shows the bright donor face
    untouched = np.ones(frame.shape[:2], bool)
    untouched[15:45, 25:55] = False  # the padded box
    np.testing.assert_array_equal(out[untouched], frame[untouched])
    with pytest.raises(ValueError, match="inside its image"):
        swap_face(frame, (70, 50, 20, 20), donor, (15, 15, 20, 20))
    with pytest.raises(ValueError, match="uint8"):
        swap_face(frame.astype(np.float32), (30, 20, 20, 20), donor, (15, 15, 20, 20))


def test_expression_clip_drifts_from_start_to_end_and_repeats_with_its_seed() -> None:
    start = np.zeros((8, 8), np.uint8)
    end = np.full((8, 8), 200, np.uint8)
    clip = expression_clip(start, end, n_frames=20, noise=0.0, seed=3)
    means = [f.mean() for f in clip]
    assert len(clip) == 20 and all(f.dtype == np.uint8 for f in clip)
    assert means[-1] > means[0]  # the expression changes over the clip ...
    assert any(b < a for a, b in zip(means, means[1:], strict=False))  # ... back and forth
    again = expression_clip(start, end, n_frames=20, noise=0.0, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(clip, again, strict=True))
    with pytest.raises(ValueError, match="same shape"):
        expression_clip(start, end[:4])
    with pytest.raises(ValueError, match="n_frames"):
        expression_clip(start, end, n_frames=1)
