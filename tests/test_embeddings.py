"""utils.embeddings: the P x K sampler, the embedding network, verification/retrieval metrics
and the figures."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from utils.embeddings import (
    chop_head,
    clustering_purity,
    embedding_net,
    few_shot_split,
    fit_softmax_head,
    nearest_neighbour_accuracy,
    nearest_neighbours,
    pk_dataset,
    plot_embedding_2d,
    plot_retrieval_grid,
    plot_roc,
    verification_pairs,
    verification_report,
)


def tiny_faces(counts: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose pixel (0, 0) holds the row number, so a batch says which rows it drew."""
    labels = np.concatenate([np.full(c, 10 + 3 * i) for i, c in enumerate(counts)])
    order = np.random.default_rng(seed).permutation(len(labels))  # people not in blocks
    labels = labels[order]
    images = np.zeros((len(labels), 4, 4, 1), np.float32)
    images[:, 0, 0, 0] = np.arange(len(labels))
    return images, labels


# --------------------------------------------------------------------------------------------
# P x K sampler
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("P", "K"), [(4, 3), (2, 2), (6, 5)])
def test_every_batch_has_p_people_with_k_faces(P: int, K: int) -> None:
    images, labels = tiny_faces([5, 7, 6, 9, 5, 8, 6])
    for x, y in pk_dataset(images, labels, P=P, K=K, seed=3, batches=25):
        x, y = x.numpy(), y.numpy()
        assert x.shape == (P * K, 4, 4, 1) and y.shape == (P * K,)
        people, counts = np.unique(y, return_counts=True)
        assert len(people) == P and (counts == K).all()
        rows = x[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(labels[rows], y)  # each face carries its own label
        assert len(np.unique(rows)) == P * K  # every person has >= K faces: no repeats
        blocks = y.reshape(P, K)  # person by person
        assert (blocks == blocks[:, :1]).all()


def test_sampler_is_deterministic_and_covers_the_data() -> None:
    images, labels = tiny_faces([6, 6, 6, 6, 6])

    def rows(seed: int) -> list[list[int]]:
        return [
            x.numpy()[:, 0, 0, 0].astype(int).tolist()
            for x, _ in pk_dataset(images, labels, P=3, K=2, seed=seed, batches=40)
        ]

    first = rows(7)
    assert first == rows(7)
    assert first != rows(8)
    seen = set(itertools.chain.from_iterable(first))
    assert len(seen) == len(labels)  # 40 batches of 6 reach all 30 faces
    # Which people a batch holds varies (no fixed order).
    assert len({tuple(sorted(set(labels[r]))) for r in first}) > 3


def test_sampler_cycles_through_small_people_and_repeats_forever() -> None:
    """A person with fewer than K faces gives every face before any face twice."""
    images, labels = tiny_faces([2, 3, 6])
    ds = pk_dataset(images, labels, P=3, K=4, seed=0)  # no `batches`: endless
    orders = set()
    for x, y in ds.take(60):
        rows = x.numpy()[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(labels[rows], y.numpy())
        for person in np.unique(labels):
            mine = rows[y.numpy() == person]
            assert len(mine) == 4
            have = int((labels == person).sum())
            _, uses = np.unique(mine, return_counts=True)
            assert len(uses) == min(4, have)  # all of a small person's faces ...
            assert uses.max() - uses.min() <= 1  # ... each used as often as the others
            if have == 2:
                orders.add(tuple(mine))
    assert len(orders) == 2  # both orders (a b a b, b a b a) occur: the order is random


def test_sampler_validation() -> None:
    images, labels = tiny_faces([3, 3])
    with pytest.raises(ValueError, match="P=3: only 2 different people"):
        pk_dataset(images, labels, P=3, K=2)
    with pytest.raises(ValueError, match="K="):
        pk_dataset(images, labels, P=2, K=1)
    with pytest.raises(ValueError, match="P="):
        pk_dataset(images, labels, P=1, K=2)
    with pytest.raises(ValueError, match="6 images but 5 labels"):
        pk_dataset(images, labels[:5], P=2, K=2)
    with pytest.raises(ValueError, match="integer person ids"):
        pk_dataset(images, labels.astype(str), P=2, K=2)
    with pytest.raises(ValueError, match="batches="):
        pk_dataset(images, labels, P=2, K=2, batches=0)


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def test_embedding_net_outputs_unit_vectors_and_loads_in_safe_mode(tmp_path) -> None:
    keras.utils.set_random_seed(0)
    model = embedding_net((40, 32, 1), 16, filters=(4, 8), image_size=(20, 16))
    x = np.random.default_rng(0).random((5, 40, 32, 1)).astype(np.float32)
    e = model.predict(x, verbose=0)
    assert e.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    model.save(tmp_path / "emb.keras")
    restored = keras.models.load_model(tmp_path / "emb.keras", safe_mode=True)
    np.testing.assert_allclose(restored.predict(x, verbose=0), e, atol=1e-6)
    assert embedding_net((40, 32, 1), 8, filters=(4,), pooling="avg").output_shape == (None, 8)
    with pytest.raises(ValueError, match="image_size="):
        embedding_net((40, 32, 1), filters=(4, 8, 8), image_size=(6, 6))
    with pytest.raises(ValueError, match="pooling="):
        embedding_net((40, 32, 1), pooling="max")


def test_chop_head_returns_the_features_before_the_last_dense() -> None:
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    out = keras.layers.Rescaling(2.0)(keras.layers.Dense(3, name="out")(hidden))
    model = keras.Model(inputs, out)
    features = chop_head(model)
    x = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    want = keras.Model(inputs, hidden).predict(x, verbose=0)
    np.testing.assert_allclose(features.predict(x, verbose=0), want)
    with pytest.raises(ValueError, match="no Dense layer"):
        chop_head(keras.Sequential([keras.Input((3,)), keras.layers.Rescaling(1.0)]))


# --------------------------------------------------------------------------------------------
# Verification, retrieval, clustering
# --------------------------------------------------------------------------------------------


def clustered(people: int, per: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 8))
    labels = np.repeat(np.arange(people), per)
    return centres[labels] + spread * rng.normal(size=(len(labels), 8)), labels


def test_verification_pairs_are_balanced_and_complete() -> None:
    labels = np.repeat(np.arange(5), 4)
    i, j, same = verification_pairs(labels, seed=1)
    assert same.sum() == 5 * 6  # every same-person pair (4 choose 2 per person)
    assert (~same).sum() == same.sum()
    assert (i < j).all() and np.array_equal(labels[i] == labels[j], same)
    assert len({(a, b) for a, b in zip(i, j, strict=True)}) == len(i)
    again = verification_pairs(labels, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(again, (i, j, same), strict=True))
    with pytest.raises(ValueError, match="two faces"):
        verification_pairs(np.arange(5))


def test_verification_report_separates_clusters_from_noise() -> None:
    e, labels = clustered(6, 5, spread=0.1)
    good = verification_report(e, labels)
    assert good.auc > 0.99 and good.accuracy > 0.95
    noise = np.random.default_rng(1).normal(size=e.shape)
    bad = verification_report(noise, labels)
    assert 0.3 < bad.auc < 0.7
    # AUC agrees with its definition: P(distance of a same pair < distance of a different one).
    d_same, d_diff = good.distances[good.same], good.distances[~good.same]
    want = np.mean(d_same[:, None] < d_diff[None, :])
    assert good.auc == pytest.approx(want, abs=1e-9)
    # A given threshold is used as it is.
    fixed = verification_report(e, labels, threshold=0.0)
    assert fixed.threshold == 0.0 and fixed.accuracy == pytest.approx(0.5)
    with pytest.raises(ValueError, match="row 2 is not finite"):
        verification_report(np.where(np.arange(30)[:, None] == 1, np.nan, e), labels)
    with pytest.raises(ValueError, match="one person id per embedding"):
        verification_report(e, labels[:-1])


def test_nearest_neighbours_against_brute_force() -> None:
    rng = np.random.default_rng(2)
    q, g = rng.normal(size=(7, 3)), rng.normal(size=(11, 3))
    idx, dist = nearest_neighbours(q, g, k=4)
    full = np.linalg.norm(q[:, None] - g[None], axis=2)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :4], atol=1e-9)
    self_idx, _ = nearest_neighbours(g, g, k=2, exclude_self=True)
    assert (self_idx != np.arange(11)[:, None]).all()
    with pytest.raises(ValueError, match="k=12"):
        nearest_neighbours(q, g, k=12)


