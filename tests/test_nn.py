"""dlcore.nn.BatchNorm1d against torch.nn.BatchNorm1d: outputs, gradients, running statistics.

Micrograd / CS231n style: the same numbers go through both modules and every result is compared
(float64 to 1e-6 relative, float32 to 1e-4); gradcheck checks the hand-written backward against
finite differences, and the lecture's step-by-step backward against the compact one.
"""
import copy

import pytest
import torch
from torch import nn

from dlcore.nn import (BatchNorm1d, BatchNormFunction, batchnorm_backward,
                       batchnorm_backward_lecture)

F64, F32 = torch.float64, torch.float32
TOL = {F64: 1e-6, F32: 1e-4}


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def batch(shape=(32, 6), seed=0, dtype=F64, scale=3.0, shift=1.5):
    """Features far from N(0, 1), so that normalising them is not a no-op."""
    g = gen(seed)
    return (torch.randn(shape, generator=g, dtype=dtype) * scale + shift).requires_grad_()


def pair(c=6, dtype=F64, seed=1, **kw):
    """Our module and torch's, with the same random gamma and beta (not 1 and 0)."""
    ours, theirs = BatchNorm1d(c, dtype=dtype, **kw), nn.BatchNorm1d(c, dtype=dtype, **kw)
    if ours.affine:
        g = gen(seed)
        with torch.no_grad():
            for p, q in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
                p.copy_(torch.randn(c, generator=g, dtype=dtype))
                q.copy_(p)
    return ours, theirs


def run_both(ours, theirs, x, grad_seed=7):
    """y and the gradients (x, gamma, beta) of <y, G> for a fixed random G, through each module."""
    out = []
    for module in (ours, theirs):
        xi = x.detach().clone().requires_grad_(x.requires_grad)
        y = module(xi)
        g = torch.randn(y.shape, generator=gen(grad_seed), dtype=F64).to(y.dtype)
        params = [p for p in (module.weight, module.bias) if p is not None]
        inputs = ([xi] if xi.requires_grad else []) + params
        grads = torch.autograd.grad(y, inputs, g) if inputs else ()
        out.append((y, grads))
    return out


def assert_same(ours, theirs, x, tol):
    (y, grads), (ty, tgrads) = run_both(ours, theirs, x)
    assert rel_err(y, ty) < tol
    assert len(grads) == len(tgrads)
    for name, a, b in zip(("x", "gamma", "beta"), grads, tgrads):
        assert rel_err(a, b) < tol, name


def assert_same_buffers(ours, theirs, tol=1e-12):
    for name in ("running_mean", "running_var"):
        assert rel_err(getattr(ours, name), getattr(theirs, name)) <= tol, name
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item()


# ------------------------------------------------------------------ the same numbers as torch


@pytest.mark.parametrize("dtype, shape", [
    (F64, (32, 6)), (F64, (2, 5)), (F64, (60, 100)), (F32, (32, 6)), (F32, (60, 100)),
])  # not float32 with m = 2: there x_hat = +-1 and dC/dx is rounding noise in both modules
def test_train_forward_and_gradients(dtype, shape):
    ours, theirs = pair(shape[1], dtype)
    assert_same(ours, theirs, batch(shape, dtype=dtype), TOL[dtype])
    assert_same_buffers(ours, theirs, TOL[dtype])


def test_output_is_normalised():
    ours = BatchNorm1d(6, dtype=F64)
    y = ours(batch())
    assert torch.allclose(y.mean(0), torch.zeros(6, dtype=F64), atol=1e-12)
    assert torch.allclose(y.var(0, unbiased=False), torch.ones(6, dtype=F64), atol=1e-4)  # eps


