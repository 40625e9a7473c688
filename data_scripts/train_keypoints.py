"""Train the course's shipped keypoint model on real faces (``utils/pretrained/keypoints.keras``).

    python -m data_scripts.train_keypoints \\
        --data ../shared/data/keypoints/real_faces_kaggle_format.zip --epochs 100 --out models/keypoints
    python -m data_scripts.train_keypoints --out models/keypoints --resume   # after an interruption
    python -m data_scripts.train_keypoints --out models/keypoints --ship     # publish the best epoch
    python -m data_scripts.train_keypoints --data ... --benchmark           # img/s of the network

The recipe, chosen to fit a 2-core CPU (see ``lessons/model_card_keypoints.md``):

* people, not frames, are split: 85% of the people train, 15% validate (frames of one person
  are near-duplicates, so a frame split would measure memory, not generalisation);
* every epoch each training face gets a fresh random flip (with the left/right keypoint names
  swapped), rotation, scale and shift -- applied to the pixels *and* the keypoints with the
  same matrix (:mod:`utils.keypoint_augmentation`) -- and a brightness/contrast jitter;
* a small convnet whose first layer has stride 2 and is followed by a pooling layer, so no
  3x3 convolution runs at full 96x96 resolution (that is where a plain VGG-style net spends
  most of its CPU time);
* AdamW with a linear warm-up and cosine decay; MSE on pixel coordinates.

Everything lands in ``--out``: ``last.keras`` (model *and* optimizer, written after every
epoch, so ``--resume`` continues exactly where the run stopped, learning-rate schedule
included), ``best.keras`` (best validation RMSE), ``log.csv`` and ``state.json``. ``--ship``
(also run automatically at the end of training) evaluates ``best.keras`` on the validation
people and writes ``utils/pretrained/keypoints.{keras,json}`` and the model card.

The run plumbing (state, checkpoints, resuming, the training loop) is :mod:`data_scripts.training_runs`,
shared with ``data_scripts.train_fer2013``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data_scripts.training_runs import (
    atomic_save_model,
    fit_resumable,
    read_state,
    resume_or_build,
    start_or_resume,
    strip_optimizer,
    warmup_cosine,
    with_flip_tta,
)
from utils.config import project_root, set_seed, shared_data_dir
from utils.data import atomic_write_text

PRETRAINED_DIR = project_root() / "utils" / "pretrained"
LESSONS_DIR = project_root() / "lessons"
DEFAULT_OUT = project_root() / "models" / "keypoints"
CACHE_DIR = project_root() / "models" / "cache"  # parsed CSV as .npz (git-ignored)
IMAGE_SIZE = 96
HALF = IMAGE_SIZE / 2.0
#: Where a horizontal flip mirrors the pixels: ``x -> 95 - x`` is a mirror about x = 47.5.
PIXEL_AXIS = (IMAGE_SIZE - 1) / 2.0
MAX_SHIPPED_BYTES = 5 * 1024 * 1024


def default_data() -> Path | None:
    """The real faces zip beside the checkout (``../shared/data/keypoints/...``), if present."""
    root = shared_data_dir()
    path = None if root is None else root / "keypoints" / "real_faces_kaggle_format.zip"
    return path if path is not None and path.exists() else None


# --------------------------------------------------------------------------------------------
# Flip test-time augmentation for keypoints
# --------------------------------------------------------------------------------------------


def keypoint_unflip_map(axis: float = PIXEL_AXIS) -> tuple[np.ndarray, np.ndarray]:
    """``(kernel, bias)`` with ``points @ kernel + bias == mirror_keypoints(points, axis)``."""
    from utils.keypoint_augmentation import FLIP_PERMUTATION

    n = len(FLIP_PERMUTATION)
    is_x = np.arange(n) % 2 == 0
    kernel = np.zeros((n, n), np.float32)
    bias = np.zeros(n, np.float32)
    for j, source in enumerate(FLIP_PERMUTATION):
        kernel[source, j] = -1.0 if is_x[source] else 1.0
        bias[j] = 2 * axis if is_x[source] else 0.0
    return kernel, bias


# --------------------------------------------------------------------------------------------
# Data and augmentation
# --------------------------------------------------------------------------------------------


def load_faces(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images ``(N,96,96,1)`` float32, keypoints ``(N,30)`` px and person ids, all complete."""
    from utils.data import load_keypoints

    data = load_keypoints(path, cache_dir=CACHE_DIR)
    if data.subjects is None:
        raise ValueError(
            f"{path}: no subjects.csv beside the training table; the model is validated on "
            "held-out *people*, so every row needs a person id"
        )
    complete = ~np.isnan(data.keypoints).any(axis=1)
    if not complete.any():
        raise ValueError(f"{path}: no row has all 30 keypoint coordinates")
    return data.images[complete], data.keypoints[complete], np.asarray(data.subjects)[complete]


