"""Notebook 02's figures: per-layer histograms, the signal and gradient per layer for every
initialisation, leaky ReLU under two gains, training curves, and the histogram explorer panel.

Each function draws what the notebook computed and passed in (activations, a table of per-layer
numbers, training histories, or a ``snapshot`` callback that propagates a signal); nothing here
draws weights, propagates, trains or measures anything a lesson check relies on.

The per-layer table the notebook builds, ``table[activation, scheme, std]``, is a dict with
``var`` and ``grad_norm`` (one number per layer) and ``saturated`` (tanh, sigmoid) or ``dead``
(ReLU): a fraction per layer.
"""
from __future__ import annotations

import collections

import matplotlib as mpl
import numpy as np
from matplotlib.ticker import NullLocator

from .. import _checks, plot, widgets

# One colour per initialisation, the same in every figure of the notebook (Okabe-Ito order).
COLOURS = {"N(0, 1)": plot.PALETTE[0], "N(0, 0.01²)": plot.PALETTE[1], "Xavier normal": plot.PALETTE[2],
           "4× Xavier uniform": plot.PALETTE[3], "He normal": plot.PALETTE[4]}
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
KEPT = 1e3           # a curve whose values span less than this factor sets a panel's range; others may leave it
HIST_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "relu": (0.0, 3.0)}   # the explorer's activation x-range


def colour(label: str, k: int = 0) -> str:
    """The colour of an initialisation's label (the k-th palette colour for a label not in COLOURS)."""
    return COLOURS.get(label, plot.PALETTE[k % len(plot.PALETTE)])


_numpy = plot.as_numpy


def _histogram(values, lo: float, hi: float, bins: int) -> np.ndarray:
    """Counts of ``values`` (clamped into [lo, hi]) in ``bins`` equal bins, scaled to a peak of 1."""
    if hasattr(values, "detach"):            # a tensor: torch.histc is ~10x faster than numpy here
        counts = values.detach().clamp(lo, hi).float().histc(bins=bins, min=lo, max=hi).cpu().numpy()
    else:
        counts, _ = np.histogram(np.clip(_numpy(values).ravel(), lo, hi), bins=bins, range=(lo, hi))
    return counts / max(float(counts.max()), 1.0)


def share_of(p: dict) -> tuple[str, list]:
    """('saturated', fractions) or ('dead', fractions): the per-layer share a table entry holds."""
    kind = "dead" if "dead" in p else "saturated"
    return kind, list(p[kind])


def layer_histograms(rows: dict, *, value_range=(-1.0, 1.0), notes: dict | None = None,
                     titles: dict | None = None, bins: int = 40, xlabel: str = "activation",
                     figsize=(13, 5.2)):
    """One row per condition, one histogram per layer, each scaled to its own peak (so its shape shows).

    rows: {name: [values of layer 1, layer 2, ...]}. notes: {name: [a short text per layer]}, written
    inside each histogram (e.g. the saturated share). titles: {name: row title}; default the name.
    Returns the figure.
    """
    if not rows:
        raise ValueError("rows is empty: give {name: [values per layer]}")
    depth = max(len(v) for v in rows.values())
    lo, hi = value_range
    edges = np.linspace(lo, hi, bins + 1)
    fig, row_titles, axes = plot.figure_rows(len(rows), depth, figsize=figsize, sharey=True)
    for (name, layers), text, row_axes in zip(rows.items(), row_titles, axes):
        for k, ax in enumerate(row_axes):
            ax.set_xticks([lo, hi] if k == 0 else [])
            ax.set_yticks([])
            ax.grid(False)
            ax.set_xlim(lo, hi)
            ax.set_ylim(0, 1.25)
            ax.set_title(f"L{k + 1}")
            if k >= len(layers):
                ax.set_visible(False)
                continue
            ax.stairs(_histogram(layers[k], lo, hi, bins), edges, fill=True, color=plot.PALETTE[0])
            if notes and name in notes:
                ax.text(0.5, 0.97, notes[name][k], transform=ax.transAxes, ha="center", va="top")
        row_axes[0].set_xlabel(xlabel)
        row_axes[0].set_ylabel("share\n(to peak)")
        text.set_text((titles or {}).get(name, name))
    return fig


