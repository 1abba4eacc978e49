"""Notebook 01's figures: equal units at the start, cost curves, and the two-row explorer panel.

Each function draws what the notebook computed and passed in (activations, gradients, costs, or
a ``snapshots`` callback that trains and measures); nothing here trains or measures.

    fig = symmetry.units_at_start([("constant c = 0.5", A, G), ("random σ = 0.5", A2, G2)])
    fig = symmetry.cost_curves({"all zero": c0, "constant": c1}, reference=("log 2", 0.693))
    panel, titles = symmetry.explorer(X, y, snapshots, shown_labels=y[ORDER], grid_shape=(60, 80),
                                      extent=(-1.5, 2.5, -1.0, 1.5), max_width=32, steps=300)
"""
from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.ticker import FuncFormatter

from .. import plot, widgets

UNIT_COLUMNS = ["$w_1$", "$w_2$", "$b$", "$v_0$", "$v_1$"]    # a unit: incoming w, bias b, outgoing v
WEIGHT_RANGE = 3.0       # the explorer's weight colour scale: -3 (blue) to +3 (red)
# One colour per condition in every cost figure of the notebook (pass as cost_curves(colors=...))
CONDITION_COLOURS = {"random σ = 0.5 (10 draws)": plot.PALETTE[0], "constant c = 0.5": plot.PALETTE[1],
                     "all zero": plot.PALETTE[2]}


_numpy = plot.as_numpy


def _short(value, _pos=None) -> str:
    """A colour-bar tick label: 0, 0.02, -3e-05 (one significant digit)."""
    return "0" if value == 0 else f"{value:.1g}"


def _class_ticks(ax, labels) -> None:
    """Label an axis of inputs sorted by class with one tick per class, at the middle of its run."""
    labels = _numpy(labels).astype(int)
    ticks, names = [], []
    for k in np.unique(labels):
        where = np.nonzero(labels == k)[0]
        ticks.append(where.mean() + 0.5)
        names.append(f"class {k} inputs")
    ax.set_xticks(ticks, names)


