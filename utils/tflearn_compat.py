"""tflearn's API on Keras 3: run tflearn-style code with only the import line changed.

tflearn (2016-2019) made TensorFlow 1 feel like scikit-learn: a network is a chain of
functions ending in ``regression(...)``, and ``DNN(network).fit(X, Y)`` trains it. It no
longer imports on TensorFlow 2.16+ (``tensorflow.contrib`` and ``nest.is_sequence`` are gone),
yet many courses, blog posts and Kaggle kernels are written in its style. This module gives the
same names, arguments and defaults, built from plain Keras layers::

    from utils.tflearn_compat import *      # instead of: import tflearn / from tflearn... import

    x = input_data(shape=[None, 96, 96, 1], name="input")
    x = conv_2d(x, 32, 3, activation="relu", scope="conv1_1")
    x = max_pool_2d(x, 2)
    x = fully_connected(x, 30)
    net = regression(x, optimizer=SGD(learning_rate=0.7, lr_decay=0.96, decay_step=2400),
                     loss="mean_square")
    model = DNN(net, tensorboard_dir="runs/")
    model.fit(X, Y, n_epoch=100, validation_set=0.1, run_id="v1", batch_size=64)

``model.model`` is the underlying ``keras.Model``: every Keras tool works on it. Only built-in
Keras layers, losses and schedules are used, so a saved model loads with
``keras.models.load_model(path, safe_mode=True)`` and no custom objects.

The gotchas (read ``lessons/tflearn_to_keras.md`` for the full table):

* ``dropout(x, 0.8)`` *keeps* 80% of the units: it is ``keras.layers.Dropout(0.2)``.
* ``SGD(lr_decay=0.96, decay_step=2400)`` decays *continuously* unless ``staircase=True``
  (tflearn's default is ``staircase=False``), counting optimizer steps (batches), not epochs.
* ``DNN`` clips gradients to a global norm of 5.0 by default (``clip_gradients=5.0``).
* ``regularizer="L2"`` adds ``weight_decay * sum(w**2) / 2`` (half of Keras' ``L2(wd)``).
* ``validation_set=0.1`` holds out a *random* 10% (Keras' ``validation_split`` takes the last
  10% unshuffled).
* Options this module does not support raise ``NotImplementedError`` naming the argument,
  rather than being silently ignored.
"""

from __future__ import annotations

import math
import os
import random
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import keras
import numpy as np

from utils.io import atomic_save_model

__all__ = [
    "input_data",
    "conv_2d",
    "max_pool_2d",
    "avg_pool_2d",
    "global_avg_pool",
    "fully_connected",
    "dropout",
    "batch_normalization",
    "flatten",
    "reshape",
    "activation",
    "regression",
    "Optimizer",
    "SGD",
    "Momentum",
    "Adam",
    "RMSProp",
    "AdaGrad",
    "DNN",
]

#: A symbolic Keras tensor (what ``keras.Input`` and calling a layer on one return).
Tensor = Any

# Attribute names used to carry tflearn metadata on Keras tensors (like tflearn's
# ``incoming.placeholder``).
_REGRESSION_ATTR = "_tflearn_regression"
_INPUT_ORDER_ATTR = "_tflearn_input_order"
_input_counter = 0


def _unsupported(function: str, argument: str, value: Any, hint: str = "") -> NoReturn:
    """Raise the error every shim uses for a tflearn option it does not reproduce."""
    message = f"{function}({argument}={value!r}) is not supported by utils.tflearn_compat"
    raise NotImplementedError(message + (f": {hint}" if hint else "."))


def _check_common(
    function: str, *, trainable: bool = True, restore: bool = True, reuse: bool = False
) -> None:
    if not restore:
        _unsupported(function, "restore", restore, "DNN.load always restores every variable.")
    if reuse:
        _unsupported(
            function, "reuse", reuse, "in Keras, share weights by calling one layer object twice."
        )
    del trainable  # applied by the caller to the layer


def _layer_name(name: str | None, default: str, scope: str | None = None) -> str | None:
    """tflearn names a layer ``scope`` if given, else ``name``; its default names repeat
    ("Conv2D", "Conv2D_1", ...), so leave those to Keras' automatic unique naming."""
    chosen = scope or name
    return None if chosen in (None, "", default) else chosen


def _check_tensor(function: str, incoming: Tensor, min_rank: int = 2) -> tuple[int | None, ...]:
    shape = getattr(incoming, "shape", None)
    if not isinstance(incoming, keras.KerasTensor) or shape is None:
        raise TypeError(
            f"{function}(incoming=...): expected the symbolic tensor returned by input_data() "
            f"or another layer function, got {type(incoming).__name__}"
        )
    if len(shape) < min_rank:
        raise ValueError(
            f"{function}(incoming=...): expected a tensor of rank >= {min_rank} "
            f"(batch axis included), got shape {tuple(shape)}"
        )
    return tuple(shape)


