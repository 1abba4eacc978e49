"""Notebook 06's figures and slider panels: bias and variance, ridge, L1 against L2, Adam + L2 against
AdamW, early stopping, augmentation.

Every function draws arrays the notebook computed and passed in; nothing here fits, trains or
measures. A slider panel is a :class:`dlcore.widgets.Panel` with a ``state`` dict added: what the
panel shows now (the selected setting and the arrays it drew), which the notebook's lesson
checks read back.

Log-scale error charts keep a fixed range a reader can compare across settings; a value beyond
it is drawn as a triangle on the axis edge (pointing down below the floor, up above the ceiling)
instead of leaving the chart unseen or running along the edge like a real value.
"""
from __future__ import annotations

import matplotlib as mpl
import numpy as np

from .. import plot, widgets

BLUE, ORANGE, GREEN, RED, PURPLE, SKY = plot.PALETTE[:6]
CUT_OFF = "#BBBBBB"     # a pixel whose outgoing weights are all exactly 0


def _cut_off(magnitudes) -> np.ma.MaskedArray:
    """Mean |w| per pixel with the exact zeros masked (drawn in CUT_OFF grey, not as a dark value)."""
    return np.ma.masked_equal(magnitudes, 0.0)


def _legend_below(ax, ncols: int = 2):
    """The legend under the axes (below its x label), out of the way of the curves."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=ncols, fontsize="small")


def _subscript(n: int) -> str:
    """n in subscript digits: 25 -> '₂₅'."""
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _colour(colours: dict, name: str):
    """The colour of the first key that ``name`` starts with ("training error (set 0)" -> "training error")."""
    return next((c for key, c in colours.items() if name.startswith(key)), None)


def _as_array(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


def _log_curve(ax, x, values, low: float, high: float, **style):
    """``values`` against ``x`` on a log axis limited to [low, high]; values beyond the range are
    triangles on the edge (same colour). Returns the line (for the legend)."""
    x, values = _as_array(x), _as_array(values)
    inside = (values >= low) & (values <= high)
    shown = np.where(inside, values, np.nan)
    # join the curve to the edge where it leaves the range, so it does not just stop
    for i in range(1, len(values)):
        if inside[i - 1] and not inside[i]:
            shown[i] = low if values[i] < low else high
        elif inside[i] and not inside[i - 1]:
            shown[i - 1] = low if values[i - 1] < low else high
    (line,) = ax.plot(x, shown, **style)
    colour = line.get_color()
    size = max(8.0, 1.6 * line.get_markersize()) if line.get_marker() not in (None, "None", "") else 9.0
    for below, edge, marker in ((values < low, low, "v"), (values > high, high, "^")):
        if below.any():
            ax.plot(x[below], np.full(below.sum(), edge), marker, color=colour, ms=size, clip_on=False,
                    zorder=4, ls="none")
    return line


def _fit_axes(ax, x, y, x_grid, *, ylim=(-2, 2)):
    ax.plot(x_grid, np.sin(x_grid), "--", color="black", lw=1.5, label="sin x")
    ax.plot(x, y, "o", color=ORANGE, mec="white", zorder=3, label="training set 0")
    ax.set_ylim(*ylim)
    ax.set_xlim(0, 2 * np.pi)
    ax.set_xlabel("x (radians)")
    ax.set_ylabel("y")


def three_fits(x, y, x_grid, fits: dict, train_error: dict):
    """One axes per degree: the training points, sin x and the fit on ``x_grid``, titled with the
    fit's training error. fits, train_error: {degree: (G,) values, number}. Returns the figure."""
    fits = {d: _as_array(f) for d, f in fits.items()}
    fig, axes = plot.figure(1, len(fits), figsize=(4.6 * len(fits), 4.4), sharey=True)
    for ax, (d, f) in zip(np.atleast_1d(axes), fits.items()):
        _fit_axes(ax, x, y, x_grid)
        ax.plot(x_grid, f, color=BLUE, label=f"degree-{d} fit")
        ax.set_title(f"degree {d}: training error {train_error[d]:.3f}")
        if ax is not np.atleast_1d(axes)[0]:
            ax.set_ylabel("")
    np.atleast_1d(axes)[0].legend(loc="lower left", fontsize="small")
    fig.suptitle("The more flexible the polynomial, the lower its training error (on training set 0)",
                 fontweight="bold")
    return fig


