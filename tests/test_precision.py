"""utils.precision: choosing float32 or mixed bfloat16, and models that stay float32 where it matters."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from utils import precision
from utils.models import fer_vgg, keypoint_heatmap, keypoint_vgg
from utils.runs import strip_optimizer


@pytest.fixture(autouse=True)
def _float32_after() -> object:
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision.platform, "system", lambda: "Linux")
    with_bf16 = tmp_path / "yes"
    with_bf16.write_text("processor : 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx\n")
    without = tmp_path / "no"
    without.write_text("processor : 0\nflags\t\t: fpu sse avx512f avx512_bf16x\n")
    assert precision.cpu_has_bf16(with_bf16)
    assert not precision.cpu_has_bf16(without)  # a flag is a whole word, not a prefix
    assert not precision.cpu_has_bf16(tmp_path / "missing")


def test_resolve_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    assert precision.resolve_precision("fp32") == "fp32"
    assert precision.resolve_precision("bf16") == "bf16"
    monkeypatch.setattr(precision, "gpu_has_bf16", lambda: False)
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    assert precision.resolve_precision("auto") == "bf16"
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    assert precision.resolve_precision("auto") == "fp32"
    with pytest.raises(ValueError, match="precision='fp16': expected one of"):
        precision.resolve_precision("fp16")


@pytest.mark.parametrize(
    "build",
    [fer_vgg, keypoint_vgg, keypoint_heatmap],
    ids=["fer_vgg", "keypoint_vgg", "keypoint_heatmap"],
)
def test_bf16_models_compute_in_bf16_but_output_float32(build: object) -> None:
    assert precision.set_precision("bf16") == "bf16"
    model = build()  # type: ignore[operator]
    assert model.layers[1].compute_dtype == "bfloat16"
    assert model.output.dtype == "float32"
    x = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype=np.float32)
    assert np.asarray(model(x)).dtype == np.float32
    # What is shipped computes in float32 everywhere, with the same weights.
    plain = strip_optimizer(model)
    assert {layer.compute_dtype for layer in plain.layers} == {"float32"}
    for a, b in zip(model.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    close = np.abs(np.asarray(model(x)) - np.asarray(plain(x))).max()
    scale = np.abs(np.asarray(plain(x))).max()
    assert close <= 0.05 * scale + 1e-3  # bfloat16 rounding only


def test_keypoint_outputs_keep_subpixel_precision_under_bf16() -> None:
    """bfloat16 has 8 bits of mantissa: near 96 px it could only say 95.5 or 96.0."""
    precision.set_precision("bf16")
    model = keypoint_vgg(widths=(4,), dense=8)
    assert model.get_layer("keypoints_px").compute_dtype == "float32"
    assert model.get_layer("keypoints_scaled").compute_dtype == "float32"
    # The heatmap network's maps, softmax and grid of cell centres compute in float32 too.
    heatmap = keypoint_heatmap(widths=(4, 4, 4, 4), stem=4)
    for name in ("heatmap_logits", "heatmaps", "cell_centres", "keypoints_px"):
        assert heatmap.get_layer(name).compute_dtype == "float32", name
