"""Model builders for the notebooks, one function per architecture.

Every builder uses built-in Keras layers only, so a saved ``.keras`` file loads back with
``keras.models.load_model(path, safe_mode=True)`` and no custom objects.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from utils.schema import EMOTIONS, FER_SIZE, KEYPOINT_COLUMNS, KEYPOINT_SIZE

# --------------------------------------------------------------------------------------------
# Keypoints: 96x96 grayscale face in [0, 1] -> 30 coordinates in pixels
# --------------------------------------------------------------------------------------------

KEYPOINT_INPUT_SHAPE: tuple[int, int, int] = (KEYPOINT_SIZE, KEYPOINT_SIZE, 1)


def _pixel_head(
    x: keras.KerasTensor,
    outputs: int,
    half_size: float,
    kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
) -> keras.KerasTensor:
    """Dense outputs near 0, rescaled to pixels around the image centre.

    The network works in units of half the image (``(k - 48) / 48`` for a 96-pixel face), where
    weights initialise well; the last (built-in) ``Rescaling`` layer turns that into pixels, so
    the model's outputs, losses and metrics are all in pixels.
    """
    x = layers.Dense(outputs, kernel_initializer=kernel_initializer, name="keypoints_scaled")(x)
    return layers.Rescaling(scale=half_size, offset=half_size, name="keypoints_px")(x)


def _centred_pixels(inputs: keras.KerasTensor) -> keras.KerasTensor:
    """[0, 1] pixels to [-1, 1]: inputs centred on 0 make the first steps of training faster."""
    return layers.Rescaling(scale=2.0, offset=-1.0, name="centre_pixels")(inputs)


def keypoint_single_layer(
    hidden: int = 100,
    *,
    downsample: int = 1,
    input_shape: Sequence[int] = KEYPOINT_INPUT_SHAPE,
    outputs: int = len(KEYPOINT_COLUMNS),
) -> keras.Model:
    """The classic baseline: flatten the pixels, one hidden ReLU layer, 30 outputs in pixels.

    With the default 96x96 input and ``hidden=100`` it has
    ``9216*100 + 100 + 100*30 + 30 = 924,730`` parameters -- almost all of them in the first
    layer, which must learn every pixel's weight separately (no notion of "nearby").
    ``downsample=2`` first averages 2x2 pixel blocks (notebook 01's ``POOL = 2``): 48x48 inputs,
    ``2304*100 + 100 + 3030 = 233,530`` parameters.

    As in notebook 01 (and tflearn), the weights start small (truncated normal, stddev 0.02),
    so an untrained net predicts keypoints near the image centre.
    """
    if hidden < 1:
        raise ValueError(f"hidden={hidden!r}: expected a positive number of units")
    if downsample < 1:
        raise ValueError(f"downsample={downsample!r}: expected 1 (none) or a pooling factor")
    inputs = keras.Input(shape=tuple(input_shape), name="face")
    x = inputs
    if downsample > 1:
        x = layers.AveragePooling2D(downsample, padding="same", name="downsample")(x)
    x = layers.Flatten()(x)
    small = keras.initializers.TruncatedNormal
    x = layers.Dense(
        hidden, activation="relu", kernel_initializer=small(stddev=0.02), name="hidden"
    )(x)
    out = _pixel_head(x, outputs, input_shape[1] / 2, kernel_initializer=small(stddev=0.02))
    return keras.Model(inputs, out, name="keypoint_single_layer")


def keypoint_convnet(
    filters: Sequence[int] = (16, 32, 64),
    dense: int = 128,
    *,
    downsample: int = 2,
    dropout: float = 0.0,
    input_shape: Sequence[int] = KEYPOINT_INPUT_SHAPE,
    outputs: int = len(KEYPOINT_COLUMNS),
) -> keras.Model:
    """A small convnet: ``len(filters)`` blocks of 3x3 conv + ReLU + 2x2 max-pool, then dense.

    The face is first shrunk by ``downsample`` (average pooling: 96x96 -> 48x48), which makes
    every later layer 4x cheaper on a CPU for little loss of precision. Each block then halves
    the image, so the defaults turn 48x48 into 6x6x64 feature maps, and the dense layers read
    *where* each feature was found. The defaults have 322,206 parameters (the single-layer
    net has 924,730) and train at a few hundred faces per second on a 2-core CPU.

    Args:
        filters: channels of each conv block.
        dense: units of the hidden dense layer (0 for none).
        downsample: average-pooling factor applied to the input first (1 for none).
        dropout: dropout rate before the hidden dense layer (0 for none).
        input_shape: ``(height, width, channels)``; height and width divisible by
            ``downsample * 2 ** len(filters)``.
        outputs: number of outputs (30 keypoint coordinates).
    """
    if not filters or any(int(f) < 1 for f in filters):
        raise ValueError(f"filters={tuple(filters)!r}: expected one positive width per block")
    if downsample < 1:
        raise ValueError(f"downsample={downsample!r}: expected 1 (none) or a pooling factor")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    if dense < 0:
        raise ValueError(f"dense={dense!r}: expected 0 (no hidden layer) or a positive number")
    height, width = int(input_shape[0]), int(input_shape[1])
    step = downsample * 2 ** len(filters)
    if height % step or width % step:
        raise ValueError(
            f"input_shape={tuple(input_shape)!r}: height and width must be divisible by "
            f"{step} (downsample={downsample} and {len(filters)} pooling blocks)"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="face")
    x = _centred_pixels(inputs)
    if downsample > 1:
        x = layers.AveragePooling2D(downsample, name="downsample")(x)
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(int(f), 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    if dense:
        x = layers.Dense(dense, activation="relu", name="dense")(x)
    out = _pixel_head(x, outputs, width / 2)
    return keras.Model(inputs, out, name="keypoint_convnet")


def _vgg_blocks(x: keras.KerasTensor, widths: Sequence[int]) -> keras.KerasTensor:
    """VGG-style blocks: two (3x3 conv -> batch norm -> ReLU), then a 2x2 max-pool, per width.

    The convs have no bias: the batch norm right after adds its own offset.
    """
    if not widths or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths={tuple(widths)!r}: expected one positive width per block")
    for i, width in enumerate(widths, start=1):
        for j in (1, 2):
            x = layers.Conv2D(int(width), 3, padding="same", use_bias=False, name=f"conv{i}_{j}")(x)
            x = layers.BatchNormalization(name=f"bn{i}_{j}")(x)
            x = layers.ReLU(name=f"relu{i}_{j}")(x)
        x = layers.MaxPooling2D(name=f"pool{i}")(x)
    return x


def keypoint_vgg(
    widths: Sequence[int] = (32, 64, 96, 128, 192),
    *,
    stem: int = 0,
    dense: int = 256,
    dropout: float = 0.3,
    input_shape: Sequence[int] = KEYPOINT_INPUT_SHAPE,
    outputs: int = len(KEYPOINT_COLUMNS),
    name: str = "keypoints_vgg",
) -> keras.Model:
    """The shipped keypoint network: VGG-style blocks of two 3x3 conv + BN + ReLU, then dense.

    Each block is two (3x3 conv -> batch norm -> ReLU) and a 2x2 max-pool; then flatten,
    dropout, a dense ReLU layer and 30 outputs in pixels (the dense layer predicts
    ``(k - 48) / 48``, which trains well, and a ``Rescaling`` turns it into pixels).

    ``stem=k`` (k > 0) first runs one 5x5 conv with stride 2 and a max-pool (96 -> 24 px), so
    no 3x3 conv works at full resolution: about 4x cheaper on a CPU, a little less precise.
    The output layers compute in float32 even under ``mixed_bfloat16``: bfloat16 has 8 bits
    of mantissa, too coarse for pixel coordinates near 96.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    inputs = keras.Input(shape=tuple(input_shape), name="face")
    x = inputs
    if stem:
        x = layers.Conv2D(int(stem), 5, strides=2, padding="same", use_bias=False, name="stem")(x)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = layers.ReLU(name="stem_relu")(x)
        x = layers.MaxPooling2D(name="stem_pool")(x)
    x = _vgg_blocks(x, widths)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    half = input_shape[1] / 2
    x = layers.Dense(outputs, dtype="float32", name="keypoints_scaled")(x)
    out = layers.Rescaling(scale=half, offset=half, dtype="float32", name="keypoints_px")(x)
    return keras.Model(inputs, out, name=name)


def _conv_bn_relu(
    x: keras.KerasTensor, width: int, name: str, *, kernel_size: int = 3, strides: int = 1
) -> keras.KerasTensor:
    """Conv (no bias: the batch norm adds its own offset) -> batch norm -> ReLU."""
    x = layers.Conv2D(
        int(width), kernel_size, strides=strides, padding="same", use_bias=False, name=name
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def keypoint_heatmap(
    widths: Sequence[int] = (32, 64, 128, 128),
    *,
    stem: int = 32,
    input_shape: Sequence[int] = KEYPOINT_INPUT_SHAPE,
    keypoints: int = len(KEYPOINT_COLUMNS) // 2,
    name: str = "keypoints_heatmap",
) -> keras.Model:
    """Keypoints as the centres of mass of heatmaps ("integral regression", Sun et al. 2018).

    The network paints one heatmap per keypoint on a grid 4x coarser than the face (24x24 for
    96x96) and each keypoint is the softmax-weighted mean position on its map. A dense head
    must learn "the left eye is at x = 30" separately for every place a face can sit; a
    heatmap is made of convolutions, which find an eye wherever it is, and the weighted mean
    still gives positions finer than one grid cell. It helps most with few training faces.

    Layout: a 5x5 stride-2 ``stem`` conv (96 -> 48 px), then one block per width -- the first
    at 48 px, each next one after a 2x2 max-pool (24, 12, 6 px) -- and on the way back up,
    upsampling joined with the block of the same size (a small U-Net) down to 24 px. The
    softmax and the fixed grid of cell centres (a non-trainable ``Dense``) are built-in
    layers, so the file loads in safe mode; they compute in float32 under ``mixed_bfloat16``.
    Outputs: ``2 * keypoints`` pixel coordinates in Kaggle's (x, y) column order.
    """
    if len(widths) != 4 or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths={tuple(widths)!r}: expected four positive widths (48-6 px)")
    if int(stem) < 1:
        raise ValueError(f"stem={stem!r}: expected a positive number of channels")
    size = int(input_shape[0])
    if size % 16 or int(input_shape[1]) != size:
        raise ValueError(
            f"input_shape={tuple(input_shape)!r}: expected a square side divisible by 16"
        )
    w48, w24, w12, w6 = (int(w) for w in widths)
    inputs = keras.Input(shape=tuple(input_shape), name="face")
    x = _conv_bn_relu(inputs, stem, "stem", kernel_size=5, strides=2)
    x48 = _conv_bn_relu(x, w48, "conv48")
    x = layers.MaxPooling2D(name="pool48")(x48)
    x = _conv_bn_relu(x, w24, "conv24_1")
    x24 = _conv_bn_relu(x, w24, "conv24_2")
    x = layers.MaxPooling2D(name="pool24")(x24)
    x = _conv_bn_relu(x, w12, "conv12_1")
    x12 = _conv_bn_relu(x, w12, "conv12_2")
    x = layers.MaxPooling2D(name="pool12")(x12)
    x = _conv_bn_relu(x, w6, "conv6_1")
    x = _conv_bn_relu(x, w6, "conv6_2")
    # back up: each level sees the whole face's context and its own fine detail
    x = layers.UpSampling2D(interpolation="bilinear", name="up12")(x)
    x = _conv_bn_relu(layers.Concatenate(name="join12")([x, x12]), w12, "conv_up12")
    x = layers.UpSampling2D(interpolation="bilinear", name="up24")(x)
    x = _conv_bn_relu(layers.Concatenate(name="join24")([x, x24]), w24, "conv_up24")
    logits = layers.Conv2D(keypoints, 1, dtype="float32", name="heatmap_logits")(x)
    cells = (size // 4) ** 2
    x = layers.Reshape((cells, keypoints), dtype="float32", name="flat_maps")(logits)
    x = layers.Permute((2, 1), dtype="float32", name="map_per_keypoint")(x)
    x = layers.Softmax(axis=-1, dtype="float32", name="heatmaps")(x)
    grid = layers.Dense(2, use_bias=False, trainable=False, dtype="float32", name="cell_centres")
    x = grid(x)
    out = layers.Flatten(dtype="float32", name="keypoints_px")(x)
    # cell (i, j) covers pixels 4j .. 4j+3, so its centre is at 4j + 1.5 (pixel j sits at x = j)
    rows, cols = np.divmod(np.arange(cells), size // 4)
    grid.set_weights([np.stack([4 * cols + 1.5, 4 * rows + 1.5], axis=1).astype("float32")])
    return keras.Model(inputs, out, name=name)


# --------------------------------------------------------------------------------------------
# Emotions (FER-2013): 48x48 grayscale face in [0, 1] -> softmax over the 7 FER emotions
# --------------------------------------------------------------------------------------------

FER_INPUT_SHAPE: tuple[int, int, int] = (FER_SIZE, FER_SIZE, 1)
#: The seven FER emotions (``fer_vgg`` and utils.train_fer use this name).
FER_CLASSES = len(EMOTIONS)


def fer_cnn(
    filters: Sequence[int] = (32, 64),
    dense: int = 128,
    *,
    batch_norm: bool = False,
    activation: str = "relu",
    dropout: float = 0.0,
    input_bn: bool = False,
    bn_momentum: float = 0.9,
    input_shape: Sequence[int] = FER_INPUT_SHAPE,
    classes: int = len(EMOTIONS),
    name: str | None = None,
) -> keras.Model:
    """A small emotion classifier: conv blocks, one hidden dense layer, softmax over emotions.

    Each block is a 3x3 conv, then (optionally) batch normalization, then the activation,
    then a 2x2 max-pool. The switches are the ideas notebooks 03 and 04 compare:

    Args:
        filters: channels of each conv block (the default is the two-conv baseline).
        dense: units of the hidden dense layer.
        batch_norm: put ``BatchNormalization`` between every conv/dense layer and its
            activation. The layer before it then needs no bias (BN's own offset replaces it).
        activation: ``"relu"`` (He initialisation) or ``"selu"`` (LeCun-normal
            initialisation, the pair that makes a plain stack self-normalizing; dropout then
            becomes ``AlphaDropout``, which keeps SELU's mean and variance).
        dropout: rate of the dropout before the output layer (0 for none).
        input_bn: a ``BatchNormalization`` layer straight after the input, which learns to
            standardise whatever scale and offset the pixels arrive in.
        bn_momentum: momentum of every BN layer's moving mean and variance, the statistics it
            uses at inference (``predict``, validation). Keras' default, 0.99, averages over
            the last few hundred steps and starts from mean 0 / variance 1, so after a short
            run (a few epochs of a small data set) they are still far from the data's and
            validation accuracy looks much worse than training; 0.9 catches up in tens.
        input_shape: ``(height, width, channels)``, divisible by ``2 ** len(filters)``.
        classes: number of output classes (7 FER emotions).
        name: model name (default ``fer_cnn`` plus the switches that are on).
    """
    if not filters or any(int(f) < 1 for f in filters):
        raise ValueError(f"filters={tuple(filters)!r}: expected one positive width per block")
    if dense < 1:
        raise ValueError(f"dense={dense!r}: expected a positive number of units")
    if activation not in ("relu", "selu"):
        raise ValueError(f"activation={activation!r}: expected 'relu' or 'selu'")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    if not 0.0 < bn_momentum < 1.0:
        raise ValueError(f"bn_momentum={bn_momentum!r}: expected a number in (0, 1)")
    if classes < 2:
        raise ValueError(f"classes={classes!r}: expected at least 2 classes")
    height, width = int(input_shape[0]), int(input_shape[1])
    step = 2 ** len(filters)
    if height % step or width % step:
        raise ValueError(
            f"input_shape={tuple(input_shape)!r}: height and width must be divisible by "
            f"{step} for {len(filters)} pooling blocks"
        )
    # SELU only self-normalizes with LeCun-normal weights; ReLU wants He's (twice the variance).
    init = "lecun_normal" if activation == "selu" else "he_normal"
    if name is None:
        switches = [s for s, on in (("bn", batch_norm), ("inbn", input_bn)) if on]
        switches += [activation] if activation != "relu" else []
        switches += [f"drop{dropout:g}"] if dropout else []
        name = "_".join(["fer_cnn", *switches])

    inputs = keras.Input(shape=tuple(input_shape), name="face")
    x = inputs
    if input_bn:
        x = layers.BatchNormalization(momentum=bn_momentum, name="input_bn")(x)
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(
            int(f),
            3,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=init,
            name=f"conv{i}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i}")(x)
        x = layers.Activation(activation, name=f"{activation}{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, use_bias=not batch_norm, kernel_initializer=init, name="dense")(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=bn_momentum, name="bn_dense")(x)
    x = layers.Activation(activation, name=f"{activation}_dense")(x)
    if dropout:
        drop = layers.AlphaDropout if activation == "selu" else layers.Dropout
        x = drop(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def fer_vgg(
    widths: Sequence[int] = (32, 64, 128, 256),
    *,
    dropout: float = 0.4,
    input_shape: Sequence[int] = FER_INPUT_SHAPE,
    classes: int = FER_CLASSES,
    name: str = "fer2013_cnn",
) -> keras.Model:
    """The shipped emotion network: VGG-style blocks of two 3x3 convs, then global pooling.

    Each block is two (3x3 conv -> batch norm -> ReLU) followed by a 2x2 max-pool; after the
    last block, global average pooling (one number per channel, so the head has no large
    dense layer and the file stays small), dropout and a softmax. With the default widths it
    has 1.18 M parameters. ``python -m utils.train_fer --preset shipped`` trains it.

    The softmax layer computes in float32 even under a ``mixed_bfloat16`` policy
    (:func:`utils.precision.set_precision`), so probabilities keep their precision.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    inputs = keras.Input(shape=tuple(input_shape), name="face")
    x = inputs
    x = _vgg_blocks(x, widths)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def fer_baseline_cnn(
    filters: Sequence[int] = (32, 64),
    dense: int = 128,
    *,
    input_shape: Sequence[int] = FER_INPUT_SHAPE,
    classes: int = len(EMOTIONS),
) -> keras.Model:
    """The plain two-conv baseline: :func:`fer_cnn` with no batch norm and no dropout."""
    return fer_cnn(
        filters, dense, input_shape=input_shape, classes=classes, name="fer_baseline_cnn"
    )


# --------------------------------------------------------------------------------------------
# ResNet50 transfer learning (notebook 07, python -m utils.train_fer --model resnet50)
# --------------------------------------------------------------------------------------------

#: Where ``keras.applications.ResNet50(weights="imagenet", include_top=False)`` gets its weights.
RESNET50_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
RESNET50_NOTOP_MD5 = "4d473c1dd8becc155b73f8504c6f6626"
#: ``keras.applications.resnet50.preprocess_input`` ("caffe" mode) subtracts these, in BGR order.
IMAGENET_BGR_MEAN: tuple[float, float, float] = (103.939, 116.779, 123.68)
#: The name of the nested ResNet50 model inside :func:`resnet50_classifier`'s model.
RESNET50_BACKBONE = "resnet50"


def resnet50_imagenet_weights(*, cache_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Path of ResNet50's ImageNet weights (no top), downloaded once (~95 MB), or None offline.

    Uses ``keras.utils.get_file`` with Keras' own URL and checksum, so the file lands where
    ``keras.applications`` looks (``~/.keras/models``) and is never fetched twice. Without a
    network it warns, says how to get the file, and returns None: the caller trains from
    random weights instead of failing.
    """
    name = RESNET50_NOTOP_URL.rsplit("/", 1)[1]
    try:
        return str(
            keras.utils.get_file(
                name,
                RESNET50_NOTOP_URL,
                cache_subdir="models",
                file_hash=RESNET50_NOTOP_MD5,
                cache_dir=None if cache_dir is None else os.fspath(cache_dir),
            )
        )
    except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...") offline
        warnings.warn(
            f"Could not download ResNet50's ImageNet weights ({type(exc).__name__}: {exc}). "
            "Continuing with random weights (weights=None), so 'transfer' here is training "
            f"from scratch. To use ImageNet weights, go online once, or copy {name} "
            "(from the URL above) into ~/.keras/models/.",
            stacklevel=2,
        )
        return None


def resnet50_classifier(
    input_shape: Sequence[int] = FER_INPUT_SHAPE,
    weights: str | None = "imagenet",
    *,
    image_size: int | None = None,
    classes: int = len(EMOTIONS),
    dropout: float = 0.3,
    freeze: bool | None = None,
    name: str | None = None,
) -> keras.Model:
    """``keras.applications.ResNet50`` as an emotion classifier for grayscale faces in [0, 1].

    The model takes the course's images as they are (``(48, 48, 1)`` float in [0, 1]) and does
    ImageNet's preprocessing itself, with built-in layers only (so it loads with
    ``safe_mode=True``): optional upscaling to ``image_size``, x255, the gray channel tiled to
    three, then the ImageNet mean subtracted -- exactly what
    ``keras.applications.resnet50.preprocess_input`` does to a gray image. Then the ResNet50
    convolutional base (global average pooled), dropout and a softmax.

    Args:
        input_shape: ``(height, width, channels)``, channels 1 (tiled) or 3.
        weights: ``"imagenet"`` (downloaded once; offline: a warning and random weights),
            None (random weights: training from scratch), or a path to a weights file.
        image_size: resize the faces to ``image_size`` x ``image_size`` first (ImageNet
            features were learned on ~224-pixel objects; 48 pixels is far smaller). None keeps
            the input size. At least 32.
        classes: number of output classes.
        dropout: dropout rate before the classifier.
        freeze: start with the ResNet50 base frozen (only the head trains). Default: frozen
            when ImageNet weights were loaded, trainable otherwise. See
            :func:`set_backbone_trainable` for the fine-tuning step.
        name: model name (default ``resnet50_imagenet_<size>`` or ``resnet50_scratch_<size>``).
    """
    if len(input_shape) != 3 or int(input_shape[-1]) not in (1, 3):
        raise ValueError(
            f"input_shape={tuple(input_shape)!r}: expected (height, width, 1 or 3 channels)"
        )
    size = int(image_size) if image_size is not None else int(input_shape[0])
    if size < 32:
        raise ValueError(f"image_size={size}: ResNet50 needs images of at least 32x32 pixels")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    if classes < 2:
        raise ValueError(f"classes={classes!r}: expected at least 2 classes")
    weights_path: str | None
    if weights is None:
        weights_path = None
    elif weights == "imagenet":
        weights_path = resnet50_imagenet_weights()
    elif os.path.isfile(weights):
        weights_path = os.fspath(weights)
    else:
        raise ValueError(
            f"weights={weights!r}: expected 'imagenet', None, or the path of a weights file"
        )
    pretrained = weights_path is not None
    inputs = keras.Input(shape=tuple(int(d) for d in input_shape), name="face")
    x = inputs
    if (size, size) != (int(input_shape[0]), int(input_shape[1])):
        x = layers.Resizing(size, size, interpolation="bilinear", name="upscale")(x)
    x = layers.Rescaling(255.0, name="to_0_255")(x)
    if int(input_shape[-1]) == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    # preprocess_input("caffe"): RGB -> BGR, then subtract ImageNet's BGR mean. For a gray
    # face the three channels are equal, so only the subtraction is left.
    x = layers.Normalization(
        mean=IMAGENET_BGR_MEAN, variance=(1.0, 1.0, 1.0), name="imagenet_mean"
    )(x)
    backbone = keras.applications.ResNet50(
        include_top=False,
        weights=weights_path,
        input_shape=(size, size, 3),
        pooling="avg",
        name=RESNET50_BACKBONE,
    )
    backbone.trainable = not (pretrained if freeze is None else freeze)
    # Pretrained batch-norm statistics stay in inference mode even when the base is unfrozen
    # for fine-tuning; from scratch they must learn, so they follow the training flag.
    x = backbone(x, training=False if pretrained else None)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="emotion")(x)
    if name is None:
        name = f"resnet50_{'imagenet' if pretrained else 'scratch'}_{size}"
    return keras.Model(inputs, outputs, name=name)


def set_backbone_trainable(
    model: keras.Model, trainable: bool = True, *, last_n: int | None = None
) -> int:
    """Freeze or unfreeze the ResNet50 base of a :func:`resnet50_classifier` model.

    ``last_n``: unfreeze only the base's last ``last_n`` layers (the most task-specific
    features); batch-norm layers stay frozen either way, as fine-tuning a pretrained network
    wants. Compile the model again afterwards (with a small learning rate) for the change to
    take effect. Returns the number of trainable parameters.
    """
    try:
        backbone = model.get_layer(RESNET50_BACKBONE)
    except ValueError as exc:
        raise ValueError(
            f"model {model.name!r} has no {RESNET50_BACKBONE!r} layer; expected a model from "
            "resnet50_classifier()"
        ) from exc
    if last_n is not None and last_n < 0:
        raise ValueError(f"last_n={last_n!r}: expected a non-negative number of layers")
    backbone.trainable = trainable
    if trainable:
        start = 0 if last_n is None else max(0, len(backbone.layers) - last_n)
        for i, layer in enumerate(backbone.layers):
            is_bn = isinstance(layer, layers.BatchNormalization)
            layer.trainable = i >= start and not is_bn
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))


# --------------------------------------------------------------------------------------------
# Action units (notebook 09): multi-label AU detection, multi-task AUs + emotion, intensities
# --------------------------------------------------------------------------------------------

AU_INPUT_SHAPE: tuple[int, int, int] = (96, 96, 1)


def au_cnn(
    aus: int = 15,
    *,
    emotions: int = 0,
    intensities: int = 0,
    filters: Sequence[int] = (16, 32, 64),
    dense: int = 64,
    downsample: int = 2,
    stem: int = 0,
    dropout: float = 0.3,
    bn_momentum: float = 0.9,
    input_shape: Sequence[int] = AU_INPUT_SHAPE,
    name: str | None = None,
) -> keras.Model:
    """A small CNN for faces with one to three heads: AUs, emotion, intensities.

    One shared trunk (a ``downsample``-fold reduction, then conv-BN-ReLU-maxpool blocks and a
    dense layer) feeds each head that is asked for:

    * ``"aus"``: ``aus`` sigmoid units -- multi-label: each AU present or not, independently
      (train with binary cross-entropy, or ``utils.losses.WeightedBinaryCrossentropy``);
    * ``"emotion"``: ``emotions`` softmax units -- one emotion per face;
    * ``"intensity"``: ``intensities`` linear units -- regression (AU intensities 0-5, a pain
      score...).

    With one head the model has a single output; with several, a dict of outputs keyed by
    the names above, so ``compile(loss={"aus": ..., "emotion": ...})`` and
    ``grad_cam(..., output_index="aus")`` can pick them. The same arguments with different
    heads give single-task and multi-task models that differ only in their heads -- the fair
    comparison.

    The reduction is a fixed average pooling by default (``stem=0``). With ``stem=n`` it is a
    *learned* stride-``downsample`` convolution (``n`` filters, kernel ``2 * downsample``)
    on the full-resolution face: an average blurs away edges one or two pixels long -- the
    lip corners that AU12 lifts, for instance -- while learned filters can keep them, for a
    few more multiply-adds than the first block itself.

    :func:`utils.cam.grad_cam` explains the last feature map by default (``pool<k>``, the
    last block's pooled output); ``layer_name="relu<k>"`` gives a map at twice the resolution.
    """
    heads = {"aus": int(aus), "emotion": int(emotions), "intensity": int(intensities)}
    if any(v < 0 for v in heads.values()) or not any(heads.values()):
        raise ValueError(
            f"aus={aus!r}, emotions={emotions!r}, intensities={intensities!r}: expected "
            "non-negative output sizes, at least one of them positive"
        )
    if heads["emotion"] == 1:
        raise ValueError("emotions=1: a softmax over one class; expected 0 (no head) or >= 2")
    if not filters or any(int(f) < 1 for f in filters):
        raise ValueError(f"filters={tuple(filters)!r}: expected one positive width per block")
    if dense < 1 or downsample < 1:
        raise ValueError(f"dense={dense!r}, downsample={downsample!r}: expected positive integers")
    if stem < 0 or (stem and downsample == 1):
        raise ValueError(
            f"stem={stem!r} with downsample={downsample!r}: expected 0 (average pooling) or a "
            "number of filters for a learned downsampling, which needs downsample >= 2"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    step = downsample * 2 ** len(filters)
    if int(input_shape[0]) % step or int(input_shape[1]) % step:
        raise ValueError(
            f"input_shape={tuple(input_shape)!r}: height and width must be divisible by {step} "
            f"(downsample={downsample} and {len(filters)} pooling blocks)"
        )
    inputs = keras.Input(shape=tuple(int(d) for d in input_shape), name="face")
    x = inputs
    if stem:
        # Learned downsampling: each output pixel sees a (2d x 2d) patch at full resolution.
        x = layers.Conv2D(int(stem), 2 * downsample, strides=downsample, padding="same",
                          use_bias=False, name="stem")(x)  # fmt: skip
        x = layers.BatchNormalization(momentum=bn_momentum, name="bn0")(x)
        x = layers.Activation("relu", name="relu0")(x)
    elif downsample > 1:
        # Most AUs are visible at half resolution; the convolutions then cost a quarter.
        x = layers.AveragePooling2D(downsample, name="downsample")(x)
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(int(f), 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    # Flatten, not global pooling: *where* a feature is matters (inner vs outer brow ends).
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(int(dense), activation="relu", name="shared")(x)
    outputs = {}
    if heads["aus"]:
        outputs["aus"] = layers.Dense(heads["aus"], activation="sigmoid", name="aus")(x)
    if heads["emotion"]:
        outputs["emotion"] = layers.Dense(heads["emotion"], activation="softmax", name="emotion")(x)
    if heads["intensity"]:
        outputs["intensity"] = layers.Dense(heads["intensity"], name="intensity")(x)
    if name is None:
        name = "au_cnn_" + "_".join(outputs)
    if len(outputs) == 1:
        return keras.Model(inputs, next(iter(outputs.values())), name=name)
    return keras.Model(inputs, outputs, name=name)
