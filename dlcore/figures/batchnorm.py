"""Notebook 04's figures: what batch norm does to a batch, Ioffe & Szegedy's Figure 1, the
activation-histogram slider, the learning-rate sweep, training vs evaluation mode, and the noise
of the batch mean.

Each function draws numbers the notebook computed and returns the figure (the slider: the Panel
and a dict of what it shows, which the notebook's checks read back). Nothing here trains or
measures a quantity a lesson check relies on.
"""
from __future__ import annotations

import numpy as np

from .. import plot, widgets

PLAIN, BN = "no batch norm", "batch norm"
COLOURS = {PLAIN: plot.PALETTE[1], BN: plot.PALETTE[0]}


_np = plot.as_numpy


def transform_figure(x, y):
    """A small batch before and after batch norm: one row of dots per feature (column).

    x, y: (m, features) -- the raw batch and its normalised output. Each feature's batch mean is a
    tick, its mean +- one standard deviation a bar, so the right panel shows every feature centred
    on 0 with spread 1.
    """
    x, y = _np(x), _np(y)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must be two (m, features) arrays of one shape; got {x.shape}, {y.shape}")
    m, f = x.shape
    fig, axes = plot.figure(1, 2, figsize=(12, 4.2), sharey=True)
    rows = np.arange(f)
    for ax, data, title in [(axes[0], x, "before: each feature its own scale"),
                            (axes[1], y, "after: every feature mean 0, spread 1")]:
        mean, std = data.mean(0), data.std(0)
        for j in range(f):
            colour = plot.PALETTE[j % len(plot.PALETTE)]
            ax.plot([mean[j] - std[j], mean[j] + std[j]], [j, j], color=colour, lw=6, alpha=0.3,
                    solid_capstyle="butt")
            ax.plot(data[:, j], np.full(m, j), "o", color=colour, ms=11, mec="white", mew=1.2)
            ax.plot([mean[j]], [j], "|", color="black", ms=24, mew=2.5)
        ax.set_title(title)
        ax.set_xlabel("value")
        ax.grid(axis="y", visible=False)
    axes[0].plot([], [], "|", color="black", ms=16, mew=2.5, label=r"batch mean $\mu_B$")
    axes[0].plot([], [], color="0.6", lw=6, alpha=0.5, label=r"$\mu_B \pm \sigma_B$")
    axes[0].legend(loc="lower right")
    axes[1].axvline(0, color="0.5", lw=1, zorder=0)
    axes[0].set_yticks(rows, [f"feature {j + 1}" for j in rows])
    axes[0].set_ylim(f - 0.5, -0.5)
    axes[1].set_xlim(-2.2, 2.2)
    return fig


def figure1(logs: dict, *, every_label: str = "training step"):
    """Ioffe & Szegedy's Figure 1: (a) test accuracy over training for each network; (b, c) the
    15th, 50th and 85th percentiles of one sigmoid unit's input, without and with batch norm.

    logs: name (PLAIN, BN) -> a dict with arrays "step", "accuracy" and "percentiles" (steps, 3).
    """
    missing = [n for n in (PLAIN, BN) if n not in logs]
    if missing:
        raise ValueError(f"logs needs the runs {missing}; got {sorted(logs)}")
    fig, axes = plot.figure(1, 3, figsize=(14, 4.6))
    for name in (PLAIN, BN):
        axes[0].plot(logs[name]["step"], logs[name]["accuracy"], color=COLOURS[name], label=name)
    axes[0].set_xlabel(every_label)
    axes[0].set_ylabel("test accuracy")
    axes[0].set_ylim(0, 1)
    axes[0].legend(loc="lower right")
    axes[0].set_title("(a) test accuracy")
    for ax, name, panel in [(axes[1], PLAIN, "(b)"), (axes[2], BN, "(c)")]:
        pct = np.asarray(logs[name]["percentiles"])
        for k, (label, style) in enumerate([("15th / 85th percentiles", "--"), ("median (50th percentile)", "-"),
                                            ("_nolegend_", "--")]):
            ax.plot(logs[name]["step"], pct[:, k], style, color=COLOURS[name], label=label)
        ax.set_xlabel(every_label)
        ax.set_ylim(-5, 3)
        ax.set_title(f"{panel} {name}")
        ax.legend(loc="upper right" if name == PLAIN else "lower right")
    axes[1].set_ylabel("input to one sigmoid unit")
    fig.suptitle("Ioffe & Szegedy (2015), Figure 1, reproduced: batch norm trains faster\n"
                 "and holds the unit's input distribution steadier", fontweight="bold")
    return fig


