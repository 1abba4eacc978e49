"""dlcore.figures.regularisation: notebook 06's figures draw what they are given, and its panels say
what they show (``panel.state``) after every move."""
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from dlcore import plot, widgets
from dlcore.figures import regularisation as R

G = np.linspace(0, 2 * np.pi, 41)


def _points():
    x = np.linspace(0.1, 6.0, 12)
    return x, np.sin(x)


def _fits(n_settings, n_sets=5):
    # setting i: every set's fit is sin + i * (set-dependent wiggle), so the spread grows with i
    wiggle = np.arange(n_sets)[:, None] * np.cos(G)[None, :]
    return np.array([np.sin(G) + 0.1 * i * wiggle for i in range(n_settings)])      # (L, S, G)


def _tri(line_like_ax):
    """(x, y) of the triangle markers drawn on an axes' edges."""
    return [(ln.get_marker(), ln.get_ydata()) for ln in line_like_ax.lines if ln.get_marker() in ("v", "^")
            and len(ln.get_xdata())]


def test_06_log_curve_marks_values_beyond_the_range_on_the_edge():
    fig, ax = plot.figure()
    ax.set_yscale("log")
    values = np.array([1e-1, 1e-3, 1e-6, 1e-8, 1e-9, 1e2, 1e5])
    line = R._log_curve(ax, np.arange(7), values, 1e-4, 1e3, color="C0", label="v")
    shown = line.get_ydata()
    assert shown[0] == 1e-1 and shown[1] == 1e-3
    assert shown[2] == 1e-4 and np.isnan(shown[3])           # joined to the floor where it leaves, then gone,
    assert shown[4] == 1e-4 and shown[5] == 1e2              # joined from the floor where it comes back
    assert shown[6] == 1e3                                   # and to the ceiling
    marks = dict(_tri(ax))
    assert list(marks["v"]) == [1e-4] * 3 and list(marks["^"]) == [1e3]
    assert not np.any(np.asarray(shown)[np.isfinite(shown)] < 1e-4)


def test_06_three_fits_titles_name_each_degree_and_its_training_error():
    x, y = _points()
    fig = R.three_fits(x, y, G, {1: G * 0, 3: np.sin(G), 25: np.sin(G)}, {1: 0.5, 3: 0.04, 25: 0.001})
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["degree 1: training error 0.500", "degree 3: training error 0.040",
                      "degree 25: training error 0.001"]


def test_06_degree_panel_shows_the_selected_fits_and_reports_them():
    x, y = _points()
    fits = _fits(26)
    errors = {"training error": np.geomspace(1, 1e-3, 26), "test error (new points)": np.geomspace(0.1, 1e12, 26),
              "bias²": np.geomspace(1, 1e-18, 26), "variance": np.geomspace(1e-3, 1e12, 26)}
    panel = R.degree_panel(x, y, G, fits, errors, noise=0.04, best_degree=3)
    assert isinstance(panel, widgets.Panel) and panel.png()
    assert panel.state["degree"] == 1 and np.array_equal(panel.state["fits"], fits[1])
    panel.set(degree=25)
    assert panel.state["degree"] == 25 and np.array_equal(panel.state["fits"], fits[25])
    ax_fit, ax_err = panel.fig.axes
    assert "degree 25" in ax_fit.get_title()
    drawn = np.array([ln.get_ydata() for ln in ax_fit.lines if len(ln.get_ydata()) == len(G)][1:])  # not sin x
    assert any(np.array_equal(d, fits[25][0]) for d in drawn)
    # bias² below the floor and the test error above the ceiling are marked, not lost
    kinds = {m for m, _ in _tri(ax_err)}
    assert kinds == {"v", "^"}
    assert ax_err.get_ylim() == pytest.approx((1e-4, 1e3))


def test_06_ridge_panel_snaps_to_the_nearest_lambda():
    x, y = _points()
    lams = 10.0 ** np.arange(-10, 1.01, 0.25)
    fits = _fits(len(lams))
    coef = np.geomspace(1e3, 1e-2, len(lams))[:, None] * np.ones((1, 26))
    errors = {"test error": np.geomspace(1e5, 0.5, len(lams)), "bias²": np.geomspace(1e-3, 0.5, len(lams)),
              "variance": np.geomspace(1e5, 1e-3, len(lams)), "training error": np.full(len(lams), 0.01)}
    panel = R.ridge_panel(x, y, G, lams, fits, coef, errors, noise=0.04, best_lam=1e-2)
    assert panel.state["i"] == 0
    panel.set(lam=1.1e-2)
    i = panel.state["i"]
    assert lams[i] == pytest.approx(1e-2) and np.array_equal(panel.state["fits"], fits[i])
    assert panel.fig.axes[0].get_title().startswith("λ = 1e-02: test error")
    assert f"{np.linalg.norm(coef[i, 1:]):.2g}" in panel.fig.axes[1].get_title()
    assert panel.fig.axes[1].get_title().startswith("‖c₁ … c₂₅‖ = ")


