"""The first cell of every notebook: make sure the course package is there, then get going.

Every notebook starts with the same cell, :data:`SETUP_CELL`::

    try:
        import utils.setup
    except ImportError:
        %pip install -q "face-dl-course @ git+https://github.com/face-dl-course/face-dl-course"
        import utils.setup
    utils.setup.notebook()

In a checkout installed with ``make install`` (or ``pip install -e .``) the import simply
works. On Colab or Kaggle, where only the notebook file exists, the import fails and ``%pip``
installs the package from :data:`PIP_URL` into the notebook's own Python first. Everything
after that lives here, in :func:`notebook`, so it can change without editing 22 notebooks.

:data:`PIP_URL` is the one place the repository's address is written down: the cell is built
from it, ``tests/test_editions.py`` checks every notebook starts with exactly this cell, and
``python -m utils.editions --setup-cells`` rewrites the notebooks' first cells after a change.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

#: What ``pip install`` needs to fetch the course package on Colab or Kaggle: the core
#: dependencies only (what notebooks need at run time; JupyterLab and the test tools are the
#: ``[lab]`` and ``[dev]`` extras). It needs the internet. On Kaggle, switch *Internet on* in
#: the notebook's *Settings* panel; where that is not allowed, upload the course's wheel
#: (``pip wheel --no-deps "<PIP_URL>" -w wheels/`` on a connected machine) as a Kaggle
#: dataset, add it to the notebook, and run ``%pip install --no-index --find-links
#: /kaggle/input/<dataset> face-dl-course`` before this cell (Kaggle's image has most of the
#: dependencies; add the wheel of any that pip says it cannot find). The README's "Colab and
#: Kaggle" section says it step by step.
PIP_URL = "face-dl-course @ git+https://github.com/face-dl-course/face-dl-course"

#: The first code cell of every notebook (kept short: it runs before the package exists).
SETUP_CELL = f"""\
# Setup: the course package (on Colab/Kaggle it is installed first), versions and GPU.
try:
    import utils.setup
except ImportError:
    %pip install -q "{PIP_URL}"
    import utils.setup
utils.setup.notebook()"""


def notebook() -> None:
    """Prepare a notebook: print the versions of TensorFlow and Keras and whether a GPU is
    visible (:func:`utils.environment.report_environment`), without TensorFlow's start-up
    log lines. To see those too (a GPU that is there but not found, say), call
    ``report_environment()`` yourself in a fresh kernel."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # must be set before TensorFlow loads
    with _native_stderr_silenced():
        from utils.environment import report_environment

        report_environment()


def quiet_tensorflow() -> None:
    """Load TensorFlow now, without its C++ start-up lines ("oneDNN custom operations are on",
    "Could not find cuda drivers", "failed call to cuInit"...): the course's command-line tools
    (``python -m utils.train_fer`` ...) call this before anything imports Keras, so what a user
    sees is the tool's own output. A GPU that is there still gets found; only the messages go.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # must be set before TensorFlow loads
    with _native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe, which logs, happens here


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Drop what C/C++ code writes to the process's stderr meanwhile (TensorFlow's "oneDNN
    custom operations are on", "failed call to cuInit"...: lines a learner cannot act on,
    which recent TensorFlow prints whatever ``TF_CPP_MIN_LOG_LEVEL`` says). Printed text and
    Python's errors and warnings are untouched: in a notebook they do not go through file
    descriptor 2, and an exception is shown after it is restored."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 to redirect: change nothing
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