def _pair(function: str, argument: str, value: int | Sequence[int]) -> tuple[int, int]:
    """tflearn accepts ``3``, ``[3, 3]`` or the TF1 form ``[1, 3, 3, 1]`` for kernels/strides."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    values = [int(v) for v in value]
    if len(values) == 2:
        return values[0], values[1]
    if len(values) == 4 and values[0] == 1 and values[3] == 1:
        return values[1], values[2]
    raise ValueError(f"{function}({argument}={value!r}): expected an int, [h, w] or [1, h, w, 1]")


def _padding(function: str, padding: str) -> str:
    padding_lower = str(padding).lower()
    if padding_lower not in ("same", "valid"):
        raise ValueError(f"{function}(padding={padding!r}): expected 'same' or 'valid'")
    return padding_lower


# --- initializers and regularizers ------------------------------------------------------------


def _initializer(function: str, argument: str, init: Any) -> Any:
    """Map a tflearn ``weights_init`` / ``bias_init`` name to the same Keras initializer."""
    if isinstance(init, keras.initializers.Initializer):
        return init
    table: dict[str, Callable[[], keras.initializers.Initializer]] = {
        # U(-sqrt(3/fan_in), +sqrt(3/fan_in)): exactly LeCun uniform.
        "uniform_scaling": keras.initializers.LecunUniform,
        "truncated_normal": lambda: keras.initializers.TruncatedNormal(mean=0.0, stddev=0.02),
        "normal": lambda: keras.initializers.RandomNormal(mean=0.0, stddev=0.02),
        "uniform": lambda: keras.initializers.RandomUniform(minval=0.0, maxval=1.0),
        "xavier": keras.initializers.GlorotUniform,
        "variance_scaling": keras.initializers.HeNormal,
        "zeros": keras.initializers.Zeros,
    }
    if isinstance(init, str) and init in table:
        return table[init]()
    if isinstance(init, (int, float)):  # tflearn accepts a constant value
        return keras.initializers.Constant(float(init))
    _unsupported(
        function, argument, init, f"use one of {sorted(table)} or a keras.initializers object."
    )


def _regularizer(function: str, regularizer: Any, weight_decay: float) -> Any:
    """tflearn's ``'L2'`` is ``wd * tf.nn.l2_loss(w) = wd * sum(w**2) / 2``: half of Keras'."""
    if regularizer is None:
        return None
    if isinstance(regularizer, keras.regularizers.Regularizer):
        return regularizer
    if regularizer == "L2":
        return keras.regularizers.L2(weight_decay / 2.0)
    if regularizer == "L1":
        return keras.regularizers.L1(weight_decay)
    _unsupported(function, "regularizer", regularizer, "use 'L2', 'L1' or a keras.regularizers.")


# --- activations ------------------------------------------------------------------------------

# tflearn activation names whose Keras function of the same name computes the same thing.
_SAME_ACTIVATIONS = {
    "linear",
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softmax",
    "softplus",
    "softsign",
    "elu",
    "selu",
}


def _apply_activation(function: str, x: Tensor, act: Any, name: str | None = None) -> Tensor:
    """Apply a tflearn activation as Keras layer(s) (serialisable, so safe_mode loading works)."""
    if act is None or act == "linear":
        return x if name is None else keras.layers.Activation("linear", name=name)(x)
    if isinstance(act, str) and act in _SAME_ACTIVATIONS:
        return keras.layers.Activation(act, name=name)(x)
    if act == "leaky_relu":  # tflearn's alpha is 0.1; Keras' default slope is 0.2
        return keras.layers.LeakyReLU(negative_slope=0.1, name=name)(x)
    if act == "prelu":  # tflearn: one learnable slope per channel, initialised to 0
        shared = list(range(1, len(x.shape) - 1)) or None
        return keras.layers.PReLU(shared_axes=shared, name=name)(x)
    if callable(act) and getattr(act, "__module__", "").startswith("keras"):
        return keras.layers.Activation(act, name=name)(x)
    _unsupported(
        function,
        "activation",
        act,
        f"use one of {sorted(_SAME_ACTIVATIONS | {'leaky_relu', 'prelu'})} or a keras.activations "
        "function (a custom Python function would not load back with safe_mode=True).",
    )


def _split_activation(act: Any) -> tuple[str | None, Any]:
    """(activation to fuse into the layer, activation to apply as a separate layer)."""
    if act is None or act == "linear":
        return None, None
    if isinstance(act, str) and act in _SAME_ACTIVATIONS:
        return act, None
    return None, act


# --- layers -----------------------------------------------------------------------------------


def input_data(
    shape: Sequence[int | None] | None = None,
    placeholder: Tensor | None = None,
    dtype: Any = "float32",
    data_preprocessing: Any = None,
    data_augmentation: Any = None,
    name: str = "InputData",
) -> Tensor:
    """The network's input: ``keras.Input`` with tflearn's ``shape=[None, ...]`` convention.

    The leading ``None`` (the batch axis) is optional, as in tflearn. ``placeholder`` may be an
    existing ``keras.Input`` tensor, which is then used as it is.
    """
    global _input_counter
    if data_preprocessing is not None:
        _unsupported(
            "input_data",
            "data_preprocessing",
            data_preprocessing,
            "normalise the arrays before fit, or add keras.layers.Normalization.",
        )
    if data_augmentation is not None:
        _unsupported(
            "input_data",
            "data_augmentation",
            data_augmentation,
            "use keras.layers.RandomFlip etc. (utils.keypoint_augmentation for keypoints).",
        )
    if placeholder is not None:
        if not isinstance(placeholder, keras.KerasTensor):
            _unsupported("input_data", "placeholder", placeholder, "pass a keras.Input tensor.")
        tensor = placeholder
    else:
        if shape is None:
            raise ValueError("input_data(): `shape` or `placeholder` argument is required")
        dims = list(shape)
        if len(dims) > 1 and dims[0] is None:
            dims = dims[1:]  # drop the batch axis: keras.Input wants one example's shape
        if not dims or any(
            d is not None and (not isinstance(d, (int, np.integer)) or d <= 0) for d in dims
        ):
            raise ValueError(f"input_data(shape={list(shape)!r}): expected [None, d1, d2, ...]")
        dtype_name = getattr(dtype, "name", dtype)
        tensor = keras.Input(
            shape=tuple(dims), dtype=dtype_name, name=_layer_name(name, "InputData")
        )
    _input_counter += 1
    setattr(tensor, _INPUT_ORDER_ATTR, _input_counter)
    return tensor


def conv_2d(
    incoming: Tensor,
    nb_filter: int,
    filter_size: int | Sequence[int],
    strides: int | Sequence[int] = 1,
    padding: str = "same",
    activation: Any = "linear",
    bias: bool = True,
    weights_init: Any = "uniform_scaling",
    bias_init: Any = "zeros",
    regularizer: Any = None,
    weight_decay: float = 0.001,
    trainable: bool = True,
    restore: bool = True,
    reuse: bool = False,
    scope: str | None = None,
    name: str = "Conv2D",
) -> Tensor:
    """2-D convolution (``keras.layers.Conv2D``) with tflearn's defaults.

    Differences from Keras' defaults: ``padding='same'`` (Keras: 'valid') and weights drawn
    from U(+-sqrt(3/fan_in)) (``'uniform_scaling'``, Keras: Glorot uniform).
    """
    _check_tensor("conv_2d", incoming, min_rank=4)
    _check_common("conv_2d", restore=restore, reuse=reuse)
    fused, extra = _split_activation(activation)
    layer_name = _layer_name(name, "Conv2D", scope)
    layer = keras.layers.Conv2D(
        filters=int(nb_filter),
        kernel_size=_pair("conv_2d", "filter_size", filter_size),
        strides=_pair("conv_2d", "strides", strides),
        padding=_padding("conv_2d", padding),
        activation=fused,
        use_bias=bias,
        kernel_initializer=_initializer("conv_2d", "weights_init", weights_init),
        bias_initializer=_initializer("conv_2d", "bias_init", bias_init),
        kernel_regularizer=_regularizer("conv_2d", regularizer, weight_decay),
        name=layer_name,
    )
    layer.trainable = trainable
    x = layer(incoming)
    if extra is not None:
        x = _apply_activation("conv_2d", x, extra, name=layer_name and f"{layer_name}_activation")
    return x


def _pool(
    kind: str,
    incoming: Tensor,
    kernel_size: Any,
    strides: Any,
    padding: str,
    name: str,
    default: str,
) -> Tensor:
    function = f"{kind}_pool_2d"
    _check_tensor(function, incoming, min_rank=4)
    pool = _pair(function, "kernel_size", kernel_size)
    step = _pair(function, "strides", strides) if strides else pool  # tflearn: strides = kernel
    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    return cls(
        pool_size=pool,
        strides=step,
        padding=_padding(function, padding),
        name=_layer_name(name, default),
    )(incoming)


def max_pool_2d(
    incoming: Tensor,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "same",
    name: str = "MaxPool2D",
) -> Tensor:
    """Max pooling (``keras.layers.MaxPooling2D``); tflearn pads 'same' by default."""
    return _pool("max", incoming, kernel_size, strides, padding, name, "MaxPool2D")


def avg_pool_2d(
    incoming: Tensor,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "same",
    name: str = "AvgPool2D",
) -> Tensor:
    """Average pooling (``keras.layers.AveragePooling2D``); tflearn pads 'same' by default.

    Note: with 'same' padding, windows hanging over the border average only the real pixels
    (TensorFlow and Keras agree on this).
    """
    return _pool("avg", incoming, kernel_size, strides, padding, name, "AvgPool2D")


def global_avg_pool(incoming: Tensor, name: str = "GlobalAvgPool") -> Tensor:
    """Mean over the spatial axes (``keras.layers.GlobalAveragePooling2D``)."""
    _check_tensor("global_avg_pool", incoming, min_rank=4)
    return keras.layers.GlobalAveragePooling2D(name=_layer_name(name, "GlobalAvgPool"))(incoming)


def flatten(incoming: Tensor, name: str = "Flatten") -> Tensor:
    """Flatten all but the batch axis (``keras.layers.Flatten``)."""
    _check_tensor("flatten", incoming)
    return keras.layers.Flatten(name=_layer_name(name, "Flatten"))(incoming)


def reshape(incoming: Tensor, new_shape: Sequence[int | None], name: str = "Reshape") -> Tensor:
    """Reshape to ``new_shape`` (tflearn style: batch axis first, ``None`` or ``-1``)."""
    _check_tensor("reshape", incoming, min_rank=1)
    dims = list(new_shape)
    if dims and dims[0] in (None, -1):
        dims = dims[1:]
    if any(d is None for d in dims):
        raise ValueError(f"reshape(new_shape={list(new_shape)!r}): only the batch axis may be None")
    target = tuple(int(d) for d in dims if d is not None)
    return keras.layers.Reshape(target, name=_layer_name(name, "Reshape"))(incoming)


def fully_connected(
    incoming: Tensor,
    n_units: int,
    activation: Any = "linear",
    bias: bool = True,
    weights_init: Any = "truncated_normal",
    bias_init: Any = "zeros",
    regularizer: Any = None,
    weight_decay: float = 0.001,
    trainable: bool = True,
    restore: bool = True,
    reuse: bool = False,
    scope: str | None = None,
    name: str = "FullyConnected",
) -> Tensor:
    """Dense layer; like tflearn it first flattens an input of rank > 2.

    Keras' ``Dense`` on a 4-D tensor would instead act on the last axis only (a 1x1
    convolution): the silent bug this shim avoids. Weights start from a truncated normal with
    stddev 0.02 (tflearn's default), not Glorot uniform.
    """
    shape = _check_tensor("fully_connected", incoming)
    _check_common("fully_connected", restore=restore, reuse=reuse)
    layer_name = _layer_name(name, "FullyConnected", scope)
    x = incoming
    if len(shape) > 2:
        x = keras.layers.Flatten(name=layer_name and f"{layer_name}_flatten")(x)
    fused, extra = _split_activation(activation)
    layer = keras.layers.Dense(
        int(n_units),
        activation=fused,
        use_bias=bias,
        kernel_initializer=_initializer("fully_connected", "weights_init", weights_init),
        bias_initializer=_initializer("fully_connected", "bias_init", bias_init),
        kernel_regularizer=_regularizer("fully_connected", regularizer, weight_decay),
        name=layer_name,
    )
    layer.trainable = trainable
    x = layer(x)
    if extra is not None:
        x = _apply_activation(
            "fully_connected", x, extra, name=layer_name and f"{layer_name}_activation"
        )
    return x


def dropout(
    incoming: Tensor,
    keep_prob: float,
    noise_shape: Sequence[int | None] | None = None,
    name: str = "Dropout",
) -> Tensor:
    """Dropout with tflearn's **keep** probability: ``dropout(x, 0.8)`` keeps 80% of units.

    That is ``keras.layers.Dropout(rate=0.2)`` -- Keras' argument is the fraction *dropped*.
    Active only while training (``fit``), an identity in ``predict``/``evaluate``.
    """
    _check_tensor("dropout", incoming, min_rank=1)
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, (int, float, np.floating)):
        _unsupported("dropout", "keep_prob", keep_prob, "pass a Python float in (0, 1].")
    if not 0.0 < float(keep_prob) <= 1.0:
        raise ValueError(
            f"dropout(keep_prob={keep_prob!r}): expected the probability of KEEPING a unit, "
            "in (0, 1] (tflearn semantics; Keras' Dropout(rate) takes the fraction dropped)"
        )
    shape = None if noise_shape is None else tuple(noise_shape)
    return keras.layers.Dropout(
        rate=1.0 - float(keep_prob), noise_shape=shape, name=_layer_name(name, "Dropout")
    )(incoming)


def batch_normalization(
    incoming: Tensor,
    beta: float = 0.0,
    gamma: float = 1.0,
    epsilon: float = 1e-5,
    decay: float = 0.9,
    stddev: float = 0.002,
    trainable: bool = True,
    restore: bool = True,
    reuse: bool = False,
    scope: str | None = None,
    name: str = "BatchNormalization",
) -> Tensor:
    """Batch normalisation over the last axis with tflearn's defaults.

    ``decay`` is Keras' ``momentum`` (tflearn 0.9, Keras 0.99), ``epsilon`` 1e-5 (Keras 1e-3),
    and gamma starts from N(gamma, stddev) rather than exactly 1.
    """
    _check_tensor("batch_normalization", incoming)
    _check_common("batch_normalization", restore=restore, reuse=reuse)
    layer = keras.layers.BatchNormalization(
        axis=-1,
        momentum=float(decay),
        epsilon=float(epsilon),
        beta_initializer=keras.initializers.Constant(float(beta)),
        gamma_initializer=keras.initializers.RandomNormal(mean=float(gamma), stddev=float(stddev)),
        name=_layer_name(name, "BatchNormalization", scope),
    )
    layer.trainable = trainable
    return layer(incoming)


def activation(incoming: Tensor, activation: Any = "linear", name: str = "activation") -> Tensor:
    """Apply an activation by name (tflearn's ``'leaky_relu'`` has slope 0.1, not Keras' 0.2)."""
    _check_tensor("activation", incoming, min_rank=1)
    return _apply_activation("activation", incoming, activation, _layer_name(name, "activation"))


# --- optimizers -------------------------------------------------------------------------------


class Optimizer:
    """Base of the tflearn-style optimizers: holds the settings, builds the Keras optimizer.

    ``get_tensor()`` (or calling the object) returns the ``keras.optimizers.Optimizer``, as
    tflearn's returned the TensorFlow one.
    """

    def __init__(self, learning_rate: float, use_locking: bool, name: str) -> None:
        if use_locking:
            _unsupported(
                type(self).__name__,
                "use_locking",
                use_locking,
                "Keras optimizers have no locking option.",
            )
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
            raise ValueError(
                f"{type(self).__name__}(learning_rate={learning_rate!r}): expected a float > 0"
            )
        self.learning_rate = float(learning_rate)
        self.use_locking = use_locking
        self.name = name
        self.has_decay = False

    def build(self, global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
        """The equivalent Keras optimizer (``global_clipnorm`` is DNN's ``clip_gradients``)."""
        raise NotImplementedError

    def get_tensor(self) -> keras.optimizers.Optimizer:
        return self.build()

    def __call__(self) -> keras.optimizers.Optimizer:
        return self.get_tensor()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "has_decay")
        return f"{type(self).__name__}({fields})"


class _DecayMixin:
    learning_rate: float
    lr_decay: float
    decay_step: int
    staircase: bool

    def _init_decay(self, lr_decay: float, decay_step: int, staircase: bool) -> bool:
        if not 0.0 <= float(lr_decay) <= 1.0:
            raise ValueError(f"lr_decay={lr_decay!r}: expected a factor in [0, 1] (e.g. 0.96)")
        if int(decay_step) <= 0:
            raise ValueError(f"decay_step={decay_step!r}: expected a positive number of steps")
        self.lr_decay = float(lr_decay)
        self.decay_step = int(decay_step)
        self.staircase = bool(staircase)
        return self.lr_decay > 0.0

    def schedule(self) -> float | keras.optimizers.schedules.LearningRateSchedule:
        """The learning rate: ``lr * lr_decay ** (step / decay_step)`` (``step // decay_step``
        with ``staircase=True``), where ``step`` counts optimizer updates (batches)."""
        if self.lr_decay <= 0.0:
            return self.learning_rate
        return keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=self.learning_rate,
            decay_steps=self.decay_step,
            decay_rate=self.lr_decay,
            staircase=self.staircase,
        )


