"""Benchmark: how long ``model.fit`` sits idle after its last batch, with tf.data's autotuner
on and off, side by side.

    python -m benchmarks.fit_end_wait
    python -m benchmarks.fit_end_wait --seconds 90 --rounds 2

The resumable trainers (:func:`utils.runs.fit_resumable`) call ``model.fit`` once per epoch.
Each fit ends by destroying its data iterator, which waits for the autotuner's background
thread; that thread sleeps up to a minute between rounds. This benchmark runs one-epoch fits
of a tiny model over the emotion trainer's kind of pipeline (:func:`utils.pipelines.make_dataset`
with OpenCV warps, then one-hot labels), whose "training step" is a sleep, so an epoch lasts about ``--seconds`` while the
CPU stays free, and prints for each setting the epoch's time and the idle time between the
epoch's end and ``fit`` returning. The two settings alternate, in one process each round.
Nothing is asserted: read the numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any


def _one_fit(autotune: bool, seconds: float, images: Any, labels: Any) -> tuple[float, float]:
    """(epoch seconds, idle seconds after the epoch) of one one-epoch ``fit``."""
    import keras
    import tensorflow as tf

    from utils.augmentation import AugmentConfig
    from utils.pipelines import make_dataset, without_autotune

    batch = 128
    data = make_dataset(
        images, labels, augment=AugmentConfig(erase=0.5), backend="opencv", batch_size=batch
    ).map(lambda x, y: (x, tf.one_hot(y, 7)))  # as the emotion trainer's batches
    if not autotune:
        data = without_autotune(data)
    pause = seconds / -(-len(images) // batch)

    class Clock(keras.callbacks.Callback):
        """Stands in for a training step (a sleep) and notes when the epoch ends."""

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            time.sleep(pause)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.ended = time.perf_counter()

    model = keras.Sequential(
        [keras.Input(images.shape[1:]), keras.layers.Flatten(), keras.layers.Dense(7)]
    )
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    clock = Clock()
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0, callbacks=[clock], shuffle=False)
    return clock.ended - start, time.perf_counter() - clock.ended


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of one epoch")
    parser.add_argument("--rounds", type=int, default=2, help="fits per setting, alternating")
    parser.add_argument("--images", type=int, default=12_800, help="faces per epoch")
    args = parser.parse_args(argv)
    from utils.setup import quiet_tensorflow

    quiet_tensorflow()
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.random((args.images, 48, 48, 1), dtype=np.float32)
    labels = rng.integers(0, 7, args.images)
    print(f"one-epoch fits of about {args.seconds:.0f} s each, {args.images} faces")
    print(f"{'round':>5} {'autotuner':>10} {'epoch (s)':>10} {'idle after (s)':>15}")
    idle: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(1, args.rounds + 1):
        for autotune in (True, False):
            epoch, wait = _one_fit(autotune, args.seconds, images, labels)
            idle[autotune].append(wait)
            print(f"{round_:>5} {'on' if autotune else 'off':>10} {epoch:>10.1f} {wait:>15.1f}")
    on, off = (sum(idle[a]) / len(idle[a]) for a in (True, False))
    print(f"mean idle after the epoch: autotuner on {on:.1f} s, off {off:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
