"""Notebook 09's figures: the gradient check per coordinate, float64 against float32, the initial
loss against the weight scale, overfitting 20 digits, the update-to-weight ratios (two runs and the
slider over five), and the train/validation gap.

Every function draws results the notebook computed (with :mod:`dlcore.babysit` or by hand) and
passes in; none trains or measures anything. Each returns the figure (the slider: the
:class:`dlcore.widgets.Panel` and a state dict that the notebook's checks read back).
"""
from __future__ import annotations

import math

import numpy as np

from dlcore import plot, widgets
from dlcore.figures.sgd import table  # noqa: F401  (a small aligned text table, re-exported)

GOOD, BAD = plot.PALETTE[0], plot.PALETTE[3]
LAYER_COLOURS = [plot.PALETTE[0], plot.PALETTE[2], plot.PALETTE[1], plot.PALETTE[4], plot.PALETTE[5]]
GREAT, WRONG = 1e-7, 1e-2          # CS231n's bands for a gradient check's relative error (float64)
FLOOR = 1e-14                      # relative errors below this (or exactly 0) are drawn on the axis floor


def _e(x: float) -> str:
    """A power of ten as 1e-7 (not 1e-07)."""
    return f"1e{round(math.log10(x))}"


def _bands(ax, x_text):
    ax.axhspan(FLOOR, GREAT, color=GOOD, alpha=0.08)
    ax.text(x_text, FLOOR * 3, f"great (< {_e(GREAT)})", color=GOOD, va="bottom", ha="right")
    ax.axhline(WRONG, color="0.4", ls=":")
    ax.text(x_text, WRONG * 1.5, f"wrong (> {_e(WRONG)})", color="0.3", va="bottom", ha="right")


def coordinate_errors(errors: dict, *, seed: int = 0):
    """The relative error of every coordinate of each tensor, for the right and the buggy backward.

    ``errors``: tensor name -> (errors of the right backward, errors of the buggy one), arrays of
    the same length. The title names the tensors where the buggy backward is wrong (> 1e-2).
    """
    jitter = np.random.default_rng(seed)
    fig, ax = plot.figure(figsize=(9, 5))
    size = 40 if plot.is_presenter() else 22
    for k, (name, (right, buggy)) in enumerate(errors.items()):
        for values, colour, marker, dx, label in [(right, GOOD, "o", -0.17, "right backward"),
                                                  (buggy, BAD, "x", 0.17, "forgets tanh′")]:
            v = np.maximum(np.asarray(values, dtype=float).ravel(), FLOOR)
            x = k + dx + jitter.uniform(-0.1, 0.1, len(v))
            ax.scatter(x, v, s=size, color=colour, marker=marker, alpha=0.7, label=label if k == 0 else None)
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 3, 30)
    ax.set_xlim(-0.6, len(errors) - 0.4)
    _bands(ax, len(errors) - 0.45)
    ax.set_xticks(range(len(errors)), [f"{name}\n({len(np.ravel(r))} coordinates)" for name, (r, _) in errors.items()])
    ax.set_ylabel("relative error |a − n| / max(|a|, |n|)")
    ax.legend(loc="upper center")
    wrong = [name for name, (_, b) in errors.items() if np.max(b) > WRONG]
    right = [name for name in errors if name not in wrong]
    ax.set_title(f"The buggy backward is wrong in {', '.join(wrong) or 'nothing'}, "
                 f"right in {', '.join(right) or 'nothing'}")
    return fig


def _sig1(x: float) -> str:
    """x rounded to one significant figure, with thousands separators: 412345.6 -> '400,000'."""
    return f"{float(f'{x:.1g}'):,.0f}" if x >= 10 else f"{x:.1g}"


def precision(eps, f64, f32):
    """The median relative error of the gradient check against the step eps, in both formats."""
    eps, f64, f32 = (np.asarray(a, dtype=float) for a in (eps, f64, f32))
    fig, ax = plot.figure(figsize=(9, 5))
    ax.loglog(eps, f64, "o-", color=GOOD, label="float64")
    ax.loglog(eps, np.maximum(f32, 1e-16), "s-", color=BAD, label="float32")
    ax.axhspan(1e-12, GREAT, color=GOOD, alpha=0.08)
    ax.text(eps.min() * 1.2, 3e-11, f"great (< {_e(GREAT)})", color=GOOD, va="bottom", ha="right")
    ax.axhline(WRONG, color="0.4", ls=":")
    ax.text(eps.min() * 1.2, WRONG * 1.5, f"wrong (> {_e(WRONG)})", color="0.3", va="bottom", ha="right")
    i2, i6 = int(np.argmin(np.abs(np.log10(eps) + 3))), int(np.argmin(np.abs(np.log10(eps) + 7)))
    ax.annotate("truncation\nslope 2", (eps[i2], f64[i2]), xytext=(1.5e-2, 3e-10), color=GOOD, ha="center",
                arrowprops=dict(arrowstyle="->", color=GOOD))
    ax.annotate("rounding\nslope −1", (eps[i6], f64[i6]), xytext=(1e-6, 3e-5), color=GOOD, ha="center",
                arrowprops=dict(arrowstyle="->", color=GOOD))
    ax.set_xlabel("step ε of the central difference")
    ax.set_ylabel("median relative error")
    ax.set_ylim(1e-11, 3)
    ax.invert_xaxis()
    ax.legend(loc="upper left")
    ax.set_title(f"At its best ε, float32 is about {_sig1(f32.min() / f64.min())} times\n"
                 "less accurate than float64")
    return fig


