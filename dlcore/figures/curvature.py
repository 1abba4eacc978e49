"""Notebook 03's figures and slider panels: optimiser paths on 2-D loss surfaces.

    from dlcore.figures import curvature
    curvature.paths_on_surface(ravine, {"η = 0.039": path}, title="...")       # a static figure
    panel, shown = curvature.optimiser_panel(six_runs, ["ravine", "beale"])     # a slider panel

Every function draws what the notebook computed and passes in: paths and losses, or a function
``run(...)`` returning :class:`dlcore.trajectory.Trajectories`, which a panel calls with its
controls' values. Nothing here trains or measures what a lesson check relies on. A panel comes
with ``shown``, a dict of the artists the notebook's checks read back (the title, the lines).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from .. import plot, surfaces, widgets

OPTIMISERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
COLOURS = dict(zip(OPTIMISERS, plot.PALETTE))      # one colour per optimiser, in every figure
LAW_NAMES = {"sgd": "GD", "momentum": "heavy-ball momentum"}   # the law figure's legend
LOSS_FLOOR = 1e-10                                 # the loss plots' lowest value


def contour(ax, surface, *, levels: int = 20, n: int = 200) -> None:
    """Grey contours of log10(f - f*) over the surface's window, a black star at its minimum."""
    X, Y, Z = surfaces.grid(surface, n)
    zmin = surface.min_value if surface.min_value is not None else Z.min()
    ax.contour(X, Y, np.log10(Z - zmin + 1e-3), levels=levels, colors="grey", linewidths=1,
               alpha=0.6, linestyles="solid")
    if surface.minimum:
        ax.plot(*surface.minimum, marker="*", color="black", markersize=16, linestyle="none")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def paths_on_surface(surface, paths: dict, *, title: str, xlim=None, ylim=None, colour=COLOURS["sgd"]):
    """One panel per path {panel title: (n, 2) array}, each over the surface's contours."""
    fig, axes = plot.figure(1, len(paths), figsize=(6 * len(paths), 4.5))
    for ax, (label, path) in zip(np.atleast_1d(axes), paths.items()):
        contour(ax, surface)
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], marker="o", markersize=4, color=colour)
        ax.set_title(label)
        if xlim:
            ax.set_xlim(*xlim)
        if ylim:
            ax.set_ylim(*ylim)
    fig.suptitle(title, fontweight="bold")
    return fig


def lr_sweep(fractions, final_loss, diverged, *, title: str, steps: int = 1500):
    """Loss after ``steps`` steps against eta / (2 / lambda_max): converged runs as dots, diverged ones
    as crosses along the top."""
    fractions, final_loss = np.asarray(fractions), np.asarray(final_loss, dtype=float)
    diverged = np.asarray(diverged, dtype=bool)
    fig, ax = plot.figure(figsize=(9, 4.4))
    ok = ~diverged
    low = max(float(final_loss[ok].min()) if ok.any() else 1e-12, 1e-300)
    top = 1e4
    ax.plot(fractions[ok], final_loss[ok], "o", color=COLOURS["sgd"], markersize=8, label="converged: its final loss")
    ax.plot(fractions[diverged], np.full(diverged.sum(), top), "x", color=plot.PALETTE[3], markersize=12,
            mew=3, label="diverged")
    ax.axvline(1, color="black", linestyle="--", linewidth=1.5)
    ax.text(1.02, low, "η = 2/λmax", fontsize="small", va="bottom")
    ax.set_yscale("log")
    ax.set_ylim(low / 1e3, top * 1e3)
    ax.set_xlabel("learning rate η, in units of 2/λmax")
    ax.set_ylabel(f"loss after {steps:,} steps")
    ax.legend(loc="center right")
    ax.set_title(title)
    return fig


def _verdict(gd, max_steps: int) -> str:
    if gd.diverged[0]:
        return f"diverged at step {gd.diverged_at[0]}"
    n = int(gd.steps_to(1e-6)[0])
    return f"reaches 1e-6 in {n} steps" if n >= 0 else f"not at 1e-6 after {max_steps} steps"