def test_few_shot_split_and_nearest_neighbour_accuracy() -> None:
    labels = np.repeat(np.arange(4), 6)
    labels[-4:] = 9  # people 0, 1, 2: 6 faces; person 3: 2 faces; person 9: 4 faces
    gallery, query = few_shot_split(labels, 3, seed=0)
    assert not set(gallery) & set(query)
    assert all((labels[gallery] == p).sum() == 3 for p in (0, 1, 2, 9))
    assert 3 not in labels[gallery] and 3 not in labels[query]  # 2 faces: no query left
    assert len(query) == len(labels) - len(gallery) - 2
    assert few_shot_split(labels, 3, seed=0)[0].tolist() == gallery.tolist()  # deterministic
    assert few_shot_split(labels, 5, seed=0)[0].size == 3 * 5  # person 9 (4 faces) left out
    with pytest.raises(ValueError, match="no person has more than 6"):
        few_shot_split(labels, 6)
    e, y = clustered(5, 6, spread=0.05)
    g, q = few_shot_split(y, 1, seed=0)
    assert nearest_neighbour_accuracy(e[g], y[g], e[q], y[q]) == 1.0
    shuffled = np.random.default_rng(0).permutation(y)
    assert nearest_neighbour_accuracy(e[g], shuffled[g], e[q], y[q]) < 0.6