def test_float32_far_from_zero_mean():
    """Two-pass statistics: E[x^2] - mu^2 would lose most digits of sigma^2 here (mu = 1000)."""
    ours, theirs = pair(5, F32)
    reference = copy.deepcopy(theirs).double()  # float64 arithmetic on the same float32 data
    x = batch((64, 5), dtype=F32, scale=1.0, shift=1e3)
    (y, grads), _ = run_both(ours, theirs, x)
    (ry, rgrads), _ = run_both(reference, copy.deepcopy(reference), x.double())
    assert rel_err(y.double(), ry) < 1e-4
    for a, r in zip(grads, rgrads):
        assert rel_err(a.double(), r) < 1e-3
    xd = x.detach()
    naive = (xd - xd.mean(0)) / torch.sqrt((xd * xd).mean(0) - xd.mean(0) ** 2 + 1e-5)
    assert rel_err(naive.double(), (ry - reference.bias) / reference.weight) > 1e-2


@pytest.mark.parametrize("dtype", [F64, F32])
def test_running_statistics_after_several_batches(dtype):
    ours, theirs = pair(6, dtype)
    for seed in range(5):
        assert_same(ours, theirs, batch(seed=seed, dtype=dtype, shift=seed), TOL[dtype])
    assert ours.num_batches_tracked.item() == 5
    assert_same_buffers(ours, theirs, TOL[dtype])
    # and the running variance is the UNBIASED one: with momentum 1 it is the last batch's
    ours = BatchNorm1d(6, momentum=1.0, dtype=dtype)
    x = batch(dtype=dtype)
    ours(x)
    assert rel_err(ours.running_var, x.detach().var(0, unbiased=True)) < TOL[dtype]
    assert rel_err(ours.running_mean, x.detach().mean(0)) < TOL[dtype]


@pytest.mark.parametrize("dtype", [F64, F32])
def test_eval_uses_running_statistics(dtype):
    ours, theirs = pair(6, dtype)
    for seed in range(3):
        run_both(ours, theirs, batch(seed=seed, dtype=dtype))
    ours.eval(), theirs.eval()
    x = batch(seed=10, dtype=dtype)
    assert_same(ours, theirs, x, TOL[dtype])
    assert_same(ours, theirs, x[:1], TOL[dtype])  # a batch of one is fine in eval mode
    before = ours.running_mean.clone(), ours.num_batches_tracked.item()
    ours(x)
    assert torch.equal(ours.running_mean, before[0])
    assert ours.num_batches_tracked.item() == before[1]
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < TOL[dtype]


def test_momentum_none_is_cumulative_average():
    ours, theirs = pair(6, momentum=None)
    xs = [batch(seed=s, shift=s) for s in range(4)]
    for x in xs:
        assert_same(ours, theirs, x, 1e-6)
    assert_same_buffers(ours, theirs)
    mean_of_means = torch.stack([x.detach().mean(0) for x in xs]).mean(0)
    assert rel_err(ours.running_mean, mean_of_means) < 1e-12


@pytest.mark.parametrize("momentum", [0.0, 0.5, 1.0])
def test_momentum_values(momentum):
    ours, theirs = pair(6, momentum=momentum)
    for seed in range(3):
        run_both(ours, theirs, batch(seed=seed))
    assert_same_buffers(ours, theirs)


def test_affine_false():
    ours, theirs = pair(6, affine=False)
    assert ours.weight is None and ours.bias is None
    assert list(ours.parameters()) == []
    assert_same(ours, theirs, batch(), 1e-6)
    ours.eval(), theirs.eval()
    assert_same(ours, theirs, batch(seed=3), 1e-6)


def test_affine_false_then_inplace_relu():
    """y must not be the saved x_hat, or an in-place op on y would corrupt the backward pass."""
    ours, theirs = pair(6, affine=False)
    for module in (ours, theirs):
        module.net = nn.Sequential(module, nn.ReLU(inplace=True))
    x = batch()
    xa, xb = x.detach().clone().requires_grad_(), x.detach().clone().requires_grad_()
    ours.net(xa).sum().backward()
    theirs.net(xb).sum().backward()
    assert rel_err(xa.grad, xb.grad) < 1e-6


