"""Notebook 07's figures and slider panel: input normalisation and the shape of the loss bowl.

    from dlcore.figures import normalisation
    normalisation.inputs_figure({"raw": X, "centred": X - mu})          # a static figure
    panel, shown = normalisation.bowls_panel(four_bowls)                 # the slider panel

Every function draws what the notebook computed and passes in (inputs, excess-cost curves, the
notebook's quadratic problems and their best rates, SGD paths, accuracies); nothing here trains or
measures what a lesson check relies on. The panel comes with ``shown``, the artists the
notebook's checks read back.
"""
from __future__ import annotations

import math

import numpy as np

from .. import plot, widgets

VERSIONS = ["raw", "centred", "standardised", "whitened"]
COLOURS = dict(zip(VERSIONS, [plot.PALETTE[3], plot.PALETTE[1], plot.PALETTE[0], plot.PALETTE[2]]))
ACTIVATION_COLOURS = dict(zip(["sigmoid", "ReLU", "tanh", "sigmoid − ½"],
                              [plot.PALETTE[3], plot.PALETTE[1], plot.PALETTE[0], plot.PALETTE[2]]))
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 120)), np.sin(np.linspace(0, 2 * np.pi, 120))])  # (2, 120)


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def short(x: float) -> str:
    """9.68, 283, 15,145, 8.2·10⁷: a count or a condition number short enough for a title."""
    if x >= 1e5:
        e = int(math.floor(math.log10(x)))
        return f"{x / 10**e:.1f}·10{str(e).translate(_SUPERSCRIPT)}"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def inputs_figure(versions: dict, *, title: str):
    """One scatter per version of the inputs {name: (n, 2)}, equal axes, the origin drawn in."""
    fig, axes = plot.figure(1, len(versions), figsize=(3.6 * len(versions), 4.2))
    for ax, (name, X) in zip(np.atleast_1d(axes), versions.items()):
        X = _numpy(X)
        ax.axhline(0, color="black", linewidth=1)
        ax.axvline(0, color="black", linewidth=1)
        ax.plot(X[:, 0], X[:, 1], "o", color=COLOURS.get(name, plot.PALETTE[0]), markersize=3, alpha=0.6)
        lo, hi = np.minimum(X.min(0), 0), np.maximum(X.max(0), 0)
        centre, half = (lo + hi) / 2, 0.55 * (hi - lo).max()
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_title(name)
    fig.suptitle(title, fontweight="bold")
    return fig


def steps_figure(t, curves: dict, steps: dict, *, title: str):
    """Excess cost / target against the step, one curve per version {name: (T,)} (values below
    1e-3 are left out), a dot where each reaches the target (``steps`` {name: n})."""
    t = np.asarray(t)
    fig, ax = plot.figure(figsize=(9, 4.8))
    for v, curve in curves.items():
        curve = np.array(curve, dtype=float)
        curve[curve < 1e-3] = np.nan                       # below the plot: left out, not a flat line
        n = steps[v]
        ax.plot(t, curve, color=COLOURS[v], label=f"{v}: {n:,} step{'s' * (n != 1)}")
        ax.plot(n, 1, "o", color=COLOURS[v], markersize=10)
    ax.axhline(1, color="black", linestyle="--", linewidth=1.5)
    ax.text(0.1, 2, "target", fontsize="small")
    ax.set_xscale("symlog", linthresh=1, linscale=0.4)      # linear from 0 to 1, logarithmic after
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1e9)
    ax.set_xlim(0, t.max())
    ax.set_xlabel("gradient-descent step (each at its best rate)")
    ax.set_ylabel("excess cost / target")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title)
    return fig


def _contours(p, scale: float, levels: int) -> np.ndarray:
    """The ellipses C - C* = C0 / 4^k (k = 0 through the start), as one polyline with NaN gaps."""
    pieces = []
    for k in range(levels):
        c = p.weight.sum() / 4.0**k
        pieces += [(p.U * np.sqrt(2 * c / p.lam)) @ _CIRCLE / scale, np.full((2, 1), np.nan)]
    return np.hstack(pieces)                                 # (2, levels * 121)


