"""dlcore.figures.sgd (notebook 08's figures): each draws what it is given, on small made-up inputs."""

import numpy as np
from matplotlib.figure import Figure

from dlcore import plot, widgets
from dlcore.figures import sgd
from dlcore.search import SearchResult
from dlcore.train import History


def _render(fig):
    assert isinstance(fig, Figure)
    widgets.png_bytes(fig)          # draws it: layout and text must not raise
    return fig


def _titles(fig):
    return [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]


def _result(values, val_loss, diverged_at, steps=30):
    hist = []
    for v, k in zip(values, diverged_at):
        n = k if k is not None else steps
        loss = list(np.linspace(2.3, 0.3, n)) if k is None else [2.3] * (n - 1) + [50.0]
        hist.append(History(step=list(range(1, n + 1)), loss=loss, diverged_at=k))
    vl = np.array([np.inf if k is not None else v for v, k in zip(val_loss, diverged_at)])
    return SearchResult("lr", np.array(values, dtype=float), vl, np.where(np.isfinite(vl), 0.9, np.nan),
                        list(diverged_at), hist)


def _curves(res):
    return {i: (np.array(h.step), np.array(h.loss)) for i, h in enumerate(res.histories)}


def test_table_aligns_columns():
    out = sgd.table(["m", "value"], [["1", "0.5"], ["1000", "12.25"]])
    lines = out.splitlines()
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1
    assert lines[2].endswith("12.25") and "np.float64" not in out


def test_batch_losses_marks_epochs():
    fig = _render(sgd.batch_losses(np.linspace(2.5, 0.3, 124), batch_size=64, n=4000))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["epoch 2"]
    assert "noisy" in fig.axes[0].get_title()


def test_noise_figure_and_table():
    sizes = np.array([1, 4, 16, 64, 400, 3200])
    naive = 30 / np.sqrt(sizes)
    corrected = naive * np.sqrt((4000 - sizes) / 3999)
    fig = _render(sgd.noise(sizes, corrected * 1.01, naive, corrected, n=4000, draws=np.array([300] * 5 + [30]),
                            slope=-0.5))
    assert "slope -0.50" in fig.axes[0].get_title()
    table = sgd.noise_table(sizes, corrected, naive, corrected)
    assert table.splitlines()[-1].split()[-1] == "1.00" and "3200" in table


def _log(examples, loss, seconds):
    return {"examples": np.array(examples), "loss": np.array(loss), "seconds": np.array(seconds)}


def test_gd_vs_sgd_starts_at_step_zero_and_points_at_the_rise():
    gd = _log([0, 4000, 8000, 12000, 16000], [2.6, 1.9, 2.7, 0.5, 0.2], [0, 0.03, 0.06, 0.09, 0.12])
    mb = _log([0, 256, 512, 1024, 2048], [2.6, 1.2, 0.6, 0.35, 0.25], [0, 0.002, 0.004, 0.008, 0.016])
    fig = _render(sgd.gd_vs_sgd(gd, mb, n=4000, target=0.3, gd_lr=0.3, sgd_lr=0.1, batch_size=64))
    left = fig.axes[0]
    assert left.get_xscale() == "symlog" and left.get_xlim()[0] == 0
    assert all(line.get_xdata()[0] == 0 for line in left.lines[:2])            # both curves include step 0
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "GD's loss rose (1 of 4 steps)" in legend and "step 0, the same weights: loss 2.60" in legend
    ringed = left.lines[2]
    assert list(ringed.get_xdata()) == [2.0] and list(ringed.get_ydata()) == [2.7]
    assert left.get_title() == "to 0.3: SGD 0.51 epochs, GD 4"


def test_orders_figure():
    rng = np.random.default_rng(0)
    logs = {o: {"examples": np.arange(6) * 4000, "loss": np.linspace(2.5, 0.1, 6), "batch_loss": rng.random(5 * 62)}
            for o in ("reshuffle", "fixed", "sorted")}
    colours = dict(zip(logs, plot.PALETTE))
    fig = _render(sgd.orders(logs, colours, n=4000, epochs=5, per_epoch=62,
                             corr={"reshuffle": 0.0, "fixed": 0.99, "sorted": 0.9}))
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels == ["fixed (r = 0.99)", "reshuffle (r = 0.00)"]


def _search():
    rates = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 3.16]
    return _result(rates, [2.2, 1.1, 0.45, 0.34, 0, 0], [None, None, None, None, 3, 2])


def test_search_figure_draws_diverged_runs_as_crosses():
    coarse = _search()
    fine = _result([0.04, 0.06, 0.1, 0.16, 0.25], [0.35, 0.344, 0.34, 0.333, 0.342], [None] * 5)
    lam = SearchResult("weight_decay", np.array([0.0, 1e-3, 1e-2, 1e-1]), np.array([0.33, 0.32, 0.30, 0.48]),
                       np.full(4, 0.9), [None] * 4, [])
    fig = _render(sgd.search(coarse, fine, lam, eta=0.16, lam=0.01, steps=300))
    crosses = [line for line in fig.axes[0].lines if line.get_marker() == "x"]
    assert sum(len(line.get_xdata()) for line in crosses) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "diverged\nat step 3" in texts and "diverged\nat step 2" in texts     # each cross its own step
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "0.0001" in ticks and not any("10^" in t for t in ticks)                # plain decimal labels