def gd_newton_panel(run, *, max_steps: int, kappa: float = 50.0, lr_frac: float = 0.5):
    """Section 2's panel: GD and Newton on the ravine, sliders for kappa, eta and the steps shown.

    run(kappa, lr_frac) -> (surface, gd, newton): the ravine, GD's Trajectories (one run at
    eta = lr_frac * 2 / lambda_max) and Newton's (2, 2) path; cache it (``functools.lru_cache``, room
    for a few hundred settings): the panel calls it ahead for the settings one slider move away
    (:class:`dlcore.widgets.Panel`'s ``prefetch``). Returns (panel, shown).
    """
    fig, (ax_path, ax_loss) = plot.figure(1, 2, figsize=(12, 4.8), width_ratios=[1.2, 1])
    background = ax_path.imshow(np.zeros((120, 120)), extent=(-5, 5, -5, 5), origin="lower",
                                cmap="Greys", vmin=-3, vmax=3, aspect="auto")
    (gd_path,) = ax_path.plot([], [], marker="o", markersize=3, color=COLOURS["sgd"], label="gradient descent")
    (newton_path,) = ax_path.plot([], [], marker="s", markersize=9, color=COLOURS["adam"], label="Newton")
    (star,) = ax_path.plot(0, 0, marker="*", color="black", markersize=16, linestyle="none", label="minimum")
    ax_path.set_xlim(-5, 5)
    ax_path.set_ylim(-5, 5)
    ax_path.grid(False)
    ax_path.set_xlabel("x")
    ax_path.set_ylabel("y")
    (gd_loss,) = ax_loss.plot([], [], color=COLOURS["sgd"], label="gradient descent")
    (newton_loss,) = ax_loss.plot([], [], marker="s", color=COLOURS["adam"], label="Newton")
    ax_loss.set_yscale("log")
    ax_loss.set_ylim(1e-12, 1e4)
    ax_loss.set_xlim(0, max_steps)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    # one legend below both plots: static, so a frame never redraws it (over the image it was
    # redrawn with every frame, ~5 ms of each), and the two plots' lines share their colours
    legend = fig.legend(handles=[gd_path, newton_path, star], loc="outside lower center", ncols=3)
    title = fig.suptitle(" ", fontweight="bold")

    on_show = {"kappa": None}

    @functools.lru_cache(maxsize=128)
    def log_surface(kappa):
        _, _, Z = surfaces.grid(surfaces.ravine(condition=kappa), 120)
        return np.log10(Z + 1e-3)

    def update(kappa, lr_frac, steps):
        s, gd, newton = run(kappa, lr_frac)
        if kappa != on_show["kappa"]:           # the same κ: leave the image alone (not redrawn)
            background.set_data(log_surface(kappa))
            on_show["kappa"] = kappa
        path = gd.path(0)[: steps + 1]
        gd_path.set_data(path[:, 0], path[:, 1])
        gd_loss.set_data(np.arange(len(path)), np.clip(gd.loss(0)[: steps + 1], 1e-12, None))
        newton = np.asarray(newton)
        newton_path.set_data(newton[:, 0], newton[:, 1])
        newton_loss.set_data([0, 1], np.clip([s.f(torch.as_tensor(p)).item() for p in newton], 1e-12, None))
        title.set_text(f"κ = {kappa:.0f}, η = {lr_frac:.2f} × 2/λmax\n"
                       f"gradient descent {_verdict(gd, max_steps)}; Newton: 1 step")

    panel = widgets.Panel(
        # the background image changes with κ, so it is animated; the star comes after it in this
        # list, or the image would cover it
        fig, update, animated=[background, gd_path, newton_path, star, gd_loss, newton_loss, title],
        prefetch=lambda kappa, lr_frac, steps: (run(kappa, lr_frac), log_surface(kappa)),
        kappa=widgets.slider("condition number κ", 1.0, 1000.0, 0.1, kappa, log=True),
        lr_frac=widgets.slider("η / (2/λmax)", 0.05, 1.2, 0.01, lr_frac),
        steps=widgets.slider("steps", 1, max_steps, 1, max_steps),
    )
    return panel, {"title": title, "lines": [gd_path, newton_path, gd_loss, newton_loss], "star": star,
                   "legend": legend}


