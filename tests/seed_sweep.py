"""Run notebooks at other SEEDs: the lesson checks must hold for any draw, not one lucky one.

Each notebook has one code cell tagged ``parameters`` holding ``SEED = 0`` (the papermill
convention). This module executes a notebook with a cell ``SEED = k`` injected after that one (the
file on disk is never edited) and reports a failure as the notebook, the SEED, the cell and the
check that failed.

    python tests/seed_sweep.py                          # every notebook at SEED 0-9, 2 at a time
    python tests/seed_sweep.py notebooks/04*.ipynb --seeds 3 7 --workers 1

``tests/test_seed_sweep.py`` runs the SEEDs in ``DLCORE_SEEDS`` (``make test`` passes its SEEDS).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))   # notebook_style, run as a script too
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 300


class LessonCheckFailed(AssertionError):
    """A notebook failed at some SEED; the message says where and which check."""


def parameters_cell(nb) -> int:
    """Index of the notebook's one code cell tagged ``parameters``; a clear error when it has none."""
    found = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(found) != 1:
        raise ValueError(f"a notebook needs exactly one code cell tagged 'parameters'; found {len(found)}")
    return found[0]


def with_seed(nb, seed: int):
    """A copy of ``nb`` with ``SEED = seed`` injected after its parameters cell."""
    import copy

    import nbformat

    nb = copy.deepcopy(nb)
    at = parameters_cell(nb) + 1
    cell = nbformat.v4.new_code_cell(f"SEED = {seed}  # injected by tests/seed_sweep.py",
                                     metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at, cell)
    return nb, at


def _first_line(text: str, limit: int = 300) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def _failing_line(cell_source: str, traceback: list[str]) -> str:
    """The source line the traceback points at in the failing cell (ANSI colours stripped)."""
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(traceback))
    # ipykernel marks the failing line of the cell with an arrow: "----> 12 assert ..."
    hits = re.findall(r"^-+> *(\d+) (.*)$", plain, flags=re.M)
    if hits:
        return hits[0][1].strip()
    return ""