def test_fit_softmax_head_learns_separable_features() -> None:
    e, y = clustered(4, 6, spread=0.1)
    y = y * 7 + 3  # arbitrary person ids come back as they were
    head, classes = fit_softmax_head(e, y, epochs=150, seed=0)
    pred = classes[head.predict(e, verbose=0).argmax(axis=1)]
    assert (pred == y).mean() == 1.0


def test_clustering_purity() -> None:
    e, y = clustered(5, 8, spread=0.05)
    assert clustering_purity(e, y, seed=0) == 1.0
    noise = np.random.default_rng(3).normal(size=e.shape)
    assert clustering_purity(noise, y, seed=0) < 0.6
    with pytest.raises(ValueError, match="n_clusters=0"):
        clustering_purity(e, y, n_clusters=0)


def test_figures() -> None:
    e, y = clustered(4, 6, spread=0.2)
    for method in ("tsne", "pca"):
        fig = plot_embedding_2d(e, y, method=method)
        assert len(fig.axes[0].collections) == 4  # one scatter per person
    with pytest.raises(ValueError, match="method="):
        plot_embedding_2d(e, y, method="umap")
    assert len(plot_roc({"a": verification_report(e, y)}).axes) == 1
    images = np.random.default_rng(0).random((24, 8, 8, 1)).astype(np.float32)
    nn, _ = nearest_neighbours(e[:3], e, k=4)
    fig = plot_retrieval_grid(images[:3], images, nn, y[:3], y)
    assert len(fig.axes) == 3 * 5
    colours = [ax.title.get_color() for ax in fig.axes[1:5]]
    want = ["green" if y[i] == y[0] else "red" for i in nn[0]]
    assert colours == want


# --------------------------------------------------------------------------------------------
# LFW (real mode): no network in tests, so only the offline message and argument checks
# --------------------------------------------------------------------------------------------