def mirror_keypoints(points: np.ndarray, axis: float = PIXEL_AXIS) -> np.ndarray:
    """Keypoints of the mirrored face: ``x -> 2 * axis - x``, left/right names swapped.

    ``axis = 47.5`` is the exact pixel mirror (:func:`utils.keypoint_augmentation.flip_keypoints_np`).
    Labels that sit a constant ``d`` px right of the feature they mark (a cropping or
    coordinate-convention offset) mirror correctly about ``47.5 + d`` instead: mirroring
    about 47.5 would then teach the network a ``2 d`` px error on every flipped face.
    """
    from utils.keypoint_augmentation import flip_keypoints_np

    is_x = np.arange(points.shape[-1]) % 2 == 0
    return flip_keypoints_np(points, IMAGE_SIZE) + np.where(is_x, 2 * axis - 2 * PIXEL_AXIS, 0.0)


def estimate_label_axis(keypoints: np.ndarray) -> float:
    """The labels' own mirror axis: the mean x midway between the two eye centres.

    Faces are cropped centred, so for correctly placed labels this is ~47.5 (the pixel
    mirror). On the real-faces zip it is ~48.4: the labels sit ~0.9 px right of the pixels'
    mirror axis, which a network trained with 47.5-flips shows as a ~2 px x bias on mirrored
    faces.
    """
    from utils.data import KEYPOINT_COLUMNS

    left = keypoints[:, KEYPOINT_COLUMNS.index("left_eye_center_x")]
    right = keypoints[:, KEYPOINT_COLUMNS.index("right_eye_center_x")]
    return float(np.nanmean((left + right) / 2))


