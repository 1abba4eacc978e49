"""dlcore.figures.normalisation: notebook 07's figures and panel draw what they are given, legibly."""
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcore.figures import normalisation
from dlcore.widgets import Panel


class Bowl:
    """A 2-D quadratic C(w) = 1/2 (w - w*)^T H (w - w*) seen the way the panel reads the notebook's problems."""

    def __init__(self, H, w_star=(0.3, -0.2)):
        self.lam, self.U = np.linalg.eigh(np.asarray(H, dtype=float))
        self.w_star = np.asarray(w_star, dtype=float)
        self.c = self.U.T @ (0.0 - self.w_star)
        self.weight = 0.5 * self.lam * self.c**2
        self.kappa = self.lam[-1] / self.lam[0]

    def path(self, lr, steps):
        t = np.arange(steps + 1, dtype=float)
        return self.w_star + ((1 - lr * self.lam) ** t[:, None] * self.c) @ self.U.T


def bowls(offset, ratio, rho):
    out = {}
    for v, H in zip(normalisation.VERSIONS, [[[1 + offset, rho], [rho, ratio**2]], [[1, rho], [rho, ratio**2]],
                                             [[1, rho], [rho, 1]], [[1, 0], [0, 1]]]):
        p = Bowl(H)
        lr = 2 / (p.lam[0] + p.lam[-1])
        n = int(math.ceil(math.log(1e-4) / math.log(max((p.kappa - 1) / (p.kappa + 1), 1e-12)))) if p.kappa > 1 + 1e-9 else 1
        out[v] = (p, lr, n)
    return out


def test_short_numbers():
    assert normalisation.short(9.684) == "9.68"
    assert normalisation.short(15145) == "15,145"
    assert normalisation.short(8.2e7) == "8.2·10⁷"


def test_inputs_figure_equal_axes_through_the_origin():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2)) * [1, 10] + [5, 50]
    fig = normalisation.inputs_figure({"raw": X, "centred": X - X.mean(0)}, title="t")
    assert isinstance(fig, Figure)
    for ax in fig.get_axes():
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        assert x0 <= 0 <= x1 and y0 <= 0 <= y1                        # the origin is in view
        assert x1 - x0 == pytest.approx(y1 - y0)                      # equal spans: shapes compare
        points = ax.get_lines()[-1].get_xydata()
        assert (points[:, 0] >= x0).all() and (points[:, 1] <= y1).all()


def test_steps_figure_leaves_out_values_below_the_axis():
    t = np.arange(0, 100)
    curves = {"raw": np.geomspace(1e4, 1e-6, 100), "whitened": np.r_[1e4, np.full(99, 1e-9)]}
    fig = normalisation.steps_figure(t, curves, {"raw": 70, "whitened": 1}, title="t")
    ax = fig.get_axes()[0]
    raw = ax.get_lines()[0].get_ydata()
    assert np.isnan(raw).any() and np.nanmin(raw) >= 1e-3
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["raw: 70 steps", "whitened: 1 step"]


def test_bowls_panel_titles_and_paths():
    panel, shown = normalisation.bowls_panel(bowls, offset=5.0, ratio=10.0, rho=0.5)
    assert isinstance(panel, Panel) and panel.png()[:4] == b"\x89PNG"
    assert shown["titles"]["whitened"].get_text() == "whitened\nκ = 1, 1 step"
    for ratio in [1.0, 100.0]:
        panel.set(ratio=ratio)
        for v, line in shown["paths"].items():
            xy = line.get_xydata()
            assert np.isfinite(xy).all() and np.abs(xy).max() <= 1.0 + 1e-9     # inside the start contour
            assert np.allclose(xy[-1], 0, atol=0.05)                           # ends at the minimum
        assert "κ = " in shown["titles"]["raw"].get_text()


def test_zigzag_and_mnist_figures_draw():
    H = np.array([[0.3, 0.25], [0.25, 0.3]])
    path = np.array([[0.0, 0.0], [0.4, 0.3], [0.6, -0.5], [1.0, -1.0]])
    fig = normalisation.zigzag_figure({"sigmoid": dict(path=path, H=H, steps=3, mixed=0)}, [1.0, -1.0], title="t")
    assert fig.get_axes()[0].get_title() == "sigmoid\n3 steps, 0 mixed"
    far = np.array([[0.0, 0.0], [2.5, -3.2], [-0.8, 0.4], [1.0, -1.0]])        # overshoots stay on the chart
    ax = normalisation.zigzag_figure({"tanh": dict(path=far, H=H, steps=3, mixed=1)}, [1.0, -1.0],
                                     title="t").get_axes()[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < far[:, 0].min() and far[:, 0].max() < x1 and y0 < far[:, 1].min() and far[:, 1].max() < y1
    own = np.zeros(784)
    fig = normalisation.own_statistics_figure(np.full(10, 0.9), np.full(10, 0.2), np.linspace(-1, 1, 784), own,
                                              title="t", batch="the 1s")
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert "mean of the 1s,\nthe batch's own" in titles
    assert any(t.get_text() == "0 everywhere" for t in fig.get_axes()[2].texts)
    fig.canvas.draw()