def test_wrong_rates_and_panel():
    coarse = _search()
    curves = _curves(coarse)
    fig = _render(sgd.wrong_rates(curves, coarse, best_i=3, jump_one=24.0))
    assert "within 2 steps" in fig.axes[1].texts[0].get_text()
    assert fig.axes[0].get_title() == "too small (η = 0.0001): crawls"
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "η = 1: jumps to 24.0x its start, diverged at step 3" in labels
    one = [line for line in fig.axes[1].lines if line.get_label().startswith("η = 1:")][0]
    assert one.get_marker() == "o" and one.get_zorder() > 2                          # drawn on top, visible
    verdicts = ["too small: crawls", "too small: crawls", "close to the best", "the best", "too large", "too large"]
    panel, state = sgd.rate_panel(curves, coarse, best_i=3, steps=30, verdicts=verdicts)
    panel.set(rate=3.16)
    assert state["status"] == "diverged at step 2" and state["points"] == 2 and state["verdict"] == "too large"
    assert np.isfinite(state["line"].get_ydata()).all()
    panel.set(rate=1.2e-4)                                           # snaps to the nearest rate trained
    assert state["index"] == 0 and state["verdict"] == "too small: crawls"
    assert "image/png" in panel._repr_mimebundle_()


def test_momentum_figure():
    steps = np.arange(1, 401)
    curves = {(lr, name): (steps, np.linspace(2.5, 0.1 if lr < 0.1 else 1.0, 400))
              for lr in (0.03, 0.2) for name in ("warm-up 0.5 → 0.9", "0.9 from step 0")}
    fig = _render(sgd.momentum(curves, rates=(0.03, 0.2), warmup_steps=100))
    titles = _titles(fig)
    assert "η/(1-μ) = 0.3" in titles[0] and "only slows the start" in titles[0]
    assert "η/(1-μ) = 2" in titles[1] and "same bad end" in titles[1]


def test_presenter_mode_draws_too():
    plot.presenter()
    _render(sgd.batch_losses(np.linspace(2.5, 0.3, 124), batch_size=64, n=4000))


def test_emphasis_figure():
    conds = [("uniform", "clean"), ("emphasis", "clean"), ("uniform", "noisy"), ("emphasis", "noisy")]
    val = np.linspace(2.3, 0.3, 6)[:, None] * np.array([1.0, 1.1, 1.8, 2.5])
    mis = np.tile([0.0, 0.0, 0.2, 0.35], (5, 1))
    fig = _render(sgd.emphasis(val, mis, conditions=conds, colours={"uniform": "C0", "emphasis": "C1"},
                               noise=0.2, epochs=5))
    assert len(fig.axes[0].lines) == 4 and len(fig.axes[1].lines) == 3      # two noisy runs + the 20% line
    assert "20% of the labels" in [t.get_text() for t in fig.axes[1].texts]


def _search_inputs():
    eta, lam = 10.0 ** np.linspace(-3.4, -0.6, 15), np.array([1e-4, 1e-3, 1e-2])
    table = (2.0 - 0.5 * np.log10(eta / eta[0]))[:, None] + 0.01 * np.arange(3)
    grid = np.stack(np.meshgrid([1e-3, 1e-2, 1e-1], lam, indexing="ij"), -1).reshape(9, 2)
    rng = np.random.default_rng(0)
    draws = np.stack([10 ** rng.uniform(-3.5, -0.5, (4, 9)), 10 ** rng.uniform(-4.5, -1.5, (4, 9))], -1)
    return table, eta, lam, grid, draws


def test_grid_vs_random_panel_selects_each_draw():
    table, eta, lam, grid, draws = _search_inputs()
    best = np.array([0.6, 0.5, 0.7, 0.55])
    panel, state = sgd.grid_vs_random(table, eta, lam, grid, draws, 0.65, best, eta_range=(10**-3.5, 10**-0.5),
                                      lam_range=(10**-4.5, 10**-1.5), steps=150)
    _render(panel.fig if hasattr(panel, "fig") else panel.figure)
    for d in range(4):
        panel.set(draw=d)
        assert state["draw"] == d and state["best"] == best[d]
        np.testing.assert_allclose(state["points"].get_xdata(), draws[d, :, 0])
    titles = [t for t in _titles(state["points"].figure) if t.strip()]
    assert any("3 values of η" in t for t in titles) and any("random draw 3: 9 values of η" in t for t in titles)


def test_schedules_figure():
    steps = np.arange(100)
    rates = {"constant": np.full(100, 0.3), "plateau": np.where(steps < 50, 0.3, 0.03),
             "cosine": 0.15 * (1 + np.cos(np.pi * steps / 100)), "no warm": 0.6 * np.ones(100),
             "warm": np.minimum(0.6, 0.006 * (steps + 1))}
    val = {n: np.linspace(1.0, 0.3, 6) for n in rates}
    batch = {n: np.linspace(2.3, 0.3, 100) for n in rates}
    fig = _render(sgd.schedules(rates, val, batch, steps_per_val=16, eta0=0.3, names=["constant", "plateau", "cosine"],
                                warm=("no warm", "warm"), warmup_steps=20))
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == 5 and len(fig.axes[2].lines) == 3
    assert "0.300 at the end" in " ".join(t.get_text() for t in fig.axes[1].get_legend().get_texts())