def augment_epoch(
    images: np.ndarray,
    keypoints: np.ndarray,
    rng: np.random.Generator,
    flip_axis: float = PIXEL_AXIS,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's random flip + rotation/scale/shift + brightness/contrast for every face.

    Flip with p=0.5 (left/right names swapped), rotation +-12 degrees, scale +-10%, shift
    +-6 px, contrast x0.7-1.3 and brightness +-0.1 -- the ranges TRAINING.md measured.
    The keypoints of a flipped face are mirrored about ``flip_axis`` (:func:`mirror_keypoints`).
    """
    from utils.keypoint_augmentation import affine_matrix, warp_affine_np

    n = len(images)
    flips = rng.random(n) < 0.5
    angles = rng.uniform(-12, 12, n)
    scales = rng.uniform(0.9, 1.1, n)
    shifts = rng.uniform(-6, 6, (n, 2))
    contrast = rng.uniform(0.7, 1.3, n).astype(np.float32)
    brightness = rng.uniform(-0.1, 0.1, n).astype(np.float32)
    out_x = np.empty_like(images)
    out_y = np.empty_like(keypoints)
    for i in range(n):
        image, points = images[i], keypoints[i]
        if flips[i]:
            image, points = image[:, ::-1], mirror_keypoints(points, flip_axis)
        matrix = affine_matrix(angles[i], scales[i], (shifts[i, 0], shifts[i, 1]))
        image, points = warp_affine_np(
            np.ascontiguousarray(image), points, matrix, out_of_bounds="keep"
        )
        out_x[i] = image.reshape(IMAGE_SIZE, IMAGE_SIZE, 1)
        out_y[i] = points
    mean = out_x.mean(axis=(1, 2, 3), keepdims=True)
    out_x = (out_x - mean) * contrast[:, None, None, None] + mean + brightness[:, None, None, None]
    return np.clip(out_x, 0.0, 1.0).astype(np.float32), out_y


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------

#: (stem filters, widths of the two-conv blocks) of each candidate; "small" is shipped.
ARCHITECTURES: dict[str, tuple[int, tuple[int, ...]]] = {
    "small": (24, (48, 96, 128)),
    "medium": (32, (64, 128, 192)),
}


def build_model(arch: str = "small", *, dropout: float = 0.3) -> Any:
    """A keypoint regressor from built-in layers only (loads with ``safe_mode=True``).

    96x96 -> 5x5 conv stride 2 -> max-pool (24x24) -> three blocks of two 3x3 conv + BN + ReLU,
    each followed by max-pool (12, 6, 3) -> flatten -> dropout -> dense 256 -> dense 30 ->
    ``Rescaling(48, offset=48)``: the dense layer predicts ``(k - 48) / 48`` (numbers near 0,
    which trains well) and the last layer turns that into pixels.
    """
    import keras
    from keras import layers

    if arch not in ARCHITECTURES:
        raise ValueError(f"arch={arch!r}: expected one of {sorted(ARCHITECTURES)}")
    stem, widths = ARCHITECTURES[arch]
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="face")
    x = layers.Conv2D(stem, 5, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    for width in widths:
        for _ in range(2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dense(30, name="scaled_keypoints")(x)
    outputs = layers.Rescaling(HALF, offset=HALF, name="keypoints_px")(x)
    return keras.Model(inputs, outputs, name=f"keypoints_{arch}")


def compile_model(model: Any, *, lr: float, weight_decay: float, steps: int, warmup: int) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=warmup_cosine(lr, steps, warmup), weight_decay=weight_decay
        ),
        loss="mse",
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
    )


def benchmark(arch: str, images: np.ndarray, keypoints: np.ndarray, batch_size: int) -> str:
    """Training speed of ``arch`` on these faces: images/s (wall) and per CPU-second."""
    model = build_model(arch)
    compile_model(model, lr=1e-3, weight_decay=1e-4, steps=100, warmup=1)
    n = min(len(images), 8 * batch_size)
    model.fit(images[:n], keypoints[:n], batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(images[:n], keypoints[:n], batch_size=batch_size, epochs=2, verbose=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return (
        f"{arch}: {model.count_params():,} parameters, {2 * n / wall:.1f} img/s wall, "
        f"{2 * n / cpu:.1f} img per CPU-second (batch {batch_size})"
    )


# --------------------------------------------------------------------------------------------
# Shipping: evaluate best.keras on the validation people, write the model, JSON and card
# --------------------------------------------------------------------------------------------


def evaluate(
    model: Any, images: np.ndarray, keypoints: np.ndarray, flip_axis: float = PIXEL_AXIS
) -> dict[str, Any]:
    """RMSE (overall and per keypoint, px) of ``model`` alone and with flip TTA."""
    from utils.data import KEYPOINT_NAMES
    from utils.metrics import per_keypoint_rmse, rmse_pixels

    pred = np.asarray(model.predict(images, batch_size=128, verbose=0), np.float32)
    flipped = np.asarray(model.predict(images[:, :, ::-1], batch_size=128, verbose=0), np.float32)
    tta = (pred + mirror_keypoints(flipped, flip_axis)) / 2

    def per_keypoint(p: np.ndarray) -> dict[str, float]:
        values = np.round(per_keypoint_rmse(keypoints, p), 3).tolist()
        return dict(zip(KEYPOINT_NAMES, values, strict=True))

    return {
        "rmse_px": rmse_pixels(keypoints, pred),
        "rmse_px_flip_tta": rmse_pixels(keypoints, tta),
        "per_keypoint_rmse_px": per_keypoint(pred),
        "per_keypoint_rmse_px_flip_tta": per_keypoint(tta),
        "predictions": pred,
        "predictions_flip_tta": tta,
    }


def ship(out: Path, *, pretrained_dir: Path = PRETRAINED_DIR, card_dir: Path = LESSONS_DIR) -> dict:
    """Evaluate ``out/best.keras`` on the run's validation people and publish it.

    Writes ``keypoints.keras`` (no optimizer), ``keypoints.json`` and the model card.
    """
    import keras

    from utils.metrics import rmse_pixels

    state = read_state(out)
    best = out / "best.keras"
    if not best.exists():
        raise FileNotFoundError(f"{best}: no best checkpoint yet; train at least one epoch first")
    images, keypoints, subjects = load_faces(Path(state["data"]))
    val_people = set(state["val_subjects"])
    is_val = np.isin(subjects, sorted(val_people))
    model = keras.models.load_model(best, safe_mode=True)
    flip_axis = float(state["settings"].get("flip_axis", PIXEL_AXIS))
    metrics = evaluate(model, images[is_val], keypoints[is_val], flip_axis)
    mean_face = keypoints[~is_val].mean(axis=0, keepdims=True)
    baseline = rmse_pixels(keypoints[is_val], np.repeat(mean_face, is_val.sum(), axis=0))
    plain = strip_optimizer(model)
    # Flip TTA goes *inside* the shipped model when it helps on the validation people, so
    # anyone who loads the .keras file gets it without extra code.
    tta_in_model = metrics["rmse_px_flip_tta"] < metrics["rmse_px"]
    shipped = with_flip_tta(plain, keypoint_unflip_map(flip_axis)) if tta_in_model else plain
    expected = metrics["predictions_flip_tta" if tta_in_model else "predictions"]
    target = pretrained_dir / "keypoints.keras"
    atomic_save_model(shipped, target)
    size = target.stat().st_size
    if size > MAX_SHIPPED_BYTES:
        raise ValueError(f"{target}: {size / 1e6:.1f} MB; the shipped model must be <= 5 MB")
    reloaded = keras.models.load_model(target, safe_mode=True)
    got = np.asarray(reloaded.predict(images[is_val][:64], verbose=0))
    if not np.allclose(got, expected[:64], atol=1e-3):
        raise AssertionError(f"{target}: the saved model does not reproduce the evaluation")
    suffix = "_flip_tta" if tta_in_model else ""
    info = {
        "model": "keypoints.keras",
        "input": "(96, 96, 1) float32 grayscale in [0, 1]",
        "output": "(30,) float32 pixel coordinates in Kaggle's column order",
        "architecture": state["arch"],
        "parameters": int(plain.count_params()),
        "flip_tta_in_model": bool(tta_in_model),
        "flip_axis_px": flip_axis,
        "file_bytes": size,
        "data": Path(state["data"]).name,
        "train_people": int(len(set(subjects)) - len(val_people)),
        "train_frames": int((~is_val).sum()),
        "validation_people": len(val_people),
        "validation_frames": int(is_val.sum()),
        "validation_subjects": sorted(val_people),
        "epochs": int(state["epochs_done"]),
        "best_epoch": int(state["best_epoch"]),
        "validation_rmse_px": round(metrics[f"rmse_px{suffix}"], 4),
        "validation_rmse_px_network_alone": round(metrics["rmse_px"], 4),
        "validation_rmse_px_flip_tta": round(metrics["rmse_px_flip_tta"], 4),
        "per_keypoint_rmse_px": metrics[f"per_keypoint_rmse_px{suffix}"],
        "mean_face_baseline_rmse_px": round(baseline, 4),
        "train_seconds": state["train_seconds"],
        "machine": state.get("machine", ""),
        "seed": state["seed"],
        "settings": state["settings"],
        "command": state["command"],
        "keras": keras.__version__,
    }
    atomic_write_text(pretrained_dir / "keypoints.json", json.dumps(info, indent=2) + "\n")
    atomic_write_text(card_dir / "model_card_keypoints.md", model_card(info))
    return info


def model_card(info: dict[str, Any]) -> str:
    """The Markdown model card for ``keypoints.keras`` from its JSON sidecar."""
    rows = "\n".join(
        f"| {name} | {value:.2f} |" for name, value in info["per_keypoint_rmse_px"].items()
    )
    hours = info["train_seconds"] / 3600
    s = info["settings"]
    tta = info["flip_tta_in_model"]
    tta_text = (
        "The file holds the network *with flip test-time augmentation built in*: it also "
        "predicts on the mirrored face (mirroring and left/right swapping done by two fixed "
        "`Dense` layers) and averages, because that was more accurate on the validation "
        "people. Twice the compute of the network alone."
        if tta
        else "The file holds the network alone (flip test-time augmentation did not help on "
        "the validation people)."
    )
    return f"""# Model card: `utils/pretrained/keypoints.keras`

*Generated by `python -m data_scripts.train_keypoints --ship` from `keypoints.json`; do not
edit by hand -- re-run the command.*

## What it does
Predicts the 15 facial keypoints of the Kaggle Facial Keypoints Detection challenge (eye
centres and corners, eyebrow ends, nose tip, mouth corners and lip centres) on a 96x96
grayscale face cropped like Kaggle's. Input `(96, 96, 1)` float32 in [0, 1]; output `(30,)`
pixel coordinates in Kaggle's column order (`left_*` is the subject's left, larger x). Use it
through `utils.inference.predict_keypoints(faces)`, which takes uint8 faces.
{tta_text}

