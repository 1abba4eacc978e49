"""How a notebook reads: visible code per cell, prose per visible line, code before the first figure.

    python tests/notebook_style.py                      # the table for every notebook (no outputs needed
                                                        # except for "before 1st figure")
    python tests/notebook_style.py --execute            # run them first (nbclient), then measure all

The targets (issue 13), counted over *visible* code, i.e. code cells not folded with the metadata
``"jupyter": {"source_hidden": true}`` that JupyterLab, Notebook 7 and VS Code honour:

- median visible lines per code cell <= 8, and no cell > 25;
- >= 6 words of markdown prose per visible code line;
- <= 40 visible code lines up to and including the cell that draws the first figure.

A line is a non-blank source line. A folded cell must open with a one-line ``#`` comment that says
what it draws or does (the reader sees only that line). A self-check whose code spells out the
answer (``exercise.check(..., why="...")``) must be folded: the student reads it before predicting. tests/test_notebook_style.py asserts the
static targets; the export check in tests/seed_sweep.py asserts the first-figure one on the
executed notebook.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TARGETS = {"median": 8, "max": 25, "words_per_line": 6.0, "before_figure": 40}


def is_folded(cell) -> bool:
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False))


def code_lines(cell) -> int:
    return sum(1 for line in cell.source.splitlines() if line.strip())


def visible_lines(cell) -> int:
    return 0 if cell.cell_type != "code" or is_folded(cell) else code_lines(cell)


def prose_words(cell) -> int:
    return sum(1 for w in cell.source.split() if any(ch.isalpha() for ch in w))


def draws_figure(cell) -> bool:
    return any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def measure(nb) -> dict:
    """The readability numbers for one notebook (``before_figure`` is None without outputs)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = [visible_lines(c) for c in code if not is_folded(c)]
    words = sum(prose_words(c) for c in nb.cells if c.cell_type == "markdown")
    before, seen = None, 0
    for c in code:
        seen += visible_lines(c)
        if draws_figure(c):
            before = seen
            break
    return {
        "code_cells": len(code), "folded": len(code) - len(shown),
        "median": statistics.median(shown) if shown else 0, "max": max(shown, default=0),
        "visible_lines": sum(shown), "words_per_line": words / max(1, sum(shown)),
        "before_figure": before,
    }


def shows_an_answer(cell) -> bool:
    """A visible cell whose ``exercise.check(...)`` spells out the answer or its explanation (a
    literal answer, or a ``why=`` string written in the call): the student reads it before predicting."""
    import ast

    if cell.cell_type != "code" or is_folded(cell) or "exercise.check" not in cell.source:
        return False
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check":
            answer = node.args[3] if len(node.args) > 3 else next(
                (k.value for k in node.keywords if k.arg == "answer"), None)
            why = next((k.value for k in node.keywords if k.arg == "why"), None)
            if isinstance(answer, ast.Constant) or isinstance(why, (ast.Constant, ast.JoinedStr, ast.IfExp)):
                return True
    return False


def problems(nb, m: dict | None = None) -> list[str]:
    """What misses a target (an empty list when every target holds)."""
    m = m or measure(nb)
    out = []
    if m["median"] > TARGETS["median"]:
        out.append(f"median visible code cell {m['median']:g} lines > {TARGETS['median']}")
    for i, c in enumerate(nb.cells):
        if visible_lines(c) > TARGETS["max"]:
            out.append(f"cell {i} (id {c.get('id')}) shows {visible_lines(c)} lines > {TARGETS['max']}")
        if c.cell_type == "code" and is_folded(c) and not c.source.lstrip().startswith("#"):
            out.append(f"folded cell {i} (id {c.get('id')}) does not open with a '#' line saying what it does")
        if shows_an_answer(c):
            out.append(f"cell {i} (id {c.get('id')}) shows an exercise's answer in visible code: fold it")
    if m["words_per_line"] < TARGETS["words_per_line"]:
        out.append(f"{m['words_per_line']:.1f} words of prose per visible line < {TARGETS['words_per_line']:g}")
    if m["before_figure"] is not None and m["before_figure"] > TARGETS["before_figure"]:
        out.append(f"{m['before_figure']} visible lines before the first figure > {TARGETS['before_figure']}")
    return out


def table(rows: dict[str, dict]) -> str:
    head = ("| notebook | code cells (folded) | median / max visible lines | prose words per visible line "
            "| visible lines before 1st figure |\n|---|---|---|---|---|")
    body = [f"| {name} | {m['code_cells']} ({m['folded']}) | {m['median']:g} / {m['max']} | "
            f"{m['words_per_line']:.1f} | {'-' if m['before_figure'] is None else m['before_figure']} |"
            for name, m in rows.items()]
    return "\n".join([head, *body])


def _execute(path: Path):
    import nbclient

    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    ap.add_argument("--execute", action="store_true", help="run each notebook first (for the first-figure count)")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    rows, failing = {}, 0
    for p in paths:
        nb = _execute(p) if args.execute else nbformat.read(p, as_version=4)
        rows[p.stem[:2]] = m = measure(nb)
        for line in problems(nb, m):
            failing += 1
            print(f"{p.name}: {line}", file=sys.stderr)
    print(table(rows))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
