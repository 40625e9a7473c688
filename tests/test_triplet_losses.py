"""Triplet losses with online mining: loss values AND chosen triplets match a brute-force NumPy
reference (plain loops over every anchor, positive and negative) on random embeddings."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.losses import (
    TRIPLET_STRATEGIES,
    TripletHardLoss,
    TripletLoss,
    TripletSemiHardLoss,
    mine_triplets,
    pairwise_distances,
    triplet_loss,
)

# --------------------------------------------------------------------------------------------
# The reference: loops, no vectorisation, written straight from the papers' definitions
# --------------------------------------------------------------------------------------------


def ref_distances(e: np.ndarray, squared: bool) -> np.ndarray:
    n = len(e)
    d = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        diff = e[i].astype(np.float64) - e[j].astype(np.float64)
        d[i, j] = diff @ diff if squared else np.sqrt(diff @ diff)
    return d


def reference(
    labels: np.ndarray, e: np.ndarray, strategy: str, margin: float, squared: bool = False
) -> tuple[float, list[tuple[int, int, int]]]:
    """(loss, chosen triplets) by brute force."""
    d = ref_distances(e, squared)
    n = len(labels)
    chosen: list[tuple[int, int, int]] = []
    values: list[float] = []
    for a in range(n):
        positives = [p for p in range(n) if p != a and labels[p] == labels[a]]
        negatives = [k for k in range(n) if labels[k] != labels[a]]
        if not positives or not negatives:
            continue
        if strategy == "batch_all":
            for p in positives:
                for k in negatives:
                    value = d[a, p] - d[a, k] + margin
                    if value > 0:
                        chosen.append((a, p, k))
                        values.append(value)
        elif strategy == "batch_hard":
            p = max(positives, key=lambda q: d[a, q])
            k = min(negatives, key=lambda q: d[a, q])
            chosen.append((a, p, k))
            values.append(max(d[a, p] - d[a, k] + margin, 0.0))
        else:  # semi_hard: nearest negative farther than p, else the farthest negative
            for p in positives:
                farther = [k for k in negatives if d[a, k] > d[a, p]]
                if farther:
                    k = min(farther, key=lambda q: d[a, q])
                else:
                    k = max(negatives, key=lambda q: d[a, q])
                chosen.append((a, p, k))
                values.append(max(d[a, p] - d[a, k] + margin, 0.0))
    loss = float(np.mean(values)) if values else 0.0
    return loss, sorted(chosen)


def random_batch(
    seed: int, people: int = 5, per_person: int = 4, dim: int = 8, normalise: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(rng.choice(100, people, replace=False), per_person)
    labels = labels[rng.permutation(len(labels))]  # faces of a person need not be adjacent
    e = rng.normal(size=(len(labels), dim)).astype(np.float32)
    if normalise:
        e /= np.linalg.norm(e, axis=1, keepdims=True)
    return labels, e


# --------------------------------------------------------------------------------------------
# Loss values and mined triplets against the reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", TRIPLET_STRATEGIES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("squared", [False, True])
def test_matches_brute_force(strategy: str, seed: int, squared: bool) -> None:
    labels, e = random_batch(seed)
    margin = 0.3
    want_loss, want_triplets = reference(labels, e, strategy, margin, squared)
    got = float(triplet_loss(labels, e, strategy, margin=margin, squared=squared))
    triplets = mine_triplets(labels, e, strategy, margin=margin, squared=squared)
    assert got == pytest.approx(want_loss, rel=1e-4, abs=1e-5)
    assert [tuple(int(v) for v in t) for t in triplets] == want_triplets
    assert want_loss > 0  # the test would be vacuous on an easy batch


def test_uneven_people_and_singletons() -> None:
    """People with 1 face (no positive: not an anchor) and with many faces."""
    rng = np.random.default_rng(7)
    labels = np.array([3, 3, 3, 3, 3, 9, 9, 4, 1, 1, 1])
    e = rng.normal(size=(len(labels), 5)).astype(np.float32)
    for strategy in TRIPLET_STRATEGIES:
        want_loss, want_triplets = reference(labels, e, strategy, 0.5)
        triplets = mine_triplets(labels, e, strategy, margin=0.5)
        assert float(triplet_loss(labels, e, strategy, margin=0.5)) == pytest.approx(
            want_loss, rel=1e-4
        )
        assert [tuple(int(v) for v in t) for t in triplets] == want_triplets
        assert 7 not in triplets[:, 0]  # the lone face of person 4 is never an anchor


def test_each_strategy_picks_what_it_promises() -> None:
    labels, e = random_batch(3, people=4, per_person=4)
    d = ref_distances(e, squared=False)
    hard = mine_triplets(labels, e, "batch_hard")
    assert len(hard) == len(labels)  # one per anchor
    for a, p, n in hard:
        assert labels[p] == labels[a] and labels[n] != labels[a] and p != a
        assert d[a, p] == pytest.approx(max(d[a, labels == labels[a]]))
        assert d[a, n] == pytest.approx(min(d[a, labels != labels[a]]))
    semi = mine_triplets(labels, e, "semi_hard")
    assert len(semi) == len(labels) * 3  # one per positive pair
    farther = [d[a, n] > d[a, p] for a, p, n in semi]
    assert any(farther)  # semi-hard negatives exist in a random batch
    every = mine_triplets(labels, e, "batch_all", margin=10.0)  # huge margin: all are active
    assert len(every) == len(labels) * 3 * 12


def test_easy_batches_give_zero() -> None:
    """People far apart, faces of a person identical: no triplet violates the margin."""
    labels = np.repeat(np.arange(3), 3)
    e = np.repeat(np.eye(3, dtype=np.float32) * 5.0, 3, axis=0)
    for strategy in TRIPLET_STRATEGIES:
        assert float(triplet_loss(labels, e, strategy, margin=0.2)) == 0.0
    assert len(mine_triplets(labels, e, "batch_all")) == 0
    # No positives at all (every face a different person): 0, not NaN.
    labels = np.arange(6)
    e = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    for strategy in TRIPLET_STRATEGIES:
        assert float(triplet_loss(labels, e, strategy)) == 0.0


def test_soft_margin_batch_hard() -> None:
    labels, e = random_batch(4)
    d = ref_distances(e, squared=False)
    gaps = [d[a, p] - d[a, n] for a, p, n in mine_triplets(labels, e, "batch_hard")]
    want = np.mean(np.log1p(np.exp(gaps)))
    got = float(triplet_loss(labels, e, "batch_hard", soft=True))
    assert got == pytest.approx(want, rel=1e-5)


def test_labels_in_any_shape_and_order_invariance() -> None:
    labels, e = random_batch(5)
    base = float(triplet_loss(labels, e, "semi_hard"))
    assert float(triplet_loss(labels.reshape(-1, 1).astype(np.float32), e, "semi_hard")) == (
        pytest.approx(base, rel=1e-6)
    )
    perm = np.random.default_rng(0).permutation(len(labels))
    assert float(triplet_loss(labels[perm], e[perm], "semi_hard")) == pytest.approx(base, rel=1e-5)


# --------------------------------------------------------------------------------------------
# Gradients, Keras integration, serialisation
# --------------------------------------------------------------------------------------------


def test_distances_have_finite_gradients_at_zero() -> None:
    """Duplicate embeddings (distance 0): the square root must not produce NaN gradients."""
    e = tf.Variable(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32))
    with tf.GradientTape() as tape:
        d = pairwise_distances(e)
        total = tf.reduce_sum(d)
    grad = tape.gradient(total, e).numpy()
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(d.numpy()[0, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(d.numpy()[0, 2], np.sqrt(2.0), rtol=1e-5)


@pytest.mark.parametrize("strategy", TRIPLET_STRATEGIES)
def test_gradient_step_lowers_the_loss(strategy: str) -> None:
    labels, e0 = random_batch(6, dim=16, normalise=False)
    e = tf.Variable(e0)
    before = float(triplet_loss(labels, e, strategy))
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = triplet_loss(labels, e, strategy)
        grad = tape.gradient(loss, e)
        assert np.isfinite(grad.numpy()).all()
        e.assign_sub(0.05 * grad)
    after = float(triplet_loss(labels, e, strategy))
    assert after < before


def test_validation() -> None:
    with pytest.raises(ValueError, match="strategy="):
        TripletLoss("hardest")
    with pytest.raises(ValueError, match="strategy="):
        mine_triplets(np.zeros(3), np.zeros((3, 2)), "easy")
    with pytest.raises(ValueError, match="margin="):
        TripletLoss("batch_hard", margin=-1.0)
    with pytest.raises(ValueError, match=r"\(batch, dim\)"):
        triplet_loss(np.zeros(3), np.zeros((3, 2, 2)))


def test_keras_fit_save_and_safe_load(tmp_path) -> None:
    """Compile a model with the loss, train a few steps, save, load in safe mode."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 6)).astype(np.float32)
    labels = np.repeat(np.arange(4), 8)
    x = centres[labels] + 0.8 * rng.normal(size=(32, 6)).astype(np.float32)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8), keras.layers.UnitNormalization()]
    )
    loss = TripletLoss("batch_hard", margin=0.3)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    first = float(model.evaluate(x, labels, batch_size=32, verbose=0))
    want, _ = reference(labels, model.predict(x, verbose=0), "batch_hard", 0.3)
    assert first == pytest.approx(want, rel=1e-4)  # Keras reports exactly our value
    model.fit(x, labels, batch_size=32, epochs=30, verbose=0)
    assert float(model.evaluate(x, labels, batch_size=32, verbose=0)) < first
    path = tmp_path / "emb.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert isinstance(restored.loss, TripletLoss)
    assert restored.loss.get_config()["strategy"] == "batch_hard"
    assert restored.loss.margin == pytest.approx(0.3)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_tfa_drop_ins_round_trip() -> None:
    semi = TripletSemiHardLoss()
    assert (semi.strategy, semi.margin) == ("semi_hard", 1.0)
    hard = TripletHardLoss(margin=0.5, soft=True)
    again = keras.losses.deserialize(keras.losses.serialize(hard))
    assert isinstance(again, TripletHardLoss)
    assert (again.strategy, again.margin, again.soft) == ("batch_hard", 0.5, True)
    labels, e = random_batch(8)
    assert float(semi(labels, e)) == pytest.approx(reference(labels, e, "semi_hard", 1.0)[0])
