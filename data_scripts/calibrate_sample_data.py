"""Check that the sample data is worth learning from: easy models lose, small convnets win.

    python -m data_scripts.calibrate_sample_data [--data data/sample] [--epochs 10]

The synthetic faces must keep the lessons honest: a model that only sees pixels one by one (a
linear model, one dense layer) must be clearly worse than a small convnet, and no task may be
solved perfectly in a few epochs. This script trains, on CPU and in about two minutes:

* keypoints (Kaggle format, masked loss, split by person): the training-mean guess, a linear
  model, the classic one-hidden-layer net and a small convnet -> validation RMSE in pixels;
* FER-2013 emotions (Training vs PublicTest): chance, a linear softmax model and a small
  convnet -> PublicTest accuracy and macro F1.

It prints a Markdown table (recorded in ``lessons/sample_data.md``) and can write JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _linear_keypoints() -> Any:
    """Pixels -> 30 coordinates with one dense layer (no hidden layer): a linear model."""
    import keras

    inputs = keras.Input((96, 96, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(30)(x)
    out = keras.layers.Rescaling(48.0, offset=48.0)(x)  # outputs in pixels, centred at 48
    return keras.Model(inputs, out, name="keypoint_linear")


def _linear_fer() -> Any:
    """Pixels -> softmax over the 7 emotions with one dense layer (multinomial regression)."""
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Flatten()(inputs)
    out = keras.layers.Dense(7, activation="softmax")(x)
    return keras.Model(inputs, out, name="fer_linear")


def calibrate_keypoints(folder: Path, epochs: int, seed: int) -> dict[str, float]:
    """Validation RMSE (px, labelled coordinates only) of four keypoint models."""
    import keras

    from utils.data_keypoints import load_keypoints
    from utils.losses import masked_mse
    from utils.metrics import rmse_pixels
    from utils.models import keypoint_convnet, keypoint_single_layer
    from utils.seeding import set_seed
    from utils.splits import split_by_subject

    data = load_keypoints(folder, split="training")
    X, Y = data.images, data.keypoints
    if data.subjects is None:
        raise ValueError(f"{folder}: no subjects.csv beside training.csv; cannot split by person")
    train, val = split_by_subject(data.subjects, fractions=(0.8, 0.2), seed=seed)
    results = {"keypoint_mean_guess_rmse": rmse_pixels(
        Y[val], np.broadcast_to(np.nanmean(Y[train], axis=0), Y[val].shape))}  # fmt: skip
    builders = {
        "keypoint_linear_rmse": _linear_keypoints,
        "keypoint_single_layer_rmse": keypoint_single_layer,
        "keypoint_convnet_rmse": keypoint_convnet,
    }
    for name, build in builders.items():
        set_seed(seed)
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=masked_mse)
        model.fit(X[train], Y[train], epochs=epochs, batch_size=32, verbose=0)
        results[name] = rmse_pixels(Y[val], model.predict(X[val], verbose=0))
    results["keypoint_train_rows"] = float(len(train))
    results["keypoint_val_rows"] = float(len(val))
    return results


def calibrate_fer(folder: Path, epochs: int, seed: int) -> dict[str, float]:
    """PublicTest accuracy and macro F1 of a linear model and a small convnet."""
    import keras

    from utils.data_fer2013 import load_fer2013
    from utils.metrics import accuracy, macro_f1
    from utils.models import fer_cnn
    from utils.seeding import set_seed

    train = load_fer2013(folder, split="Training")
    test = load_fer2013(folder, split="PublicTest")
    counts = np.bincount(train.labels, minlength=7)
    results = {
        "fer_chance_uniform": 1 / 7,
        "fer_majority_class_accuracy": float(np.mean(test.labels == int(np.argmax(counts)))),
    }
    for name, build in {"fer_linear": _linear_fer, "fer_convnet": fer_cnn}.items():
        set_seed(seed)
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.fit(train.images, train.labels, epochs=epochs, batch_size=64, verbose=0)
        pred = model.predict(test.images, verbose=0).argmax(axis=1)
        results[f"{name}_accuracy"] = accuracy(test.labels, pred)
        results[f"{name}_macro_f1"] = macro_f1(test.labels, pred, labels=list(range(7)))
    results["fer_train_rows"] = float(len(train.labels))
    results["fer_test_rows"] = float(len(test.labels))
    return results


def markdown_table(results: dict[str, float], epochs: int) -> str:
    """The numbers as the Markdown table ``lessons/sample_data.md`` shows."""
    r = results
    rows = [
        "| task | model | metric | value |",
        "|---|---|---|---:|",
        f"| keypoints | predict the training mean | RMSE (px) | {r['keypoint_mean_guess_rmse']:.2f} |",
        f"| keypoints | linear (one dense layer) | RMSE (px) | {r['keypoint_linear_rmse']:.2f} |",
        f"| keypoints | one hidden layer (100) | RMSE (px) | {r['keypoint_single_layer_rmse']:.2f} |",
        f"| keypoints | small convnet | RMSE (px) | {r['keypoint_convnet_rmse']:.2f} |",
        f"| emotions | chance (uniform / majority class) | accuracy | {r['fer_chance_uniform']:.3f} / {r['fer_majority_class_accuracy']:.3f} |",
        f"| emotions | linear softmax | accuracy (macro F1) | {r['fer_linear_accuracy']:.3f} ({r['fer_linear_macro_f1']:.3f}) |",
        f"| emotions | small convnet | accuracy (macro F1) | {r['fer_convnet_accuracy']:.3f} ({r['fer_convnet_macro_f1']:.3f}) |",
    ]
    note = (
        f"\n{epochs} epochs each, Adam 1e-3, CPU; keypoints: {int(r['keypoint_train_rows'])} "
        f"training / {int(r['keypoint_val_rows'])} validation rows split by person; emotions: "
        f"{int(r['fer_train_rows'])} Training / {int(r['fer_test_rows'])} PublicTest pictures."
    )
    return "\n".join(rows) + "\n" + note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_scripts.calibrate_sample_data", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, default=None, help="sample data folder")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: expected at least 1")
    from utils.config import ensure_sample_data

    root = ensure_sample_data(args.data)
    start = time.perf_counter()
    results = calibrate_keypoints(root / "facial-keypoints-detection", args.epochs, args.seed)
    results.update(calibrate_fer(root / "fer2013" / "fer2013.csv", args.epochs, args.seed))
    results["seconds"] = round(time.perf_counter() - start, 1)
    print(markdown_table(results, args.epochs))
    print(f"\n({results['seconds']:.0f} s)")
    if args.json is not None:
        from utils.io import atomic_write_text

        atomic_write_text(args.json, json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