def test_track_running_stats_false_uses_batch_statistics_in_eval():
    ours, theirs = pair(6, track_running_stats=False)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert getattr(ours, name) is None
    assert_same(ours, theirs, batch(), 1e-6)
    ours.eval(), theirs.eval()
    x = batch(seed=4)
    assert_same(ours, theirs, x, 1e-6)
    assert torch.allclose(ours(x).mean(0), ours.bias, atol=1e-10)  # normalised by its own stats
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ours(x[:1])  # batch statistics of one sample, as torch


def test_track_running_stats_switched_off_after_construction():
    """As torch: training then leaves the buffers alone; eval still uses them."""
    ours, theirs = pair(6)
    run_both(ours, theirs, batch())
    ours.track_running_stats = theirs.track_running_stats = False
    before = ours.running_mean.clone(), ours.running_var.clone()
    assert_same(ours, theirs, batch(seed=2, shift=5.0), 1e-6)
    assert torch.equal(ours.running_mean, before[0]) and torch.equal(ours.running_var, before[1])
    assert_same_buffers(ours, theirs)
    ours.eval(), theirs.eval()
    assert_same(ours, theirs, batch(seed=3), 1e-6)


def test_three_dimensional_input():
    """(N, C, L): each channel is normalised over the N samples and the L positions."""
    ours, theirs = pair(4)
    x = batch((8, 4, 5))
    assert_same(ours, theirs, x, 1e-6)
    assert_same_buffers(ours, theirs)
    y, _ = ours(x), theirs(x)
    assert y.shape == x.shape and y.is_contiguous()
    assert_same_buffers(ours, theirs)
    ours.eval(), theirs.eval()
    assert_same(ours, theirs, batch((3, 4, 7), seed=2), 1e-6)


def test_input_without_grad():
    """Batch norm of raw inputs: gamma and beta still get the right gradients."""
    ours, theirs = pair(6)
    assert_same(ours, theirs, batch().detach(), 1e-6)


# ------------------------------------------------------------------ the hand-written backward


def test_gradcheck_function():
    x = batch((10, 4))
    w = torch.randn(4, generator=gen(2), dtype=F64, requires_grad=True)
    b = torch.randn(4, generator=gen(3), dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: BatchNormFunction.apply(x, w, b, 1e-5, None, None, 0.1), (x, w, b))
    assert torch.autograd.gradcheck(
        lambda x: BatchNormFunction.apply(x, None, None, 1e-5, None, None, 0.1), (x,))


def test_gradcheck_module():
    ours = BatchNorm1d(4, dtype=F64)
    with torch.no_grad():
        ours.weight.normal_(generator=gen(4))
        ours.bias.normal_(generator=gen(5))
    assert torch.autograd.gradcheck(ours, (batch((7, 4)),))


def test_function_updates_running_statistics_in_place():
    x = batch((16, 3)).detach()
    rm, rv = torch.zeros(3, dtype=F64), torch.ones(3, dtype=F64)
    BatchNormFunction.apply(x, None, None, 1e-5, rm, rv, 0.25)
    assert rel_err(rm, 0.25 * x.mean(0)) < 1e-12
    assert rel_err(rv, 0.75 + 0.25 * x.var(0, unbiased=True)) < 1e-12


def autograd_reference(x, gamma, beta, grad_out, eps=1e-5):
    """The gradients autograd finds for the forward pass written as plain tensor code."""
    x, gamma, beta = (t.detach().clone().requires_grad_() for t in (x, gamma, beta))
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    y = gamma * (x - mu) / torch.sqrt(var + eps) + beta
    return torch.autograd.grad(y, (x, gamma, beta), grad_out)


