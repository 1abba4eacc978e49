"""Notebook 08's figures: SGD's own noisy loss, the gradient noise against m, GD against SGD,
the order of the examples and the emphasis on hard examples, the learning-rate search, grid
against random search (and its slider), too small / too large, the slider, learning-rate
schedules, and the momentum warm-up.

Every function draws what the notebook computed and passed in (losses, search results, curves
already smoothed); none trains or measures anything. Each returns the figure (the slider: the
:class:`dlcore.widgets.Panel` and a state dict that the notebook's checks read back).
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib import ticker
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from dlcore import plot, widgets


def _plain_log(ax, axis: str = "y"):
    """Plain decimal tick labels (0.3, 0.6, 1, 2, 3; 0.0001 ... 1) on a log axis, instead of
    matplotlib's 3x10^0 and 6x10^-1; call it once the axis limits are set."""
    a = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    span = hi / lo if lo > 0 else math.inf
    subs = (1.0,) if span > 1e3 else (1.0, 2.0, 5.0) if span > 30 else (1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
    a.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    a.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(ticker.NullFormatter())


def table(header, rows) -> str:
    """A small text table: ``header`` a list of column names, ``rows`` lists of strings already
    formatted; every column right-aligned to its widest entry."""
    cols = [list(map(str, c)) for c in zip(header, *rows)]
    widths = [max(len(s) for s in c) for c in cols]
    lines = ["  ".join(s.rjust(w) for s, w in zip(row, widths)) for row in [header, *rows]]
    return "\n".join(lines)


def batch_losses(losses, *, batch_size: int, n: int, window: int = 10):
    """Each SGD step's loss on its own mini-batch (dots) and their trailing mean (line)."""
    losses = np.asarray(losses, dtype=float)
    steps = np.arange(1, len(losses) + 1)
    c = np.cumsum(np.insert(losses, 0, 0.0))
    k = np.minimum(steps, window)
    mean = (c[steps] - c[steps - k]) / k
    fig, ax = plot.figure(figsize=(9, 4.6))
    ax.plot(steps, losses, "o", color=plot.PALETTE[5], markersize=5 if plot.is_presenter() else 3.5,
            label=f"the loss on the step's own batch of m = {batch_size}")
    ax.plot(steps, mean, color=plot.PALETTE[0], label=f"mean of the last {window} batches")
    per_epoch = n // batch_size
    for e in range(per_epoch, len(losses), per_epoch):
        ax.axvline(e + 0.5, color="grey", linestyle=":", linewidth=2)
        ax.text(e + 2, 0.6 * losses.max(), f"epoch {e // per_epoch + 1}", color="grey", va="top")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("mini-batch loss")
    ax.legend(loc="upper right")
    ax.set_title("SGD never sees the training loss: a new, noisy one at every step")
    return fig


def noise(sizes, measured, naive, corrected, *, n: int, draws, slope: float):
    """The measured standard error of the mini-batch gradient against m, with both formulas."""
    draws = np.asarray(draws)
    fig, ax = plot.figure(figsize=(9, 5))
    ax.loglog(sizes, naive, "--", color=plot.PALETTE[1], label=r"$\sigma/\sqrt{m}$")
    ax.loglog(sizes, corrected, "-", color=plot.PALETTE[2],
              label=r"$\sigma/\sqrt{m}\ \cdot\ \sqrt{(N-m)/(N-1)}$")
    ax.loglog(sizes, measured, "o", color=plot.PALETTE[0], markersize=9,
              label=f"measured ({draws[0]} batches per m ≤ 400, {draws[-1]} above)")
    ax.axvline(n / 10, color="grey", linestyle=":", linewidth=2)
    ax.text(n / 10 * 0.9, naive[0] * 0.9, "m = N/10", ha="right", va="top", color="grey")
    ax.set_xlabel("mini-batch size m (examples)")
    ax.set_ylabel(r"standard error $\sqrt{E\,\|\hat g - g\|^2}$")
    ax.legend(loc="lower left")
    ax.set_title(f"Gradient noise falls as 1/√m (slope {slope:.2f} for m ≤ N/10),\n"
                 "then faster: a batch drawn without replacement")
    return fig


def noise_table(sizes, measured, naive, corrected) -> str:
    """m, the measured standard error, and its ratio to each formula, one row per m."""
    rows = [[f"{m:d}", f"{s:.3f}", f"{s / a:.2f}", f"{s / b:.2f}"]
            for m, s, a, b in zip(np.asarray(sizes).tolist(), measured, naive, corrected)]
    return table(["m", "measured", "/ (σ/√m)", "/ corrected"], rows)


def _symlog(ax, xs):
    """A symlog x-axis: linear from 0 to the smallest positive x, log above, so step 0 shows."""
    smallest = min(float(np.min(x[x > 0])) for x in xs)
    ax.set_xscale("symlog", linthresh=10.0 ** math.floor(math.log10(smallest)), linscale=0.6)
    ax.set_xlim(left=0)


def gd_vs_sgd(gd, mb, *, n: int, target: float, gd_lr: float, sgd_lr: float, batch_size: int):
    """Training loss against epochs (left) and training seconds (right) for full-batch GD and SGD.

    ``gd``, ``mb``: the notebook's logs (``examples``, ``seconds``, ``loss``: index 0 is step 0).
    Both curves start at step 0 (x = 0 on a symlog axis); the GD steps whose loss rose are ringed.
    """
    fig, axes = plot.figure(1, 2, figsize=(13, 5.6), sharey=True)
    rises = np.flatnonzero(np.diff(gd["loss"]) > 0) + 1          # GD steps whose loss is above the step before's
    ring = 16 if plot.is_presenter() else 12
    for ax, key, scale, label in [(axes[0], "examples", 1 / n, "epochs (passes over the data)"),
                                  (axes[1], "seconds", 1.0, "training time on this machine (s)")]:
        ax.plot(gd[key] * scale, gd["loss"], color=plot.PALETTE[1], marker="o", markersize=4,
                label=f"full-batch GD, η = {gd_lr:g}")
        ax.plot(mb[key] * scale, mb["loss"], color=plot.PALETTE[0], label=f"SGD, m = {batch_size}, η = {sgd_lr:g}")
        ax.plot(gd[key][rises] * scale, gd["loss"][rises], "o", markersize=ring, markerfacecolor="none",
                markeredgecolor=plot.PALETTE[3], mew=2.5, label=f"GD's loss rose ({len(rises)} of {len(gd['loss']) - 1} steps)")
        ax.plot([0], [gd["loss"][0]], "o", color="black", markersize=10, zorder=4,
                label=f"step 0, the same weights: loss {gd['loss'][0]:.2f}")
        ax.axhline(target, color="grey", linestyle=":", linewidth=2)
        _symlog(ax, [gd[key] * scale, mb[key] * scale])
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))   # 0.01, not 10^-2
        ax.set_yscale("log")
        ax.set_xlabel(label)
    axes[0].set_ylabel(f"training loss (all {n:,} digits)")
    _plain_log(axes[0])                                   # shared y: both panels
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    first = {name: log[key][int(np.argmax(log["loss"] < target))] for name, log, key in
             [("gd", gd, "examples"), ("mb", mb, "examples"), ("gd_s", gd, "seconds"), ("mb_s", mb, "seconds")]}
    axes[0].set_title(f"to {target}: SGD {first['mb'] / n:.2f} epochs, GD {first['gd'] / n:.0f}")
    axes[1].set_title(f"to {target}: SGD {first['mb_s']:.2f} s, GD {first['gd_s']:.1f} s (not checked)")
    fig.suptitle("Many cheap noisy steps beat few exact ones", fontweight="bold")
    return fig


