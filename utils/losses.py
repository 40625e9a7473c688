"""Losses for the course's models: the masked keypoint loss, the triplet losses, and the
multi-label and multi-task losses of notebook 09.

Kaggle's keypoint labels are mostly incomplete: only about 30% of its training rows have all 15
keypoints, the rest have 4. Dropping those rows throws away 70% of the faces. The masked loss
keeps every row and simply ignores the missing (NaN) coordinates::

    model.compile(optimizer="adam", loss=masked_mse)

Every function here is registered with Keras, so a model compiled with it saves to ``.keras``
and loads back with ``keras.models.load_model(path, safe_mode=True)`` once ``utils.losses`` has
been imported.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="face_dl")
def masked_mse(y_true: Any, y_pred: Any) -> Any:
    """Mean squared error over the *labelled* coordinates only; NaN targets are ignored.

    Three steps: a mask of the present targets, zero-filling the missing ones (so no NaN can
    reach the gradient), and an average over the present values of the whole batch. Every
    labelled coordinate therefore weighs the same, whether its face has 4 keypoints or 15,
    and ``sqrt(masked_mse)`` is exactly the RMSE over the labelled coordinates.

    A face with no labels at all contributes nothing; a batch with none gives 0, not NaN.

    Keras averages a loss's per-sample values over the batch, so each face's value here is its
    sum of squared errors divided by the batch's *mean* number of labels per face: their batch
    mean is then the sum of squared errors over the number of labelled values.

    Args:
        y_true: ``(batch, 30)`` targets (or ``(batch, 15, 2)``), NaN where a keypoint is missing.
        y_pred: predictions of the same shape (never NaN).

    Returns:
        ``(batch,)`` per-face values whose mean is the masked MSE.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    # One row per face, whatever the label layout ((batch, 30) or (batch, 15, 2)).
    y_pred = ops.reshape(y_pred, (ops.shape(y_pred)[0], -1))
    y_true = ops.reshape(y_true, (ops.shape(y_true)[0], -1))
    present = ops.logical_not(ops.isnan(y_true))
    # Zero-fill *before* subtracting: where(mask, a - nan, 0) would still leak NaN gradients.
    filled = ops.where(present, y_true, ops.zeros_like(y_true))
    squared = ops.where(present, ops.square(y_pred - filled), ops.zeros_like(y_pred))
    per_face_sum = ops.sum(squared, axis=-1)
    counts = ops.cast(present, y_pred.dtype)
    per_face_count = ops.sum(counts, axis=-1)
    batch_size = ops.cast(ops.shape(per_face_count)[0], y_pred.dtype)
    mean_count = ops.sum(per_face_count) / batch_size
    return per_face_sum / ops.maximum(mean_count, ops.cast(1e-12, y_pred.dtype))


# --------------------------------------------------------------------------------------------
# Triplet losses with online mining (FaceNet: Schroff et al. 2015; Hermans et al. 2017)
# --------------------------------------------------------------------------------------------
#
# A triplet is an anchor face a, a positive p (same person) and a negative n (someone else).
# The loss pushes d(a, p) + margin below d(a, n). "Online" mining picks the triplets inside
# each batch, from the embeddings the network produces right now, instead of building triplets
# beforehand (most of which would soon be too easy to teach anything). Batches of P people x K
# faces (``utils.embeddings.pk_dataset``) make sure every anchor has positives and negatives.

TRIPLET_STRATEGIES = ("batch_all", "batch_hard", "semi_hard")


def _check_strategy(strategy: str) -> str:
    if strategy not in TRIPLET_STRATEGIES:
        raise ValueError(f"strategy={strategy!r}: expected one of {TRIPLET_STRATEGIES}")
    return strategy


def pairwise_distances(embeddings: Any, *, squared: bool = False) -> Any:
    """``(B, B)`` Euclidean (or squared Euclidean) distances between the rows of ``embeddings``.

    ``|a - b|^2 = |a|^2 - 2 a.b + |b|^2`` uses one matrix product instead of a ``(B, B, D)``
    difference tensor. The square root's gradient is infinite at 0 (the diagonal, identical
    faces), so zero distances are kept out of it: they stay 0 with a zero gradient, never NaN.
    """
    embeddings = ops.convert_to_tensor(embeddings)
    dot = ops.matmul(embeddings, ops.transpose(embeddings))
    sq_norms = ops.diagonal(dot)
    d2 = ops.maximum(ops.expand_dims(sq_norms, 1) - 2.0 * dot + ops.expand_dims(sq_norms, 0), 0.0)
    if squared:
        return d2
    zero = ops.cast(ops.less_equal(d2, 0.0), d2.dtype)
    return ops.sqrt(d2 + zero * 1e-16) * (1.0 - zero)


