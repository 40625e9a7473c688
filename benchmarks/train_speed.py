"""Benchmark: training speed of the two shipped networks in float32 and in mixed bfloat16.

    python -m benchmarks.train_speed                 # both networks, 3 rounds
    python -m benchmarks.train_speed --rounds 5 --steps 8

For each network (the emotion ``fer_vgg`` at batch 128, the keypoint ``keypoint_heatmap`` at
batch 32, and the dense-head ``keypoint_vgg`` it replaced, at batch 64) and each setting -- float32 or ``mixed_bfloat16``, with and without XLA
(``jit_compile``) -- it times training steps on random inputs (the speed does not depend on
the pixels) and prints images per second. The settings are measured in interleaved rounds
(A B C D, A B C D, ...) and the median is reported, so a busy machine slows them all alike;
the ratio to float32 without XLA is the number to read. Nothing is asserted.

CPUs with AVX512_BF16 (recent AMD EPYC/Ryzen, Intel Sapphire Rapids) compute bfloat16 about
twice as fast as float32; elsewhere bfloat16 is *slower*, which is why ``--precision auto``
(``utils.precision``) only picks it where the hardware has it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

SETTINGS = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]


def _networks() -> dict[str, tuple[Callable[[], Any], tuple[int, ...], int, str]]:
    from utils.models import fer_vgg, keypoint_heatmap, keypoint_vgg

    return {
        "emotion fer_vgg (1.18 M)": (fer_vgg, (48, 48, 1), 128, "categorical_crossentropy"),
        "keypoints keypoint_heatmap (0.99 M)": (keypoint_heatmap, (96, 96, 1), 32, "mse"),
        "keypoints keypoint_vgg (1.47 M)": (keypoint_vgg, (96, 96, 1), 64, "mse"),
    }


def _compiled(build: Callable[[], Any], loss: str, precision: str, jit: bool) -> Any:
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    try:
        model = build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=loss, jit_compile=jit)
    return model


def images_per_second(model: Any, x: Any, y: Any, steps: int) -> float:
    """Images/s over ``steps`` training steps (after the compiling first call)."""
    batch = len(x)
    model.train_on_batch(x, y)  # traces and compiles
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per setting")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per measurement")
    args = parser.parse_args(argv)
    from utils.setup import quiet_tensorflow

    quiet_tensorflow()  # before anything loads it: no C++ start-up lines
    import numpy as np

    from utils.precision import cpu_has_bf16

    print(f"AVX512_BF16 on this CPU: {cpu_has_bf16()}; {os.cpu_count()} cores")
    rng = np.random.default_rng(0)
    for name, (build, shape, batch, loss) in _networks().items():
        x = rng.random((batch, *shape), dtype=np.float32)
        outputs = 7 if loss.startswith("categorical") else 30
        y = np.eye(outputs, dtype=np.float32)[rng.integers(0, outputs, batch)]
        if outputs == 30:
            y = rng.uniform(20, 76, (batch, 30)).astype(np.float32)
        models = {s: _compiled(build, loss, *s) for s in SETTINGS}
        rates: dict[tuple[str, bool], list[float]] = {s: [] for s in SETTINGS}
        for _ in range(args.rounds):
            for s in SETTINGS:
                rates[s].append(images_per_second(models[s], x, y, args.steps))
        base = statistics.median(rates[("fp32", False)])
        print(f"\n{name}, batch {batch} (median of {args.rounds} interleaved rounds)")
        print(f"{'setting':<22} {'img/s':>8} {'vs fp32':>8}   each round")
        for (precision, jit), values in rates.items():
            label = f"{precision}{' + XLA' if jit else ''}"
            median = statistics.median(values)
            each = ", ".join(f"{v:.0f}" for v in values)
            print(f"{label:<22} {median:>8.1f} {median / base:>7.2f}x   {each}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
