"""A notebook's Markdown never quotes what a run measured: the code prints it.

Markdown may hold ideas, facts about the data sets and published results with their source.
Measurements of a run (an accuracy, a ratio, images per second, an error in pixels) change
with the data, the parameters and the machine, so prose that quotes one is soon contradicted
by the numbers printed right below it. This test flags those shapes of number in Markdown:

- a ratio (``2.8x``, ``x2.25``), a speed (``1,850 img/s``), a pixel error (``2.78 px``),
- a percentage with decimals (``51.6%``) and a metric-like fraction (``0.43``, ``0.368``).

Not flagged: whole percentages (data facts such as "60% of the people"), sizes (``96 x 96``),
anything in inline code (parameters: ``momentum=0.99``), and a paragraph that cites its
source: a Markdown link or the word "Source:" (published results, cited measurements).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from utils.editions import notebook_paths

RUN_NUMBER = re.compile(
    r"""(?x)
    (?<![\w.])(
        \d+(?:\.\d+)?[x\u00d7](?!\w)            # 2.8x, 4x (not 96 x 96)
      | [x\u00d7]\d+(?:\.\d+)?\b                 # x2.25
      | \d[\d,]*(?:\.\d+)?\s?(?:images|img|faces)/s
      | \d+\.\d+\s?px\b
      | \d+\.\d+\s?%
      | \b0\.\d{2,}\b
    )"""
)
CITED = re.compile(r"\]\((?:https?://|\.\./|[\w/.-]+\.md)|\bSource:", re.IGNORECASE)
NOTEBOOKS = notebook_paths() + sorted(Path(notebook_paths()[0].parent, "exercises").glob("*.ipynb"))


def run_numbers(markdown: str) -> list[str]:
    """The run-dependent numbers quoted in ``markdown`` (outside code and cited paragraphs)."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", "``", text)
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        if CITED.search(paragraph):
            continue
        found += [m.group(1) for m in RUN_NUMBER.finditer(paragraph)]
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tf.data was 2.8x faster (1,850 img/s)", ["2.8x", "1,850 img/s"]),
        ("BN reached 51.6% against 0.368", ["51.6%", "0.368"]),
        ("an error of 2.78 px, x2.25 the speed", ["2.78 px", "x2.25"]),
        ("60% of the people train; 96 x 96 pixels; 48x48 faces", []),
        ("set `momentum=0.99` and `0.25`", []),
        ("The winner scored 71.2% ([Goodfellow et al.](https://arxiv.org/abs/1307.0414))", []),
        ("Source: the H100 measurement, 69,000 images/s", []),
    ],
)
def test_run_numbers_finds_measurements_and_spares_facts(text: str, expected: list[str]) -> None:
    assert run_numbers(text) == expected


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_markdown_quotes_no_run_measurement(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    quoted = [
        f"cell {i}: {number}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for number in run_numbers(cell.source)
    ]
    assert not quoted, (
        f"{path.name}: Markdown quotes numbers a run measures; print them from code "
        f"(utils.claims.Claims.check) or cite their source: {quoted}"
    )
