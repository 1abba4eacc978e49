"""dlcore.figures.curvature: notebook 03's figures and panels draw what they are given, legibly."""
import functools
import subprocess
import sys

import numpy as np
import torch
from matplotlib.figure import Figure

from dlcore import surfaces, trajectory
from dlcore.figures import curvature
from dlcore.widgets import Panel, slider_value

STEPS = 30


def _finite(lines):
    return all(np.isfinite(line.get_xydata()).all() for line in lines)


@functools.lru_cache(maxsize=None)
def _six(surface, lr_plain, lr_adaptive, mu, beta2):
    settings = [("sgd", {"lr": lr_plain}), ("momentum", {"lr": lr_plain, "momentum": mu}),
                ("nesterov", {"lr": lr_plain, "momentum": mu}), ("adagrad", {"lr": lr_adaptive}),
                ("rmsprop", {"lr": lr_adaptive, "alpha": beta2}),
                ("adam", {"lr": lr_adaptive, "betas": (mu, beta2)})]
    return trajectory.run(surfaces.get(surface), settings, steps=STEPS)


def test_paths_on_surface_one_panel_per_path():
    ravine = surfaces.ravine(condition=50)
    path = np.array([[-4.0, 1.0], [-3.0, -0.5], [0.0, 0.0]])
    fig = curvature.paths_on_surface(ravine, {"a": path, "b": path[:2]}, title="t", xlim=(-5, 5), ylim=(-2, 2))
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert axes[0].get_xlim() == (-5, 5) and axes[0].get_ylim() == (-2, 2)
    assert fig._suptitle.get_text() == "t"


def test_lr_sweep_marks_each_diverged_run():
    fractions = np.array([0.5, 0.9, 1.1, 1.5])
    fig = curvature.lr_sweep(fractions, [1e-20, 1e-40, 1e30, np.inf], [False, False, True, True], title="t")
    ax = fig.get_axes()[0]
    dots, crosses = ax.get_lines()[:2]
    assert len(dots.get_xdata()) == 2 and len(crosses.get_xdata()) == 2
    assert ax.get_ylim()[0] <= 1e-40 < 1e4 <= ax.get_ylim()[1]      # every point inside the axes
    assert _finite([dots, crosses])


def test_gd_newton_panel_names_divergence_and_stays_finite():
    @functools.lru_cache(maxsize=None)
    def run(kappa, lr_frac):
        s = surfaces.ravine(condition=kappa)
        gd = trajectory.run(s, [("sgd", {"lr": lr_frac * 2 / s.params["lambda_max"]})], steps=STEPS)
        g = s.grad(torch.tensor(s.start, dtype=torch.float64)).reshape(2)
        H = s.hessian(torch.tensor(s.start, dtype=torch.float64)).reshape(2, 2)
        newton = torch.tensor(s.start, dtype=torch.float64) - torch.linalg.solve(H, g)
        return s, gd, np.stack([np.array(s.start), newton.numpy()])

    panel, shown = curvature.gd_newton_panel(run, max_steps=STEPS)
    assert isinstance(panel, Panel) and panel.png()[:4] == b"\x89PNG"
    assert "Newton: 1 step" in shown["title"].get_text()
    panel.set(kappa=50.0, lr_frac=1.1)
    assert "diverged at step" in shown["title"].get_text() and _finite(shown["lines"])
    panel.set(lr_frac=0.5)
    assert "diverged" not in shown["title"].get_text()


def test_optimiser_panel_ticks_follow_the_surface_and_title_is_readable():
    names = ["ravine", "rosenbrock", "plateau"]
    panel, shown = curvature.optimiser_panel(_six, names, max_steps=STEPS)
    ax_path = panel.fig.get_axes()[0]
    for name in names:
        panel.set(surface=name)
        (x0, x1), (y0, y1) = surfaces.get(name).window
        assert ax_path.get_xlim() == (x0, x1) and ax_path.get_ylim() == (y0, y1)
        assert len(ax_path.get_xticks()) > 2 and len(ax_path.get_yticks()) > 2    # the path plot has ticks
        assert _finite(shown["lines"])
        assert "e-1" not in shown["title"].get_text().replace("1e-10", "")         # no '(8e-53)'
    panel.set(surface="ravine", lr_plain=0.05, steps=STEPS)                          # above 2/lambda_max
    assert "diverged: sgd" in shown["title"].get_text()


def test_optimiser_panel_redraws_fully_only_for_a_new_surface():
    panel, _ = curvature.optimiser_panel(_six, ["ravine", "plateau"], max_steps=STEPS)
    assert not panel.update(**{**panel.values, "lr_plain": 0.01})
    assert panel.update(**{**panel.values, "surface": "plateau"}) is True
    panel.set(surface="ravine")
    panel.set(surface="plateau")                         # both drawn once
    draws = []
    panel.fig.canvas.draw = lambda: draws.append(1)      # a full redraw would call it
    panel.set(surface="ravine")                          # seen before: its cached background
    panel.set(surface="plateau")
    assert draws == []


