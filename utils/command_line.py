"""The conventions every course command follows, in one argparse subclass.

* Flags are hyphenated (``--batch-size``, ``--model-weights``, ``--per-class``). The old
  underscore spellings (``--batch_size``) still work: :class:`CommandParser` reads them as the
  hyphenated flag and prints a one-line note saying so. A command that renamed a flag (say
  ``--dest`` to ``--out``) lists the pair in ``renamed`` and gets the same treatment.
* ``--help`` ends with examples (``examples=[...]``, written without the program name).
* Output goes to ``--out``, by default a new folder beside the input, never into it.
* Run through ``face-course NAME`` (:mod:`utils.cli`) the usage line says so: :func:`invoked_as`
  sets the program name every parser made meanwhile uses.

>>> parser = CommandParser("python -m utils.example", "Do a thing.", examples=["--batch-size 32"])
>>> _ = parser.add_argument("--batch-size", type=int, default=64)
>>> parser.parse_args(["--batch_size", "8"]).batch_size  # prints a note on stderr
8
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_prog_override: list[str] = []


@contextlib.contextmanager
def invoked_as(prog: str) -> Iterator[None]:
    """Within this block, every :class:`CommandParser` calls itself ``prog`` (for ``face-course``)."""
    _prog_override.append(prog)
    try:
        yield
    finally:
        _prog_override.pop()


def modernise(
    argv: Sequence[str],
    parser: argparse.ArgumentParser,
    renamed: Mapping[str, str] | None = None,
) -> list[str]:
    """``argv`` with old flag spellings replaced by the current ones, noting each on stderr.

    An old spelling is ``--some_flag`` where ``parser`` knows ``--some-flag``, or a key of
    ``renamed`` (old -> new). ``--flag=value`` is handled; nothing after ``--`` is touched.
    """
    known = set(parser._option_string_actions)  # argparse's own table of option strings
    out: list[str] = []
    noted: set[str] = set()
    rest = False
    for token in argv:
        if rest or not token.startswith("--") or token == "--":
            rest = rest or token == "--"
            out.append(token)
            continue
        flag, eq, value = token.partition("=")
        new = (renamed or {}).get(flag)
        if new is None and "_" in flag:
            candidate = flag.replace("_", "-")
            if candidate in known and candidate != flag:
                new = candidate
        if new is None or new == flag:
            out.append(token)
            continue
        if flag not in noted:
            print(f"note: {flag} is the old spelling of {new}; use {new}", file=sys.stderr)
            noted.add(flag)
        out.append(new + eq + value)
    return out


class CommandParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the course's conventions (see the module's docstring).

    Args:
        prog: how the command is run, e.g. ``"python -m utils.predict_emotions"``.
        description: one line saying what it does.
        examples: argument strings shown under "examples:" in ``--help``, after the program name.
        renamed: old flag -> new flag, for flags renamed beyond ``_`` -> ``-``.
    """

    def __init__(
        self,
        prog: str,
        description: str,
        *,
        examples: Sequence[str] = (),
        renamed: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        prog = _prog_override[-1] if _prog_override else prog
        epilog = None
        if examples:
            epilog = "examples:\n" + "\n".join(
                f"  {prog} {example}".rstrip() for example in examples
            )
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(prog=prog, description=description, epilog=epilog, **kwargs)
        self.renamed = dict(renamed or {})

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(modernise(argv, self, self.renamed), namespace)