def orders(orders, colours, *, n: int, epochs: int, per_epoch: int, corr):
    """Left: the training loss per epoch for each order. Right: batch k's loss in the last epoch
    against the epoch before, for a fixed order and for reshuffling."""
    fig, axes = plot.figure(1, 2, figsize=(13, 5))
    for o, colour in colours.items():
        axes[0].plot(orders[o]["examples"] / n, orders[o]["loss"], marker="o", color=colour, label=o)
    axes[0].set_yscale("log"); axes[0].set_xlabel("epoch"); axes[0].set_ylabel("training loss (all data)")
    axes[0].legend(); axes[0].set_title("sorted by label: the loss stays high")
    top = 0.0
    for o in ("fixed", "reshuffle"):
        last = orders[o]["batch_loss"].reshape(epochs, per_epoch)
        axes[1].plot(last[-2], last[-1], "o", color=colours[o], markersize=8, label=f"{o} (r = {corr[o]:.2f})")
        top = max(top, last[-2:].max())
    lim = [0, top * 1.05]
    axes[1].plot(lim, lim, color="grey", linestyle=":", linewidth=2)
    axes[1].set_xlim(lim); axes[1].set_ylim(lim)
    axes[1].set_xlabel(f"loss of batch k in epoch {epochs - 1}"); axes[1].set_ylabel(f"loss of batch k in epoch {epochs}")
    axes[1].legend(loc="upper left"); axes[1].set_title("a fixed order repeats its batches")
    fig.suptitle("Shuffle: never train on sorted data", fontweight="bold")
    return fig


