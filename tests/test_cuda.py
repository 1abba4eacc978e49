"""The same code on a CUDA GPU; every test here is skipped where torch sees none."""
import math

import pytest
import torch
import torch.nn.functional as F

import dlcore
from dlcore import init as D
from dlcore.data import load_mnist, moons
from dlcore.train import evaluate, fit

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

CUDA = torch.device("cuda")


def cuda_gen(seed=0):
    return torch.Generator(device="cuda").manual_seed(seed)


def test_device_picks_cuda():
    assert dlcore.device().type == "cuda"


def test_device_env_cuda(monkeypatch):
    monkeypatch.setenv("DLCORE_DEVICE", "cuda:0")
    assert dlcore.device() == torch.device("cuda:0")


@pytest.mark.parametrize("name, kwargs", [
    ("normal_", {"std": 0.1}), ("uniform_", {"a": -1.0, "b": 1.0}), ("lecun_normal_", {}),
    ("xavier_uniform_", {}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {"nonlinearity": "relu"}), ("kaiming_normal_", {"mode": "fan_out"}),
])
def test_init_on_cuda_with_cuda_generator(name, kwargs):
    a = getattr(D, name)(torch.empty(64, 32, device=CUDA), generator=cuda_gen(), **kwargs)
    b = getattr(D, name)(torch.empty(64, 32, device=CUDA), generator=cuda_gen(), **kwargs)
    assert a.is_cuda and torch.isfinite(a).all() and torch.equal(a, b)


@pytest.mark.parametrize("name", ["xavier_normal_", "kaiming_uniform_"])
def test_init_on_cuda_matches_torch(name):
    ours = getattr(D, name)(torch.empty(64, 32, device=CUDA), generator=cuda_gen(1))
    theirs = getattr(torch.nn.init, name)(torch.empty(64, 32, device=CUDA), generator=cuda_gen(1))
    assert torch.equal(ours, theirs)


def test_init_model_on_cuda():
    model = dlcore.MLP([8, 6, 2]).to(CUDA)
    D.init_model(model, "kaiming_normal", generator=cuda_gen())
    assert all(p.is_cuda and torch.isfinite(p).all() for p in model.parameters())


def test_load_mnist_on_cuda():
    splits = load_mnist(100, 10, 10, device="cuda")
    for X, y in splits:
        assert X.is_cuda and y.is_cuda
        assert X.dtype == torch.float32 and y.dtype == torch.int64


def test_mlp_recorder_on_cuda():
    model = dlcore.MLP([2, 16, 16, 2], "tanh").to(CUDA)
    X, y = moons(64, device=CUDA)
    with dlcore.Recorder(model) as rec:
        F.cross_entropy(model(X), y).backward()
    for r in rec.hidden:
        assert r.act.is_cuda and r.grad_pre.is_cuda
    for what in ("pre", "act", "grad_pre", "grad_act"):
        for row in rec.stats(what):
            assert math.isfinite(row["mean"]) and math.isfinite(row["std"])


def test_fit_on_cuda():
    model = dlcore.MLP([2, 16, 2], init="xavier_normal").to(CUDA)
    train, val = moons(400, device=CUDA), moons(200, seed=1, device=CUDA)
    hist = fit(model, train, steps=200, lr=0.5, val=val, eval_every=50, progress=False)
    assert not hist.diverged and all(math.isfinite(v) for v in hist.loss)
    assert hist.final_loss() < hist.loss[0]
    loss, acc = evaluate(model, val)
    assert math.isfinite(loss) and acc > 0.8


def test_load_mnist_stats_on_device():
    s = load_mnist(100, 10, 10, standardise="per_pixel", device="cuda")
    raw = load_mnist(100, 10, 10, standardise=False, device="cuda")
    torch.testing.assert_close((raw.val[0] - s.mean) / s.std, s.val[0])
