"""The model cards of the shipped models, written from their JSON sidecars alone.

:mod:`utils.shipping` evaluates a run, writes ``utils/pretrained/*.json`` and then the cards in
``lessons/`` with :func:`emotion_card` and :func:`keypoints_card`, so every number a card shows
is one the run measured. Do not edit the cards by hand: ship the run again.
"""

from __future__ import annotations

from typing import Any

from utils.schema import EMOTIONS


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


def _lineage(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The shipped model and the teachers it was distilled from, oldest first.

    A distilled run records its teacher's facts (``teacher.json``), which hold that teacher's
    own ``teacher`` when it was distilled too, so the chain can be walked back.
    """
    chain = [info]
    while chain[-1].get("teacher"):
        chain.append(chain[-1]["teacher"])
    return chain[::-1]


def _teacher_summary(facts: dict[str, Any]) -> str:
    """One teacher: how long it trained and how well it did, as far as known."""
    if "epochs_done" not in facts:
        return f"`{facts['file']}` (its training is not on record)"
    averaged = facts.get("average_epochs") or 0
    origin = "distilled itself" if facts.get("settings", {}).get("teacher") else "no teacher"
    return (
        f"`{facts['file']}`, trained {facts['epochs_done']} epochs"
        + (f" and averaged {averaged} more" if averaged else "")
        + f" ({facts['train_hours']:.2f} h); {facts['public_test_accuracy_flip_tta']:.1%} on "
        f"PublicTest with flip TTA; {origin}"
    )


def _teacher_text(info: dict[str, Any]) -> str:
    """The card's line on distillation (``--teacher``), empty when the run had no teacher."""
    teachers = _lineage(info)[:-1]
    if not teachers:
        return ""
    weight = float(info["settings"]["teacher_weight"])
    text = (
        f"\n- Distilled: the targets were {1 - weight:g} x the label + {weight:g} x the "
        "probabilities of a teacher model (on each face and its mirror image; `--teacher`). "
        f"The teacher: {_teacher_summary(teachers[-1])}."
    )
    for facts in teachers[-2::-1]:
        text += f" Its teacher: {_teacher_summary(facts)}."
    return text


def _reproduce_text(info: dict[str, Any]) -> str:
    """The card's commands that train the shipped file again: its teachers first, if any."""
    run = "nice -n 10 python -m utils.train_fer --preset shipped --data FER2013_ZIP --out"
    chain = _lineage(info)
    lines = ["    python -m data_scripts.download fer2013\n"]
    for number, facts in enumerate(chain, start=1):
        last = number == len(chain)
        out = "runs/emotion" if last else "runs/teacher" + (str(number) if len(chain) > 2 else "")
        if "epochs_done" not in facts:  # a teacher the card knows only by name
            lines.append(f"    # {number}. the teacher: {facts['file']}, not on record\n")
            continue
        settings = facts.get("settings", {})
        teacher = ""
        if settings.get("teacher") and number > 1:
            # The stage before shipped its model, unless it is a teacher known only by name.
            before = chain[number - 2]
            path = "utils/pretrained/emotion.keras" if "epochs_done" in before else before["file"]
            weight = float(settings["teacher_weight"])
            teacher = f" \\\n        --teacher {path} --teacher-weight {weight:g}"
        if len(chain) > 1:
            what = "this model" if last else ("the teacher" if number == 1 else "its student")
            how = f"distilled from step {number - 1}" if teacher else "the recipe without --teacher"
            after = "" if last else f" (shipped, for step {number + 1})"
            lines.append(f"    # {number}. {what}: {how}{after}\n")
        lines.append(f"    {run} {out}{teacher}\n")
        lines.append(f"    python -m utils.train_fer --out {out} --resume   # if it was stopped\n")
        if facts.get("average_epochs"):
            lines.append(
                f"    python -m utils.train_fer --out {out} --resume "
                f"--average-epochs {facts['average_epochs']} --no-ship\n"
            )
        lines.append(f"    python -m utils.train_fer --out {out} --ship\n")
    return "".join(lines)


def _hours_text(info: dict[str, Any]) -> str:
    """The card's line on training time: this run's, and its teachers' on top if it had any."""
    precision = {"bf16": "mixed bfloat16", "fp32": "float32"}.get(info["precision"], "float32")
    text = (
        f"- Training: {info['train_hours']:.2f} h in {precision} on {info['machine']} (niced, "
        f"shared\n  with other work), seed {info['seed']}."
    )
    teachers = [facts["train_hours"] for facts in _lineage(info)[:-1] if "train_hours" in facts]
    if teachers:
        total = info["train_hours"] + sum(teachers)
        whose = "the teacher's" if len(teachers) == 1 else "the teachers'"
        text += f"\n  With {whose} {sum(teachers):.2f} h, {total:.2f} h in all."
    return text


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
    s = info["settings"]
    status = (
        f"finished all {info['epochs_planned']} epochs"
        if info["finished"]
        else f"**unfinished**: {info['epochs_done']} of {info['epochs_planned']} epochs done"
    )
    verdict = "meets" if shown >= info["target_accuracy"] else "is below"
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
{_averaging_text(info)}{_teacher_text(info)}
{_hours_text(info)}

## Reproduce
{_reproduce_text(info)}
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


def _int8_text(info: dict[str, Any]) -> str:
    """The card's line on int8 storage (:func:`utils.shipping.shrink_to_fit`), if any."""
    layers = info.get("int8_layers") or []
    if not layers:
        return ""
    names = ", ".join(f"`{name}`" for name in layers)
    return (
        f'\n  To fit 5 MB, the kernel of {names} is stored in int8 (Keras\' `quantize("int8")`: '
        "one byte per weight and a scale per output, inputs quantized on the fly). The network "
        f"alone scored {info['validation_rmse_px_float32_network']:.3f} px on the validation "
        f"people in float32 and {info['validation_rmse_px_network_alone']:.3f} px so stored."
    )


def _keypoint_architecture_text(info: dict[str, Any]) -> str:
    """What the card says the shipped keypoint network is, for the architecture it has."""
    s = info["settings"]
    if info["architecture"] == "heatmap":
        return (
            "`utils.models.keypoint_heatmap`: one heatmap per keypoint, each keypoint its map's "
            "softmax-weighted\n  centre of mass (integral regression). A 5x5 stride-2 stem "
            f"({s['stem']} filters), 3x3 conv + batch norm +\n  ReLU layers of widths {s['widths']} "
            "at 48 (one), 24, 12 and 6 px (two each, max-pools between),\n  then bilinear "
            "upsampling joined with the 12 and 24 px blocks (a small U-Net), a 1x1 conv to\n"
            "  15 maps of 24x24, softmax, and a fixed grid of cell centres that turns each map "
            "into (x, y)."
        )
    stem = (
        f"a 5x5 stride-2 conv with {s['stem']} filters and a max-pool (96 -> 24 px), "
        if s.get("stem")
        else ""
    )
    return (
        f"`utils.models.keypoint_vgg` (`{info['architecture']}`): {stem}blocks of two 3x3 "
        f"conv +\n  batch norm + ReLU (widths {s['widths']}) each followed by max-pool, "
        f"flatten, dropout\n  {s['dropout']}, dense 256, dense 30, `Rescaling(48, offset=48)` "
        "to pixels."
    )


def keypoints_card(info: dict[str, Any]) -> str:
    """The Markdown model card for ``keypoints.keras``, from its JSON sidecar alone."""
    rows = "\n".join(
        f"| {name} | {value:.2f} |" for name, value in info["per_keypoint_rmse_px"].items()
    )
    s = info["settings"]
    tta = info["flip_tta_in_model"]
    precision = {"bf16": "mixed bfloat16", "fp32": "float32"}.get(info["precision"], "float32")
    verdict = "meets" if info["validation_rmse_px"] <= info["target_rmse_px"] else "misses"
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
- {_keypoint_architecture_text(info)}
  {info["parameters"]:,} parameters, {info["file_bytes"] / 1e6:.1f} MB, built-in Keras layers
  only (loads with `safe_mode=True`).{_int8_text(info)}
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