def momentum_figure(weights, surface, thetas, lookaheads, *, k: int = 3):
    """Momentum's weights mu^k (left); step k + 1 of Nesterov as look-ahead then gradient step (right),
    zoomed on the path's first k + 2 points (by default a step whose gradient step is about as long
    as its momentum step, so both arrows show)."""
    from matplotlib.lines import Line2D

    thetas, lookaheads = np.asarray(thetas), np.asarray(lookaheads)
    fig, (ax_w, ax_n) = plot.figure(1, 2, figsize=(12, 4.4), width_ratios=[1, 1.4])
    ax_w.bar(np.arange(40), np.asarray(weights)[:40], color=COLOURS["momentum"])
    ax_w.set_xlabel("k (steps ago)")
    ax_w.set_ylabel("weight μᵏ of $g_{t-k}$")
    ax_w.set_title("momentum's weights μᵏ")
    contour(ax_n, surface)
    (path,) = ax_n.plot(thetas[: k + 2, 0], thetas[: k + 2, 1], marker="o", color=COLOURS["nesterov"],
                        label="θ (Nesterov), from the start")
    th, la = thetas[k], lookaheads[k]
    ax_n.annotate("", xy=la, xytext=th, arrowprops=dict(arrowstyle="->", color="black", lw=2.5))
    ax_n.annotate("", xy=thetas[k + 1], xytext=la, arrowprops=dict(arrowstyle="->", color=COLOURS["adam"], lw=2.5))
    ax_n.text(*la, "  look-ahead θ + μv", fontsize="small", va="bottom")
    shown = np.vstack([thetas[: k + 2], la])
    (x0, y0), (x1, y1) = shown.min(axis=0), shown.max(axis=0)
    pad = 0.15 * max(x1 - x0, y1 - y0)
    ax_n.set_xlim(x0 - pad, x1 + 3 * pad)          # room on the right for the label
    ax_n.set_ylim(y0 - pad, y1 + pad)
    ax_n.legend(handles=[path, Line2D([], [], color="black", lw=2.5, label="momentum step μv"),
                         Line2D([], [], color=COLOURS["adam"], lw=2.5, label="gradient step, taken at the look-ahead")],
                loc="upper right", fontsize="small")
    ax_n.set_title(f"Nesterov: look ahead, then step (step {k + 1})")
    fig.suptitle("Momentum averages past gradients; Nesterov steps from the look-ahead point", fontweight="bold")
    return fig


def adaptive_figure(effective, surface, paths: dict, ratio, *, adagrad_on: str, paths_on: str):
    """AdaGrad's per-coordinate rate (left), paths on the pathological-curvature surface (middle),
    Adam's uncorrected / corrected step against the step t = 1, 2, ... (right).

    adagrad_on, paths_on: what the left and middle panels' runs are, for their titles
    ("the ravine, η = 0.5"; "300 steps").
    """
    effective, ratio = np.asarray(effective), np.asarray(ratio)
    fig, (ax_a, ax_p, ax_b) = plot.figure(1, 3, figsize=(14, 4.6), width_ratios=[1, 1.3, 1])
    ax_a.plot(effective[:, 0], label="x (curvature 1)", color=COLOURS["adagrad"])
    ax_a.plot(effective[:, 1], label="y (curvature 50)", color=COLOURS["adagrad"], linestyle="--")
    ax_a.set_yscale("log")
    ax_a.set_xlabel("step")
    ax_a.set_ylabel("η / (√r + δ)")
    ax_a.legend()
    ax_a.set_title(f"AdaGrad on {adagrad_on}:\nits rate only shrinks")
    contour(ax_p, surface)
    for name, path in paths.items():
        ax_p.plot(*np.asarray(path).T, color=COLOURS[name], label=name)
    ax_p.legend(loc="lower left")
    ax_p.set_title(f"pathological curvature:\n{paths_on}")
    t = np.arange(1, len(ratio) + 1)
    ax_b.plot(t, ratio, color=COLOURS["adam"])
    ax_b.axhline(1, color="grey", lw=1)
    ax_b.set_xlabel("step t")
    ax_b.set_ylabel("uncorrected / corrected step")
    ax_b.set_title("why Adam corrects its bias:\nits steps without the correction")
    return fig


