"""The house style, presenter mode, and the figures the notebooks draw again and again.

    from dlcore import plot
    plot.style()          # the house style; presenter mode if DLCORE_PRESENTER=1 is set
    plot.presenter()      # large fonts and thick lines for a projector, in one call

Colours come from the Okabe-Ito palette, which stays distinguishable under the common forms of
colour blindness; weight images use a diverging map centred on zero.
"""
from __future__ import annotations

import os

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

PRESENTER_ENV = "DLCORE_PRESENTER"
# Okabe & Ito (2008): blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow, black
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
DIVERGING = "RdBu_r"   # weights: blue < 0 < red, white at 0

_BASE = {
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titleweight": "bold",
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "image.cmap": "viridis",
    "legend.frameon": False,
    # Agg renders unhinted glyphs ~40% faster (text is the dearest part of a slider's redraw),
    # and at 100 dpi and these sizes they look the same.
    "text.hinting": "no_hinting",
}
_NORMAL = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "lines.linewidth": 2.0,
           "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 10}
# For the back of a lecture hall: ~16 pt text at 100 dpi is ~22 px, thick lines and markers.
_PRESENTER = {"font.size": 16, "axes.titlesize": 17, "axes.labelsize": 16, "lines.linewidth": 3.5,
              "lines.markersize": 9, "xtick.labelsize": 14, "ytick.labelsize": 14,
              "legend.fontsize": 14, "axes.linewidth": 1.5, "xtick.major.width": 1.5,
              "ytick.major.width": 1.5}


def is_presenter() -> bool:
    """Whether presenter mode is on (set by :func:`presenter` or ``DLCORE_PRESENTER=1``)."""
    return mpl.rcParams["font.size"] >= _PRESENTER["font.size"]


def style(presenter: bool | None = None) -> None:
    """Apply the house style. ``presenter=None`` reads the ``DLCORE_PRESENTER`` environment variable."""
    if presenter is None:
        presenter = os.environ.get(PRESENTER_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(presenter, bool):
        raise TypeError(f"presenter must be True, False or None; got {presenter!r}")
    mpl.rcParams.update(_BASE)
    mpl.rcParams.update(_PRESENTER if presenter else _NORMAL)
    _show_figures_in_ipython()


def _figure_png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _show_figures_in_ipython() -> None:
    """Make a figure that ends a notebook cell show as a picture.

    :func:`figure` builds figures outside pyplot (so the inline backend never shows a second copy
    of a slider's figure), and the inline backend only teaches IPython to draw figures once
    pyplot is imported. Without this, ``fig`` at the end of a cell prints "<Figure size ...>".
    """
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to display into
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, _figure_png)


def presenter(on: bool = True) -> None:
    """Switch presenter mode on (large fonts, thick lines) or off. Affects figures made after it."""
    style(presenter=on)


def figure(nrows: int = 1, ncols: int = 1, *, figsize=(9, 3.5), **kwargs):
    """A figure outside pyplot (so the inline backend never shows a second copy) and its axes.

    Returns (fig, axes) like ``plt.subplots`` (``kwargs`` go to ``Figure.subplots``: sharex,
    width_ratios, ...); the layout is constrained (nothing overlaps).
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **kwargs)
    return fig, axes


def figure_rows(nrows: int, ncols, *, figsize=(12, 6.5), **kwargs):
    """A figure of ``nrows`` rows, each a subfigure with its own title: one row per condition compared
    (constant vs random init, SGD vs Adam ...) or per kind of plot. Returns (fig, titles, axes):
    ``titles[i]`` is row i's title Text (``set_text`` it to state the row's finding). ``ncols`` is
    one number (``axes`` is then an array of shape (nrows, ncols)) or one per row (``axes`` is then
    a list of 1-D arrays); ``kwargs`` go to each row's ``subplots`` (width_ratios, sharey, ...).
    """
    counts = [ncols] * nrows if isinstance(ncols, int) else list(ncols)
    if len(counts) != nrows:
        raise ValueError(f"ncols must be one number or {nrows} numbers (one per row); got {ncols!r}")
    fig = Figure(figsize=figsize, layout="constrained")
    rows = np.atleast_1d(fig.subfigures(nrows, 1))
    axes = [np.atleast_1d(r.subplots(1, n, **kwargs)) for r, n in zip(rows, counts)]
    titles = [r.suptitle(" ", fontweight="bold", fontsize=mpl.rcParams["axes.titlesize"]) for r in rows]
    return fig, titles, (np.array(axes) if isinstance(ncols, int) else axes)


def class_colormap():
    """Light blue (class 0, p=0) through white to light orange (class 1, p=1): a background for
    predicted probabilities that the class colours of :func:`class_scatter` stand out on."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("classes", ["#9CC7E4", "#FFFFFF", "#F5D08A"])


