"""dlcore.figures.quasi_newton: the race figure draws what it is given, legibly."""
import functools

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcore import surfaces, trajectory
from dlcore.figures import quasi_newton
from dlcore.optim import lbfgs


@functools.lru_cache(maxsize=None)
def _race(name):
    s = surfaces.get(name)
    lr = 0.02 if name == "ravine" else 1e-3
    plain = trajectory.run(s, [("sgd", {"lr": lr}, "GD"), ("momentum", {"lr": lr, "momentum": 0.9}, "momentum")],
                           steps=200)
    return s, [plain, lbfgs.newton_path(s, steps=10),
               lbfgs.path(s, steps=60, line_search=None if name == "ravine" else "backtracking")]


def _figure():
    panels = [("ravine", *_race("ravine")), ("Rosenbrock", *_race("rosenbrock"))]
    return quasi_newton.race_figure(panels, threshold=1e-6, title="t", zoom=[((-5, 1), (-1.5, 1.5)), None])


def test_race_figure_has_paths_above_and_losses_below():
    fig = _figure()
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == 4 and fig._suptitle.get_text() == "t"
    top_left, top_right, low_left, low_right = axes
    assert top_left.get_xlim() == (-5, 1) and top_left.get_ylim() == (-1.5, 1.5)
    assert top_right.get_xlim() == surfaces.rosenbrock().window[0]
    for ax in (low_left, low_right):
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert ax.get_xlabel() and ax.get_ylabel() == "f − f*"
    fig.canvas.draw()
    for ax in axes:
        assert all(np.isfinite(line.get_xydata()).all() for line in ax.get_lines())


def test_legends_give_each_methods_step_count():
    fig = _figure()
    low_left = fig.get_axes()[2]
    labels = [t.get_text() for t in low_left.get_legend().get_texts()]
    s, runs = _race("ravine")
    n_lbfgs = int(runs[2].steps_to(1e-6)[0])
    assert labels[0].startswith("GD: ") and labels[2] == "Newton: 1 step"
    assert labels[3] == f"L-BFGS (10 pairs): {n_lbfgs} steps"
    low_right = fig.get_axes()[3]
    assert any(t.get_text() == "GD: not in 200" for t in low_right.get_legend().get_texts())


def test_legend_covers_no_curve():
    fig = _figure()
    fig.canvas.draw()
    for ax in fig.get_axes()[2:]:
        box = ax.get_legend().get_window_extent()
        for line in ax.get_lines()[1:]:                     # the threshold line spans the axes
            pts = ax.transData.transform(line.get_xydata())
            inside = (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
            assert not inside.any(), line.get_label()


def test_method_of_and_count_text():
    assert quasi_newton.method_of("L-BFGS (3 pairs)") == "L-BFGS"
    assert quasi_newton.method_of("sgd(lr=0.1)") == "GD" and quasi_newton.method_of("momentum(lr=0.1)") == "momentum"
    assert quasi_newton.count_text(1, 50) == "1 step" and quasi_newton.count_text(-1, 3000) == "not in 3,000"
    with pytest.raises(ValueError, match="L-BFGS"):
        quasi_newton.method_of("adam")


def test_race_figure_rejects_bad_input():
    s, runs = _race("ravine")
    with pytest.raises(ValueError, match="panels"):
        quasi_newton.race_figure([], title="t")
    with pytest.raises(ValueError, match="zoom"):
        quasi_newton.race_figure([("a", s, runs)], title="t", zoom=[None, None])
    with pytest.raises(TypeError, match="Trajectories"):
        quasi_newton.race_figure([("a", s, [np.zeros((3, 2))])], title="t")
    with pytest.raises(ValueError, match="threshold"):
        quasi_newton.race_figure([("a", s, runs)], title="t", threshold=0)


def test_race_figure_draws_only_the_chosen_runs_of_a_sweep():
    s, runs = _race("ravine")
    fig = quasi_newton.race_figure([("a", s, [(runs[0], [1]), runs[2]])], title="t")
    labels = [t.get_text() for t in fig.get_axes()[1].get_legend().get_texts()]
    assert [lab.split(":")[0] for lab in labels] == ["momentum", "L-BFGS (10 pairs)"]
