"""Reading an executed notebook's outputs: stderr noise and the lesson's claim lines."""

from __future__ import annotations

import re

import nbformat

from utils.claims import NOT_SEEN, SEEN

# What a learner may see on stderr: progress bars (tqdm draws on stderr) and nothing else.
STDERR_ALLOWED = [
    re.compile(r"^\s*$"),
    re.compile(r"^.*\d+%\|.*\|.*$"),  # a tqdm bar: "train: 40%|####   | 2/5 [...]"
]


def stderr_noise(nb: nbformat.NotebookNode) -> list[str]:
    """The stderr lines of an executed notebook that are not on the allow-list, with their cell."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                for line in output.get("text", "").replace("\r", "\n").splitlines():
                    if not any(rule.match(line) for rule in STDERR_ALLOWED):
                        found.append(f"  cell {index}: {line[:200]}")
    return found


def claim_lines(nb: nbformat.NotebookNode) -> list[str]:
    """The ✓ / ✗ claim lines an executed notebook printed."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text = output.get("text", "")
                lines += [ln for ln in text.splitlines() if ln.startswith((SEEN, NOT_SEEN))]
    return lines