def _spread_lines(ax, x_grid, fits, label):
    """Set 0's fit (thick) over the other sets' fits (thin); returns (others, set-0 line)."""
    others = [ax.plot(x_grid, f, color=SKY, lw=1, alpha=0.55)[0] for f in fits[1:]]
    (fit0,) = ax.plot(x_grid, fits[0], color=BLUE, label=label, zorder=2.5)
    return others, fit0


def _set_spread(others, fit0, fits):
    fit0.set_ydata(fits[0])
    for line, f in zip(others, fits[1:]):
        line.set_ydata(f)


def degree_panel(x, y, x_grid, fits, errors: dict, *, noise: float, best_degree: int,
                 floor: float = 1e-4, ceiling: float = 1e3, value: int = 1):
    """The bias-variance slider over the polynomial degree.

    fits (D, S, G): for each degree 0..D-1, set 0's fit then S - 1 other sets' fits on x_grid.
    errors: {"training error", "test error (new points)", "bias²", "variance": (D,) arrays} (a name
    may go on, e.g. "training error (mean of 200 sets)": it keeps that curve's colour), drawn
    against the degree with ``noise`` (sigma^2) as a dotted line. ``panel.state``: the degree shown
    and the fits drawn, (S, G).
    """
    fits = _as_array(fits)
    degrees = np.arange(fits.shape[0])
    fig, axes = plot.figure(1, 2, figsize=(14, 4.8))
    ax = axes[0]
    _fit_axes(ax, x, y, x_grid)
    others, fit0 = _spread_lines(ax, x_grid, fits[value], "fit to set 0")
    ax.plot([], [], color=SKY, lw=2, label=f"fits to {fits.shape[1] - 1} other sets")
    _legend_below(ax)                       # inside, the moving fits would be drawn over it
    fit_title = ax.set_title(" ")

    ax = axes[1]
    colours = {"training error": ORANGE, "test error (new points)": RED, "bias²": BLUE, "variance": GREEN}
    for name, values in errors.items():
        _log_curve(ax, degrees, values, floor, ceiling, color=_colour(colours, name), label=name,
                   marker="o", ms=4)
    ax.axhline(noise, color="grey", ls=":", lw=2)
    ax.text(degrees[-1], noise * 1.15, "noise σ²", color="dimgrey", ha="right", va="bottom", fontsize="small")
    marker = ax.axvline(value, color="black", lw=1.5)
    ax.set_yscale("log")
    ax.set_ylim(floor, ceiling)
    ax.set_xlim(0, degrees[-1])
    ax.set_xlabel("polynomial degree")
    ax.set_ylabel("mean squared error")
    ax.legend(loc="upper left", fontsize="small")             # the errors are small at low degrees
    ax.set_title(f"Lowest test error at degree {best_degree}")
    fig.suptitle("Training error always falls with the degree; test error does not", fontweight="bold")
    bias2, var = _as_array(errors["bias²"]), _as_array(errors["variance"])
    state = {}

    def update(degree):
        _set_spread(others, fit0, fits[degree])
        marker.set_xdata([degree, degree])
        fit_title.set_text(f"degree {degree}: bias² {bias2[degree]:.1g}, variance {var[degree]:.1g}")
        state.update(degree=degree, fits=fits[degree])

    panel = widgets.Panel(fig, update, animated=[*others, fit0, marker, fit_title],
                          degree=widgets.slider("degree", 0, int(degrees[-1]), 1, int(value)))
    panel.state = state
    return panel