def _draw_search(ax, res, colour, label, marker="o"):
    ok = ~res.diverged
    ax.plot(res.values[ok], res.val_loss[ok], marker=marker, color=colour, label=label, markersize=9)


def _top(coarse) -> float:
    """Where diverged runs are drawn: above every finite validation loss of the search."""
    return float(coarse.val_loss[~coarse.diverged].max() * 1.3)


def search(coarse, fine, lam_search, *, eta: float, lam: float, steps: int):
    """Left: the coarse and the finer learning-rate search (diverged runs as x at the top).
    Right: the weight-decay search at the chosen rate."""
    fig, axes = plot.figure(1, 2, figsize=(13, 5), width_ratios=[3, 2])
    ax = axes[0]
    _draw_search(ax, coarse, plot.PALETTE[0], "coarse: every half decade")
    _draw_search(ax, fine, plot.PALETTE[1], "finer: every fifth of a decade", marker="s")
    top = _top(coarse)
    for res in (coarse, fine):
        ax.plot(res.values[res.diverged], np.full(res.diverged.sum(), top), "x", color=plot.PALETTE[3],
                markersize=14, mew=3)
    for i in np.flatnonzero(coarse.diverged):             # each cross with its own step
        ax.text(coarse.values[i], top * 0.9, f"diverged\nat step {coarse.diverged_at[i]}", ha="center", va="top",
                color=plot.PALETTE[3], fontsize="small")
    ax.plot(eta, fine.best_val_loss, "*", color="black", markersize=22, label=f"finer search's best, η = {eta:.2g}")
    ax.set_xscale("log"); ax.set_yscale("log"); ax.set_ylim(top=top * 1.15)
    _plain_log(ax, "x"); _plain_log(ax, "y")
    ax.set_xlabel("learning rate η"); ax.set_ylabel(f"validation loss after {steps} steps")
    ax.legend(loc="lower left"); ax.set_title("too small crawls, too large diverges")
    ax = axes[1]
    pos = np.arange(len(lam_search.values))
    ax.plot(pos, lam_search.val_loss, marker="o", color=plot.PALETTE[2])
    ax.plot(pos[lam_search.best_index], lam_search.best_val_loss, "*", color="black", markersize=22,
            label=f"best λ = {lam:g}")
    ax.set_xticks(pos, [f"{v:g}" for v in lam_search.values]); ax.set_xlabel(f"weight decay λ (η = {eta:.2g})")
    ax.set_ylabel("validation loss"); ax.legend(loc="upper left"); ax.set_title("then λ: a little helps")
    fig.suptitle("Learning-rate search on a log grid, a finer search, then λ", fontweight="bold")
    return fig