def floor_of(surface) -> float:
    """f* of a surface: its minimum value, or the infimum it approaches (0 if neither is known)."""
    return surface.min_value if surface.min_value is not None else surface.params.get("infimum", 0.0)


_BACKGROUNDS: dict = {}


def _background(surface):
    """log10(f - f* + 1e-3) on a 150 x 150 grid, once per surface (its name and parameters)."""
    key = (surface.name, repr(sorted(surface.params.items())))
    if key not in _BACKGROUNDS:
        _, _, Z = surfaces.grid(surface, 150)
        _BACKGROUNDS[key] = np.log10(Z - floor_of(surface) + 1e-3)
    return _BACKGROUNDS[key]


def _paths_figure(names, max_steps: int):
    """Paths over the surface (left), f - f* per step (right), one legend below both."""
    fig, (ax_p, ax_l) = plot.figure(1, 2, figsize=(12, 5.4), width_ratios=[1.1, 1])
    art = {"background": ax_p.imshow(np.zeros((150, 150)), origin="lower", cmap="Greys", vmin=-3, vmax=4,
                                     aspect="auto", extent=(0, 1, 0, 1)),
           "minimum": ax_p.plot([], [], marker="*", color="black", markersize=16, linestyle="none")[0],
           "title": fig.suptitle(" ", fontweight="bold"), "ax_path": ax_p}
    for name in names:
        art[name] = (ax_p.plot([], [], color=COLOURS[name], lw=2.5, label=name)[0],
                     ax_p.plot([], [], marker="x", color=COLOURS[name], markersize=14, mew=3)[0],
                     ax_l.plot([], [], color=COLOURS[name], label=name)[0])
    ax_p.grid(False)
    ax_p.set_xlabel("x")
    ax_p.set_ylabel("y")
    fig.legend(handles=[art[n][0] for n in names], loc="outside lower center", ncols=len(names))
    ax_l.set_yscale("log")
    ax_l.set_ylim(LOSS_FLOOR, 1e4)
    ax_l.set_xlim(0, max_steps)
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("f − f*")
    moving = [a for n in names for a in art[n]] + [art["title"]]   # the background and star are static
    return fig, art, moving


def _set_surface(art, surface, logz) -> None:
    """Move the static part (background, window, star) to a new surface: a full redraw follows."""
    (x0, x1), (y0, y1) = surface.window
    art["background"].set_data(logz)
    art["background"].set_extent((x0, x1, y0, y1))
    art["ax_path"].set_xlim(x0, x1)
    art["ax_path"].set_ylim(y0, y1)
    m = surface.minimum
    art["minimum"].set_data(*([[m[0]], [m[1]]] if m else [[], []]))


def _show_runs(art, res, names, steps, floor) -> dict:
    """Draw each run up to ``steps``; return {name: f - f* at the end shown, inf if diverged}."""
    summary = {}
    for i, name in enumerate(names):
        path_line, cross, loss_line = art[name]
        end = min(res.end(i), steps)
        path, loss = res.path(i)[: end + 1], res.loss(i)[: end + 1]
        path_line.set_data(path[:, 0], path[:, 1])
        loss_line.set_data(np.arange(len(loss)), np.clip(loss - floor, LOSS_FLOOR, 1e4))
        diverged = bool(res.diverged[i]) and res.diverged_at[i] <= steps
        cross.set_data(*([[path[-1, 0]], [path[-1, 1]]] if diverged else [[], []]))
        summary[name] = math.inf if diverged else float(loss[-1] - floor)
    return summary


def gap_text(value: float) -> str:
    """f - f* for a title: '3.2e-04', or '< 1e-10' below the plot's floor."""
    return f"< {LOSS_FLOOR:.0e}" if value < LOSS_FLOOR else f"{value:.1e}"


