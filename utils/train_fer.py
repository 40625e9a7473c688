"""Train an emotion classifier on FER-2013 from the command line.

The same training notebook 07 does, as a script you can leave running::

    python -m utils.train_fer --model cnn --data sample --save_prefix runs/cnn --epochs 10
    python -m utils.train_fer --model resnet50 --data ../shared/data/fer2013/fer2013_train_publictest.zip \\
        --save_prefix runs/resnet50 --epochs 5 --fine_tune_epochs 5 --image_size 197

Models: ``cnn`` (``utils.models.fer_cnn`` with batch norm and dropout), ``resnet50`` (ImageNet
weights, faces upscaled to ``--image_size``; frozen base for ``--epochs``, then the whole
network fine-tuned for ``--fine_tune_epochs``) and ``resnet50_48`` (ResNet50 from scratch at
48x48). Writes ``NAME.keras`` (the best epoch by validation accuracy, written atomically) and
``NAME.log.csv`` (one row per epoch). ``--model_weights FILE`` starts from a saved model
(``.keras``) or weights file (``.weights.h5``) instead of a fresh one. Check the result with
``python -m utils.verify_model --model_weights NAME.keras --data ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

MODELS = ("cnn", "resnet50", "resnet50_48")


@dataclass
class TrainResult:
    """Where the model and its log went, and the final validation accuracy."""

    model_path: Path
    log_path: Path
    val_accuracy: float
    epochs_run: int
    seconds: float


def build_model(
    name: str, *, image_size: int = 96, imagenet: bool = True, dropout: float = 0.3
) -> keras.Model:
    """The model called ``name`` (one of :data:`MODELS`), uncompiled."""
    from utils.models import fer_cnn, resnet50_classifier

    if name == "cnn":
        return fer_cnn((32, 64, 128), 128, batch_norm=True, dropout=dropout, name="fer_cnn")
    if name == "resnet50":
        return resnet50_classifier(
            weights="imagenet" if imagenet else None,
            image_size=image_size,
            dropout=dropout,
            freeze=True,
        )
    if name == "resnet50_48":
        return resnet50_classifier(weights=None, image_size=48, dropout=dropout, freeze=False)
    raise ValueError(f"model={name!r}: expected one of {', '.join(MODELS)}")


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def _load_start(model: keras.Model | None, path: Path, build: str) -> keras.Model:
    """Start from a saved ``.keras`` model, or load ``.weights.h5`` into ``model``."""
    if path.name.endswith(".keras"):
        return keras.models.load_model(path, safe_mode=True, compile=False)
    if path.name.endswith(".weights.h5"):
        assert model is not None
        try:
            model.load_weights(path)
        except (ValueError, KeyError) as exc:
            raise ValueError(
                f"--model_weights {path}: does not fit the {build!r} model ({exc})"
            ) from exc
        return model
    raise ValueError(f"--model_weights {path}: expected a .keras or .weights.h5 file")


def _save_atomic(model: keras.Model, path: Path) -> None:
    """``model.save`` to a temporary ``.keras`` file beside ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _KeepBest(keras.callbacks.Callback):
    """Remember the weights of the epoch with the best validation accuracy (across phases)."""

    def __init__(self) -> None:
        super().__init__()
        self.best = -np.inf
        self.weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        acc = (logs or {}).get("val_accuracy")
        if acc is not None and acc > self.best:
            self.best = float(acc)
            self.weights = [np.array(w) for w in self.model.get_weights()]


