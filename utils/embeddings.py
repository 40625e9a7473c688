"""FaceNet-style face embeddings: the network, P x K batches, and how to judge an embedding.

FaceNet (Schroff et al., 2015) maps a face to a point on the unit sphere in 128 dimensions so
that faces of one person land close together and faces of different people far apart. Then

* **verification** ("are these two faces the same person?") is a distance threshold;
* **identification** ("who is this?") is a nearest-neighbour search in a gallery;
* **clustering** ("how many people are in my photos?") is k-means on the embeddings;

and a *new* person needs no retraining: one photo in the gallery is enough. The network is
trained with a triplet loss (``utils.losses.TripletLoss``) on batches of P people x K faces
(:func:`pk_dataset`). Notebook 08 uses everything here::

    model = embedding_net(input_shape=(112, 92, 1), image_size=(56, 46))
    model.compile("adam", loss=TripletLoss("batch_hard"))
    model.fit(pk_dataset(x_train, y_train, P=8, K=4), steps_per_epoch=30, epochs=5)
    report = verification_report(embed(model, x_test), y_test)   # report.auc, report.accuracy
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers
from matplotlib.figure import Figure

from utils.image_arrays import as_image_batch, display_range

EMBEDDING_DIM = 128

# --------------------------------------------------------------------------------------------
# The embedding network
# --------------------------------------------------------------------------------------------


def embedding_net(
    input_shape: Sequence[int] = (112, 92, 1),
    embedding_dim: int = EMBEDDING_DIM,
    *,
    filters: Sequence[int] = (16, 32, 64),
    image_size: Sequence[int] | None = None,
    pooling: str = "flatten",
    dropout: float = 0.0,
    name: str = "face_embedding",
) -> keras.Model:
    """A small convnet that maps a face to an L2-normalised ``embedding_dim`` vector.

    ``[Conv-BatchNorm-ReLU, MaxPool] x len(filters)`` -> ``Flatten`` -> ``Dense`` ->
    ``UnitNormalization``. ``Flatten`` keeps *where* each feature was found, and for aligned
    faces where matters: on the course's sample faces, after 150 semi-hard training steps, it
    reached a verification AUC of 0.83 on unseen people, global average pooling (which forgets
    positions, as big ImageNet networks do) only 0.61. The last layer puts every embedding on the unit
    sphere, as in
    FaceNet: distances are then between 0 and 2 and a fixed triplet margin (0.2) means the
    same thing throughout training (otherwise the network could shrink or blow up all
    distances instead of learning who is who). Built-in layers only, so the model saves to
    ``.keras`` and loads with ``keras.models.load_model(path, safe_mode=True)``.

    Args:
        input_shape: the faces as the loader gives them, ``(height, width, channels)``.
        embedding_dim: length of the embedding (FaceNet: 128).
        filters: channels of each conv block (each block halves the image).
        image_size: ``(height, width)`` to resize the faces to inside the model (smaller is
            faster: ORL's 112x92 faces at ``(56, 46)`` train 4x faster). None keeps them.
        pooling: ``"flatten"`` (keep positions) or ``"avg"`` (global average pooling).
        dropout: dropout rate before the ``Dense`` projection.
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={tuple(input_shape)!r}: expected (height, width, channels)")
    if embedding_dim < 2:
        raise ValueError(f"embedding_dim={embedding_dim!r}: expected at least 2 dimensions")
    if not filters or any(int(f) < 1 for f in filters):
        raise ValueError(f"filters={tuple(filters)!r}: expected one positive width per block")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    if pooling not in ("flatten", "avg"):
        raise ValueError(f"pooling={pooling!r}: expected 'flatten' or 'avg'")
    shape = tuple(int(d) for d in input_shape)
    inputs = keras.Input(shape=shape, name="face")
    x = inputs
    if image_size is not None:
        if len(image_size) != 2 or min(int(s) for s in image_size) < 2 ** len(filters):
            raise ValueError(
                f"image_size={tuple(image_size)!r}: expected (height, width), each at least "
                f"{2 ** len(filters)} for {len(filters)} pooling blocks"
            )
        if tuple(int(s) for s in image_size) != shape[:2]:
            x = layers.Resizing(int(image_size[0]), int(image_size[1]), name="resize")(x)
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(int(f), 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    if pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(int(embedding_dim), name="projection")(x)
    outputs = layers.UnitNormalization(name="l2_normalise")(x)
    return keras.Model(inputs, outputs, name=name)


def embed(model: keras.Model, images: Any, *, batch_size: int = 128) -> np.ndarray:
    """The outputs of ``model`` for ``images`` (embeddings, features) as float32 ``(N, dim)``.

    The model is called directly, batch by batch, in inference mode. ``model.predict`` would
    compile a function for every model it meets and trace it again for each new batch shape
    (the last, partial batch): slower for the few hundred faces of a lesson, and TensorFlow
    warns about the retracing.
    """
    x = np.asarray(images, dtype=np.float32)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: expected at least 1")
    parts = [
        keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    if not parts:
        raise ValueError("images: expected at least one image")
    return np.concatenate(parts).astype(np.float32, copy=False)


def chop_head(model: keras.Model, *, at: str = "last_dense") -> keras.Model:
    """``model`` without its output head: the learned features that fed it.

    Transfer learning in one line: a keypoint network's ``Dense`` layers turn its learned face
    features into 30 coordinates; cut them off and the features can feed a new head (a
    softmax over people, say). Layers after the cut (e.g. a ``Rescaling``) go too.

    Args:
        at: ``"last_dense"`` cuts the last ``Dense`` layer only (the features that fed it);
            ``"first_dense"`` cuts the whole fully connected head and keeps the convolutional
            trunk (the ``Flatten`` or pooling output that fed the first ``Dense`` layer). The
            deeper the cut, the more the features are shaped by the old task: a keypoint
            network's last hidden layer knows where eyes are, its trunk more about the face.

    A heatmap network (:func:`utils.models.keypoint_heatmap`) has no fully connected head:
    its only ``Dense`` layer is the fixed grid that reads (x, y) off each keypoint's heatmap.
    There ``"last_dense"`` keeps the heatmaps (where each keypoint is, nothing else) and
    ``"first_dense"`` keeps its coarsest feature map, where each position sees the whole
    face (its trunk), flattened.

    A model that wraps one network (the shipped keypoint model averages the network's
    predictions on a face and its mirror image) is looked through: the features are those
    of the wrapped network, the last nested model with ``Dense`` layers that takes the same
    input as ``model``.
    """
    if at not in ("last_dense", "first_dense"):
        raise ValueError(f"at={at!r}: expected 'last_dense' or 'first_dense'")
    nested = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model)
        and _input_shapes(layer) == _input_shapes(model)
        and _has_dense(layer)
    ]
    if nested:
        return chop_head(nested[-1], at=at)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # called with a tensor
    names = {layer.name for layer in model.layers}
    if at == "first_dense" and HEATMAP_TRUNK_END in names:
        trunk = layers.Flatten(name="trunk_features")(model.get_layer(HEATMAP_TRUNK_END).input)
        return keras.Model(inputs, trunk, name=f"{model.name}_features")
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    if not dense:
        raise ValueError(f"model {model.name!r} has no Dense layer to cut off")
    cut = dense[-1] if at == "last_dense" else dense[0]
    features = cut.input
    if len(features.shape) > 2:  # a heatmap network's maps: one row of numbers per face
        features = layers.Flatten(name="head_features")(features)
    return keras.Model(inputs, features, name=f"{model.name}_features")


#: The layer of a :func:`utils.models.keypoint_heatmap` network that takes its coarsest
#: feature map (the first upsampling): where its trunk ends.
HEATMAP_TRUNK_END = "up12"


def _input_shapes(model: keras.Model) -> list[tuple[Any, ...]]:
    return [tuple(t.shape) for t in getattr(model, "inputs", None) or []]


def _has_dense(model: keras.Model) -> bool:
    """Whether ``model`` or a model nested in it has a ``Dense`` layer."""
    return any(
        isinstance(layer, layers.Dense) or (isinstance(layer, keras.Model) and _has_dense(layer))
        for layer in model.layers
    )


# --------------------------------------------------------------------------------------------
# P x K batches: P people, K faces each
# --------------------------------------------------------------------------------------------


def pk_dataset(
    images: Any,
    labels: Any,
    P: int = 8,
    K: int = 4,
    seed: int = 42,
    *,
    batches: int | None = None,
) -> Any:
    """A ``tf.data.Dataset`` of ``(faces, labels)`` batches of P people x K faces each.

    Online triplet mining needs positives *and* negatives in every batch; a random batch of
    32 faces from 1,000 people would hold almost no two faces of one person. So each batch
    draws P different people, then K different faces of each; a person with fewer than K
    faces gives all of them, in random order, then repeats that order (2 faces, K=4:
    ``a b a b``). Faces come person by person: rows ``0..K-1`` are the first person's.

    The draw for batch number ``i`` depends only on ``(seed, i)`` (stateless random ops), so
    the sequence of batches is identical run to run and whatever ``tf.data`` parallelism does.

    Args:
        images: ``(N, H, W, C)`` faces.
        labels: ``(N,)`` integer person ids (any integers; returned unchanged, as int32).
        P: people per batch (2 or more: negatives need a second person).
        K: faces per person (2 or more: positives need a second face).
        seed: the random seed.
        batches: number of batches; None repeats forever (pass ``steps_per_epoch`` to fit).
    """
    import tensorflow as tf

    x = np.asarray(images)
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels: expected a non-empty 1-D array of person ids, got {y.shape}")
    integral = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
    )
    if not integral:
        raise ValueError(f"labels: expected integer person ids, got dtype {y.dtype}")
    if len(x) != len(y):
        raise ValueError(f"images, labels: {len(x)} images but {len(y)} labels; expected one each")
    if isinstance(P, bool) or int(P) != P or P < 2:
        raise ValueError(f"P={P!r}: expected at least 2 people per batch")
    if isinstance(K, bool) or int(K) != K or K < 2:
        raise ValueError(f"K={K!r}: expected at least 2 faces per person")
    if batches is not None and batches < 1:
        raise ValueError(f"batches={batches!r}: expected a positive number or None")
    people, inverse, counts = np.unique(y.astype(np.int64), return_inverse=True, return_counts=True)
    if P > len(people):
        raise ValueError(f"P={P}: only {len(people)} different people in labels")
    order = np.argsort(inverse, kind="stable")  # row numbers grouped person by person
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    width = max(int(counts.max()), int(K))
    x_t = tf.constant(x)
    y_t = tf.constant(y.astype(np.int32))
    order_t = tf.constant(order.astype(np.int64))
    starts_t = tf.constant(starts.astype(np.int64))
    counts_t = tf.constant(counts.astype(np.int64))
    n_people = len(people)

    def draw(step: Any) -> tuple[Any, Any]:
        keys = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(int(seed), tf.int64), tf.cast(step, tf.int64)]), 2
        )
        # P distinct people: the P largest of n_people random numbers.
        who = tf.math.top_k(tf.random.stateless_uniform([n_people], keys[0]), k=P).indices
        count = tf.gather(counts_t, who)[:, None]  # (P, 1)
        # A random order of each person's faces: sorting random keys, padding (keys of 2.0)
        # last. Take its first K entries, cycling round it for a person with fewer than K
        # faces, so every face of a small person is used before any is used twice.
        u = tf.random.stateless_uniform([P, width], keys[1])
        u = tf.where(tf.range(width, dtype=tf.int64)[None, :] < count, u, 2.0)
        shuffled = tf.cast(tf.math.top_k(-u, k=width).indices, tf.int64)
        offset = tf.gather(shuffled, tf.range(K, dtype=tf.int64)[None, :] % count, batch_dims=1)
        rows = tf.reshape(tf.gather(order_t, tf.gather(starts_t, who)[:, None] + offset), [-1])
        return tf.gather(x_t, rows), tf.gather(y_t, rows)

    steps = tf.data.Dataset.counter() if batches is None else tf.data.Dataset.range(batches)
    ds = steps.map(draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------------
# Verification: same person or not?
# --------------------------------------------------------------------------------------------


def _check_embeddings(embeddings: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels)
    if e.ndim != 2:
        raise ValueError(f"embeddings: expected a 2-D array (faces, dim), got shape {e.shape}")
    if y.ndim != 1 or len(y) != len(e):
        raise ValueError(
            f"labels: expected one person id per embedding ({len(e)}), got shape {y.shape}"
        )
    if not np.isfinite(e).all():
        row = int(np.flatnonzero(~np.isfinite(e).all(axis=1))[0])
        raise ValueError(f"embeddings: row {row + 1} is not finite (NaN or inf)")
    return e, y


def verification_pairs(labels: Any, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced verification pairs: every same-person pair, and as many random different ones.

    Returns ``(i, j, same)``: row indices of each pair and whether it is one person. Balanced,
    as in LFW's protocol, so that chance accuracy is 50% (with all pairs, "always different"
    would score over 90%). Deterministic given ``seed``.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels: expected a 1-D array of person ids, got shape {y.shape}")
    i, j = np.triu_indices(len(y), k=1)
    same = y[i] == y[j]
    if not same.any() or same.all():
        raise ValueError(
            "labels: verification needs at least one person with two faces and two people"
        )
    rng = np.random.default_rng(seed)
    different = np.flatnonzero(~same)
    chosen = np.sort(
        rng.choice(different, size=min(int(same.sum()), len(different)), replace=False)
    )
    keep = np.sort(np.concatenate([np.flatnonzero(same), chosen]))
    return i[keep], j[keep], same[keep]


@dataclass
class VerificationReport:
    """What :func:`verification_report` measured.

    * ``auc`` -- area under the ROC curve (0.5 = guessing, 1 = perfect);
    * ``accuracy`` at ``threshold``: "same person" when the distance is below it;
    * ``fpr``, ``tpr``, ``thresholds`` -- the ROC curve (thresholds as distances);
    * ``distances``, ``same`` -- each pair's distance and truth.
    """

    auc: float
    accuracy: float
    threshold: float
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    distances: np.ndarray
    same: np.ndarray

    @property
    def n_pairs(self) -> int:
        return len(self.same)


def verification_report(
    embeddings: Any, labels: Any, *, threshold: float | None = None, seed: int = 0
) -> VerificationReport:
    """Verification ROC/AUC and accuracy on balanced pairs (:func:`verification_pairs`).

    With ``threshold=None`` the accuracy is at the best threshold *for these pairs*, which is
    optimistic; for an honest number choose the threshold on validation people and pass it
    here for the test people.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    e, y = _check_embeddings(embeddings, labels)
    i, j, same = verification_pairs(y, seed=seed)
    dist = np.linalg.norm(e[i] - e[j], axis=1)
    # scikit-learn wants "higher = more likely positive": use minus the distance.
    fpr, tpr, thr = roc_curve(same, -dist)
    auc = float(roc_auc_score(same, -dist))
    if threshold is None:
        n_pos, n_neg = same.sum(), (~same).sum()
        acc = (tpr * n_pos + (1 - fpr) * n_neg) / (n_pos + n_neg)
        best = int(np.argmax(acc))
        threshold = float(-thr[best]) if np.isfinite(thr[best]) else float(dist.min() - 1e-6)
    accuracy = float(np.mean((dist <= threshold) == same))
    return VerificationReport(auc, accuracy, float(threshold), fpr, tpr, -thr, dist, same)


# --------------------------------------------------------------------------------------------
# Identification and clustering
# --------------------------------------------------------------------------------------------


def nearest_neighbours(
    queries: Any, gallery: Any, k: int = 5, *, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` gallery rows nearest each query: ``(indices, distances)``, both ``(Q, k)``.

    ``exclude_self=True`` when queries and gallery are the same faces (a face is always its
    own nearest neighbour, at distance 0).
    """
    q = np.asarray(queries, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(
            f"queries {q.shape}, gallery {g.shape}: expected 2-D arrays of the same width"
        )
    if exclude_self and len(q) != len(g):
        raise ValueError("exclude_self=True: queries and gallery must be the same faces")
    limit = len(g) - (1 if exclude_self else 0)
    if not 1 <= k <= limit:
        raise ValueError(f"k={k!r}: expected 1..{limit} (the gallery size)")
    d2 = (q**2).sum(1)[:, None] - 2 * q @ g.T + (g**2).sum(1)[None, :]
    d = np.sqrt(np.maximum(d2, 0.0))
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, axis=1)


def few_shot_split(labels: Any, shots: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For each person, ``shots`` faces for the gallery and the rest as queries.

    People with ``shots`` faces or fewer have no query left and are left out of both.
    Returns sorted ``(gallery_idx, query_idx)``.
    """
    y = np.asarray(labels)
    if shots < 1:
        raise ValueError(f"shots={shots!r}: expected at least 1 face per person")
    rng = np.random.default_rng(seed)
    gallery, query = [], []
    for person in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == person))
        if len(rows) > shots:
            gallery.append(rows[:shots])
            query.append(rows[shots:])
    if not gallery:
        raise ValueError(f"shots={shots}: no person has more than {shots} faces")
    return np.sort(np.concatenate(gallery)), np.sort(np.concatenate(query))


def nearest_neighbour_accuracy(
    gallery: Any, gallery_labels: Any, queries: Any, query_labels: Any
) -> float:
    """Identification accuracy: each query takes the label of its nearest gallery face."""
    idx, _ = nearest_neighbours(queries, gallery, k=1)
    predicted = np.asarray(gallery_labels)[idx[:, 0]]
    return float(np.mean(predicted == np.asarray(query_labels)))


def fit_softmax_head(
    features: Any,
    labels: Any,
    *,
    epochs: int = 200,
    learning_rate: float = 0.01,
    seed: int = 0,
) -> tuple[keras.Model, np.ndarray]:
    """Train a softmax layer over people on fixed features (a frozen network's outputs).

    This is "chop off the last layer, add a softmax" with the chopped network frozen: its
    features are computed once, so only the new layer trains (same result, far faster).
    Returns ``(head, classes)``: ``classes[np.argmax(head(f), axis=1)]`` is the person id.

    The layer is what ``Dense(n_people, activation="softmax")`` compiled with
    ``Adam(learning_rate)`` and the cross-entropy learns in ``epochs`` full-batch steps from a
    Glorot-uniform start; the steps run in NumPy (the gradient of a softmax layer is one
    line). A few-shot comparison trains a head per gallery, and compiling a Keras training
    function for each would cost seconds every time (and TensorFlow warns about the
    retracing) to run a few milliseconds of arithmetic.
    """
    f = np.asarray(features, dtype=np.float64)
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    if f.ndim != 2 or len(f) != len(y):
        raise ValueError(f"features {f.shape}, labels {len(y)}: expected (N, dim) and N labels")
    if epochs < 1:
        raise ValueError(f"epochs={epochs!r}: expected at least 1")
    rng = np.random.default_rng(seed)
    limit = np.sqrt(6.0 / (f.shape[1] + len(classes)))  # Glorot uniform
    params = [rng.uniform(-limit, limit, (f.shape[1], len(classes))), np.zeros(len(classes))]
    moments = [np.zeros_like(p) for p in params]
    velocities = [np.zeros_like(p) for p in params]
    beta1, beta2, epsilon = 0.9, 0.999, 1e-7  # Keras' Adam defaults
    onehot = np.eye(len(classes))[y]
    for step in range(1, epochs + 1):
        logits = f @ params[0] + params[1]
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        error = (probs - onehot) / len(f)  # d(mean cross-entropy) / d(logits)
        grads = [f.T @ error, error.sum(axis=0)]
        for p, g, m, v in zip(params, grads, moments, velocities, strict=True):
            m += (1 - beta1) * (g - m)
            v += (1 - beta2) * (g * g - v)
            rate = learning_rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            p -= rate * m / (np.sqrt(v) + epsilon)
    head = keras.Sequential(
        [keras.Input((f.shape[1],)), layers.Dense(len(classes), activation="softmax")],
        name="softmax_head",
    )
    head.set_weights([p.astype(np.float32) for p in params])
    return head, classes


def clustering_purity(
    embeddings: Any, labels: Any, *, n_clusters: int | None = None, seed: int = 0
) -> float:
    """k-means purity: cluster the embeddings (k = number of people), then count each
    cluster's most common person. 1.0 = every cluster holds one person; about
    ``1 / n_people`` for random embeddings of balanced people."""
    from sklearn.cluster import KMeans

    e, y = _check_embeddings(embeddings, labels)
    k = len(np.unique(y)) if n_clusters is None else int(n_clusters)
    if not 1 <= k <= len(e):
        raise ValueError(f"n_clusters={k}: expected 1..{len(e)} (the number of faces)")
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(e)
    hits = sum(
        np.unique(y[clusters == c], return_counts=True)[1].max() for c in np.unique(clusters)
    )
    return float(hits / len(y))


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def plot_embedding_2d(
    embeddings: Any,
    labels: Any,
    *,
    method: str = "tsne",
    seed: int = 0,
    title: str | None = None,
    ax: Any = None,
) -> Figure:
    """The embeddings squeezed to 2-D (t-SNE or PCA), one colour per person.

    t-SNE keeps neighbours together, so a good embedding shows one tight island per person;
    distances *between* islands mean little in a t-SNE plot.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    e, y = _check_embeddings(embeddings, labels)
    if method == "tsne":
        perplexity = float(min(30.0, max(2.0, (len(e) - 1) / 3)))
        # Exact t-SNE is O(N^2) but for a few hundred faces about 10x faster than the default
        # Barnes-Hut approximation (whose tree costs more than it saves at this size).
        algorithm = "exact" if len(e) <= 1000 else "barnes_hut"
        tsne = TSNE(2, perplexity=perplexity, init="pca", method=algorithm, random_state=seed)
        xy = tsne.fit_transform(e)
    elif method == "pca":
        xy = PCA(2, random_state=seed).fit_transform(e)
    else:
        raise ValueError(f"method={method!r}: expected 'tsne' or 'pca'")
    if ax is None:
        fig = Figure(figsize=(5, 5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    people = np.unique(y)
    colours = _person_colours(len(people))
    for colour, person in zip(colours, people, strict=True):
        pts = xy[y == person]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colour, label=str(person))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"{method.upper()} of {len(e)} faces, {len(people)} people")
    return fig


def _person_colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    if n <= 20:  # distinct qualitative colours
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["hsv"](i / n) for i in range(n)]


def plot_roc(reports: dict[str, VerificationReport]) -> Figure:
    """ROC curves (true-positive vs false-positive rate) of one or more embeddings."""
    fig = Figure(figsize=(4.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for name, rep in reports.items():
        ax.plot(rep.fpr, rep.tpr, label=f"{name} (AUC {rep.auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="guessing")
    ax.set_xlabel("false-positive rate (different people called same)")
    ax.set_ylabel("true-positive rate")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_retrieval_grid(
    query_images: Any,
    gallery_images: Any,
    neighbours: Any,
    query_labels: Any,
    gallery_labels: Any,
) -> Figure:
    """One row per query: the query face, then its nearest gallery faces in order.

    A neighbour of the same person gets a green title, a different person a red one.
    """
    q = as_image_batch(query_images, "query_images")
    g = as_image_batch(gallery_images, "gallery_images")
    nn = np.asarray(neighbours)
    ql, gl = np.asarray(query_labels), np.asarray(gallery_labels)
    if nn.ndim != 2 or len(nn) != len(q) or len(ql) != len(q) or len(gl) != len(g):
        raise ValueError(
            f"neighbours {nn.shape}, {len(q)} queries ({len(ql)} labels), {len(g)} gallery "
            f"faces ({len(gl)} labels): expected one row of neighbours and a label per face"
        )
    rows, cols = nn.shape[0], nn.shape[1] + 1
    fig = Figure(figsize=(1.3 * cols, 1.55 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    vq, vg = display_range(q), display_range(g)
    for r in range(rows):
        _face(axes[r, 0], q[r], vq, f"query {ql[r]}", "black")
        for c, idx in enumerate(nn[r], start=1):
            ok = gl[idx] == ql[r]
            _face(axes[r, c], g[idx], vg, f"#{c}: {gl[idx]}", "green" if ok else "red")
    return fig


def _face(ax: Any, image: np.ndarray, vrange: tuple[Any, Any], title: str, colour: str) -> None:
    ax.imshow(image, cmap="gray", vmin=vrange[0], vmax=vrange[1])
    ax.set_title(title, fontsize=8, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])