## Data and split
`{info["data"]}`: real video frames (YouTube Faces) cropped to Kaggle's framing, all 15
keypoints labelled in every frame. Frames of one person are near-duplicates, so the split is
by **person**: {info["train_people"]} people ({info["train_frames"]} frames) train,
{info["validation_people"]} people ({info["validation_frames"]} frames) validate and choose
the epoch. Frames of 65 further people are withheld by the project's judges.

## Architecture and training
- `{info["architecture"]}`: 5x5 conv stride 2 + max-pool (96 -> 24 px), three blocks of two
  3x3 conv + batch norm + ReLU (widths {s["widths"]}) each followed by max-pool, flatten,
  dropout {s["dropout"]}, dense 256, dense 30, `Rescaling(48, offset=48)` to pixels.
  {info["parameters"]:,} parameters, {info["file_bytes"] / 1e6:.1f} MB, built-in Keras layers
  only (loads with `safe_mode=True`).
- Why this shape: a VGG-style net with two 3x3 convs at full 96x96 resolution (1.47 M
  parameters) reaches 1.71 px but trains at ~31 img/s on a 2-core CPU; starting with a
  stride-2 conv and a pool removes the full-resolution layers, which hold most of the compute.
- Each epoch, every training face gets a fresh random horizontal flip (left/right keypoint
  names swapped, x mirrored about {info["flip_axis_px"]:.2f} px -- see below), rotation
  +-12 deg, scale +-10%, shift +-6 px (same matrix for pixels and keypoints) and
  brightness/contrast jitter.