def optimiser_panel(run, surface_names, *, max_steps: int, surface: str = "ravine", lr_plain: float = 0.02,
                    lr_adaptive: float = 0.1, mu: float = 0.9, beta2: float = 0.99):
    """Section 4's panel: the six optimisers of :data:`OPTIMISERS` on one surface.

    run(surface, lr_plain, lr_adaptive, mu, beta2) -> Trajectories with one run per optimiser,
    in the order of OPTIMISERS. A surface shown for the first time redraws the whole figure (its
    ticks move); after that, and for the other controls, only the paths, curves and title are
    redrawn. Cache ``run`` as for :func:`gd_newton_panel` (it is called ahead). Returns (panel, shown).
    """
    fig, art, moving = _paths_figure(OPTIMISERS, max_steps)
    last = {"surface": None}

    def update(surface, lr_plain, lr_adaptive, mu, beta2, steps):
        res = run(surface, lr_plain, lr_adaptive, mu, beta2)
        new_surface = surface != last["surface"]
        if new_surface:
            _set_surface(art, res.surface, _background(res.surface))
            last["surface"] = surface
        summary = _show_runs(art, res, OPTIMISERS, steps, floor_of(res.surface))
        finite = {k: v for k, v in summary.items() if math.isfinite(v)}
        text = f"{surface}, {steps} steps\n"
        if finite:
            best = min(finite, key=finite.get)
            text += f"lowest f − f*: {best} ({gap_text(finite[best])})"
        else:
            text += "all diverged"
        gone = [k for k, v in summary.items() if not math.isfinite(v)]
        art["title"].set_text(text + (f"; diverged: {', '.join(gone)}" if gone and finite else ""))
        return new_surface

    panel = widgets.Panel(
        fig, update, background_key=lambda: last["surface"], animated=moving,
        prefetch=lambda surface, lr_plain, lr_adaptive, mu, beta2, steps: run(surface, lr_plain, lr_adaptive, mu, beta2),
        surface=widgets.dropdown("surface", list(surface_names), surface),
        lr_plain=widgets.slider("η: SGD, momentum, Nesterov", 1e-4, 1.0, 0.05, lr_plain, log=True),
        lr_adaptive=widgets.slider("η: AdaGrad, RMSprop, Adam", 1e-3, 1.0, 0.05, lr_adaptive, log=True),
        mu=widgets.slider("μ (momentum) = β1 (Adam)", 0.0, 0.99, 0.01, mu),
        beta2=widgets.slider("α (RMSprop) = β2 (Adam)", 0.5, 0.999, 0.001, beta2),
        steps=widgets.slider("steps", 1, max_steps, 1, max_steps),
    )
    return panel, {"title": art["title"], "lines": [a for a in moving if hasattr(a, "get_xydata")]}


def noisy_panel(run, names, *, sigma: float, max_steps: int, batch: int = 16, lr_plain: float = 0.01,
                lr_adaptive: float = 0.05, tail: int = 50):
    """Section 5's panel: noisy gradients on one surface, a slider for the mini-batch size m.

    run(batch, lr_plain, lr_adaptive) -> Trajectories, one run per name (optimisers of
    :data:`OPTIMISERS`), gradients with noise sigma / sqrt(m). The title gives each one's mean loss
    over its last ``tail`` steps shown. Cache ``run`` as for :func:`gd_newton_panel` (it is called
    ahead). Returns (panel, shown).
    """
    names = list(names)
    fig, art, moving = _paths_figure(names, max_steps)
    placed = {"surface": False}

    def update(batch, lr_plain, lr_adaptive, steps):
        res = run(batch, lr_plain, lr_adaptive)
        first = not placed["surface"]
        if first:
            _set_surface(art, res.surface, _background(res.surface))
            placed["surface"] = True
        _show_runs(art, res, names, steps, floor_of(res.surface))
        means = [res.loss(i)[max(0, steps - tail): steps + 1].mean() for i in range(len(names))]
        art["title"].set_text(f"batch {batch}: noise σ/√m = {sigma / math.sqrt(batch):.2g}\nloss over the last "
                              f"{tail} steps: " + ", ".join(f"{n} {v:.1g}" for n, v in zip(names, means)))
        return first

    panel = widgets.Panel(
        fig, update, animated=moving,
        prefetch=lambda batch, lr_plain, lr_adaptive, steps: run(batch, lr_plain, lr_adaptive),
        batch=widgets.slider("batch size m", 1, 1024, 1, batch),
        lr_plain=widgets.slider("η: SGD, momentum", 1e-3, 0.04, 0.05, lr_plain, log=True),
        lr_adaptive=widgets.slider("η: Adam", 1e-3, 1.0, 0.05, lr_adaptive, log=True),
        steps=widgets.slider("steps", 1, max_steps, 1, max_steps),
    )
    return panel, {"title": art["title"], "lines": [a for a in moving if hasattr(a, "get_xydata")]}


