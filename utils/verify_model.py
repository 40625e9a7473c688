"""Check a trained emotion model: accuracy, precision, recall and F1 on train, validation, test.

::

    python -m utils.verify_model --model-weights runs/cnn.keras --data sample

prints one row per split (macro averages: every emotion counts the same) and, with
``--per-class``, the per-emotion report of the test split. Use the same ``--val-fraction``
and ``--seed`` as ``python -m utils.train_fer`` so that, on data without PrivateTest, the
validation rows are the ones training held out. ``face-course verify`` is the same command;
the old spellings (``--model_weights``, ``--per_class``...) still work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from utils.command_line import CommandParser

if TYPE_CHECKING:  # Keras loads only when a model does (``--help`` stays quick)
    import keras


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` emotion model in safe mode, checking it takes 48x48 gray faces."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras model file (model.save('name.keras'))")
    import keras

    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # zip, JSON or deserialization errors: say which file
        raise ValueError(f"{path}: could not load it as a Keras model ({exc})") from exc
    if tuple(model.input_shape[1:]) != (48, 48, 1) or model.output_shape[-1] != 7:
        raise ValueError(
            f"{path}: model takes {model.input_shape[1:]} and outputs {model.output_shape[1:]}; "
            "expected (48, 48, 1) faces in [0, 1] and 7 emotion probabilities"
        )
    return model


def verify_model(
    model: keras.Model,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    batch_size: int = 256,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The seeds' ``verify_model`` table: accuracy and macro precision/recall/F1 per split.

    Returns the table and the predicted classes of each split (for per-class reports).
    """
    from utils.metrics import classification_table

    predictions = {
        name: np.asarray(model.predict(x, batch_size=batch_size, verbose=0)).argmax(axis=1)
        for name, (x, _) in splits.items()
    }
    table = classification_table({name: (splits[name][1], p) for name, p in predictions.items()})
    return table, predictions


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the option list, examples kept as written."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(
        "python -m utils.verify_model",
        (__doc__ or "").splitlines()[0],
        examples=[
            "--model-weights runs/cnn.keras --data sample",
            "--model-weights runs/emotion/best.keras --data kaggle --per-class --csv table.csv",
        ],
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--model-weights", required=True, help="the .keras model to check")
    parser.add_argument(
        "--data", required=True, help="'sample', 'kaggle', or fer2013.csv / msambare folder / zip"
    )
    parser.add_argument("--limit", type=int, default=None, help="at most N images per split")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--per-class", action="store_true", help="also the test split per emotion")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit {args.limit}: expected a positive number")
    if args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size}: expected a positive number")
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction {args.val_fraction}: expected a number between 0 and 1")
    try:
        from utils.config import resolve_data
        from utils.io import atomic_write_text
        from utils.metrics import classification_report_df
        from utils.splits import load_fer_splits

        model = load_model(args.model_weights)
        data = load_fer_splits(
            resolve_data(args.data, "fer2013"),
            val_fraction=args.val_fraction,
            seed=args.seed,
            limit=args.limit,
        )
        table, predictions = verify_model(model, dict(data.items()), batch_size=args.batch_size)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model_weights} on {args.data} ({data.description})")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.per_class:
        report = classification_report_df(data.test[1], predictions["test"], data.names)
        print("\ntest split, per emotion:")
        print(report.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.csv:
        atomic_write_text(Path(args.csv), table.to_csv())
    return 0


if __name__ == "__main__":
    sys.exit(main())