def test_gap_text():
    assert curvature.gap_text(8e-53) == "< 1e-10"
    assert curvature.gap_text(3.2e-4) == "3.2e-04"


def test_noisy_panel_title_reports_each_tail():
    ravine = surfaces.ravine(condition=50)

    @functools.lru_cache(maxsize=None)
    def run(batch, lr_plain, lr_adaptive):
        settings = [("sgd", {"lr": lr_plain}), ("adam", {"lr": lr_adaptive})]
        return trajectory.run(ravine, settings, steps=STEPS, noise=2.0 / np.sqrt(batch), seed=0)

    panel, shown = curvature.noisy_panel(run, ["sgd", "adam"], sigma=2.0, max_steps=STEPS, tail=10)
    panel.set(batch=64)
    text = shown["title"].get_text()
    assert text.startswith("batch 64: noise σ/√m = 0.25\n") and "sgd" in text and "adam" in text
    assert _finite(shown["lines"])


def test_static_figures_draw():
    ravine = surfaces.ravine(condition=50)
    thetas = np.cumsum(np.full((10, 2), 0.05), axis=0) + np.array(ravine.start)
    figs = [
        curvature.momentum_figure(0.9 ** np.arange(100), ravine, thetas, thetas + 0.01),
        curvature.adaptive_figure(np.full((20, 2), 0.1), surfaces.pathological_curvature(),
                                  {"sgd": thetas, "adam": thetas}, np.linspace(3, 1, 50),
                                  adagrad_on="the ravine, η = 0.5", paths_on="300 steps"),
        curvature.schedules_figure({"constant": np.full(50, 0.03)}, {"constant": np.linspace(1, 0.1, 50)}, title="t"),
    ]
    for fig in figs:
        fig.canvas.draw()
        assert all(_finite(ax.get_lines()) for ax in fig.get_axes())
    assert figs[1].get_axes()[0].get_title().startswith("AdaGrad on the ravine, η = 0.5")   # which run it is
    assert figs[0].get_axes()[1].get_legend() is not None                                 # names the arrows


def test_momentum_figure_shows_the_whole_path_drawn():
    ravine = surfaces.ravine(condition=50)
    thetas = np.array([[-4.0, 1.0], [-3.96, 0.5], [-3.885, 0.025], [-3.779, -0.201], [-3.647, -0.202]])
    fig = curvature.momentum_figure(0.9 ** np.arange(100), ravine, thetas, thetas + 0.1, k=3)
    ax = fig.get_axes()[1]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < thetas[:, 0].min() and thetas[:, 0].max() < x1 and y0 < thetas[:, 1].min() and thetas[:, 1].max() < y1


def test_numerical_core_never_imports_the_figures():
    code = "import sys, dlcore, dlcore.trajectory, dlcore.surfaces, dlcore.optim; " \
           "print(any(m.startswith('dlcore.figures.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_optimiser_panel_back_on_a_surface_draws_the_same_picture():
    from io import BytesIO

    from PIL import Image

    def pixels(panel):
        return np.asarray(Image.open(BytesIO(panel.png())).convert("RGBA"))

    panel, _ = curvature.optimiser_panel(_six, ["ravine", "plateau"], max_steps=STEPS)
    panel.set(surface="plateau")
    panel.set(surface="ravine", lr_plain=0.01)          # back on the ravine: its cached background
    fresh, _ = curvature.optimiser_panel(_six, ["ravine", "plateau"], max_steps=STEPS, lr_plain=0.01)
    assert np.array_equal(pixels(panel), pixels(fresh))


def test_gd_newton_panel_draws_star_and_legend_above_the_background():
    from io import BytesIO

    from PIL import Image

    @functools.lru_cache(maxsize=None)
    def run(kappa, lr_frac):
        s = surfaces.ravine(condition=kappa)
        gd = trajectory.run(s, [("sgd", {"lr": lr_frac * 2 / s.params["lambda_max"]})], steps=STEPS)
        return s, gd, np.stack([np.array(s.start), np.zeros(2)])

    panel, shown = curvature.gd_newton_panel(run, max_steps=STEPS)
    for kappa in [50.0, 200.0]:                         # also after a slider move (a partial redraw)
        panel.set(kappa=kappa)
        rgb = np.asarray(Image.open(BytesIO(panel.png())).convert("RGB")).astype(float)
        height = rgb.shape[0]
        ax = shown["star"].axes
        x, y = ax.transData.transform((0.0, 0.0))
        assert rgb[int(round(height - y)), int(round(x))].max() < 60            # the star's black centre
        x0, y0, x1, y1 = shown["legend"].get_window_extent().extents
        box = rgb[int(height - y1) + 3:int(height - y0) - 3, int(x0) + 3:int(x1) - 3]
        assert (box.min(axis=2) > 200).mean() > 0.5                           # the legend's light frame
        assert (box.max(axis=2) < 80).any()                                   # and its dark text