def schedules_figure(rates: dict, mean_losses: dict, *, title: str):
    """Each schedule's eta_t (left) and the mean loss of its noisy runs per step (right)."""
    fig, (ax_s, ax_l) = plot.figure(1, 2, figsize=(12, 4.4))
    for i, name in enumerate(rates):
        colour = plot.PALETTE[i]
        ax_s.plot(np.asarray(rates[name]), color=colour, label=name.replace("_", " "))
        ax_l.plot(np.asarray(mean_losses[name]), color=colour, label=name.replace("_", " "))
    ax_s.set_xlabel("step t")
    ax_s.set_ylabel("learning rate $η_t$")
    ax_s.legend()
    ax_s.set_title("schedules")
    ax_l.set_yscale("log")
    ax_l.set_xlabel("step t")
    ax_l.set_ylabel("mean loss, 200 noisy runs")
    ax_l.legend()
    ax_l.set_title("noisy SGD on the ravine")
    fig.suptitle(title, fontweight="bold")
    return fig


def momentum_law_figure(kappas, counts: dict, fits: dict, *, title: str, tol: str = "10⁻⁶"):
    """Steps to a tolerance against the condition number, log-log: each method's measured counts
    as dots and its fitted line steps = c kappa^slope.

    kappas: (K,); counts: {name: (K,) steps} for names of :data:`OPTIMISERS`; fits: {name: (slope,
    log c)} as ``np.polyfit(log kappa, log steps, 1)`` returns them.
    """
    kappas = np.asarray(kappas, dtype=float)
    if kappas.ndim != 1 or len(kappas) < 2 or (kappas <= 0).any():
        raise ValueError(f"kappas must be a 1-D array of at least 2 numbers > 0; got {kappas!r}")
    unknown = [n for n in counts if n not in COLOURS or n not in fits]
    if unknown:
        raise ValueError(f"counts {unknown} need a fit and a name of OPTIMISERS {OPTIMISERS}")
    import matplotlib.ticker

    fig, ax = plot.figure(figsize=(9, 5))
    k = np.geomspace(kappas.min(), kappas.max(), 50)
    for name, n in counts.items():
        slope, logc = fits[name]
        ax.plot(kappas, np.asarray(n), "o", color=COLOURS[name], markersize=9)
        ax.plot(k, np.exp(logc) * k**slope, color=COLOURS[name],
                label=f"{LAW_NAMES.get(name, name)}: steps ∝ κ$^{{{slope:.2f}}}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("condition number κ = λmax/λmin")
    ax.set_ylabel(f"steps until the loss is {tol} of its start")
    for axis in (ax.xaxis, ax.yaxis):                       # plain numbers on the log axes
        axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xticks([10, 30, 100, 300, 1000])
    ax.set_yticks([10, 30, 100, 300, 1000, 3000, 10000])
    ax.set_ylim(0.7 * min(np.min(n) for n in counts.values()), 1.5 * max(np.max(n) for n in counts.values()))
    ax.legend(loc="upper left", title="at its best setting: measured (dots), fitted (line)")
    ax.set_title(title)
    return fig


def stability_panel(rate, run, *, a_max: float = 4.5, n: int = 300, a: float = 2.5, mu: float = 0.5,
                    steps: int = 100):
    """Section 3's panel: heavy ball's rate per step over (eta*lambda, mu), and one run beside it.

    rate(a, mu) -> spectral radius of the iteration matrix, vectorised over numpy arrays (a is
    eta*lambda); the map is computed once, on an n x n grid of a in (0, a_max], mu in [0, 1).
    run(a, mu) -> Trajectories of one momentum run on a surface with lambda = 1 and its minimum at
    the origin (eta = a). The right panel shows its distance to the minimum per step, with the
    map's prediction rho^t; the title names the rate and whether the run converged or diverged.
    Cache ``run`` as for :func:`gd_newton_panel` (it is called ahead). Returns (panel, shown).
    """
    a_max = float(a_max)
    if not (callable(rate) and callable(run)):
        raise TypeError("rate and run must be functions of (a, mu)")
    if not 2 < a_max <= 10 or not (isinstance(n, int) and n >= 10):
        raise ValueError(f"a_max must be in (2, 10] and n an int >= 10; got a_max={a_max}, n={n!r}")
    A, M = np.meshgrid(np.linspace(a_max / n, a_max, n), np.linspace(0, 0.99, n))
    fig, (ax_m, ax_r) = plot.figure(1, 2, figsize=(13, 5.2), width_ratios=[1.15, 1])
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(over="#DDDDDD")
    image = ax_m.imshow(np.asarray(rate(A, M)), origin="lower", aspect="auto", cmap=cmap, vmin=0, vmax=1,
                        extent=(0, a_max, 0, 0.99), interpolation="nearest")
    fig.colorbar(image, ax=ax_m, label="rate ρ per step", extend="max")
    mus = np.linspace(0, 0.99, 2)
    ax_m.plot(2 + 2 * mus, mus, "--", color="black", lw=2.5, label="ηλ = 2 + 2μ")
    ax_m.plot([2], [0], "s", color=COLOURS["sgd"], markersize=11, clip_on=False, label="GD's limit ηλ = 2 (μ = 0)")
    ax_m.text(0.97 * a_max, 0.55, "diverges\n(ρ > 1)", ha="right", va="center", fontsize="large")
    (point,) = ax_m.plot([a], [mu], "o", color="white", mec="black", mew=2, markersize=13)
    ax_m.set_xlim(0, a_max)
    ax_m.set_ylim(0, 0.99)
    ax_m.grid(False)
    ax_m.set_xlabel("ηλ (step size × curvature)")
    ax_m.set_ylabel("momentum μ")
    ax_m.legend(loc="lower right", frameon=True, framealpha=0.9)
    (dist,) = ax_r.plot([], [], color=COLOURS["momentum"], label="the run: |θ_t − θ*|")
    (pred,) = ax_r.plot([], [], "--", color="black", lw=1.5, label="the map's ρᵗ |θ_0 − θ*|")
    ax_r.set_yscale("log")
    ax_r.set_ylim(1e-12, 1e4)
    ax_r.set_xlim(0, steps)
    ax_r.set_xlabel("step t")
    ax_r.set_ylabel("distance to the minimum")
    ax_r.legend(loc="lower left")
    title = fig.suptitle(" \n ", fontweight="bold")
    t = np.arange(steps + 1)

    def update(a, mu):
        res = run(a, mu)
        r = float(rate(np.asarray(a, dtype=float), np.asarray(mu, dtype=float)))
        d = np.linalg.norm(res.path(0), axis=1)
        point.set_data([a], [mu])
        dist.set_data(np.arange(len(d)), np.clip(d, 1e-12, None))
        pred.set_data(t, np.clip(d[0] * r ** t, 1e-12, 1e4))
        verdict = f"diverged at step {res.diverged_at[0]}" if res.diverged[0] else \
            f"ends at {d[-1] / d[0]:.1e} × its starting distance after {len(d) - 1} steps"
        title.set_text(f"ηλ = {a:.2f}, μ = {mu:.2f}: the map's rate ρ = {r:.3f} per step "
                       f"({'beyond' if a >= 2 + 2 * mu else 'inside'} ηλ = 2 + 2μ = {2 + 2 * mu:.2f})\n"
                       f"the run {verdict}")

    panel = widgets.Panel(
        fig, update, animated=[point, dist, pred, title], prefetch=lambda a, mu: run(a, mu),   # as update calls it: one cache key
        a=widgets.slider("ηλ", 0.05, a_max, 0.01, a),
        mu=widgets.slider("μ (momentum)", 0.0, 0.99, 0.01, mu),
    )
    return panel, {"title": title, "lines": [point, dist, pred], "image": image}


__all__ = ["OPTIMISERS", "COLOURS", "contour", "paths_on_surface", "lr_sweep", "gd_newton_panel",
           "momentum_figure", "adaptive_figure", "floor_of", "gap_text", "optimiser_panel", "noisy_panel",
           "schedules_figure", "momentum_law_figure", "stability_panel"]
