"""dlcore.figures.dropout: notebook 05's figures draw what they are given, and its slider shows
what the notebook's own function computes."""
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcore import plot, widgets
from dlcore.figures import dropout

AXIS = np.linspace(-2, 2, 9)
GX, GY = np.meshgrid(AXIS, AXIS)


def train_points():
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [0.5, -0.5]])
    return X, np.array([0, 1, 1])


def test_contour_of_a_plane_is_a_straight_line():
    z = (GX.ravel() - 0.3)                                   # zero along x1 = 0.3
    (line,) = dropout.contour(z, AXIS)
    np.testing.assert_allclose(line[:, 0], 0.3, atol=1e-12)
    assert dropout.contour(z + 10, AXIS) == []


def test_smooth_upsamples_the_grid():
    img = dropout.smooth(np.arange(81.0), 9, up=3)
    assert img.shape == (27, 27) and img.min() >= 0 and img.max() <= 80


def test_plane_draws_probabilities_and_both_classes():
    plane = dropout.Plane(AXIS, train_points())
    fig, ax = plot.figure()
    img, dots = plane.draw(ax, np.full(81, 0.5), "title")
    assert img.get_array().shape == (27, 27) and len(dots) == 2
    assert len(dots[1].get_xdata()) == 2 and ax.get_title() == "title"
    lo, hi = plane.extent[:2]
    assert lo == pytest.approx(-2.25) and hi == pytest.approx(2.25)


def test_mask_figure_shows_dropped_units_blank():
    rng = np.random.default_rng(0)
    h = rng.normal(2, 1, size=(50, 60))
    y = h * (rng.random(h.shape) < 0.5) * 2
    fig = dropout.mask_figure(h, y, rows=5, cols=7)
    shown = fig.axes[1].images[0].get_array()
    assert shown.shape == (5, 7) and np.ma.getmaskarray(shown).sum() == (y[:5, :7] == 0).sum()
    with pytest.raises(ValueError, match="one shape"):
        dropout.mask_figure(h, y[:10])


def test_turning_figure_titles_carry_the_numbers():
    t = np.linspace(0, 1, 5)
    fig = dropout.turning_figure({"a": np.stack([t, t], 1), "b": np.stack([t, -t], 1)}, {"a": 0.0, "b": 6.283})
    assert [ax.get_title() for ax in fig.axes] == ["a:\nturns 0.0 rad", "b:\nturns 6.3 rad"]


def test_boundary_figure():
    plane = dropout.Plane(AXIS, train_points())
    rates = [0.0, 0.25, 0.5, 0.75]
    probs = [np.full(81, 0.5)] * 4
    bounds = [dropout.contour(GX.ravel() - 0.1 * j, AXIS) for j in range(4)]
    acc = {"training": ([1.0, 0.95, 0.9, 0.85], "o-", "C0", 1.0)}
    fig = dropout.boundary_figure(plane, probs, bounds, [10, 9, 8, 7], rates, acc)
    assert isinstance(fig, Figure)
    assert [fig.axes[0].get_title(), fig.axes[1].get_title()] == ["p = 0.0: turns 10 rad", "p = 0.5: turns 8 rad"]
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(), acc["training"][0])


def test_draws_table_is_aligned_and_formatted():
    rows = {"accuracy %": np.array([[0.9, 0.8], [1.0, 0.6]]), "gain": np.array([[0.01], [0.03]])}
    text = dropout.draws_table([0.0, 0.5], rows, scale={"accuracy %": (100, ".1f"), "gain": (100, "+.1f")})
    lines = text.splitlines()
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1
    assert "p = 0.5" in lines[0] and "95.0 (90.0 .. 100.0)" in lines[1] and "+2.0 (+1.0 .. +3.0)" in lines[2]
    assert "np.float64" not in text