def _rate(a, mu):
    b = 1 + mu - a
    root = np.sqrt(np.asarray(b * b - 4 * mu, dtype=complex))
    return np.maximum(abs(b + root), abs(b - root)) / 2


@functools.lru_cache(maxsize=None)
def _heavy_ball(a, mu):
    return trajectory.run(surfaces.ravine(condition=1), [("momentum", {"lr": a, "momentum": mu})], steps=100)


def test_momentum_law_figure_names_each_slope():
    kappas = np.array([10.0, 100.0, 1000.0])
    counts = {"sgd": [35, 346, 3454], "momentum": [16, 58, 204]}
    fits = {n: np.polyfit(np.log(kappas), np.log(c), 1) for n, c in counts.items()}
    fig = curvature.momentum_law_figure(kappas, counts, fits, title="t")
    fig.canvas.draw()
    ax = fig.get_axes()[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["GD: steps ∝ κ$^{1.00}$", "heavy-ball momentum: steps ∝ κ$^{0.55}$"]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    assert lo < 16 and 3454 < hi                                   # every dot inside the axes
    assert _finite(ax.get_lines())


def test_momentum_law_figure_rejects_bad_input():
    import pytest

    with pytest.raises(ValueError, match="kappas"):
        curvature.momentum_law_figure([10.0], {"sgd": [3]}, {"sgd": (1, 0)}, title="t")
    with pytest.raises(ValueError, match="OPTIMISERS"):
        curvature.momentum_law_figure([10.0, 100.0], {"lbfgs": [3, 4]}, {"lbfgs": (1, 0)}, title="t")


def test_stability_panel_map_edge_and_run():
    panel, shown = curvature.stability_panel(_rate, _heavy_ball, n=60)
    assert isinstance(panel, Panel) and panel.png()[:4] == b"\x89PNG"
    data = np.asarray(shown["image"].get_array())
    assert data.shape == (60, 60) and (data > 1).any() and (data < 0.1).any()     # both sides of the edge
    text = shown["title"].get_text()
    assert "ρ = 0.707" in text and "inside" in text and "diverged" not in text
    panel.set(mu=0.0)                                     # eta*lambda = 2.5 without momentum: GD diverges
    assert "diverged at step" in shown["title"].get_text() and "beyond" in shown["title"].get_text()
    assert _finite(shown["lines"])
    assert shown["lines"][0].get_xydata().tolist() == [[2.5, 0.0]]                  # the point follows
    panel.set(a=1.0)
    assert "ρ = 0.000" in shown["title"].get_text()


def test_stability_panel_redraws_only_its_artists():
    panel, _ = curvature.stability_panel(_rate, _heavy_ball, n=30)
    draws = []
    panel.fig.canvas.draw = lambda: draws.append(1)
    panel.set(a=3.0, mu=0.6)
    assert draws == []


def test_stability_panel_rejects_bad_input():
    import pytest

    with pytest.raises(TypeError, match="rate and run"):
        curvature.stability_panel(None, _heavy_ball)
    with pytest.raises(ValueError, match="a_max"):
        curvature.stability_panel(_rate, _heavy_ball, a_max=1.5)


def test_every_panel_prefetches_what_its_update_computes():
    """Each panel's prefetch (what the idle kernel calls for the next slider move) asks the
    notebook's cached run for exactly the arguments its update will: the redraw then hits the cache."""
    calls = []

    def recording(fn):
        def run(*args):
            calls.append(args)
            return fn(*args)
        return run

    ravine = surfaces.ravine(condition=50)

    def gd(kappa, lr_frac):
        s = surfaces.ravine(condition=kappa)
        return s, trajectory.run(s, [("sgd", {"lr": lr_frac * 2 / s.params["lambda_max"]})], steps=STEPS), \
            np.zeros((2, 2))

    def noisy(batch, lr_plain, lr_adaptive):
        return trajectory.run(ravine, [("sgd", {"lr": lr_plain}), ("adam", {"lr": lr_adaptive})], steps=STEPS,
                              noise=1 / np.sqrt(batch), seed=0)

    made = [curvature.gd_newton_panel(recording(gd), max_steps=STEPS)[0],
            curvature.optimiser_panel(recording(_six), ["ravine"], max_steps=STEPS)[0],
            curvature.noisy_panel(recording(noisy), ["sgd", "adam"], sigma=1.0, max_steps=STEPS)[0],
            curvature.stability_panel(_rate, recording(_heavy_ball), n=20)[0]]
    for panel in made:
        calls.clear()
        moved = {**panel.values, "steps": 3} if "steps" in panel.controls else dict(panel.values)
        first = next(n for n, c in panel.controls.items() if hasattr(c, "max") and n != "steps")
        moved[first] = slider_value(panel.controls[first], 0)     # one slider moved: what a prefetch asks for
        panel.prefetch(**moved)
        asked = list(calls)
        calls.clear()
        panel.set(**moved)
        assert asked and asked == calls[:len(asked)], (first, asked, calls)