- The flip axis: the exact pixel mirror is x = 47.5 (`x -> 95 - x`), but in this data the
  labels' own mirror axis (the mean eye midpoint, faces being cropped centred) is ~48.4: the
  labels sit ~0.9 px right of the pixels' mirror. A first run that mirrored about 47.5 taught
  the network a ~2 px x error on every flipped face (measured: x bias -0.25 px on training
  faces, +1.6 px on the same faces mirrored) and plateaued at 2.09 px; mirroring about the
  labels' axis removes that conflict.
- AdamW (peak learning rate {s["lr"]}, weight decay {s["weight_decay"]}), {s["warmup_epochs"]}
  warm-up epochs then cosine decay, batch {s["batch_size"]}, MSE on pixels, {info["epochs"]}
  epochs; the best epoch by validation RMSE ({info["best_epoch"]}) is shipped.
- Training time: {hours:.2f} h ({info["train_seconds"]:.0f} s) on {info["machine"]}, shared
  with other jobs (niced), so an idle machine is faster.
- Reproduce: `{info["command"]}` (seed {info["seed"]}), then
  `python -m data_scripts.train_keypoints --out <out> --ship`.

## Validation results (held-out people)
| | RMSE (px) |
|---|---:|
| **shipped `keypoints.keras`** | **{info["validation_rmse_px"]:.2f}** |
| network alone | {info["validation_rmse_px_network_alone"]:.2f} |
| network + flip test-time augmentation | {info["validation_rmse_px_flip_tta"]:.2f} |
| mean-face baseline (predict the training mean) | {info["mean_face_baseline_rmse_px"]:.2f} |

RMSE is Kaggle's: the root of the mean squared error over all 30 coordinates, in pixels of
the 96x96 face. The target was under 2.0 px on held-out people. The same validation people
chose the epoch{" and the flip TTA" if tta else ""}, so these numbers are slightly optimistic.
Per keypoint, shipped model (root of the mean of its squared x and y errors):

| keypoint | RMSE (px) |
|---|---:|
{rows}