def test_mc_panel_draws_what_compute_returns():
    plane = dropout.Plane(AXIS, train_points())
    rates = [0.0, 0.25, 0.5, 0.75]
    calls = []

    def compute(j, k, draw):
        calls.append((j, k, draw))
        logits = np.stack([GX.ravel() - 0.1 * i for i in range(k)])
        return {"logits": logits, "mean": np.full(81, 0.5) + 0.01 * GX.ravel(), "spread": np.zeros(81),
                "agree": 0.875}

    bounds = [dropout.contour(GX.ravel(), AXIS)] * 4
    panel, view = dropout.mc_panel(compute, rates, [np.full(81, 0.5)] * 4, bounds, plane, show=6, start=(0.5, 3))
    assert isinstance(panel, widgets.Panel) and calls[-1] == (2, 3, 0)
    panel.set(p=0.3, k=5, draw=2)
    assert calls[-1] == (1, 5, 2) and view["p"] == 0.25 and view["k"] == 5 and view["agree"] == 0.875
    title = [t.get_text() for sf in panel.fig.subfigs for t in sf.texts][0]
    assert "k = 5" in title and "87.5%" in title
    assert panel.controls["k"].max == 6 and panel.controls["p"].min == 0.25


def test_mc_panel_remembers_settings_and_prefetches_them():
    """A setting drawn before is not computed again (a drag comes back over its values), and the
    panel's prefetch fills that memory: the redraw then finds it there."""
    plane = dropout.Plane(AXIS, train_points())
    calls = []

    def compute(j, k, draw):
        calls.append((j, k, draw))
        return {"logits": np.stack([GX.ravel() - 0.1 * i for i in range(k)]), "mean": np.full(81, 0.4),
                "spread": np.zeros(81), "agree": 0.5}

    bounds = [dropout.contour(GX.ravel(), AXIS)] * 4
    panel, view = dropout.mc_panel(compute, [0.0, 0.25, 0.5, 0.75], [np.full(81, 0.5)] * 4, bounds, plane,
                                   show=6, start=(0.5, 3))
    panel.set(k=4)
    panel.set(k=3)
    assert calls == [(2, 3, 0), (2, 4, 0)] and view["k"] == 3
    panel.prefetch(p=0.75, k=3, draw=0)          # what the idle kernel does for the next move
    assert calls[-1] == (3, 3, 0)
    panel.set(p=0.75)
    assert len(calls) == 3 and view["p"] == 0.75
    with pytest.raises(ValueError, match="memory"):
        dropout.mc_panel(compute, [0.0, 0.5], [np.full(81, 0.5)] * 2, bounds, plane, memory=-1)


def test_gap_and_ensemble_figures():
    ks = 2 ** np.arange(5)
    fig = dropout.gap_figure(ks, 1 / np.sqrt(ks), np.full(5, 0.03), 1 / np.sqrt(ks), -0.5)
    assert fig.axes[0].get_title() == "(a) logits: slope -0.50: on towards 0"
    fig.canvas.draw()
    minor = [t.get_text() for t in fig.axes[1].get_yticklabels(minor=True) if t.get_text()]
    assert minor, "panel (b) labels its minor ticks too"
    fig = dropout.ensemble_figure([0.92, 0.93, 0.935], np.array([0.92, 0.925, 0.921]), 0.935)
    assert "3 averaged: 93.5%" in fig.axes[0].get_title()


def test_numerical_core_never_imports_the_figures():
    code = ("import sys, dlcore, dlcore.nn, dlcore.ensemble, dlcore.train; "
            "assert not any(m.startswith('dlcore.figures') for m in sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_diversity_figure_one_panel_per_size_ensemble_and_average_member():
    same = (np.array([0.90, 0.91, 0.915]), np.array([0.90, 0.89, 0.905]), 0.035)
    bag = (np.array([0.88, 0.90, 0.91]), np.array([0.88, 0.87, 0.875]), 0.11)
    fig = dropout.diversity_figure({"500 digits": {"same data": same, "bagging": bag},
                                    "4,000 digits": {"same data": same}})
    left, right = fig.axes
    assert len(left.lines) == 4 and len(right.lines) == 2
    np.testing.assert_allclose(left.lines[0].get_ydata(), same[0])
    assert left.lines[1].get_ydata()[0] == pytest.approx(same[1].mean())       # the average member, dashed
    assert left.lines[0].get_color() == right.lines[0].get_color() != left.lines[2].get_color()
    assert "same data +1.7, bagging +3.5 points" in left.get_title()
    assert "disagree 11%" in left.get_legend().get_texts()[2].get_text()
