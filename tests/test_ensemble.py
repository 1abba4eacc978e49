"""dlcore.ensemble: K MLPs as stacked tensors equal K separate nn.Modules, forward and training."""
import pytest
import torch

from dlcore.data import two_spirals
from dlcore.ensemble import (Ensemble, EnsembleHistory, accuracy, batch_orders, bootstrap_rows,
                             fit_ensemble)
from dlcore.seeding import seed_for
from dlcore.nets import MLP
from dlcore.train import History, fit

F64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_members_seeded_and_independent():
    a = Ensemble([3, 8, 2], 4, seed=5)
    b = Ensemble([3, 8, 2], 4, seed=5)
    for wa, wb in zip(a.parameters(), b.parameters()):
        assert torch.equal(wa, wb)
    w = a.weights[0]
    assert not torch.equal(w[0], w[1])
    # member k is what torch.manual_seed(seed + k); MLP(...) makes
    torch.manual_seed(7)
    ref = MLP([3, 8, 2])
    for p, q in zip(a.member(2).parameters(), ref.parameters()):
        assert torch.equal(p, q)
    # a named init scheme with a generator per member
    c = Ensemble([3, 8, 2], 2, init="xavier_normal", seed=1)
    ref = MLP([3, 8, 2], init="xavier_normal", generator=gen(2))
    assert torch.equal(c.member(1).linears[0].weight, ref.linears[0].weight)


def test_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Ensemble([3, 8, 2], 3)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
def test_forward_equals_separate_modules(activation):
    ens = Ensemble([5, 16, 16, 3], 6, activation)
    x = torch.randn(20, 5, generator=gen())
    out = ens(x)
    assert out.shape == (6, 20, 3)
    xs = torch.randn(6, 20, 5, generator=gen(1))  # one batch per member
    outs = ens(xs)
    for k in range(6):
        m = ens.member(k)
        assert torch.allclose(out[k], m(x), atol=1e-6)
        assert torch.allclose(outs[k], m(xs[k]), atol=1e-6)


def test_from_members_round_trip():
    members = [MLP([4, 6, 2], "relu") for _ in range(3)]
    ens = Ensemble.from_members(members)
    assert ens.k == 3 and ens.activation == "relu"
    for k, m in enumerate(members):
        for p, q in zip(ens.member(k).parameters(), m.parameters()):
            assert torch.equal(p, q)
    assert ens.member(0) is not members[0]


