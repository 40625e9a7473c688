"""Kaggle Facial Keypoints submissions: write one from predictions, and check one before uploading.

Kaggle does not want all 30 keypoints of every test image: ``IdLookupTable.csv`` lists the
27,124 (image, keypoint) pairs it scores, one ``RowId`` each. A submission is
``RowId,Location`` with one predicted pixel coordinate per ``RowId``.

>>> path = write_submission(predictions, "IdLookupTable.csv", "submissions/")  # doctest: +SKIP
>>> validate_submission(path, "IdLookupTable.csv")  # raises if Kaggle would reject it  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from utils.io import atomic_write_text
from utils.schema import KEYPOINT_COLUMNS, KEYPOINT_SIZE, DataFormatError
from utils.tables import format_cell

#: Predictions outside the image are clipped to this range (pixels).
LOCATION_RANGE = (0.0, float(KEYPOINT_SIZE))
HEADER = ["RowId", "Location"]


class SubmissionError(DataFormatError):
    """Predictions or a submission file Kaggle would reject; the message says why."""


def read_lookup_table(lookup_table: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Read and check ``IdLookupTable.csv`` (``RowId,ImageId,FeatureName[,Location]``)."""
    if isinstance(lookup_table, pd.DataFrame):
        frame, source = lookup_table, "lookup table"
    else:
        source = str(lookup_table)
        if not Path(lookup_table).is_file():
            raise FileNotFoundError(
                f"{source}: no such file. IdLookupTable.csv comes with the competition data "
                "(`python -m data_scripts.download keypoints`)"
            )
        try:
            frame = pd.read_csv(lookup_table)
        except pd.errors.EmptyDataError as e:
            raise SubmissionError(f"{source}: the file is empty; expected IdLookupTable.csv") from e
    missing = [c for c in ("RowId", "ImageId", "FeatureName") if c not in frame.columns]
    if missing:
        raise SubmissionError(
            f"{source}: missing column(s) {missing}; expected RowId,ImageId,FeatureName,Location"
        )
    if len(frame) == 0:
        raise SubmissionError(f"{source}: has a header but no rows")
    for column in ("RowId", "ImageId"):
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = ~(numeric.notna() & (numeric == numeric.round()) & (numeric >= 1))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise SubmissionError(
                f"{source}, row {i + 2}: {column} {format_cell(frame[column].iloc[i])}; expected an integer >= 1"
            )
    unknown = ~frame["FeatureName"].isin(KEYPOINT_COLUMNS)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise SubmissionError(
            f"{source}, row {i + 2}: FeatureName {format_cell(frame['FeatureName'].iloc[i])} is not one of "
            "Kaggle's 30 keypoint columns (utils.data.KEYPOINT_COLUMNS)"
        )
    return frame.assign(
        RowId=frame["RowId"].astype(np.int64), ImageId=frame["ImageId"].astype(np.int64)
    )


def _prediction_matrix(predictions: np.ndarray | pd.DataFrame, n_images: int) -> np.ndarray:
    """Predictions as a ``(n_images, 30)`` array whose row ``i`` is ImageId ``i + 1``."""
    if isinstance(predictions, pd.DataFrame):
        missing_cols = [c for c in KEYPOINT_COLUMNS if c not in predictions.columns]
        if missing_cols:
            raise SubmissionError(
                f"predictions: DataFrame lacks column(s) {missing_cols[:5]}; expected the 30 "
                "KEYPOINT_COLUMNS, indexed by ImageId"
            )
        wanted = np.arange(1, n_images + 1)
        missing_ids = np.setdiff1d(wanted, predictions.index.to_numpy())
        if missing_ids.size:
            raise SubmissionError(
                f"predictions: no row for ImageId {missing_ids[:5].tolist()} "
                f"({missing_ids.size} missing); the DataFrame must be indexed by ImageId 1..{n_images}"
            )
        if not predictions.index.is_unique:
            raise SubmissionError("predictions: ImageId index has duplicates")
        matrix = predictions.loc[wanted, KEYPOINT_COLUMNS].to_numpy(dtype=np.float64)
    else:
        matrix = np.asarray(predictions, dtype=np.float64)
        if matrix.shape != (n_images, len(KEYPOINT_COLUMNS)):
            raise SubmissionError(
                f"predictions: shape {matrix.shape}; expected ({n_images}, "
                f"{len(KEYPOINT_COLUMNS)}) -- one row per test image (row i = ImageId i+1), "
                "30 columns in KEYPOINT_COLUMNS order, in pixels"
            )
    bad = ~np.isfinite(matrix)
    if bad.any():
        image, col = (int(v) for v in np.argwhere(bad)[0])
        raise SubmissionError(
            f"predictions: {int(bad.sum())} value(s) are NaN or infinite, first at ImageId "
            f"{image + 1}, {KEYPOINT_COLUMNS[col]}; Kaggle needs a number for every keypoint"
        )
    return matrix


