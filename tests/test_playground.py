"""dlcore.playground (the knobs, the trainer, diagnose) and dlcore.figures.playground (the live panel)."""
import asyncio
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from dlcore import widgets
from dlcore.figures import playground as fp
from dlcore.nn import BatchNorm1d, Dropout
from dlcore.playground import DEFAULTS, SCHEDULES, Playground, build_model, check_knobs


# ------------------------------------------------------------------------------------------ knobs

def test_build_model_from_knobs():
    m = build_model({"depth": 3, "width": 8, "activation": "relu", "batchnorm": True, "dropout": 0.2})
    assert m.sizes == [2, 8, 8, 8, 2] and m.activation == "relu"
    assert sum(isinstance(x, BatchNorm1d) for x in m.modules()) == 3
    assert sum(isinstance(x, Dropout) for x in m.modules()) == 3


def test_build_model_inits():
    g = lambda: torch.Generator().manual_seed(0)
    assert all(lin.weight.abs().max() == 0 for lin in build_model({"init": "zeros"}).linears)
    a = build_model({"init": "xavier"}, generator=g())
    b = build_model({"init": "xavier", "init_scale": 3.0}, generator=g())
    for la, lb in zip(a.linears, b.linears):
        assert torch.allclose(lb.weight, 3 * la.weight)
    wide = build_model({"init": "normal", "init_scale": 2.0, "width": 256}, generator=g())
    assert wide.linears[1].weight.std().item() == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("knobs, exc, match", [
    ({"colour": 1}, ValueError, "unknown knob.*the knobs are"),
    ({"dataset": "mnist"}, ValueError, "dataset.*valid choices.*moons"),
    ({"optimizer": "lbfgs"}, ValueError, "optimizer.*valid choices.*adam"),
    ({"activation": 3}, TypeError, "activation"),
    ({"schedule": "linear"}, ValueError, "schedule.*valid choices"),
    ({"depth": 0}, ValueError, "depth"),
    ({"width": 2.5}, TypeError, "width"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"dropout": 1.0}, ValueError, "dropout"),
    ({"momentum": 1.0}, ValueError, "momentum"),
    ({"train_fraction": 1.0}, ValueError, "train_fraction"),
    ({"batchnorm": "on"}, TypeError, "batchnorm"),
    ({"l2": -1e-3}, ValueError, "l2"),
    ({"init_scale": 0}, ValueError, "init_scale"),
])
def test_bad_knobs(knobs, exc, match):
    with pytest.raises(exc, match=match):
        check_knobs(knobs)
    with pytest.raises(exc, match=match):
        Playground(0, **knobs)


def test_bad_playground_args():
    with pytest.raises(ValueError, match="seed"):
        Playground(-1)
    with pytest.raises(TypeError, match="steps"):
        Playground(0).run(2.5)
    with pytest.raises(ValueError, match="n_points"):
        Playground(0, n_points=2)


# ---------------------------------------------------------------------------------------- training