def bowls_panel(bowls, *, offset: float = 5.0, ratio: float = 10.0, rho: float = 0.8, max_path: int = 20_000,
                levels: int = 7):
    """Section 3's panel: the cost's contours over (w1, w2) for each version, and GD's path.

    bowls(offset, ratio, rho) -> {version: (p, lr, n)}: the version's quadratic problem p (with
    ``lam`` and ``U``, its Hessian's eigen-decomposition, ``weight``, each direction's share of the
    start's excess cost, ``kappa`` and ``path(lr, steps)`` -> (steps + 1, 2) weights), its best rate
    and its steps to the target. Each panel is centred on the minimum and scaled so that the
    contour through the start fills it. Returns (panel, shown).
    """
    fig, titles, axes = plot.figure_rows(1, 4, figsize=(15, 5.0))
    art = {}
    for ax, v in zip(axes[0], VERSIONS):
        (level_lines,) = ax.plot([], [], color="grey", linewidth=1.2, alpha=0.8)
        (path_line,) = ax.plot([], [], color=COLOURS[v], linewidth=1.8)    # no markers: 20,000 cost ~15 ms
        (start,) = ax.plot([], [], "o", color="black", markersize=9)
        (star,) = ax.plot(0, 0, "*", color="black", markersize=16)        # animated too: drawn over the path
        ax.set_xlim(-1.08, 1.08)
        ax.set_ylim(-1.08, 1.08)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        art[v] = dict(levels=level_lines, path=path_line, start=start, star=star,
                      title=ax.set_title(" ", fontsize="medium"))
    titles[0].set_text("Normalising rounds the cost's bowl: GD's path from ● to the minimum ★, each at its best rate")

    def update(offset, ratio, rho):
        for v, (p, lr, n) in bowls(offset, ratio, rho).items():
            scale = math.sqrt(2 * p.weight.sum() / p.lam[0])              # the start contour's long semi-axis
            path = (p.path(lr, min(n, max_path)) - p.w_star) / scale      # (T, 2), centred on w*
            a = art[v]
            a["levels"].set_data(*_contours(p, scale, levels))
            a["path"].set_data(path[:, 0], path[:, 1])
            a["start"].set_data([path[0, 0]], [path[0, 1]])
            a["title"].set_text(f"{v}\nκ = {short(p.kappa)}, {short(n)} step{'s' * (n != 1)}")

    panel = widgets.Panel(
        fig, update, animated=[x for v in VERSIONS for x in art[v].values()],
        offset=widgets.slider("offset o", 0.0, 10.0, 0.5, offset),
        ratio=widgets.slider("scale ratio s", 1.0, 100.0, 0.05, ratio, log=True),
        rho=widgets.slider("correlation ρ", 0.0, 0.99, 0.01, rho),
    )
    shown = {"titles": {v: art[v]["title"] for v in VERSIONS},
             "paths": {v: art[v]["path"] for v in VERSIONS}}
    return panel, shown


def zigzag_figure(run: dict, w_star, *, title: str, levels: int = 6):
    """SGD's path from 0 to w_star on each activation's inputs {name: dict(path, H, steps, mixed)},
    over the contours of the full-batch cost (through the start and below)."""
    w_star = np.asarray(w_star, dtype=float)
    fig, titles, axes = plot.figure_rows(1, len(run), figsize=(15, 5.0))
    for ax, (name, r) in zip(axes[0], run.items()):
        H = np.asarray(r["H"])
        lam_h, U_h = np.linalg.eigh(H)
        for c in 0.5 * w_star @ H @ w_star / 4.0 ** np.arange(levels):
            ell = w_star[:, None] + (U_h * np.sqrt(2 * c / lam_h)) @ _CIRCLE
            ax.plot(ell[0], ell[1], color="grey", linewidth=1, alpha=0.7)
        path = np.asarray(r["path"])
        ax.plot(path[:, 0], path[:, 1], color=ACTIVATION_COLOURS.get(name, plot.PALETTE[0]), marker="o",
                markersize=4, linewidth=2)
        ax.plot(0, 0, "o", color="black", markersize=9)
        ax.plot(*w_star, "*", color="black", markersize=18)
        # a square box around the whole path, the start and w_star: every overshoot stays on the chart
        pts = np.vstack([path, np.zeros((1, 2)), w_star[None]])
        lo, hi = pts.min(0), pts.max(0)
        centre, half = (lo + hi) / 2, max(1.1, 0.55 * (hi - lo).max() * 1.1)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal")
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_title(f"{name}\n{r['steps']} steps, {r['mixed']} mixed", fontsize="medium")
    titles[0].set_text(title)
    return fig


def own_statistics_figure(right, wrong, mean_train, mean_own, *, title: str, batch: str = "the batch",
                          vmax: float = 1.5):
    """Accuracy per one-digit test batch with the training statistics and with the batch's own
    (left); one batch's mean image (``batch`` names it), normalised both ways (right, (28, 28) each)."""
    right, wrong = np.asarray(right), np.asarray(wrong)
    fig, axes = plot.figure(1, 3, figsize=(14, 4.6), width_ratios=[2.2, 1, 1])
    x = np.arange(len(right))
    axes[0].bar(x - 0.2, right, 0.4, color=plot.PALETTE[0], label="training statistics")
    axes[0].bar(x + 0.2, wrong, 0.4, color=plot.PALETTE[3], label="the batch's own")
    axes[0].set_xticks(x)
    axes[0].set_xlabel("digit in the test batch")
    axes[0].set_ylabel("accuracy")
    axes[0].set_ylim(0, 1.3)
    axes[0].set_yticks([0, 0.25, 0.5, 0.75, 1])
    axes[0].legend(loc="upper left", ncols=2)
    axes[0].set_title("one-digit test batches")
    for ax, image, label in [(axes[1], mean_train, "training statistics"), (axes[2], mean_own, "the batch's own")]:
        im = ax.imshow(_numpy(image).reshape(28, 28), cmap=plot.DIVERGING, vmin=-vmax, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.spines[:].set_visible(True)
        ax.set_title(f"mean of {batch},\n{label}", fontsize="medium")
    if np.abs(_numpy(mean_own)).max() < 1e-3:
        axes[2].text(13.5, 13.5, "0 everywhere", ha="center", va="center", fontsize="medium")
    fig.colorbar(im, ax=axes[2], label="standardised pixel")
    fig.suptitle(title, fontweight="bold")
    return fig


__all__ = ["VERSIONS", "COLOURS", "ACTIVATION_COLOURS", "short", "inputs_figure", "steps_figure", "bowls_panel",
           "zigzag_figure", "own_statistics_figure"]
