"""Write a Kaggle Facial Keypoints submission from a keypoint model, and check it.

    python -m utils.make_submission --data kaggle [--model my.keras] [--out DIR] [--tta]
    python -m utils.make_submission --data kaggle --check submission.csv

Reads the competition's ``test.csv`` (1,783 faces) and ``IdLookupTable.csv`` (the 27,124
(image, keypoint) pairs Kaggle scores), predicts the keypoints of every test face -- with the
course's shipped keypoint model unless ``--model`` names a ``.keras`` file -- and writes
``DIR/submission-<date>-<time>.csv`` (default ``DIR``: a ``...-submissions`` folder beside
the data, never inside it), checked as Kaggle would (:func:`utils.submission.validate_submission`).
It then prints the ``kaggle competitions submit`` line to upload it. ``--check FILE`` only
checks a file you wrote some other way. ``face-course submission`` is the same command.

``--data`` is ``kaggle`` (what ``python -m data_scripts.download keypoints`` fetched), a folder
or zip holding ``test.csv`` and ``IdLookupTable.csv``, ``test.csv`` itself (the lookup table
beside it, or ``--lookup-table``), or ``sample`` -- the synthetic sample data, in Kaggle's
format: a dry run whose file Kaggle would not score. From Python:
``utils.submission.write_submission(predictions, lookup_table, out_dir)``.
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.archives import Archive
from utils.command_line import CommandParser
from utils.schema import KEYPOINT_COLUMNS, KEYPOINT_SIZE, DataFormatError

COMPETITION = "facial-keypoints-detection"
LOOKUP_TABLE = "IdLookupTable.csv"


def find_lookup_table(data: str | os.PathLike[str]) -> Path | pd.DataFrame:
    """``IdLookupTable.csv`` for the keypoint data at ``data``: beside ``test.csv``, or in the
    folder or zip (read into a DataFrame from a zip)."""
    path = Path(data)
    if path.is_file() and not zipfile.is_zipfile(path):
        beside = path.parent / LOOKUP_TABLE
        if not beside.is_file():
            raise FileNotFoundError(
                f"{beside}: no such file. It comes with the competition data, beside test.csv; "
                "or give its path with --lookup-table"
            )
        return beside
    with Archive(path) as archive:
        names = [n for n in archive.names if n.split("/")[-1].lower() == LOOKUP_TABLE.lower()]
        if not names:
            raise FileNotFoundError(
                f"{path}: holds no {LOOKUP_TABLE} (found {archive.names[:6]}); it comes with "
                "the competition data (`python -m data_scripts.download keypoints`), or give "
                "its path with --lookup-table"
            )
        name = min(names, key=lambda n: (n.count("/"), n))
        if archive.path.is_dir():
            return archive.path / name
        with archive.open(name) as f:
            return pd.read_csv(f)


def default_out(data: str | os.PathLike[str]) -> Path:
    """``<data folder>-submissions/`` beside the data: never inside a data set's own folder."""
    path = Path(data)
    if path.is_dir():
        base = path
    elif zipfile.is_zipfile(path):
        base = path.with_suffix("")
    else:  # test.csv: beside its folder
        base = path.parent
    return base.parent / f"{base.name}-submissions"


def load_model(path: str | os.PathLike[str] | None) -> Any:
    """The shipped keypoint model (``None``) or a ``.keras`` file taking 96x96 gray faces."""
    from utils.inference import load_keypoint_model

    if path is None:
        return load_keypoint_model()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--model {path}: no such file")
    if path.suffix != ".keras":
        raise ValueError(f"--model {path}: expected a .keras model file (model.save('x.keras'))")
    try:
        model = load_keypoint_model(path)
    except Exception as exc:  # zip, JSON or deserialization errors: say which file
        raise ValueError(f"--model {path}: could not load it as a Keras model ({exc})") from exc
    shape = tuple(model.input_shape[1:])
    if shape != (KEYPOINT_SIZE, KEYPOINT_SIZE, 1) or model.output_shape[-1] != len(
        KEYPOINT_COLUMNS
    ):
        raise ValueError(
            f"--model {path}: takes {shape} and outputs {model.output_shape[1:]}; expected "
            f"({KEYPOINT_SIZE}, {KEYPOINT_SIZE}, 1) faces in [0, 1] and 30 keypoint coordinates"
        )
    return model


def predict_test_set(
    data: str | os.PathLike[str], model: Any = None, *, tta: bool = False, batch_size: int = 256
) -> pd.DataFrame:
    """Keypoints of every face of ``test.csv`` at ``data``: a DataFrame indexed by ImageId with
    the 30 :data:`KEYPOINT_COLUMNS` (pixels). ``model`` None is the shipped model."""
    from utils.data_keypoints import load_keypoints
    from utils.inference import predict_keypoints

    test = load_keypoints(data, split="test")
    faces = np.clip(np.rint(test.images[..., 0] * 255.0), 0, 255).astype(np.uint8)
    points = predict_keypoints(faces, tta=tta, model=model, batch_size=batch_size)
    return pd.DataFrame(points, index=pd.Index(test.ids, name="ImageId"), columns=KEYPOINT_COLUMNS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(
        "python -m utils.make_submission",
        (__doc__ or "").splitlines()[0],
        examples=[
            "--data kaggle                  # the shipped model on the real test set",
            "--data kaggle --model runs/keypoints/best.keras --tta --out submissions/",
            "--data sample                  # a dry run on the sample data",
            "--data kaggle --check submissions/submission-20250101-120000.csv",
        ],
    )
    parser.add_argument(
        "--data",
        required=True,
        help="'kaggle', 'sample', a folder or zip with test.csv + IdLookupTable.csv, or test.csv",
    )
    parser.add_argument("--model", type=Path, default=None, help=".keras keypoint model")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: DATA-submissions/)"
    )
    parser.add_argument("--lookup-table", type=Path, default=None, help="IdLookupTable.csv")
    parser.add_argument("--tta", action="store_true", help="average with the mirrored faces")
    parser.add_argument("--batch-size", type=int, default=256, help="faces per forward pass")
    parser.add_argument("--check", type=Path, default=None, help="only check this submission")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size}: expected a positive number")
    from utils.config import resolve_data
    from utils.submission import read_lookup_table, validate_submission, write_submission

    try:
        data = resolve_data(args.data, "keypoints")
        lookup = args.lookup_table if args.lookup_table is not None else find_lookup_table(data)
        table = read_lookup_table(lookup)
        if args.check is not None:
            validate_submission(args.check, table)
            print(f"{args.check}: a valid submission ({len(table)} rows, RowId,Location)")
            return 0
        predictions = predict_test_set(
            data, load_model(args.model), tta=args.tta, batch_size=args.batch_size
        )
        out = args.out if args.out is not None else default_out(data)
        try:
            path = write_submission(predictions, table, out)
        except PermissionError as exc:
            raise ValueError(
                f"{out}: cannot write there ({exc}); choose a folder with --out"
            ) from exc
    except (ValueError, FileNotFoundError, DataFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model = "the shipped keypoint model" if args.model is None else str(args.model)
    print(
        f"wrote {path}: {len(table)} rows for {len(predictions)} test faces, {model}"
        f"{' with flip TTA' if args.tta else ''}; checked against {LOOKUP_TABLE}"
    )
    if args.data == "sample":
        print("(sample data: a dry run -- Kaggle scores only predictions on its own test.csv)")
    else:
        print(
            "upload it (a Kaggle API token and the competition's rules accepted):\n"
            f'  kaggle competitions submit -c {COMPETITION} -f {path} -m "{model}"'
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
