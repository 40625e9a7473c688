"""People: one folder of pictures per person (ORL, the sample ``identities/``), and LFW.

Face verification and recognition (notebook 08) need several pictures of each person. The
simplest layout, used by the AT&T/ORL faces and by the sample data, is a folder per person::

    s1/1.pgm  s1/2.pgm ...  s2/1.pgm ...  s40/10.pgm

:func:`load_identities` reads it (a folder or its zip) into an :class:`IdentityData`: images,
an integer label per image and the person names. :func:`load_lfw` gives Labeled Faces in the
Wild (downloaded once by scikit-learn) in the same shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.archives import Archive, natural_key
from utils.images import IMAGE_EXTENSIONS, decode_members, is_image_name, to_float
from utils.schema import DataFormatError


@dataclass
class IdentityData:
    """Faces grouped by person. Unpacks as ``images, labels, names``.

    ``(N, H, W, 1)`` float32 [0, 1]; ``(N,)`` int64 person index; ``names[label]`` is the
    person's folder name (``"s1"``, ...); ``files`` says where each image came from.
    """

    images: np.ndarray
    labels: np.ndarray
    names: list[str]
    files: np.ndarray
    source: str = ""

    def __iter__(self) -> Iterator[object]:
        return iter((self.images, self.labels, self.names))

    def __len__(self) -> int:
        return len(self.labels)


def load_identities(
    path: str | os.PathLike[str], *, size: tuple[int, int] | None = None
) -> IdentityData:
    """Load a folder-per-person data set (a folder or a zip, e.g. ORL's ``s1/1.pgm ... s40/10.pgm``).

    People are the folders holding images, numbered in natural order (s1, s2, ..., s10).
    ``size=(height, width)`` resizes every image; without it all images must share one size.
    """
    path = Path(path)
    with Archive(path) as archive:
        images_by_person: dict[str, list[str]] = {}
        for name in archive.names:
            if "/" not in name or not is_image_name(name):
                continue
            person_dir = name.rsplit("/", 1)[0]
            images_by_person.setdefault(person_dir, []).append(name)
        if not images_by_person:
            raise DataFormatError(
                f"{path}: no images in per-person folders; expected <person>/<image> files "
                f"such as s1/1.pgm ({', '.join(IMAGE_EXTENSIONS)})"
            )
        parents = {d.rsplit("/", 1)[0] if "/" in d else "" for d in images_by_person}
        if len(parents) > 1:
            raise DataFormatError(
                f"{path}: person folders sit at different depths ({sorted(parents)[:4]}); "
                "expected all person folders side by side"
            )
        for name in archive.names:  # anything else inside a person folder is a mistake
            folder = name.rsplit("/", 1)[0] if "/" in name else None
            if folder in images_by_person and not is_image_name(name):
                raise DataFormatError(
                    f"{archive.describe(name)}: not an image file; person folders must hold only "
                    f"images ({', '.join(IMAGE_EXTENSIONS)})"
                )
        person_dirs = sorted(images_by_person, key=natural_key)
        names, labels = [], []
        for label, person_dir in enumerate(person_dirs):
            for name in images_by_person[person_dir]:
                names.append(name)
                labels.append(label)
        target = f"{size[0]}x{size[1]} grayscale" if size else "grayscale"
        shape = (int(size[0]), int(size[1])) if size else None
        images = decode_members(archive, names, shape, target, resize_expected=True)
    return IdentityData(
        images=to_float(images),
        labels=np.array(labels, np.int64),
        names=[d.rsplit("/", 1)[-1] for d in person_dirs],
        files=np.array(names, dtype=str),
        source=str(path),
    )


def load_lfw(
    *,
    min_faces_per_person: int = 20,
    resize: float = 0.5,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> IdentityData:
    """Labeled Faces in the Wild through ``sklearn.datasets.fetch_lfw_people``.

    The first call downloads LFW (about 200 MB, needs internet) into scikit-learn's data
    folder (``~/scikit_learn_data``, or ``data_home``); later calls read that copy. Only
    people with at least ``min_faces_per_person`` photos are kept (20 gives 62 people and
    3,023 faces at ``resize=0.5``: 62x47 pixels). Offline, or with ``download=False`` and no
    copy, raises ``ConnectionError`` saying what to do.
    """
    from sklearn.datasets import fetch_lfw_people

    if min_faces_per_person < 1:
        raise ValueError(f"min_faces_per_person={min_faces_per_person!r}: expected 1 or more")
    if not 0 < resize <= 1:
        raise ValueError(f"resize={resize!r}: expected a scale in (0, 1]")
    try:
        lfw = fetch_lfw_people(
            min_faces_per_person=min_faces_per_person,
            resize=resize,
            data_home=None if data_home is None else os.fspath(data_home),
            download_if_missing=download,
        )
    except OSError as exc:  # urllib's URLError (offline) and "is missing" are OSErrors
        raise ConnectionError(
            f"LFW is not on this machine and could not be fetched ({type(exc).__name__}: "
            f"{exc}). sklearn.datasets.fetch_lfw_people downloads it once (~200 MB) into "
            f"{data_home or '~/scikit_learn_data'}/lfw_home: connect to the internet and run "
            "again, or pass data_home= where a copy lives. Offline, use DATA = 'sample' or the "
            "ORL faces (a folder s1..s40 of .pgm files, or its zip)."
        ) from exc
    images = np.asarray(lfw.images, dtype=np.float32)
    if images.size and images.max() > 1.5:  # older scikit-learn returns 0-255
        images = images / 255.0
    labels = np.asarray(lfw.target, dtype=np.int64)
    names = [str(n) for n in lfw.target_names]
    files = np.array([f"lfw/{names[label]}/{i}" for i, label in enumerate(labels)], dtype=str)
    return IdentityData(
        images=np.clip(images, 0.0, 1.0)[..., None],
        labels=labels,
        names=names,
        files=files,
        source="sklearn.datasets.fetch_lfw_people",
    )