def write_submission(
    predictions: np.ndarray | pd.DataFrame,
    lookup_table: str | os.PathLike[str] | pd.DataFrame,
    out_dir: str | os.PathLike[str],
) -> Path:
    """Write a Kaggle submission ``out_dir/submission-<YYYYmmdd-HHMMSS>.csv``; return its path.

    ``predictions`` is ``(n_test_images, 30)`` in pixels and :data:`KEYPOINT_COLUMNS` order
    (row ``i`` = ``ImageId`` ``i + 1``, as ``load_keypoints(..., split="test")`` returns them),
    or a DataFrame indexed by ``ImageId`` with those columns. Values are clipped to the image,
    [0, 96]; NaN is refused. The file is written atomically and validated before returning.
    """
    table = read_lookup_table(lookup_table)
    n_images = int(table["ImageId"].max())
    matrix = np.clip(_prediction_matrix(predictions, n_images), *LOCATION_RANGE)
    column_index = {name: j for j, name in enumerate(KEYPOINT_COLUMNS)}
    cols = table["FeatureName"].map(column_index).to_numpy()
    locations = matrix[table["ImageId"].to_numpy() - 1, cols]
    lines = ["RowId,Location"] + [
        f"{row_id},{loc:.4f}" for row_id, loc in zip(table["RowId"], locations, strict=True)
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"submission-{stamp}.csv"
    n = 2
    while path.exists():  # two submissions within one second: never overwrite the first
        path = out_dir / f"submission-{stamp}-{n}.csv"
        n += 1
    atomic_write_text(path, "\n".join(lines) + "\n")
    validate_submission(path, table)
    return path


def validate_submission(
    path: str | os.PathLike[str], lookup_table: str | os.PathLike[str] | pd.DataFrame
) -> None:
    """Check a submission file as Kaggle would; raise :class:`SubmissionError` saying what is wrong.

    Checks: the header is ``RowId,Location``; one row per lookup-table row; the RowIds are
    exactly the lookup table's; every Location is a number within [0, 96].
    """
    source = str(path)
    table = read_lookup_table(lookup_table)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{source}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as e:
        raise SubmissionError(
            f"{source}: the file is empty; expected a RowId,Location header"
        ) from e
    except pd.errors.ParserError as e:
        raise SubmissionError(f"{source}: not a readable CSV ({e})") from e
    if list(frame.columns) != HEADER:
        raise SubmissionError(f"{source}: header {list(frame.columns)}; expected {HEADER}")
    if len(frame) != len(table):
        raise SubmissionError(
            f"{source}: {len(frame)} rows; expected {len(table)} (one per IdLookupTable row)"
        )
    row_ids = pd.to_numeric(frame["RowId"], errors="coerce")
    bad = ~(row_ids.notna() & (row_ids == row_ids.round()))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SubmissionError(
            f"{source}, row {i + 2}: RowId {format_cell(frame['RowId'].iloc[i])}; expected an integer"
        )
    ids = row_ids.to_numpy(np.int64)
    duplicated = pd.Series(ids).duplicated().to_numpy()
    if duplicated.any():
        i = int(np.flatnonzero(duplicated)[0])
        raise SubmissionError(f"{source}, row {i + 2}: RowId {ids[i]} appears twice")
    expected = table["RowId"].to_numpy()
    extra, missing = np.setdiff1d(ids, expected), np.setdiff1d(expected, ids)
    if extra.size or missing.size:
        raise SubmissionError(
            f"{source}: RowIds do not match the lookup table: missing {missing[:5].tolist()}"
            f"{'...' if missing.size > 5 else ''}, unexpected {extra[:5].tolist()}"
            f"{'...' if extra.size > 5 else ''}"
        )
    locations = pd.to_numeric(frame["Location"], errors="coerce")
    not_number = locations.isna() | ~np.isfinite(locations)
    if not_number.any():
        i = int(np.flatnonzero(not_number.to_numpy())[0])
        raise SubmissionError(
            f"{source}, row {i + 2}: Location {format_cell(frame['Location'].iloc[i])} is not a number"
        )
    low, high = LOCATION_RANGE
    outside = ~locations.between(low, high)
    if outside.any():
        i = int(np.flatnonzero(outside.to_numpy())[0])
        raise SubmissionError(
            f"{source}, row {i + 2}: Location {locations.iloc[i]:g} is outside the image "
            f"[{low:g}, {high:g}] pixels"
        )
