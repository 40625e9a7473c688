"""Run the whole course: generate the sample data, execute every notebook, write ``build/``.

``python -m utils.course`` (what ``make course`` calls) executes each ``notebooks/NN_*.ipynb``
with papermill in sample mode and writes, under ``build/``:

* ``notebooks/NN_name.ipynb`` and ``html/NN_name.html`` -- the executed copies;
* ``summary.csv`` and ``summary.md`` -- notebook, status, wall time, headline metric;
* ``editions/student`` and ``editions/instructor`` -- the notebooks with the exercise
  solutions stubbed out / kept (:mod:`utils.editions`).

A notebook reports its headline metric with :func:`headline`; the runner reads it back from
the executed notebook's outputs, so it works the same under papermill, nbclient or JupyterLab.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from utils.command_line import CommandParser
from utils.config import project_root
from utils.editions import make_editions, notebook_paths
from utils.io import atomic_write_text

#: Custom MIME type that carries a notebook's headline metric in its outputs.
HEADLINE_MIME = "application/x.face-dl-headline+json"


def headline(name: str, value: float, *, unit: str = "") -> None:
    """Show a notebook's headline metric and tag it so the course runner can collect it.

    >>> headline("validation RMSE", 3.21, unit="px")  # doctest: +SKIP
    """
    from IPython.display import display

    payload = {"name": name, "value": float(value), "unit": unit}
    text = f"Headline: {name} = {float(value):.4g}{(' ' + unit) if unit else ''}"
    display({HEADLINE_MIME: payload, "text/plain": text}, raw=True)


def read_headline(nb: Any) -> dict[str, Any] | None:
    """The last headline metric found in an executed notebook (a ``nbformat`` node), or None."""
    found = None
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            if HEADLINE_MIME in data:
                found = data[HEADLINE_MIME]
    return found


@dataclass
class NotebookResult:
    notebook: str
    status: str
    seconds: float
    metric: str
    value: float | None
    error: str = ""


def run_notebook(
    path: Path,
    out_dir: Path,
    parameters: dict[str, Any] | None = None,
    *,
    progress_bar: bool = True,
    timeout: int = 900,
    html: bool = True,
) -> NotebookResult:
    """Execute one notebook with papermill; write the executed copy (and HTML) to ``out_dir``."""
    import nbformat
    import papermill as pm

    path = Path(path)
    out_dir = Path(out_dir)
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    executed = out_dir / "notebooks" / path.name
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        pm.execute_notebook(
            str(path),
            str(executed),
            parameters=parameters or {},
            cwd=str(path.parent),
            kernel_name="python3",
            progress_bar=progress_bar,
            execution_timeout=timeout,
            log_output=False,
            # The kernel's own start-up warning ("running over TCP without encryption": a local
            # kernel talking to papermill on this machine) is not for a learner's terminal.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    metric: dict[str, Any] | None = None
    if executed.exists():
        nb = nbformat.read(executed, as_version=4)
        metric = read_headline(nb)
        if html:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            atomic_write_text(out_dir / "html" / (path.stem + ".html"), body)
    name = ""
    value = None
    if metric:
        name = f"{metric['name']}" + (f" ({metric['unit']})" if metric.get("unit") else "")
        value = float(metric["value"])
    return NotebookResult(path.name, status, round(seconds, 1), name, value, error)


def write_summary(results: Sequence[NotebookResult], out_dir: Path) -> Path:
    """Write ``summary.csv`` and ``summary.md`` (a Markdown table) atomically; return the .md."""
    rows = [asdict(r) for r in results]
    fields = ["notebook", "status", "seconds", "metric", "value", "error"]
    buf = StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out_dir / "summary.csv", buf.getvalue())
    lines = [
        "| notebook | status | wall time (s) | headline metric | value |",
        "|---|---|---:|---|---:|",
    ]
    for r in results:
        value = "" if r.value is None else f"{r.value:.4g}"
        lines.append(f"| {r.notebook} | {r.status} | {r.seconds:.1f} | {r.metric} | {value} |")
    total = sum(r.seconds for r in results)
    lines.append(f"| **total** | | {total:.1f} | | |")
    md = out_dir / "summary.md"
    atomic_write_text(md, "\n".join(lines) + "\n")
    return md


def run_course(
    notebooks: Iterable[Path] | None = None,
    out_dir: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> list[NotebookResult]:
    """Generate the sample data, then execute ``notebooks`` (default: all) into ``out_dir``."""
    from utils.config import ensure_sample_data

    out_dir = Path(out_dir or project_root() / "build")
    ensure_sample_data()
    results = []
    for path in notebooks if notebooks is not None else notebook_paths():
        print(f"\n=== {Path(path).name}", flush=True)
        result = run_notebook(Path(path), out_dir, parameters)
        mark = "ok" if result.status == "ok" else "FAILED"
        print(f"    {mark} in {result.seconds:.1f} s  {result.metric} {result.value or ''}")
        if result.error:
            print("    " + result.error.splitlines()[0][:300])
        results.append(result)
    md = write_summary(results, out_dir)
    print("\n" + md.read_text(encoding="utf-8"))
    # The student edition (solutions stubbed) and the instructor edition of every notebook.
    editions = make_editions(out_dir / "editions")
    print("editions: " + ", ".join(str(folder) for folder in editions.values()))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(
        "python -m utils.course",
        (__doc__ or "").splitlines()[0],
        examples=[
            "",
            "notebooks/02_convnets_keypoints.ipynb -p EPOCHS=30 -p DATA=kaggle",
            "notebooks/10_real_world_inference.ipynb --out build/one",
        ],
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: build/)")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="papermill parameter, e.g. -p EPOCHS=2 -p DATA=kaggle (VALUE parsed as JSON if it can be)",
    )
    args = parser.parse_args(argv)
    params: dict[str, Any] = {}
    for item in args.param:
        if "=" not in item:
            parser.error(f"--param {item!r}: expected NAME=VALUE")
        key, raw = item.split("=", 1)
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    results = run_course(args.notebooks or None, args.out, params)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
