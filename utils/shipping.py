"""Publishing a trained run as a shipped model: evaluate, save, write the JSON and the model card.

``python -m utils.train_fer --out RUN --ship`` and ``python -m utils.train_keypoints --out RUN
--ship`` call these. Each evaluates the run's ``best.keras`` on the data it held out, decides
on that data alone whether flip test-time augmentation goes inside the file, saves a float32
copy without the optimizer under ``utils/pretrained/`` (checking that it loads in safe mode and
reproduces the evaluation), and writes the JSON sidecar and the Markdown model card from the
same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np

from utils.io import atomic_write, atomic_write_text
from utils.model_cards import emotion_card, keypoints_card
from utils.runs import AVERAGED_FILE, read_state, strip_optimizer, with_flip_tta
from utils.schema import EMOTIONS

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
MAX_SHIPPED_BYTES = 5_000_000
#: The emotion model's goal on PublicTest (with flip test-time augmentation).
EMOTION_TARGET = 0.69
#: In a distilled run's folder: what ``--teacher`` was (``utils.train_fer.teacher_facts``),
#: written when the run starts, so the card can say so after the teacher file is replaced.
TEACHER_FACTS = "teacher.json"


def class_report(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro F1, per-class precision/recall/F1 and the confusion matrix (rows = truth)."""
    pred = probs.argmax(axis=1)
    k = len(EMOTIONS)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, pred), 1)
    tp = np.diag(confusion).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / confusion.sum(axis=0))
        recall = np.nan_to_num(tp / confusion.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return {
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(confusion[i].sum()),
            }
            for i, name in enumerate(EMOTIONS)
        },
        "confusion_matrix": confusion.tolist(),
    }


def _probabilities(model: Any, images: np.ndarray, *, tta: bool) -> np.ndarray:
    """Softmax outputs for float faces; with ``tta`` averaged with the mirrored faces'."""
    probs = np.asarray(model.predict(images, batch_size=256, verbose=0), np.float64)
    if tta:
        mirrored = model.predict(images[:, :, ::-1], batch_size=256, verbose=0)
        probs = (probs + np.asarray(mirrored, np.float64)) / 2
    return probs


def _save_checked(model: Any, target: Path, check: np.ndarray, expected: np.ndarray) -> int:
    """Save ``model`` as ``target`` once it loads in safe mode and reproduces ``expected``.

    The file is written and checked under a temporary name; only a file that passes (size,
    safe-mode loading, outputs on ``check``) replaces ``target``. Returns its size in bytes.
    """

    def write_and_check(tmp: Path) -> None:
        model.save(tmp)
        size = tmp.stat().st_size
        if size > MAX_SHIPPED_BYTES:
            raise ValueError(f"{target}: {size / 1e6:.1f} MB; a shipped model must be <= 5 MB")
        got = keras.models.load_model(tmp, safe_mode=True).predict(check, verbose=0)
        if not np.allclose(got, expected, atol=1e-3):
            raise AssertionError(f"{target}: the saved model does not reproduce the evaluation")

    atomic_write(target, write_and_check)
    return target.stat().st_size


def shrink_to_fit(model: Any, limit: int = MAX_SHIPPED_BYTES, margin: int = 200_000) -> list[str]:
    """Store ``model``'s largest ``Dense`` kernels in int8 until its weights fit ``limit`` bytes.

    A float32 weight takes 4 bytes; Keras' ``layer.quantize("int8")`` keeps one byte per
    kernel weight plus a float32 scale per output, and quantizes the layer's inputs on the fly
    -- built-in, so the file still loads in safe mode. ``margin`` leaves room for the file's
    own overhead. Call it before the model's first prediction. Returns the quantized layers'
    names, largest first (none when the model already fits).
    """
    import keras

    def weight_bytes() -> int:
        return sum(int(np.asarray(w).nbytes) for w in model.weights)

    pending, dense = list(model.layers), []
    while pending:
        layer = pending.pop()
        pending.extend(getattr(layer, "layers", []))
        if isinstance(layer, keras.layers.Dense):
            dense.append(layer)
    quantized: list[str] = []
    for layer in sorted(dense, key=lambda d: d.count_params(), reverse=True):
        if weight_bytes() + margin <= limit:
            break
        layer.quantize("int8")
        quantized.append(layer.name)
    return quantized


def _hours(state: dict[str, Any], averaging: dict[str, Any] | None = None) -> dict[str, Any]:
    """Training time (the main run's plus the weight-averaging epochs', if any) and where."""
    precision = state["settings"].get("precision", "fp32")
    seconds = float(state.get("train_seconds", 0.0))
    seconds += float((averaging or {}).get("train_seconds", 0.0))
    return {
        "train_seconds": round(seconds, 1),
        "train_hours": round(seconds / 3600, 2),
        "precision": precision,
        "machine": state.get("machine", ""),
    }