def test_data_split_and_standardised():
    pg = Playground(0, train_fraction=0.3)
    assert len(pg.train[0]) == 150 and len(pg.test[0]) == 350
    assert torch.allclose(pg.train[0].mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(pg.train[0].std(0), torch.ones(2), atol=1e-4)


def test_deterministic_and_chunking_free():
    a = Playground(3, dropout=0.2).run(60)
    b = Playground(3, dropout=0.2)
    for _ in range(6):
        b.run(10)
    c = Playground(3, dropout=0.2)
    c.run(7), c.run(53)
    assert a.history == b.history == c.history and a.ratios == b.ratios
    assert a.history["step"] == list(range(0, 61, 5))
    assert Playground(4, dropout=0.2).run(60).history != a.history


def test_reset_restores_initial_weights():
    pg = Playground(1)
    w0 = [lin.weight.clone() for lin in pg.model.linears]
    pg.run(50)
    assert not torch.equal(pg.model.linears[0].weight, w0[0])
    pg.reset()
    assert pg.step == 0 and all(torch.equal(lin.weight, w) for lin, w in zip(pg.model.linears, w0))


def test_structural_knob_rebuilds_training_knob_does_not():
    pg = Playground(0).run(20)
    w = pg.model.linears[0].weight.clone()
    pg.set(lr=0.05, batch_size=8, schedule="cosine")
    assert pg.step == 20 and torch.equal(pg.model.linears[0].weight, w)
    assert pg.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)   # set at the next step
    pg.run(1)
    assert pg.optimizer.param_groups[0]["lr"] == pytest.approx(0.05 / 100 + (0.05 - 0.05 / 100) *
                                                               (1 + math.cos(math.pi * 20 / 2000)) / 2)
    opt = pg.optimizer
    pg.set(optimizer="sgd")
    assert pg.optimizer is not opt and type(pg.optimizer).__name__ == "SGD"
    pg.set(depth=3)
    assert pg.step == 0 and pg.model.sizes == [2, 16, 16, 16, 2]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_start_near_eta0(schedule):
    pg = Playground(0, schedule=schedule, lr=0.1)
    assert pg.rate == pytest.approx(0.01 if schedule == "warmup" else 0.1)
    pg.run(600)
    assert pg.rate <= 0.1 + 1e-12


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_every_optimizer_learns_moons(optimizer):
    lr = {"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1}.get(optimizer, 0.01)
    pg = Playground(0, optimizer=optimizer, lr=lr).run(400)
    assert pg.history["test_loss"][-1] < 0.5 * pg.history["test_loss"][0]


def test_divergence_is_caught_and_stops():
    pg = Playground(0, activation="linear", optimizer="sgd", lr=100.0).run(300)
    assert pg.stopped and pg.diverged_at is not None and pg.step == pg.diverged_at <= 20
    pg.run(10)
    assert pg.step == pg.diverged_at                       # stays stopped until reset
    assert pg.reset().stopped is False


def test_l2_shrinks_weights_and_adamw_decouples():
    base = Playground(0).run(200)
    l2 = Playground(0, l2=0.1).run(200)
    wd = Playground(0, optimizer="adamw", l2=0.1).run(200)
    norm = lambda pg: sum(lin.weight.norm().item() for lin in pg.model.linears)
    assert norm(l2) < norm(base) and norm(wd) < norm(base)
    assert wd.optimizer.param_groups[0]["weight_decay"] == 0.1


# ---------------------------------------------------------------------------------------- measuring

def test_layer_stats_and_zero_init():
    stats = Playground(0, activation="relu", init="he").layer_stats()
    assert len(stats) == 2 and set(stats[0]) >= {"saturated", "dead", "ratio", "grad_rms", "identical"}
    assert math.isnan(stats[0]["saturated"]) and 0 <= stats[0]["dead"] <= 1 and math.isnan(stats[0]["ratio"])
    zero = Playground(0, init="zeros").run(30)
    assert all(r["identical"] for r in zero.layer_stats()) and all(r["ratio"] == 0 for r in zero.layer_stats())
    assert not any(Playground(0).run(5).layer_stats()[i]["identical"] for i in range(2))


def test_surface():
    pg = Playground(0)
    p, (x0, x1, y0, y1) = pg.surface(30)
    assert p.shape == (30, 30) and p.min() >= 0 and p.max() <= 1 and x0 < x1 and y0 < y1
    X = torch.cat([pg.train[0], pg.test[0]])
    assert x0 <= X[:, 0].min() and X[:, 0].max() <= x1


def test_surface_window():
    pg = Playground(0)
    p, extent = pg.surface(10)
    assert extent == pg.data_window()
    p2, extent2 = pg.surface(10, window=(-3, 3, -2, 2.5))
    assert extent2 == (-3.0, 3.0, -2.0, 2.5) and p2.shape == (10, 10) and np.isfinite(p2).all()
    for bad in [(0, 1, 2), (1, 0, 0, 1), (0, 1, 0, float("nan")), "abcd", 1]:
        with pytest.raises(ValueError, match="window"):
            pg.surface(10, window=bad)
    with pytest.raises(ValueError, match="margin"):
        pg.data_window(-1)


def test_noise_keeps_the_window_unless_the_data_outgrow_it():
    play = fp.live(Playground(0))
    fulls = []
    refresh = play.panel.refresh
    play.panel.refresh = lambda full=False, **kw: fulls.append(bool(full)) or refresh(full, **kw)
    for noise in (0.05, 0.0, 0.1, 0.02):
        play.panel.set(noise=noise)
    assert fulls.count(True) <= 1          # a window that only grows: at most once here


def test_diagnose_names_and_verdicts():
    healthy = Playground(0).run(300).diagnose()
    assert [r.name for r in healthy] == ["initial loss", "symmetry", "units", "update ratio", "train/test gap"]
    assert healthy.passed and all(r.details["short"] for r in healthy)
    zero = Playground(0, init="zeros").run(50).diagnose()
    assert not zero["symmetry"].passed and "symmetry never breaks" in zero["symmetry"].message
    fresh = Playground(0).diagnose()
    assert not fresh["update ratio"].passed and "no steps" in fresh["update ratio"].message


# -------------------------------------------------------------------------------------- live panel

def _png(play):
    return widgets.png_bytes(play.view.fig)


def test_live_buttons_and_knobs_change_the_figure():
    pg = Playground(0)
    play = fp.live(pg, steps_per_frame=5)
    before = _png(play)
    play.panel.set(step=1)
    assert pg.step == 5 and _png(play) != before
    play.panel.set(diagnose=1)
    assert play.diagnosis is not None and play.diagnosis[0] == 5
    shown = _png(play)
    play.panel.set(lr=0.1)                                  # a training knob: same network, same step
    assert pg.step == 5 and pg.knobs["lr"] == pytest.approx(0.1) and _png(play) != shown
    play.panel.set(batchnorm="on")                          # structural: a new network
    assert pg.knobs["batchnorm"] is True and pg.step == 0 and play.diagnosis is None
    play.panel.set(step=2)
    play.panel.set(reset=1)
    assert pg.step == 0


def test_live_redraws_only_what_changed_and_the_same_pixels():
    """Diagnose, a new activation or depth redraw only their parts (no full redraw: ~130 ms),
    and every partial redraw leaves the pixels a full redraw gives (an artist whose glyphs reached
    into a neighbouring subfigure was once erased there)."""
    import io

    from PIL import Image

    play = fp.live(Playground(0), steps_per_frame=5)
    panel = play.panel
    fulls = []
    panel_refresh = panel.refresh
    panel.refresh = lambda full=False, **kw: fulls.append(bool(full)) or panel_refresh(full, **kw)
    pixels = lambda: np.asarray(Image.open(io.BytesIO(panel.png()))).copy()   # noqa: E731
    for change in ({"step": 1}, {"diagnose": 1}, {"activation": "relu"}, {"activation": "sigmoid"},
                   {"step": 2}, {"diagnose": 2}, {"lr": 0.1}, {"depth": 3}, {"step": 3}, {"depth": 1},
                   {"width": 7}):
        fulls.clear()
        panel.set(**change)
        if "width" not in change:              # a new width is a new network: its first frame may be full
            assert fulls == [False], change
        partial = pixels()
        panel_refresh(full=True)
        assert np.array_equal(partial, pixels()), change


def test_live_start_pause_on_an_event_loop():
    pg = Playground(0)
    play = fp.live(pg, steps_per_frame=5, max_fps=100)

    async def session():
        play.panel.set(start=1)
        assert play.running
        for _ in range(200):                                # let a few frames through
            await asyncio.sleep(0.01)
            if play.frames >= 3:
                break
        play.panel.set(pause=1)
        await asyncio.sleep(0.05)

    asyncio.run(session())
    assert not play.running and play.frames >= 3 and pg.step >= 15
    step = pg.step
    assert pg.step == step and "paused" in play.state


def test_live_stops_at_max_steps_and_on_divergence():
    async def until_stopped(play):
        play.start()
        for _ in range(500):
            await asyncio.sleep(0.005)
            if not play.running:
                break

    play = fp.live(Playground(0), steps_per_frame=10, max_fps=1000, max_steps=30)
    asyncio.run(until_stopped(play))
    assert not play.running and play.pg.step == 30
    wild = fp.live(Playground(0, activation="linear", optimizer="sgd", lr=100.0), max_fps=1000)
    asyncio.run(until_stopped(wild))
    assert wild.pg.stopped and not wild.running and "diverged at step" in wild.view.status.get_text()


def test_live_start_without_a_loop_says_so():
    play = fp.live(Playground(0))
    play.start()
    assert not play.running and "no event loop" in play.state


def test_live_bad_args():
    with pytest.raises(TypeError, match="Playground"):
        fp.live("moons")
    with pytest.raises(ValueError, match="steps_per_frame"):
        fp.live(Playground(0), steps_per_frame=0)
    with pytest.raises(ValueError, match="max_fps"):
        fp.live(Playground(0), max_fps=0)


def test_snapshot_and_describe():
    pg = Playground(0, optimizer="momentum", dropout=0.1).run(20)
    assert isinstance(fp.snapshot(pg, diagnosis=True), Figure)
    line = fp.describe(pg)
    assert "momentum η 0.01, μ 0.9" in line and "dropout 0.1" in line and "2x16 tanh" in line
    assert set(DEFAULTS) >= {"dataset", "batch_size"}


def test_gap_check_by_loss_catches_a_memorising_network():
    small = Playground(5, train_fraction=0.1, noise=0.3, width=32).run(1000)
    gap = small.diagnose()["train/test gap"]
    assert not gap.passed and gap.details["loss_gap"] > 0.15 and "overfitting" in gap.details["short"]
    assert "No sign of overfitting" not in gap.message


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_runs_on_cuda():
    pg = Playground(0, device="cuda", dropout=0.2, batchnorm=True).run(100)
    assert pg.model.linears[0].weight.is_cuda and pg.history["test_loss"][-1] < pg.history["test_loss"][0]
    p, _ = pg.surface(20)
    assert p.shape == (20, 20)
    assert len(pg.diagnose()) == 5


@pytest.mark.parametrize("presenter", [False, True])
def test_layer_numbers_sit_where_tick_labels_would(presenter):
    """The layer numbers under the bars are texts, not ticks: they sit level with the other panels'
    tick labels, at their size, and the axis labels below them stay level with the other panels'."""
    import matplotlib as mpl

    from dlcore import plot

    with mpl.rc_context():
        plot.style(presenter=presenter)
        fig10 = fp.Figure10()
        fig10.draw(Playground(0, depth=3))
        widgets.png_bytes(fig10.fig)
        r = fig10.fig.canvas.get_renderer()
        tick = [t for t in fig10.ax_loss.get_xticklabels() if t.get_text()][0].get_window_extent(r)
        label = fig10.ax_loss.xaxis.label.get_window_extent(r)
        for ax, names in ((fig10.ax_act, ["1", "2", "3"]), (fig10.ax_grad, ["1", "2", "3", "out"])):
            shown = [t for t in fig10.layer_labels[ax] if t.get_visible()]
            assert [t.get_text() for t in shown] == names and not ax.get_xticks().size
            for t in shown:
                box = t.get_window_extent(r)
                assert box.y1 == pytest.approx(tick.y1, abs=0.5) and box.height == pytest.approx(tick.height, abs=0.5)
            assert ax.xaxis.label.get_window_extent(r).y0 == pytest.approx(label.y0, abs=0.5)


def test_live_after_changes_draws_what_a_fresh_panel_draws():
    """Moved to a new depth and activation and diagnosed, the panel (no full redraw since its first
    frame) shows the pixels of a panel built at those knobs: nothing static depends on them."""
    play = fp.live(Playground(0))
    fulls = []
    refresh = play.panel.refresh
    play.panel.refresh = lambda full=False, **kw: fulls.append(bool(full)) or refresh(full, **kw)
    for change in ({"depth": 8}, {"activation": "relu"}, {"diagnose": 1}, {"depth": 5}):
        play.panel.set(**change)
    assert play.diagnosis is None                  # a new network (at step 0 too): the old verdicts go
    play.panel.set(diagnose=2)
    fresh = fp.live(Playground(0, depth=5, activation="relu"))
    fresh.panel.set(diagnose=1)
    assert not any(fulls) and play.diagnosis[1].passed == fresh.diagnosis[1].passed
    assert widgets.png_bytes(play.view.fig) == widgets.png_bytes(fresh.view.fig)


def test_a_new_data_set_resets_the_surface_window():
    play = fp.live(Playground(0))
    play.panel.set(noise=0.5)                      # noisier moons reach further: the window grows
    grown = play.view.key[0]
    play.panel.set(noise=0.0)
    assert play.view.key[0] == grown               # ... and stays while the data set stays
    play.panel.set(dataset="circles")
    assert play.view.key[0] == play.pg.data_window()


@pytest.mark.parametrize("presenter", [False, True])
def test_titles_legend_and_layer_numbers_do_not_collide(presenter):
    """On a projector (presenter mode) as on a laptop: the four panels' titles keep apart (for
    every activation's title), the gradient panel's legend stays off its tick labels, and the
    layer numbers under the bars do not run together (for every depth)."""
    import matplotlib as mpl

    from dlcore import plot
    from dlcore.playground import ACTIVATIONS

    def apart(boxes, gap):
        boxes = sorted(boxes, key=lambda b: b.x0)
        return all(b.x0 - a.x1 >= gap for a, b in zip(boxes, boxes[1:]))

    with mpl.rc_context():
        plot.style(presenter=presenter)
        for activation, depth in zip(ACTIVATIONS + ("tanh",) * 8, [2] * len(ACTIVATIONS) + list(range(1, 9))):
            fig10 = fp.Figure10()
            fig10.draw(Playground(0, activation=activation, depth=depth))
            widgets.png_bytes(fig10.fig)
            r = fig10.fig.canvas.get_renderer()
            axes = (fig10.ax_surf, fig10.ax_loss, fig10.ax_act, fig10.ax_grad)
            assert apart([ax.title.get_window_extent(r) for ax in axes], 20), (activation, [a.get_title() for a in axes])
            ticks = max(t.get_window_extent(r).x1 for t in fig10.ax_grad.get_yticklabels() if t.get_text())
            legend = fig10.ax_grad.get_legend().get_window_extent(r)
            assert legend.x0 > ticks and legend.y1 <= fig10.ax_grad.get_window_extent(r).y1
            for ax in (fig10.ax_act, fig10.ax_grad):
                shown = [t.get_window_extent(r) for t in fig10.layer_labels[ax] if t.get_visible() and t.get_text()]
                assert apart(shown, 2), (depth, [t.get_text() for t in fig10.layer_labels[ax] if t.get_visible()])
