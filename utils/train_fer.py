"""Train an emotion classifier on FER-2013 from the command line: quick runs, and the shipped model.

The shipped model ``utils/pretrained/emotion.keras`` is the ``shipped`` preset: the network
:func:`utils.models.fer_vgg`, the course's augmentation (:class:`utils.augmentation.AugmentConfig`
through :func:`utils.pipelines.make_dataset`) plus random erasing, AdamW with warm-up and
cosine decay, label smoothing, 100 epochs. It checkpoints every epoch into ``--out``, so it
survives being stopped::

    python -m data_scripts.download fer2013            # or pass any FER-2013 file with --data
    nice -n 10 python -m utils.train_fer --preset shipped --data FER2013_ZIP --out runs/emotion
    python -m utils.train_fer --out runs/emotion --resume   # after a stop: continues exactly
    python -m utils.train_fer --out runs/emotion --resume --average-epochs 10 --no-ship  # SWA
    python -m utils.train_fer --out runs/emotion --ship     # publish the better one + model card

``--average-epochs`` (:func:`train_average`) is stochastic weight averaging after the run;
``--ship`` publishes the best epoch or the average, whichever the validation slice prefers.
``--teacher MODEL.keras`` (a new ``--preset`` run) distils: the targets mix each label with the
teacher's probabilities (:func:`teacher_targets`), and the card says what the teacher was
(:func:`teacher_facts`).

``--precision auto`` (the default) trains in mixed bfloat16 where the CPU has AVX512_BF16 or
the GPU supports it (about twice as fast there), else in float32;
``python -m benchmarks.train_speed`` measures both on your machine.

Quick runs, as notebook 07 trains (one call, the best epoch saved)::

    python -m utils.train_fer --model cnn --data sample --save-prefix runs/cnn --epochs 10
    python -m utils.train_fer --model resnet50 --data FER2013_ZIP \\
        --save-prefix runs/resnet50 --epochs 5 --fine-tune-epochs 5 --image-size 197

Models: ``cnn`` (``utils.models.fer_cnn`` with batch norm and dropout), ``resnet50`` (ImageNet
weights, faces upscaled to ``--image-size``; frozen base for ``--epochs``, then the whole
network fine-tuned for ``--fine-tune-epochs``) and ``resnet50_48`` (ResNet50 from scratch at
48x48). Writes ``NAME.keras`` (the best epoch by validation accuracy, written atomically) and
``NAME.log.csv`` (one row per epoch). ``--model-weights FILE`` starts from a saved model
(``.keras``) or weights file (``.weights.h5``) instead of a fresh one. Check the result with
``python -m utils.verify_model --model-weights NAME.keras --data ...``. The old underscore
spellings (``--save_prefix``...) still work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.setup import quiet_tensorflow

quiet_tensorflow()  # before Keras loads it: TensorFlow's C++ start-up lines mean nothing here

import keras  # noqa: E402
import numpy as np  # noqa: E402

from utils.io import atomic_save_model, atomic_write, atomic_write_text  # noqa: E402
from utils.models import FER_CLASSES  # noqa: E402

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
    zip). The split is :func:`utils.splits.load_fer_splits` (train on Training, validate on
    PublicTest -- or on a 10% slice of Training when the data has no PrivateTest to test on).
    """
    from utils.config import resolve_data
    from utils.imbalance import class_weights
    from utils.pipelines import make_dataset
    from utils.seeding import set_seed
    from utils.splits import load_fer_splits
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
    atomic_save_model(model, model_path)
    seconds = time.perf_counter() - t0
    print(f"best val accuracy {keep.best:.4f}; saved {model_path} and {log_path} ({seconds:.0f} s)")
    return TrainResult(model_path, log_path, keep.best, run, seconds)


# --------------------------------------------------------------------------------------------
# The shipped model's recipe: a resumable run in --out
# --------------------------------------------------------------------------------------------

#: ``--preset shipped``: how ``utils/pretrained/emotion.keras`` is trained. The choices were
#: calibrated on a 10% slice of Training held out for it (never on PublicTest).
SHIPPED: dict[str, object] = {
    "model": "vgg",
    "widths": [32, 64, 128, 256],
    "dropout": 0.4,
    "epochs": 100,
    "batch_size": 128,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "warmup_epochs": 3,
    "label_smoothing": 0.1,
    "val_fraction": 0.05,
    "erase": 0.5,
}


