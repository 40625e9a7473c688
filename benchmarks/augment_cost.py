"""Benchmark: what one augmented 48x48 face costs, by who does the warp.

``benchmarks/input_pipeline.py`` times whole pipelines; this one takes them apart, on one
in-memory batch, side by side in one run (microseconds per face, median of ``--repeats``):

* TensorFlow's warp op alone (``ImageProjectiveTransformV3``, bilinear, reflect) and the
  whole :func:`utils.augmentation.tf_augment` (flip + warp + contrast), both in a
  ``tf.function`` as a ``tf.data`` map runs them;
* OpenCV's ``cv2.warpAffine`` alone, one call per face, and the whole
  :func:`utils.augmentation.augment_batch_opencv` (what ``backend="opencv"`` maps);
* :func:`utils.augmentation.augment_image_numpy`, one face at a time: the Python generator's
  augmentation.

    python -m benchmarks.augment_cost
    python -m benchmarks.augment_cost --batch_size 256 --repeats 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence


def _per_face_us(run: Callable[[], object], faces: int, repeats: int) -> float:
    """Median over ``repeats`` calls of ``run`` (after one warm-up call), in µs per face."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / faces * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.augment_cost",
        description="microseconds per augmented 48x48 face: TensorFlow vs OpenCV vs per image",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per contender")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    from utils.setup import quiet_tensorflow

    quiet_tensorflow()  # before anything loads it: no C++ start-up lines
    for name in ("batch_size", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)}: expected a positive number")

    import cv2
    import numpy as np
    import tensorflow as tf

    from utils.augmentation import (
        AugmentConfig,
        _affine_matrices,  # noqa: PLC2701 (the matrices augment_batch_opencv uses)
        augment_batch_opencv,
        augment_image_numpy,
        tf_augment,
    )
    from utils.environment import report_environment

    report_environment()
    n = args.batch_size
    rng = np.random.default_rng(args.seed)
    faces = rng.random((n, 48, 48, 1), dtype=np.float32)
    config = AugmentConfig()
    matrices = _affine_matrices(
        48, 48, rng.random(n) < 0.5, rng.uniform(-10, 10, n), rng.uniform(0.87, 1.15, n),
        rng.uniform(-4.8, 4.8, n), rng.uniform(-4.8, 4.8, n),
    )  # fmt: skip
    # ImageProjectiveTransformV3 wants the inverse map (output -> input), 8 numbers per face.
    inverse = np.array([cv2.invertAffineTransform(m) for m in matrices])
    transforms = np.concatenate([inverse.reshape(n, 6), np.zeros((n, 2))], axis=1)
    images_t = tf.constant(faces)
    transforms_t = tf.constant(transforms, tf.float32)
    seed_t = tf.constant([args.seed, 1], tf.int64)

    @tf.function
    def tf_warp(x: tf.Tensor) -> tf.Tensor:
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x,
            transforms=transforms_t,
            output_shape=[48, 48],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="REFLECT",
        )

    @tf.function
    def tf_whole(x: tf.Tensor) -> tf.Tensor:
        return tf_augment(x, seed_t, config)

    def cv_warp() -> np.ndarray:
        out = np.empty_like(faces)
        for src, dst, matrix in zip(faces[..., 0], out[..., 0], matrices, strict=True):
            cv2.warpAffine(src, matrix, (48, 48), dst, cv2.INTER_LINEAR, cv2.BORDER_REFLECT)
        return out

    one_rng = np.random.default_rng(args.seed)
    contenders: dict[str, Callable[[], object]] = {
        "TF warp op alone": lambda: tf_warp(images_t).numpy(),
        "tf_augment (TF, whole)": lambda: tf_whole(images_t).numpy(),
        "cv2.warpAffine alone": cv_warp,
        "augment_batch_opencv": lambda: augment_batch_opencv(faces, [args.seed, 1], config),
        "augment_image_numpy, per face": lambda: [
            augment_image_numpy(f, one_rng, config) for f in faces
        ],
    }
    print(
        f"{n} faces of 48x48 per call, median of {args.repeats} calls; CPU cores: {os.cpu_count()}"
    )
    costs = {name: _per_face_us(run, n, args.repeats) for name, run in contenders.items()}
    base = costs["cv2.warpAffine alone"]
    for name, us in costs.items():
        print(f"  {name:<30} {us:7.1f} µs per face   x{us / base:5.2f} of cv2.warpAffine")
    tf_over_cv = costs["tf_augment (TF, whole)"] / costs["augment_batch_opencv"]
    print(f"tf_augment / augment_batch_opencv: x{tf_over_cv:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
