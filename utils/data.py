"""The course's data loaders in one place: ``from utils.data import load_keypoints``.

This module holds no code of its own; it gathers the public names of the modules that do the
work, so the names you know keep working whichever module holds them:

==========================  ==================================================================
module                      what it reads / holds
==========================  ==================================================================
``utils.data_keypoints``    Kaggle Facial Keypoints: :func:`load_keypoints`, :func:`keypoints_to_npz`
``utils.data_fer2013``      FER-2013: :func:`load_fer2013`, :func:`fer2013_csv_to_folders`,
                            :func:`folders_to_fer2013_csv`
``utils.data_action_units`` action units: :func:`load_action_units`
``utils.au_formats``        JAFFE, CK+ and EmotioNet-style AU files
``utils.data_identities``   a folder per person: :func:`load_identities`, and :func:`load_lfw`
``utils.splits``            :func:`split_by_subject` (no person in two splits)
``utils.cache``             ``.npz`` caches: :func:`serialize`, :func:`load_cached`
``utils.archives``          folders and zips read alike, :func:`extract_zip` (safely)
``utils.schema``            the vocabulary (:data:`EMOTIONS`, :data:`KEYPOINT_COLUMNS`, ...) and
                            :class:`DataFormatError`
``utils.io``                atomic writes (:func:`atomic_write_text`, :func:`atomic_write_bytes`)
==========================  ==================================================================

Every loader returns images as float32 in [0, 1] with a channel axis, ``(N, H, W, 1)``, and
labels in the course's conventions (see ``CONTRIBUTING.md``):

* keypoints in pixels, in Kaggle's 30-column order (:data:`KEYPOINT_COLUMNS`), NaN where missing;
* emotions as int64 in FER order (:data:`EMOTIONS`);
* one string subject id per row, so :func:`split_by_subject` can keep each person in one split.

The public functions, in the order a notebook meets them::

    images, keypoints, ids = load_keypoints(path, split="training")   # Kaggle keypoints
    images, labels, names = load_fer2013(path, split="Training")       # FER-2013
    au = load_action_units(path)                                       # FACS action units
    images, labels, names = load_identities(path)                      # folder per person
    train_idx, val_idx, test_idx = split_by_subject(subjects)          # no person in two splits

Bad input raises :class:`DataFormatError` (a ``ValueError``) naming the file, the row (1-based,
as a spreadsheet shows it) and what was expected. ``python -m data_scripts.convert`` wraps the
converters.
"""

from __future__ import annotations

from utils.archives import extract_zip
from utils.cache import load_cached, serialize
from utils.data_action_units import ActionUnitData, load_action_units
from utils.data_fer2013 import FerData, fer2013_csv_to_folders, folders_to_fer2013_csv, load_fer2013
from utils.data_identities import IdentityData, load_identities, load_lfw
from utils.data_keypoints import KeypointData, keypoints_to_npz, load_keypoints
from utils.io import atomic_write_bytes, atomic_write_text
from utils.schema import (
    AU_MAX,
    AU_SIZE,
    EMOTIONS,
    FER_SIZE,
    FER_USAGES,
    KEYPOINT_COLUMNS,
    KEYPOINT_NAMES,
    KEYPOINT_SIZE,
    DataFormatError,
)
from utils.splits import split_by_subject

__all__ = [
    "AU_MAX",
    "AU_SIZE",
    "EMOTIONS",
    "FER_SIZE",
    "FER_USAGES",
    "KEYPOINT_COLUMNS",
    "KEYPOINT_NAMES",
    "KEYPOINT_SIZE",
    "ActionUnitData",
    "DataFormatError",
    "FerData",
    "IdentityData",
    "KeypointData",
    "atomic_write_bytes",
    "atomic_write_text",
    "extract_zip",
    "fer2013_csv_to_folders",
    "folders_to_fer2013_csv",
    "keypoints_to_npz",
    "load_action_units",
    "load_cached",
    "load_fer2013",
    "load_identities",
    "load_keypoints",
    "load_lfw",
    "serialize",
    "split_by_subject",
]