class SGD(_DecayMixin, Optimizer):
    """Plain gradient descent, optionally with exponential learning-rate decay.

    ``SGD(learning_rate=0.7, lr_decay=0.96, decay_step=2400)`` multiplies the rate by 0.96 per
    2400 *batches*; smoothly (tflearn's default ``staircase=False``) or in steps
    (``staircase=True``). Keras: ``SGD(ExponentialDecay(0.7, 2400, 0.96, staircase))``.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        lr_decay: float = 0.0,
        decay_step: int = 100,
        staircase: bool = False,
        use_locking: bool = False,
        name: str = "SGD",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self.has_decay = self._init_decay(lr_decay, decay_step, staircase)

    def build(self, global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
        return keras.optimizers.SGD(learning_rate=self.schedule(), global_clipnorm=global_clipnorm)


class Momentum(_DecayMixin, Optimizer):
    """Gradient descent with momentum (``keras.optimizers.SGD(momentum=...)``), optional decay.

    TF1 accumulated ``v = m*v + g`` and stepped ``lr*v``; Keras steps ``v = m*v - lr*g``.
    Identical at a constant rate; with decay, Keras' older velocity keeps its older rate.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        lr_decay: float = 0.0,
        decay_step: int = 100,
        staircase: bool = False,
        use_locking: bool = False,
        name: str = "Momentum",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self.momentum = float(momentum)
        self.has_decay = self._init_decay(lr_decay, decay_step, staircase)

    def build(self, global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
        return keras.optimizers.SGD(
            learning_rate=self.schedule(), momentum=self.momentum, global_clipnorm=global_clipnorm
        )


class Adam(Optimizer):
    """Adam (``keras.optimizers.Adam``; same update rule as TF1's, epsilon 1e-8 vs Keras 1e-7)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        use_locking: bool = False,
        name: str = "Adam",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def build(self, global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adam(
            learning_rate=self.learning_rate,
            beta_1=self.beta1,
            beta_2=self.beta2,
            epsilon=self.epsilon,
            global_clipnorm=global_clipnorm,
        )


class RMSProp(Optimizer):
    """RMSProp (``keras.optimizers.RMSprop``; tflearn's ``decay`` is Keras' ``rho``).

    One real difference: TF1 started the squared-gradient average at 1, Keras at 0, so Keras'
    first steps are larger (about ``lr / sqrt(1 - rho)`` per unit-sign gradient).
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        decay: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-10,
        use_locking: bool = False,
        name: str = "RMSProp",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self.decay, self.momentum, self.epsilon = float(decay), float(momentum), float(epsilon)

    def build(self, global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
        return keras.optimizers.RMSprop(
            learning_rate=self.learning_rate,
            rho=self.decay,
            momentum=self.momentum,
            epsilon=self.epsilon,
            global_clipnorm=global_clipnorm,
        )


class AdaGrad(Optimizer):
    """AdaGrad (``keras.optimizers.Adagrad``)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        use_locking: bool = False,
        name: str = "AdaGrad",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def build(self, global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adagrad(
            learning_rate=self.learning_rate,
            initial_accumulator_value=self.initial_accumulator_value,
            global_clipnorm=global_clipnorm,
        )


_OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "adam": Adam,
    "rmsprop": RMSProp,
    "adagrad": AdaGrad,
}


# --- regression: the training recipe attached to the output tensor ----------------------------

# tflearn loss name -> (Keras loss factory, is it a classification loss?)
_LOSSES: dict[str, tuple[Callable[[], keras.losses.Loss], bool]] = {
    # mean over every value, like tf.reduce_mean(tf.square(y_pred - y_true))
    "mean_square": (lambda: keras.losses.MeanSquaredError(name="mean_square"), False),
    # expects probabilities (a softmax output)
    "categorical_crossentropy": (lambda: keras.losses.CategoricalCrossentropy(), True),
    # expects logits (no softmax on the last layer)
    "softmax_categorical_crossentropy": (
        lambda: keras.losses.CategoricalCrossentropy(from_logits=True),
        True,
    ),
    # tflearn's binary_crossentropy takes LOGITS (sigmoid_cross_entropy_with_logits)
    "binary_crossentropy": (lambda: keras.losses.BinaryCrossentropy(from_logits=True), True),
}


class RegressionSpec:
    """What ``regression()`` records: loss, optimizer, metric and batch settings for ``DNN``."""

    def __init__(
        self,
        loss: keras.losses.Loss,
        loss_name: str,
        optimizer: Optimizer,
        metric: keras.metrics.Metric | None,
        batch_size: int,
        shuffle_batches: bool,
        to_one_hot: bool,
        n_classes: int | None,
        validation_batch_size: int | None,
        op_name: str,
    ) -> None:
        self.loss = loss
        self.loss_name = loss_name
        self.optimizer = optimizer
        self.metric = metric
        self.batch_size = batch_size
        self.shuffle_batches = shuffle_batches
        self.to_one_hot = to_one_hot
        self.n_classes = n_classes
        self.validation_batch_size = validation_batch_size
        self.op_name = op_name


def _metric(metric: Any, loss_name: str, is_classification: bool) -> keras.metrics.Metric | None:
    if metric is None:
        return None
    if isinstance(metric, keras.metrics.Metric):
        return metric
    if metric == "default":
        # tflearn reports argmax "accuracy" even for regression, where it means nothing; here
        # the default is accuracy for classification losses and no extra metric otherwise.
        metric = "accuracy" if is_classification else None
        if metric is None:
            return None
    if metric in ("accuracy", "acc", "Accuracy"):
        if loss_name == "binary_crossentropy":  # logits: positive means class 1
            return keras.metrics.BinaryAccuracy(name="acc", threshold=0.0)
        return keras.metrics.CategoricalAccuracy(name="acc")
    if metric in ("top5", "top_k", "Top_k"):
        return keras.metrics.TopKCategoricalAccuracy(k=5, name="top5")
    if metric in ("R2", "r2"):
        return keras.metrics.R2Score(name="R2")
    _unsupported(
        "regression",
        "metric",
        metric,
        "use 'default', 'accuracy', 'top5', 'R2', None or a keras.metrics.Metric.",
    )


def regression(
    incoming: Tensor,
    placeholder: Any = None,
    optimizer: str | Optimizer = "adam",
    loss: str | keras.losses.Loss = "categorical_crossentropy",
    metric: Any = "default",
    learning_rate: float = 0.001,
    dtype: Any = "float32",
    batch_size: int = 64,
    shuffle_batches: bool = True,
    to_one_hot: bool = False,
    n_classes: int | None = None,
    trainable_vars: Any = None,
    restore: bool = True,
    op_name: str | None = None,
    validation_monitors: Any = None,
    validation_batch_size: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Attach the training recipe (loss, optimizer, metric, batch size) to the output tensor.

    tflearn's defaults: Adam with ``learning_rate=0.001``, ``loss='categorical_crossentropy'``
    (which expects a softmax output), batches of 64, shuffled every epoch. Returns ``incoming``
    itself, as tflearn does; ``DNN(network)`` reads the recipe from it.
    """
    _check_tensor("regression", incoming)
    for arg, value in (
        ("placeholder", placeholder),
        ("trainable_vars", trainable_vars),
        ("validation_monitors", validation_monitors),
    ):
        if value is not None:
            _unsupported("regression", arg, value)
    if not restore:
        _unsupported("regression", "restore", restore, "DNN.load restores optimizer state too.")
    if str(getattr(dtype, "name", dtype)) != "float32":
        _unsupported("regression", "dtype", dtype, "targets are fed as float32.")
    if to_one_hot and (n_classes is None or int(n_classes) < 2):
        raise ValueError("regression(to_one_hot=True): 'n_classes' (an int >= 2) is required")
    if int(batch_size) <= 0:
        raise ValueError(f"regression(batch_size={batch_size!r}): expected a positive int")

    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in _OPTIMIZERS:
            _unsupported("regression", "optimizer", optimizer, f"use one of {sorted(_OPTIMIZERS)}.")
        # a name uses regression's learning_rate; an Optimizer object keeps its own
        opt = _OPTIMIZERS[key](learning_rate=learning_rate)
    elif isinstance(optimizer, Optimizer):
        opt = optimizer
    else:
        _unsupported(
            "regression",
            "optimizer",
            optimizer,
            "pass a name ('sgd', 'adam', ...) or SGD(...), Adam(...) from this module.",
        )

    if isinstance(loss, keras.losses.Loss):
        loss_obj, loss_name, is_classification = loss, loss.name, False
    elif isinstance(loss, str) and loss in _LOSSES:
        factory, is_classification = _LOSSES[loss]
        loss_obj, loss_name = factory(), loss
    else:
        _unsupported(
            "regression",
            "loss",
            loss,
            f"use one of {sorted(_LOSSES)} or a keras.losses.Loss (note: tflearn "
            "custom losses take (y_pred, y_true), Keras losses (y_true, y_pred)).",
        )

    spec = RegressionSpec(
        loss=loss_obj,
        loss_name=loss_name,
        optimizer=opt,
        metric=_metric(metric, loss_name, is_classification),
        batch_size=int(batch_size),
        shuffle_batches=bool(shuffle_batches),
        to_one_hot=bool(to_one_hot),
        n_classes=None if n_classes is None else int(n_classes),
        validation_batch_size=validation_batch_size,
        op_name=op_name or type(opt).__name__,
    )
    setattr(incoming, _REGRESSION_ATTR, spec)
    return incoming


# --- DNN: the model wrapper -------------------------------------------------------------------


def _find_inputs(output: Tensor) -> list[Tensor]:
    """The ``input_data`` tensors ``output`` depends on, in creation order (tflearn feeds a
    list of arrays to inputs in that order)."""
    found: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack = [output]
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        history = getattr(tensor, "_keras_history", None)
        op = getattr(history, "operation", None)
        if history is None or op is None or isinstance(op, keras.layers.InputLayer):
            found[id(tensor)] = tensor
            continue
        node = op._inbound_nodes[history.node_index]
        stack.extend(node.arguments.keras_tensors)
    return sorted(found.values(), key=lambda t: getattr(t, _INPUT_ORDER_ATTR, 0))


def _as_float_array(what: str, value: Any) -> Any:
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]):
        arrays = [np.asarray(v) for v in value]
        if all(a.ndim >= 1 and a.shape[0] == arrays[0].shape[0] and a.ndim > 1 for a in arrays):
            return [a.astype("float32", copy=False) for a in arrays]
    if isinstance(value, dict):
        return {k: np.asarray(v, dtype="float32") for k, v in value.items()}
    return np.asarray(value, dtype="float32")


