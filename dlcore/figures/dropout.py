"""Notebook 05's figures: a dropout mask at work, the "total turning" of a curve, dropout's
decision boundaries on the spirals, the sub-network (MC dropout) slider, the gap between the
average of k sub-networks and the eval-mode network, and the explicit ensemble on MNIST (one
run, and what diversity buys: same data against bagging, on a small and a larger training set).

Each function draws numbers the notebook computed and returns the figure (the slider: the Panel
and a dict of what it shows, which the notebook's checks read back); the slider's callback
calls the notebook's own function for what it shows. Nothing here trains or measures a quantity
a lesson check relies on. The plane is an N x N grid of points (``axis``: its N coordinates,
the same along x1 and x2, x1 along the rows of ``grid``); grid values arrive flattened, (N*N,).
"""
from __future__ import annotations

import functools

import matplotlib.ticker as mticker
import numpy as np
from contourpy import contour_generator
from matplotlib.collections import LineCollection

from .. import _checks, plot, widgets


_np = plot.as_numpy


def contour(z, axis, level: float = 0.0) -> list[np.ndarray]:
    """The curve z = level of grid values z (N*N,) as (n, 2) point arrays: LineCollection segments."""
    axis = np.asarray(axis, dtype=float)
    z = np.asarray(z, dtype=float).reshape(len(axis), len(axis))
    return contour_generator(axis, axis, z, line_type="Separate").lines(level)


def smooth(z, n: int, up: int = 3) -> np.ndarray:
    """Grid values (n*n,) -> an (up*n, up*n) image, bilinear. Drawn with interpolation="nearest" it
    looks smooth without matplotlib's slower resampling, which keeps the slider fast."""
    import torch
    import torch.nn.functional as F

    img = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, 1, n, n)
    return F.interpolate(img, scale_factor=up, mode="bilinear")[0, 0].numpy()


class Plane:
    """Draws probabilities over the grid with the training points on top (one Line2D per class)."""

    def __init__(self, axis, train):
        self.axis = np.asarray(axis, dtype=float)
        self.n = len(self.axis)
        step = self.axis[1] - self.axis[0]
        lo, hi = self.axis[0] - step / 2, self.axis[-1] + step / 2
        self.extent = (lo, hi, lo, hi)                       # pixel centres on the grid points
        self.X, self.y = _np(train[0]), _np(train[1]).astype(int)

    def draw(self, ax, prob, title: str, *, cmap=None, vmax: float = 1.0):
        """(image, [dots of class 0, dots of class 1]) on ``ax``."""
        import matplotlib as mpl

        img = ax.imshow(smooth(prob, self.n), origin="lower", extent=self.extent, vmin=0, vmax=vmax,
                        cmap=cmap or plot.class_colormap(), interpolation="nearest")
        size = 0.8 * mpl.rcParams["lines.markersize"]
        dots = [ax.plot(self.X[self.y == c, 0], self.X[self.y == c, 1], "o", ms=size, color=plot.PALETTE[c],
                        mec="white", mew=0.8)[0] for c in (0, 1)]
        ax.set_xlim(self.axis[0], self.axis[-1])
        ax.set_ylim(self.axis[0], self.axis[-1])
        ax.set_aspect("equal")
        ax.grid(False)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_title(title)
        return img, dots


def mask_figure(h, y, *, rows: int = 12, cols: int = 40):
    """Dropout at work on a block of activations: h (left), y = dropout(h) (middle; dropped units
    white), and each unit's mean over all examples before and after (right)."""
    h, y = _np(h), _np(y)
    if h.shape != y.shape or h.ndim != 2:
        raise ValueError(f"h and y must be two (n, units) arrays of one shape; got {h.shape}, {y.shape}")
    import matplotlib as mpl

    block_h, block_y = h[:rows, :cols], y[:rows, :cols]
    vmax = float(np.percentile(block_y[block_y != 0], 98)) if (block_y != 0).any() else 1.0   # no lone outlier sets it
    cmap = mpl.colormaps["viridis"].with_extremes(bad="white")
    fig, axes = plot.figure(1, 3, figsize=(15, 4.3), width_ratios=[1, 1, 1.05])
    for ax, block, title in [(axes[0], block_h, "activations h"),
                             (axes[1], np.ma.masked_equal(block_y, 0.0), "after dropout (white: dropped)")]:
        img = ax.imshow(block, cmap=cmap, vmin=min(0.0, float(block_h.min())), vmax=vmax, aspect="auto",
                        interpolation="nearest")
        ax.set_xlabel("hidden unit")
        ax.set_ylabel("example")
        ax.grid(False)
        ax.set_title(title)
    fig.colorbar(img, ax=axes[1], shrink=0.85, label="value")
    units = np.arange(cols)
    ax = axes[2]
    ax.plot(units, h[:, :cols].mean(0), "o-", color=plot.PALETTE[0], label="h, mean over examples")
    ax.plot(units, y[:, :cols].mean(0), "s--", color=plot.PALETTE[3], label="after dropout")
    ax.set_ylim(0, 1.6 * float(h[:, :cols].mean(0).max()))
    ax.set_xlabel("hidden unit")
    ax.set_ylabel("mean value")
    ax.legend(loc="lower right")
    ax.set_title("each unit's mean is kept")
    return fig