def _best_float32(out: Path) -> tuple[dict[str, Any], Any]:
    """The run's state and a float32 copy of its ``best.keras`` without the optimizer.

    That copy is what gets shipped, so it is also what gets evaluated: training may have run
    in mixed bfloat16.
    """
    state = read_state(out)
    best = out / "best.keras"
    if not best.exists():
        raise FileNotFoundError(f"{best}: no best checkpoint yet; train at least one epoch first")
    return state, strip_optimizer(keras.models.load_model(best, safe_mode=True))


def _teacher(out: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """What a distilled run recorded of its teacher (``None`` for a run without one)."""
    if not settings.get("teacher"):
        return None
    path = out / TEACHER_FACTS
    if path.exists():
        facts: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return facts
    return {"file": Path(settings["teacher"]).name}


def ship_emotion(
    out: Path, *, pretrained_dir: Path = PRETRAINED_DIR, card_dir: Path = LESSONS_DIR
) -> dict[str, Any]:
    """Evaluate ``out/best.keras`` (validation slice, then PublicTest once) and publish it."""
    from utils.splits import fer_splits_of_run

    state, plain = _best_float32(Path(out))
    settings = state["settings"]
    splits = fer_splits_of_run(state)
    # The candidates: the best epoch, and the weight average if the run made one. The
    # validation slice alone chooses (with or without flip TTA, whichever is higher there).
    candidates = {"best": plain}
    averaging: dict[str, Any] | None = None
    if (Path(out) / AVERAGED_FILE).exists():
        averaging = read_state((Path(out) / AVERAGED_FILE).parent)
        candidates["averaged"] = strip_optimizer(
            keras.models.load_model(Path(out) / AVERAGED_FILE, safe_mode=True, compile=False)
        )
    x_val, y_val = splits.val
    on_validation = {
        name: {
            "plain": class_report(y_val, _probabilities(model, x_val, tta=False))["accuracy"],
            "flip_tta": class_report(y_val, _probabilities(model, x_val, tta=True))["accuracy"],
        }
        for name, model in candidates.items()
    }
    chosen = max(candidates, key=lambda name: max(on_validation[name].values()))  # ties: best
    plain = candidates[chosen]
    results: dict[str, Any] = {}
    for tta in (False, True):
        results["flip_tta" if tta else "plain"] = {
            name: class_report(y, _probabilities(plain, x, tta=tta))
            for name, (x, y) in (("validation", splits.val), ("public_test", splits.test))
        }
    # Flip TTA goes inside the shipped file only if it helps on the *validation* slice
    # (PublicTest only reports), so whoever loads the .keras gets it with no extra code.
    use_tta = (
        results["flip_tta"]["validation"]["accuracy"] > results["plain"]["validation"]["accuracy"]
    )
    shipped = with_flip_tta(plain) if use_tta else plain
    check = splits.test[0][:64]
    size = _save_checked(
        shipped,
        pretrained_dir / "emotion.keras",
        check,
        _probabilities(plain, check, tta=use_tta).astype(np.float32),
    )
    info = {
        "model": "emotion.keras",
        "input": "(48, 48, 1) float32 grayscale in [0, 1]",
        "output": "(7,) softmax probabilities in FER order",
        "emotions": EMOTIONS,
        "parameters": int(plain.count_params()),
        "file_bytes": size,
        "data": Path(state["data"]).name,
        "split": splits.description,
        "train_images": int(len(splits.train[1])),
        "validation_images": int(len(splits.val[1])),
        "public_test_images": int(len(splits.test[1])),
        "epochs_planned": int(state["epochs"]),
        "epochs_done": int(state["epochs_done"]),
        "best_epoch": int(state["best_epoch"]),
        "finished": bool(state["epochs_done"] >= state["epochs"]),
        "checkpoint": chosen,
        "validation_accuracy_by_checkpoint": {
            name: {k: round(v, 4) for k, v in scores.items()}
            for name, scores in on_validation.items()
        },
        "average_epochs": int(averaging["epochs_done"]) if averaging else 0,
        "average_lr": averaging["settings"]["average_lr"] if averaging else None,
        "flip_tta_in_model": bool(use_tta),
        "validation_accuracy": round(results["plain"]["validation"]["accuracy"], 4),
        "validation_accuracy_flip_tta": round(results["flip_tta"]["validation"]["accuracy"], 4),
        "public_test_accuracy": round(results["plain"]["public_test"]["accuracy"], 4),
        "public_test_accuracy_flip_tta": round(results["flip_tta"]["public_test"]["accuracy"], 4),
        "target_accuracy": EMOTION_TARGET,
        "results": results,
        **_hours(state, averaging),
        "teacher": _teacher(Path(out), settings),
        "seed": state["seed"],
        "settings": settings,
        "keras": keras.__version__,
    }
    atomic_write_text(pretrained_dir / "emotion.json", json.dumps(info, indent=2) + "\n")
    atomic_write_text(card_dir / "model_card_emotion.md", emotion_card(info))
    return info


# --------------------------------------------------------------------------------------------
# Keypoints
# --------------------------------------------------------------------------------------------


def evaluate_keypoints(
    model: Any, images: np.ndarray, keypoints: np.ndarray, flip_axis: float
) -> dict[str, Any]:
    """RMSE (overall and per keypoint, px) of ``model`` alone and with flip TTA."""
    from utils.keypoint_augmentation import mirror_keypoints
    from utils.metrics import per_keypoint_rmse, rmse_pixels
    from utils.schema import KEYPOINT_NAMES

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


def ship_keypoints(
    out: Path, *, pretrained_dir: Path = PRETRAINED_DIR, card_dir: Path = LESSONS_DIR
) -> dict[str, Any]:
    """Evaluate ``out/best.keras`` on the run's validation people and publish it."""
    from utils.data_keypoints import load_complete_faces
    from utils.keypoint_augmentation import PIXEL_AXIS, keypoint_unflip_map
    from utils.metrics import rmse_pixels

    state, full = _best_float32(Path(out))
    images, keypoints, subjects = load_complete_faces(Path(state["data"]))
    val_people = set(state["val_subjects"])
    is_val = np.isin(subjects, sorted(val_people))
    flip_axis = float(state["settings"].get("flip_axis", PIXEL_AXIS))
    # Too big for the size limit in float32? Store the largest dense kernels in int8 instead,
    # and evaluate what is shipped (a fresh copy: quantize before the first prediction).
    plain = strip_optimizer(full)
    quantized = shrink_to_fit(plain)
    full_rmse = evaluate_keypoints(full, images[is_val], keypoints[is_val], flip_axis)["rmse_px"]
    metrics = evaluate_keypoints(plain, images[is_val], keypoints[is_val], flip_axis)
    mean_face = keypoints[~is_val].mean(axis=0, keepdims=True)
    baseline = rmse_pixels(keypoints[is_val], np.repeat(mean_face, is_val.sum(), axis=0))
    # Flip TTA goes *inside* the shipped model when it helps on the validation people.
    tta_in_model = metrics["rmse_px_flip_tta"] < metrics["rmse_px"]
    shipped = with_flip_tta(plain, keypoint_unflip_map(flip_axis)) if tta_in_model else plain
    expected = metrics["predictions_flip_tta" if tta_in_model else "predictions"]
    size = _save_checked(
        shipped, pretrained_dir / "keypoints.keras", images[is_val][:64], expected[:64]
    )
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
        "train_people": int(len(set(subjects.tolist())) - len(val_people)),
        "train_frames": int((~is_val).sum()),
        "validation_people": len(val_people),
        "validation_frames": int(is_val.sum()),
        "validation_subjects": sorted(val_people),
        "epochs_planned": int(state["epochs"]),
        "epochs": int(state["epochs_done"]),
        "best_epoch": int(state["best_epoch"]),
        "validation_rmse_px": round(metrics[f"rmse_px{suffix}"], 4),
        "validation_rmse_px_network_alone": round(metrics["rmse_px"], 4),
        "validation_rmse_px_flip_tta": round(metrics["rmse_px_flip_tta"], 4),
        "int8_layers": quantized,
        "validation_rmse_px_float32_network": round(full_rmse, 4),
        "per_keypoint_rmse_px": metrics[f"per_keypoint_rmse_px{suffix}"],
        "mean_face_baseline_rmse_px": round(baseline, 4),
        "target_rmse_px": KEYPOINT_TARGET,
        **_hours(state),
        "seed": state["seed"],
        "settings": state["settings"],
        "keras": keras.__version__,
    }
    atomic_write_text(pretrained_dir / "keypoints.json", json.dumps(info, indent=2) + "\n")
    atomic_write_text(card_dir / "model_card_keypoints.md", keypoints_card(info))
    return info


#: The keypoint model's goal: mean RMSE on people it never saw, in pixels.
KEYPOINT_TARGET = 1.7