def _n_rows(what: str, value: Any) -> int:
    first = value[0] if isinstance(value, list) else value
    if isinstance(value, dict):
        first = next(iter(value.values()))
    if np.ndim(first) == 0:
        raise ValueError(f"{what}: expected an array with one row per example, got a scalar")
    return int(np.shape(first)[0])


def _take(value: Any, index: np.ndarray) -> Any:
    if isinstance(value, list):
        return [v[index] for v in value]
    if isinstance(value, dict):
        return {k: v[index] for k, v in value.items()}
    return value[index]


class _TermLogger(keras.callbacks.Callback):
    """A tflearn-like one-line summary per epoch (at most ~20 lines per fit call)."""

    def __init__(self, op_name: str, n_epoch: int, n_train: int, show_metric: bool) -> None:
        super().__init__()
        self.op_name, self.n_epoch, self.n_train = op_name, n_epoch, n_train
        self.show_metric = show_metric
        self.every = max(1, math.ceil(n_epoch / 20))
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        done = epoch + 1
        if done % self.every and done != self.n_epoch:
            return
        step = int(self.model.optimizer.iterations.numpy())
        parts = [f"Training Step: {step}", f"time: {time.perf_counter() - self.start:.1f}s"]
        parts += [f"{self.op_name}", f"epoch: {done:03d}"]
        for key, value in logs.items():
            if key == "learning_rate":
                continue
            is_metric = not key.endswith("loss")
            if is_metric and not self.show_metric:
                continue
            parts.append(f"{key}: {float(value):.5f}")
        print(" | ".join(parts) + f" -- iter: {self.n_train:03d}/{self.n_train:03d}", flush=True)