def wrong_rates(curves, coarse, *, best_i: int, jump_one: float):
    """The smallest rate against the best (left) and the two largest against the best (right).

    ``curves``: run index -> (steps, smoothed loss), as the notebook computed them.
    """
    rates = coarse.values
    fig, axes = plot.figure(1, 2, figsize=(13, 5), sharey=True)
    last = len(rates) - 1
    for ax, i, what in [(axes[0], 0, "too small"), (axes[1], last, "too large")]:
        ax.plot(*curves[best_i], color=plot.PALETTE[0], label=f"coarse grid's best, η = {rates[best_i]:.2g}")
        ax.plot(*curves[i], color=plot.PALETTE[3], label=f"η = {rates[i]:.2g}: {coarse.status(i)}")
        if what == "too large":                        # drawn on top, with a dot per step: a short run stays visible
            x1, y1 = curves[i - 1]
            ax.plot(x1, y1, color=plot.PALETTE[1], marker="o", markersize=6, zorder=5,
                    label=f"η = {rates[i - 1]:.2g}: jumps to {jump_one:.1f}x its start" + (
                        f", {coarse.status(i - 1)}" if coarse.diverged[i - 1] else ""))
            if coarse.diverged[i - 1]:
                ax.plot(x1[-1], y1[-1], "x", color=plot.PALETTE[1], markersize=13, mew=3, zorder=6)
        if coarse.diverged[i]:
            ax.plot(curves[i][0][-1], curves[i][1][-1], "x", color=plot.PALETTE[3], markersize=16, mew=3)
            ax.annotate(f"stopped: blown up\nwithin {coarse.diverged_at[i]} steps",
                        (curves[i][0][-1], curves[i][1][-1]), xytext=(0.3, 0.6), textcoords="axes fraction", va="center",
                        color=plot.PALETTE[3], arrowprops=dict(arrowstyle="->", color=plot.PALETTE[3]))
        ax.set_yscale("log"); ax.set_xlabel("step")
        ax.legend(loc="lower left" if what == "too small" else "upper right")
    _plain_log(axes[0])
    axes[0].set_ylabel("training loss (mini-batch, mean of 10)")
    axes[0].set_title(f"too small (η = {rates[0]:g}): crawls")
    axes[1].set_title(f"too large (η = {rates[-1]:.2g}): {coarse.status(-1)}")
    fig.suptitle("The two ways to get the learning rate wrong", fontweight="bold")
    return fig


def rate_panel(curves, coarse, *, best_i: int, steps: int, verdicts):
    """The slider over the coarse search's rates: the selected run's training curve against the
    best one (left) and where it sits in the search (right). Nothing is trained: it selects.

    Returns (panel, state): ``state`` holds, after every update, the selected run's ``index``,
    ``status`` ('diverged at step k' or 'val loss ...'), ``verdict`` (``verdicts[index]``), the
    number of ``points`` drawn, and ``line``, the selected curve's Line2D.
    """
    rates = coarse.values
    fig, axes = plot.figure(1, 2, figsize=(13, 4.8), width_ratios=[3, 2])
    ax = axes[0]
    ax.plot(*curves[best_i], color=plot.PALETTE[0], label=f"coarse grid's best, η = {rates[best_i]:.2g}")
    (line,) = ax.plot([], [], color=plot.PALETTE[3], label="selected η")
    (cross,) = ax.plot([], [], "x", color=plot.PALETTE[3], markersize=16, mew=3)
    lows = min(c[1].min() for c in curves.values())
    highs = max(c[1].max() for c in curves.values())
    ax.set_yscale("log"); ax.set_ylim(lows / 1.5, highs * 1.5); ax.set_xlim(0, steps); _plain_log(ax)
    ax.set_xlabel("step"); ax.set_ylabel("training loss (mean of 10)"); ax.legend(loc="upper right")
    title = ax.set_title(" ")
    ax = axes[1]
    _draw_search(ax, coarse, plot.PALETTE[0], "validation loss")
    top = _top(coarse)
    ax.plot(rates[coarse.diverged], np.full(coarse.diverged.sum(), top), "x", color=plot.PALETTE[3],
            markersize=14, mew=3)
    (ring,) = ax.plot([], [], "o", markersize=22, markerfacecolor="none", markeredgecolor=plot.PALETTE[3], mew=3)
    ax.set_xscale("log"); ax.set_yscale("log"); ax.set_ylim(top=top * 1.15)
    _plain_log(ax, "x"); _plain_log(ax, "y")
    ax.set_xlabel("learning rate η"); ax.set_ylabel(f"validation loss, step {steps}")
    ax.set_title("the search")
    state = {"line": line}

    def update(rate):
        i = int(np.argmin(np.abs(np.log10(rates) - math.log10(rate))))     # the nearest rate trained
        x, y = curves[i]
        line.set_data(x, y)
        if coarse.diverged[i]:
            cross.set_data([x[-1]], [y[-1]])
            ring.set_data([rates[i]], [top])
        else:
            cross.set_data([], [])
            ring.set_data([rates[i]], [coarse.val_loss[i]])
        title.set_text(f"η = {rates[i]:.2g}: {coarse.status(i)} ({verdicts[i]})")
        state.update(index=i, status=coarse.status(i), verdict=verdicts[i], points=len(x))

    panel = widgets.Panel(fig, update, animated=[line, cross, ring, title],
                          rate=widgets.slider("learning rate η", float(rates[0]), float(rates[-1]), 0.5,
                                              1e-3, log=True))
    return panel, state


