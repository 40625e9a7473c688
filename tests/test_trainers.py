"""The shipped models' trainers (``utils.train_fer --preset shipped``, ``utils.train_keypoints``)
and the resumable-run plumbing they share (``utils.runs``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType

import keras
import numpy as np
import pandas as pd
import pytest

from utils import runs, train_fer, train_keypoints

TRAINERS = [train_fer, train_keypoints]
IDS = ["train_fer", "train_keypoints"]
PRESET = {train_fer: ["--preset", "shipped"], train_keypoints: ["--preset", "shipped"]}


def _error(trainer: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``trainer.main(argv)``, expect argparse's exit 2, return its message."""
    with pytest.raises(SystemExit) as exc:
        trainer.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("trainer", TRAINERS, ids=IDS)
def test_bad_numbers_are_refused(
    trainer: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "faces.zip"
    data.write_bytes(b"")
    base = [*PRESET[trainer], "--data", str(data), "--out", str(tmp_path / "run")]
    message = _error(trainer, [*base, "--epochs", "0"], capsys)
    assert "--epochs" in message and "0" in message and "positive" in message
    message = _error(trainer, [*base, "--val-fraction", "1.5"], capsys)
    assert "--val-fraction 1.5" in message and "between 0 and 1" in message
    assert not (tmp_path / "run").exists(), "a refused run must not leave a folder behind"


def test_missing_data_says_where_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACE_DL_DATA", str(tmp_path / "nothing-here"))
    code = train_fer.main(["--preset", "shipped", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "python -m data_scripts.download fer2013" in err
    message = _error(train_keypoints, ["--preset", "shipped", "--out", str(tmp_path / "r")], capsys)
    assert "--data: no file given" in message and "subjects.csv" in message


@pytest.mark.parametrize("trainer", TRAINERS, ids=IDS)
def test_resume_checks_the_run(
    trainer: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert trainer.main(["--out", str(out), "--resume"]) == 1
    assert "no run to resume here" in capsys.readouterr().err
    out.mkdir()
    (out / "state.json").write_text("{not json", encoding="utf-8")
    assert trainer.main(["--out", str(out), "--resume"]) == 1
    assert "state.json: not valid JSON" in capsys.readouterr().err
    data = tmp_path / "a.zip"
    data.write_bytes(b"")
    state = {"data": str(data), "epochs": 5, "epochs_done": 2, "settings": {}}
    (out / "state.json").write_text(json.dumps(state), encoding="utf-8")
    message = _error(trainer, ["--out", str(out), "--resume", "--data", str(tmp_path)], capsys)
    assert "differs from the run's data" in message
    message = _error(trainer, ["--out", str(out), "--resume", "--epochs", "7"], capsys)
    assert "started for 5 epochs" in message and "start a new --out" in message


@pytest.mark.parametrize("trainer", TRAINERS, ids=IDS)
def test_new_run_refuses_a_folder_that_holds_one(
    trainer: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "state.json").write_text("{}", encoding="utf-8")
    data = tmp_path / "a.zip"
    data.write_bytes(b"")
    message = _error(trainer, [*PRESET[trainer], "--data", str(data), "--out", str(out)], capsys)
    assert "already holds a run; pass --resume" in message


def test_resume_or_build_builds_then_resumes(tmp_path: Path) -> None:
    def build() -> keras.Model:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="tiny")
        model.compile(optimizer="adam", loss="mse")
        return model

    out = tmp_path / "run"
    state = {"epochs": 2, "epochs_done": 5, "best": 1.0}  # stale numbers a new run must reset
    first = runs.resume_or_build(argparse.Namespace(out=out, resume=False), state, build)
    assert (state["epochs_done"], state["best"]) == (0, None)
    assert json.loads((out / "state.json").read_text())["epochs_done"] == 0
    first.fit(np.ones((4, 3)), np.zeros((4, 2)), batch_size=4, epochs=1, verbose=0)
    first.save(out / "last.keras")
    state["epochs_done"] = 1
    again = runs.resume_or_build(
        argparse.Namespace(out=out, resume=True), state, lambda: pytest.fail("rebuilt")
    )
    assert state["epochs_done"] == 1
    assert again.optimizer.iterations.numpy() == 1, "the optimizer state must come back too"


def test_fit_resumable_continues_the_schedule(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)

    def make_model() -> keras.Model:
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        schedule = runs.warmup_cosine(0.1, total_steps=8, warmup_steps=2)
        model.compile(keras.optimizers.AdamW(schedule), "mse")
        return model

    state = {"epochs": 4, "epochs_done": 0, "best": None}

    class Interrupted(Exception):
        pass

    def epoch_data(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if epoch == 2 and not resumed:
            raise Interrupted  # the machine goes away after two epochs
        return x, y

    lines: list[str] = []
    fit = dict(validation_data=(x, y), batch_size=8, monitor="val_loss", mode="min")
    resumed = False
    with pytest.raises(Interrupted):
        runs.fit_resumable(make_model(), tmp_path, state=state, epoch_data=epoch_data,
                           log=lines.append, **fit)  # fmt: skip
    saved = runs.read_state(tmp_path)
    assert saved["epochs_done"] == 2
    assert lines[0].startswith("epoch 1/4 val_loss=") and "ETA" in lines[0]
    model = keras.models.load_model(tmp_path / "last.keras", safe_mode=True)
    assert int(model.optimizer.iterations) == 4  # 2 epochs x 2 steps: the schedule's position
    resumed = True
    final = runs.fit_resumable(model, tmp_path, state=saved, epoch_data=epoch_data,
                               log=lines.append, **fit)  # fmt: skip
    assert final["epochs_done"] == 4 and int(model.optimizer.iterations) == 8
    log = pd.read_csv(tmp_path / "log.csv")
    assert log["epoch"].tolist() == [1, 2, 3, 4]
    assert (tmp_path / "best.keras").is_file()
    assert log["val_loss"].iloc[-1] < log["val_loss"].iloc[0]  # it kept learning


@pytest.mark.slow
def test_shipped_emotion_recipe_resumes_exactly_and_ships(
    sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two epochs in one go equal one epoch, a stop and ``--resume``; then ``--ship``."""
    from utils import pipelines

    fer = str(sample_data / "fer2013")
    small = ["--epochs", "2", "--limit", "256", "--precision", "fp32", "--no-ship"]
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert (
        train_fer.main(["--preset", "shipped", "--data", fer, "--out", str(straight), *small]) == 0
    )

    real = pipelines.make_dataset

    def stop_before_epoch_2(*args: object, seed: int, **kwargs: object) -> object:
        if seed % 1000 == 1:  # train_fer seeds epoch e with seed * 1000 + e
            raise KeyboardInterrupt("the machine goes away")
        return real(*args, seed=seed, **kwargs)

    monkeypatch.setattr(pipelines, "make_dataset", stop_before_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_fer.main(["--preset", "shipped", "--data", fer, "--out", str(stopped), *small])
    assert json.loads((stopped / "state.json").read_text())["epochs_done"] == 1
    monkeypatch.setattr(pipelines, "make_dataset", real)
    with pytest.raises(SystemExit):  # weight averaging waits for the run to finish
        train_fer.main(["--out", str(stopped), "--resume", "--average-epochs", "1"])
    assert train_fer.main(["--out", str(stopped), "--resume", "--no-ship"]) == 0

    a, b = pd.read_csv(straight / "log.csv"), pd.read_csv(stopped / "log.csv")
    assert a["epoch"].tolist() == b["epoch"].tolist() == [1, 2]
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-3)  # same data, same schedule
    wa = keras.models.load_model(straight / "last.keras", safe_mode=True).get_weights()
    wb = keras.models.load_model(stopped / "last.keras", safe_mode=True).get_weights()
    for x, y in zip(wa, wb, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-3)

    # Stochastic weight averaging: two more epochs, averaged, batch-norm re-estimated.
    average = ["--out", str(straight), "--resume", "--average-epochs", "2", "--no-ship"]
    assert train_fer.main(average) == 0
    averaged = json.loads((straight / "average" / "state.json").read_text())
    assert averaged["epochs_done"] == 2 and averaged["start_epoch"] == 2
    assert 0.0 <= averaged["val_accuracy"] <= 1.0
    assert (straight / runs.AVERAGED_FILE).exists()
    assert not list((straight / "average").glob("average-*.keras"))  # running means cleaned up
    assert train_fer.main(average) == 0  # a finished average is not trained again
    assert len(pd.read_csv(straight / "average" / "log.csv")) == 2

    # Ship into scratch folders: files written, the numbers in JSON and card agree.
    from utils.shipping import ship_emotion

    pretrained, cards = tmp_path / "pretrained", tmp_path / "cards"
    info = ship_emotion(straight, pretrained_dir=pretrained, card_dir=cards)
    model = keras.models.load_model(pretrained / "emotion.keras", safe_mode=True)
    assert model.output_shape == (None, 7)
    assert info["file_bytes"] <= 5_000_000
    assert json.loads((pretrained / "emotion.json").read_text())["epochs_done"] == 2
    card = (cards / "model_card_emotion.md").read_text()
    assert f"{info['public_test_accuracy']:.1%}" in card
    assert "python -m utils.train_fer --preset shipped" in card
    assert "judges" not in card and "../shared" not in card
    # Both candidates were scored on the validation slice; the higher one was shipped.
    scores = info["validation_accuracy_by_checkpoint"]
    assert set(scores) == {"best", "averaged"}
    assert max(scores[info["checkpoint"]].values()) == max(max(v.values()) for v in scores.values())
    assert "--average-epochs 2" in card and "stochastic weight averaging" in card


def test_fold_into_average_is_the_running_mean(tmp_path: Path) -> None:
    """The average of three models' weights, exact even when one fold is repeated."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    weights = [[np.full_like(w, float(i)) for w in model.get_weights()] for i in (1, 2, 6)]
    for count, values in enumerate(weights, start=1):
        model.set_weights(values)
        path = runs.fold_into_average(model, tmp_path, count)
    runs.fold_into_average(model, tmp_path, 3)  # a resumed epoch folds its weights again
    mean = keras.models.load_model(path, safe_mode=True, compile=False).get_weights()
    for w in mean:
        np.testing.assert_allclose(w, 3.0)  # (1 + 2 + 6) / 3
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == [
        "average-2.keras",
        "average-3.keras",
    ]
    with pytest.raises(FileNotFoundError, match="average-4"):
        runs.fold_into_average(model, tmp_path, 5)


@pytest.mark.slow
def test_keypoint_trainer_trains_on_people_and_ships(sample_data: Path, tmp_path: Path) -> None:
    """Two quick epochs on the sample faces, split by person; then the shipped file and card."""
    from utils.shipping import ship_keypoints

    out = tmp_path / "run"
    argv = ["--data", str(sample_data / "facial-keypoints-detection"), "--out", str(out)]
    argv += ["--arch", "heatmap", "--epochs", "2", "--precision", "fp32", "--no-ship"]
    assert train_keypoints.main(argv) == 0
    state = json.loads((out / "state.json").read_text())
    log = pd.read_csv(out / "log.csv")
    assert state["epochs_done"] == 2 and log["epoch"].tolist() == [1, 2]
    people = set(state["val_subjects"])
    assert people, "validation people were chosen"
    info = ship_keypoints(out, pretrained_dir=tmp_path / "pretrained", card_dir=tmp_path / "cards")
    assert set(info["validation_subjects"]) == people
    assert info["train_people"] > 0 and info["validation_people"] == len(people)
    model = keras.models.load_model(tmp_path / "pretrained" / "keypoints.keras", safe_mode=True)
    assert model.output_shape == (None, 30)
    card = (tmp_path / "cards" / "model_card_keypoints.md").read_text()
    assert f"**{info['validation_rmse_px']:.2f}**" in card
    assert "python -m utils.train_keypoints --preset shipped" in card and "judges" not in card
    assert "utils.models.keypoint_heatmap" in card  # the card describes the network it ships


def test_teacher_targets_mix_the_label_with_the_teachers_view() -> None:
    """weight 0: the one-hot label; weight 1: the teacher's answer, averaged with its mirror's."""
    inputs = keras.Input((48, 48, 1))
    # A "teacher" that only looks at the left half of the face, so mirroring changes its answer.
    left = keras.layers.Cropping2D(((0, 0), (0, 24)))(inputs)
    logits = keras.layers.Dense(7)(keras.layers.Flatten()(left))
    teacher = keras.Model(inputs, keras.layers.Softmax()(logits))
    rng = np.random.default_rng(0)
    images = rng.random((5, 48, 48, 1)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 6])
    np.testing.assert_allclose(
        train_fer.teacher_targets(teacher, images, labels, 0.0), np.eye(7)[labels]
    )
    both = (teacher.predict(images, verbose=0) + teacher.predict(images[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(
        train_fer.teacher_targets(teacher, images, labels, 1.0), both, rtol=1e-5
    )
    half = train_fer.teacher_targets(teacher, images, labels, 0.5)
    np.testing.assert_allclose(half.sum(axis=1), 1.0, rtol=1e-5)  # still probabilities
    with pytest.raises(ValueError, match="teacher weight"):
        train_fer.teacher_targets(teacher, images, labels, 1.5)
    regressor = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="expected \\(None, 7\\)"):
        train_fer.teacher_targets(regressor, images, labels, 0.5)


def test_teacher_facts_come_from_the_teachers_sidecar(tmp_path: Path) -> None:
    """A teacher without a sidecar is known by name; a sidecar adds how it was trained."""
    teacher = tmp_path / "teacher.keras"
    assert train_fer.teacher_facts(teacher) == {"file": "teacher.keras"}
    sidecar = {"epochs_done": 100, "train_hours": 6.3, "results": {"big": "table"}}
    teacher.with_suffix(".json").write_text(json.dumps(sidecar))
    facts = train_fer.teacher_facts(teacher)
    assert facts == {"file": "teacher.keras", "epochs_done": 100, "train_hours": 6.3}
    teacher.with_suffix(".json").write_text("{not json")
    with pytest.raises(ValueError, match="teacher.json: not valid JSON"):
        train_fer.teacher_facts(teacher)


@pytest.mark.slow
def test_a_run_distils_from_a_teacher_and_resumes_with_its_targets(
    sample_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from utils.inference import EMOTION_MODEL

    fer, out = str(sample_data / "fer2013"), tmp_path / "distilled"
    base = ["--data", fer, "--out", str(out), "--limit", "128", "--precision", "fp32", "--no-ship"]
    teacher = ["--teacher", str(EMOTION_MODEL), "--teacher-weight", "0.3"]
    assert "expected an existing .keras" in _error(
        train_fer, ["--preset", "shipped", *base, "--teacher", str(tmp_path / "none.keras")], capsys
    )
    assert train_fer.main(["--preset", "shipped", *base, "--epochs", "2", *teacher]) == 0
    assert "its own answer agrees with the label on" in capsys.readouterr().out
    targets = np.load(out / train_fer.TEACHER_TARGETS, allow_pickle=False)
    assert targets.shape == (128, 7)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-5)
    assert targets.max(axis=1).min() >= 0.7  # the label keeps 1 - 0.3 of the mass
    settings = json.loads((out / "state.json").read_text())["settings"]
    assert settings["teacher_weight"] == 0.3 and settings["teacher"].endswith("emotion.keras")
    assert "expected an existing .keras" in _error(
        train_fer, ["--out", str(out), "--resume", *teacher], capsys
    )
    # The card says what the teacher was, from the facts the run recorded when it started
    # (a shipped teacher's own sidecar), and how to train both.
    from utils.shipping import TEACHER_FACTS, ship_emotion

    facts = json.loads((out / TEACHER_FACTS).read_text())
    sidecar = json.loads(EMOTION_MODEL.with_suffix(".json").read_text())
    assert facts["file"] == "emotion.keras"
    assert facts["epochs_done"] == sidecar["epochs_done"]
    assert facts["train_hours"] == sidecar["train_hours"]
    info = ship_emotion(out, pretrained_dir=tmp_path / "pretrained", card_dir=tmp_path / "cards")
    assert info["teacher"] == facts
    card = (tmp_path / "cards" / "model_card_emotion.md").read_text()
    assert "--teacher utils/pretrained/emotion.keras --teacher-weight 0.3" in card
    assert "0.7 x the label + 0.3 x the probabilities" in card
    assert f"{sidecar['public_test_accuracy_flip_tta']:.1%} on PublicTest" in card
    total = info["train_hours"] + sidecar["train_hours"]
    assert f"{total:.2f} h in all" in card
    assert card.index("runs/teacher --ship") < card.index("--out runs/emotion \\")


def test_shrink_to_fit_stores_the_largest_dense_kernels_in_int8(tmp_path: Path) -> None:
    from utils.shipping import shrink_to_fit

    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(256, activation="relu", name="big")(inputs)  # 16,640 weights
    outputs = keras.layers.Dense(30, name="small")(hidden)  # 7,710
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).random((16, 64)).astype(np.float32)
    before = model.predict(x, verbose=0)
    assert shrink_to_fit(model, limit=200_000, margin=0) == []  # fits already: untouched
    fresh = keras.Model.from_config(model.get_config())
    fresh.set_weights(model.get_weights())
    assert shrink_to_fit(fresh, limit=60_000, margin=0) == ["big"]  # 97 KB -> about 48 KB
    after = fresh.predict(x, verbose=0)
    assert np.abs(after - before).max() < 0.05 * np.abs(before).max()  # close, not equal
    fresh.save(tmp_path / "int8.keras")
    back = keras.models.load_model(tmp_path / "int8.keras", safe_mode=True)
    np.testing.assert_allclose(back.predict(x, verbose=0), after, atol=1e-5)