def units_at_start(rows, *, shown_labels=None, figsize=(12, 6.4)):
    """One row per start: every unit's activation on the shown inputs, and every unit's gradient.

    rows: [(title, activations (units, inputs), gradients (units, 5))]: the gradient of each unit's
    five numbers (incoming w_1, w_2, bias b, outgoing v_0, v_1). shown_labels: the class of each
    shown input (sorted by class), to label the input axis. Each row's gradient colours span its
    own largest |gradient|, so equal rows show as equal colours whatever their size.
    Returns the figure.
    """
    if not rows:
        raise ValueError("rows is empty: give (title, activations, gradients) for each start")
    fig, titles, axes = plot.figure_rows(len(rows), 2, figsize=figsize, width_ratios=[2.2, 1])
    for (title, acts, grads), text, (ax_a, ax_g) in zip(rows, titles, axes):
        acts, grads = _numpy(acts), _numpy(grads)
        if acts.ndim != 2 or grads.ndim != 2 or grads.shape != (acts.shape[0], len(UNIT_COLUMNS)):
            raise ValueError(f"activations must be (units, inputs) and gradients (units, 5); "
                             f"got {acts.shape} and {grads.shape}")
        units = acts.shape[0]
        im = ax_a.imshow(acts, cmap=plot.DIVERGING, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        fig.colorbar(im, ax=ax_a, label="activation", ticks=[-1, 0, 1])
        ax_a.set_title("each unit's activation on each input")
        if shown_labels is not None:
            _class_ticks(ax_a, shown_labels)
        else:
            ax_a.set_xlabel("input")
        vmax = float(np.abs(grads).max()) or 1.0
        im = ax_g.imshow(grads, cmap=plot.DIVERGING, vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
        fig.colorbar(im, ax=ax_g, label="gradient", ticks=[-vmax, 0, vmax], format=FuncFormatter(_short))
        ax_g.set_xticks(range(len(UNIT_COLUMNS)), UNIT_COLUMNS)
        ax_g.set_title("each unit's gradient")
        ax_a.set_yticks(range(units), [str(u + 1) for u in range(units)] if units <= 12 else [])
        ax_g.set_yticks(range(units), [])                  # the same units as on the left
        for ax in (ax_a, ax_g):
            ax.grid(False)
        ax_a.set_ylabel("unit")
        text.set_text(title)
    return fig


def cost_curves(curves: dict, *, draws=None, draw_label: str = "", reference=None, log: bool = False,
                title: str = "", colors=None, figsize=(9, 4.2)):
    """The cost at every step: one thick line per named curve, thin lines for repeated draws.

    curves: {name: costs (steps + 1,)}. draws: a list of cost arrays drawn thin in one colour and
    named once, ``draw_label``. reference: (label, value) drawn as a thin grey dashed horizontal
    line beneath the curves (a curve lying on it stays visible). colors: {name or draw_label:
    colour}, to keep one colour per condition across figures; names not in it take the palette
    in order. Returns the figure.
    """
    fig, ax = plot.figure(figsize=figsize)
    colors = dict(colors or {})
    palette = iter([c for c in plot.PALETTE if c not in colors.values()])
    colour_of = lambda name: colors[name] if name in colors else next(palette)
    if draws:
        colour = colour_of(draw_label)
        for k, costs in enumerate(draws):
            ax.plot(np.arange(len(costs)), _numpy(costs), color=colour, lw=0.5 * mpl.rcParams["lines.linewidth"], alpha=0.6,
                    label=draw_label if k == 0 else None)
    for name, costs in curves.items():
        ax.plot(np.arange(len(costs)), _numpy(costs), color=colour_of(name), label=name, zorder=2)
    if reference is not None:
        label, value = reference
        ax.axhline(value, color="0.45", ls="--", lw=0.8, label=label, zorder=1)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("cost C (mean cross-entropy)")
    ax.legend(loc="upper right" if not log else "lower left")
    if title:
        ax.set_title(title)
    return fig


def _row_artists(fig, text, axes, X, y, *, n_shown, shown_labels, grid_shape, extent, max_width):
    ax_w, ax_a, ax_p = axes
    im_w = ax_w.imshow(np.zeros((1, 5)), cmap=plot.DIVERGING, vmin=-WEIGHT_RANGE, vmax=WEIGHT_RANGE,
                       aspect="auto", interpolation="nearest", extent=(-0.5, 4.5, 1, 0))
    fig.colorbar(im_w, ax=ax_w, ticks=[-WEIGHT_RANGE, 0, WEIGHT_RANGE], fraction=0.08, pad=0.03)
    ax_w.set_xticks(range(5), UNIT_COLUMNS)
    ax_w.set_yticks([])
    ax_w.set_ylabel("units (a row each)")
    ax_w.set_title("weights")
    im_a = ax_a.imshow(np.zeros((1, n_shown)), cmap=plot.DIVERGING, vmin=-1, vmax=1, aspect="auto",
                       interpolation="nearest", extent=(0, n_shown, 1, 0))
    fig.colorbar(im_a, ax=ax_a, ticks=[-1, 0, 1], fraction=0.06, pad=0.03)
    ax_a.set_yticks([])
    if shown_labels is not None:
        _class_ticks(ax_a, shown_labels)
    ax_a.set_title("activations")
    im_p = ax_p.imshow(np.zeros(grid_shape), cmap=plot.class_colormap(), vmin=0, vmax=1, origin="lower",
                       extent=extent, aspect="auto", interpolation="nearest")
    fig.colorbar(im_p, ax=ax_p, ticks=[0, 0.5, 1], fraction=0.06, pad=0.03)
    points = plot.class_scatter(ax_p, X, y)
    lines = [ax_p.plot([], [], color="black", lw=1.5, alpha=0.6)[0] for _ in range(max_width)]
    ax_p.set_xlim(extent[0], extent[1])
    ax_p.set_ylim(extent[2], extent[3])
    ax_p.set_xlabel("$x_1$")
    ax_p.set_ylabel("$x_2$", labelpad=0)
    ax_p.set_title("unit lines, P(orange)")
    for ax in axes:
        ax.grid(False)
    return dict(im_w=im_w, im_a=im_a, im_p=im_p, points=points, lines=lines, title=text)


def _unit_line(xs, w1, w2, b):
    """Points of the line w1 x1 + w2 x2 + b = 0 at x1 = xs (empty when it is (nearly) vertical)."""
    if abs(w2) <= 1e-9:
        return [], []
    return xs, -(w1 * xs + b) / w2


def draw_row(row: dict, shot: dict, name: str, width: int, xs) -> None:
    """Move one explorer row's artists to a snapshot (see :func:`explorer`)."""
    row["im_w"].set_data(_numpy(shot["units"]))
    row["im_a"].set_data(_numpy(shot["activations"]))
    row["im_p"].set_data(_numpy(shot["prob"]))
    units = _numpy(shot["units"])
    for h, line in enumerate(row["lines"]):
        if h < width:
            line.set_data(*_unit_line(xs, *units[h, :3]))
        line.set_visible(h < width)        # a hidden line costs nothing to redraw; an empty one does
    row["title"].set_text(f"{name}: {shot['distinct']} of {width} units distinct, "
                          f"C = {shot['cost']:.3f}, accuracy {shot['accuracy']:.0%}")


def explorer(X, y, snapshots, *, shown_labels=None, grid_shape=(60, 80), extent=(-1.5, 2.5, -1.0, 1.5),
             max_width: int = 32, steps: int = 300, width: int = 8, c: float = 0.5, sigma: float = 0.5,
             figsize=(12, 7)):
    """The section-5 panel: a constant-start network (top row) and a random-start one (bottom).

    snapshots(requests) -> list of dicts, one per request (kind, value, width, step) with kind
    'constant' (value = c) or 'random' (value = sigma); each dict holds ``units`` (width, 5):
    each unit's w_1, w_2, b, v_0, v_1; ``activations`` (width, shown inputs); ``prob``
    (grid_shape): P(class 1) over the plane ``extent`` (x1 min, x1 max, x2 min, x2 max);
    ``distinct`` (units distinct), ``cost`` and ``accuracy``. Only rows whose setting changed
    are asked for, all in one call (so the caller can train them together).

    Returns (panel, titles): titles[0] and titles[1] are the rows' title Texts, which state the
    distinct units, cost and accuracy drawn.
    """
    X_np, y_np = _numpy(X), _numpy(y).astype(int)
    n_shown = len(shown_labels) if shown_labels is not None else 100
    fig, titles, axes = plot.figure_rows(2, 3, figsize=figsize, width_ratios=[1, 1.6, 1.4])
    rows = [_row_artists(fig, t, ax, X_np, y_np, n_shown=n_shown, shown_labels=shown_labels,
                         grid_shape=grid_shape, extent=extent, max_width=max_width)
            for t, ax in zip(titles, axes)]
    xs = np.array(extent[:2], dtype=float)

    def update(c, sigma, width, steps):
        settings = [("constant", c, f"constant c = {c:.2f}"), ("random", sigma, f"random σ = {sigma:.2f}")]
        todo = [(row, (kind, value, width, steps), name) for row, (kind, value, name) in zip(rows, settings)
                if row.get("shown") != (kind, value, width, steps)]
        if not todo:
            return
        shots = snapshots([request for _, request, _ in todo])
        for (row, request, name), shot in zip(todo, shots):
            draw_row(row, shot, name, width, xs)
            row["shown"] = request

    # redrawn on every update, in this order (the points go over the probability image)
    animated = [a for r in rows for a in (r["im_w"], r["im_a"], r["im_p"], r["points"], *r["lines"], r["title"])]
    panel = widgets.Panel(
        fig, update, animated=animated,
        # these three retrain: they fire on release rather than at every pixel of a drag
        c=widgets.slider("constant c", -1.0, 1.0, 0.05, c, continuous_update=False),
        sigma=widgets.slider("random σ", 0.05, 2.0, 0.05, sigma, continuous_update=False),
        width=widgets.slider("hidden width", 1, max_width, 1, width, continuous_update=False),
        steps=widgets.slider("training steps", 0, steps, 5, steps),
    )
    return panel, titles


__all__ = ["units_at_start", "cost_curves", "explorer", "draw_row", "CONDITION_COLOURS"]