## Limitations
- {info["validation_people"]} validation people is a small sample: expect the error on new
  people to differ by a few tenths of a pixel.
- Trained on frontal-ish, celebrity video frames cropped exactly like Kaggle's faces: it
  expects that framing. A face cropped differently (see `utils.faces`), strongly turned,
  occluded, or a child's face will be worse; there is no "no face" output.
- The frames are low-resolution video stills: sharp studio photos are out of distribution.
- The labels were mapped from 68-point landmarks to Kaggle's 15 points, so they carry that
  mapping's own small systematic offsets.
"""


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=None, help="Kaggle-format zip/CSV with subjects.csv"
    )
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="checkpoints, log, state")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--ship", action="store_true", help="only publish --out/best.keras")
    parser.add_argument("--no-ship", action="store_true", help="do not publish after training")
    parser.add_argument("--benchmark", action="store_true", help="print img/s of each arch")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--warmup-epochs", type=int, default=3)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument(
        "--flip-axis",
        default="auto",
        type=lambda v: v if v == "auto" else float(v),
        help="x of the mirror for flipped keypoints: 'auto' (labels' eye midpoint) or 47.5",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out: Path = args.out

    if args.ship:
        info = ship(out)
        print(f"shipped {PRETRAINED_DIR / 'keypoints.keras'}: {info['validation_rmse_px']:.3f} px")
        return 0

    state = start_or_resume(
        parser,
        args,
        argv,
        script="train_keypoints",
        default_data=lambda: default_data(),
        data_hint="../shared/data/keypoints/...",
        new_settings=lambda: {
            "arch": args.arch,
            "widths": list(ARCHITECTURES[args.arch][1]),
            "dropout": 0.3,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "weight_decay": args.weight_decay,
            "warmup_epochs": args.warmup_epochs,
            "val_fraction": args.val_fraction,
            "flip_axis": args.flip_axis,  # "auto": estimated from the training labels below
        },
        extra={"arch": args.arch},
    )
    settings = state["settings"]

    set_seed(state["seed"])
    images, keypoints, subjects = load_faces(Path(state["data"]))

    if args.benchmark:
        for arch in ARCHITECTURES:
            print(benchmark(arch, images, keypoints, settings["batch_size"]), flush=True)
        return 0

    from utils.data import split_by_subject

    if "val_subjects" not in state:
        val_fraction = settings["val_fraction"]
        train_idx, val_idx = split_by_subject(
            subjects, fractions=(1 - val_fraction, val_fraction), seed=state["seed"]
        )
        state["val_subjects"] = sorted(set(subjects[val_idx].tolist()))
    is_val = np.isin(subjects, state["val_subjects"])
    x_train, y_train = images[~is_val], keypoints[~is_val]
    x_val, y_val = images[is_val], keypoints[is_val]
    if settings.get("flip_axis") == "auto":
        settings["flip_axis"] = round(estimate_label_axis(y_train), 3)
    flip_axis = float(settings.get("flip_axis", PIXEL_AXIS))
    print(f"flipped faces' keypoints are mirrored about x = {flip_axis}", flush=True)
    print(
        f"{len(x_train)} training frames ({len(set(subjects[~is_val]))} people), "
        f"{len(x_val)} validation frames ({len(state['val_subjects'])} people)",
        flush=True,
    )

    def build() -> Any:
        model = build_model(settings["arch"], dropout=settings["dropout"])
        steps_per_epoch = -(-len(x_train) // settings["batch_size"])
        compile_model(
            model,
            lr=settings["lr"],
            weight_decay=settings["weight_decay"],
            steps=steps_per_epoch * state["epochs"],
            warmup=steps_per_epoch * settings["warmup_epochs"],
        )
        return model

    model = resume_or_build(args, state, build)

    def epoch_data(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([state["seed"], epoch])
        return augment_epoch(x_train, y_train, rng, flip_axis)

    fit_resumable(
        model,
        out,
        state=state,
        epoch_data=epoch_data,
        validation_data=(x_val, y_val),
        batch_size=settings["batch_size"],
        monitor="val_rmse",
        mode="min",
        log=lambda line: print(line, flush=True),
    )
    if not args.no_ship:
        info = ship(out)
        print(f"shipped keypoints.keras: validation RMSE {info['validation_rmse_px']:.3f} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
