"""dlcore.search: log grids, refinement, and the search itself against runs of fit made by hand."""
import math

import numpy as np
import pytest
import torch

import dlcore
from dlcore.data import moons, noisy_sine
from dlcore.search import SearchResult, log_grid, lr_search, refine, search
from dlcore.train import fit


def make_model(seed=0, sizes=(2, 16, 2)):
    return lambda: dlcore.MLP(list(sizes), "relu", init="kaiming_normal",
                              generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def data():
    return moons(200, seed=0), moons(100, seed=1)


@pytest.fixture(scope="module")
def coarse(data):
    train, val = data
    return lr_search(make_model(), train, val, log_grid(1e-3, 100, 6), steps=60, batch_size=32)


# ------------------------------------------------------------------------------ grids

def test_log_grid_matches_logspace():
    grid = log_grid(1e-4, 1.0, 9)
    np.testing.assert_allclose(grid, np.logspace(-4, 0, 9), rtol=1e-12)
    assert grid[0] == 1e-4 and grid[-1] == 1.0


def test_log_grid_even_ratios():
    grid = log_grid(0.003, 7.0, 6)
    ratios = grid[1:] / grid[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)


@pytest.mark.parametrize("low, high, n, match", [
    (0.0, 1.0, 5, "low must be > 0"), (-1.0, 1.0, 5, "low must be > 0"),
    (1.0, 1.0, 5, "low < high"), (2.0, 1.0, 5, "low < high"), (1e-3, 1.0, 1, "n must be >= 2"),
    (1e-3, math.inf, 5, "high must be finite"),
])
def test_log_grid_bad_values(low, high, n, match):
    with pytest.raises(ValueError, match=match):
        log_grid(low, high, n)


def test_log_grid_bad_types():
    with pytest.raises(TypeError, match="n must be an integer"):
        log_grid(1e-3, 1.0, 4.0)
    with pytest.raises(TypeError, match="low must be a real number"):
        log_grid("1e-3", 1.0, 4)


def test_refine_centres_on_best():
    grid = refine(0.3, 10**0.4, 5)
    assert grid[2] == 0.3
    np.testing.assert_allclose(grid[[0, -1]], [0.3 / 10**0.4, 0.3 * 10**0.4], rtol=1e-12)
    np.testing.assert_allclose(np.diff(np.log10(grid)), 0.2, rtol=1e-9)


def test_refine_even_n_brackets_best():
    grid = refine(0.1, 2.0, 4)
    assert grid[1] < 0.1 < grid[2] and len(grid) == 4


def test_refine_bad_input():
    with pytest.raises(ValueError, match="factor must be > 1"):
        refine(0.1, 1.0, 5)
    with pytest.raises(ValueError, match="best must be > 0"):
        refine(0.0, 2.0, 5)


# ------------------------------------------------------------------------------ the search

def test_best_is_lowest_val_loss(coarse):
    assert isinstance(coarse, SearchResult) and coarse.name == "lr"
    assert coarse.best_index == int(np.argmin(coarse.val_loss))
    assert coarse.best == coarse.values[coarse.best_index]
    assert coarse.best_val_loss == coarse.val_loss.min()
    finite = coarse.val_loss[~coarse.diverged]
    assert coarse.best_val_loss == finite.min()


def test_each_run_is_a_plain_fit(coarse, data):
    # an independent run of fit with the same model, rate, order: the same validation loss
    train, val = data
    i = coarse.best_index
    model = make_model()()
    h = fit(model, train, steps=60, batch_size=32, lr=float(coarse.values[i]), val=val,
            eval_every=60, progress=False)
    assert h.val_loss[-1] == pytest.approx(coarse.val_loss[i], rel=1e-6)
    assert h.loss == coarse.histories[i].loss


def test_too_large_rate_marked_diverged_not_nan(coarse):
    # rates 10 and 100 blow the loss up within a few steps on this problem
    assert coarse.diverged.tolist() == [False, False, False, False, True, True]
    for i in (4, 5):
        k = coarse.diverged_at[i]
        h = coarse.histories[i]
        assert isinstance(k, int) and h.diverged_at == k and h.step[-1] == k
        assert coarse.val_loss[i] == math.inf and math.isnan(coarse.val_acc[i])
        assert coarse.status(i) == f"diverged at step {k}"
        assert h.loss[-1] > 4 * h.loss[0]            # the blow-up that marked it
        assert all(v <= 4 * h.loss[0] for v in h.loss[:-1])
    assert not np.isnan(coarse.val_loss).any()
    assert "diverged at step" in coarse.table() and "<- best" in coarse.table()
    assert "nan" not in coarse.table().lower()


def test_small_rate_crawls(coarse):
    assert coarse.val_loss[0] > 3 * coarse.best_val_loss
    assert coarse.status(0).startswith("val loss ")


def test_blowup_none_only_counts_inf(data):
    train, val = data
    res = lr_search(make_model(), train, val, [10.0], steps=60, batch_size=32, blowup=None)
    assert res.diverged_at == [None] and math.isfinite(res.val_loss[0])


def test_nan_divergence_from_fit():
    # MSE on a sine with a huge rate overflows to inf/NaN: fit stops, search reports the step
    x, y = noisy_sine(64, noise=0.0)
    res = search("lr", [0.01, 1e4], make_model(sizes=(1, 16, 1)), (x, y), (x, y), steps=50,
                 batch_size=None, loss="mse", blowup=None)
    assert res.diverged_at[0] is None and res.diverged_at[1] is not None
    assert res.best_index == 0 and res.val_loss[1] == math.inf
    assert np.isfinite(res.histories[1].loss[:-1]).all()


def test_every_run_diverged_has_no_best(data):
    train, val = data
    res = lr_search(make_model(), train, val, [50.0, 100.0], steps=20, batch_size=32)
    assert res.diverged.all()
    with pytest.raises(ValueError, match="every run diverged"):
        res.best
    assert "<- best" not in res.table()


def test_deterministic(data):
    train, val = data
    a = lr_search(make_model(), train, val, [0.1, 1.0], steps=30, batch_size=32, seed=3)
    b = lr_search(make_model(), train, val, [0.1, 1.0], steps=30, batch_size=32, seed=3)
    np.testing.assert_array_equal(a.val_loss, b.val_loss)


def test_weight_decay_search_with_fixed_lr(data):
    # lambda after eta: the optimiser gets both; run 1 equals torch's SGD with weight_decay
    train, val = data
    res = search("weight_decay", [0.0, 0.01], make_model(), train, val, steps=40,
                 batch_size=32, fixed={"lr": 0.5}, eval_every=20)
    model = make_model()()
    h = fit(model, train, steps=40, batch_size=32, val=val, eval_every=20, progress=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.5, weight_decay=0.01))
    np.testing.assert_allclose(res.histories[1].loss, h.loss, rtol=1e-5)
    assert res.histories[1].val_step == [20, 40]
    assert res.name == "weight_decay" and res.values.tolist() == [0.0, 0.01]