def ridge_panel(x, y, x_grid, lams, fits, coef, errors: dict, *, noise: float, best_lam: float,
                floor: float = 1e-4, ceiling: float = 1e6, value: float | None = None):
    """The ridge slider over lambda (log scale, snapping to the nearest of ``lams``).

    fits (L, S, G) as in :func:`degree_panel`, one row per lambda; coef (L, P): set 0's
    coefficients, drawn as |c_k| bars (c_0 first, not penalised); errors: {"test error" (expected),
    "bias²", "variance", "training error" (set 0): (L,) arrays} drawn against lambda. ``panel.state``: the index i and lambda shown, and the fits drawn.
    """
    lams, fits, coef = _as_array(lams), _as_array(fits), _as_array(coef)
    norm = np.linalg.norm(coef[:, 1:], axis=1)
    value = float(lams[0]) if value is None else value
    fig, axes = plot.figure(1, 3, figsize=(15, 5.4), width_ratios=[1.1, 0.9, 1])
    ax = axes[0]
    _fit_axes(ax, x, y, x_grid)
    others, fit0 = _spread_lines(ax, x_grid, fits[0], "fit to set 0")
    ax.plot([], [], color=SKY, lw=2, label=f"{fits.shape[1] - 1} other sets")
    _legend_below(ax)
    fit_title = ax.set_title(" ")

    ax = axes[1]
    edges = np.arange(coef.shape[1] + 1) - 0.5
    bars = ax.stairs(np.maximum(np.abs(coef[0]), 1e-6), edges, fill=True, color=PURPLE, alpha=0.85,
                     baseline=1e-6)
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 3e3)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("Legendre degree k")
    ax.set_ylabel("|coefficient cₖ|")
    coef_title = ax.set_title(" ")

    ax = axes[2]
    colours = {"test error": RED, "bias²": BLUE, "variance": GREEN, "training error": ORANGE}
    for name, values in errors.items():
        # at small lambda the test error is almost all variance: dashed and on top, so both stay visible
        style = dict(ls="--", lw=2.2, zorder=3) if name.startswith("test error") else {}
        _log_curve(ax, lams, values, floor, ceiling, color=_colour(colours, name), label=name, **style)
    ax.axhline(noise, color="grey", ls=":", lw=2, label="noise σ²")
    marker = ax.axvline(value, color="black", lw=1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor, ceiling)
    ax.set_xlabel("λ")
    ax.set_ylabel("mean squared error")
    ax.legend(loc="upper right", fontsize="small")          # the variance is large only at the left
    ax.set_title(f"best λ ≈ {best_lam:.0e}")
    fig.suptitle("L2 on the degree-25 fit: a larger λ trades variance for bias", fontweight="bold")
    test = _as_array(next(v for k, v in errors.items() if k.startswith("test error")))
    state = {}

    def update(lam):
        i = int(np.abs(np.log10(lams) - np.log10(lam)).argmin())        # the nearest precomputed lambda
        _set_spread(others, fit0, fits[i])
        bars.set_data(np.maximum(np.abs(coef[i]), 1e-6), edges)
        marker.set_xdata([lams[i], lams[i]])
        fit_title.set_text(f"λ = {lams[i]:.0e}: test error {test[i]:.2g}")
        coef_title.set_text(f"‖c₁ … c{_subscript(coef.shape[1] - 1)}‖ = {norm[i]:.2g}")
        state.update(i=i, lam=float(lams[i]), fits=fits[i])

    panel = widgets.Panel(fig, update, animated=[*others, fit0, bars, marker, fit_title, coef_title],
                          lam=widgets.slider("λ", float(lams[0]), float(lams[-1]), 0.25, value, log=True))
    panel.state = state
    return panel


