"""What this machine offers: ``report_environment()`` prints TensorFlow, Keras and the GPU.

The first code cell of every notebook calls it, so a student sees at once which versions run
and whether a GPU is visible (and what to do when it is not).
"""

from __future__ import annotations

import keras
import tensorflow as tf


def report_environment() -> dict[str, object]:
    """Print (and return) the TensorFlow/Keras versions and whether a GPU is visible."""
    gpus = tf.config.list_physical_devices("GPU")
    gpu_names = [g.name for g in gpus]
    info: dict[str, object] = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "gpus": gpu_names,
    }
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__} ({info['backend']} backend)")
    if gpus:
        print(f"GPU: {', '.join(gpu_names)}")
    else:
        print(
            "No GPU found: fine for this course, every notebook's defaults run on a laptop CPU. "
            "On Colab choose Runtime > Change runtime type > GPU; on a local NVIDIA machine "
            "install `tensorflow[and-cuda]`."
        )
    return info
