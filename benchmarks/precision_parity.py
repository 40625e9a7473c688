"""Benchmark: does mixed bfloat16 train the shipped emotion network as well as float32 does?

    python -m benchmarks.precision_parity --data FER2013_ZIP        # 8,000 faces, 8 epochs each
    python -m benchmarks.precision_parity --data sample --limit 256 --epochs 1   # a smoke run

It trains the shipped recipe (``python -m utils.train_fer --preset shipped``, a schedule
shortened to ``--epochs``) twice, on the same faces with the same seed: once in float32, once
in mixed bfloat16. Then it re-estimates each final model's batch-norm statistics on the
training faces (:func:`utils.transfer.recalibrate_batch_norm`): after a short run the running
averages still lag behind the weights, and that noise would swamp any difference between the
precisions. It prints, side by side, the training accuracy after each epoch, the validation
and test accuracy, and the seconds each run's epochs took. Nothing is asserted: read the
numbers. The two runs go one after the other, so on a shared machine their seconds are only
a rough ratio (``python -m benchmarks.train_speed`` interleaves its speed measurements).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

PRECISIONS = ("fp32", "bf16")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", required=True, help="a FER-2013 file or folder, or 'sample'")
    parser.add_argument("--limit", type=int, default=8000, help="training faces per run")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per run")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    args = parser.parse_args(argv)

    from utils.setup import quiet_tensorflow

    quiet_tensorflow()
    import csv

    import keras

    from utils import train_fer
    from utils.runs import read_state
    from utils.splits import fer_splits_of_run
    from utils.transfer import recalibrate_batch_norm

    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for precision in PRECISIONS:
            out = Path(scratch) / precision
            command = [
                "--preset", "shipped", "--data", args.data, "--out", str(out),
                "--epochs", str(args.epochs), "--limit", str(args.limit),
                "--val-fraction", str(args.val_fraction), "--precision", precision, "--no-ship",
            ]  # fmt: skip
            if train_fer.main(command) != 0:
                return 1
            state = read_state(out)
            splits = fer_splits_of_run(state)
            model = keras.models.load_model(out / "last.keras", safe_mode=True, compile=False)
            recalibrate_batch_norm(model, splits.train[0])
            with (out / "log.csv").open(encoding="utf-8") as fh:
                curve = [float(row["accuracy"]) for row in csv.DictReader(fh)]
            rows[precision] = {"train": curve, "seconds": float(state["train_seconds"])}
            for name, (x, y) in (("validation", splits.val), ("test", splits.test)):
                predicted = model.predict(x, batch_size=256, verbose=0).argmax(axis=1)
                rows[precision][name] = float((predicted == y).mean())

    print(f"\n{args.limit} training faces, {args.epochs} epochs, same seed, shipped recipe")
    print(f"{'':<40}" + "".join(f"{p:>10}" for p in PRECISIONS))
    for epoch in range(args.epochs):
        values = "".join(f"{rows[p]['train'][epoch]:>10.3f}" for p in PRECISIONS)  # type: ignore[index]
        print(f"{f'training accuracy, epoch {epoch + 1}':<40}{values}")
    for name in ("validation", "test"):
        values = "".join(f"{rows[p][name]:>10.3f}" for p in PRECISIONS)
        print(f"{name + ' accuracy (BN re-estimated)':<40}{values}")
    seconds = "".join(f"{rows[p]['seconds']:>10.0f}" for p in PRECISIONS)
    print(f"{'seconds (training epochs)':<40}{seconds}")
    ratio = float(rows["fp32"]["seconds"]) / max(float(rows["bf16"]["seconds"]), 1e-9)  # type: ignore[arg-type]
    print(f"bf16 took {1 / ratio:.2f}x the time of fp32 ({ratio:.2f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
