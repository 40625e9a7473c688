"""``face-course``: the course's commands behind one name (installed with the package).

    face-course COMMAND [OPTIONS]       # face-course COMMAND --help: its options and examples

Each command is also ``python -m MODULE`` (the table below) and does exactly the same: this
module only dispatches to that module's ``main(argv)``, with the usage line saying
``face-course COMMAND``. Flags are hyphenated (``--batch-size``); the old underscore spellings
still work, with a one-line note (:mod:`utils.command_line`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from utils.command_line import invoked_as, modernise

#: Packages that only the ``[lab]`` extra installs (JupyterLab and the notebook runners).
LAB_PACKAGES = {"papermill", "nbconvert", "nbformat", "nbclient", "jupyterlab"}


@dataclass(frozen=True)
class Command:
    """One ``face-course`` command: its module and a line of help."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    "predict-emotions": Command("utils.predict_emotions", "emotions of the faces in photos"),
    "predict-keypoints": Command("utils.predict_keypoints", "15 keypoints of the faces in photos"),
    "train-fer": Command("utils.train_fer", "train an emotion model (quick runs, shipped recipe)"),
    "train-keypoints": Command("utils.train_keypoints", "train the keypoint model"),
    "verify": Command("utils.verify_model", "accuracy/precision/recall/F1 of an emotion model"),
    "submission": Command("utils.make_submission", "write and check a Kaggle keypoints CSV"),
    "download": Command("utils.download", "fetch the real Kaggle data (needs an API token)"),
    "sample-data": Command("utils.make_sample_data", "generate the synthetic sample data"),
    "course": Command("utils.course", "execute the notebooks into build/ (needs [lab])"),
    "editions": Command("utils.editions", "student and instructor editions (needs [lab])"),
}

EXAMPLES = [
    "face-course sample-data",
    "face-course predict-emotions --images my_photos/",
    "face-course submission --data kaggle",
    "face-course train-fer --model cnn --data sample --save-prefix runs/cnn --epochs 2",
    "face-course verify --model-weights runs/cnn.keras --data sample --per-class",
]


def _main_of(name: str) -> Callable[[Sequence[str] | None], int]:
    """The ``main`` of a command's module, imported only when that command runs."""
    if name == "predict-emotions":
        from utils.predict_emotions import main as predict_emotions

        return predict_emotions
    if name == "predict-keypoints":
        from utils.predict_keypoints import main as predict_keypoints

        return predict_keypoints
    if name == "train-fer":
        from utils.train_fer import main as train_fer

        return train_fer
    if name == "train-keypoints":
        from utils.train_keypoints import main as train_keypoints

        return train_keypoints
    if name == "verify":
        from utils.verify_model import main as verify_model

        return verify_model
    if name == "submission":
        from utils.make_submission import main as make_submission

        return make_submission
    if name == "download":
        from utils.download import main as download

        return download
    if name == "sample-data":
        from utils.make_sample_data import main as make_sample_data

        return make_sample_data
    if name == "course":
        from utils.course import main as course

        return course
    if name == "editions":
        from utils.editions import main as editions

        return editions
    raise KeyError(name)


def _old_spellings(name: str, argv: list[str]) -> list[str]:
    """The trainer accepts ``--batch_size`` and ``--batch-size`` alike; note the old one here."""
    if name != "train-fer":
        return argv  # the other commands' parsers note old spellings themselves
    from utils.train_fer import build_parser

    return modernise(argv, build_parser())


def package_version() -> str:
    try:
        return version("face-dl-course")
    except PackageNotFoundError:  # a checkout on sys.path, not installed
        return "unknown (not installed)"


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: face-course COMMAND [OPTIONS]   (face-course COMMAND --help for its options)",
        "",
        "The Face DL Course's commands; each is also `python -m MODULE`.",
        "",
        "commands:",
        *(
            f"  {name:<{width}}  {command.summary}  [python -m {command.module}]"
            for name, command in COMMANDS.items()
        ),
        "",
        "options:",
        "  -h, --help  show this message and exit",
        "  --version   show the course package's version and exit",
        "",
        "examples:",
        *(f"  {example}" for example in EXAMPLES),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``face-course COMMAND ...``; return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stdout if args else sys.stderr)  # no command: a usage error
        return 0 if args else 2
    if args[0] == "--version":
        print(f"face-course {package_version()}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        close = [
            n for n in COMMANDS if n.replace("-", "") == name.replace("_", "").replace("-", "")
        ]
        hint = f" (did you mean {close[0]}?)" if close else ""
        print(
            f"face-course: unknown command {name!r}{hint}; expected one of: " + ", ".join(COMMANDS),
            file=sys.stderr,
        )
        return 2
    try:
        command_main = _main_of(name)
        rest = _old_spellings(name, rest)
        with invoked_as(f"face-course {name}"):
            code = command_main(rest)
    except ModuleNotFoundError as exc:
        if exc.name not in LAB_PACKAGES:
            raise
        print(
            f"face-course {name}: needs {exc.name}, which comes with the course's [lab] extra: "
            "pip install 'face-dl-course[lab]'",
            file=sys.stderr,
        )
        return 2
    except SystemExit as exc:  # argparse's --help (0) and usage errors (2)
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
