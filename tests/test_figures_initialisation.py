"""dlcore.figures.initialisation: notebook 02's figures draw what they are given; curves that leave
a panel's range are named at its edge; the explorer reads its numbers from the snapshot."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from dlcore import widgets
from dlcore.figures import initialisation
from dlcore.train import History

LAYERS = 10
CASES = [("N(0, σ²)", 1.0), ("N(0, σ²)", 0.01), ("He normal", 1.0)]
LABELS = {("N(0, σ²)", 1.0): "N(0, 1)", ("N(0, σ²)", 0.01): "N(0, 0.01²)", ("He normal", 1.0): "He normal"}


def entry(var, grad, share, kind="saturated"):
    return {"var": list(var), "grad_norm": list(grad), kind: list(share)}


def make_table():
    k = np.arange(LAYERS)
    table = {}
    for act in ("tanh", "relu"):
        kind = "dead" if act == "relu" else "saturated"
        # N(0, 1) explodes going up, and its gradient coming down; N(0, 0.01²) collapses, its gradient vanishes
        table[act, "N(0, σ²)", 1.0] = entry(10.0 ** (2 * k), 10.0 ** (9 - k), np.full(LAYERS, 0.9), kind)
        table[act, "N(0, σ²)", 0.01] = entry(10.0 ** (-2 * k), 10.0 ** (k - 9), np.zeros(LAYERS), kind)
        table[act, "He normal", 1.0] = entry(np.linspace(1.0, 0.5, LAYERS), np.ones(LAYERS), np.zeros(LAYERS), kind)
    return table


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_layer_histograms_one_row_per_condition_with_notes():
    rows = {"a": [np.random.default_rng(0).uniform(-1, 1, 500) for _ in range(4)],
            "b": [torch.linspace(-0.5, 0.5, 300) for _ in range(3)]}
    fig = initialisation.layer_histograms(rows, notes={"a": ["1%", "2%", "3%", "4%"]}, titles={"a": "row a"})
    top, bottom = fig.subfigs
    assert top._suptitle.get_text() == "row a" and bottom._suptitle.get_text() == "b"
    assert texts(top.axes[2]) == ["3%"]
    assert not bottom.axes[3].get_visible()                   # b has 3 layers: the fourth axes is hidden
    heights = top.axes[0].patches[0].get_path().vertices[:, 1]
    assert heights.max() == pytest.approx(1.0)                 # scaled to its own peak


def test_histogram_scales_to_peak_and_clamps():
    counts = initialisation._histogram(np.array([-5.0, 0.1, 0.2, 5.0]), -1, 1, 4)
    assert counts.max() == 1 and counts[0] > 0 and counts[-1] > 0      # the outliers land in the end bins
    assert np.allclose(initialisation._histogram(torch.tensor([-5.0, 0.1, 0.2, 5.0]), -1, 1, 4), counts)


def test_signal_figure_range_follows_the_kept_curve_and_names_the_others():
    fig = initialisation.signal_figure(make_table(), CASES, ["tanh", "relu"], labels=LABELS, title="finding")
    ax = fig.subfigs[0].axes[0]
    lo, hi = ax.get_ylim()
    assert lo == pytest.approx(0.05) and hi == pytest.approx(10.0)      # He's 0.5..1, padded 10x each way
    notes = texts(ax)
    assert any(n.startswith("↑ N(0, 1) 1e+18 (L10)") for n in notes)
    assert any(n.startswith("↓ N(0, 0.01²) 1e-18 (L10)") for n in notes)
    assert fig.subfigs[0]._suptitle.get_text() == "finding"
    assert fig.subfigs[1].axes[1].get_title() == "relu: dead %"
    share = fig.subfigs[1].axes[0].get_lines()[0].get_ydata()
    assert np.allclose(share, 90)                                       # fractions drawn as %


def test_gradient_figure_names_a_vanishing_gradient_on_the_right():
    fig = initialisation.gradient_figure(make_table(), CASES, ["tanh"], labels=LABELS)
    ax = fig.axes[0]
    notes = {t.get_text(): t.get_ha() for t in ax.texts}
    assert notes == {"↑ N(0, 1) 1e+09 (L1)": "right", "↓ N(0, 0.01²) 1e-09 (L1)": "right"}
    assert ax.get_ylabel() == "gradient norm ‖∂C/∂z‖"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(LABELS.values())


def test_training_curves_name_a_diverged_run():
    ok = History(step=[1, 2, 3], loss=[2.3, 1.0, 0.5])
    bad = History(step=[1, 2, 3], loss=[2.3, 50.0, float("inf")], diverged_at=3)
    fig = initialisation.training_curves({"relu": {"He normal": ok, "N(0, 1)": bad}}, title="t")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["He normal", "N(0, 1) (diverged at step 3)"]
    assert fig.axes[0].get_lines()[0].get_color() == initialisation.colour("He normal")


def test_training_curves_put_a_run_above_the_panel_on_its_top_edge():
    ok = History(step=[1, 2, 3], loss=[2.3, 1.0, 0.5])
    bad = History(step=[1, 2, 3], loss=[40.0, 50.0, float("inf")], diverged_at=3)
    fig = initialisation.training_curves({"relu": {"He normal": ok, "N(0, 1)": bad}}, ylim=(0, 3.5))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["He normal", "N(0, 1) (off the top; diverged at step 3, x)"]
    cross = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(cross) == 1 and cross[0].get_ydata()[0] == 3.5 and not cross[0].get_clip_on()


def fake_snapshot(calls):
    def snapshot(activation, scheme, sigma, depth, width, show):
        calls.append((activation, scheme, sigma, depth, width, show))
        values = [torch.randn(64, 8) * (k + 1) for k in range(depth)]
        return dict(values=values, var=[1.0 + k for k in range(depth)], grad_norm=[2.0] * depth,
                    bad=[float(10 * k) for k in range(depth)])
    return snapshot


def test_explorer_state_and_titles_follow_the_snapshot():
    calls = []
    panel, state = initialisation.explorer(fake_snapshot(calls), activations=["tanh", "relu"],
                                           schemes=["N(0, σ²)", "He normal"], max_depth=6)
    assert isinstance(panel, widgets.Panel)
    assert calls[-1] == ("tanh", "N(0, σ²)", 1.0, 6, 256, "activations")
    assert state["var"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] and state["bad"][-1] == 50.0
    panel.set(activation="relu", scheme="He normal", depth=3, show="gradients")
    assert calls[-1][:4] == ("relu", "He normal", 1.0, 3)
    title_bottom = panel.fig.subfigs[1]._suptitle.get_text()
    assert title_bottom.startswith("variance ×3 from layer 1 to 3") and title_bottom.endswith("20% dead")
    bars = panel.fig.subfigs[0].axes
    assert bars[2].patches[0].get_visible() and not bars[3].patches[0].get_visible()
    assert "image/png" in panel._repr_mimebundle_()


def test_explorer_remembers_settings_it_drew():
    # a drag comes back over values: those settings are drawn from memory, the same picture, no new snapshot
    calls = []
    panel, state = initialisation.explorer(fake_snapshot(calls), activations=["tanh", "relu"],
                                           schemes=["N(0, σ²)", "He normal"], max_depth=6, memory=2)
    panel.set(depth=3)
    at_three = panel.png()
    panel.set(depth=4)
    n = len(calls)
    panel.set(depth=3)                      # remembered: no call, the same picture and numbers in state
    assert len(calls) == n and state["var"] == [1.0, 2.0, 3.0] and panel.png() == at_three
    panel.set(depth=6)                      # forgotten (memory=2 kept depth 3 and 4): computed again
    assert len(calls) == n + 1 and state["var"] == [1.0 + k for k in range(6)]
    with pytest.raises(ValueError, match="memory"):
        initialisation.explorer(fake_snapshot([]), activations=["tanh"], schemes=["He normal"], memory=-1)


def test_explorer_prefetch_fills_its_memory():
    # what the idle kernel computes for the next slider move is what the move then draws, with no new snapshot
    calls = []
    panel, state = initialisation.explorer(fake_snapshot(calls), activations=["tanh", "relu"],
                                           schemes=["N(0, σ²)", "He normal"], max_depth=6)
    before = len(calls)
    panel.prefetch(**{**panel.values, "width": 64})
    n = len(calls)
    panel.set(width=64)
    assert n == before + 1 and len(calls) == n


def test_numerical_core_does_not_import_the_figures():
    code = ("import sys, dlcore; import dlcore.init, dlcore.nets, dlcore.record, dlcore.train; "
            "print('dlcore.figures.initialisation' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_leaky_figure_one_panel_per_gain_one_curve_per_slope():
    slopes, gains = [0.0, 0.2, 1.0], ["He's gain", "ReLU's gain"]
    stds = {(a, g): np.linspace(1.0, 1.0 + 10 * a * (g == "ReLU's gain"), LAYERS) for a in slopes for g in gains}
    fig = initialisation.leaky_figure(stds, slopes, gains, title="t")
    axes = fig.axes
    assert len(axes) == 2 and [ax.get_title() for ax in axes] == gains
    assert all(len(ax.lines) == len(slopes) for ax in axes)
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["a = 0 (ReLU)", "a = 0.2", "a = 1 (linear)"]
    assert axes[0].get_yscale() == "log" and axes[0].get_ylim()[1] >= 11.0
    np.testing.assert_allclose(axes[1].lines[2].get_ydata(), stds[1.0, "ReLU's gain"])


def test_leaky_figure_names_a_missing_curve():
    with pytest.raises(ValueError, match="no curve"):
        initialisation.leaky_figure({(0.0, "g"): [1.0, 1.0]}, [0.0, 0.2], ["g"])
    with pytest.raises(ValueError, match="at least one"):
        initialisation.leaky_figure({}, [], ["g"])
