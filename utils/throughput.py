"""Does the input pipeline keep the model fed? Images per second, measured side by side.

:func:`measure_throughput` times the two ways of reading a folder of JPEGs -- the hand-written
generator (``utils.pipelines.FileAugmentDataset``) and ``tf.data``
(``utils.pipelines.file_dataset``) -- against the model's own training step; notebook 05 and
``benchmarks/input_pipeline.py`` show the :class:`ThroughputResult`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from utils.augmentation import AugmentConfig, augmentation_layers
from utils.pipelines import AUTOTUNE, FileAugmentDataset, check_positive, file_dataset

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


@dataclass
class ThroughputResult:
    """Images per second of each contender, one entry per timed epoch (see :meth:`median`).

    ``first_epoch`` holds each pipeline's images/s in its first epoch, timed separately:
    for tf.data that epoch reads and decodes every file to fill the cache.
    """

    runs: dict[str, list[float]] = field(default_factory=dict)
    batch_size: int = 0
    n_images: int = 0
    first_epoch: dict[str, float] = field(default_factory=dict)

    def median(self) -> dict[str, float]:
        """Median images/s of each contender over the repeats."""
        return {name: statistics.median(values) for name, values in self.runs.items()}

    def ratio(self, faster: str, slower: str) -> float:
        """How many times ``faster``'s median throughput is ``slower``'s."""
        med = self.median()
        return med[faster] / med[slower]

    def best_ratio(self, faster: str, slower: str) -> float:
        """The same with each contender's *best* run: what each can do when the machine lets
        it (a busy shared machine slows some runs a lot, never speeds one up)."""
        return max(self.runs[faster]) / max(self.runs[slower])

    def report(self) -> str:
        """A plain-text table: median (min-max) images/s and the ratio to the first."""
        med = self.median()
        names = list(self.runs)
        base = names[0]
        lines = [
            f"{self.n_images} images in batches of {self.batch_size}; steady state = median of "
            f"{self.repeats} epochs after a warm-up epoch (which fills tf.data's cache)"
        ]
        for name in names:
            lo, hi = min(self.runs[name]), max(self.runs[name])
            lines.append(
                f"  {name:<30} {med[name]:>9,.0f} images/s  (runs {lo:,.0f}-{hi:,.0f})"
                f"  x{med[name] / med[base]:.2f} vs {base}"
            )
        for name, value in self.first_epoch.items():
            lines.append(f"  {name + ', 1st epoch':<30} {value:>9,.0f} images/s  (warm-up)")
        return "\n".join(lines)

    @property
    def repeats(self) -> int:
        return max((len(v) for v in self.runs.values()), default=0)

    def plot(self) -> Figure:
        """A bar chart of the median throughputs (log scale), each run shown as a dot."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 0.6 + 0.6 * len(self.runs)), layout="constrained")
        ax = fig.subplots()
        names = list(self.runs)
        med = self.median()
        colours = ["#c44e52", "#4c72b0", "#8172b2", "#55a868"]
        ax.barh(names, [med[n] for n in names], color=[colours[i % 4] for i in range(len(names))])
        for i, name in enumerate(names):
            ax.plot(self.runs[name], [i] * len(self.runs[name]), "k.", ms=4)
            ax.text(med[name], i, f"  {med[name]:,.0f}", va="center")
            if name in self.first_epoch:
                ax.plot([self.first_epoch[name]], [i], "wx", ms=7, mew=2)
        ax.set_xscale("log")
        ax.set_xlabel("images per second (median of epochs, log scale; x = first epoch)")
        ax.invert_yaxis()
        ax.set_title("Who is the bottleneck?")
        return fig


def _epoch_rate(run_epoch: Callable[[], int]) -> float:
    """Run one epoch (the callable returns how many images it produced); return images/s."""
    start = time.perf_counter()
    count = run_epoch()
    return count / (time.perf_counter() - start)


