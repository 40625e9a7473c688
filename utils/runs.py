"""Long training runs that survive a stop: run state, checkpoints every epoch, exact resuming.

``python -m utils.train_fer --preset shipped`` and ``python -m utils.train_keypoints`` (the
shipped models' trainers) train this way:

* :func:`start_or_resume` checks the command line and returns the run's ``state`` (read back
  from ``--out/state.json`` with ``--resume``, else a new one recording settings and command);
* :func:`resume_or_build` gives the model: ``last.keras`` with its optimizer, or a new one;
* :func:`fit_resumable` trains one epoch at a time, writing ``last.keras``, ``best.keras``,
  ``log.csv`` and ``state.json`` after each, so an interrupted run continues exactly;
* :func:`fold_into_average` keeps a running mean of weights (stochastic weight averaging);
* :func:`warmup_cosine` is the learning-rate schedule, :func:`strip_optimizer` and
  :func:`with_flip_tta` prepare the file that is shipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from utils.io import atomic_save_model, atomic_write_text


def read_state(out: Path) -> dict[str, Any]:
    """The run's ``state.json`` (epochs done, best score, split, settings)."""
    path = out / "state.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no run to resume here. Start one without --resume, or pass the --out "
            "folder of an earlier run."
        )
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); expected the run's state") from exc
    return state


def write_state(out: Path, state: dict[str, Any]) -> None:
    atomic_write_text(out / "state.json", json.dumps(state, indent=2) + "\n")


