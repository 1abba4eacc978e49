"""Notebook 03's quasi-Newton figure: GD, momentum, Newton and L-BFGS raced on 2-D surfaces.

    from dlcore.figures import quasi_newton
    quasi_newton.race_figure([("ravine, κ = 50", ravine, [gd, mom, newton, lbfgs]),
                              ("Rosenbrock", rosen, [...])], threshold=1e-6, title="...")

The runs come as :class:`dlcore.trajectory.Trajectories` (from ``trajectory.run``,
``dlcore.optim.lbfgs.path`` or ``lbfgs.newton_path``), every run of each drawn. Top row: the paths over the surface's
contours; bottom row: f - f* against the step on log-log axes, each legend entry with the steps
the run took to reach ``threshold``. Nothing here runs an optimiser.
"""
from __future__ import annotations

import numpy as np

from .. import plot
from .._checks import number
from ..trajectory import Trajectories
from .curvature import COLOURS, contour, floor_of

# one colour per method, the six optimisers' where they have one (Newton as in section 2's panel)
METHOD_COLOURS = {"GD": COLOURS["sgd"], "momentum": COLOURS["momentum"], "Newton": COLOURS["adam"],
                  "L-BFGS": plot.PALETTE[2]}     # green: Nesterov's, absent from this figure
MARKERS = {"Newton": "s", "L-BFGS": "o"}          # the fast runs: few points, so mark each one
WIDTHS = {"GD": 1.8, "momentum": 1.8, "Newton": 3.0, "L-BFGS": 3.0}   # the long zig-zags drawn thinner
FLOOR = 1e-12                                     # the loss plots' lowest value


def method_of(label: str) -> str:
    """'GD', 'momentum', 'Newton' or 'L-BFGS' from a run's label ('L-BFGS (10 pairs)' -> 'L-BFGS');
    'sgd(...)' and 'momentum(...)', trajectory.run's default labels, are understood too."""
    for key, names in (("L-BFGS", ("L-BFGS", "lbfgs")), ("Newton", ("Newton", "newton")),
                       ("momentum", ("momentum", "heavy")), ("GD", ("GD", "sgd", "gradient"))):
        if label.startswith(names):
            return key
    raise ValueError(f"race_figure: a run's label must start with GD/sgd, momentum, Newton or L-BFGS; "
                     f"got {label!r}")


def count_text(n: int, steps: int) -> str:
    """'9 steps', '1 step', or 'not in 3,000' for a run that never reached the threshold."""
    return f"not in {steps:,}" if n < 0 else f"{n:,} step{'s' if n != 1 else ''}"


def _draw_run(ax_p, ax_l, res, i, floor, threshold) -> float:
    """Run i of res: its path on ax_p, its f - f* (steps 1, 2, ...: a log axis has no 0) on ax_l.
    Returns the largest gap drawn."""
    method = method_of(res.labels[i])
    style = dict(color=METHOD_COLOURS[method], lw=WIDTHS[method], marker=MARKERS.get(method),
                 markersize=7, zorder=3 if method in MARKERS else 2)
    path, loss = res.path(i), res.loss(i)
    ax_p.plot(path[:, 0], path[:, 1], **style)
    n = int(res.steps_to(floor + threshold)[i])
    gap = np.clip(loss - floor, FLOOR, None)
    ax_l.plot(np.arange(1, len(gap)), gap[1:], label=f"{res.labels[i]}: {count_text(n, res.steps)}", **style)
    return float(gap.max())


def race_figure(panels, *, threshold: float = 1e-6, title: str, zoom=None):
    """Paths (top) and f - f* per step (bottom, log-log), one column per surface.

    panels: a list of (column title, surface, runs), runs a list of Trajectories on that surface
    (every run of each is drawn) or of (Trajectories, run indices) pairs (those runs only, e.g. the
    best of a sweep), labelled as :func:`method_of` reads. threshold: the loss gap f - f* the legends
    count the steps to (drawn as a dashed line). zoom: None or one ((x0, x1), (y0, y1)) per
    column (None entries: the surface's window) for the path panels. Returns the figure.
    """
    threshold = number("threshold", threshold, low=0.0, low_open=True)
    if not isinstance(panels, (list, tuple)) or not panels:
        raise ValueError("panels must be a non-empty list of (title, surface, runs)")
    zoom = [None] * len(panels) if zoom is None else list(zoom)
    if len(zoom) != len(panels):
        raise ValueError(f"zoom must give one window (or None) per panel: {len(panels)}; got {len(zoom)}")
    fig, axes = plot.figure(2, len(panels), figsize=(6.5 * len(panels), 10))
    axes = np.asarray(axes).reshape(2, len(panels))
    for col, ((name, surface, runs), window) in enumerate(zip(panels, zoom)):
        ax_p, ax_l = axes[0, col], axes[1, col]
        contour(ax_p, surface)
        floor = floor_of(surface)
        longest, top = 1, 1.0
        for item in runs:
            res, which = item if isinstance(item, tuple) else (item, None)
            if not isinstance(res, Trajectories):
                raise TypeError(f"runs must be dlcore.trajectory.Trajectories (or (Trajectories, "
                                f"run indices) pairs); got {type(res).__name__}")
            for i in range(len(res)) if which is None else [int(j) for j in which]:
                top = max(top, _draw_run(ax_p, ax_l, res, i, floor, threshold))
            longest = max(longest, res.steps)
        if window is not None:
            ax_p.set_xlim(*window[0])
            ax_p.set_ylim(*window[1])
        else:
            ax_p.set_xlim(*surface.window[0])
            ax_p.set_ylim(*surface.window[1])
        ax_p.set_title(name)
        ax_l.axhline(threshold, color="grey", linestyle="--", lw=1.5)
        ax_l.set_xscale("log")
        ax_l.set_yscale("log")
        ax_l.set_xlim(0.8, longest * 1.25)
        ax_l.set_ylim(FLOOR / 3, 10 ** (np.ceil(np.log10(top)) + 5))   # room above the curves for the legend
        ax_l.set_xlabel("step (log scale)")
        ax_l.set_ylabel("f − f*")
        ax_l.set_title(f"steps to f − f* ≤ {threshold:.0e}")
        ax_l.legend(loc="upper right", fontsize="small")
    fig.suptitle(title, fontweight="bold")
    return fig


__all__ = ["METHOD_COLOURS", "method_of", "count_text", "race_figure"]