def momentum(curves, *, rates, warmup_steps: int, mu: float = 0.9):
    """The warm-up against a constant momentum at each rate: ``curves[(lr, name)] = (steps, loss)``."""
    names = list(dict.fromkeys(name for _, name in curves))
    colours = dict(zip(names, [plot.PALETTE[2], plot.PALETTE[4]]))
    fig, axes = plot.figure(1, len(rates), figsize=(13, 5), sharey=True)
    for ax, lr in zip(np.atleast_1d(axes), rates):
        for name in names:
            ax.plot(*curves[lr, name], color=colours[name], label=name)
        ax.axvline(warmup_steps, color="grey", linestyle=":", linewidth=2)
        ax.set_yscale("log"); ax.set_xlabel("step")
        ax.set_title(f"η = {lr:g}, η/(1-μ) = {lr / (1 - mu):.2g}:\n" + (
            "warm-up only slows the start" if lr / (1 - mu) < 1 else "gentler start, same bad end"))
    axes = np.atleast_1d(axes)
    axes[0].set_ylabel("training loss (mini-batch, mean of 10)"); axes[0].legend(loc="upper right")
    axes[-1].text(warmup_steps * 1.05, axes[-1].get_ylim()[1] * 0.8, "warm-up ends", color="grey", va="top")
    fig.suptitle(f"Momentum warm-up softens the start only where μ = {mu:g} is too much", fontweight="bold")
    return fig


def emphasis(val, mislabelled, *, conditions, colours, noise: float, epochs: int):
    """Left: the validation loss per epoch of uniform reshuffling and of the emphasising scheme,
    with clean and with noisy labels. Right: the share of each epoch's draws whose label was
    replaced, for the two runs on noisy labels.

    ``val``: (epochs + 1, C) validation losses (row 0: before training), ``mislabelled``:
    (epochs, C) shares, both already averaged over draws; ``conditions``: C (order, labels)
    pairs; ``colours``: order -> colour (labels: solid for clean, dashed for noisy).
    """
    val, mislabelled = np.asarray(val), np.asarray(mislabelled)
    fig, axes = plot.figure(1, 2, figsize=(13, 5), width_ratios=[3, 2])
    ep = np.arange(epochs + 1)
    for c, (order, labels) in enumerate(conditions):
        style = "-" if labels == "clean" else "--"
        axes[0].plot(ep, val[:, c], style, marker="o", color=colours[order], label=f"{order}, {labels} labels")
    axes[0].set_yscale("log"); _plain_log(axes[0])
    axes[0].set_xlabel("epoch"); axes[0].set_ylabel("validation loss (clean labels)")
    axes[0].legend(loc="upper right"); axes[0].set_title("emphasis: no gain when clean, a loss when noisy")
    for c, (order, labels) in enumerate(conditions):
        if labels != "clean":
            axes[1].plot(np.arange(1, epochs + 1), 100 * mislabelled[:, c], "--", marker="o",
                         color=colours[order], label=order)
    axes[1].axhline(100 * noise, color="grey", linestyle=":", linewidth=2)
    axes[1].text(epochs, 100 * noise * 0.93, f"{noise:.0%} of the labels", ha="right", va="top", color="grey")
    axes[1].set_ylim(0, 100 * max(mislabelled.max(), noise) * 1.25)
    axes[1].set_xticks(np.arange(1, epochs + 1))
    axes[1].set_xlabel("epoch"); axes[1].set_ylabel("draws with a replaced label (%)")
    axes[1].legend(loc="upper left"); axes[1].set_title("what emphasis draws")
    fig.suptitle("Prefer hard examples? Here they are mostly the mislabelled ones", fontweight="bold")
    return fig


