"""The loaders on the real data sets in ../shared/data (skipped when absent).

These read tens of megabytes; they are marked ``real_data`` and ``slow``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.data_fer2013 import load_fer2013
from utils.data_identities import load_identities
from utils.data_keypoints import load_keypoints
from utils.schema import EMOTIONS, KEYPOINT_COLUMNS
from utils.splits import split_by_subject

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not in the shared data")
    return path


def test_keypoint_columns_match_kaggles_header(shared_data: Path) -> None:
    labels = _need(shared_data / "keypoints" / "kaggle_training_labels_no_images.csv")
    assert list(pd.read_csv(labels, nrows=0).columns) == KEYPOINT_COLUMNS


def test_real_fer2013_zip(shared_data: Path) -> None:
    archive = _need(shared_data / "fer2013" / "fer2013_train_publictest.zip")
    start = time.perf_counter()
    train = load_fer2013(archive, "Training")
    seconds = time.perf_counter() - start
    images, labels, names = train
    assert images.shape == (28707, 48, 48, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and names == EMOTIONS
    assert np.unique(labels).tolist() == list(range(7))
    assert set(train.usage) == {"Training"}
    # The known class imbalance of FER-2013: "happy" is the largest class, "disgust" the smallest.
    counts = np.bincount(labels, minlength=7)
    assert counts.argmax() == EMOTIONS.index("happy") and counts.argmin() == EMOTIONS.index(
        "disgust"
    )
    assert seconds < 120, f"reading 28,707 JPEGs took {seconds:.0f} s; expected seconds"
    val = load_fer2013(archive, "val")
    assert len(val) == 3589 and all("PublicTest_" in f for f in val.files)


def test_real_faces_keypoint_zip_with_subjects(shared_data: Path) -> None:
    archive = _need(shared_data / "keypoints" / "real_faces_kaggle_format.zip")
    kp = load_keypoints(archive)
    images, keypoints, ids = kp
    assert images.shape == (3423, 96, 96, 1) and keypoints.shape == (3423, 30)
    assert not np.isnan(keypoints).any()  # every keypoint labelled in this set
    np.testing.assert_array_equal(ids, np.arange(1, 3424))
    assert kp.subjects is not None and len(set(kp.subjects)) == 282
    # left_* is the subject's left: it appears on the image's right (larger x).
    left_x = keypoints[:, KEYPOINT_COLUMNS.index("left_eye_center_x")]
    right_x = keypoints[:, KEYPOINT_COLUMNS.index("right_eye_center_x")]
    assert (left_x > right_x).mean() > 0.95
    train, val, test = split_by_subject(kp.subjects)
    assert not set(kp.subjects[train]) & set(kp.subjects[test])


def test_real_orl_identities(shared_data: Path) -> None:
    ids = load_identities(_need(shared_data / "att_faces_orl.zip"))
    images, labels, names = ids
    assert images.shape == (400, 112, 92, 1)
    assert len(names) == 40 and names[0] == "s1" and names[-1] == "s40"
    assert np.bincount(labels).tolist() == [10] * 40
