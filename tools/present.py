"""Presenter copies of the notebooks, for Voila: the lesson without its exercises or its talk of code.

Voila shows a notebook's text and outputs (figures, live sliders) and hides every code cell. Two
things then read wrong: the exercises (predict, set ``my_x = None`` in a cell, run the self-check:
there are no cells to edit) and the prose that points at code ("the folded cell below computes
that matrix", "(folded below)", "click the bar to open one"). A presenter copy

- ends the lesson at its summary: the "## Exercises" part of the summary cell and the code cells
  after it (predictions, facts, self-checks) are left out, up to the next heading (an aside stays);
  a left-out cell that a later cell still needs runs instead, silently (``%%capture``);
- drops from the prose each parenthesis, clause or sentence about cells: a parenthesis loses its
  parts that mention them ("(folded below: all 36 networks ...)" -> "(all 36 networks ...)"), a
  sentence its clauses ("...; the folded cells hold set-up, and ..."), and a sentence that is only
  about cells goes.

Everything else (cell ids, tags, folded metadata, every other cell) is as in the notebook, and the
copies are written without outputs. ``make present`` writes them to build/present/ and serves them.

    python tools/present.py                    # every notebook -> build/present/
    python tools/present.py 03 --out DIR       # one notebook, by its number
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DEFAULT_OUT = ROOT / "build" / "present"

# Prose that only makes sense with code cells on screen (case-insensitive).
# ("several-fold" and "the cells are white", a matrix's, are not about notebook cells.)
ABOUT_CELLS = re.compile(r"\b(?:un)?folded\b|\bunfold|\bclick\b|\b(?:next|this|folded) cells?\b"
                         r"|\bcells?\s+(?:below|above)\b|\bself-checks?\b|\brun all cells\b|\b(?:new|set-up|imports) cell\b"
                         r"|^Instructors:", re.I | re.M)
EXERCISES = re.compile(r"^#{1,6}\s+Exercises?\b.*$", re.M)
HEADING = re.compile(r"^\s*#{1,6}\s", re.M)
# A few whole phrases read better rewritten than dropped.
REWRITES = [(re.compile(r"\bThe cell\s+below compares\b"), "Below, a comparison of")]


def mentions_cells(text: str) -> bool:
    """Does ``text`` refer to cells, folding or the exercises (what Voila does not show)?"""
    return bool(ABOUT_CELLS.search(text))


def _capitalise(text: str) -> str:
    m = re.match(r"([\s*(]*)([a-z])", text)       # not `code` or $math$
    return text if m is None else text[:m.start(2)] + m.group(2).upper() + text[m.end(2):]


def _strip_parentheses(sentence: str) -> str:
    """Each (...) without nested brackets loses its comma/colon/semicolon parts about cells."""
    def fix(m):
        parts = re.split(r"([,;:]\s+)", m.group(1))
        kept, sep = [], ""
        for i in range(0, len(parts), 2):
            if not mentions_cells(parts[i]):
                kept.append((sep if kept else "") + parts[i])
            sep = parts[i + 1] if i + 1 < len(parts) else ""
        return f"({''.join(kept)})" if kept else "\0"
    out = re.sub(r"\(([^()]*)\)", lambda m: fix(m) if mentions_cells(m.group(1)) else m.group(0), sentence)
    return re.sub(r"\s*\0", "", out)


def _strip_clauses(sentence: str) -> str:
    """Drop the '; ...' and ', and ...' clauses of a sentence that are about cells."""
    end = re.search(r"[.!?:]?\s*$", sentence)
    body, tail = sentence[:end.start()], sentence[end.start():]
    # split at '; ' and ', and ' outside brackets
    parts, depth, last = [], 0, 0
    for m in re.finditer(r"[()]|;\s+|,\s+and\s+", body):
        if m.group() in "()":
            depth += 1 if m.group() == "(" else -1
        elif depth == 0:
            parts += [body[last:m.start()], m.group()]
            last = m.end()
    parts.append(body[last:])
    kept = []
    for i in range(0, len(parts), 2):
        if not mentions_cells(parts[i]):
            kept.append((parts[i - 1] if i and kept else "") + parts[i])
    if not kept:
        return ""
    text = "".join(kept)
    return (_capitalise(text) if mentions_cells(parts[0]) else text) + tail


def rewrite_prose(text: str) -> str:
    """``text`` (a markdown cell) without its parentheses, clauses and sentences about cells."""
    for pattern, repl in REWRITES:
        text = pattern.sub(repl, text)
    # blocks: paragraphs, list items and headings, so that a dropped sentence never takes a heading along
    pieces = re.split(r"(\n\s*\n|\n(?=[ \t]*(?:[*+-]|\d+\.|#+)\s))", text)
    out = []
    for k, block in enumerate(pieces):
        if k % 2 or not mentions_cells(block) or HEADING.match(block):
            out.append(block)
            continue
        sentences = re.split(r"(?<=[.!?])(\s+)(?=[A-Z*`$(\[])", block)
        new = []
        for i in range(0, len(sentences), 2):
            s = sentences[i]
            if mentions_cells(s):
                s = _strip_parentheses(s)
            if mentions_cells(s):
                s = _strip_clauses(s)
            if s.strip():
                new.append((sentences[i - 1] if i and new else "") + s)
        out.append("".join(new))
    # a block that emptied takes its separator with it
    text = "".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _names(source: str, ctx) -> set[str]:
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    found = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}
    if ctx is ast.Store:
        found |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        found |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return found


def presenter_copy(nb):
    """A copy of notebook ``nb`` (an nbformat NotebookNode) for Voila; ``nb`` is not modified.

    Returns (copy, report): report counts the cells left out, the cells kept silent because later
    cells need them, and the markdown cells rewritten.
    """
    if not hasattr(nb, "cells") or not isinstance(nb.cells, list):
        raise TypeError(f"nb must be a notebook read with nbformat (with .cells); got {type(nb).__name__}")
    nb = copy.deepcopy(nb)
    cells = nb.cells
    report = {"left_out": 0, "silenced": 0, "rewritten": 0}
    start = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and EXERCISES.search(c.source)), None)
    drop = set()
    if start is not None:
        cut = EXERCISES.search(cells[start].source).start()
        cells[start].source = cells[start].source[:cut].rstrip()
        if not cells[start].source:
            drop.add(start)
        for i in range(start + 1, len(cells)):
            if cells[i].cell_type == "markdown" and HEADING.match(cells[i].source):
                break
            drop.add(i)
    needed = set()
    for i in sorted(drop):
        if cells[i].cell_type != "code":
            continue
        later = set().union(*(_names(c.source, ast.Load) for j, c in enumerate(cells)
                              if j > i and j not in drop and c.cell_type == "code"))
        defined_before = set().union(*(_names(c.source, ast.Store) for j, c in enumerate(cells)
                                       if j < i and j not in drop and c.cell_type == "code"))
        if (_names(cells[i].source, ast.Store) - defined_before) & later:
            needed.add(i)
    for i in needed:
        cells[i].source = "%%capture\n" + cells[i].source
    report["left_out"], report["silenced"] = len(drop - needed), len(needed)
    nb.cells = [c for i, c in enumerate(cells) if i not in drop or i in needed]
    for c in nb.cells:
        if c.cell_type == "markdown" and mentions_cells(c.source):
            c.source = rewrite_prose(c.source)
            report["rewritten"] += 1
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nb.cells = [c for c in nb.cells if c.cell_type != "markdown" or c.source.strip()]
    return nb, report


def resolve(names) -> list[Path]:
    """Notebook numbers ('03') or paths -> the notebooks' paths; a clear error for an unknown one."""
    if isinstance(names, (str, Path)):
        names = [names]
    if not names:
        return list(NOTEBOOKS)
    found = []
    numbers = {p.name[:2]: p for p in NOTEBOOKS}
    for name in names:
        text = str(name)
        if text.zfill(2) in numbers and text.isdigit():
            found.append(numbers[text.zfill(2)])
        elif Path(text).suffix == ".ipynb" and Path(text).is_file():
            found.append(Path(text))
        else:
            raise ValueError(f"notebook {text!r} is neither a notebook number ({', '.join(numbers)}) "
                             f"nor an .ipynb file")
    return found


def write_copies(names=(), out: str | Path = DEFAULT_OUT) -> list[Path]:
    """Write the presenter copies of ``names`` (all notebooks by default) into ``out``; their paths."""
    import nbformat

    if not isinstance(out, (str, Path)):
        raise TypeError(f"out must be a directory path; got {type(out).__name__}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in resolve(names):
        nb, _ = presenter_copy(nbformat.read(path, as_version=4))
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="numbers (03) or .ipynb paths; default: all")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where to write (default build/present)")
    args = parser.parse_args(argv)
    try:
        written = write_copies(args.notebooks, args.out)
    except ValueError as err:
        parser.error(str(err))
    for path in written:
        print(f"presenter copy: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