def initial_loss(stds, losses, *, xavier_sigma: float, xavier_loss: float, n_classes: int):
    """The loss at initialisation against the weight scale σ, with log K and the Xavier network."""
    fig, ax = plot.figure(figsize=(9, 5))
    ax.semilogx(stds, losses, "o-", color=BAD, label="weights N(0, σ²) in every layer")
    log_k = math.log(n_classes)
    ax.axhline(log_k, color="0.3", ls="--")
    ax.text(stds[0] * 1.2, log_k * 1.25, f"log K = log {n_classes} = {log_k:.2f}", color="0.3")
    ax.scatter([xavier_sigma], [xavier_loss], s=140, color=GOOD, zorder=3,
               label=f"Xavier (σ ≈ {xavier_sigma:.2f} in layer 1)")
    ax.set_yscale("log")
    ax.set_xlabel("initial weight scale σ")
    ax.set_ylabel("loss at initialisation")
    ax.legend(loc="upper left")
    ax.set_title("The initial loss leaves log K as the weights grow")
    return fig


def overfit(results, *, threshold: float = 0.05):
    """The loss curves of ``overfit_small`` runs: ``results`` a list of (CheckResult, label)."""
    colours = [GOOD, BAD, plot.PALETTE[4], plot.PALETTE[2]]
    fig, ax = plot.figure(figsize=(9, 5))
    for (result, label), colour in zip(results, colours):
        losses = result.details["losses"]
        if result.details["diverged_at"] is not None:
            label += f": diverged at step {result.details['diverged_at']}"
        ax.plot(np.arange(1, len(losses) + 1), losses, color=colour, label=label)
    steps = max(len(r.details["losses"]) for r, _ in results)
    ax.axhline(threshold, color="0.3", ls=":")
    ax.text(steps, threshold * 1.2, f"pass: below {threshold:g}", ha="right", va="bottom", color="0.3")
    ax.set_yscale("log")
    ax.set_xlabel(f"full-batch step on {len(results[0][0].details['indices'])} examples")
    ax.set_ylabel("training loss")
    ax.legend(loc="center right")
    n = len(results[0][0].details["indices"])
    passed = [label.split(",")[0] for r, label in results if r.passed]
    ax.set_title(f"Only the {passed[0]} network memorises {n} digits" if len(passed) == 1 else
                 f"{len(passed)} of {len(results)} networks memorise {n} digits")
    return fig


def band_verdict(run, check) -> str:
    """How a ratio check reads: 'in the band', 'above the band', 'below the band' or 'diverged at step k'."""
    if run.diverged_at is not None:
        return f"diverged at step {run.diverged_at}"
    if check.passed:
        return "in the band"
    return "above the band" if "too high" in check.message else "below the band"


def _draw_ratios(ax, run, band):
    lw = 2.4 if plot.is_presenter() else 1.6
    lines = [ax.plot(np.arange(1, len(run.history) + 1), run.history[:, j], color=c, lw=lw, label=name)[0]
             for j, (name, c) in enumerate(zip(run.layers, LAYER_COLOURS))]
    ax.axhspan(*band, color=GOOD, alpha=0.1)
    ax.axhline(math.sqrt(band[0] * band[1]), color="0.3", ls="--", lw=1.2)
    ax.set_yscale("log")
    ax.set_ylim(1e-7, 1e2)
    ax.set_xlabel("SGD step")
    return lines


def _fit_ratio_ylim(ax, runs):
    # the bottom at a power of 10 below the smallest positive ratio of any run shown (at least 1e-7), so that
    # no curve runs off the chart (at 100x the saturated hidden layers fall to ~1e-8 and below)
    h = np.concatenate([np.ravel(r.history) for r in runs])
    h = h[np.isfinite(h) & (h > 0)]
    low = 10.0 ** math.floor(math.log10(h.min() / 2)) if h.size else 1e-7
    ax.set_ylim(min(1e-7, low), 1e2)


def _layers_title(run, check, band) -> str:
    if check.passed:
        return "every layer in the band"
    lo, hi = band
    above = [n for n, v in zip(run.layers, check.value.values()) if v > hi]
    below = [n for n, v in zip(run.layers, check.value.values()) if v < lo]
    parts = ([f"{', '.join(above)} above the band"] if above else []) + (
        [f"{', '.join(below)} below"] if below else [])
    return "; ".join(parts)