@pytest.mark.parametrize("dtype, tol", [(F64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("same_batches", [False, True])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_training_together_equals_separately(dtype, tol, same_batches, opt):
    X, y = two_spirals(120, seed=0, dtype=dtype)
    K, steps = 4, 60
    ens = Ensemble([2, 16, 16, 2], K, seed=3, dtype=dtype)
    members = [ens.member(k) for k in range(K)]
    make = {"sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
            "adam": lambda ps: torch.optim.Adam(ps, lr=0.01)}[opt]
    hist = fit_ensemble(ens, (X, y), steps=steps, batch_size=32, optimizer=make(ens.parameters()),
                        seed=10, same_batches=same_batches)
    losses = hist.loss
    assert losses.shape == (steps, K) and hist.diverged_at == [None] * K
    for k, m in enumerate(members):
        hist = fit(m, (X, y), steps=steps, batch_size=32, optimizer=make(m.parameters()),
                   seed=10 if same_batches else 10 + k, progress=False)
        assert abs(hist.loss[-1] - losses[-1, k].item()) < 10 * tol
        for p, q in zip(ens.member(k).parameters(), m.parameters()):
            assert (p - q).abs().max().item() < tol


def test_mse_training_equals_separately():
    x = torch.linspace(-2, 2, 50, dtype=F64).unsqueeze(1)
    y = torch.sin(x)
    ens = Ensemble([1, 8, 1], 3, seed=0, dtype=F64)
    members = [ens.member(k) for k in range(3)]
    fit_ensemble(ens, (x, y), steps=30, batch_size=10, lr=0.05, loss="mse")
    for k, m in enumerate(members):
        fit(m, (x, y), steps=30, batch_size=10, lr=0.05, loss="mse", seed=k, progress=False)
        for p, q in zip(ens.member(k).parameters(), m.parameters()):
            assert (p - q).abs().max().item() < 1e-12


def test_ensemble_at_least_as_accurate_as_average_member():
    Xtr, ytr = two_spirals(400, seed=0)
    Xte, yte = two_spirals(400, seed=1)
    ens = Ensemble([2, 32, 32, 2], 8, "tanh", seed=0)
    fit_ensemble(ens, (Xtr, ytr), steps=800, batch_size=32, lr=0.3)
    ens_acc, member_acc = accuracy(ens, (Xte, yte))
    assert member_acc.shape == (8,)
    assert ens_acc >= member_acc.mean().item()
    assert ens_acc > 0.7
    p = ens.predict_proba(Xte)
    assert p.shape == (400, 2) and torch.allclose(p.sum(1), torch.ones(400))
    assert torch.allclose(p, ens.member_proba(Xte).mean(0))


def test_bad_arguments():
    with pytest.raises(ValueError, match="k"):
        Ensemble([2, 3], 0)
    with pytest.raises(ValueError, match="activation"):
        Ensemble([2, 3], 2, "swish")
    with pytest.raises(ValueError, match="sizes"):
        Ensemble([2], 2)
    with pytest.raises(TypeError, match="sizes"):
        Ensemble("2,3", 2)
    ens = Ensemble([2, 4, 3], 2)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        ens(torch.ones(5, 3))
    with pytest.raises(ValueError, match=r"\(2, n, 2\)"):
        ens(torch.ones(3, 5, 2))
    with pytest.raises(ValueError, match="k"):
        ens.member(2)
    X, y = torch.ones(10, 2), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="batch_size"):
        fit_ensemble(ens, (X, y), batch_size=11)
    with pytest.raises(ValueError, match="train"):
        fit_ensemble(ens, (torch.ones(10, 3), y))
    with pytest.raises(ValueError, match="loss"):
        fit_ensemble(ens, (X, y), batch_size=5, loss="hinge")
    with pytest.raises(TypeError, match="optimizer"):
        fit_ensemble(ens, (X, y), batch_size=5, optimizer="adam")
    with pytest.raises(TypeError, match="ens"):
        fit_ensemble(MLP([2, 3]), (X, y), batch_size=5)
    with pytest.raises(ValueError, match="members"):
        Ensemble.from_members([MLP([2, 3]), MLP([2, 4])])
    with pytest.raises(ValueError, match="batch norm"):
        Ensemble.from_members([MLP([2, 3, 3], batchnorm=True)])
    with pytest.raises(TypeError, match="members"):
        Ensemble.from_members([])


def _diverging_members(dtype=F64):
    """Three ReLU MLPs; member 1's weights x 4 make its SGD steps blow up at lr 0.1, the others not."""
    members = [MLP([2, 16, 1], "relu") for _ in range(3)]
    with torch.no_grad():
        for layer in members[1].linears:
            layer.weight.mul_(4.0)
    return [m.to(dtype) for m in members]


def test_diverged_member_stopped_like_fit():
    torch.manual_seed(0)
    members = _diverging_members()
    X, _ = two_spirals(64, seed=0, dtype=F64)
    y = X[:, :1] * 3.0                                  # a regression target
    ens = Ensemble.from_members(members)
    hist = fit_ensemble(ens, (X, y), steps=100, batch_size=16, lr=0.1, loss="mse")
    assert isinstance(hist, EnsembleHistory)
    assert hist.diverged == [False, True, False]
    d = hist.diverged_at[1]
    assert 1 <= d < 100 and hist.loss.shape == (100, 3)
    assert not torch.isfinite(hist.loss[d - 1, 1])      # the diverged step's own loss is kept
    assert torch.isnan(hist.loss[d:, 1]).all()          # nothing after it
    assert torch.isfinite(hist.loss[:, [0, 2]]).all()   # the others trained on, unharmed
    for k, m in enumerate(members):                     # each as its own dlcore.fit run
        ref = fit(m, (X, y), steps=100, batch_size=16, lr=0.1, loss="mse", seed=k, progress=False)
        assert ref.diverged_at == hist.diverged_at[k]
        for p, q in zip(ens.member(k).parameters(), m.parameters()):
            assert torch.allclose(p, q, atol=1e-12, equal_nan=True)
    # as a History: what plot.loss_curves labels "diverged at step k"
    h1 = hist.member(1)
    assert isinstance(h1, History) and h1.diverged_at == d and len(h1.loss) == d
    assert hist.member(0).diverged_at is None and len(hist.member(0).loss) == 100


def test_all_diverged_stops_early():
    torch.manual_seed(0)
    members = _diverging_members()
    members = [members[1], members[1]]
    X, _ = two_spirals(64, seed=0, dtype=F64)
    hist = fit_ensemble(Ensemble.from_members(members), (X, X[:, :1] * 3.0), steps=500,
                        batch_size=16, lr=0.1, loss="mse")
    assert all(hist.diverged) and hist.loss.shape[0] == max(hist.diverged_at) < 500


def test_batch_orders_are_fits_batches():
    idx = batch_orders(10, 4, 5, [3, 4])
    assert idx.shape == (5, 2, 4)
    gen = torch.Generator().manual_seed(3)
    first, second = torch.randperm(10, generator=gen), torch.randperm(10, generator=gen)
    assert torch.equal(idx[0, 0], first[:4]) and torch.equal(idx[1, 0], first[4:8])
    assert torch.equal(idx[2, 0], second[:4])            # the tail of 2 rows is skipped
    with pytest.raises(ValueError, match="batch_size"):
        batch_orders(10, 11, 5, [0])
    with pytest.raises(TypeError, match="seeds"):
        batch_orders(10, 2, 5, [])
    with pytest.raises(ValueError, match=r"seeds\[1\]"):
        batch_orders(10, 2, 5, [0, -1])


def test_dropout_per_member():
    ens = Ensemble([3, 200, 2], 3, "relu", dropout=[0.0, 0.5, 0.8], generator=gen(1))
    assert ens.dropout == [0.0, 0.5, 0.8] and "dropout" in repr(ens)
    x = torch.randn(500, 3, generator=gen())
    # the first layer's output is what dropout acts on: compare the hidden layer directly
    h = torch.relu(torch.baddbmm(ens.biases[0].unsqueeze(1), x.expand(3, -1, -1),
                                 ens.weights[0].transpose(1, 2)))
    dropped = ens._drop(h)
    live = h > 0
    kept = ((dropped != 0) & live).sum((1, 2)).float() / live.sum((1, 2))
    assert torch.allclose(kept, torch.tensor([1.0, 0.5, 0.2]), atol=0.01)
    for k, p in enumerate([0.0, 0.5, 0.8]):              # kept units scaled by 1/(1 - p)
        sel = dropped[k] != 0
        assert torch.allclose(dropped[k][sel], h[k][sel] / (1 - p))
    # training mode drops, eval mode does not; member 0 (p = 0) is never touched
    out_train = ens(x)
    ens.eval()
    out_eval = ens(x)
    assert torch.equal(out_train[0], out_eval[0]) and not torch.allclose(out_train[1], out_eval[1])
    for k in range(3):
        m = ens.member(k)
        assert m.dropout == ens.dropout[k]
        assert torch.allclose(m.eval()(x), out_eval[k], atol=1e-5)
    # probabilities and accuracy are eval-mode whatever the ensemble's mode
    ens.train()
    assert torch.allclose(ens.member_proba(x), out_eval.softmax(2)) and ens.training
    # round trip through from_members keeps the rates; the generator makes the masks repeat
    back = Ensemble.from_members([ens.member(k) for k in range(3)], generator=gen(5))
    assert back.dropout == ens.dropout
    a = back(x)
    back.generator = gen(5)
    assert torch.equal(a, back(x))


def test_dropout_training_keeps_p0_members_exact():
    # members without dropout train exactly as dlcore.fit trains them, whatever the others do
    X, y = two_spirals(120, seed=0, dtype=F64)
    ens = Ensemble([2, 16, 2], 2, seed=3, dtype=F64, dropout=[0.0, 0.5])
    ref = ens.member(0)
    hist = fit_ensemble(ens, (X, y), steps=50, batch_size=32, lr=0.1)
    fit(ref, (X, y), steps=50, batch_size=32, lr=0.1, seed=0, progress=False)
    for p, q in zip(ens.member(0).parameters(), ref.parameters()):
        assert (p - q).abs().max().item() < 1e-12
    assert torch.isfinite(hist.loss).all()


@pytest.mark.parametrize("dropout, err, match", [(1.0, ValueError, "dropout"),
                                                 ([0.1, 0.2], ValueError, "one per member"),
                                                 ([0.1, -0.1, 0.0], ValueError, r"dropout\[1\]"),
                                                 ("0.5", TypeError, "dropout")])
def test_bad_dropout(dropout, err, match):
    with pytest.raises(err, match=match):
        Ensemble([2, 4, 2], 3, dropout=dropout)


def test_bad_generator():
    with pytest.raises(TypeError, match="generator"):
        Ensemble([2, 4, 2], 3, generator=0)


def test_dropout_in_low_precision():
    ens = Ensemble([3, 400, 2], 2, "relu", dropout=[0.3, 0.7], generator=gen(2)).to(torch.bfloat16)
    h = torch.ones(2, 500, 400, dtype=torch.bfloat16)
    out = ens._drop(h)
    assert out.dtype == torch.bfloat16
    kept = (out != 0).float().mean((1, 2))                 # 200,000 units each: std ~0.001
    assert torch.allclose(kept, torch.tensor([0.7, 0.3]), atol=0.006)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_dropout_masks_from_a_cpu_generator_on_cuda():
    # a CPU generator (or one set before ens.to(device)) draws on the CPU: the same masks as on the CPU
    cpu = Ensemble([3, 64, 2], 3, "relu", dropout=[0.0, 0.5, 0.8], generator=gen(1))
    gpu = Ensemble([3, 64, 2], 3, "relu", dropout=[0.0, 0.5, 0.8], generator=gen(1)).to("cuda")
    x = torch.randn(50, 3, generator=gen())
    out = gpu(x.cuda())
    assert out.is_cuda
    torch.testing.assert_close(out.cpu(), cpu(x), rtol=1e-4, atol=1e-5)


def test_bootstrap_rows_resample_with_replacement():
    rows = bootstrap_rows(1000, 4, seed=7)
    assert rows.shape == (4, 1000) and rows.dtype == torch.long
    assert int(rows.min()) >= 0 and int(rows.max()) < 1000
    assert torch.equal(rows, bootstrap_rows(1000, 4, seed=7)) and not torch.equal(rows, bootstrap_rows(1000, 4, seed=8))
    distinct = torch.tensor([len(torch.unique(r)) for r in rows]) / 1000
    assert ((distinct - (1 - 1 / torch.e)).abs() < 0.04).all()      # about 63% distinct rows each
    assert not torch.equal(rows[0], rows[1])
    with pytest.raises(ValueError, match="n"):
        bootstrap_rows(0, 2)
    with pytest.raises(ValueError, match="k"):
        bootstrap_rows(10, 0)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_rows_training_equals_fit_on_each_members_rows(opt):
    # member k trained on rows[k] (lengths differ) is dlcore.fit on (X[rows[k]], y[rows[k]]), seed + k
    X, y = two_spirals(120, seed=0, dtype=F64)
    rows = [torch.arange(0, 120), torch.arange(30, 90), torch.tensor([5, 5, 6, 7, 8, 9, 9, 9, 100, 101, 50, 2])]
    make = {"sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
            "adam": lambda ps: torch.optim.Adam(ps, lr=0.01)}[opt]
    ens = Ensemble([2, 16, 2], 3, seed=3, dtype=F64)
    members = [ens.member(k) for k in range(3)]
    hist = fit_ensemble(ens, (X, y), steps=40, batch_size=8, optimizer=make(ens.parameters()), seed=4,
                        rows=[r.tolist() if k == 2 else r for k, r in enumerate(rows)])
    assert [torch.equal(a, b) for a, b in zip(hist.rows, rows)] == [True] * 3
    for k, (m, r) in enumerate(zip(members, rows)):
        fit(m, (X[r], y[r]), steps=40, batch_size=8, optimizer=make(m.parameters()), seed=4 + k, progress=False)
        for p, q in zip(ens.member(k).parameters(), m.parameters()):
            assert (p - q).abs().max().item() < 1e-12


def test_bootstrap_training_is_bagging():
    X, y = two_spirals(100, seed=1, dtype=F64)
    ens = Ensemble([2, 8, 2], 3, seed=0, dtype=F64)
    members = [ens.member(k) for k in range(3)]
    hist = fit_ensemble(ens, (X, y), steps=30, batch_size=10, lr=0.1, seed=2, bootstrap=True)
    assert torch.equal(torch.stack(hist.rows), bootstrap_rows(100, 3, seed_for(2, "bootstrap")))
    for k, (m, r) in enumerate(zip(members, hist.rows)):
        fit(m, (X[r], y[r]), steps=30, batch_size=10, lr=0.1, seed=2 + k, progress=False)
        for p, q in zip(ens.member(k).parameters(), m.parameters()):
            assert (p - q).abs().max().item() < 1e-12
    # without rows every member used all of train
    assert fit_ensemble(Ensemble([2, 8, 2], 2), (X.float(), y), steps=1, batch_size=10).rows is None


def test_rows_with_same_batches_use_the_same_positions():
    X, y = two_spirals(100, seed=1, dtype=F64)
    rows = torch.stack([torch.arange(50), torch.arange(50, 100)])
    ens = Ensemble([2, 8, 2], 2, seed=5, dtype=F64)
    members = [ens.member(k) for k in range(2)]
    fit_ensemble(ens, (X, y), steps=12, batch_size=10, lr=0.1, seed=6, rows=rows, same_batches=True)
    for k, (m, r) in enumerate(zip(members, rows)):
        fit(m, (X[r], y[r]), steps=12, batch_size=10, lr=0.1, seed=6, progress=False)
        for p, q in zip(ens.member(k).parameters(), m.parameters()):
            assert (p - q).abs().max().item() < 1e-12


@pytest.mark.parametrize("kw, err, match", [
    ({"rows": [torch.arange(10)]}, ValueError, r"one index set per member \(2\)"),
    ({"rows": [torch.arange(10), torch.rand(10)]}, ValueError, r"rows\[1\].*integer"),
    ({"rows": [torch.arange(10), torch.tensor([0, 200])]}, ValueError, r"rows\[1\] must index rows 0..99"),
    ({"rows": [torch.arange(10), torch.arange(4)]}, ValueError, r"batch_size.*rows\[1\]: 4"),
    ({"rows": torch.arange(10)}, ValueError, r"\(2, m\) tensor"),
    ({"rows": 3}, TypeError, "rows"),
    ({"rows": [torch.arange(10), torch.arange(10)], "bootstrap": True}, ValueError, "not both"),
    ({"bootstrap": 1}, TypeError, "bootstrap"),
])
def test_bad_rows(kw, err, match):
    X, y = two_spirals(100, seed=0)
    with pytest.raises(err, match=match):
        fit_ensemble(Ensemble([2, 4, 2], 2), (X, y), steps=2, batch_size=5, **kw)
