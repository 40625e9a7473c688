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
from utils.runs import AVERAGED_FILE, read_state, strip_optimizer, with_flip_tta
from utils.schema import EMOTIONS

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
MAX_SHIPPED_BYTES = 5 * 1024 * 1024
#: The emotion model's goal on PublicTest (with flip test-time augmentation).
EMOTION_TARGET = 0.69


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
        "seed": state["seed"],
        "settings": settings,
        "keras": keras.__version__,
    }
    atomic_write_text(pretrained_dir / "emotion.json", json.dumps(info, indent=2) + "\n")
    atomic_write_text(card_dir / "model_card_emotion.md", emotion_card(info))
    return info


def _averaging_text(info: dict[str, Any]) -> str:
    """The model card's line on stochastic weight averaging: done or not, and which won."""
    if not info.get("average_epochs"):
        return "- No weight averaging: the shipped weights are the best epoch's."
    scores = info["validation_accuracy_by_checkpoint"]
    best, averaged = (max(scores[name].values()) for name in ("best", "averaged"))
    chosen = "the average" if info["checkpoint"] == "averaged" else "the best epoch"
    return (
        f"- Then stochastic weight averaging: {info['average_epochs']} more epochs at a "
        f"constant learning rate of {info['average_lr']:g}, the weights after each averaged "
        "and the batch-norm statistics re-estimated on the training faces. On the validation "
        f"slice the best epoch scored {best:.1%} and the average {averaged:.1%}; the shipped "
        f"file holds {chosen}."
    )


def emotion_card(info: dict[str, Any]) -> str:
    """The Markdown model card for ``emotion.keras``, from its JSON sidecar alone."""
    tta = info["flip_tta_in_model"]
    public = info["results"]["flip_tta" if tta else "plain"]["public_test"]
    per_class = "\n".join(
        f"| {name} | {c['precision']:.2f} | {c['recall']:.2f} | {c['f1']:.2f} | {c['support']} |"
        for name, c in public["per_class"].items()
    )
    header = "| truth \\ predicted | " + " | ".join(EMOTIONS) + " |"
    rule = "|---|" + "---:|" * len(EMOTIONS)
    matrix = "\n".join(
        f"| {name} | " + " | ".join(str(v) for v in row) + " |"
        for name, row in zip(EMOTIONS, public["confusion_matrix"], strict=True)
    )
    shown = info["public_test_accuracy_flip_tta" if tta else "public_test_accuracy"]
    average = (  # the reproduce step for the weight averaging, when the run had one
        "    python -m utils.train_fer --out runs/emotion --resume "
        f"--average-epochs {info['average_epochs']} --no-ship\n"
        if info.get("average_epochs")
        else ""
    )
    s = info["settings"]
    status = (
        f"finished all {info['epochs_planned']} epochs"
        if info["finished"]
        else f"**unfinished**: {info['epochs_done']} of {info['epochs_planned']} epochs done"
    )
    verdict = "meets" if shown >= info["target_accuracy"] else "is below"
    precision = {"bf16": "mixed bfloat16", "fp32": "float32"}.get(info["precision"], "float32")
    tta_text = (
        "The file holds the network *with flip test-time augmentation built in* (it also "
        "classifies the mirrored face, mirrored by a fixed `Dense` layer, and averages the "
        "probabilities), because that helped on the validation slice."
        if tta
        else "The file holds the network alone: flip test-time augmentation did not help on "
        "the validation slice."
    )
    return f"""# Model card: `utils/pretrained/emotion.keras`

*Generated by `python -m utils.train_fer --out RUN --ship` from `emotion.json`; do not edit
by hand -- re-run the command.*

## What it does
Classifies a 48x48 grayscale face into the 7 FER-2013 emotions (angry, disgust, fear, happy,
sad, surprise, neutral). Input `(48, 48, 1)` float32 in [0, 1]; output softmax `(7,)` in FER
order. Use it through `utils.inference.predict_emotions(faces)` (uint8 faces).
{tta_text}

## Status: {status}
PublicTest accuracy {shown:.1%} (the shipped file); the course's goal is
{info["target_accuracy"]:.0%}, which it {verdict}.

## Data
FER-2013 (`{info["data"]}`, Kaggle's `msambare/fer2013` layout): {info["split"]}.
{info["train_images"]:,} training images; the {info["validation_images"]:,}-image validation
slice chose the best epoch and whether flip TTA goes into the file; PublicTest
({info["public_test_images"]:,} images) was evaluated once, when shipping. PrivateTest is
FER-2013's held-out third; it was not used.

## Architecture and training
- `utils.models.fer_vgg(widths={s["widths"]}, dropout={s["dropout"]})`: 4 blocks of two 3x3
  conv + batch norm + ReLU, max-pool after each, global average pooling, dropout, dense
  softmax. {info["parameters"]:,} parameters, {info["file_bytes"] / 1e6:.1f} MB, built-in
  Keras layers only (loads with `safe_mode=True`).
- Each epoch every face gets a fresh random flip, rotation, zoom, shift and contrast change
  (`utils.augmentation.AugmentConfig()`, OpenCV warps in the `tf.data` pipeline, outside the
  model) and, with probability {s["erase"]}, random erasing of a rectangle.
- AdamW (peak learning rate {s["lr"]}, weight decay {s["weight_decay"]}),
  {s["warmup_epochs"]} warm-up epochs then cosine decay over {info["epochs_planned"]} epochs,
  label smoothing {s["label_smoothing"]}, batch {s["batch_size"]}; best epoch by validation
  accuracy: {info["best_epoch"]}.
{_averaging_text(info)}
- Training: {info["train_hours"]:.2f} h in {precision} on {info["machine"]} (niced, shared
  with other work), seed {info["seed"]}.

## Reproduce
    python -m data_scripts.download fer2013
    nice -n 10 python -m utils.train_fer --preset shipped --data FER2013_ZIP --out runs/emotion
    python -m utils.train_fer --out runs/emotion --resume   # if it was stopped
{average}    python -m utils.train_fer --out runs/emotion --ship

`FER2013_ZIP` is the downloaded archive (or its folder). On a CPU without AVX512_BF16 add
`--precision fp32` (about twice the time); `python -m benchmarks.train_speed` measures both.

## Results
| split | accuracy | with flip TTA |
|---|---:|---:|
| validation slice of Training | {info["validation_accuracy"]:.1%} | {info["validation_accuracy_flip_tta"]:.1%} |
| PublicTest | {info["public_test_accuracy"]:.1%} | {info["public_test_accuracy_flip_tta"]:.1%} |

Per class on PublicTest (the shipped file), macro F1 {public["macro_f1"]:.3f}:

| emotion | precision | recall | F1 | images |
|---|---:|---:|---:|---:|
{per_class}

Confusion matrix on PublicTest (rows: true emotion, columns: predicted):

{header}
{rule}
{matrix}

## Limitations
- FER-2013's labels are noisy (human agreement is estimated at ~65%); "disgust" has very few
  examples and is the weakest class; "fear" and "sad" are often confused with each other
  and with "neutral".
- The faces are web images of mostly adults, cropped and aligned by the data set's authors:
  faces cropped another way (use `utils.faces`) or other populations will score lower.
- It recognises posed or obvious expressions in a photo, not anyone's felt emotion: do not
  use it to judge people.
"""


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

    state, plain = _best_float32(Path(out))
    images, keypoints, subjects = load_complete_faces(Path(state["data"]))
    val_people = set(state["val_subjects"])
    is_val = np.isin(subjects, sorted(val_people))
    flip_axis = float(state["settings"].get("flip_axis", PIXEL_AXIS))
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