@pytest.mark.parametrize("dtype", [F64, F32])
def test_lecture_and_compact_backward_agree(dtype):
    x = batch((20, 5), dtype=dtype).detach()
    gamma = torch.randn(5, generator=gen(2), dtype=dtype)
    beta = torch.randn(5, generator=gen(3), dtype=dtype)
    dy = torch.randn(20, 5, generator=gen(4), dtype=dtype)
    eps = 1e-5
    lecture = batchnorm_backward_lecture(dy, x, gamma, eps)
    mu, var = x.mean(0), x.var(0, unbiased=False)
    inv_std = 1.0 / torch.sqrt(var + eps)
    compact = batchnorm_backward(dy, (x - mu) * inv_std, inv_std, gamma)
    reference = autograd_reference(x, gamma, beta, dy, eps)
    for name, a, b, r in zip(("dx", "dgamma", "dbeta"), lecture, compact, reference):
        assert a.shape == b.shape == r.shape, name
        assert rel_err(a, b) < TOL[dtype], name
        assert rel_err(a, r) < TOL[dtype], name
    # the compact form with gamma folded into inv_std (what BatchNormFunction saves)
    folded = batchnorm_backward(dy, (x - mu) * inv_std, gamma * inv_std)
    for a, b in zip(folded, compact):
        assert rel_err(a, b) < TOL[dtype]


def test_lecture_backward_without_gamma():
    x = batch((9, 3)).detach()
    dy = torch.randn(9, 3, generator=gen(4), dtype=F64)
    dx, dgamma, dbeta = batchnorm_backward_lecture(dy, x)
    ref = autograd_reference(x, torch.ones(3, dtype=F64), torch.zeros(3, dtype=F64), dy)
    assert rel_err(dx, ref[0]) < 1e-6 and rel_err(dgamma, ref[1]) < 1e-6
    assert rel_err(dbeta, ref[2]) < 1e-12


def test_dx_sums_to_zero():
    """y is unchanged by shifting x, so dC/dx has no component along the all-ones direction."""
    ours = BatchNorm1d(4, dtype=F64)
    x = batch((12, 4))
    ours(x).pow(3).sum().backward()
    assert x.grad.sum(0).abs().max() < 1e-10 * x.grad.abs().max()


def test_no_double_backward():
    ours = BatchNorm1d(4, dtype=F64)
    x = batch((8, 4))
    (gx,) = torch.autograd.grad(ours(x).pow(2).sum(), x, create_graph=False)
    assert gx.shape == x.shape
    with pytest.raises(RuntimeError, match="not differentiable"):
        torch.autograd.grad(ours(x).pow(2).sum(), x, create_graph=True)


# ------------------------------------------------------------------ errors


