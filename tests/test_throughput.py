"""utils.throughput: images per second of the generator, tf.data and the training step."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from utils.pipelines import list_fer_images
from utils.schema import EMOTIONS
from utils.throughput import measure_throughput


def _jpeg_folder(root: Path, n: int) -> Path:
    """A msambare-style ``train/<emotion>/Training_i.jpg`` folder of ``n`` random faces."""
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / "train" / EMOTIONS[i % 7]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (48, 48), dtype=np.uint8)
        assert cv2.imwrite(str(folder / f"Training_{i}.jpg"), pixels)
    return root


def test_measure_throughput_reports_every_contender(tmp_path: Path) -> None:
    files, labels = list_fer_images(_jpeg_folder(tmp_path, n=40))
    model = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, "softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    result = measure_throughput(
        files, labels, model=model, batch_size=16, repeats=2, keras_layers=True, train_steps=2
    )
    pipelines = ["python generator", "tf.data", "tf.data, OpenCV map", "tf.data, Keras layers"]
    assert list(result.runs) == [*pipelines, "training step"]
    assert all(len(v) == 2 and min(v) > 0 for v in result.runs.values())
    assert set(result.first_epoch) == set(pipelines)
    med = result.median()
    assert result.ratio("tf.data", "python generator") == pytest.approx(
        med["tf.data"] / med["python generator"]
    )
    assert result.best_ratio("tf.data", "python generator") == pytest.approx(
        max(result.runs["tf.data"]) / max(result.runs["python generator"])
    )
    assert "images/s" in result.report() and "1st epoch" in result.report()
    fig = result.plot()
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="batch_size"):
        measure_throughput(files[:8], labels[:8], batch_size=16)


def test_measure_fed_training_trains_on_every_batch_of_each_feed(tmp_path: Path) -> None:
    from utils.pipelines import FileAugmentDataset, file_dataset
    from utils.throughput import measure_fed_training

    files, labels = list_fer_images(_jpeg_folder(tmp_path, n=40))
    model = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, "softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    feeds = {
        "python generator": FileAugmentDataset(files, labels, batch_size=16),
        "tf.data": file_dataset(files, labels, augment=True, batch_size=16),
    }
    result = measure_fed_training(model, feeds, batch_size=16, repeats=2)
    assert result.n_images == 40  # every image of an epoch, the last partial batch included
    assert list(result.runs) == ["python generator", "tf.data"]
    assert all(len(v) == 2 and min(v) > 0 for v in result.runs.values())
    assert set(result.first_epoch) == set(feeds)
    assert not np.allclose(before[0], model.get_weights()[0]), "the model must have trained"
    with pytest.raises(ValueError, match="feeds"):
        measure_fed_training(model, {}, batch_size=16)
