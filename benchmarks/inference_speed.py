"""Benchmark: the public prediction calls for one face and for many, three ways side by side.

    python -m benchmarks.inference_speed
    python -m benchmarks.inference_speed --repeats 30

For each shipped model (``utils.inference``) and batch sizes 1, 8, 64 and 1024 it times

* ``model.predict(x)`` -- Keras' data pipeline, built again on every call;
* ``model(x, training=False)`` -- an eager call, run layer by layer from Python;
* ``utils.inference.predict_emotions`` / ``predict_keypoints`` -- the public calls, which
  run one compiled ``tf.function`` (:class:`utils.inference.CompiledModel`) and include
  the uint8 checks and scaling.

The three are measured in interleaved rounds and the median per call is printed in
milliseconds, with the ratio to ``model.predict``. Nothing is asserted: read the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

BATCHES = (1, 8, 64, 1024)


def _ms(call: Callable[[], Any], repeats: int) -> float:
    call()  # warm-up (tracing, first allocation)
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args(argv)
    from utils.setup import quiet_tensorflow

    quiet_tensorflow()  # before anything loads it: no C++ start-up lines
    import numpy as np

    from utils import inference

    rng = np.random.default_rng(0)
    models = {
        "emotion": (inference.load_emotion_model(), inference.predict_emotions, 48),
        "keypoints": (inference.load_keypoint_model(), inference.predict_keypoints, 96),
    }
    for name, (model, public, size) in models.items():
        print(f"\n{name} model: milliseconds per call (median of {args.rounds} rounds)")
        print(f"{'faces':>6} {'predict':>9} {'eager':>9} {'public':>9} {'public vs predict':>18}")
        for n in BATCHES:
            faces = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
            x = faces[..., None].astype(np.float32) / 255
            repeats = max(2, args.repeats // max(1, n // 64))
            calls = {
                "predict": lambda x=x, m=model: m.predict(x, verbose=0, batch_size=256),
                "eager": lambda x=x, m=model: m(x, training=False),
                "public": lambda faces=faces, p=public: p(faces),
            }
            times: dict[str, list[float]] = {k: [] for k in calls}
            for _ in range(args.rounds):
                for key, call in calls.items():
                    times[key].append(_ms(call, repeats))
            med = {k: statistics.median(v) for k, v in times.items()}
            print(
                f"{n:>6} {med['predict']:>9.1f} {med['eager']:>9.1f} {med['public']:>9.1f} "
                f"{med['predict'] / med['public']:>17.1f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