def threshold_figure(v, l1_step, brute, l2_step, threshold: float):
    """The new weight against v (the weight after the plain gradient step): the soft-threshold
    (L1's proximal step) with brute-force minimisers as dots, L2's scaling, and no penalty."""
    v, l1_step, brute, l2_step = map(_as_array, (v, l1_step, brute, l2_step))
    fig, ax = plot.figure(figsize=(9, 5.2))
    ax.axvspan(-threshold, threshold, color=RED, alpha=0.12, label=f"|v| ≤ ηλ = {threshold:g}: set to 0")
    ax.plot(v, v, ":", color="grey", lw=2, label="no penalty: w = v")
    ax.plot(v, l2_step, color=BLUE, label="L2: w = (1 − ηλ) v")
    ax.plot(v, l1_step, color=RED, label="L1 (soft-threshold)")
    ax.plot(v, brute, "o", color="black", ms=4, label="brute-force minimiser")
    ax.set_xlabel("v = w − η ∂C/∂w  (after the gradient step)")
    ax.set_ylabel("new weight w")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title("L1 sets every small weight to exactly 0; L2 only scales it")
    return fig


def penalty_panel(first_layer, pixel_mag, zero_frac, val_acc, lams, members: dict, *, bins=None,
                  value: tuple | None = None):
    """The L2 / L1 slider: first-layer weight histogram, mean |w| per pixel, and the zero fraction
    and validation accuracy against lambda.

    first_layer (K, out, in) weights of K networks (member 0: no penalty, drawn as an outline);
    pixel_mag (K, 28, 28) mean |w| per input pixel; zero_frac, val_acc (K,); members: {penalty
    name: the member of each of ``lams``}. ``panel.state``: the penalty, lambda and member k shown.
    """
    first_layer, pixel_mag = _as_array(first_layer), _as_array(pixel_mag)
    zero_frac, val_acc, lams = _as_array(zero_frac), _as_array(val_acc), _as_array(lams)
    edges = np.linspace(-0.25, 0.25, 52) if bins is None else _as_array(bins)    # 51 bins: 0 in the middle one
    hist = [np.maximum(np.histogram(w.ravel(), bins=edges)[0], 0.5) for w in first_layer]
    colours = dict(zip(members, [BLUE, RED, GREEN, PURPLE]))
    penalty0, lam0 = value or (next(iter(members)), float(lams[len(lams) // 2]))

    fig, titles, axes = plot.figure_rows(1, 3, figsize=(15, 5.6), width_ratios=[1.2, 0.8, 1])
    ax = axes[0][0]
    ax.stairs(hist[0], edges, color="black", lw=1.5, baseline=0.5, label="outline: no penalty")
    bars = ax.stairs(hist[0], edges, fill=True, color=BLUE, alpha=0.7, baseline=0.5)
    ax.set_yscale("log")
    ax.set_ylim(0.5, 4e4)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("first-layer weight")
    ax.set_ylabel("count")
    ax.legend(loc="upper left", fontsize="small")
    ax = axes[0][1]
    cmap = mpl.colormaps["magma"].with_extremes(bad=CUT_OFF)
    norm = mpl.colors.Normalize(0, float(pixel_mag[0].max()))
    pixels = [cmap(norm(_cut_off(m)), bytes=True) for m in pixel_mag]    # (28, 28, 4) each: colour once, not per move
    image = ax.imshow(pixels[0], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title("mean |w| leaving each pixel")
    ax.set_xlabel("grey: cut off (all weights 0)")
    ax = axes[0][2]
    for name, ks in members.items():
        short = name.split()[0]
        ax.plot(lams, 100 * zero_frac[ks], color=colours[name], marker="o", label=f"{short}: % exactly 0")
        ax.plot(lams, 100 * val_acc[ks], color=colours[name], ls="--", marker="s", ms=5,
                label=f"{short}: val. accuracy %")
    (dot,) = ax.plot([], [], "o", ms=16, mfc="none", mec="black", mew=2.5)
    ax.set_xscale("log")
    ax.set_ylim(-3, 103)
    ax.set_xlabel("λ")
    ax.set_ylabel("%")
    _legend_below(ax)
    state = {}

    def update(penalty, lam):
        j = int(np.abs(np.log10(lams) - np.log10(lam)).argmin())
        k = members[penalty][j]
        bars.set_data(hist[k], edges)
        bars.set_facecolor(colours[penalty])
        image.set_data(pixels[k])
        dot.set_data([lams[j]], [100 * zero_frac[k]])
        titles[0].set_text(f"{penalty}, λ = {lams[j]:.0e}: {100 * zero_frac[k]:.0f}% of weights exactly 0, "
                           f"validation accuracy {100 * val_acc[k]:.1f}%")
        state.update(penalty=penalty, lam=float(lams[j]), k=int(k))

    panel = widgets.Panel(fig, update, animated=[bars, image, dot, titles[0]],
                          penalty=widgets.dropdown("penalty", list(members), penalty0),
                          lam=widgets.slider("λ", float(lams[0]), float(lams[-1]), 0.5, lam0, log=True))
    panel.state = state
    return panel


def early_stopping_figure(curve: dict, best_step: int, best_loss: float, stop_step: int, patience: int):
    """Training and validation loss against the step, the best check and the stop signal.
    curve: {"step", "train", "val": arrays}."""
    fig, ax = plot.figure(figsize=(12, 5.6))
    ax.plot(curve["step"], curve["train"], color=ORANGE, label="training loss (noisy labels)")
    ax.plot(curve["step"], curve["val"], color=BLUE, label="validation loss")
    ax.axvline(best_step, color=GREEN, lw=2)
    ax.plot([best_step], [best_loss], "o", color=GREEN, ms=12, label=f"lowest validation loss: step {best_step}")
    ax.axvline(stop_step, color="grey", ls="--", lw=2, label=f"stop signal: step {stop_step} (patience {patience})")
    ax.axvspan(stop_step, curve["step"][-1], color="grey", alpha=0.12, label="steps early stopping saves")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_xlim(0, curve["step"][-1])
    ax.set_ylim(bottom=0)
    _legend_below(ax, ncols=3)
    ax.set_title(f"Validation loss is lowest at step {best_step}: early stopping keeps those weights")
    return fig


def augment_examples(variants: dict, label: int):
    """One row per transformation, one column per random draw: {name: (n, 1, 28, 28) images}."""
    variants = {name: _as_array(v) for name, v in variants.items()}
    ncols = max(len(v) for v in variants.values())
    fig, axes = plot.figure(len(variants), ncols, figsize=(1.9 * ncols + 2.2, 1.9 * len(variants)))
    for row, (name, imgs) in zip(np.atleast_2d(axes), variants.items()):
        for j, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.spines[:].set_visible(True)
            ax.spines[:].set_color("grey")
            if j < len(imgs):
                ax.imshow(imgs[j, 0], cmap="gray_r")
            else:
                ax.axis("off")
        row[0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle(f"Shifted, turned or noisy, a {label} is still a {label}", fontweight="bold")
    return fig


def augmentation_figure(steps, train, val, pairs: int):
    """Training (solid) and validation (dashed) accuracy of each pair: members 0..pairs-1 on the
    original images, pairs..2 pairs-1 on augmented ones. train, val: (checks, 2 pairs)."""
    steps, train, val = _as_array(steps), _as_array(train), _as_array(val)
    fig, axes = plot.figure(1, 2, figsize=(13, 5), sharey=True)
    for ax, (name, cols, colour) in zip(axes, [("original images", range(pairs), ORANGE),
                                               ("augmented images", range(pairs, 2 * pairs), BLUE)]):
        for j, c in enumerate(cols):
            ax.plot(steps, 100 * train[:, c], color=colour, lw=2.5, label="training accuracy" if j == 0 else None)
            ax.plot(steps, 100 * val[:, c], color=colour, ls="--", lw=2.5,
                    label="validation accuracy" if j == 0 else None)
        gap = 100 * (train[-1, list(cols)] - val[-1, list(cols)]).mean()
        ax.set_title(f"{name}: final gap {gap:.1f} points")
        ax.set_xlabel("training step")
        ax.set_ylim(75, 101)
        ax.legend(loc="lower right")
    axes[0].set_ylabel("accuracy (%)")
    fig.suptitle("Augmentation narrows the gap between training and validation accuracy", fontweight="bold")
    return fig


def decoupled_panel(scale, shrink: dict, val_acc: dict, lams, *, acc_none: float, value: float | None = None):
    """The Adam + L2 against AdamW slider: how much each weight shrank against the size of its
    gradient, and the validation accuracy against lambda.

    scale (nb,): the typical gradient size of each bin of weights (sqrt of Adam's second moment in
    the run without a penalty); shrink: {name: (G, nb) median final |w| / unpenalised |w| per bin,
    one row per lambda}; val_acc: {name: (G,)}; lams (G,); acc_none: the run without a penalty.
    ``panel.state``: the lambda shown and its row j.
    """
    scale, lams = _as_array(scale), _as_array(lams)
    shrink = {name: _as_array(s) for name, s in shrink.items()}
    val_acc = {name: _as_array(a) for name, a in val_acc.items()}
    if len(shrink) != 2 or set(shrink) != set(val_acc):
        raise ValueError(f"shrink and val_acc need the same two methods; got {list(shrink)}, {list(val_acc)}")
    for name in shrink:
        if shrink[name].shape != (len(lams), len(scale)) or val_acc[name].shape != (len(lams),):
            raise ValueError(f"{name}: shrink must be (len(lams), len(scale)) = {(len(lams), len(scale))} and "
                             f"val_acc (len(lams),); got {shrink[name].shape}, {val_acc[name].shape}")
    colours = dict(zip(shrink, [RED, BLUE]))
    fig, titles, axes = plot.figure_rows(1, 2, figsize=(14, 5.6), width_ratios=[1.15, 1])
    ax = axes[0][0]
    lines = {}
    for name in shrink:
        (lines[name],) = ax.plot(scale, shrink[name][0], color=colours[name], marker="o", lw=3, label=name)
    ax.axhline(1.0, color="grey", lw=1.5, ls=":")
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.08)
    ax.set_xlabel("the weight's gradient size (its RMS without a penalty)")
    ax.set_ylabel("final |w| / |w| without penalty")
    ax.legend(loc="lower right")
    ax = axes[0][1]
    for name in shrink:
        ax.plot(lams, 100 * val_acc[name], color=colours[name], marker="o", label=name)
    ax.axhline(100 * acc_none, color="grey", lw=1.5, ls=":", label="no penalty")
    (dot,) = ax.plot([], [], "o", ms=16, mfc="none", mec="black", mew=2.5)
    ax.set_xscale("log")
    ax.set_xlabel("λ (the same number for both)")
    ax.set_ylabel("validation accuracy %")
    ax.legend(loc="lower left")
    state = {}
    first, second = shrink

    def update(lam):
        j = int(np.abs(np.log10(lams) - np.log10(lam)).argmin())
        for name, line in lines.items():
            line.set_ydata(shrink[name][j])
        dot.set_data([lams[j], lams[j]], [100 * val_acc[first][j], 100 * val_acc[second][j]])
        titles[0].set_text(f"λ = {lams[j]:g}: {first} keeps {shrink[first][j].min():.0%} to "
                           f"{shrink[first][j].max():.0%} of a weight, {second} "
                           f"{shrink[second][j].min():.0%} to {shrink[second][j].max():.0%}")
        state.update(lam=float(lams[j]), j=j)

    panel = widgets.Panel(fig, update, animated=[*lines.values(), dot, titles[0]],
                          lam=widgets.slider("λ", float(lams[0]), float(lams[-1]), 1.0,
                                             float(lams[len(lams) // 2] if value is None else value), log=True))
    panel.state = state
    return panel


__all__ = ["three_fits", "degree_panel", "ridge_panel", "threshold_figure", "penalty_panel",
           "early_stopping_figure", "augment_examples", "augmentation_figure",
           "decoupled_panel"]
