"""dlcore.figures.babysitting (notebook 09's figures): each draws what it is given, on made-up results."""

import numpy as np
from matplotlib.figure import Figure

from dlcore import plot, widgets
from dlcore._result import CheckResult
from dlcore.figures import babysitting


def _render(fig):
    assert isinstance(fig, Figure)
    widgets.png_bytes(fig)
    return fig


class FakeRun:
    """What babysit.track_update_ratios returns, as far as the figures read it."""

    def __init__(self, history, losses, diverged_at=None):
        self.history, self.losses, self.diverged_at = np.asarray(history), list(losses), diverged_at
        self.layers = ["linear1", "linear2", "linear3"]


def _ratio_check(values, message):
    passed = all(1e-4 <= v <= 1e-2 for v in values)
    return CheckResult("update ratio", passed, dict(zip(["linear1.weight", "linear2.weight", "linear3.weight"], values)),
                       (1e-4, 1e-2), message)


def _runs():
    steps = 150
    specs = {0.01: ([1e-4, 6e-5, 1e-4], "Learning rate too low: linear2 barely change(s)", 2.2),
             1: ([4e-3, 2e-3, 4e-3], "in the band", 0.36),
             10: ([3e-2, 2e-2, 4e-2], "Learning rate may be too high: ...", 0.22),
             100: ([6e-6, 1e-5, 0.5], "Learning rate may be too high: ... linear1, linear2 barely change(s)", 200.0)}
    runs, checks, final = {}, {}, {}
    for m, (med, msg, loss) in specs.items():
        runs[m] = FakeRun(np.tile(med, (steps, 1)), np.full(steps, loss))
        checks[m] = _ratio_check(med, msg)
        final[m] = loss
    return runs, checks, final


def test_coordinate_errors_names_the_wrong_tensors():
    errors = {"b1": (np.full(20, 1e-9), np.full(20, 1.5)), "W2": (np.zeros(200), np.zeros(200)),
              "b2": (np.full(10, 3e-10), np.full(10, 3e-10))}
    fig = _render(babysitting.coordinate_errors(errors))
    ax = fig.axes[0]
    assert ax.get_title() == "The buggy backward is wrong in b1, right in W2, b2"
    assert all(np.all(np.isfinite(c.get_offsets())) for c in ax.collections)     # exact zeros drawn on the floor
    assert [t.get_text() for t in ax.get_xticklabels()][1] == "W2\n(200 coordinates)"


def test_precision_title_rounds_the_ratio():
    eps = [1e-1, 1e-3, 1e-5, 1e-7, 1e-9]
    fig = _render(babysitting.precision(eps, [1e-3, 1e-7, 3e-10, 2e-8, 4e-6], [1e-3, 1e-3, 1e-1, 1, 1]))
    assert "about 3,000,000 times" in fig.axes[0].get_title()


def test_initial_loss_labels_log_k():
    stds = np.logspace(-3, 1, 5)
    fig = _render(babysitting.initial_loss(stds, [2.3, 2.3, 2.4, 15, 160], xavier_sigma=0.0476, xavier_loss=2.5,
                                           n_classes=10))
    assert "log K = log 10 = 2.30" in [t.get_text() for t in fig.axes[0].texts]
    assert "σ ≈ 0.05" in fig.axes[0].get_legend().get_texts()[1].get_text()


def _overfit(losses, passed, diverged_at=None):
    return CheckResult("overfit small", passed, losses[-1], (0, 0.05), "",
                       {"losses": losses, "diverged_at": diverged_at, "indices": np.arange(20)})


def test_overfit_says_who_memorises_and_marks_divergence():
    results = [(_overfit(list(np.geomspace(2.4, 0.01, 200)), True), "healthy, η = 0.05"),
               (_overfit(list(np.geomspace(140, 50, 200)), False), "N(0, 10²) init, η = 0.05"),
               (_overfit([2.4, 50.0, float("inf")][:2], False, diverged_at=2), "healthy, η = 5 (100x)")]
    fig = _render(babysitting.overfit(results))
    assert fig.axes[0].get_title() == "Only the healthy network memorises 20 digits"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[2] == "healthy, η = 5 (100x): diverged at step 2"


def test_band_verdict():
    runs, checks, _ = _runs()
    assert [babysitting.band_verdict(runs[m], checks[m]) for m in (0.01, 1, 10, 100)] == [
        "below the band", "in the band", "above the band", "above the band"]
    assert babysitting.band_verdict(FakeRun(np.ones((3, 3)), [1, 2, 3], diverged_at=3), checks[100]) == \
        "diverged at step 3"


def test_ratios_titles_name_layers():
    runs, checks, _ = _runs()
    fig = _render(babysitting.ratios(runs, checks, lr=0.05, multipliers=(1, 100)))
    assert fig.axes[0].get_title() == "η = 0.05 (1x):\nevery layer in the band"
    assert fig.axes[1].get_title() == "η = 5 (100x):\nlinear3 above the band; linear1, linear2 below"


def test_ratio_panel_gives_both_readings():
    runs, checks, final = _runs()
    panel, state = babysitting.ratio_panel(runs, checks, final, lr=0.05)
    assert state == {"multiplier": 1, "verdict": "in the band"}
    panel.set(multiplier=9.0)                          # the nearest run is 10x
    assert state == {"multiplier": 10, "verdict": "above the band"}
    title = panel.fig.subfigs[0]._suptitle.get_text()
    assert "ratios above the band" in title and "final loss 0.22, the lowest" in title
    panel.set(multiplier=0.01)
    assert state["verdict"] == "below the band" and "the lowest" not in panel.fig.subfigs[0]._suptitle.get_text()
    assert "image/png" in panel._repr_mimebundle_()


def test_gap_bars():
    results = {name: CheckResult("train/val gap", ok, tr - va, (-0.08, 0.08), "", {"train_acc": tr, "val_acc": va})
               for name, ok, tr, va in [("healthy", True, 0.95, 0.92), ("100 digits", False, 1.0, 0.7),
                                        ("2 hidden units", False, 0.41, 0.39)]}
    fig = _render(babysitting.gap(results))
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["healthy\nPASS", "100 digits\nFAIL", "2 hidden units\nFAIL"]
    assert len(fig.axes[0].patches) == 6


def test_table_is_shared():
    assert babysitting.table(["a", "bb"], [["1", "2"]]).splitlines() == ["a  bb", "1   2"]


def test_presenter_mode_draws_too():
    plot.presenter()
    runs, checks, final = _runs()
    _render(babysitting.ratios(runs, checks, lr=0.05))


def test_ratios_y_limit_keeps_every_curve_on_the_chart():
    runs, checks, final = _runs()
    runs[100].history[:, 0] = 3e-9                      # a saturated layer far below the usual floor of 1e-7
    fig = _render(babysitting.ratios(runs, checks, lr=0.05))
    assert all(ax.get_ylim()[0] <= 3e-9 for ax in fig.axes)
    runs, checks, final = _runs()
    fig = _render(babysitting.ratios(runs, checks, lr=0.05))
    assert fig.axes[0].get_ylim() == (1e-7, 1e2)        # nothing that low: the usual floor