def run(path, seed: int, *, timeout: int = CELL_TIMEOUT, export: bool = True) -> float:
    """Execute the notebook at ``path`` with SEED = ``seed``; return its run time in seconds.

    Raises LessonCheckFailed naming the notebook, the SEED, the cell and the failing check, or,
    with ``export``, what the executed notebook's static export gets wrong (:func:`export_problems`).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb, injected = with_seed(nbformat.read(path, as_version=4), seed)
    env_backup = os.environ.get("DLCORE_PRESENTER")
    os.environ.pop("DLCORE_PRESENTER", None)  # the lesson, not the projector layout
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        index, cell = next(((i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), (None, None))
        where, what, check = "a cell", f"{err.ename}: {_first_line(err.evalue)}", ""
        if cell is not None:
            error = next(o for o in cell.outputs if o.get("output_type") == "error")
            number = index if index < injected else index - 1  # the cell's index in the file on disk
            where = f"cell {number} (id {cell.get('id', '?')})"
            check = _failing_line(cell.source, error.get("traceback", []))
        msg = f"{path.name} at SEED={seed}: {where} failed: {what}"
        if check:
            msg += f"\n    the check: {check}"
        raise LessonCheckFailed(msg) from None
    finally:
        if env_backup is not None:
            os.environ["DLCORE_PRESENTER"] = env_backup
    seconds = time.perf_counter() - start
    if export:
        found = export_problems(nb, injected=injected)
        if found:
            raise LessonCheckFailed(f"{path.name} at SEED={seed}: its static export is wrong:\n    "
                                    + "\n    ".join(found))
    return seconds


EXERCISE_UNSET = re.compile(r"^Exercise \w+: set \w+ above, then run this cell again\.$")


def export_problems(nb, injected: int | None = None) -> list[str]:
    """What a reader of the executed notebook's static copy (nbconvert HTML, GitHub, nbviewer:
    no kernel, no widget state) would miss or be told too early. Empty when all is well:

    - every widget output carries a static image (a Panel's figure), so no figure is lost
      and no widget's text repr ("VBox(children=...)") is printed instead;
    - the HTML export shows every image the outputs hold;
    - the first figure comes after <= 40 visible code lines (tests/notebook_style.py);
    - a self-check run before the student's predictions says only "set ... above";
    - no progress bar is left open (:func:`leftover_bars`).

    injected: the index of the cell tests/seed_sweep.py added, so that cells are named by their
    index in the file on disk.
    """
    import copy

    import nbformat
    from nbconvert import HTMLExporter

    from notebook_style import TARGETS, measure

    found = []
    images = 0
    for i, cell in enumerate(nb.cells):
        if injected is not None and i > injected:
            i -= 1
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            images += "image/png" in data
            if "application/vnd.jupyter.widget-view+json" in data and "image/png" not in data:
                found.append(f"cell {i} (id {cell.get('id')}) shows a widget with no static image: "
                             f"{_first_line(str(data.get('text/plain', '')), 80)!r}")
            if out.get("output_type") == "stream":
                for line in out.get("text", "").splitlines():
                    if line.startswith("Exercise ") and re.match(r"^Exercise \w+:", line) \
                            and not EXERCISE_UNSET.match(line):
                        found.append(f"cell {i} (id {cell.get('id')}) answers before a prediction: {line[:80]!r}")
    static = copy.deepcopy(nb)
    static.metadata.pop("widgets", None)          # as JupyterLab saves it: no widget state
    html, _ = HTMLExporter().from_notebook_node(static)
    shown = html.count("data:image/png;base64,")
    if shown < images:
        found.append(f"the HTML export shows {shown} of the {images} images in the outputs")
    found += [f"a progress bar was left open: {bar}" for bar in leftover_bars(nb)]
    before = measure(nb)["before_figure"]
    if before is None:
        found.append("no figure at all")
    elif before > TARGETS["before_figure"]:
        found.append(f"{before} visible code lines before the first figure (target <= {TARGETS['before_figure']})")
    return found


BAR_TEXT = re.compile(r"\d+%\|[^\n]*\|\s*\d+/\d+|\b(?:Int|Float)Progress\(")
BAR_MODELS = {"IntProgressModel", "FloatProgressModel"}


def leftover_bars(nb) -> list[str]:
    """Every progress bar the executed notebook ``nb`` still shows; empty when none is left.

    A bar left open shows in a saved (or exported) notebook as tqdm's text ("training:   1%|| 2/300"),
    as a widget's text repr ("HBox(children=(IntProgress(value=2, max=300) ...") or as a widget
    view of an IntProgress / FloatProgress model (tests/test_progress.py checks each kind).
    """
    state = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})

    def is_bar(model_id, seen=()):
        m = models.get(model_id, {})
        if m.get("model_name") in BAR_MODELS:
            return True
        kids = m.get("state", {}).get("children", [])
        return any(is_bar(k.removeprefix("IPY_MODEL_"), seen + (model_id,)) for k in kids
                   if isinstance(k, str) and k.removeprefix("IPY_MODEL_") not in seen)

    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = out.get("text", "") + str(data.get("text/plain", ""))
            view = data.get("application/vnd.jupyter.widget-view+json", {})
            if BAR_TEXT.search(text) or (view and is_bar(view.get("model_id"))):
                found.append(f"cell {i} (id {cell.get('id', '?')}): {text.strip()[:80]!r}")
    return found


def parse_seeds(text: str) -> list[int]:
    """'1 2', '1,2' or '0-9' -> a list of SEEDs."""
    seeds = []
    for part in text.replace(",", " ").split():
        if "-" in part:
            lo, hi = part.split("-", 1)
            seeds.extend(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"SEEDS must name non-negative integers, e.g. '1 2' or '0-9'; got {text!r}")
    return seeds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, default=NOTEBOOKS)
    parser.add_argument("--seeds", nargs="+", default=["0-9"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    seeds = parse_seeds(" ".join(args.seeds))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    jobs = [(nb, s) for nb in args.notebooks for s in seeds]

    def one(job):
        nb, s = job
        try:
            return nb, s, f"{run(nb, s):5.1f} s", None
        except LessonCheckFailed as err:
            return nb, s, "FAILED", str(err)

    failures = []
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for nb, s, result, err in pool.map(one, jobs):
            print(f"{nb.name:<48} SEED={s:<3} {result}", flush=True)
            if err:
                failures.append(err)
    print(f"\n{len(jobs) - len(failures)} passed, {len(failures)} failed")
    for err in failures:
        print(err)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
