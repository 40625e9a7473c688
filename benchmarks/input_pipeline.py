"""Benchmark: can the input pipeline keep the model fed?

Measures, side by side in one run, the images per second of

* (a) a plain Python generator -- a single-worker ``keras.utils.PyDataset`` augmenting one
  image at a time in NumPy/OpenCV (``utils.pipelines.NumpyAugmentDataset``);
* (b) the ``tf.data`` pipeline (``utils.pipelines.make_dataset``: parallel map, cache,
  prefetch) doing the same augmentation -- flip, rotation, zoom, shift, contrast -- on whole
  batches; and, with ``--keras_layers``, the same pipeline with Keras' preprocessing layers;
* (c) the model's own training step on in-memory tensors (``utils.models.fer_cnn``);

each timed ``--repeats`` times in turn; the median is reported, with the ratios.

    python -m benchmarks.input_pipeline                 # sample data, defaults
    python -m benchmarks.input_pipeline --data ../shared/data/fer2013/fer2013_train_publictest.zip
    python -m benchmarks.input_pipeline --flip_contrast_only   # no warps: what batching buys
    python -m benchmarks.input_pipeline --serial               # what the parallel map buys
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.input_pipeline",
        description="images/s of a Python generator, tf.data and the training step",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", default="sample", help="'sample', 'kaggle' or a FER-2013 path")
    parser.add_argument("--images", type=int, default=2000, help="training images to use")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--n_batches", type=int, default=40, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keras_layers", action="store_true", help="also time Keras' layers")
    parser.add_argument("--no_model", action="store_true", help="skip the training step")
    parser.add_argument(
        "--flip_contrast_only",
        action="store_true",
        help="only flip and contrast (no warps): the cheap, vectorizable augmentations",
    )
    parser.add_argument(
        "--serial", action="store_true", help="tf.data map on one core (num_parallel_calls=None)"
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    for name in ("images", "batch_size", "n_batches", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)}: expected a positive number")

    import keras

    from utils.config import report_environment, resolve_data, set_seed
    from utils.data import load_fer2013
    from utils.models import fer_cnn
    from utils.pipelines import AUTOTUNE, AugmentConfig, measure_throughput

    report_environment()
    set_seed(args.seed)
    fer = load_fer2013(resolve_data(args.data, "fer2013"), split="Training")
    images, labels = fer.images[: args.images], fer.labels[: args.images]
    model = None
    if not args.no_model:
        # The small batch-norm emotion CNN of notebooks 03, 05 and 06.
        model = fer_cnn((16, 32, 64), 64, batch_norm=True, input_bn=True, dropout=0.3)
        model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    config = (
        AugmentConfig(rotation_deg=0, zoom=0, translation=0)
        if args.flip_contrast_only
        else AugmentConfig()
    )
    print(f"{len(labels)} FER-2013 images from {args.data}; augmentation: {config}")
    print(f"CPU cores visible: {os.cpu_count()}; load average: {_load()}")
    result = measure_throughput(
        images,
        labels,
        model=model,
        augment=config,
        batch_size=args.batch_size,
        n_batches=args.n_batches,
        repeats=args.repeats,
        seed=args.seed,
        keras_layers=args.keras_layers,
        num_parallel_calls=None if args.serial else AUTOTUNE,
    )
    print(result.report())
    med = result.median()
    print(f"tf.data / python generator: x{result.ratio('tf.data', 'python generator'):.2f}")
    if "training step" in med:
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