class DNN:
    """Deep Neural Network model: wraps the network ending in ``regression(...)``.

    Same arguments as tflearn's ``DNN``. ``clip_gradients=5.0`` (tflearn's default) clips the
    gradients to a global norm of 5, as Keras' ``global_clipnorm=5.0``; pass 0 to disable.
    TensorBoard logs go to ``tensorboard_dir/run_id``, written by Keras' own
    ``keras.callbacks.TensorBoard`` (``tensorboard_verbose``: 0 = loss and metric, 2 = also
    weight histograms; the x axis is the epoch, where tflearn's was the training step).
    ``self.model`` is the compiled ``keras.Model``.
    """

    def __init__(
        self,
        network: Tensor,
        clip_gradients: float = 5.0,
        tensorboard_verbose: int = 0,
        tensorboard_dir: str | os.PathLike[str] = "/tmp/tflearn_logs/",
        checkpoint_path: str | None = None,
        best_checkpoint_path: str | None = None,
        max_checkpoints: int | None = None,
        session: Any = None,
        best_val_accuracy: float = 0.0,
    ) -> None:
        _check_tensor("DNN", network, min_rank=1)
        for arg, value in (
            ("checkpoint_path", checkpoint_path),
            ("best_checkpoint_path", best_checkpoint_path),
            ("max_checkpoints", max_checkpoints),
            ("session", session),
        ):
            if value is not None:
                _unsupported(
                    "DNN",
                    arg,
                    value,
                    "save with model.save(...) after fit, or pass "
                    "a keras.callbacks.ModelCheckpoint in fit(callbacks=[...]).",
                )
        if best_val_accuracy:
            _unsupported("DNN", "best_val_accuracy", best_val_accuracy)
        if tensorboard_verbose not in (0, 2):
            _unsupported(
                "DNN",
                "tensorboard_verbose",
                tensorboard_verbose,
                "use 0 (loss and metric) or 2 (also weight histograms); Keras 3's "
                "TensorBoard callback logs no gradients or activations.",
            )
        if clip_gradients is None or float(clip_gradients) < 0:
            raise ValueError(f"DNN(clip_gradients={clip_gradients!r}): expected a float >= 0")
        self.net = network
        self.clip_gradients = float(clip_gradients)
        self.tensorboard_verbose = tensorboard_verbose
        self.tensorboard_dir = Path(tensorboard_dir)
        self.spec: RegressionSpec | None = getattr(network, _REGRESSION_ATTR, None)
        self.inputs = _find_inputs(network)
        self.model = keras.Model(inputs=self.inputs, outputs=network)
        self.history: keras.callbacks.History | None = None
        self.op_name = self.spec.op_name if self.spec is not None else ""
        if self.spec is not None:
            spec = self.spec
            self.model.compile(
                optimizer=spec.optimizer.build(self.clip_gradients or None),
                loss=spec.loss,
                metrics=[spec.metric] if spec.metric is not None else None,
            )

    # - data helpers -

    def _targets(self, Y: Any, what: str) -> Any:
        spec = self.spec
        if spec is not None and spec.to_one_hot:
            labels = np.asarray(Y)
            n_classes = int(spec.n_classes or 0)
            if labels.ndim != 1 or labels.min() < 0 or labels.max() >= n_classes:
                raise ValueError(
                    f"{what}: to_one_hot=True expects a 1-D array of int labels in "
                    f"[0, {n_classes}), got shape {labels.shape}"
                )
            return keras.utils.to_categorical(labels, n_classes).astype("float32")
        return _as_float_array(what, Y)

    def _check_rows(self, X: Any, Y: Any, what: str) -> None:
        nx, ny = _n_rows(f"{what} X", X), _n_rows(f"{what} Y", Y)
        if nx != ny:
            raise ValueError(
                f"{what}: X has {nx} rows but Y has {ny}; expected one target per input"
            )

    # - tflearn API -

    def fit(
        self,
        X_inputs: Any,
        Y_targets: Any,
        n_epoch: int = 10,
        validation_set: float | tuple[Any, Any] | None = None,
        show_metric: bool = False,
        batch_size: int | None = None,
        shuffle: bool | None = None,
        snapshot_epoch: bool = True,
        snapshot_step: int | None = None,
        excl_trainops: Any = None,
        validation_batch_size: int | None = None,
        run_id: str | None = None,
        callbacks: Sequence[keras.callbacks.Callback] | keras.callbacks.Callback = (),
    ) -> keras.callbacks.History:
        """Train for ``n_epoch`` epochs; returns Keras' ``History`` (tflearn returned None).

        ``validation_set`` is a fraction (a random subset of the rows, drawn with NumPy's
        global generator like tflearn, so ``set_seed`` fixes it) or an ``(X_val, Y_val)``
        tuple. ``batch_size``/``shuffle`` default to the values given to ``regression``.
        """
        if self.spec is None:
            raise ValueError(
                "DNN.fit: the network has no training recipe; end it with regression(...)"
            )
        if snapshot_step is not None:
            _unsupported(
                "DNN.fit",
                "snapshot_step",
                snapshot_step,
                "validation runs at the end of each epoch.",
            )
        if excl_trainops is not None:
            _unsupported("DNN.fit", "excl_trainops", excl_trainops)
        if int(n_epoch) < 1:
            raise ValueError(f"DNN.fit(n_epoch={n_epoch!r}): expected an int >= 1")
        spec = self.spec
        X = _as_float_array("DNN.fit X_inputs", X_inputs)
        Y = self._targets(Y_targets, "DNN.fit Y_targets")
        self._check_rows(X, Y, "DNN.fit")
        n = _n_rows("DNN.fit X_inputs", X)

        validation_data = None
        if validation_set is not None and validation_set is not False:
            if isinstance(validation_set, float):
                if not 0.0 < validation_set < 1.0:
                    raise ValueError(
                        f"DNN.fit(validation_set={validation_set!r}): a fraction must be in (0, 1)"
                    )
                index = np.arange(n)
                np.random.shuffle(index)  # noqa: NPY002 -- tflearn's generator, fixed by set_seed
                split_at = int(n * (1.0 - validation_set))
                if split_at < 1 or split_at >= n:
                    raise ValueError(
                        f"DNN.fit(validation_set={validation_set}): {n} rows leave an empty "
                        "training or validation part"
                    )
                train_idx, val_idx = np.sort(index[:split_at]), np.sort(index[split_at:])
                validation_data = (_take(X, val_idx), _take(Y, val_idx))
                X, Y = _take(X, train_idx), _take(Y, train_idx)
            elif isinstance(validation_set, (tuple, list)) and len(validation_set) == 2:
                vx = _as_float_array("DNN.fit validation_set[0]", validation_set[0])
                vy = self._targets(validation_set[1], "DNN.fit validation_set[1]")
                self._check_rows(vx, vy, "DNN.fit validation_set")
                validation_data = (vx, vy)
            else:
                raise ValueError(
                    "DNN.fit(validation_set=...): expected a float fraction such as 0.1 or a "
                    f"tuple (X_val, Y_val), got {type(validation_set).__name__}"
                )
        if not snapshot_epoch:
            validation_data = None  # tflearn validates only at snapshots

        batch = int(batch_size or spec.batch_size)
        val_batch = validation_batch_size or (batch_size and batch) or spec.validation_batch_size
        do_shuffle = spec.shuffle_batches if shuffle is None else bool(shuffle)

        if not run_id:
            run_id = "".join(random.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=6))
        log_dir = self.tensorboard_dir / run_id
        print("---------------------------------")
        print(f"Run id: {run_id}")
        print(f"Log directory: {log_dir}")
        n_train = _n_rows("DNN.fit X", X)
        print(
            f"Training samples: {n_train}"
            + (
                f"\nValidation samples: {_n_rows('val', validation_data[0])}"
                if validation_data
                else ""
            )
        )
        extra = [callbacks] if isinstance(callbacks, keras.callbacks.Callback) else list(callbacks)
        for cb in extra:
            if not isinstance(cb, keras.callbacks.Callback):
                _unsupported(
                    "DNN.fit",
                    "callbacks",
                    cb,
                    "tflearn callbacks are not supported; pass keras.callbacks.Callback.",
                )
        board = keras.callbacks.TensorBoard(
            log_dir=str(log_dir),
            histogram_freq=1 if self.tensorboard_verbose >= 2 else 0,
            write_graph=False,
        )
        logger = _TermLogger(self.op_name, int(n_epoch), n_train, show_metric)
        self.history = self.model.fit(
            X,
            Y,
            batch_size=batch,
            epochs=int(n_epoch),
            validation_data=validation_data,
            validation_batch_size=val_batch,
            shuffle=do_shuffle,
            callbacks=[board, logger, *extra],
            verbose=0,
        )
        return self.history

    def predict(self, X: Any) -> np.ndarray:
        """The network's outputs for ``X`` as a NumPy array (inference mode: no dropout)."""
        return np.asarray(self.model.predict(_as_float_array("DNN.predict X", X), verbose=0))

    def predict_label(self, X: Any) -> np.ndarray:
        """Class indices sorted from most to least probable, per row."""
        return np.argsort(self.predict(X), axis=-1)[..., ::-1]

    def evaluate(self, X: Any, Y: Any, batch_size: int = 128) -> list[float]:
        """The metric score(s) on ``X, Y`` as a list, like tflearn; the loss when the
        regression has no metric (e.g. ``mean_square`` with ``metric='default'``)."""
        Xa = _as_float_array("DNN.evaluate X", X)
        Ya = self._targets(Y, "DNN.evaluate Y")
        self._check_rows(Xa, Ya, "DNN.evaluate")
        results = self.model.evaluate(Xa, Ya, batch_size=batch_size, verbose=0, return_dict=True)
        metric_values = [float(v) for k, v in results.items() if not k.endswith("loss")]
        return metric_values or [float(results["loss"])]

    def save(self, model_file: str | os.PathLike[str]) -> Path:
        """Save the whole model (architecture, weights, optimizer state) to a ``.keras`` file.

        Written atomically (temporary file, then rename). A tflearn-style name without the
        ``.keras`` extension (``'model.tflearn'``) gets it appended, with a warning.
        """
        path = Path(model_file)
        if path.suffix != ".keras":
            new = path.with_name(path.name + ".keras")
            warnings.warn(
                f"DNN.save({str(model_file)!r}): Keras 3 saves to a '.keras' file; writing {new}",
                stacklevel=2,
            )
            path = new
        return atomic_save_model(self.model, path)

    def load(
        self, model_file: str | os.PathLike[str], weights_only: bool = False, **optargs: Any
    ) -> None:
        """Restore a model saved by ``save`` (weights and optimizer state), in safe mode.

        ``weights_only=True`` copies only the weights into the current network (which must have
        the same layers); otherwise the whole saved model replaces ``self.model``.
        """
        if optargs:
            _unsupported("DNN.load", next(iter(optargs)), next(iter(optargs.values())))
        path = Path(model_file)
        if path.suffix != ".keras" and Path(str(path) + ".keras").exists():
            path = Path(str(path) + ".keras")
        if not path.is_file():
            raise FileNotFoundError(f"DNN.load: {path} does not exist (expected a .keras file)")
        loaded = keras.models.load_model(path, safe_mode=True)
        if weights_only:
            try:
                self.model.set_weights(loaded.get_weights())
            except ValueError as exc:
                raise ValueError(
                    f"DNN.load({str(path)!r}, weights_only=True): the saved network's layers "
                    f"do not match this one's: {exc}"
                ) from exc
        else:
            self.model = loaded
            if loaded.optimizer is not None:
                self.op_name = type(loaded.optimizer).__name__

    def get_weights(self, weight_tensor: Any) -> np.ndarray | list[np.ndarray]:
        """A variable's value (e.g. ``dnn.model.get_layer('conv1_1').kernel``), or, given a
        layer name, that layer's list of weight arrays."""
        if isinstance(weight_tensor, str):
            return self.model.get_layer(weight_tensor).get_weights()
        return np.asarray(keras.ops.convert_to_numpy(weight_tensor))

    def set_weights(self, tensor: Any, weights: Any) -> None:
        """Assign ``weights`` to a variable (or, given a layer name, to that layer)."""
        if isinstance(tensor, str):
            self.model.get_layer(tensor).set_weights(weights)
        else:
            tensor.assign(np.asarray(weights, dtype=tensor.dtype))
