"""dlcore.ensemble: K MLPs as stacked tensors equal K separate nn.Modules, forward and training."""
import pytest
import torch

from dlcore.data import two_spirals
from dlcore.ensemble import Ensemble, accuracy, fit_ensemble
from dlcore.nets import MLP
from dlcore.train import fit

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
    losses = fit_ensemble(ens, (X, y), steps=steps, batch_size=32, optimizer=make(ens.parameters()),
                          seed=10, same_batches=same_batches)
    assert losses.shape == (steps, K)
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