def start_or_resume(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    *,
    command: str,
    default_data: Callable[[], Path | None],
    data_hint: str,
    new_settings: Callable[[], dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's state: read back from ``args.out`` with ``--resume``, else a fresh one.

    A resumed run must keep its data and its epoch count (the learning-rate schedule was built
    for it); a new run checks ``--data``, ``--epochs`` and ``--val-fraction`` and records the
    settings, the command line and the machine, so the model card can say how it was made.
    Problems are reported with ``parser.error`` (exit code 2), naming the argument.
    """
    if args.resume:
        state = read_state(args.out)
        if args.data is not None and Path(args.data).resolve() != Path(state["data"]).resolve():
            parser.error(f"--data {args.data} differs from the run's data {state['data']}")
        if args.epochs != parser.get_default("epochs") and args.epochs != state["epochs"]:
            parser.error(
                f"--epochs {args.epochs}: the run was started for {state['epochs']} epochs and "
                "its learning-rate schedule is built for that; start a new --out to change it"
            )
        return state
    if (args.out / "state.json").exists():
        parser.error(f"{args.out} already holds a run; pass --resume or choose another --out")
    data = args.data or default_data()
    if data is None:
        parser.error(f"--data: no file given and {data_hint} not found")
    if args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: expected a positive number of epochs")
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction {args.val_fraction}: expected a number between 0 and 1")
    words = argv if argv is not None else sys.argv[1:]
    return {
        "data": str(Path(data).resolve()),
        "epochs": args.epochs,
        "epochs_done": 0,
        "seed": args.seed,
        **(extra or {}),
        "settings": new_settings(),
        "best": None,
        "command": f"{command} " + " ".join(shlex.quote(a) for a in words),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
    }


def resume_or_build(
    args: argparse.Namespace, state: dict[str, Any], build: Callable[[], Any]
) -> Any:
    """The model to train: ``last.keras`` (with its optimizer) when resuming, else ``build()``.

    ``build`` returns a new, compiled model. A new run starts its log and state afresh.
    """
    import keras

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.resume and (out / "last.keras").exists() and state["epochs_done"] > 0:
        model = keras.models.load_model(out / "last.keras", safe_mode=True)
        print(f"resuming after epoch {state['epochs_done']} of {state['epochs']}", flush=True)
        return model
    state["epochs_done"], state["best"], state["train_seconds"] = 0, None, 0.0
    (out / "log.csv").unlink(missing_ok=True)
    model = build()
    print(f"{model.name}: {model.count_params():,} parameters", flush=True)
    write_state(out, state)
    return model


def fit_resumable(
    model: Any,
    out: Path,
    *,
    state: dict[str, Any],
    epoch_data: Callable[[int], Any],
    validation_data: tuple[np.ndarray, np.ndarray],
    batch_size: int,
    monitor: str,
    mode: str,
    log: Callable[[str], None] = print,
    after_epoch: Callable[[Any, int], object] | None = None,
) -> dict[str, Any]:
    """Train ``model`` one epoch at a time up to ``state["epochs"]``, checkpointing each epoch.

    ``epoch_data(epoch)`` returns that epoch's (augmented) training data -- arrays ``(x, y)``
    or a batched ``tf.data.Dataset`` -- and must depend only on the epoch number and the seed,
    so a resumed run sees the same data as an uninterrupted one. After every epoch: ``last.keras`` (with the optimizer, whose step counter drives the
    learning-rate schedule), ``best.keras`` when ``monitor`` improved, ``after_epoch(model,
    epoch)`` if given (epoch counted from 1), a ``log.csv`` row and ``state.json`` -- in that
    order, so ``state.json`` never claims an epoch that is not saved.
    """
    import keras
    import tensorflow as tf

    from utils.pipelines import without_autotune

    if mode not in ("min", "max"):
        raise ValueError(f"mode={mode!r}: expected 'min' or 'max'")
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
    log_path = out / "log.csv"
    epochs = int(state["epochs"])
    # One fit per epoch ends one tf.data iterator per epoch: keep the autotuner out of them
    # (see without_autotune), for the training batches and the validation batches alike.
    validation = without_autotune(tf.data.Dataset.from_tensor_slices(validation_data).batch(256))
    while state["epochs_done"] < epochs:
        epoch = int(state["epochs_done"])
        start = time.perf_counter()
        cpu = time.process_time()
        _restart_random_streams(model, int(state.get("seed", 0)), epoch)
        data = epoch_data(epoch)
        if isinstance(data, tuple):  # arrays: shuffled here, in an order set by seed and epoch
            x, y = data
            n_images = len(x)
            shuffle_seed = int(state.get("seed", 0)) * 1_000 + epoch
            data = (
                tf.data.Dataset.from_tensor_slices((x, y))
                .shuffle(len(x), seed=shuffle_seed)
                .batch(batch_size)
            )
        else:  # a batched dataset
            n_images = int(state.get("train_images", 0))
        history = model.fit(
            without_autotune(data),
            shuffle=False,
            initial_epoch=epoch,
            epochs=epoch + 1,
            validation_data=validation,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        rate = round(n_images / seconds, 1)
        logs = {k: float(v[-1]) for k, v in history.history.items()}
        learning_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        row = {
            "epoch": epoch + 1,
            **{k: round(v, 6) for k, v in sorted(logs.items())},
            "lr": f"{learning_rate:.3g}",
            "seconds": round(seconds, 1),
            "img_per_s": rate,
            "img_per_cpu_s": round(n_images / max(time.process_time() - cpu, 1e-9), 1),
        }
        score = logs[monitor]
        improved = state.get("best") is None or better(score, state["best"])
        atomic_save_model(model, out / "last.keras")
        if improved:
            atomic_save_model(model, out / "best.keras")
            state["best"], state["best_epoch"] = score, epoch + 1
        if after_epoch is not None:
            after_epoch(model, epoch + 1)
        new_file = not log_path.exists()
        with log_path.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        state["epochs_done"] = epoch + 1
        state["train_seconds"] = round(float(state.get("train_seconds", 0.0)) + seconds, 1)
        write_state(out, state)
        log(progress_line(state, score, monitor, improved, seconds, rate))
    return state


#: Where ``python -m utils.train_fer --resume --average-epochs N`` leaves the weight average,
#: relative to the run's ``--out`` (its own resumable run lives in that sub-folder).
AVERAGED_FILE = Path("average") / "averaged.keras"


def fold_into_average(model: Any, folder: Path, count: int) -> Path:
    """Add ``model``'s weights to a running mean of weights; returns the mean's file.

    ``folder/average-{count - 1}.keras`` holds the mean of the ``count - 1`` models folded in
    so far; this writes ``average-{count}.keras`` (a float32 copy without optimizer: the mean
    of those and ``model``) and removes the file before the previous one. So folding the same
    ``count`` again after a crash (a resumed epoch) starts from the right mean. Used for
    stochastic weight averaging (:func:`utils.train_fer.train_average`).
    """
    import keras

    if count < 1:
        raise ValueError(f"count={count!r}: expected 1 or more models in the mean")
    mean = strip_optimizer(model)
    if count > 1:
        previous = folder / f"average-{count - 1}.keras"
        if not previous.exists():
            raise FileNotFoundError(f"{previous}: the mean of the first {count - 1} models")
        before = keras.models.load_model(previous, safe_mode=True, compile=False).get_weights()
        mean.set_weights(
            [old + (new - old) / count for old, new in zip(before, mean.get_weights(), strict=True)]
        )
    target = folder / f"average-{count}.keras"
    atomic_save_model(mean, target)
    (folder / f"average-{count - 2}.keras").unlink(missing_ok=True)
    return target


def _restart_random_streams(model: Any, seed: int, epoch: int) -> None:
    """Put every layer's random stream (dropout masks...) where it is at the start of ``epoch``.

    Keras does not save a layer's ``seed_generator`` state in ``.keras`` files, so without this
    a resumed run would draw the dropout masks of epoch 1 again. Each layer's stream depends
    only on the run's seed, the layer's name and the epoch.
    """
    import zlib

    pending = list(getattr(model, "layers", []))
    while pending:
        layer = pending.pop()
        pending.extend(getattr(layer, "layers", []))
        generator = getattr(layer, "seed_generator", None)
        state = getattr(generator, "state", None)
        if state is not None:
            start = (zlib.crc32(layer.name.encode()) + seed) % 2**31
            state.assign(np.array([start, epoch << 20]).astype(state.dtype))


def progress_line(
    state: dict[str, Any], score: float, monitor: str, improved: bool, seconds: float, rate: float
) -> str:
    """``epoch 12/100 val_accuracy=0.6012 * (95 s, 287 img/s, ETA 2.3 h)``; ``*`` = new best.

    The ETA assumes the remaining epochs take as long as this run's epochs so far on average.
    """
    done, total = int(state["epochs_done"]), int(state["epochs"])
    per_epoch = float(state.get("train_seconds", seconds)) / max(done, 1)
    eta = (total - done) * per_epoch
    eta_text = f"{eta / 3600:.1f} h" if eta >= 3600 else f"{eta / 60:.0f} min"
    return (
        f"epoch {done}/{total} {monitor}={score:.4f}{' *' if improved else ''} "
        f"({seconds:.0f} s, {rate:g} img/s, ETA {eta_text})"
    )


def warmup_cosine(peak: float, total_steps: int, warmup_steps: int) -> Any:
    """AdamW's learning rate: linear warm-up from 0 to ``peak``, then cosine decay to 1%."""
    import keras

    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=0.01,
        warmup_target=peak,
        warmup_steps=warmup_steps,
    )


def _float32_config(config: Any) -> Any:
    """``config`` with every layer's dtype policy (``mixed_bfloat16``, ...) set to float32."""
    if isinstance(config, list):
        return [_float32_config(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
        return {**config, "config": {**config["config"], "name": "float32"}}
    return {key: _float32_config(value) for key, value in config.items()}


def strip_optimizer(model: Any) -> Any:
    """A float32 copy of ``model`` without its optimizer (the shipped file is ~3x smaller).

    A model trained under ``mixed_bfloat16`` keeps float32 weights anyway; the copy also
    *computes* in float32, so whoever loads the shipped file gets full-precision outputs.
    """
    import keras

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")  # layers without a policy of their own
    try:
        plain = type(model).from_config(_float32_config(model.get_config()))
    finally:
        keras.mixed_precision.set_global_policy(policy)
    plain.set_weights(model.get_weights())
    return plain


def with_flip_tta(model: Any, unflip: tuple[np.ndarray, np.ndarray] | None = None) -> Any:
    """Wrap ``model`` so it averages its outputs for the face and for the mirrored face.

    Built from built-in layers only, so the result still loads with ``safe_mode=True``: a
    ``Dense`` layer whose kernel is the anti-diagonal identity mirrors each image row exactly
    (column ``j`` takes column ``W - 1 - j``). ``unflip=(kernel, bias)`` is a fixed linear map
    applied to the mirrored face's outputs before averaging -- for keypoints, ``x -> W-1-x``
    with left/right names swapped; emotions need none.
    """
    import keras
    from keras import layers

    height, width, channels = model.input_shape[1:]
    if channels != 1:
        raise ValueError(f"model input {model.input_shape}: expected one grayscale channel")
    inputs = keras.Input((height, width, 1), name="face")
    rows = layers.Reshape((height, width), name="rows")(inputs)
    mirror = layers.Dense(width, use_bias=False, trainable=False, name="mirror")
    mirrored = layers.Reshape((height, width, 1), name="mirrored_face")(mirror(rows))
    direct = model(inputs)
    from_mirror = model(mirrored)
    if unflip is not None:
        back = layers.Dense(unflip[0].shape[1], trainable=False, name="unmirror_outputs")
        from_mirror = back(from_mirror)
        back.set_weights([unflip[0].astype(np.float32), unflip[1].astype(np.float32)])
    mirror.set_weights([np.eye(width, dtype=np.float32)[::-1]])
    outputs = layers.Average(name="flip_tta")([direct, from_mirror])
    return keras.Model(inputs, outputs, name=f"{model.name}_flip_tta")