def test_batch_of_one_in_training():
    ours = BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training.*\(1, 4\)"):
        ours(torch.randn(1, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ours(torch.randn(1, 4, 1))
    assert ours.num_batches_tracked.item() == 0  # nothing was counted
    ours(torch.randn(1, 4, 2))  # two values per channel: fine


@pytest.mark.parametrize("kwargs, name", [
    ({"num_features": 0}, "num_features"),
    ({"num_features": -3}, "num_features"),
    ({"eps": 0.0}, "eps"),
    ({"eps": -1e-5}, "eps"),
    ({"momentum": -0.1}, "momentum"),
    ({"momentum": 1.5}, "momentum"),
    ({"eps": float("nan")}, "eps"),
])
def test_bad_arguments(kwargs, name):
    kw = {"num_features": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        BatchNorm1d(**kw)


@pytest.mark.parametrize("kwargs, name", [
    ({"num_features": 4.0}, "num_features"),
    ({"momentum": "0.1"}, "momentum"),
    ({"affine": 1}, "affine"),
    ({"track_running_stats": None}, "track_running_stats"),
])
def test_bad_argument_types(kwargs, name):
    with pytest.raises(TypeError, match=name):
        BatchNorm1d(**{"num_features": 4, **kwargs})


@pytest.mark.parametrize("shape", [(8, 5), (8,), (8, 3, 2, 2), (8, 5, 3)])
def test_wrong_input_shape(shape):
    ours = BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"\(N, C\) or \(N, C, L\) with C = num_features = 4"):
        ours(torch.randn(shape))
    ours.eval()
    with pytest.raises(ValueError, match=str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")):
        ours(torch.randn(shape))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        BatchNorm1d(4)([[1.0, 2.0, 3.0, 4.0]] * 2)


# ------------------------------------------------------------------ a drop-in for torch's


def test_same_names_and_defaults():
    ours, theirs = BatchNorm1d(5), nn.BatchNorm1d(5)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for name in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
        assert getattr(ours, name) == getattr(theirs, name), name
    reference = theirs.state_dict()
    for name, t in ours.state_dict().items():
        assert torch.equal(t, reference[name]) and t.dtype == reference[name].dtype, name
    assert isinstance(ours.weight, nn.Parameter) and isinstance(ours.bias, nn.Parameter)
    assert ours.extra_repr().startswith("5, eps=1e-05, momentum=0.1, affine=True")


def test_dtype_and_reset():
    ours = BatchNorm1d(3, dtype=F64)
    assert ours.weight.dtype == ours.running_var.dtype == F64
    assert ours.num_batches_tracked.dtype == torch.long
    ours(batch((5, 3)))
    with torch.no_grad():
        ours.weight.mul_(3)
    ours.reset_parameters()
    fresh = BatchNorm1d(3, dtype=F64)
    for name, t in fresh.state_dict().items():
        assert torch.equal(ours.state_dict()[name], t), name


@pytest.mark.parametrize("direction", ["torch->dlcore", "dlcore->torch"])
def test_state_dict_round_trip(direction):
    ours, theirs = pair(6)
    src, dst = (theirs, ours) if direction == "torch->dlcore" else (ours, theirs)
    for seed in range(3):
        src(batch(seed=seed, shift=seed))
    dst.load_state_dict(src.state_dict())  # strict: the same keys, shapes and dtypes
    assert_same_buffers(ours, theirs, 0.0)
    assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    ours.eval(), theirs.eval()
    assert_same(ours, theirs, batch(seed=9), 1e-6)
    ours.train(), theirs.train()
    assert_same(ours, theirs, batch(seed=10), 1e-6)
    assert_same_buffers(ours, theirs, 1e-12)
    # and into an nn.Sequential, under a prefix
    a = nn.Sequential(nn.Linear(3, 6), copy.deepcopy(ours))
    b = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6, dtype=F64))
    b.load_state_dict(a.state_dict())
    a.load_state_dict(b.state_dict())


def toy_problem(n=256, seed=0):
    """Two classes in 10-D, scaled by 100 and shifted by 50: far from what a Linear expects."""
    g = gen(seed)
    x = torch.randn(n, 10, generator=g, dtype=F64)
    y = (x[:, 0] - 2.0 * x[:, 1] + x[:, 2] > 0).long()
    return x * 100.0 + 50.0, y


def make_net(norm, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 32), norm(32), nn.ReLU(), nn.Linear(32, 2)).double()


def train(net, x, y, steps=60, batch_size=32, lr=0.1):
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        i = (step * batch_size) % len(x)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x[i:i + batch_size]), y[i:i + batch_size])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_trains_inside_sequential_like_torch():
    x, y = toy_problem()
    ours, theirs = make_net(BatchNorm1d), make_net(nn.BatchNorm1d)
    theirs.load_state_dict(ours.state_dict())
    losses, tlosses = train(ours, x, y), train(theirs, x, y)
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10  # it learns
    assert max(abs(a - b) for a, b in zip(losses, tlosses)) < 1e-6  # exactly as torch's does
    for (name, p), q in zip(ours.state_dict().items(), theirs.state_dict().values()):
        if p.is_floating_point():
            assert rel_err(p, q) < 1e-6, name
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-6
        assert (ours(x).argmax(1) == y).double().mean() > 0.8


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_torch():
    cuda = torch.device("cuda")
    ours, theirs = pair(16, F32)
    ours.to(cuda), theirs.to(cuda)
    x = batch((64, 16), dtype=F32).detach().to(cuda).requires_grad_()
    assert_same(ours, theirs, x, 1e-4)
    assert_same_buffers(ours, theirs, 1e-5)
    ours.eval(), theirs.eval()
    assert_same(ours, theirs, x, 1e-4)
