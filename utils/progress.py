"""Progress bars with an ETA for the course's long loops (sample data, a folder of photos).

::

    for photo in progress(photos, desc="photos", unit="photo"):
        ...

:func:`progress` is ``tqdm.auto.tqdm`` -- a text bar in a terminal, a widget in Jupyter --
that draws only where someone is watching (:func:`watching`: a terminal, or a Jupyter
kernel), so CI logs, piped output and tests stay clean; ``quiet=True`` turns it off
everywhere. Use ``tqdm`` itself in your own loops: it is the library this wraps.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["progress", "watching"]


def watching() -> bool:
    """True when a person can see a progress bar: stderr is a terminal, or this is Jupyter."""
    try:
        if sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # replaced or closed stream
        pass
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    quiet: bool = False,
) -> Any:
    """``tqdm.auto.tqdm(iterable, total=..., desc=..., unit=...)``, shown only when watched.

    Iterate over it like ``iterable``, or (``iterable=None``) call ``.update(n)`` yourself;
    the bar shows the count, the rate and the time left. Silent (but still counting) when
    ``quiet`` is true or nobody is watching (:func:`watching`).
    """
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=quiet or not watching(),
        dynamic_ncols=True,
    )
