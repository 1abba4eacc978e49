"""How much margin a lesson check has: a notebook's quantities over many SEEDs.

    .venv/bin/python benchmarks/seed_margins.py notebooks/08_*.ipynb --seeds 0-29 \
        --expr 'gain' --expr 'final["fixed"] / final["reshuffle"]' [--cells 12]

Runs the notebook's code cells in this process (no kernel; matplotlib's Agg backend) with
``SEED = k`` and every ``assert`` compiled out, so a check that would fail still shows its value;
then prints each expression per SEED and its min / max. Choose a check's threshold from that
spread, with headroom: other SEEDs than the ones you tried will be run. ``--cells N`` stops after
the first N code cells (after the parameters cell), for a cheap look at an early section.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("agg")
    import nbformat
    from seed_sweep import parameters_cell, parse_seeds

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--seeds", nargs="+", default=["0-9"])
    parser.add_argument("--expr", action="append", required=True, help="an expression over the notebook's names")
    parser.add_argument("--cells", type=int, default=None, help="run only the first N code cells")
    args = parser.parse_args(argv)
    nb = nbformat.read(args.notebook, as_version=4)
    skip = parameters_cell(nb)
    cells = [c.source for i, c in enumerate(nb.cells) if c.cell_type == "code" and i != skip][:args.cells]
    os.chdir(args.notebook.resolve().parent)
    values = {e: [] for e in args.expr}
    for seed in parse_seeds(" ".join(args.seeds)):
        ns = {"SEED": seed, "__name__": "__main__"}
        with contextlib.redirect_stdout(io.StringIO()):
            for src in cells:
                exec(compile(src, f"{args.notebook.name} cell", "exec", optimize=1), ns)  # optimize=1: no asserts
        row = []
        for e in args.expr:
            v = eval(e, ns)
            values[e].append(float(v))
            row.append(f"{float(v):.4g}")
        print(f"SEED {seed:>3}: " + " | ".join(row), flush=True)
    for e, vs in values.items():
        print(f"{e}: min {min(vs):.4g}, max {max(vs):.4g} over {len(vs)} SEEDs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