def turning_figure(curves: dict, turns: dict):
    """Example curves, each with its total turning (radians) in the title: one panel per curve."""
    fig, axes = plot.figure(1, len(curves), figsize=(4.3 * len(curves), 3.9))
    for ax, (name, pts), colour in zip(np.atleast_1d(axes), curves.items(), plot.PALETTE):
        pts = _np(pts)
        ax.plot(pts[:, 0], pts[:, 1], color=colour, lw=4)
        ax.plot(*pts[0], "o", color=colour, ms=10)
        ax.annotate("", xy=pts[len(pts) // 8], xytext=pts[len(pts) // 8 - 3],
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=3, mutation_scale=30))
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}:\nturns {turns[name]:.1f} rad")
    return fig


def boundary_figure(plane: Plane, probs, bounds, turns, rates, acc: dict, *, show=(0, 2)):
    """Two networks' probabilities and boundaries (rates[show[0]], rates[show[1]]), and accuracy
    against the dropout rate.

    probs[j]: network j's P(class 1) on the grid (N*N,); bounds[j]: its boundary's segments;
    turns[j]: their total turning. acc: label -> (values per rate, style): the accuracy curves.
    """
    fig, axes = plot.figure(1, 3, figsize=(16, 5.4), width_ratios=[1, 1, 1.2])
    for ax, j in zip(axes[:2], show):
        plane.draw(ax, probs[j], f"p = {rates[j]}: turns {turns[j]:.0f} rad")
        ax.add_collection(LineCollection(bounds[j], colors="black", linewidths=2.5))
    ax = axes[2]
    for label, (values, style, colour, alpha) in acc.items():
        ax.plot(rates, values, style, color=colour, alpha=alpha, label=label)
    ax.set_xticks(rates)
    ax.set_xlabel("dropout rate p")
    ax.set_ylabel("accuracy (eval mode)")
    ax.set_ylim(0.6, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title("accuracy vs p")
    fig.suptitle("Dropout lowers the training accuracy and straightens the boundary;\n"
                 "the test accuracy changes far less (averaged over draws, p = 0.25 and 0.5 raise it a little)", fontweight="bold")
    return fig


def draws_table(rates, rows: dict, *, scale: dict | None = None) -> str:
    """An aligned table: one row per quantity, one column per rate, "mean (min .. max)" over draws.

    rows: label -> (draws, rates) array; scale: label -> (factor, format), e.g. (100, "+.1f").
    """
    scale = scale or {}
    cells = {label: [] for label in rows}
    for label, values in rows.items():
        factor, fmt = scale.get(label, (1.0, ".3g"))
        v = np.asarray(values, dtype=float) * factor
        cells[label] = [f"{m:{fmt}} ({lo:{fmt}} .. {hi:{fmt}})" for m, lo, hi in zip(v.mean(0), v.min(0), v.max(0))]
    n_cols = max(len(c) for c in cells.values())
    head = [f"p = {p:g}" for p in rates][-n_cols:]
    width = max(len(s) for c in cells.values() for s in c + head)
    label_w = max(len(label) for label in rows)
    lines = [" " * label_w + "  " + "  ".join(f"{h:>{width}}" for h in head)]
    for label, c in cells.items():
        pad = [""] * (n_cols - len(c))
        lines.append(f"{label:>{label_w}}  " + "  ".join(f"{s:>{width}}" for s in pad + c))
    return "\n".join(lines)


def mc_panel(compute, rates, eval_probs, eval_bounds, plane: Plane, *, show: int = 32, start=(0.5, 8),
             memory: int = 64):
    """The sub-network slider: k random sub-networks and their mean (left), the eval-mode network
    with the mean's boundary dashed (middle), and the sub-networks' spread (right).

    compute(j, k, draw) -> dict with "logits" (k, N*N), "mean" and "spread" (N*N,) and "agree" (a
    share): the notebook's MC dropout for network j, the same for the same (j, k, draw) (its masks
    seeded). Only rates[1:] (p > 0) are offered; the slider's p picks the nearest. Returns (panel,
    view): ``view`` holds the p, k and the mean, spread and agreement shown now.

    What a setting shows (compute's numbers and the curves traced from them) is kept for the last
    ``memory`` settings, and once a browser shows the panel the settings one slider move away are
    computed ahead while the kernel is idle (:class:`dlcore.widgets.Panel`'s ``prefetch``): a drag
    over k then costs the redraw alone.
    """
    rates = list(rates)
    n = plane.n
    axis = plane.axis
    eval_images = [smooth(pr, n) for pr in eval_probs]          # they change only with p: precomputed
    fig, titles, axes = plot.figure_rows(1, 3, figsize=(14, 5.4))
    ax_sub, ax_eval, ax_spread = axes[0]
    mean_img, dots_a = plane.draw(ax_sub, np.full(n * n, 0.5), "sub-networks + their mean")
    eval_img, dots_b = plane.draw(ax_eval, np.full(n * n, 0.5), "eval mode, the mean dashed")
    spread_img, dots_c = plane.draw(ax_spread, np.zeros(n * n), "their spread", cmap="magma", vmax=0.5)
    fig.colorbar(spread_img, ax=ax_spread, shrink=0.8, label="std of sigmoid(s) over sub-networks")
    sub_lines = ax_sub.add_collection(LineCollection([], colors="0.2", linewidths=1.5, alpha=0.5))
    mean_line = ax_sub.add_collection(LineCollection([], colors="black", linewidths=3.5))
    eval_line = ax_eval.add_collection(LineCollection([], colors="black", linewidths=3.5))
    mean_dashed = ax_eval.add_collection(LineCollection([], colors=plot.PALETTE[3], linewidths=3, linestyles="--"))
    view: dict = {}

    def nearest(p):                        # the nearest trained rate
        return min(range(1, len(rates)), key=lambda i: abs(rates[i] - p))

    @functools.lru_cache(maxsize=_checks.integer("memory", memory, low=0))
    def shown_at(j, k, draw):
        # compute's numbers for one setting and the curves traced from them (the k logits' zero
        # lines, the mean's 0.5 line): ~12 ms of a frame on 2 cores; the logits themselves are not kept
        shown = compute(j, k, draw)
        return {"mean": shown["mean"], "spread": shown["spread"], "agree": shown["agree"],
                "sub_bounds": [seg for s in shown["logits"] for seg in contour(s, axis)],
                "mean_bound": contour(shown["mean"], axis, 0.5)}

    def update(p, k, draw):
        j = nearest(p)
        shown = shown_at(j, k, draw)
        mean_img.set_data(smooth(shown["mean"], n))
        sub_lines.set_segments(shown["sub_bounds"])
        mean_line.set_segments(shown["mean_bound"])
        mean_dashed.set_segments(shown["mean_bound"])
        if j != view.get("j"):            # the eval-mode network changes with p only: else left alone
            eval_img.set_data(eval_images[j])
            eval_line.set_segments(eval_bounds[j])
        spread_img.set_data(smooth(shown["spread"], n))
        titles[0].set_text(f"p = {rates[j]}, k = {k}: the mean of {k} sub-network{'s' * (k > 1)} "
                           f"and the eval-mode network agree on {shown['agree']:.1%} of the plane")
        view.update(mean=shown["mean"], spread=shown["spread"], agree=shown["agree"], p=rates[j], k=k, j=j)

    panel = widgets.Panel(
        fig, update,
        # the eval-mode image and boundary first: moving k leaves them alone, and the Panel then
        # keeps them with the background instead of drawing them again
        animated=[eval_img, eval_line, mean_img, spread_img, sub_lines, mean_line, mean_dashed, *dots_a,
                  *dots_b, *dots_c, titles[0]],
        prefetch=lambda p, k, draw: shown_at(nearest(p), k, draw),
        p=widgets.slider("dropout p", min(rates[1:]), max(rates[1:]), rates[2] - rates[1], start[0]),
        k=widgets.slider("sub-networks k", 1, show, 1, start[1]),
        draw=widgets.button("resample masks"),   # update gets the number of clicks: a new draw
    )
    return panel, view


def gap_figure(ks, logit_gap, prob_gap, theory, slope_logit: float):
    """Log-log: the mean gap between the average of k sub-networks and the eval-mode network, on
    the logits (with the theory line) and on the probabilities (with a 1/sqrt(k) line and the plateau)."""
    ks, logit_gap, prob_gap, theory = map(_np, (ks, logit_gap, prob_gap, theory))
    fig, axes = plot.figure(1, 2, figsize=(14, 5.2))
    ax = axes[0]
    ax.loglog(ks, logit_gap, "o-", color=plot.PALETTE[0], label="average of k sub-networks")
    ax.loglog(ks, theory, ":", color="0.3", label=r"theory $\sqrt{2/\pi}\,\bar\tau/\sqrt{k}$")
    ax.set_xlabel("k (sub-networks averaged)")
    ax.set_ylabel("mean |logit gap|")
    ax.set_title(f"(a) logits: slope {slope_logit:.2f}: on towards 0")
    ax.legend(loc="lower left")
    ax = axes[1]
    ax.loglog(ks, prob_gap, "o-", color=plot.PALETTE[3], label="average of k sub-networks")
    ax.loglog(ks, prob_gap[0] / np.sqrt(ks), ":", color="0.3", label=r"if it fell as $1/\sqrt{k}$")
    ax.axhline(prob_gap[-1], color=plot.PALETTE[3], ls="--", lw=1.5, label=f"plateau {prob_gap[-1]:.3f}")
    ax.set_xlabel("k (sub-networks averaged)")
    ax.set_ylabel("mean |probability gap|")
    ax.set_title("(b) probabilities: a plateau")
    # label the ticks at 2 and 5 of every decade as well, so values such as 0.026 or 0.065 can be read off
    ax.yaxis.set_minor_locator(mticker.LogLocator(base=10, subs=(2.0, 5.0)))
    plain = mticker.FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.legend(loc="lower left")
    fig.suptitle("The average of k sub-networks reaches the eval-mode network\n"
                 "on the logits, not on the probabilities", fontweight="bold")
    return fig


def ensemble_figure(first_j, member_acc, ens_acc: float):
    """Test accuracy of the ensemble of the first j members against j, over the members' range."""
    first_j, member_acc = _np(first_j), _np(member_acc)
    js = np.arange(1, len(first_j) + 1)
    fig, ax = plot.figure(figsize=(12, 5))
    ax.fill_between(js, member_acc.min(), member_acc.max(), color=plot.PALETTE[1], alpha=0.25,
                    label="single members (range)")
    ax.axhline(member_acc.mean(), color=plot.PALETTE[1], ls="--", label="average member")
    ax.plot(js, first_j, "o-", color=plot.PALETTE[0], label="ensemble of the first j")
    ax.set_xlabel("networks averaged j")
    ax.set_ylabel("test accuracy")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(f"{len(first_j)} averaged: {ens_acc:.1%}, the average member {member_acc.mean():.1%} "
                 f"(+{100 * (ens_acc - member_acc.mean()):.2f} points, axis zoomed)")
    return fig


def diversity_figure(results: dict, *, styles: dict | None = None):
    """Accuracy against the number of members averaged, one panel per training-set size.

    results: {panel title: {strategy: (first_j (E,), member_acc (E,), disagreement)}}: first_j[j-1]
    the test accuracy of the ensemble of the first j members, member_acc each member's own,
    disagreement the share of test points on which two members disagree (in the legend). Each
    strategy is drawn as the ensemble (solid, dots) and its average member (dashed, same colour).
    """
    styles = styles or {}
    colours = iter([plot.PALETTE[0], plot.PALETTE[3], plot.PALETTE[2], plot.PALETTE[4]])
    colour = {name: styles.get(name, next(colours)) for name in dict.fromkeys(
        name for panel in results.values() for name in panel)}
    fig, axes = plot.figure(1, len(results), figsize=(7.2 * len(results), 5.6))
    for ax, (title, panel) in zip(np.atleast_1d(axes), results.items()):
        gains = []
        for name, (first_j, member_acc, disagree) in panel.items():
            first_j, member_acc = _np(first_j), _np(member_acc)
            js = np.arange(1, len(first_j) + 1)
            ax.plot(js, first_j, "o-", color=colour[name],
                    label=f"{name}: ensemble of j (disagree {disagree:.0%})")
            ax.axhline(member_acc.mean(), color=colour[name], ls="--", lw=2.5,
                       label=f"{name}: average member")
            gains.append(f"{name} {100 * (first_j[-1] - member_acc.mean()):+.1f}")
        ax.set_xlabel("members averaged j")
        ax.set_ylabel("test accuracy")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.55 * (hi - lo))                 # room for the legend above the curves
        ax.legend(loc="upper right", fontsize="small")
        ax.set_title(f"{title}\ngain over the average member: {', '.join(gains)} points")
    fig.suptitle("Bagging makes the members worse and more different: a larger gain over the average\n"
                 "member, yet no better an ensemble than the same data", fontweight="bold")
    return fig


__all__ = ["Plane", "contour", "smooth", "mask_figure", "turning_figure", "boundary_figure", "draws_table",
           "mc_panel", "gap_figure", "ensemble_figure", "diversity_figure"]
