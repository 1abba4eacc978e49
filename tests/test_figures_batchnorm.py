"""dlcore.figures.batchnorm: notebook 04's figures draw what they are given, and its slider shows it."""
import subprocess
import sys

import matplotlib

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcore import plot, widgets
from dlcore.figures import batchnorm
from dlcore.figures.batchnorm import BN, PLAIN


def fake_logs(snapshots=4, layers=3, bins=10, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(snapshots) * 100
    return {name: {"step": steps, "accuracy": np.linspace(0.1, 0.9, snapshots),
                   "percentiles": np.sort(rng.normal(size=(snapshots, 3)), axis=1),
                   "hist": rng.integers(0, 50, size=(snapshots, layers, bins))}
            for name in (PLAIN, BN)}


def test_transform_figure_draws_every_example_and_checks_shapes():
    x = np.array([[1.0, 10.0], [2.0, 12.0], [6.0, 15.0]])
    y = (x - x.mean(0)) / x.std(0)
    fig = batchnorm.transform_figure(x, y)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    dots = [line for line in fig.axes[1].lines if line.get_marker() == "o"]
    assert len(dots) == 2 and all(len(d.get_xdata()) == 3 for d in dots)
    np.testing.assert_allclose(np.concatenate([d.get_xdata() for d in dots]), y.T.ravel())
    with pytest.raises(ValueError, match="one shape"):
        batchnorm.transform_figure(x, y[:2])


def test_figure1_draws_accuracy_and_percentiles():
    logs = fake_logs()
    fig = batchnorm.figure1(logs)
    a, b, c = fig.axes[:3]
    assert len(a.lines) == 2 and len(b.lines) == 3 and len(c.lines) == 3
    np.testing.assert_allclose(b.lines[1].get_ydata(), logs[PLAIN]["percentiles"][:, 1])
    labels = [t.get_text() for t in b.get_legend().get_texts()]
    assert labels == ["15th / 85th percentiles", "median (50th percentile)"]   # one entry for the dashed pair
    with pytest.raises(ValueError, match="needs the runs"):
        batchnorm.figure1({PLAIN: logs[PLAIN]})


def test_histogram_panel_shows_the_spreads_it_is_given():
    logs = fake_logs()
    spreads = {PLAIN: np.full((4, 3), 0.02) + np.arange(4)[:, None] * 0.01, BN: np.full((4, 3), 0.2)}
    edges = np.linspace(0, 1, 11)
    panel, shown = batchnorm.histogram_panel(logs, spreads, edges, 100)
    assert isinstance(panel, widgets.Panel)
    panel.set(step=200, layer=2)
    assert shown == {PLAIN: pytest.approx(0.04), BN: pytest.approx(0.2), "step": 200, "layer": 2}
    assert bytes(panel.png()).startswith(b"\x89PNG")
    title = [t.get_text() for sf in panel.fig.subfigs for t in sf.texts][0]
    assert title == f"step 200, hidden layer 2: {PLAIN} spread 0.04, {BN} spread 0.20"
    assert panel.controls["step"].max == 300 and panel.controls["layer"].max == 3
    with pytest.raises(ValueError, match="edges"):
        batchnorm.histogram_panel(logs, spreads, edges[:-1], 100)


def test_rate_figure_marks_diverged_runs():
    rates = [0.5, 2.0, 8.0]
    final = {(n, lr): 0.9 if n == BN else 0.1 for n in (PLAIN, BN) for lr in rates}
    fig = batchnorm.rate_figure(rates, final, {(PLAIN, 8.0): 17})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"{PLAIN}: diverged" in labels and f"{BN}: diverged" not in labels
    fig = batchnorm.rate_figure(rates, final)
    assert not any("diverged" in t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_modes_and_noise_figures():
    fig = batchnorm.modes_figure(range(10), np.full(10, 0.9), np.full(10, 0.2), 0.95, 0.94)
    assert len(fig.axes[0].patches) == 22
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][-1] == "mixed"
    fig = batchnorm.noise_figure([8, 32, 128], [0.35, 0.18, 0.09])
    measured = [line for line in fig.axes[0].lines if line.get_label() == "measured"][0]
    np.testing.assert_allclose(measured.get_ydata(), [0.35, 0.18, 0.09])


def test_init_figure_draws_both_networks_and_the_marks():
    scales = [1e-3, 1e-2, 1e-1, 1.0]
    acc = {PLAIN: [0.1, 0.2, 0.9, 0.8], BN: [0.88, 0.89, 0.9, 0.87]}
    loss = {PLAIN: [2.3, 2.2, 0.3, 0.5], BN: [0.4, 0.4, 0.3, 0.4]}
    fig = batchnorm.init_figure(scales, acc, loss, marks={"Xavier": 0.1, "Figure 1": 0.01})
    a, b = fig.axes[:2]
    assert a.get_xscale() == "log" and b.get_yscale() == "log"
    curves = {line.get_label(): line for line in a.lines}
    np.testing.assert_allclose(curves[BN].get_ydata(), acc[BN])
    np.testing.assert_allclose(curves[PLAIN].get_xdata(), scales)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Xavier (std 0.1)" in labels and "Figure 1 (std 0.01)" in labels
    with pytest.raises(ValueError, match="one value per scale"):
        batchnorm.init_figure(scales, {PLAIN: acc[PLAIN], BN: acc[BN][:3]}, loss)
    with pytest.raises(ValueError, match="need the runs"):
        batchnorm.init_figure(scales, {PLAIN: acc[PLAIN]}, loss)


def test_landscape_figure_shades_each_band():
    steps = [0, 20, 40]
    loss = {PLAIN: np.array([[0.5, 3.0], [0.4, 2.0], [0.3, 1.5]]), BN: np.array([[0.5, 0.9], [0.4, 0.7], [0.3, 0.5]])}
    grad = {PLAIN: np.array([[1.0, 4.0]] * 3), BN: np.array([[0.5, 2.0]] * 3)}
    fig = batchnorm.landscape_figure(steps, loss, grad, multiples=[0.5, 1, 2])
    a, b = fig.axes[:2]
    assert len(a.collections) == 2 and len(b.collections) == 2
    np.testing.assert_allclose(a.lines[2].get_ydata(), loss[BN][:, 0])
    assert [t.get_text() for t in b.get_legend().get_texts()] == [PLAIN, BN]
    assert "0.5, 1, 2" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="must be a"):
        batchnorm.landscape_figure(steps, {PLAIN: loss[PLAIN], BN: loss[BN][:2]}, grad)
    with pytest.raises(ValueError, match="needs the runs"):
        batchnorm.landscape_figure(steps, loss, {BN: grad[BN]})


def test_presenter_mode_figures_are_not_shrunk():
    with matplotlib.rc_context():
        plot.presenter()
        fig = batchnorm.figure1(fake_logs())
        assert fig.get_size_inches()[0] >= 12
        assert fig.axes[0].title.get_fontsize() >= 16


def test_numerical_core_never_imports_the_figures():
    code = ("import sys, dlcore, dlcore.nn, dlcore.ensemble, dlcore.train; "
            "assert not any(m.startswith('dlcore.figures') for m in sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