def histogram_panel(logs: dict, spreads: dict, edges, every: int, *, last_step: int | None = None):
    """The slider over training: each hidden layer's activation histogram, plain vs batch norm.

    logs[name]["hist"]: (snapshots, layers, bins) counts, one snapshot every ``every`` steps;
    spreads[name]: (snapshots, layers), the standard deviation each histogram holds (computed by
    the notebook), shown in the title. Returns (panel, shown): ``shown`` holds the step, the layer
    and each network's spread the panel displays now.
    """
    edges = np.asarray(edges, dtype=float)
    hists = {name: np.asarray(logs[name]["hist"], dtype=float) for name in (PLAIN, BN)}
    snapshots, layers, bins = hists[PLAIN].shape
    if len(edges) != bins + 1:
        raise ValueError(f"edges must have bins + 1 = {bins + 1} values; got {len(edges)}")
    last_step = (snapshots - 1) * every if last_step is None else last_step
    fig, titles, axes = plot.figure_rows(1, 2, figsize=(12, 4.5), sharey=True)
    bars = {}
    for ax, name in zip(axes[0], (PLAIN, BN)):
        bars[name] = ax.stairs(np.zeros(bins), edges, fill=True, color=COLOURS[name], alpha=0.85)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("sigmoid activation")
        ax.set_title(name)
    axes[0][0].set_ylabel("share of the largest bin")
    shown: dict = {}

    def update(step, layer):
        k = min(step // every, snapshots - 1)
        parts = []
        for name in (PLAIN, BN):
            counts = hists[name][k, layer - 1]
            bars[name].set_data(counts / max(counts.max(), 1.0), edges)
            shown[name] = float(spreads[name][k][layer - 1])
            parts.append(f"{name} spread {shown[name]:.2f}")
        shown.update(step=step, layer=layer)
        titles[0].set_text(f"step {step}, hidden layer {layer}: " + ", ".join(parts))

    panel = widgets.Panel(fig, update, animated=[bars[PLAIN], bars[BN], titles[0]],
                          step=widgets.slider("training step", 0, last_step, every, 0),
                          layer=widgets.slider("hidden layer", 1, layers, 1, layers))
    return panel, shown


def rate_figure(rates, final: dict, diverged: dict | None = None):
    """Test accuracy after a short run against the learning rate, plain vs batch norm.

    final: (name, rate) -> accuracy; diverged: (name, rate) -> the step a run diverged at (drawn as
    a cross at accuracy 0 and named in the legend), or absent.
    """
    diverged = diverged or {}
    fig, ax = plot.figure(figsize=(8.5, 4.6))
    for name in (PLAIN, BN):
        ax.plot(rates, [final[name, lr] for lr in rates], marker="o", color=COLOURS[name], label=name)
        gone = [lr for lr in rates if diverged.get((name, lr)) is not None]
        if gone:
            ax.plot(gone, [0.0] * len(gone), "x", color=COLOURS[name], ms=14, mew=3,
                    label=f"{name}: diverged")
    ax.axhline(0.1, color="0.5", ls=":", lw=1.5, label="chance (10%)")
    ax.set_xscale("log")
    ax.set_xticks(rates, [f"{lr:g}" for lr in rates])
    ax.minorticks_off()
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("test accuracy after 500 steps")
    ax.set_ylim(0, 1)
    ax.legend(loc="center left")
    ax.set_title("batch norm trains at every rate up to 16; the plain network,\n"
                 "from the same tiny initial weights, lags far behind at each")
    return fig


def modes_figure(digits, eval_acc, train_acc, mixed_eval: float, mixed_train: float):
    """Accuracy on a batch of one digit, in evaluation and in training mode, per digit; and on
    a mixed (fair) batch at the right."""
    digits = list(digits)
    eval_acc, train_acc = _np(eval_acc), _np(train_acc)
    fig, ax = plot.figure(figsize=(12, 4.4))
    xs = np.arange(len(digits) + 1, dtype=float)
    xs[-1] += 0.6                                   # a gap before the mixed batch
    width = 0.38
    ev = np.append(eval_acc, mixed_eval)
    tr = np.append(train_acc, mixed_train)
    ax.bar(xs - width / 2, ev, width, color=plot.PALETTE[0], label="evaluation mode (running statistics)")
    ax.bar(xs + width / 2, tr, width, color=plot.PALETTE[3], label="training mode (the batch's own statistics)")
    ax.set_xticks(xs, [f"only {d}s" for d in digits] + ["mixed"])
    ax.set_ylabel("share recognised")
    ax.set_ylim(0, 1.18)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(loc="upper left", ncols=2)
    ax.set_title("a batch of one digit, normalised by its own statistics, is misread")
    return fig


def noise_figure(batch_sizes, spread):
    """The standard deviation of a feature's batch mean (in units of the feature's std) against
    the batch size m, on log axes, with the 1/sqrt(m) line through the first point."""
    m, s = _np(batch_sizes), _np(spread)
    fig, ax = plot.figure(figsize=(8.5, 4.6))
    ax.loglog(m, s[0] * np.sqrt(m[0] / m), "--", color="0.5", label=r"$1/\sqrt{m}$ through the first point")
    ax.loglog(m, s, "o", color=plot.PALETTE[0], ms=12, label="measured")
    ax.set_xticks(m, [f"{int(v)}" for v in m])
    ticks = [t for t in (0.02, 0.05, 0.1, 0.2, 0.5) if s.min() / 1.5 <= t <= s.max() * 1.5]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("batch size m")
    ax.set_ylabel("std of the batch mean\n(in feature stds)")
    ax.legend(loc="upper right")
    ax.set_title(r"the batch mean's noise falls as $1/\sqrt{m}$")
    return fig


def init_figure(scales, accuracy: dict, loss: dict, *, marks: dict | None = None, steps: int = 500):
    """Batch norm across initial weight scales: (a) test accuracy, (b) training loss after ``steps``
    steps, against the standard deviation of the initial weights, plain vs batch norm.

    scales: the stds (log axis); accuracy[name], loss[name]: one value per scale for PLAIN and BN;
    marks: label -> std, drawn as dotted vertical lines (e.g. Xavier's and He's std, Figure 1's).
    """
    scales = _np(scales).astype(float)
    missing = [n for n in (PLAIN, BN) if n not in accuracy or n not in loss]
    if missing:
        raise ValueError(f"accuracy and loss need the runs {missing}; got {sorted(accuracy)}, {sorted(loss)}")
    for name in (PLAIN, BN):
        for what, values in (("accuracy", accuracy[name]), ("loss", loss[name])):
            if len(values) != len(scales):
                raise ValueError(f"{what}[{name!r}] must have one value per scale ({len(scales)}); "
                                 f"got {len(values)}")
    fig, axes = plot.figure(1, 2, figsize=(14, 4.8))
    for name in (PLAIN, BN):
        axes[0].plot(scales, _np(accuracy[name]), marker="o", ms=9, color=COLOURS[name], label=name)
        axes[1].plot(scales, _np(loss[name]), marker="o", ms=9, color=COLOURS[name], label=name)
    styles = [":", "-.", "--"]
    for k, (label, std) in enumerate((marks or {}).items()):
        for ax in axes:
            ax.axvline(std, color="0.35", ls=styles[k % len(styles)], lw=2,
                       label=f"{label} (std {std:.2g})")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("std of the initial weights")
    axes[0].axhline(0.1, color="0.6", ls=":", lw=1.5)
    axes[0].set_ylim(0, 1)
    axes[0].yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    axes[0].set_ylabel(f"test accuracy after {steps} steps")
    axes[0].set_title("(a) test accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    axes[1].set_yscale("log")
    lo, hi = min(np.min(loss[n]) for n in (PLAIN, BN)), max(np.max(loss[n]) for n in (PLAIN, BN))
    ticks = [t for t in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0) if lo / 1.3 <= t <= hi * 1.3]
    axes[1].set_yticks(ticks, [f"{t:g}" for t in ticks])
    axes[1].minorticks_off()
    axes[1].set_ylabel("training loss (last 50 steps)")
    axes[1].set_title("(b) training loss")
    fig.suptitle("batch norm barely cares about the initial scale; the plain network\n"
                 "trains only from a good one, and there nearly matches it", fontweight="bold")
    return fig


def landscape_figure(steps, loss_band: dict, grad_band: dict, *, multiples=None):
    """Santurkar et al.'s Fig. 4 in small: along training, (a) the range of the loss met when stepping
    along the gradient at several step sizes, (b) the range of the gradient's change (l2) over those
    steps, each a shaded band from its minimum to its maximum, plain vs batch norm.

    steps: the training steps probed; loss_band[name], grad_band[name]: (len(steps), 2) arrays of
    (min, max) per probe, for PLAIN and BN; multiples: the step sizes, in units of the rate, for the title.
    """
    steps = _np(steps).astype(float)
    for what, band in (("loss_band", loss_band), ("grad_band", grad_band)):
        missing = [n for n in (PLAIN, BN) if n not in band]
        if missing:
            raise ValueError(f"{what} needs the runs {missing}; got {sorted(band)}")
        for name in (PLAIN, BN):
            if _np(band[name]).shape != (len(steps), 2):
                raise ValueError(f"{what}[{name!r}] must be a ({len(steps)}, 2) array of (min, max); "
                                 f"got shape {_np(band[name]).shape}")
    fig, axes = plot.figure(1, 2, figsize=(14, 4.8))
    for ax, band in ((axes[0], loss_band), (axes[1], grad_band)):
        for name in (PLAIN, BN):
            b = _np(band[name])
            ax.fill_between(steps, b[:, 0], b[:, 1], color=COLOURS[name], alpha=0.35, lw=0, label=name)
            ax.plot(steps, b[:, 0], color=COLOURS[name], lw=1.5)
            ax.plot(steps, b[:, 1], color=COLOURS[name], lw=1.5)
        ax.set_xlabel("training step")
        ax.legend(loc="upper right")
    axes[1].set_yscale("log")      # (a) stays linear: the bands' widths in loss are what the text compares
    import matplotlib.ticker as ticker

    axes[1].yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    axes[1].yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))   # 0.5, 1, 2: plain numbers
    axes[1].yaxis.set_minor_formatter(ticker.NullFormatter())
    axes[0].set_ylabel("loss after the step")
    axes[0].set_title("(a) the loss along the gradient")
    axes[1].set_ylabel(r"$\|\nabla C(w - \eta g) - g\|$")
    axes[1].set_title("(b) the change of the gradient")
    what = "" if multiples is None else " (" + ", ".join(f"{m:g}" for m in multiples) + r" $\times\ \eta$)"
    fig.suptitle("Santurkar et al. (2018), Fig. 4, in small: stepping along the gradient" + what + ",\n"
                 "the batch-norm network's loss and gradient vary over a narrower range", fontweight="bold")
    return fig


__all__ = ["PLAIN", "BN", "COLOURS", "transform_figure", "figure1", "histogram_panel", "rate_figure",
           "modes_figure", "noise_figure", "init_figure",
           "landscape_figure"]