def ratios(runs, checks, *, lr: float, multipliers=(1, 100), band=(1e-4, 1e-2)):
    """The per-layer update-to-weight ratio at every step, one panel per multiplier of ``lr``."""
    fig, axes = plot.figure(1, len(multipliers), figsize=(13, 5), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, m in zip(axes, multipliers):
        _draw_ratios(ax, runs[m], band)
        ax.set_title(f"η = {m * lr:g} ({m:g}x):\n{_layers_title(runs[m], checks[m], band)}")
    _fit_ratio_ylim(axes[0], [runs[m] for m in multipliers])      # shared y: one call sets every panel
    axes[0].set_ylabel("‖ΔW‖ / ‖W‖ per step")
    axes[0].legend(loc="upper right", ncol=3)
    fig.suptitle(f"Update-to-weight ratio per layer (dashed: {_e(math.sqrt(band[0] * band[1]))}; "
                 f"shaded: {_e(band[0])} to {_e(band[1])})", fontweight="bold")
    return fig


def ratio_panel(runs, checks, final, *, lr: float, band=(1e-4, 1e-2)):
    """The slider over the multipliers of ``lr`` that were run: left the ratios per layer, right
    the training loss of the same run; the title gives the ratio check's reading *and* the loss
    after training (``final[m]``), and says when that loss is the lowest of all the runs.

    Returns (panel, state): ``state`` holds ``multiplier`` and ``verdict`` (:func:`band_verdict`)
    after every update.
    """
    multipliers = sorted(runs)
    lowest = min(multipliers, key=lambda m: final[m])
    fig, titles, axes = plot.figure_rows(1, 2, figsize=(13, 5))
    ax_ratio, ax_loss = axes[0]
    reference = 1 if 1 in runs else multipliers[len(multipliers) // 2]
    lines = _draw_ratios(ax_ratio, runs[reference], band)
    _fit_ratio_ylim(ax_ratio, [runs[m] for m in multipliers])
    ax_ratio.set_ylabel("‖ΔW‖ / ‖W‖ per step")
    ax_ratio.legend(loc="upper right", ncol=3)
    for m in multipliers:                           # where every run ended, marked at the right edge
        ax_loss.plot([len(runs[m].losses) + 4], [final[m]], "<", color="0.45", markersize=7)
        ax_loss.text(len(runs[m].losses) + 8, final[m], f"{m:g}x", color="0.35", va="center")
    (loss_line,) = ax_loss.plot(np.arange(1, len(runs[reference].losses) + 1), runs[reference].losses,
                                color=plot.PALETTE[7], lw=2.4 if plot.is_presenter() else 1.6)
    ax_loss.set_yscale("log")
    ax_loss.set_ylim(0.05, 1000)
    ax_loss.set_xlim(0, max(len(runs[m].losses) for m in multipliers) * 1.17)
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("training loss (batch)")
    state = {}

    def update(multiplier):
        m = multipliers[int(np.argmin([abs(math.log10(multiplier / k)) for k in multipliers]))]   # nearest run
        run = runs[m]
        steps = np.arange(1, len(run.history) + 1)
        for j, line in enumerate(lines):
            line.set_data(steps, run.history[:, j])
        loss_line.set_data(np.arange(1, len(run.losses) + 1), run.losses)
        verdict = band_verdict(run, checks[m])
        note = ", the lowest" if m == lowest else ""
        titles[0].set_text(f"η = {m * lr:g} ({m:g}x): ratios {verdict}; final loss {final[m]:.2f}{note}")
        state.update(multiplier=m, verdict=verdict)

    panel = widgets.Panel(fig, update, animated=[*lines, loss_line, titles[0]],
                          multiplier=widgets.slider("learning-rate multiplier", float(min(multipliers)),
                                                    float(max(multipliers)), 1, float(reference), log=True))
    return panel, state


def gap(results: dict):
    """Training and validation accuracy side by side, one pair of bars per ``train_val_gap`` result."""
    fig, ax = plot.figure(figsize=(9, 5))
    x = np.arange(len(results))
    for k, (key, colour, label) in enumerate([("train_acc", plot.PALETTE[0], "training"),
                                              ("val_acc", plot.PALETTE[1], "validation")]):
        ax.bar(x + (k - 0.5) * 0.38, [r.details[key] for r in results.values()], width=0.38, color=colour,
               label=label)
    ax.set_xticks(x, [f"{name}\n{'PASS' if r.passed else 'FAIL'}" for name, r in results.items()])
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper right", ncol=2)
    ax.set_title("The gap tells overfitting (middle) from underfitting (right)")
    return fig


__all__ = ["table", "coordinate_errors", "precision", "initial_loss", "overfit", "band_verdict", "ratios",
           "ratio_panel", "gap", "GOOD", "BAD"]