def test_load_lfw_offline_says_what_to_do(tmp_path) -> None:
    from utils.data_identities import load_lfw

    with pytest.raises(ConnectionError, match="connect to the internet") as info:
        load_lfw(data_home=tmp_path, download=False)  # an empty folder: no copy of LFW
    assert str(tmp_path) in str(info.value) and "DATA = 'sample'" in str(info.value)
    with pytest.raises(ValueError, match="min_faces_per_person=0"):
        load_lfw(min_faces_per_person=0, data_home=tmp_path, download=False)
    with pytest.raises(ValueError, match="resize=2"):
        load_lfw(resize=2, data_home=tmp_path, download=False)


def test_chop_head_first_dense_keeps_the_trunk_and_looks_inside_a_wrapper() -> None:
    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten(name="flat")(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(flat)
    net = keras.Model(inputs, keras.layers.Dense(3, name="out")(hidden), name="net")
    # A wrapper like the shipped keypoint model's: the same input, the network nested inside.
    outer_in = keras.Input((8, 8, 1))
    wrapper = keras.Model(outer_in, keras.layers.Rescaling(2.0)(net(outer_in)), name="wrapper")
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype(np.float32)
    trunk = chop_head(wrapper, at="first_dense")
    assert trunk.output.shape[-1] == 72  # 6 x 6 x 2, the Flatten that fed the first Dense
    np.testing.assert_allclose(trunk(x), keras.Model(inputs, flat)(x), rtol=1e-6)
    last = chop_head(wrapper)
    np.testing.assert_allclose(last(x), keras.Model(inputs, hidden)(x), rtol=1e-6)
    with pytest.raises(ValueError, match="at='middle'"):
        chop_head(wrapper, at="middle")


def test_chop_head_of_a_heatmap_network_keeps_its_feature_maps() -> None:
    from utils.keypoint_augmentation import keypoint_unflip_map
    from utils.models import keypoint_heatmap
    from utils.runs import with_flip_tta

    net = keypoint_heatmap(widths=(4, 6, 8, 10), stem=4)
    wrapper = with_flip_tta(net, keypoint_unflip_map(47.5))  # like the shipped model
    x = np.random.default_rng(0).random((2, 96, 96, 1)).astype(np.float32)
    last, trunk = chop_head(wrapper), chop_head(wrapper, at="first_dense")
    # the 15 heatmaps of 24 x 24 cells, and the coarsest feature map (6 x 6 x 10)
    assert last.output.shape[-1] == 15 * 24 * 24 and trunk.output.shape[-1] == 6 * 6 * 10
    heatmaps = last(x).numpy().reshape(2, 15, 24 * 24)
    np.testing.assert_allclose(heatmaps.sum(axis=-1), 1.0, rtol=1e-5)  # each a softmax
    want = keras.Model(net.inputs, net.get_layer("conv6_2_relu").output)(x)
    np.testing.assert_allclose(trunk(x), np.reshape(want, (2, -1)), rtol=1e-5)


def test_embed_matches_predict_and_rejects_nothing_to_embed() -> None:
    from utils.embeddings import embed

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    x = np.random.default_rng(1).random((5, 4)).astype(np.float32)
    out = embed(model, x, batch_size=2)  # two full batches and a partial one
    assert out.dtype == np.float32 and out.shape == (5, 2)
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least one image"):
        embed(model, x[:0])
    with pytest.raises(ValueError, match="batch_size"):
        embed(model, x, batch_size=0)


def test_fit_softmax_head_follows_keras_adam() -> None:
    """The NumPy steps are Keras' Adam on a softmax layer: compare a few steps with Keras."""
    e, y = clustered(3, 5, spread=0.5, seed=2)
    head, _ = fit_softmax_head(e, y, epochs=5, learning_rate=0.05, seed=0)
    twin = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax")])
    start, _ = fit_softmax_head(e, y, epochs=1, learning_rate=0.0, seed=0)  # the Glorot start
    twin.set_weights(start.get_weights())
    twin.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    twin.fit(e.astype(np.float32), y, batch_size=len(e), epochs=5, shuffle=False, verbose=0)
    for mine, theirs in zip(head.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4)