def _log_curves(ax, layers, curves: dict):
    """Curves on a log axis whose range is set by the curves that stay within KEPT of themselves;
    a curve that leaves the range is named at the edge it leaves by, with its most extreme value
    and the layer where it takes it."""
    arrays = {label: _numpy(v) for label, v in curves.items()}
    kept = [v for v in arrays.values() if np.all(v > 0) and v.max() / v.min() < KEPT] or list(arrays.values())
    lo = min(float(v[v > 0].min()) for v in kept) / 10
    hi = max(float(v.max()) for v in kept) * 10
    above, below = [], []
    for k, (label, v) in enumerate(arrays.items()):
        ax.plot(layers[: len(v)], np.clip(v, lo / 1e3, hi * 1e3), marker=MARKERS[k % len(MARKERS)],
                color=colour(label, k), label=label)
        if v.max() > hi:
            above.append((label, float(v.max()), int(v.argmax()) + 1, k))
        if v.min() < lo:
            below.append((label, float(v.min()), int(v.argmin()) + 1, k))
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ax.yaxis.set_minor_locator(NullLocator())            # decades only: no minor ticks (they cost half the draw)
    ax.set_xlim(layers[0] - 0.5, layers[-1] + 0.5)
    size = mpl.rcParams["legend.fontsize"]
    stacked = {}                                        # (edge, side) -> notes placed there so far
    for group, arrow, y0, step, va in [(above, "↑", 0.98, -0.085, "top"), (below, "↓", 0.02, 0.085, "bottom")]:
        for label, value, layer, k in group:
            # on the side away from where the curve leaves: the left for a signal that grows up the
            # layers, the right for a gradient that vanishes down them
            left = layer > len(layers) / 2
            j = stacked[va, left] = stacked.get((va, left), -1) + 1
            name = label.split(" = ")[0]              # "Xavier normal = N(0, 1/d)": the first name will do
            text = ax.text(0.03 if left else 0.97, y0 + j * step, f"{arrow} {name} {value:.0e} (L{layer})",
                           transform=ax.transAxes, ha="left" if left else "right", va=va, color=colour(label, k),
                           fontsize=size, bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
            text.set_in_layout(False)                   # a note inside the axes: the layout need not make room
    return lo, hi


def signal_figure(table: dict, cases, activations, *, labels: dict | None = None, title: str = "",
                  figsize=(13, 7.4)):
    """Per layer, for each activation (a column): the variance of the activations (top, log scale) and
    the saturated or dead share (bottom), one curve per initialisation.

    cases: the (scheme, std) pairs to draw; labels: {(scheme, std): legend label} (default the scheme).
    Each top panel's range is set by the curves that keep their size; an exploding or collapsing
    curve is named at the edge it leaves by. Returns the figure.
    """
    labels = labels or {}
    fig, row_titles, axes = plot.figure_rows(2, len(activations), figsize=figsize)
    layers = None
    for j, activation in enumerate(activations):
        entries = {labels.get(case, case[0]): table[(activation, *case)] for case in cases}
        layers = np.arange(1, len(next(iter(entries.values()))["var"]) + 1)
        _log_curves(axes[0][j], layers, {label: p["var"] for label, p in entries.items()})
        axes[0][j].set_title(activation)
        kind = None
        for k, (label, p) in enumerate(entries.items()):
            kind, share = share_of(p)
            axes[1][j].plot(layers, 100 * np.asarray(share), marker=MARKERS[k % len(MARKERS)],
                            color=colour(label, k), label=label)
        axes[1][j].set_ylim(-3, 103)
        axes[1][j].set_xlim(layers[0] - 0.5, layers[-1] + 0.5)
        axes[1][j].set_title(f"{activation}: {kind} %")
        axes[1][j].set_xlabel("layer")
    axes[0][0].set_ylabel("variance of activations")
    axes[1][0].set_ylabel("share of units %")
    axes[1][-1].legend(loc="upper left")        # the dead-% panel is empty up there
    row_titles[0].set_text(title)
    row_titles[1].set_text("saturated (tanh |a| > 0.97, sigmoid outside [0.03, 0.97]) or dead (ReLU: 0 for every input)")
    return fig


def gradient_figure(table: dict, cases, activations, *, labels: dict | None = None, title: str = "",
                    figsize=(13, 5.4)):
    """The gradient norm ‖∂C/∂z‖ per layer, one panel per activation, one curve per initialisation
    (ranges as in :func:`signal_figure`). Returns the figure."""
    labels = labels or {}
    fig, axes = plot.figure(1, len(activations), figsize=figsize)
    axes = np.atleast_1d(axes)
    for ax, activation in zip(axes, activations):
        curves = {labels.get(case, case[0]): table[(activation, *case)]["grad_norm"] for case in cases}
        layers = np.arange(1, len(next(iter(curves.values()))) + 1)
        _log_curves(ax, layers, curves)
        ax.set_title(activation)
        ax.set_xlabel("layer")
    axes[0].set_ylabel("gradient norm ‖∂C/∂z‖")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


def training_curves(histories: dict, *, title: str = "", ylim=(0, 3.5), figsize=None):
    """One panel per activation: the training cost of each initialisation (dlcore.train.History), a
    diverged run ending in an x and named "diverged at step k" (dlcore.plot.loss_curves); a
    diverged run whose whole curve lies above ``ylim`` is named "off the top", its x on the top edge.
    histories: {activation: {label: History}}. Returns the figure."""
    n = len(histories)
    fig, axes = plot.figure(1, n, figsize=figsize or (4.4 * n + 0.6, 5.4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (activation, runs) in zip(axes, histories.items()):
        lines = plot.loss_curves(ax, runs, colors={label: colour(label, k) for k, label in enumerate(runs)},
                                 ylabel="training cost C")
        for label, h in runs.items():      # a diverged run wholly above the panel: its x sits on the top edge
            line = lines[label]
            ys = np.asarray(line.get_ydata(), dtype=float)
            if h.diverged_at is not None and len(ys) and ys.min() > ylim[1]:
                for cross in ax.lines:
                    if cross.get_marker() == "x" and cross.get_color() == line.get_color():
                        cross.set_ydata([ylim[1]])
                        cross.set_clip_on(False)
                line.set_label(f"{label} (off the top; diverged at step {h.diverged_at}, x)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))     # below the panel: over no curve
        ax.set_title(activation)
        ax.set_ylim(*ylim)
    for ax in axes[1:]:
        ax.set_ylabel("")
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


def leaky_figure(stds: dict, slopes, gains, *, title: str = "", figsize=(13, 5.4)):
    """Leaky ReLU under two gains: one panel per gain (``gains``, in order), the activations' standard
    deviation per layer (log scale), one curve per negative slope a (``slopes``).

    stds: {(a, gain name): [std at layer 1, layer 2, ...]}. Returns the figure.
    """
    slopes, gains = list(slopes), list(gains)
    if not slopes or not gains:
        raise ValueError("leaky_figure needs at least one slope and one gain")
    missing = [(a, g) for a in slopes for g in gains if (a, g) not in stds]
    if missing:
        raise ValueError(f"stds has no curve for (slope, gain) {missing[0]!r}; it has {sorted(stds, key=str)!r}")
    fig, axes = plot.figure(1, len(gains), figsize=figsize, sharey=True)
    axes = np.atleast_1d(axes)
    values = np.array([_numpy(stds[a, g]) for a in slopes for g in gains], dtype=float)
    lo, hi = values.min() / 2, values.max() * 2
    for ax, gain in zip(axes, gains):
        for k, a in enumerate(slopes):
            v = _numpy(stds[a, gain])
            layers = np.arange(1, len(v) + 1)
            ax.plot(layers, v, marker=MARKERS[k % len(MARKERS)], color=plot.PALETTE[k % len(plot.PALETTE)],
                    label=f"a = {a:g}" + (" (ReLU)" if a == 0 else " (linear)" if a == 1 else ""))
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(layers[0] - 0.5, layers[-1] + 0.5)
        ax.set_title(gain)
        ax.set_xlabel("layer")
    axes[0].set_ylabel("std of activations")
    axes[0].legend(loc="upper left")           # the flat curves sit low on the left: the top left is free
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


def explorer(snapshot, *, activations, schemes, max_depth: int = 10, bins: int = 40, figsize=(12, 7),
             memory: int = 256):
    """The section-4 panel: histograms per layer (top) and variance, gradient norm and saturated or
    dead share per layer (bottom) for one activation, scheme, σ, depth and width.

    snapshot(activation, scheme, sigma, depth, width, show) -> dict with ``values`` (one tensor or
    array per layer: what ``show`` names), ``var``, ``grad_norm`` and ``bad`` (per layer; ``bad`` in
    %), computed by the notebook. For activations the x-range is fixed per activation; for
    pre-activations it is set by layer 1 and for gradients by the top layer (3 standard deviations),
    so a spike at 0 means the signal (or the gradient) has faded, mass at both edges that it has grown.

    Returns (panel, state): ``state`` holds the last snapshot's ``var``, ``grad_norm`` and ``bad``,
    for the notebook's checks to read back.

    ``snapshot`` must give the same numbers for the same setting (the notebook's draws are seeded):
    what the figure shows is kept for the last ``memory`` settings, so a drag that comes back over a
    value (out and back) redraws it without propagating again (~20 of a frame's ~40 ms on 2 cores).
    Once a browser shows the panel, the settings one slider move away are computed into that memory
    ahead, while the kernel is idle (:class:`dlcore.widgets.Panel`'s ``prefetch``).
    """
    memory = _checks.integer("memory", memory, low=0)
    layers = np.arange(1, max_depth + 1)
    fig, titles, (hist_axes, stat_axes) = plot.figure_rows(2, [max_depth, 3], figsize=figsize)
    bars = []
    for k, ax in enumerate(hist_axes):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"L{k + 1}")
        bars.append(ax.stairs(np.zeros(bins), np.linspace(0, 1, bins + 1), fill=True, color=plot.PALETTE[0]))
    hist_axes[0].set_ylabel("share of\nvalues")
    ax_var, ax_grad, ax_bad = stat_axes
    for ax, ylabel, (lo, hi) in [(ax_var, "variance of activations", (1e-22, 1e22)),
                                 (ax_grad, "gradient norm ‖∂C/∂z‖", (1e-14, 1e14))]:
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ax.set_ylabel(ylabel)
        ax.set_yticks([10.0 ** e for e in range(int(np.log10(lo)), int(np.log10(hi)) + 1, 7)])
    ax_bad.set_ylim(0, 100)
    ax_bad.set_ylabel("saturated / dead %")
    for ax in stat_axes:
        ax.set_xlim(0.5, max_depth + 0.5)
        ax.set_xlabel("layer")
    (line_var,) = ax_var.plot([], [], marker="o", color=plot.PALETTE[0])
    (line_grad,) = ax_grad.plot([], [], marker="o", color=plot.PALETTE[3])
    (line_bad,) = ax_bad.plot([], [], marker="o", color=plot.PALETTE[2])
    state = {}
    seen = collections.OrderedDict()   # setting -> (counts per layer, lo, hi, var, gnorm, bad), newest last

    def measure(setting):
        if setting in seen:
            seen.move_to_end(setting)
            return seen[setting]
        activation, scheme, sigma, depth, width, show = setting
        shot = snapshot(activation, scheme, sigma, depth, width, show)
        values = shot["values"]
        if show == "activations":
            lo, hi = HIST_RANGE[activation]
        else:   # a fixed range, set by one layer: layer 1 for z going up, the top layer for gradients coming down
            reference = values[0] if show == "pre-activations" else values[-1]
            spread = 3 * float(reference.std())
            lo, hi = -spread, spread
        counts = [_histogram(values[k], lo, hi, bins) for k in range(min(depth, max_depth))]
        seen[setting] = result = (counts, lo, hi, list(shot["var"]), list(shot["grad_norm"]), list(shot["bad"]))
        if len(seen) > memory:
            seen.popitem(last=False)
        return result

    def update(activation, scheme, sigma, depth, width, show):
        counts, lo, hi, var, gnorm, bad = measure((activation, scheme, sigma, depth, width, show))
        for k, (ax, bar) in enumerate(zip(hist_axes, bars)):
            ax.set_xlim(lo, hi)
            if k < depth:
                bar.set_data(counts[k], np.linspace(lo, hi, bins + 1))
            bar.set_visible(k < depth)
        line_var.set_data(layers[:depth], np.clip(var, 1e-22, 1e22))
        line_grad.set_data(layers[:depth], np.clip(gnorm, 1e-14, 1e14))
        line_bad.set_data(layers[:depth], bad)
        name = (f"N(0, {sigma:.2g}²)" if scheme == "N(0, σ²)" else scheme)
        kind = "dead" if activation == "relu" else "saturated"
        titles[0].set_text(f"{activation}, {name}, {depth}×{width}: {show} per layer (x from {lo:.2g} to {hi:.2g})")
        titles[1].set_text(f"variance ×{var[-1] / var[0]:.2g} from layer 1 to {depth}; gradient at layer 1 "
                           f"×{gnorm[0] / gnorm[-1]:.2g} of layer {depth}'s; {bad[-1]:.0f}% {kind}")
        state.update(var=list(var), grad_norm=list(gnorm), bad=list(bad))

    panel = widgets.Panel(
        fig, update, animated=[*bars, line_var, line_grad, line_bad, *titles],
        prefetch=lambda activation, scheme, sigma, depth, width, show: measure((activation, scheme, sigma, depth, width, show)),
        activation=widgets.dropdown("activation", list(activations), activations[0]),
        scheme=widgets.dropdown("scheme", list(schemes), schemes[0]),
        sigma=widgets.slider("σ (for N(0, σ²))", 0.001, 10.0, 0.1, 1.0, log=True),
        depth=widgets.slider("depth", 2, max_depth, 1, max_depth),
        width=widgets.slider("width", 32, 512, 32, 256),
        show=widgets.dropdown("show", ["activations", "pre-activations", "gradients"]),
    )
    return panel, state


__all__ = ["COLOURS", "colour", "layer_histograms", "signal_figure", "gradient_figure", "training_curves",
           "explorer", "share_of"]
