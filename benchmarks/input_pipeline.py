"""Benchmark: can the input pipeline keep the model fed?

Both pipelines start from the same FER-2013 JPEG files on disk (``train/<emotion>/*.jpg``,
Kaggle's ``msambare/fer2013`` layout, which the sample data shares) and produce the same
augmented float32 batches (flip, rotation, zoom, shift, contrast). Measured side by side in
one run, in images per second:

* (a) a plain Python generator -- a single-worker ``keras.utils.PyDataset`` that reads and
  decodes every JPEG with OpenCV and augments it, one image at a time, every epoch
  (``utils.pipelines.FileAugmentDataset``);
* (b) the ``tf.data`` pipeline (``utils.pipelines.file_dataset``): parallel decoding,
  ``cache`` of the decoded images, shuffle, batch, augmentation of whole batches in a
  parallel map, prefetch -- twice: with TensorFlow's warp op (``tf_augment``), and with
  OpenCV's warp inside the map (``backend="opencv"``, through ``tf.numpy_function``);
  with ``--keras_layers`` also with Keras' preprocessing layers;
* (c) the model's own training step on in-memory tensors (``utils.models.fer_cnn``).

Each contender runs one warm-up epoch (tf.data fills its cache; the first-epoch numbers are
printed too), then ``--repeats`` epochs taking turns; the median is reported, with ratios.

    python -m benchmarks.input_pipeline                 # sample data, defaults, ~1 minute
    python -m benchmarks.input_pipeline --data ../shared/data/fer2013/fer2013_train_publictest.zip
    python -m benchmarks.input_pipeline --serial        # what the parallel map buys
    python -m benchmarks.input_pipeline --keras_layers  # Keras' preprocessing layers instead

A zip (the real data) is extracted to a temporary folder first, which is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.input_pipeline",
        description="images/s of a Python generator and tf.data reading JPEGs, and of the "
        "training step",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data",
        default="sample",
        help="'sample', 'kaggle', or a FER-2013 folder (train/<emotion>/*.jpg) or its zip",
    )
    parser.add_argument("--images", type=int, default=2000, help="training images (files) to use")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per contender")
    parser.add_argument("--train_steps", type=int, default=4, help="training steps per run")
    parser.add_argument("--keras_layers", action="store_true", help="also time Keras' layers")
    parser.add_argument("--no_model", action="store_true", help="skip the training step")
    parser.add_argument(
        "--serial", action="store_true", help="tf.data maps on one core (num_parallel_calls=None)"
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    from utils.setup import quiet_tensorflow

    quiet_tensorflow()  # before anything loads it: no C++ start-up lines
    for name in ("images", "batch_size", "repeats", "train_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)}: expected a positive number")

    from utils.config import resolve_data
    from utils.environment import report_environment
    from utils.seeding import set_seed

    report_environment()
    set_seed(args.seed)
    path = resolve_data(args.data, "fer2013")
    from utils.pipelines import fer_jpeg_folder

    # The real data ships as a zip: the benchmark needs files on disk, so extract it first.
    with tempfile.TemporaryDirectory(prefix="fer2013_") as tmp:
        if path.is_file():
            print(f"extracting {path} to {tmp} ...", flush=True)
        return _run(args, fer_jpeg_folder(path, tmp))


def _run(args: argparse.Namespace, folder: Path) -> int:
    import keras

    from utils.augmentation import AugmentConfig
    from utils.models import fer_cnn
    from utils.pipelines import AUTOTUNE, list_fer_images
    from utils.throughput import measure_throughput

    files, labels = list_fer_images(folder, limit=args.images, seed=args.seed)
    model = None
    if not args.no_model:
        # The small batch-norm emotion CNN of notebooks 03, 05 and 06.
        model = fer_cnn((16, 32, 64), 64, batch_norm=True, input_bn=True, dropout=0.3)
        model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    config = AugmentConfig()
    print(f"{len(files)} JPEG files from {folder} ({args.data}); augmentation: {config}")
    print(f"CPU cores visible: {os.cpu_count()}; load average before: {_load()}", flush=True)
    result = measure_throughput(
        files,
        labels,
        model=model,
        augment=config,
        batch_size=args.batch_size,
        repeats=args.repeats,
        seed=args.seed,
        keras_layers=args.keras_layers,
        train_steps=args.train_steps,
        num_parallel_calls=None if args.serial else AUTOTUNE,
    )
    print(result.report())
    med = result.median()
    for name in med:
        if name.startswith("tf.data"):
            print(
                f"{name} / python generator: x{result.ratio(name, 'python generator'):.2f} "
                f"(medians), x{result.best_ratio(name, 'python generator'):.2f} (best runs)"
            )
    if "training step" in med:
        print(
            f"training step / python generator: x{result.ratio('training step', 'python generator'):.2f}"
        )
        print(f"training step / tf.data: x{result.ratio('training step', 'tf.data'):.2f}")
        for name in med:
            if name != "training step":
                share = min(1.0, med[name] / med["training step"])
                print(f"  {name} alone could keep the training step busy {share:.0%} of the time")
    print(f"load average after: {_load()}")
    return 0


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