def test_torch_optimizer_class_gives_same_runs(data):
    train, val = data
    ours = lr_search(make_model(), train, val, [0.3], steps=30, batch_size=32)
    theirs = lr_search(make_model(), train, val, [0.3], steps=30, batch_size=32,
                       optimizer=torch.optim.SGD)
    assert ours.val_loss[0] == pytest.approx(theirs.val_loss[0], rel=1e-6)


def test_values_as_tensor_and_array(data):
    train, val = data
    a = lr_search(make_model(), train, val, torch.tensor([0.1, 0.3]), steps=10, batch_size=32)
    assert a.values.tolist() == pytest.approx([0.1, 0.3])


# ------------------------------------------------------------------------------ bad input

def test_bad_rates(data):
    train, val = data
    with pytest.raises(ValueError, match=r"rates\[1\] must be > 0"):
        lr_search(make_model(), train, val, [0.1, 0.0], steps=10)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        lr_search(make_model(), train, val, [], steps=10)
    with pytest.raises(TypeError, match="rates must be"):
        lr_search(make_model(), train, val, 0.1, steps=10)


def test_bad_search_arguments(data):
    train, val = data
    with pytest.raises(ValueError, match="cannot also be in fixed"):
        search("lr", [0.1], make_model(), train, val, steps=10, fixed={"lr": 0.2})
    with pytest.raises(TypeError, match="not a model"):
        search("lr", [0.1], dlcore.MLP([2, 2]), train, val, steps=10)
    with pytest.raises(TypeError, match="make_model must be a callable"):
        search("lr", [0.1], "net", train, val, steps=10)
    with pytest.raises(TypeError, match=r"make_model\(\) must return an nn.Module"):
        search("lr", [0.1], lambda: "net", train, val, steps=10)
    with pytest.raises(ValueError, match="blowup must be > 1"):
        search("lr", [0.1], make_model(), train, val, steps=10, blowup=1.0)
    with pytest.raises(ValueError, match="values must be 1-D"):
        search("lr", np.ones((2, 2)), make_model(), train, val, steps=10)
    with pytest.raises(TypeError, match=r"values\[0\] must be a real number"):
        search("lr", ["fast"], make_model(), train, val, steps=10)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        search("lr", [0.1], make_model(), train, val, steps=0)
    with pytest.raises(TypeError, match="name must be an optimiser keyword"):
        search(3, [0.1], make_model(), train, val, steps=10)
    with pytest.raises(ValueError, match="lr"):        # the optimiser's own check names it
        search("lr", [-1.0], make_model(), train, val, steps=10)