def _one_hot(images: object, labels: object) -> tuple[object, object]:
    import tensorflow as tf

    return images, tf.one_hot(labels, FER_CLASSES)


def train_shipped(
    args: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> dict[str, Any]:
    """Train (or continue, with ``--resume``) the shipped recipe in ``args.out``; returns the state.

    Every epoch gets its own shuffle and augmentation seed, derived from the run's seed and the
    epoch number, so a run stopped and resumed sees exactly the data an uninterrupted run would.
    """
    from utils.config import resolve_data
    from utils.precision import precision_scope, resolve_precision
    from utils.runs import start_or_resume

    if args.data is not None:
        args.data = resolve_data(args.data, "fer2013")
    state = start_or_resume(
        parser,
        args,
        argv,
        command="python -m utils.train_fer",
        default_data=lambda: Path(resolve_data(args.data or "kaggle", "fer2013")),
        data_hint="FER-2013 (python -m data_scripts.download fer2013)",
        new_settings=lambda: {
            **SHIPPED,
            "epochs": args.epochs,
            "val_fraction": args.val_fraction,
            "limit": args.limit,
            "precision": resolve_precision(args.precision),
            "teacher": str(Path(args.teacher).resolve()) if args.teacher else None,
            "teacher_weight": args.teacher_weight if args.teacher else None,
        },
    )
    settings = state["settings"]
    with precision_scope(str(settings["precision"])) as precision:
        return _train_shipped(args, state, precision)


def _train_shipped(
    args: argparse.Namespace, state: dict[str, Any], precision: str
) -> dict[str, Any]:
    from utils.models import fer_vgg
    from utils.runs import fit_resumable, resume_or_build, warmup_cosine
    from utils.seeding import set_seed
    from utils.splits import fer_splits_of_run

    settings = state["settings"]
    set_seed(int(state["seed"]))
    splits = fer_splits_of_run(state)
    (x_train, y_train), (x_val, y_val) = splits.train, splits.val
    print(f"{splits.description}; {len(y_train)} training, {len(y_val)} validation images")
    print(f"precision: {precision}", flush=True)
    batch = int(settings["batch_size"])

    def build() -> keras.Model:
        model = fer_vgg(settings["widths"], dropout=float(settings["dropout"]))
        steps = -(-len(y_train) // batch)
        learning_rate = warmup_cosine(
            float(settings["lr"]),
            steps * int(state["epochs"]),
            steps * int(settings["warmup_epochs"]),
        )
        _compile_shipped(model, settings, learning_rate)
        return model

    model = resume_or_build(args, state, build)
    state["train_images"] = len(y_train)
    targets = _training_targets(args.out, settings, x_train, y_train)
    epoch_data = _epoch_datasets(settings, int(state["seed"]), x_train, y_train, targets)
    fit_resumable(
        model,
        args.out,
        state=state,
        epoch_data=epoch_data,
        validation_data=(x_val, np.eye(FER_CLASSES, dtype=np.float32)[y_val]),
        batch_size=batch,
        monitor="val_accuracy",
        mode="max",
        log=lambda line: print(line, flush=True),
    )
    return state


def _compile_shipped(model: keras.Model, settings: dict[str, Any], learning_rate: Any) -> None:
    """Compile ``model`` as the shipped recipe trains it, at ``learning_rate`` (or schedule)."""
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=learning_rate, weight_decay=float(settings["weight_decay"])
        ),
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=float(settings["label_smoothing"])
        ),
        metrics=["accuracy"],
        # Keras' choice: XLA on a GPU, off on a CPU, where it measured slower in bfloat16
        # and no faster in float32 on a busy machine (python -m benchmarks.train_speed).
        jit_compile="auto",
    )