def _triplet_parts(
    labels: Any, embeddings: Any, strategy: str, margin: float, squared: bool, soft: bool
) -> dict[str, Any]:
    """The mining and the loss of one batch, computed once so the loss and the chosen
    triplets (:func:`mine_triplets`) always agree. Keys depend on ``strategy``."""
    embeddings = ops.convert_to_tensor(embeddings)
    if len(embeddings.shape) != 2:
        raise ValueError(
            f"embeddings: expected a (batch, dim) tensor, got shape {tuple(embeddings.shape)}"
        )
    dtype = embeddings.dtype
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    dist = pairwise_distances(embeddings, squared=squared)
    n = ops.shape(dist)[0]
    same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    rows = ops.arange(n)
    not_self = ops.not_equal(ops.expand_dims(rows, 1), ops.expand_dims(rows, 0))
    pos = ops.logical_and(same, not_self)  # pos[a, p]: p is another face of a's person
    neg = ops.logical_not(same)  # neg[a, n]: n is someone else
    has_neg = ops.any(neg, axis=1)
    big = ops.max(dist) + 1.0  # larger than any distance: "not a candidate" for a minimum
    zero = ops.zeros_like(dist)
    parts: dict[str, Any] = {"dist": dist, "pos": pos, "neg": neg}

    if strategy == "batch_all":
        # Every valid (a, p, n); average over the *active* ones (loss > 0), as Hermans et al.
        # recommend: averaging in the many zero-loss triplets would shrink the gradient.
        valid = ops.logical_and(ops.expand_dims(pos, 2), ops.expand_dims(neg, 1))
        raw = ops.expand_dims(dist, 2) - ops.expand_dims(dist, 1) + margin
        values = ops.where(valid, ops.relu(raw), ops.zeros_like(raw))
        active = ops.logical_and(valid, ops.greater(raw, 0.0))
        count = ops.sum(ops.cast(active, dtype))
        parts["active"] = active
        parts["loss"] = ops.sum(values) / ops.maximum(count, 1.0)
        return parts

    if strategy == "batch_hard":
        # Per anchor: its farthest positive and its closest negative (the hardest pair).
        hard_p = ops.argmax(ops.where(pos, dist, zero - 1.0), axis=1)
        hard_n = ops.argmin(ops.where(neg, dist, zero + big), axis=1)
        d_ap = ops.take_along_axis(dist, ops.expand_dims(hard_p, 1), axis=1)[:, 0]
        d_an = ops.take_along_axis(dist, ops.expand_dims(hard_n, 1), axis=1)[:, 0]
        valid_a = ops.logical_and(ops.any(pos, axis=1), has_neg)
        gap = d_ap - d_an
        per_anchor = ops.softplus(gap) if soft else ops.relu(gap + margin)
        per_anchor = ops.where(valid_a, per_anchor, ops.zeros_like(per_anchor))
        count = ops.sum(ops.cast(valid_a, dtype))
        parts.update(positive=hard_p, negative=hard_n, valid=valid_a)
        parts["loss"] = ops.sum(per_anchor) / ops.maximum(count, 1.0)
        return parts

    # semi_hard, as TensorFlow Addons' TripletSemiHardLoss: for each positive pair (a, p) the
    # closest negative that is still farther than p; when none is, the farthest negative.
    d_ap = ops.expand_dims(dist, 2)  # [a, p, 1]
    d_an = ops.expand_dims(dist, 1)  # [a, 1, n]
    outside = ops.logical_and(ops.expand_dims(neg, 1), ops.greater(d_an, d_ap))
    has_outside = ops.any(outside, axis=2)
    nearest_outside = ops.argmin(ops.where(outside, d_an + ops.zeros_like(d_ap), big), axis=2)
    farthest = ops.argmax(ops.where(neg, dist, zero - 1.0), axis=1)
    chosen = ops.where(has_outside, nearest_outside, ops.expand_dims(farthest, 1))
    d_chosen = ops.take_along_axis(dist, chosen, axis=1)  # [a, p] -> d(a, chosen n)
    valid_pair = ops.logical_and(pos, ops.expand_dims(has_neg, 1))
    per_pair = ops.where(valid_pair, ops.relu(dist - d_chosen + margin), zero)
    count = ops.sum(ops.cast(valid_pair, dtype))
    parts.update(negative=chosen, valid=valid_pair)
    parts["loss"] = ops.sum(per_pair) / ops.maximum(count, 1.0)
    return parts