def class_scatter(ax, X, y, *, size: float | None = None):
    """Scatter 2-D points coloured by class (Okabe-Ito blue, orange, green, ...), white-edged."""
    X, y = as_numpy(X), as_numpy(y).astype(int)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2); got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},); got {y.shape}")
    size = size or (40 if is_presenter() else 22)
    colours = np.array(PALETTE)[y % len(PALETTE)]
    return ax.scatter(X[:, 0], X[:, 1], c=colours, s=size, edgecolors="white", linewidths=0.6, zorder=3)


def weight_image(ax, W, *, vmax: float | None = None, title: str | None = None,
                 xlabel: str = "input", ylabel: str = "unit", colorbar: bool = True):
    """Draw a weight matrix (rows = units, columns = inputs) with a diverging map centred on 0.

    Returns the AxesImage, whose ``set_data`` a slider can call to update it in place.
    """
    W = as_numpy(W)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D matrix (units, inputs); got shape {W.shape}")
    if vmax is None:
        vmax = float(np.abs(W).max()) or 1.0
    im = ax.imshow(W, cmap=DIVERGING, vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax)
    return im


def loss_curves(ax, histories: dict, *, log: bool = False, val: bool = False, xlabel: str = "step",
                ylabel: str = "training loss", colors: dict | None = None):
    """Plot one loss curve per named History; a diverged run ends in an x and says so.

    Returns {name: Line2D}. Nothing non-finite reaches the plot: a run is drawn up to the last
    finite loss, and its legend entry reads "name (diverged at step k)". ``colors`` maps names to
    colours, so the same method keeps its colour across several axes.
    """
    if not isinstance(histories, dict):
        raise TypeError("histories must be a dict {name: History}")
    lines = {}
    for name, h in histories.items():
        steps, values = (h.val_step, h.val_loss) if val else (h.step, h.loss)
        steps, values = np.asarray(steps), np.asarray(values, dtype=float)
        ok = np.isfinite(values)
        label = name if h.diverged_at is None else f"{name} (diverged at step {h.diverged_at})"
        style = {"color": colors[name]} if colors and name in colors else {}
        (line,) = ax.plot(steps[ok], values[ok], label=label, **style)
        if h.diverged_at is not None and ok.any():
            ax.plot(steps[ok][-1], values[ok][-1], "x", color=line.get_color(), markersize=14, mew=3)
        lines[name] = line
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return lines


def layer_histograms(tensors, *, bins: int = 50, range=None, labels=None, figsize=None,
                     xlabel: str = "activation"):
    """One histogram per layer, side by side (the makemore / Glorot figure).

    tensors: a list of arrays or tensors, one per layer. Returns (fig, axes, steps) where each
    step artist's ``set_data`` can update a histogram in place.
    """
    arrays = [as_numpy(t).ravel() for t in tensors]
    if not arrays:
        raise ValueError("tensors is empty: give one array per layer")
    if range is None:
        lo = min(float(a.min()) for a in arrays)
        hi = max(float(a.max()) for a in arrays)
        range = (lo, hi if hi > lo else lo + 1.0)
    fig, axes = figure(1, len(arrays), figsize=figsize or (2.2 * len(arrays) + 1, 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    steps = []
    for i, (ax, a) in enumerate(zip(axes, arrays)):
        counts, edges = np.histogram(a, bins=bins, range=range, density=True)
        steps.append(ax.stairs(counts, edges, fill=True, color=PALETTE[0], alpha=0.8))
        ax.set_title(labels[i] if labels else f"layer {i + 1}")
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("density")
    return fig, axes, steps


def as_numpy(x) -> np.ndarray:
    """A tensor (any device) or array-like as a float numpy array, for drawing."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


__all__ = ["PALETTE", "DIVERGING", "style", "presenter", "is_presenter", "figure",
           "figure_rows", "class_colormap", "class_scatter",
           "weight_image", "loss_curves", "layer_histograms", "as_numpy"]