def keypoints_card(info: dict[str, Any]) -> str:
    """The Markdown model card for ``keypoints.keras``, from its JSON sidecar alone."""
    rows = "\n".join(
        f"| {name} | {value:.2f} |" for name, value in info["per_keypoint_rmse_px"].items()
    )
    s = info["settings"]
    tta = info["flip_tta_in_model"]
    precision = {"bf16": "mixed bfloat16", "fp32": "float32"}.get(info["precision"], "float32")
    verdict = "meets" if info["validation_rmse_px"] <= info["target_rmse_px"] else "misses"
    stem = (
        f"a 5x5 stride-2 conv with {s['stem']} filters and a max-pool (96 -> 24 px), "
        if s.get("stem")
        else ""
    )
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

*Generated by `python -m utils.train_keypoints --out RUN --ship` from `keypoints.json`; do
not edit by hand -- re-run the command.*

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
the epoch.

## Architecture and training
- `utils.models.keypoint_vgg` (`{info["architecture"]}`): {stem}blocks of two 3x3 conv +
  batch norm + ReLU (widths {s["widths"]}) each followed by max-pool, flatten, dropout
  {s["dropout"]}, dense 256, dense 30, `Rescaling(48, offset=48)` to pixels.
  {info["parameters"]:,} parameters, {info["file_bytes"] / 1e6:.1f} MB, built-in Keras layers
  only (loads with `safe_mode=True`).
- Each epoch, every training face gets a fresh random horizontal flip (left/right keypoint
  names swapped, x mirrored about {info["flip_axis_px"]:.2f} px, the labels' own mirror axis:
  the mean eye midpoint), rotation +-12 deg, scale +-10%, shift +-6 px (one matrix for pixels
  and keypoints) and brightness/contrast jitter.
- AdamW (peak learning rate {s["lr"]}, weight decay {s["weight_decay"]}), {s["warmup_epochs"]}
  warm-up epochs then cosine decay, batch {s["batch_size"]}, MSE on pixels,
  {info["epochs"]} of {info["epochs_planned"]} epochs; the best epoch by validation RMSE
  ({info["best_epoch"]}) is shipped.
- Training: {info["train_hours"]:.2f} h in {precision} on {info["machine"]} (niced, shared
  with other work), seed {info["seed"]}.

## Reproduce
    nice -n 10 python -m utils.train_keypoints --preset shipped --data FACES_ZIP --out runs/keypoints
    python -m utils.train_keypoints --out runs/keypoints --resume   # if it was stopped
    python -m utils.train_keypoints --out runs/keypoints --ship

`FACES_ZIP` is a zip (or folder) holding a Kaggle-format `training.csv` and a `subjects.csv`
naming each row's person; the split needs the person ids (Kaggle's own `training.csv` has
none, so it cannot be split by person).

## Validation results (held-out people)
| | RMSE (px) |
|---|---:|
| **shipped `keypoints.keras`** | **{info["validation_rmse_px"]:.2f}** |
| network alone | {info["validation_rmse_px_network_alone"]:.2f} |
| network + flip test-time augmentation | {info["validation_rmse_px_flip_tta"]:.2f} |
| mean-face baseline (predict the training mean) | {info["mean_face_baseline_rmse_px"]:.2f} |

RMSE is Kaggle's: the root of the mean squared error over all 30 coordinates, in pixels of
the 96x96 face. The course's goal is {info["target_rmse_px"]} px on unseen people, which it
{verdict}. The same validation people chose the epoch{" and the flip TTA" if tta else ""}, so
these numbers are slightly optimistic. Per keypoint, shipped model (root of the mean of its
squared x and y errors):

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