def test_06_ridge_panel_draws_the_test_error_dashed_over_the_variance():
    x, y = _points()
    lams = 10.0 ** np.arange(-10, 1.01, 0.25)
    errors = {"test error": np.geomspace(1e5, 0.5, len(lams)), "variance": np.geomspace(1e5, 1e-3, len(lams)),
              "training error (set 0)": np.full(len(lams), 0.01)}
    panel = R.ridge_panel(x, y, G, lams, _fits(len(lams)), np.ones((len(lams), 26)), errors, noise=0.04,
                          best_lam=1e-2)
    lines = {line.get_label(): line for line in panel.fig.axes[2].get_lines()}
    assert lines["test error"].get_linestyle() == "--"
    assert lines["test error"].get_zorder() > lines["variance"].get_zorder()
    assert lines["training error (set 0)"].get_color() == R.ORANGE


def test_06_threshold_figure_draws_the_given_steps():
    v = np.linspace(-1, 1, 21)
    step = np.sign(v) * np.maximum(np.abs(v) - 0.2, 0)
    fig = R.threshold_figure(v, step, step, 0.8 * v, 0.2)
    ax = fig.axes[0]
    ys = [ln.get_ydata() for ln in ax.lines]
    assert any(np.array_equal(y_, step) for y_ in ys) and any(np.allclose(y_, 0.8 * v) for y_ in ys)


def test_06_penalty_panel_selects_the_member_and_greys_cut_off_pixels():
    rng = np.random.default_rng(0)
    k_nets, lams = 5, np.array([1e-3, 1e-2])
    first = rng.normal(0, 0.05, (k_nets, 4, 784))
    first[4, :, :100] = 0                                      # member 4 cuts off the first 100 pixels
    pixel_mag = np.abs(first).mean(1).reshape(k_nets, 28, 28)
    zero_frac = (first == 0).mean((1, 2))
    members = {"L2 (weight decay)": [1, 2], "L1 (soft-threshold)": [3, 4]}
    panel = R.penalty_panel(first, pixel_mag, zero_frac, np.full(k_nets, 0.9), lams, members,
                            value=("L1 (soft-threshold)", 1e-2))
    assert panel.state == {"penalty": "L1 (soft-threshold)", "lam": 1e-2, "k": 4}
    shown = np.asarray(panel.fig.axes[1].images[0].get_array()).reshape(784, 4)   # RGBA bytes per pixel
    grey = np.array(to_rgba(R.CUT_OFF)) * 255
    is_grey = np.all(np.abs(shown - grey) <= 1, axis=1)
    assert is_grey[:100].all() and not is_grey[100:].any()
    panel.set(penalty="L2 (weight decay)", lam=1e-3)
    assert panel.state["k"] == 1
    assert panel.fig.subfigs[0]._suptitle.get_text().startswith("L2 (weight decay), λ = 1e-03: 0% of weights")


def test_06_decoupled_panel_moves_both_lines_to_the_chosen_lambda():
    lams, scale = np.array([1e-4, 1e-2, 1.0]), np.geomspace(1e-4, 1e-2, 6)
    shrink = {"Adam + L2": np.linspace(0.1, 0.9, 18).reshape(3, 6), "AdamW": np.full((3, 6), 0.95)}
    acc = {"Adam + L2": np.array([0.9, 0.85, 0.2]), "AdamW": np.array([0.9, 0.9, 0.9])}
    panel = R.decoupled_panel(scale, shrink, acc, lams, acc_none=0.9, value=1e-2)
    assert panel.state == {"lam": 1e-2, "j": 1}
    panel.set(lam=1.0)
    line = panel.fig.axes[0].lines[0]
    assert panel.state["j"] == 2 and np.allclose(line.get_ydata(), shrink["Adam + L2"][2])
    assert "λ = 1: Adam + L2 keeps" in panel.fig.subfigs[0]._suptitle.get_text()
    with pytest.raises(ValueError, match="shrink must be"):
        R.decoupled_panel(scale, {"a": np.ones((2, 6)), "b": np.ones((3, 6))}, {"a": np.ones(3), "b": np.ones(3)},
                          lams, acc_none=0.9)


