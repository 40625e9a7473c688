"""The FER command-line tools: ``python -m utils.train_fer`` and ``python -m utils.verify_model``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from utils import train_fer, verify_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained_cnn(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CNN trained for one epoch on 200 sample images per split (a few seconds)."""
    prefix = tmp_path_factory.mktemp("runs") / "cnn"
    code = train_fer.main(
        ["--model", "cnn", "--data", str(sample_data / "fer2013"), "--save_prefix", str(prefix)]
        + ["--epochs", "2", "--limit", "200", "--batch_size", "32"]
    )
    assert code == 0
    return prefix


def test_train_writes_the_model_and_its_log(trained_cnn: Path) -> None:
    model_path = trained_cnn.parent / "cnn.keras"
    log = pd.read_csv(trained_cnn.parent / "cnn.log.csv")
    assert list(log["epoch"]) == [0, 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(log.columns)
    model = keras.models.load_model(model_path, safe_mode=True)
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 7)
    # No temporary files are left beside the outputs.
    assert sorted(p.name for p in trained_cnn.parent.iterdir()) == ["cnn.keras", "cnn.log.csv"]


def test_verify_prints_the_table_for_each_split(
    trained_cnn: Path, sample_data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_csv = tmp_path / "table.csv"
    code = verify_model.main(
        ["--model_weights", str(trained_cnn.parent / "cnn.keras")]
        + ["--data", str(sample_data / "fer2013"), "--limit", "200", "--per_class"]
        + ["--csv", str(out_csv)]
    )
    assert code == 0
    text = capsys.readouterr().out
    for word in ("train", "val", "test", "accuracy", "precision", "recall", "f1", "disgust"):
        assert word in text
    table = pd.read_csv(out_csv, index_col="split")
    assert list(table.index) == ["train", "val", "test"]
    assert table["n"].tolist() == [200, 200, 200]
    assert ((table[["accuracy", "precision", "recall", "f1"]] >= 0).all()).all()
    assert ((table[["accuracy", "precision", "recall", "f1"]] <= 1).all()).all()


def test_verify_table_matches_the_models_predictions(trained_cnn: Path, sample_data: Path) -> None:
    from utils.splits import load_fer_splits

    model = verify_model.load_model(trained_cnn.parent / "cnn.keras")
    splits = load_fer_splits(sample_data / "fer2013", limit=100)
    table, predictions = verify_model.verify_model(model, dict(splits.items()))
    x_test, y_test = splits.test
    expected = np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test)
    assert table.loc["test", "accuracy"] == pytest.approx(expected)
    assert np.mean(predictions["test"] == y_test) == pytest.approx(expected)


def test_train_continues_from_model_weights(
    trained_cnn: Path, sample_data: Path, tmp_path: Path
) -> None:
    start = trained_cnn.parent / "cnn.keras"
    result = train_fer.train(
        "cnn",
        str(sample_data / "fer2013"),
        tmp_path / "more",
        epochs=1,
        model_weights=start,
        limit=64,
        verbose=0,
    )
    assert result.model_path.exists() and result.epochs_run == 1
    before = keras.models.load_model(start, safe_mode=True).get_weights()
    after = keras.models.load_model(result.model_path, safe_mode=True).get_weights()
    assert len(before) == len(after) and any(
        not np.allclose(a, b) for a, b in zip(before, after, strict=True)
    )


def test_module_entry_point_runs(trained_cnn: Path, sample_data: Path) -> None:
    """``python -m utils.verify_model`` works as a command (a fresh process)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "utils.verify_model",
            "--model_weights",
            str(trained_cnn.parent / "cnn.keras"),
        ]
        + ["--data", str(sample_data / "fer2013"), "--limit", "50"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "test" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "vgg"], "invalid choice"),
        (["--model", "cnn", "--epochs", "0"], "must be at least 1"),
        (["--model", "cnn", "--epochs", "two"], "not a whole number"),
        (["--model", "cnn", "--model_weights", "missing.keras"], "no such file"),
        (["--model", "cnn", "--fine_tune_epochs", "2"], "only --model resnet50"),
        (["--model", "resnet50", "--image_size", "16"], "at least 32"),
        (["--model", "cnn", "--val_fraction", "1.5"], "between 0 and 1"),
    ],
)
def test_train_rejects_bad_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["--data", "sample", "--save_prefix", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as exc:
        train_fer.main(base + argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_train_reports_missing_data(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = train_fer.main(
        [
            "--model",
            "cnn",
            "--data",
            str(tmp_path / "nowhere.csv"),
            "--save_prefix",
            str(tmp_path / "x"),
        ]
    )
    assert code == 1
    assert "nowhere.csv" in capsys.readouterr().err


def test_verify_rejects_bad_models(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sample_data: Path
) -> None:
    data = ["--data", str(sample_data / "fer2013")]
    assert verify_model.main(["--model_weights", str(tmp_path / "none.keras"), *data]) == 1
    assert "no such model file" in capsys.readouterr().err
    wrong = keras.Sequential(
        [keras.Input((96, 96, 1)), keras.layers.Flatten(), keras.layers.Dense(30)]
    )
    wrong.save(tmp_path / "keypoints.keras")
    assert verify_model.main(["--model_weights", str(tmp_path / "keypoints.keras"), *data]) == 1
    assert "expected (48, 48, 1)" in capsys.readouterr().err
    (tmp_path / "junk.keras").write_text("not a model")
    assert verify_model.main(["--model_weights", str(tmp_path / "junk.keras"), *data]) == 1
    assert "could not load" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        verify_model.main(["--data", "sample"])  # --model_weights is required


@pytest.mark.slow
def test_train_resnet50_offline_falls_back_to_random_weights(
    sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--model resnet50`` offline: a clear warning, then training from random weights."""

    def offline(*args: object, **kwargs: object) -> str:
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.warns(UserWarning, match="Could not download ResNet50's ImageNet weights"):
        result = train_fer.train(
            "resnet50",
            str(sample_data / "fer2013"),
            tmp_path / "r50",
            epochs=1,
            fine_tune_epochs=1,
            image_size=32,
            limit=32,
            batch_size=16,
            augment=False,
            verbose=0,
        )
    assert result.epochs_run == 2
    log = pd.read_csv(result.log_path)
    assert list(log["epoch"]) == [0, 1]  # frozen phase, then fine-tuning, in one log
    model = keras.models.load_model(result.model_path, safe_mode=True)
    assert model.name.startswith("resnet50_scratch")