def train(
    model_name: str,
    data: str,
    save_prefix: str | os.PathLike[str],
    *,
    epochs: int = 10,
    fine_tune_epochs: int = 0,
    model_weights: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    fine_tune_learning_rate: float = 1e-5,
    image_size: int = 96,
    imagenet: bool = True,
    augment: bool = True,
    class_weight: bool = False,
    limit: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 42,
    verbose: int = 2,
) -> TrainResult:
    """Train ``model_name`` on FER-2013 at ``data``; save ``save_prefix.keras`` and its log.

    ``data``: ``"sample"``, ``"kaggle"`` or a path (fer2013.csv, the msambare folders or their
    zip). The split is :func:`utils.pipelines.load_fer_splits` (train on Training, validate on
    PublicTest -- or on a 10% slice of Training when the data has no PrivateTest to test on).
    """
    from utils.config import resolve_data, set_seed
    from utils.pipelines import class_weights, load_fer_splits, make_dataset
    from utils.training import distribution_strategy

    if model_name not in MODELS:
        raise ValueError(f"model={model_name!r}: expected one of {', '.join(MODELS)}")
    if epochs < 1 or fine_tune_epochs < 0:
        raise ValueError(
            f"epochs={epochs}, fine_tune_epochs={fine_tune_epochs}: expected >= 1, >= 0"
        )
    if fine_tune_epochs and model_name != "resnet50":
        raise ValueError("fine_tune_epochs: only the pretrained 'resnet50' model has a frozen base")
    start_from = Path(model_weights) if model_weights is not None else None
    if start_from is not None and not start_from.is_file():
        raise FileNotFoundError(f"--model_weights {start_from}: no such file")
    set_seed(seed)
    prefix = Path(save_prefix)
    model_path = prefix.parent / (prefix.name + ".keras")
    log_path = prefix.parent / (prefix.name + ".log.csv")
    model_path.parent.mkdir(parents=True, exist_ok=True)

    splits = load_fer_splits(
        resolve_data(data, "fer2013"), val_fraction=val_fraction, seed=seed, limit=limit
    )
    (x_tr, y_tr), (x_val, y_val) = splits.train, splits.val
    print(f"FER-2013 at {data}: {splits.description}")
    print(f"train {len(y_tr)}, val {len(y_val)}, test {len(splits.test[1])} images")
    train_ds = make_dataset(x_tr, y_tr, augment=augment, batch_size=batch_size, seed=seed)
    val_ds = make_dataset(x_val, y_val, batch_size=256, shuffle=False)
    weights = class_weights(y_tr) if class_weight else None

    with distribution_strategy().scope():
        model = None
        if start_from is None or start_from.name.endswith(".weights.h5"):
            model = build_model(model_name, image_size=image_size, imagenet=imagenet)
        if start_from is not None:
            model = _load_start(model, start_from, model_name)
        assert model is not None
        _compile(model, learning_rate)
    if model.input_shape[1:] != x_tr.shape[1:]:
        raise ValueError(
            f"model input {model.input_shape[1:]} does not match the images {x_tr.shape[1:]}"
        )
    keep = _KeepBest()
    callbacks = [keras.callbacks.CSVLogger(str(log_path)), keep]
    t0 = time.perf_counter()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        class_weight=weights,
        callbacks=callbacks,
        verbose=verbose,
    )
    run = len(history.history.get("loss", []))
    if fine_tune_epochs:
        from utils.models import set_backbone_trainable

        with distribution_strategy().scope():
            n = set_backbone_trainable(model, True)
            _compile(model, fine_tune_learning_rate)
        print(f"fine-tuning the whole network: {n:,} trainable parameters")
        history = model.fit(
            train_ds,
            validation_data=val_ds,
            initial_epoch=run,
            epochs=run + fine_tune_epochs,
            class_weight=weights,
            callbacks=[keras.callbacks.CSVLogger(str(log_path), append=True), keep],
            verbose=verbose,
        )
        run += len(history.history.get("loss", []))
    if keep.weights is not None:
        model.set_weights(keep.weights)
    _save_atomic(model, model_path)
    seconds = time.perf_counter() - t0
    print(f"best val accuracy {keep.best:.4f}; saved {model_path} and {log_path} ({seconds:.0f} s)")
    return TrainResult(model_path, log_path, keep.best, run, seconds)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.train_fer",
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, choices=MODELS, help="architecture")
    parser.add_argument(
        "--data", required=True, help="'sample', 'kaggle', or fer2013.csv / msambare folder / zip"
    )
    parser.add_argument(
        "--save_prefix", required=True, help="writes PREFIX.keras and PREFIX.log.csv"
    )
    parser.add_argument(
        "--model_weights", default=None, help="start from this .keras model or .weights.h5 file"
    )
    parser.add_argument("--epochs", type=_positive_int, default=10)
    parser.add_argument(
        "--fine_tune_epochs", type=_non_negative_int, default=0, help="resnet50: then unfreeze"
    )
    parser.add_argument("--batch_size", type=_positive_int, default=64)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--fine_tune_learning_rate", type=float, default=1e-5)
    parser.add_argument(
        "--image_size", type=_positive_int, default=96, help="resnet50: upscale faces to this"
    )
    parser.add_argument(
        "--no_imagenet", action="store_true", help="resnet50: random weights, no download"
    )
    parser.add_argument("--no_augment", action="store_true", help="train without augmentation")
    parser.add_argument(
        "--class_weight", action="store_true", help="weight the loss by inverse class frequency"
    )
    parser.add_argument("--limit", type=_positive_int, default=None, help="at most N per split")
    parser.add_argument("--val_fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val_fraction {args.val_fraction}: expected a number between 0 and 1")
    if args.fine_tune_epochs and args.model != "resnet50":
        parser.error("--fine_tune_epochs: only --model resnet50 has a frozen base to fine-tune")
    if args.model_weights is not None:
        path = Path(args.model_weights)
        if not path.is_file():
            parser.error(f"--model_weights {path}: no such file")
        if not (path.name.endswith(".keras") or path.name.endswith(".weights.h5")):
            parser.error(f"--model_weights {path}: expected a .keras or .weights.h5 file")
    if args.model == "resnet50" and args.image_size < 32:
        parser.error(f"--image_size {args.image_size}: ResNet50 needs at least 32 pixels")
    try:
        train(
            args.model,
            args.data,
            args.save_prefix,
            epochs=args.epochs,
            fine_tune_epochs=args.fine_tune_epochs,
            model_weights=args.model_weights,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            fine_tune_learning_rate=args.fine_tune_learning_rate,
            image_size=args.image_size,
            imagenet=not args.no_imagenet,
            augment=not args.no_augment,
            class_weight=args.class_weight,
            limit=args.limit,
            val_fraction=args.val_fraction,
            seed=args.seed,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