def measure_throughput(
    files: Sequence[str],
    labels: np.ndarray,
    *,
    model: keras.Model | None = None,
    augment: AugmentConfig | None = None,
    image_size: tuple[int, int] = (48, 48),
    batch_size: int = 64,
    repeats: int = 3,
    seed: int = 42,
    num_parallel_calls: int | None = AUTOTUNE,
    keras_layers: bool = False,
    train_steps: int = 10,
) -> ThroughputResult:
    """Images/s, on files: (a) a Python generator, (b) tf.data and (c) ``model``'s training step.

    Both pipelines start from the same JPEG ``files`` and yield the same kind of batches
    (float32, augmented by ``augment``). (a) :class:`FileAugmentDataset` reads, decodes and
    augments every image in Python, every epoch; (b) :func:`file_dataset` decodes in parallel,
    caches the decoded images and augments whole batches. Each is timed over whole epochs:
    one warm-up epoch first (reported as ``first_epoch``: tf.data fills its cache, Keras
    compiles the step), then ``repeats`` epochs, taking turns so a busy machine slows all
    alike. Report the median.

    ``keras_layers=True`` adds tf.data with Keras' preprocessing layers
    (:func:`augmentation_layers`) instead of the one-warp :func:`tf_augment`.
    ``model`` (compiled) trains on one in-memory batch for ``train_steps`` steps per run:
    the most images/s the model can consume. None times only the pipelines.
    """
    batch_size = check_positive("batch_size", batch_size)
    repeats = check_positive("repeats", repeats)
    if len(files) < batch_size:
        raise ValueError(f"files: need at least batch_size={batch_size} files, got {len(files)}")
    augment = augment or AugmentConfig()
    size = (int(image_size[0]), int(image_size[1]))
    generator = FileAugmentDataset(
        files, labels, image_size=size, batch_size=batch_size, augment=augment, seed=seed
    )

    def _files(**kwargs: Any) -> tf.data.Dataset:
        return file_dataset(
            files, labels, image_size=size, batch_size=batch_size, seed=seed, **kwargs
        )

    def _generator_epoch() -> int:
        count = sum(len(generator[i][1]) for i in range(len(generator)))
        generator.on_epoch_end()
        return count

    def _dataset_epoch(ds: tf.data.Dataset) -> Callable[[], int]:
        return lambda: sum(int(batch[0].shape[0]) for batch in ds)

    contenders: dict[str, Callable[[], int]] = {"python generator": _generator_epoch}
    contenders["tf.data"] = _dataset_epoch(
        _files(augment=augment, num_parallel_calls=num_parallel_calls)
    )
    contenders["tf.data, OpenCV map"] = _dataset_epoch(
        _files(augment=augment, num_parallel_calls=num_parallel_calls, backend="opencv")
    )
    if keras_layers:
        layers = augmentation_layers(augment, seed=seed)
        contenders["tf.data, Keras layers"] = _dataset_epoch(
            _files(augment=layers, num_parallel_calls=num_parallel_calls)
        )
    if model is not None:
        x_fixed, y_fixed = next(iter(_files(shuffle=False, cache=False)))
        steps = check_positive("train_steps", train_steps)

        def _train_epoch() -> int:  # updates the weights: a benchmark, not a training run
            for _ in range(steps):
                model.train_on_batch(x_fixed, y_fixed)
            return steps * batch_size

        contenders["training step"] = _train_epoch
    result = ThroughputResult(
        {name: [] for name in contenders}, batch_size=batch_size, n_images=len(files)
    )
    for name, run_epoch in contenders.items():  # warm-up: cache filled, graphs traced
        rate = _epoch_rate(run_epoch)
        if name != "training step":
            result.first_epoch[name] = rate
    for _ in range(repeats):
        for name, run_epoch in contenders.items():
            result.runs[name].append(_epoch_rate(run_epoch))
    return result


def measure_fed_training(
    model: keras.Model,
    feeds: dict[str, Any],
    *,
    batch_size: int,
    repeats: int = 3,
) -> ThroughputResult:
    """Images/s of a training loop fed by each of ``feeds``, side by side.

    Each run is one epoch of what ``model.fit`` does at every step -- take the next batch
    from the feed, run one training step on it (``train_on_batch``) -- without ``fit``'s
    per-epoch set-up, which would blur a short benchmark. ``feeds`` maps a name to a
    ``keras.utils.PyDataset`` (indexed batch by batch, as ``fit`` does with one worker) or a
    ``tf.data.Dataset`` (iterated; its ``prefetch`` prepares batches in the background while
    the step runs). This is the end-to-end answer to "who is the bottleneck?": a model whose
    step is slower than every feed trains at about the same speed whatever feeds it; a model
    whose step outruns a feed waits for it -- it is *starved*. One warm-up epoch per feed
    (compiles the step, fills a cache), then ``repeats`` epochs taking turns. The weights
    change: a benchmark, not a training run.
    """
    repeats = check_positive("repeats", repeats)
    if not feeds:
        raise ValueError("feeds: give at least one dataset to feed the model")

    def _epoch(feed: Any) -> Callable[[], int]:
        def run() -> int:
            count = 0
            if isinstance(feed, keras.utils.PyDataset):
                for index in range(len(feed)):
                    x, y = feed[index]
                    model.train_on_batch(x, y)
                    count += len(x)
                feed.on_epoch_end()
            else:
                for x, y in feed:
                    model.train_on_batch(x, y)
                    count += int(x.shape[0])
            return count

        return run

    n_images = 0
    result = ThroughputResult({name: [] for name in feeds}, batch_size=batch_size)
    for name, feed in feeds.items():
        start = time.perf_counter()
        n_images = _epoch(feed)()
        result.first_epoch[name] = n_images / (time.perf_counter() - start)
    result.n_images = n_images
    for _ in range(repeats):
        for name, feed in feeds.items():
            result.runs[name].append(_epoch_rate(_epoch(feed)))
    return result
