"""How fast the notebooks feel: run time of each notebook, and the cost of moving each slider.

    make bench                                      # every notebook in notebooks/
    .venv/bin/python benchmarks/run.py [notebooks...] [--strict] [--json PATH]

1. Yardstick: one full redraw of a plain 2-panel matplotlib figure (set_ydata + draw + PNG).
2. Each notebook runs top to bottom in a fresh kernel of this interpreter (ipykernel's own
   "python3" spec, checked by the kernel's sys.executable), in the notebook's folder, 300 s per
   cell; nothing is written back. Target: 60 s.
3. In the same kernel, ``dlcore.widgets.benchmark_all`` times every slider of every live Panel.
   Target: median under 100 ms.
The environment is left as it is (thread counts, DLCORE_DEVICE, ...): it measures what students
get. Exit status is 0 unless --strict is given and a target is missed.
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import torch
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot: no backend is chosen
from matplotlib.figure import Figure
from nbclient import NotebookClient

import dlcore

ROOT = Path(__file__).resolve().parent.parent
RUN_TARGET_S, SLIDER_TARGET_MS, CELL_TIMEOUT_S = 60.0, 100.0, 300
MARKER = "@@DLCORE_BENCH@@"
BENCH_CODE = f"""\
import json as _j, sys as _s
_w = _s.modules.get("dlcore.widgets")  # None: the notebook made no Panel
print({MARKER!r} + _j.dumps(_w.benchmark_all(n_values=9) if _w else []))
"""


def yardstick(reps: int = 15) -> float:
    """Median ms of set_ydata + draw + savefig(PNG) for a plain 9x3.5 in, 2-panel Agg figure."""
    fig = Figure(figsize=(9, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    x = np.linspace(0, 2 * np.pi, 200)
    lines = [ax.plot(x, np.sin(x))[0] for ax in fig.subplots(1, 2)]
    times = []
    for i in range(reps + 1):  # the first one warms up caches and is dropped
        t = time.perf_counter()
        lines[i % 2].set_ydata(np.sin(x + 0.1 * i))
        fig.canvas.draw()
        fig.savefig(io.BytesIO(), format="png")
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times[1:])


def run_notebook(path: Path) -> dict:
    """Execute one notebook, then benchmark its panels in the same kernel."""
    result = {"notebook": path.name, "path": str(path), "kernel_start_s": None, "run_s": None,
              "error": None, "panels": []}
    nb = nbformat.read(path, as_version=4)
    # ipykernel's native spec runs sys.executable, whatever kernelspecs the user has installed.
    km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = NotebookClient(nb, km=km, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    try:
        with client.setup_kernel(cleanup_kc=True):
            result["kernel_start_s"] = time.perf_counter() - t0
            reply = client.wait_for_reply(client.kc.execute(
                "", silent=True, user_expressions={"exe": "__import__('sys').executable"}))
            exe = ast.literal_eval(reply["content"]["user_expressions"]["exe"]["data"]["text/plain"])
            if exe != sys.executable:
                raise RuntimeError(f"kernel runs {exe}, not {sys.executable}")
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            result["run_s"] = time.perf_counter() - t0
            nb.cells.append(nbformat.v4.new_code_cell(BENCH_CODE))  # in memory only
            cell = client.execute_cell(nb.cells[-1], len(nb.cells) - 1, store_history=False)
            for out in cell.outputs:
                for line in out.get("text", "").splitlines() if out.get("name") == "stdout" else []:
                    if line.startswith(MARKER):
                        result["panels"] = json.loads(line[len(MARKER):])
    except Exception as err:  # a failing cell, a timeout, a dead kernel: report it, go on
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip().splitlines()  # no ANSI colours
        result["error"] = f"{type(err).__name__}: {text[-1] if text else ''}"[:200]
    return result


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths]), *map(fmt, cells[1:])])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))

    info = {"python": platform.python_version(), "torch": torch.__version__,
            "matplotlib": matplotlib.__version__, "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": str(dlcore.device()), "executable": sys.executable}
    print(f"python {info['python']}  torch {info['torch']}  matplotlib {info['matplotlib']}"
          f"  ({info['platform']})")
    print(f"cpus {info['cpu_count']}  torch threads {info['torch_threads']}"
          f"  dlcore device {info['device']}  OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}")
    if os.environ.get("MPLBACKEND"):
        print(f"note: MPLBACKEND={os.environ['MPLBACKEND']} is set; the kernels inherit it")

    ref_ms = yardstick()
    print(f"\nyardstick {ref_ms:.1f} ms: one full redraw of a plain 2-panel figure; "
          f"the slider target is to cost no more than this")

    results, missed = [], False
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        results.append(run_notebook(path))
    if not paths:
        print("\nno notebooks found")

    rows, slider_rows = [], []
    for r in results:
        ok = r["error"] is None and r["run_s"] <= RUN_TARGET_S
        missed |= not ok
        run = f"{r['run_s']:.1f}" if r["run_s"] is not None else "-"
        start = f"{r['kernel_start_s']:.1f}" if r["kernel_start_s"] is not None else "-"
        rows.append([r["notebook"], run, start, f"{RUN_TARGET_S:.0f} s",
                     "ok" if ok else ("FAIL: " + r["error"] if r["error"] else "SLOW")])
        if r["error"] is None and not r["panels"]:
            slider_rows.append([r["notebook"], "none", "", "", "", "", ""])
        for p in r["panels"]:
            ok = p["median_ms"] < SLIDER_TARGET_MS
            missed |= not ok
            slider_rows.append([r["notebook"], p["panel"], p["control"], f"{p['median_ms']:.1f}",
                                f"{p['p95_ms']:.1f}", f"{p['median_ms'] / ref_ms:.2f}x",
                                "ok" if ok else "SLOW"])
    if rows:
        print("\n" + table(["notebook", "run s", "kernel start s", "target", "ok?"], rows))
    if slider_rows:
        print(f"\nsliders (update + render, median target {SLIDER_TARGET_MS:.0f} ms; "
              f"yardstick {ref_ms:.1f} ms)")
        print(table(["notebook", "panel", "slider", "median ms", "p95 ms", "vs yardstick", "ok?"],
                    slider_rows))

    if args.json:
        args.json.write_text(json.dumps({"info": info, "yardstick_ms": ref_ms, "targets": {
            "run_s": RUN_TARGET_S, "slider_median_ms": SLIDER_TARGET_MS}, "notebooks": results},
            indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