def triplet_loss(
    labels: Any,
    embeddings: Any,
    strategy: str = "batch_hard",
    *,
    margin: float = 0.2,
    squared: bool = False,
    soft: bool = False,
) -> Any:
    """The triplet loss of one batch, mining the triplets online (a scalar tensor).

    Strategies (for each, the triplets it uses are returned by :func:`mine_triplets`):

    * ``"batch_all"`` -- every valid triplet; the mean over the *active* ones (loss > 0).
    * ``"batch_hard"`` -- per anchor, its farthest positive and closest negative; the mean
      over anchors (Hermans et al. 2017). ``soft=True`` uses ``softplus(d_ap - d_an)`` instead
      of a margin.
    * ``"semi_hard"`` -- per positive pair (a, p), the closest negative farther than p (it may
      still violate the margin, so it teaches without being the very hardest); if none is
      farther, the farthest negative. The mean over positive pairs (FaceNet; the rule of
      TensorFlow Addons' ``TripletSemiHardLoss``).

    Args:
        labels: ``(B,)`` integer person ids (any shape that flattens to ``B``).
        embeddings: ``(B, D)`` embeddings (usually L2-normalised).
        margin: the margin alpha that a negative must be farther than the positive by.
        squared: use squared Euclidean distances (FaceNet's choice) instead of Euclidean
            (Hermans et al.'s, who found it more stable).

    Anchors (or pairs) without a positive or a negative in the batch are skipped; a batch
    with none at all gives 0.
    """
    _check_strategy(strategy)
    return _triplet_parts(labels, embeddings, strategy, margin, squared, soft)["loss"]


def mine_triplets(
    labels: Any,
    embeddings: Any,
    strategy: str = "batch_hard",
    *,
    margin: float = 0.2,
    squared: bool = False,
) -> np.ndarray:
    """The ``(T, 3)`` int array of (anchor, positive, negative) row indices a strategy trains on.

    The same computation as :func:`triplet_loss`, so you can look at (and test) what each
    strategy picks: ``batch_all`` its active triplets, ``batch_hard`` one triplet per anchor,
    ``semi_hard`` one per positive pair; rows in ascending (anchor, positive, negative) order.
    """
    _check_strategy(strategy)
    parts = _triplet_parts(labels, embeddings, strategy, margin, squared, soft=False)
    if strategy == "batch_all":
        return np.argwhere(ops.convert_to_numpy(parts["active"])).astype(np.int64)
    valid = ops.convert_to_numpy(parts["valid"])
    negative = ops.convert_to_numpy(parts["negative"])
    if strategy == "batch_hard":
        positive = ops.convert_to_numpy(parts["positive"])
        anchors = np.flatnonzero(valid)
        rows = np.stack([anchors, positive[anchors], negative[anchors]], axis=1)
    else:
        a, p = np.nonzero(valid)
        rows = np.stack([a, p, negative[a, p]], axis=1)
    return rows.astype(np.int64).reshape(-1, 3)


@keras.saving.register_keras_serializable(package="face_dl")
class TripletLoss(keras.losses.Loss):
    """Triplet loss with online mining, as a Keras loss: ``y_true`` = integer person ids,
    ``y_pred`` = the embeddings.

    >>> model.compile(optimizer="adam", loss=TripletLoss("semi_hard", margin=0.2))  # doctest: +SKIP

    Train it on batches that hold several faces of each person (P people x K faces, see
    ``utils.embeddings.pk_dataset``); a batch of strangers has no positives and gives 0. The
    loss is one number per batch (sample weights are not supported). See :func:`triplet_loss`
    for the strategies.
    """

    def __init__(
        self,
        strategy: str = "batch_hard",
        margin: float = 0.2,
        squared: bool = False,
        soft: bool = False,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        _check_strategy(strategy)
        if not margin >= 0:
            raise ValueError(f"margin={margin!r}: expected a non-negative number")
        super().__init__(name=name or f"triplet_{strategy}", **kwargs)
        self.strategy = strategy
        self.margin = float(margin)
        self.squared = bool(squared)
        self.soft = bool(soft)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        parts = _triplet_parts(y_true, y_pred, self.strategy, self.margin, self.squared, self.soft)
        return parts["loss"]

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            strategy=self.strategy, margin=self.margin, squared=self.squared, soft=self.soft
        )
        return config


