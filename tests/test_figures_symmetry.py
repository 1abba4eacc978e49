"""dlcore.figures.symmetry: notebook 01's figures draw what they are given, and the panel asks only
for the rows whose setting changed."""
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcore import widgets
from dlcore.figures import symmetry

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 2))
Y = np.repeat([0, 1], 20)
SHOWN = np.repeat([0, 1], 10)                  # 20 shown inputs, class 0 then class 1


def fake_snapshots(calls):
    """A snapshots callback that trains nothing: numbers made from the request, and a log of calls."""
    def snapshots(requests):
        calls.append(list(requests))
        shots = []
        for kind, value, width, step in requests:
            units = np.full((width, 5), value) if kind == "constant" else RNG.normal(size=(width, 5))
            shots.append(dict(units=units, activations=np.tanh(RNG.normal(size=(width, len(SHOWN)))),
                              prob=np.full((6, 8), 0.5), distinct=1 if kind == "constant" else width,
                              cost=0.25 + step / 1000, accuracy=0.9))
        return shots
    return snapshots


def make_explorer(calls):
    return symmetry.explorer(X, Y, fake_snapshots(calls), shown_labels=SHOWN, grid_shape=(6, 8),
                             extent=(-2, 2, -2, 2), max_width=12, steps=50, width=4)


def test_units_at_start_draws_one_row_per_start():
    acts, grads = np.zeros((8, 20)), np.ones((8, 5))
    fig = symmetry.units_at_start([("equal", acts, grads), ("random", RNG.normal(size=(8, 20)), -grads)],
                                  shown_labels=SHOWN)
    assert isinstance(fig, Figure)
    assert [sf._suptitle.get_text() for sf in fig.subfigs] == ["equal", "random"]
    ax_a = fig.subfigs[0].axes[0]
    assert [t.get_text() for t in ax_a.get_xticklabels()] == ["class 0 inputs", "class 1 inputs"]
    image = ax_a.get_images()[0]
    assert image.get_array().shape == (8, 20) and image.get_clim() == (-1, 1)


def test_units_at_start_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="gradients"):
        symmetry.units_at_start([("bad", np.zeros((8, 20)), np.zeros((7, 5)))])
    with pytest.raises(ValueError, match="empty"):
        symmetry.units_at_start([])


def test_cost_curves_draws_named_curves_draws_and_reference():
    curves = {"zero": np.full(11, np.log(2)), "constant": np.linspace(0.7, 0.25, 11)}
    draws = [np.linspace(0.7, 0.01, 11) for _ in range(3)]
    fig = symmetry.cost_curves(curves, draws=draws, draw_label="random (3 draws)",
                               reference=("log 2", np.log(2)), log=True, title="t")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 3 + 2 + 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["random (3 draws)", "zero", "constant", "log 2"]
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    assert ax.get_lines()[0].get_xdata()[0] == 0        # step 0 is drawn


def test_explorer_titles_state_what_the_snapshot_says():
    calls = []
    panel, titles = make_explorer(calls)
    assert isinstance(panel, widgets.Panel)
    assert titles[0].get_text() == "constant c = 0.50: 1 of 4 units distinct, C = 0.300, accuracy 90%"
    assert titles[1].get_text().startswith("random σ = 0.50: 4 of 4 units distinct")
    assert bytes(panel.png()).startswith(b"\x89PNG")
    assert "image/png" in panel._repr_mimebundle_()


def test_explorer_asks_only_for_changed_rows():
    calls = []
    panel, _ = make_explorer(calls)
    assert [len(c) for c in calls] == [2]                          # both rows at first
    panel.set(c=0.25)
    assert calls[-1] == [("constant", 0.25, 4, 50)]                 # one row: the other is unchanged
    panel.set(width=7)
    assert [r[0] for r in calls[-1]] == ["constant", "random"]      # a width change: both rows, one call
    n = len(calls)
    panel.set(width=7)
    assert len(calls) == n                                          # nothing changed: nothing asked


def test_explorer_draws_one_line_per_unit_and_hides_the_rest():
    calls = []
    panel, _ = make_explorer(calls)
    panel.set(width=3)
    ax_plane = panel.fig.subfigs[1].axes[2]
    shown = [line for line in ax_plane.get_lines() if line.get_visible() and len(line.get_xdata())]
    assert len(shown) == 3                                          # random units: 3 lines of the 12


def test_unit_line_skips_vertical_lines():
    assert symmetry._unit_line(np.array([0.0, 1.0]), 1.0, 0.0, 0.5) == ([], [])
    xs, ys = symmetry._unit_line(np.array([0.0, 1.0]), 1.0, 2.0, 0.0)
    assert np.allclose(ys, [0.0, -0.5])


def test_numerical_core_does_not_import_the_figures():
    code = "import sys, dlcore; import dlcore.init, dlcore.nets, dlcore.record; print('dlcore.figures.symmetry' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cost_curves_keeps_given_colours_and_draws_the_reference_beneath():
    curves = {"all zero": np.full(11, np.log(2)), "constant c = 0.5": np.linspace(0.7, 0.25, 11)}
    fig = symmetry.cost_curves(curves, reference=("log 2", np.log(2)), colors=symmetry.CONDITION_COLOURS)
    lines = fig.axes[0].get_lines()
    assert lines[0].get_color() == symmetry.CONDITION_COLOURS["all zero"]
    assert lines[1].get_color() == symmetry.CONDITION_COLOURS["constant c = 0.5"]
    assert lines[2].get_zorder() < lines[0].get_zorder()        # the reference line lies under the curves
    fig2 = symmetry.cost_curves({"other": np.ones(3)}, colors=symmetry.CONDITION_COLOURS)
    assert fig2.axes[0].get_lines()[0].get_color() not in symmetry.CONDITION_COLOURS.values()