def test_diverged_history_draws_as_diverged(coarse):
    # the cut history goes straight into dlcore.plot.loss_curves: finite points, "diverged at step k"
    from matplotlib.figure import Figure

    from dlcore import plot

    ax = Figure().subplots()
    lines = plot.loss_curves(ax, {"lr=100": coarse.histories[-1], "best": coarse.histories[coarse.best_index]})
    assert lines["lr=100"].get_label() == f"lr=100 (diverged at step {coarse.diverged_at[-1]})"
    assert np.isfinite(lines["lr=100"].get_ydata()).all()


def test_str_is_table_and_status_checks_index(coarse):
    assert str(coarse) == coarse.table()
    assert len(coarse.table().splitlines()) == len(coarse.values) + 1
    with pytest.raises(ValueError, match="i must be <= 5"):
        coarse.status(6)


# ------------------------------------------------------------- random vs grid search helpers

def test_sample_log_uniform_is_uniform_in_log():
    from dlcore.search import sample_log_uniform
    x = sample_log_uniform(1e-4, 1.0, 40000, rng=3)
    assert x.shape == (40000,) and x.min() >= 1e-4 and x.max() <= 1.0
    per_decade = np.histogram(np.log10(x), bins=[-4, -3, -2, -1, 0])[0] / len(x)
    np.testing.assert_allclose(per_decade, 0.25, atol=0.01)          # each decade a quarter
    assert np.median(x) == pytest.approx(1e-2, rel=0.05)              # the geometric midpoint
    np.testing.assert_array_equal(sample_log_uniform(1e-4, 1.0, (5, 9), rng=7),
                                  sample_log_uniform(1e-4, 1.0, (5, 9), rng=np.random.default_rng(7)))
    assert sample_log_uniform(1e-4, 1.0, (5, 9), rng=7).shape == (5, 9)


def test_log_strata_centres_and_shifts():
    from dlcore.search import log_strata
    np.testing.assert_allclose(log_strata(10**-3.5, 10**-0.5, 3), [1e-3, 1e-2, 1e-1], rtol=1e-12)
    np.testing.assert_allclose(log_strata(1e-4, 1.0, 4, offset=0.0), [1e-4, 1e-3, 1e-2, 1e-1], rtol=1e-12)
    g = log_strata(1e-3, 1.0, 3, offset=0.9)
    np.testing.assert_allclose(np.diff(np.log10(g)), 1.0)              # the spacing is kept
    assert g[-1] < 1.0


def test_nearest_cell_reads_a_table():
    from dlcore.search import nearest_cell
    lr, lam = np.array([1e-3, 1e-2, 1e-1]), np.array([1e-4, 1e-2])
    table = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    pts = np.array([[2.9e-3, 1e-5], [3.3e-3, 1e-3 * 1.01], [1.0, 1.0], [1e-6, 1e-3 * 0.99]])
    i, j = nearest_cell([lr, lam], pts)
    assert i.tolist() == [0, 1, 2, 0] and j.tolist() == [0, 1, 1, 0]   # nearest in log10
    assert table[i, j].tolist() == [1.0, 4.0, 6.0, 1.0]
    i, j = nearest_cell([lr, lam], pts.reshape(2, 2, 2))               # any leading shape
    assert i.shape == (2, 2) and table[i, j].tolist() == [[1.0, 4.0], [6.0, 1.0]]
    (k,) = nearest_cell([np.array([0.5])], [[3.0], [0.1]])
    assert k.tolist() == [0, 0]


@pytest.mark.parametrize("call, error, match", [
    (lambda S: S.sample_log_uniform(0.0, 1.0, 3), ValueError, "low"),
    (lambda S: S.sample_log_uniform(1.0, 0.1, 3), ValueError, "low < high"),
    (lambda S: S.sample_log_uniform(1e-3, 1.0, 0), ValueError, "size"),
    (lambda S: S.sample_log_uniform(1e-3, 1.0, 2.5), TypeError, "size"),
    (lambda S: S.sample_log_uniform(1e-3, 1.0, 3, rng="seed"), TypeError, "rng"),
    (lambda S: S.log_strata(1e-3, 1.0, 0), ValueError, "n"),
    (lambda S: S.log_strata(1e-3, 1.0, 3, offset=1.0), ValueError, "offset"),
    (lambda S: S.nearest_cell(np.array([1.0, 2.0]), [[1.0]]), TypeError, "axes"),
    (lambda S: S.nearest_cell([np.array([2.0, 1.0])], [[1.0]]), ValueError, "increasing"),
    (lambda S: S.nearest_cell([np.array([0.0, 1.0])], [[1.0]]), ValueError, "positive"),
    (lambda S: S.nearest_cell([np.array([1.0, 2.0])], [[1.0, 2.0]]), ValueError, r"\(\.\.\., 1\)"),
    (lambda S: S.nearest_cell([np.array([1.0, 2.0])], [[-1.0]]), ValueError, "positive"),
])
def test_search_helpers_reject_bad_input(call, error, match):
    from dlcore import search as S
    with pytest.raises(error, match=match):
        call(S)