@keras.saving.register_keras_serializable(package="face_dl")
class TripletSemiHardLoss(TripletLoss):
    """Drop-in for TensorFlow Addons' ``tfa.losses.TripletSemiHardLoss`` (dead with Keras 3):
    semi-hard mining, Euclidean distances, TFA's default margin of 1.0."""

    def __init__(self, margin: float = 1.0, name: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("strategy", None)
        super().__init__("semi_hard", margin=margin, name=name or "triplet_semihard", **kwargs)


@keras.saving.register_keras_serializable(package="face_dl")
class TripletHardLoss(TripletLoss):
    """Drop-in for TensorFlow Addons' ``tfa.losses.TripletHardLoss``: batch-hard mining,
    Euclidean distances, margin 1.0 (``soft=True``: the soft margin ``softplus``)."""

    def __init__(
        self, margin: float = 1.0, soft: bool = False, name: str | None = None, **kwargs: Any
    ) -> None:
        kwargs.pop("strategy", None)
        super().__init__(
            "batch_hard", margin=margin, soft=soft, name=name or "triplet_hard", **kwargs
        )


# --------------------------------------------------------------------------------------------
# Multi-label action units: binary cross-entropy that weighs the rare positives up
# --------------------------------------------------------------------------------------------


def positive_weights(labels: Any, *, max_weight: float = 10.0) -> np.ndarray:
    """One weight per AU column: (absent faces) / (present faces), between 1 and ``max_weight``.

    With it, each AU's few positives weigh as much in the loss as its many negatives. NaN
    labels (not coded) are not counted. An AU never present gets ``max_weight``.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels: shape {y.shape}; expected (N, n_aus) 0/1 labels")
    if not max_weight >= 1:
        raise ValueError(f"max_weight={max_weight!r}: expected a number >= 1")
    positives = np.nansum(y == 1, axis=0).astype(np.float64)
    negatives = np.nansum(y == 0, axis=0).astype(np.float64)
    ratio = np.divide(
        negatives, positives, out=np.full(y.shape[1], float(max_weight)), where=positives > 0
    )
    return np.clip(ratio, 1.0, max_weight).astype(np.float32)


@keras.saving.register_keras_serializable(package="face_dl")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy for sigmoid outputs, with the positive term of AU k times ``pos_weight[k]``.

    ``loss = -mean_k( w_k * y * log(p) + (1 - y) * log(1 - p) )``. A rare AU (present in 5% of
    faces) otherwise teaches the network that "absent" is almost always right; with
    ``w_k = 19`` its positives and negatives pull equally. Weight 1 everywhere is Keras'
    ``binary_crossentropy``. Use :func:`positive_weights` on the *training* labels.
    """

    def __init__(
        self,
        pos_weight: Any,
        name: str = "weighted_binary_crossentropy",
        reduction: str = "sum_over_batch_size",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, reduction=reduction, **kwargs)
        weights = np.asarray(pos_weight, dtype=np.float32).ravel()
        if weights.size == 0 or not np.all(np.isfinite(weights)) or (weights <= 0).any():
            raise ValueError(
                f"pos_weight={pos_weight!r}: expected positive numbers, one per output (or one)"
            )
        self.pos_weight = weights

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        eps = keras.config.epsilon()
        p = ops.clip(y_pred, eps, 1.0 - eps)
        w = ops.cast(self.pos_weight, y_pred.dtype)
        per_unit = -(w * y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
        return ops.mean(per_unit, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pos_weight": self.pos_weight.tolist()}


@keras.saving.register_keras_serializable(package="face_dl")
class MaskedCategoricalCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy that ignores faces without a label (an all-zero target row).

    In multi-task data one task's label is often missing: half the AU faces have no emotion.
    The usual trick is a target row of zeros, which gives zero *loss* under Keras'
    ``categorical_crossentropy``, but **not zero gradient**: on the TensorFlow backend Keras
    computes the loss of a softmax output from its logits (``softmax_cross_entropy_with_logits``),
    whose gradient ``softmax - target`` assumes the target sums to 1. Every unlabelled face then
    pulls its own prediction towards uniform, and a jointly trained emotion head fights the
    faces it cannot see. This loss multiplies each row by its label mass (1 for a one-hot row,
    0 for no label), so an unlabelled face contributes neither loss nor gradient::

        model.compile(loss={"aus": WeightedBinaryCrossentropy(w),
                            "emotion": MaskedCategoricalCrossentropy()})

    The batch mean still counts the unlabelled rows, so the head's loss (and its share of the
    gradient) shrinks with the labelled fraction; ``loss_weights=`` can make up for it.
    """

    def __init__(
        self,
        name: str = "masked_categorical_crossentropy",
        reduction: str = "sum_over_batch_size",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        labelled = ops.sum(y_true, axis=-1)  # 1 for a one-hot row, 0 where there is no label
        return labelled * keras.losses.categorical_crossentropy(y_true, y_pred)
