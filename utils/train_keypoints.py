"""Train the course's shipped keypoint model on real faces (``utils/pretrained/keypoints.keras``).

    nice -n 10 python -m utils.train_keypoints --preset shipped --data FACES_ZIP --out runs/keypoints
    python -m utils.train_keypoints --out runs/keypoints --resume   # after a stop: continues exactly
    python -m utils.train_keypoints --out runs/keypoints --ship     # publish the best epoch
    python -m utils.train_keypoints --data FACES_ZIP --benchmark   # img/s of each architecture

The recipe:

* people, not frames, are split: 85% of the people train, 15% validate (frames of one person
  are near-duplicates, so a frame split would measure memory, not generalisation);
* every epoch each training face gets a fresh random flip (with the left/right keypoint names
  swapped), rotation, scale and shift -- applied to the pixels *and* the keypoints with the
  same matrix (:mod:`utils.keypoint_augmentation`) -- and a brightness/contrast jitter;
* :func:`utils.models.keypoint_heatmap` (one heatmap per keypoint, each keypoint its map's
  centre of mass), AdamW with a linear warm-up and cosine decay, MSE on pixel coordinates,
  in mixed bfloat16 where the hardware is fast at it (``--precision``). ``--arch`` trains the
  dense-head networks of :func:`utils.models.keypoint_vgg` instead.

Everything lands in ``--out`` (:mod:`utils.runs`): ``last.keras`` after every epoch (model
*and* optimizer, so ``--resume`` continues exactly), ``best.keras`` (best validation RMSE),
``log.csv`` and ``state.json``. ``--ship`` evaluates ``best.keras`` on the validation people
and writes ``utils/pretrained/keypoints.{keras,json}`` and the model card
(:func:`utils.shipping.ship_keypoints`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from utils.setup import quiet_tensorflow

quiet_tensorflow()  # before Keras loads it: TensorFlow's C++ start-up lines mean nothing here

import numpy as np  # noqa: E402

from utils.data_keypoints import load_complete_faces  # noqa: E402
from utils.keypoint_augmentation import PIXEL_AXIS, augment_batch_np, estimate_label_axis  # noqa: E402
from utils.runs import fit_resumable, resume_or_build, start_or_resume, warmup_cosine  # noqa: E402
from utils.seeding import set_seed  # noqa: E402

# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------

#: The networks ``--arch`` can train and their options. "vgg", "medium" and "small" are
#: :func:`utils.models.keypoint_vgg` (a dense head): "vgg" runs two 3x3 convs at full
#: resolution (slow on a CPU), the others start with a stride-2 stem (about 4x cheaper).
#: "heatmap" is :func:`utils.models.keypoint_heatmap` (one heatmap per keypoint, no dense head).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "vgg": {"widths": [32, 64, 96, 128, 192], "stem": 0},
    "medium": {"widths": [64, 128, 192], "stem": 32},
    "small": {"widths": [48, 96, 128], "stem": 24},
    "heatmap": {"widths": [32, 64, 128, 128], "stem": 32},
}

#: ``--preset shipped``: how ``utils/pretrained/keypoints.keras`` is trained.
SHIPPED: dict[str, Any] = {
    "arch": "heatmap",
    "epochs": 100,
    "batch_size": 32,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "warmup_epochs": 3,
    "val_fraction": 0.15,
}


def build_model(arch: str = "vgg", *, dropout: float = 0.3) -> Any:
    """The network called ``arch`` (a key of :data:`ARCHITECTURES`), uncompiled.

    ``dropout`` is the dense head's; the heatmap network has no dense head and no dropout.
    """
    from utils.models import keypoint_heatmap, keypoint_vgg

    if arch not in ARCHITECTURES:
        raise ValueError(f"arch={arch!r}: expected one of {sorted(ARCHITECTURES)}")
    if arch == "heatmap":
        return keypoint_heatmap(name=f"keypoints_{arch}", **ARCHITECTURES[arch])
    return keypoint_vgg(dropout=dropout, name=f"keypoints_{arch}", **ARCHITECTURES[arch])


def compile_model(
    model: Any, *, lr: float, weight_decay: float, steps: int, warmup: int, jit: bool = False
) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=warmup_cosine(lr, steps, warmup), weight_decay=weight_decay
        ),
        loss="mse",
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
        jit_compile=jit,
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
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; bad data or a missing run print ``error: ...`` and return 1."""
    try:
        return _main(argv)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.train_keypoints",
        description=(__doc__ or "").splitlines()[0],
        epilog="example: python -m utils.train_keypoints --preset shipped --data FACES_ZIP "
        "--out runs/keypoints",
    )
    parser.add_argument(
        "--data", default=None, help="Kaggle-format zip/CSV with subjects.csv, or 'kaggle'"
    )
    parser.add_argument("--preset", choices=["shipped"], help="the shipped model's recipe")
    parser.add_argument("--epochs", type=int, default=None, help="default 100, as in the preset")
    parser.add_argument("--out", type=Path, required=True, help="the run's folder")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--ship", action="store_true", help="only publish --out/best.keras")
    parser.add_argument("--no-ship", action="store_true", help="do not publish after training")
    parser.add_argument("--benchmark", action="store_true", help="print img/s of each arch")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--warmup-epochs", type=int, default=None)
    parser.add_argument("--val-fraction", type=float, default=None)
    parser.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="auto: mixed bfloat16 where the CPU/GPU is fast at it, else float32",
    )
    parser.add_argument(
        "--flip-axis",
        default="auto",
        type=lambda v: v if v == "auto" else float(v),
        help="x of the mirror for flipped keypoints: 'auto' (labels' eye midpoint) or 47.5",
    )
    args = parser.parse_args(argv)
    from utils.config import resolve_data
    from utils.precision import precision_scope, resolve_precision
    from utils.shipping import ship_keypoints

    out: Path = args.out
    if args.ship:
        info = ship_keypoints(out)
        print(f"shipped keypoints.keras: validation RMSE {info['validation_rmse_px']:.3f} px")
        return 0
    # Options left out take the preset's value (``--preset shipped``) or the quick defaults.
    base = SHIPPED if args.preset else {**SHIPPED, "arch": "small", "epochs": 100}
    for key in ("arch", "epochs", "batch_size", "lr", "weight_decay", "warmup_epochs"):
        if getattr(args, key) is None and not args.resume:
            setattr(args, key, base[key])
    if args.val_fraction is None:
        args.val_fraction = base["val_fraction"]
    if args.data is not None:
        try:
            args.data = resolve_data(args.data, "keypoints")
        except FileNotFoundError as exc:
            parser.error(f"--data: {exc}")

    state = start_or_resume(
        parser,
        args,
        argv,
        command="python -m utils.train_keypoints",
        default_data=lambda: None,
        data_hint="a Kaggle-format training table with subjects.csv",
        new_settings=lambda: {
            "arch": args.arch,
            **ARCHITECTURES[args.arch],
            "dropout": None if args.arch == "heatmap" else 0.3,  # no dense head, no dropout
            "batch_size": args.batch_size,
            "lr": args.lr,
            "weight_decay": args.weight_decay,
            "warmup_epochs": args.warmup_epochs,
            "val_fraction": args.val_fraction,
            "flip_axis": args.flip_axis,  # "auto": estimated from the training labels below
            "precision": resolve_precision(args.precision),
        },
        extra={"arch": args.arch},
    )
    with precision_scope(state["settings"].get("precision", "fp32")) as precision:
        return _train(args, state, precision)


def _train(args: argparse.Namespace, state: dict[str, Any], precision: str) -> int:
    """Train (or continue) the run whose ``state`` is given, under ``precision``."""
    from utils.shipping import ship_keypoints

    out: Path = args.out
    settings = state["settings"]

    set_seed(state["seed"])
    images, keypoints, subjects = load_complete_faces(Path(state["data"]))

    if args.benchmark:
        for arch in ARCHITECTURES:
            print(benchmark(arch, images, keypoints, settings["batch_size"]), flush=True)
        return 0

    from utils.splits import split_by_subject

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

    print(f"precision: {precision}", flush=True)

    model = resume_or_build(args, state, build)

    def epoch_data(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([state["seed"], epoch])
        return augment_batch_np(x_train, y_train, rng, flip_axis)

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
        info = ship_keypoints(out)
        print(f"shipped keypoints.keras: validation RMSE {info['validation_rmse_px']:.3f} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
