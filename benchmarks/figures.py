"""Every figure a notebook draws, as PNG files: to look at them as a student or a projector sees them.

    .venv/bin/python benchmarks/figures.py notebooks/02_*.ipynb --out /tmp/figs            # lesson style
    .venv/bin/python benchmarks/figures.py notebooks/02_*.ipynb --out /tmp/figs --presenter

The notebook runs top to bottom in a fresh kernel (nothing is written back); each ``image/png``
output (static figures and each slider Panel's static image) is saved as
``<out>/<notebook>_cell<NN>_<k>.png`` with NN the cell's index in the file. Also prints each
cell's text output under its figure names, so figure and numbers can be read together.
"""
from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--presenter", action="store_true", help="DLCORE_PRESENTER=1: the projector layout")
    ap.add_argument("--text", action="store_true", help="also print every cell's text output")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.presenter:
        os.environ["DLCORE_PRESENTER"] = "1"
    else:
        os.environ.pop("DLCORE_PRESENTER", None)
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        for i, cell in enumerate(nb.cells):
            k = 0
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "image/png" in data:
                    name = args.out / f"{path.stem[:2]}_cell{i:02d}_{k}.png"
                    name.write_bytes(base64.b64decode(data["image/png"]))
                    print(name)
                    k += 1
                elif args.text:
                    text = out.get("text") or data.get("text/plain", "")
                    if text:
                        print(f"  cell {i:02d}: " + str(text).rstrip().replace("\n", f"\n  cell {i:02d}: "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
