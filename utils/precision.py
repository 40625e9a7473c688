"""Numeric precision for training: float32, or mixed bfloat16 where the hardware is fast at it.

``mixed_bfloat16`` keeps the weights in float32 but computes convolutions and matrix products
in bfloat16 (8 exponent bits like float32, so no loss scaling is needed). CPUs with the
``avx512_bf16`` instructions (recent AMD EPYC/Ryzen, Intel Sapphire Rapids and later) and
recent GPUs run it about twice as fast as float32; elsewhere it is slower, so ``"auto"`` only
picks it where the hardware supports it. Measure both on your machine:
``python -m benchmarks.train_speed``.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from pathlib import Path

PRECISIONS = ("auto", "bf16", "fp32")
_POLICIES = {"bf16": "mixed_bfloat16", "fp32": "float32"}


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU advertises the AVX512_BF16 instructions (Linux; False elsewhere)."""
    if platform.system() != "Linux":
        return False
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(
        line.startswith("flags") and "avx512_bf16" in line.split() for line in text.splitlines()
    )


def gpu_has_bf16() -> bool:
    """Whether the backend sees a GPU that computes bfloat16 natively (Ampere or newer)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            major = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0,))
            if major[0] >= 8:
                return True
    return False


def resolve_precision(precision: str = "auto") -> str:
    """``"bf16"`` or ``"fp32"``: ``"auto"`` picks bf16 where the CPU or a GPU is fast at it."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: expected one of {PRECISIONS}")
    if precision != "auto":
        return precision
    return "bf16" if gpu_has_bf16() or cpu_has_bf16() else "fp32"


def set_precision(precision: str = "auto") -> str:
    """Set Keras' global dtype policy for the models built afterwards; returns bf16 or fp32.

    Build a model's output layer with ``dtype="float32"`` so its softmax or regression output
    stays in float32 (the course's builders do).
    """
    import keras

    chosen = resolve_precision(precision)
    keras.mixed_precision.set_global_policy(_POLICIES[chosen])
    return chosen


@contextlib.contextmanager
def precision_scope(precision: str = "auto") -> Iterator[str]:
    """``with precision_scope("auto") as chosen:`` -- :func:`set_precision`, undone afterwards.

    Models built inside the block use the chosen policy (and keep it when saved); the global
    policy is restored when the block ends, so code that runs later is not affected.
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    try:
        yield set_precision(precision)
    finally:
        keras.mixed_precision.set_global_policy(previous)