def _decades(ax, axis: str):
    """Log ticks at the powers of 10 only, as plain decimals (0.001, 0.01 ...): for crowded axes."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(ticker.LogLocator(base=10, subs=(1.0,)))
    a.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(ticker.NullFormatter())


def grid_vs_random(table, table_eta, table_lam, grid, draws, best_grid, best_random, *, eta_range, lam_range,
                   steps: int, draw: int = 0):
    """Bergstra & Bengio's Figure 1 on measured runs, with a slider over the random draws.

    Left: the 3x3 grid; right: one draw of 9 log-uniform trials. Each main panel shows the
    trials over (eta, lambda) on the measured table (the background, dark where the validation
    loss is low); above it the validation loss against eta (the table's mean over lambda: the
    important parameter's marginal), at its right the same against lambda on the same scale,
    with the trials' values marked on both.

    ``table`` (len(table_eta), len(table_lam)); ``grid`` (9, 2) and ``draws`` (D, 9, 2) in
    (eta, lambda); ``best_grid`` a number, ``best_random`` (D,): each strategy's best validation
    loss. Returns (panel, state): ``state`` holds the selected ``draw``, its ``best`` and the
    trials' Line2D ``points``.
    """
    table = np.asarray(table)
    fig = Figure(figsize=(14, 6.6), layout="constrained")
    gs = fig.add_gridspec(2, 4, width_ratios=[4, 1.3, 4, 1.3], height_ratios=[1.4, 3])
    eta_m, lam_m = table.mean(1), table.mean(0)
    edges = lambda v: np.sqrt(v[1:] * v[:-1])                           # noqa: E731  cell edges on a log axis
    e_eta = np.r_[eta_range[0], edges(table_eta), eta_range[1]]
    e_lam = np.r_[lam_range[0], edges(table_lam), lam_range[1]]
    norm = LogNorm(table.min(), table.max())
    pad = lambda r: (r[0] / (r[1] / r[0]) ** 0.04, r[1] * (r[1] / r[0]) ** 0.04)   # noqa: E731  room for edge points
    big = 11 if plot.is_presenter() else 9
    lo, hi = table.min() * 0.85, table.max() * 1.1
    state, out = {}, []
    for col in (0, 2):
        main = fig.add_subplot(gs[1, col])
        top = fig.add_subplot(gs[0, col], sharex=main)
        side = fig.add_subplot(gs[1, col + 1], sharey=main)
        main.pcolormesh(e_eta, e_lam, table.T, cmap="Greys_r", norm=norm, shading="flat")
        top.plot(table_eta, eta_m, color=plot.PALETTE[0])
        side.plot(lam_m, table_lam, color=plot.PALETTE[2])
        (pts,) = main.plot([], [], "o", color=plot.PALETTE[1], markersize=big + 3, markeredgecolor="black", mew=1.5)
        (tm,) = top.plot([], [], "o", color=plot.PALETTE[1], markersize=big, markeredgecolor="black")
        (sm,) = side.plot([], [], "o", color=plot.PALETTE[1], markersize=big, markeredgecolor="black")
        main.set_xscale("log"); main.set_yscale("log")
        main.set_xlim(pad(eta_range)); main.set_ylim(pad(lam_range))
        _decades(main, "x"); _decades(main, "y")
        main.set_xlabel("learning rate η (matters)"); main.set_ylabel("weight decay λ (matters little)")
        top.set_ylim(lo, hi); top.set_ylabel("val loss"); top.tick_params(labelbottom=False)
        side.set_xlim(lo, hi); side.set_xlabel("val loss"); side.tick_params(labelleft=False)
        side.xaxis.set_major_locator(ticker.MaxNLocator(3))
        title = top.set_title(" ")
        out.append((pts, tm, sm, title))
    lookup = lambda x, axis, m: np.interp(np.log10(x), np.log10(axis), m)   # noqa: E731  marks on the curves

    def show(artists, trials, text):
        pts, tm, sm, title = artists
        pts.set_data(trials[:, 0], trials[:, 1])
        tm.set_data(trials[:, 0], lookup(trials[:, 0], table_eta, eta_m))
        sm.set_data(lookup(trials[:, 1], table_lam, lam_m), trials[:, 1])
        title.set_text(text)

    show(out[0], np.asarray(grid), f"3x3 grid: {len(np.unique(np.asarray(grid)[:, 0]))} values of η; best {best_grid:.3f}")
    draws = np.asarray(draws)

    def update(draw):
        d = int(draw)
        show(out[1], draws[d], f"random draw {d}: {len(np.unique(draws[d][:, 0]))} values of η; best {best_random[d]:.3f}")
        state.update(draw=d, best=float(best_random[d]), points=out[1][0])

    fig.suptitle(f"Grid or random search: 9 trials each (background: validation loss after {steps} steps, dark = low)",
                 fontweight="bold")
    panel = widgets.Panel(fig, update, animated=list(out[1]),
                          draw=widgets.slider("random draw", 0, len(draws) - 1, 1, int(draw)))
    return panel, state


def schedules(rates, val, batch, *, steps_per_val: int, eta0: float, names, warm: tuple, warmup_steps: int):
    """Three panels: the rate of each schedule against the step; the validation loss of the
    schedules at eta0 (mean over draws); and, at the larger rate, the mini-batch loss with and
    without a warm-up.

    ``rates[name]`` (steps,), ``val[name]`` (evaluations,), ``batch[name]`` (steps,) smoothed
    mini-batch loss; ``names`` the schedules at eta0, ``warm`` = (without, with) warm-up.
    """
    colours = dict(zip([*names, *warm], [plot.PALETTE[i] for i in (7, 0, 2, 1, 4)]))
    fig, axes = plot.figure(1, 3, figsize=(16, 5.2))
    for name, r in rates.items():
        axes[0].plot(np.arange(len(r)), r, color=colours[name], label=name,
                     linestyle="--" if name in warm else "-")
    axes[0].set_ylim(0, 1.45 * max(float(np.max(r)) for r in rates.values()))   # room for the legend above
    axes[0].set_xlabel("step"); axes[0].set_ylabel("learning rate η")
    axes[0].legend(loc="upper right", fontsize="small"); axes[0].set_title("the schedules (one draw)")
    for name in names:
        v = np.asarray(val[name])
        axes[1].plot(steps_per_val * np.arange(1, len(v) + 1), v, color=colours[name], marker="o", markersize=4,
                     label=f"{name}: {v[-1]:.3f} at the end")
    axes[1].set_yscale("log"); _plain_log(axes[1])
    axes[1].set_xlabel("step"); axes[1].set_ylabel("validation loss (mean of the draws)")
    axes[1].legend(loc="upper right"); axes[1].set_title(f"η0 = {eta0:g}: decaying ends lower")
    for name in warm:
        b = np.asarray(batch[name])
        axes[2].plot(np.arange(1, len(b) + 1), b, color=colours[name], label=name)
    axes[2].axvline(warmup_steps, color="grey", linestyle=":", linewidth=2)
    axes[2].set_yscale("log"); _plain_log(axes[2])
    axes[2].set_xlabel("step"); axes[2].set_ylabel("training loss (mini-batch, mean of 10)")
    axes[2].legend(loc="upper right"); axes[2].set_title(f"η0 = {2 * eta0:g}: the warm-up avoids the blow-up")
    fig.suptitle("Learning-rate schedules: decay at the end, warm up at the start", fontweight="bold")
    return fig


__all__ = ["table", "batch_losses", "noise", "noise_table", "gd_vs_sgd", "orders", "emphasis", "search",
           "grid_vs_random", "wrong_rates", "rate_panel", "schedules", "momentum"]