def _epoch_datasets(
    settings: dict[str, Any],
    seed: int,
    images: np.ndarray,
    labels: np.ndarray,
    targets: np.ndarray | None = None,
) -> Any:
    """``epoch -> dataset``: that epoch's shuffled, augmented batches of one-hot labels, or of
    the rows of ``targets`` (soft labels, one row per image) when given.

    Each epoch's shuffle and augmentation come from the run's seed and the epoch number only,
    so a resumed run sees exactly the data an uninterrupted one would.
    """
    import tensorflow as tf

    from utils.augmentation import AugmentConfig
    from utils.pipelines import make_dataset

    config = AugmentConfig(erase=float(settings["erase"]))
    batch = int(settings["batch_size"])
    # With soft targets the pipeline carries each image's row number, looked up after batching.
    table = None if targets is None else tf.constant(targets, tf.float32)

    def epoch_data(epoch: int) -> object:
        dataset = make_dataset(
            images,
            labels if table is None else np.arange(len(images)),
            augment=config,
            backend="opencv",
            batch_size=batch,
            seed=seed * 1_000 + epoch,
        )
        if table is None:
            return dataset.map(_one_hot)
        return dataset.map(lambda x, rows: (x, tf.gather(table, rows)))

    return epoch_data


def teacher_targets(
    teacher: keras.Model, images: np.ndarray, labels: np.ndarray, weight: float
) -> np.ndarray:
    """Soft labels for distillation: ``(1 - weight) * one-hot label + weight * teacher's view``.

    The teacher (any model with FER-2013's 7 outputs) looks at each face and at its mirror
    image, and its two answers are averaged. FER-2013's labels are noisy (people agree on
    about two faces in three) and a face can show two emotions at once; a good teacher's
    probabilities say "mostly sad, a little fear" where the label can only say "sad", and a
    student trained towards them learns from that (Hinton et al., *Distilling the Knowledge
    in a Neural Network*, 2015). The targets are computed once, on the un-augmented faces.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"teacher weight {weight!r}: expected a number in [0, 1]")
    if tuple(teacher.output_shape) != (None, FER_CLASSES):
        raise ValueError(
            f"teacher output {teacher.output_shape}: expected (None, {FER_CLASSES}) probabilities"
        )
    probs = teacher.predict(images, batch_size=256, verbose=0)
    probs = (probs + teacher.predict(images[:, :, ::-1], batch_size=256, verbose=0)) / 2
    one_hot = np.eye(FER_CLASSES, dtype=np.float32)[labels]
    return ((1 - weight) * one_hot + weight * probs).astype(np.float32)


#: Where a run keeps its teacher's soft labels, so a resumed run trains towards the same ones.
TEACHER_TARGETS = "teacher_targets.npy"
#: The facts of a teacher's JSON sidecar (``emotion.json`` beside ``emotion.keras``) that the
#: student's card repeats: how the teacher was trained, and how well it did.
_TEACHER_KEYS = (
    "epochs_done",
    "average_epochs",
    "train_hours",
    "precision",
    "validation_accuracy_flip_tta",
    "public_test_accuracy_flip_tta",
    "settings",
    "teacher",  # a teacher distilled itself: what it recorded of its own teacher
)


def teacher_facts(teacher: Path) -> dict[str, Any]:
    """What a distilled model's card says of its teacher: the file's name and, if the teacher
    has a JSON sidecar (a shipped model does), how it was trained and how well it did.

    Recorded when the run starts, because shipping the student replaces a shipped teacher.
    """
    facts: dict[str, Any] = {"file": teacher.name}
    sidecar = teacher.with_suffix(".json")
    if sidecar.is_file():
        try:
            known = json.loads(sidecar.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{sidecar}: not valid JSON ({exc}); expected the teacher model's JSON sidecar"
            ) from exc
        facts.update({key: known[key] for key in _TEACHER_KEYS if key in known})
    return facts


def _training_targets(
    out: Path, settings: dict[str, Any], images: np.ndarray, labels: np.ndarray
) -> np.ndarray | None:
    """The run's soft labels (``--teacher``): read back from ``out``, or computed and saved."""
    if not settings.get("teacher"):
        return None
    path = out / TEACHER_TARGETS
    if path.exists():
        targets = np.load(path, allow_pickle=False)
        if targets.shape != (len(labels), FER_CLASSES):
            raise ValueError(
                f"{path}: shape {targets.shape}, expected ({len(labels)}, {FER_CLASSES}); "
                "it belongs to another split -- remove it to compute the targets again"
            )
        return targets
    from utils.shipping import TEACHER_FACTS

    teacher = keras.models.load_model(settings["teacher"], safe_mode=True, compile=False)
    targets = teacher_targets(teacher, images, labels, float(settings["teacher_weight"]))
    facts = teacher_facts(Path(settings["teacher"]))
    atomic_write_text(out / TEACHER_FACTS, json.dumps(facts, indent=2) + "\n")
    atomic_write(path, lambda tmp: np.save(tmp, targets, allow_pickle=False))
    # The teacher's own answers (the targets less the label's share): how often it agrees
    weight = float(settings["teacher_weight"])
    own = (
        targets - (1 - weight) * np.eye(FER_CLASSES, dtype=np.float32)[labels]
        if weight
        else targets
    )
    agree = float((own.argmax(axis=1) == labels).mean())
    print(
        f"teacher {Path(settings['teacher']).name}: its own answer agrees with the label on "
        f"{agree:.1%} of the training faces"
    )
    return targets