def test_06_early_stopping_augmentation_figures():
    steps = np.arange(20, 1001, 20)
    curve = {"step": steps, "train": np.geomspace(2, 0.05, 50), "val": 1 + (steps / 1000 - 0.2) ** 2}
    fig = R.early_stopping_figure(curve, 200, 1.0, 400, 10)
    assert "step 200" in fig.axes[0].get_title()
    imgs = np.zeros((5, 1, 28, 28))
    fig = R.augment_examples({"original": imgs[:1], "shift": imgs}, 3)
    assert len(fig.axes) == 10 and fig._suptitle.get_text().endswith("a 3 is still a 3")
    train = np.tile(np.linspace(0.9, 1.0, 12)[:, None], (1, 4))
    val = train - np.array([0.1, 0.1, 0.05, 0.05])
    fig = R.augmentation_figure(np.arange(100, 1201, 100), train, val, 2)
    assert [ax.get_title() for ax in fig.axes] == ["original images: final gap 10.0 points",
                                                   "augmented images: final gap 5.0 points"]


def _inside(fig):
    """Every axis label, title and legend lies within the figure (nothing cut off at an edge)."""
    r = fig.canvas.get_renderer()
    w, h = fig.bbox.width, fig.bbox.height
    boxes = []
    for ax in fig.axes:
        boxes += [ax.xaxis.label.get_window_extent(r), ax.yaxis.label.get_window_extent(r),
                  ax.title.get_window_extent(r)]
        if ax.get_legend() is not None:
            boxes.append(ax.get_legend().get_window_extent(r))
    return all(b.x0 >= -1 and b.x1 <= w + 1 and b.y0 >= -1 and b.y1 <= h + 1 for b in boxes if b.width > 0)


@pytest.mark.parametrize("presenter", [False, True])
def test_06_panels_fit_their_figure(presenter):
    plot.style(presenter=presenter)
    x, y = np.linspace(0.1, 6.0, 30), np.sin(np.linspace(0.1, 6.0, 30))
    errors = {"training error": np.geomspace(1, 1e-3, 26), "test error (new points)": np.geomspace(0.1, 1e12, 26),
              "bias²": np.geomspace(1, 1e-18, 26), "variance": np.geomspace(1e-3, 1e12, 26)}
    panel = R.degree_panel(x, y, G, _fits(26, 21), errors, noise=0.04, best_degree=3)
    assert panel.png()[:8] == b"\x89PNG\r\n\x1a\n" and _inside(panel.fig)
    lams = 10.0 ** np.arange(-10, 1.01, 0.25)
    ridge_errors = {"test error": np.geomspace(1e5, 0.5, 45), "bias²": np.geomspace(1e-3, 0.5, 45),
                    "variance": np.geomspace(1e5, 1e-3, 45), "training error": np.full(45, 0.01)}
    panel = R.ridge_panel(x, y, G, lams, _fits(45, 21), np.ones((45, 26)), ridge_errors, noise=0.04, best_lam=1e-2)
    assert _inside(panel.fig)
    first = np.random.default_rng(0).normal(0, 0.05, (5, 4, 784))
    panel = R.penalty_panel(first, np.abs(first).mean(1).reshape(5, 28, 28), np.zeros(5), np.full(5, 0.9),
                            np.array([1e-3, 1e-2]), {"L2 (weight decay)": [1, 2], "L1 (soft-threshold)": [3, 4]})
    assert _inside(panel.fig)
    panel = R.decoupled_panel(np.geomspace(1e-4, 1e-2, 6), {"Adam + L2": np.ones((2, 6)), "AdamW": np.ones((2, 6))},
                              {"Adam + L2": np.ones(2), "AdamW": np.ones(2)}, np.array([1e-3, 1.0]), acc_none=0.9)
    assert _inside(panel.fig)


def test_06_numerical_core_does_not_import_the_figures():
    code = ("import sys, dlcore, dlcore.regularise, dlcore.augment, dlcore.ensemble, dlcore.train; "
            "print(any(m.startswith('dlcore.figures') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