#: ``--average-epochs``: the constant learning rate of the averaging epochs (a tenth of the
#: recipe's peak, as in Izmailov et al. 2018).
AVERAGE_LR = 1e-4


def train_average(
    args: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> dict[str, Any]:
    """``--resume --average-epochs N``: stochastic weight averaging after a finished run.

    Training goes on from the run's ``last.keras`` for N more epochs at a small constant
    learning rate (``--average-lr``), and the weights at the end of each of those epochs are
    averaged (:func:`utils.runs.fold_into_average`). Each epoch's weights sit at a different
    spot near the bottom of the loss valley; their mean lies nearer its centre, where a model
    tends to generalise better (Izmailov et al., *Averaging Weights Leads to Wider Optima and
    Better Generalization*, 2018). The mean's batch-norm statistics are then re-estimated on
    the training faces (:func:`utils.transfer.recalibrate_batch_norm`): averaged weights need
    statistics of their own. It all goes in ``--out/average``, checkpointed every epoch like
    the main run (``--resume --average-epochs N`` again continues it); ``--ship`` publishes
    whichever of ``best.keras`` and ``average/averaged.keras`` scores higher on the
    validation slice. Returns the averaging run's state.
    """
    from utils.precision import precision_scope
    from utils.runs import (
        AVERAGED_FILE,
        fit_resumable,
        fold_into_average,
        read_state,
        write_state,
    )
    from utils.seeding import set_seed
    from utils.splits import fer_splits_of_run

    main = read_state(args.out)
    if int(main["epochs_done"]) < int(main["epochs"]):
        parser.error(
            f"--average-epochs: the run in {args.out} has done {main['epochs_done']} of its "
            f"{main['epochs']} epochs; finish it first (--resume without --average-epochs)"
        )
    out = args.out / AVERAGED_FILE.parent
    out.mkdir(exist_ok=True)
    if (out / "state.json").exists():
        state = read_state(out)
        if int(state["epochs"]) != args.average_epochs:
            parser.error(
                f"--average-epochs {args.average_epochs}: {out} holds an averaging run of "
                f"{state['epochs']} epochs; pass that, or remove the folder to start again"
            )
    else:
        words = argv if argv is not None else sys.argv[1:]
        state = {
            "data": main["data"],
            "epochs": args.average_epochs,
            "epochs_done": 0,
            "seed": main["seed"],
            "start_epoch": int(main["epochs_done"]),
            "settings": {**main["settings"], "average_lr": args.average_lr or AVERAGE_LR},
            "best": None,
            "command": "python -m utils.train_fer " + " ".join(words),
            "machine": main.get("machine", ""),
        }
        write_state(out, state)
    settings = state["settings"]
    set_seed(int(state["seed"]))
    with precision_scope(str(settings["precision"])):
        splits = fer_splits_of_run(state)
        (x_train, y_train), (x_val, y_val) = splits.train, splits.val
        if int(state["epochs_done"]) > 0:
            model = keras.models.load_model(out / "last.keras", safe_mode=True)
            print(f"resuming averaging after epoch {state['epochs_done']} of {state['epochs']}")
        else:
            model = keras.models.load_model(args.out / "last.keras", safe_mode=True)
            _compile_shipped(model, settings, float(settings["average_lr"]))
        state["train_images"] = len(y_train)
        targets = _training_targets(args.out, settings, x_train, y_train)
        datasets = _epoch_datasets(settings, int(state["seed"]), x_train, y_train, targets)
        fit_resumable(
            model,
            out,
            state=state,
            # the epochs after the main run's: new shuffles and augmentations
            epoch_data=lambda epoch: datasets(int(state["start_epoch"]) + epoch),
            validation_data=(x_val, np.eye(FER_CLASSES, dtype=np.float32)[y_val]),
            batch_size=int(settings["batch_size"]),
            monitor="val_accuracy",
            mode="max",
            log=lambda line: print(f"averaging {line}", flush=True),
            after_epoch=lambda trained, count: fold_into_average(trained, out, count),
        )
    if "val_accuracy" not in state:
        from utils.transfer import recalibrate_batch_norm

        averaged = keras.models.load_model(
            out / f"average-{state['epochs']}.keras", safe_mode=True, compile=False
        )
        recalibrate_batch_norm(averaged, x_train)
        probs = averaged.predict(x_val, batch_size=256, verbose=0)
        state["val_accuracy"] = round(float((probs.argmax(axis=1) == y_val).mean()), 4)
        atomic_save_model(averaged, args.out / AVERAGED_FILE)
        write_state(out, state)
        for partial in out.glob("average-*.keras"):  # the running means, no longer needed
            partial.unlink()
    return state


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1 (a positive number)")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.train_fer",
        description=(__doc__ or "").splitlines()[0],
        epilog=(
            "examples:\n"
            "  python -m utils.train_fer --model cnn --data sample --save-prefix runs/cnn\n"
            "  python -m utils.train_fer --preset shipped --data FER2013_ZIP --out runs/emotion\n"
            "  python -m utils.train_fer --out runs/emotion --resume"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_argument_group("what to train")
    mode.add_argument("--model", choices=MODELS, help="a quick run of this architecture")
    mode.add_argument(
        "--preset", choices=["shipped"], help="the shipped model's recipe, resumable, in --out"
    )
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--ship", action="store_true", help="publish --out/best.keras and exit")
    mode.add_argument("--no-ship", action="store_true", help="do not publish after --preset")
    mode.add_argument(
        "--average-epochs",
        type=_positive_int,
        default=None,
        help="with --resume, after the run: N more epochs whose weights are averaged (SWA)",
    )
    mode.add_argument(
        "--average-lr",
        type=float,
        default=None,
        help=f"--average-epochs: the constant learning rate (default {AVERAGE_LR:g})",
    )
    parser.add_argument(
        "--data", default=None, help="'sample', 'kaggle', or fer2013.csv / msambare folder / zip"
    )
    parser.add_argument("--out", type=Path, default=None, help="--preset: checkpoints and log")
    parser.add_argument(
        "--save-prefix", "--save_prefix", dest="save_prefix", help="--model: PREFIX.keras + log"
    )
    parser.add_argument(
        "--model-weights",
        "--model_weights",
        dest="model_weights",
        default=None,
        help="--model: start from this .keras model or .weights.h5 file",
    )
    parser.add_argument("--epochs", type=_positive_int, default=None, help="default 10; preset 100")
    parser.add_argument(
        "--fine-tune-epochs",
        "--fine_tune_epochs",
        dest="fine_tune_epochs",
        type=_non_negative_int,
        default=0,
        help="resnet50: then unfreeze the base for this many epochs",
    )
    parser.add_argument(
        "--batch-size", "--batch_size", dest="batch_size", type=_positive_int, default=64
    )
    parser.add_argument(
        "--learning-rate", "--learning_rate", dest="learning_rate", type=float, default=1e-3
    )
    parser.add_argument(
        "--fine-tune-learning-rate",
        "--fine_tune_learning_rate",
        dest="fine_tune_learning_rate",
        type=float,
        default=1e-5,
    )
    parser.add_argument(
        "--image-size",
        "--image_size",
        dest="image_size",
        type=_positive_int,
        default=96,
        help="resnet50: upscale faces to this",
    )
    parser.add_argument(
        "--no-imagenet",
        "--no_imagenet",
        dest="no_imagenet",
        action="store_true",
        help="resnet50: random weights, no download",
    )
    parser.add_argument(
        "--no-augment",
        "--no_augment",
        dest="no_augment",
        action="store_true",
        help="no augmentation",
    )
    parser.add_argument(
        "--class-weight",
        "--class_weight",
        dest="class_weight",
        action="store_true",
        help="weight the loss by inverse class frequency",
    )
    parser.add_argument("--limit", type=_positive_int, default=None, help="at most N per split")
    parser.add_argument(
        "--val-fraction", "--val_fraction", dest="val_fraction", type=float, default=None
    )
    parser.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="auto: mixed bfloat16 where the CPU/GPU is fast at it, else float32",
    )
    parser.add_argument(
        "--teacher",
        default=None,
        help="--preset: distil from this .keras emotion model (soft labels, see --teacher-weight)",
    )
    parser.add_argument(
        "--teacher-weight",
        type=float,
        default=0.5,
        help="--teacher: targets are (1 - W) * label + W * teacher's probabilities (default 0.5)",
    )
    parser.add_argument("--seed", type=int, default=42)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.val_fraction is not None and not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction {args.val_fraction}: expected a number between 0 and 1")
    if args.preset or args.resume or args.ship:
        return _main_run(parser, args, argv)
    if args.model is None:
        parser.error("choose --model NAME (a quick run) or --preset shipped (the shipped model)")
    if args.save_prefix is None:
        parser.error("--model: --save-prefix PREFIX is required (writes PREFIX.keras)")
    if args.data is None:
        parser.error("--model: --data is required ('sample', 'kaggle' or a FER-2013 file)")
    if args.fine_tune_epochs and args.model != "resnet50":
        parser.error("--fine-tune-epochs: only --model resnet50 has a frozen base to fine-tune")
    if args.model_weights is not None:
        path = Path(args.model_weights)
        if not path.is_file():
            parser.error(f"--model-weights {path}: no such file")
        if not (path.name.endswith(".keras") or path.name.endswith(".weights.h5")):
            parser.error(f"--model-weights {path}: expected a .keras or .weights.h5 file")
    if args.model == "resnet50" and args.image_size < 32:
        parser.error(f"--image-size {args.image_size}: ResNet50 needs at least 32 pixels")
    from utils.precision import precision_scope

    try:
        with precision_scope(args.precision):
            train_quick(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def train_quick(args: argparse.Namespace) -> TrainResult:
    """``--model NAME``: :func:`train` with the command line's options."""
    return train(
        args.model,
        args.data,
        args.save_prefix,
        epochs=args.epochs or 10,
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
        val_fraction=args.val_fraction or 0.1,
        seed=args.seed,
    )


def _main_run(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None
) -> int:
    """``--preset shipped`` / ``--resume`` / ``--ship``: the resumable run in ``--out``."""
    from utils.shipping import ship_emotion

    if args.out is None:
        parser.error("--preset/--resume/--ship: --out DIR is required (the run's folder)")
    if args.model is not None:
        parser.error("--model is for quick runs; --preset shipped sets its own network")
    if args.ship:
        try:
            info = ship_emotion(args.out)
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(
            f"shipped emotion.keras: PublicTest {info['public_test_accuracy']:.4f} "
            f"(flip TTA {info['public_test_accuracy_flip_tta']:.4f})"
        )
        return 0
    if args.average_epochs is not None or args.average_lr is not None:
        if not args.resume or args.average_epochs is None:
            parser.error("--average-epochs N goes with --resume: it continues a finished run")
        if args.average_lr is not None and not 0 < args.average_lr < 1:
            parser.error(f"--average-lr {args.average_lr}: expected a number between 0 and 1")
        try:
            averaged = train_average(args, parser, argv)
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"averaged weights: validation accuracy {averaged['val_accuracy']:.4f}")
        if not args.no_ship:
            info = ship_emotion(args.out)
            print(f"shipped emotion.keras: PublicTest {info['public_test_accuracy']:.4f}")
        return 0
    if args.teacher is not None:
        if args.resume or not Path(args.teacher).is_file():
            parser.error(
                f"--teacher {args.teacher}: expected an existing .keras file, for a new --preset "
                "run (a resumed run keeps the teacher it started with)"
            )
        if not 0 <= args.teacher_weight <= 1:
            parser.error(f"--teacher-weight {args.teacher_weight}: expected a number in [0, 1]")
    if not args.resume:
        args.epochs = args.epochs or SHIPPED["epochs"]
        args.val_fraction = args.val_fraction or SHIPPED["val_fraction"]
    try:
        train_shipped(args, parser, argv)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.no_ship:
        info = ship_emotion(args.out)
        print(f"shipped emotion.keras: PublicTest {info['public_test_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
