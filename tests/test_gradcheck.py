"""dlcore.gradcheck: the central-difference gradient check passes a right hand-written backward pass
(and a model, by autograd) in float64, fails a wrong one with a message that names the bug (a missing
derivative, a constant factor, a wrong custom autograd.Function), is far worse in float32, skips
coordinates below the rounding noise; bad arguments get errors naming them."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

import dlcore
from dlcore import babysit
from dlcore import gradcheck as G
from dlcore.data import load_mnist


@pytest.fixture(scope="module")
def mnist():
    torch.set_num_threads(1)
    return load_mnist(2000, 500, 0)


def mlp(init="xavier_normal", seed=0, **kwargs):
    return dlcore.MLP([784, 64, 64, 10], "tanh", init=init, init_kwargs=kwargs or None,
                      generator=torch.Generator().manual_seed(seed))


def same_params(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# --- a two-layer net with a hand-written backward pass (the lectures' exercise) -------------

def two_layer_loss(W1, b1, W2, b2, X, y):
    return F.cross_entropy(torch.tanh(X @ W1 + b1) @ W2 + b2, y)


def two_layer_backward(W1, b1, W2, b2, X, y, bug=None):
    N = X.shape[0]
    h = torch.tanh(X @ W1 + b1)                     # (N, H)
    d = torch.softmax(h @ W2 + b2, 1)               # (N, C): dC/dscores = (p - onehot) / N
    d[torch.arange(N), y] -= 1
    d = d if bug == "no_mean" else d / N
    dW2, db2 = h.T @ d, d.sum(0)
    dh = d @ W2.T
    dz = dh if bug == "no_tanh_derivative" else dh * (1 - h ** 2)
    return X.T @ dz, dz.sum(0), dW2, db2


@pytest.fixture(scope="module")
def two_layer(mnist):
    g = torch.Generator().manual_seed(0)
    X, y = mnist.train
    params = (torch.randn(784, 20, generator=g) / 28, torch.zeros(20),
              torch.randn(20, 10, generator=g) / 20 ** 0.5, torch.zeros(10))
    return params, (X[:8], y[:8])


# --- relative error ---------------------------------------------------------------------------

def test_relative_error():
    a = torch.tensor([1.0, 2.0, 0.0, 0.0, -1.0])
    n = torch.tensor([1.0, 1.0, 0.0, 3.0, 1.0])
    assert torch.allclose(G.relative_error(a, n), torch.tensor([0.0, 0.5, 0.0, 1.0, 2.0]))
    assert G.relative_error(torch.tensor([1e-17]), torch.tensor([0.0])).item() < 1e-6   # both ~0
    with pytest.raises(ValueError, match="same shape"):
        G.relative_error(a, n[:2])
    with pytest.raises(ValueError, match="floor"):
        G.relative_error(a, n, floor=0.0)


# --- gradient check ---------------------------------------------------------------------------

def test_gradient_check_right_backward_passes(two_layer):
    params, (X, y) = two_layer
    r = G.gradient_check(two_layer_loss, params, args=(X, y), analytic=two_layer_backward,
                         names=("W1", "b1", "W2", "b2"))
    assert r.passed and r.value < 1e-6 and r.details["median"] < 1e-7
    assert "PASS" in repr(r) and set(r.details["per_tensor"]) == {"W1", "b1", "W2", "b2"}
    assert len(r.details["coords"]) == 40          # 10 per tensor


def test_gradient_check_catches_a_missing_derivative(two_layer):
    params, (X, y) = two_layer
    r = G.gradient_check(two_layer_loss, params, args=(X, y),
                         analytic=lambda *a: two_layer_backward(*a, bug="no_tanh_derivative"),
                         names=("W1", "b1", "W2", "b2"))
    assert not r.passed and r.value > 1e-2
    assert "wrong" in r.message and "Wrong in W1, b1; right in W2, b2" in r.message
    assert r.details["per_tensor"]["W2"] < 1e-6 < 1e-2 < r.details["per_tensor"]["W1"]
    assert "FAIL" in repr(r)


def test_gradient_check_names_a_constant_factor(two_layer):
    params, (X, y) = two_layer
    r = G.gradient_check(two_layer_loss, params, args=(X, y),
                         analytic=lambda *a: two_layer_backward(*a, bug="no_mean"))
    assert not r.passed and "8 times the numerical one" in r.message and "1/N" in r.message


def test_gradient_check_float32_is_much_worse(two_layer):
    params, (X, y) = two_layer
    r64 = G.gradient_check(two_layer_loss, params, args=(X, y))
    r32 = G.gradient_check(two_layer_loss, params, args=(X, y), dtype=torch.float32)
    assert r64.passed and not r32.passed
    assert r32.details["median"] > 1e4 * r64.details["median"]
    assert "float32" in r32.message and "float64" in r32.message


def test_gradient_check_numeric_matches_a_hand_central_difference(two_layer):
    params, (X, y) = two_layer
    r = G.gradient_check(two_layer_loss, params, args=(X, y), n_samples=3, names=("W1", "b1", "W2", "b2"))
    coord = r.details["coords"][-1]                 # 'b2[k]'
    k = int(coord[3:-1])
    p = [t.double().clone() for t in params]
    up, down = [t.clone() for t in p], [t.clone() for t in p]
    up[3][k] += 1e-5
    down[3][k] -= 1e-5
    num = (two_layer_loss(*up, X.double(), y) - two_layer_loss(*down, X.double(), y)) / 2e-5
    assert math.isclose(r.details["numeric"][-1], num.item(), rel_tol=1e-12)


def test_gradient_check_leaves_inputs_alone_and_is_deterministic(two_layer):
    params, (X, y) = two_layer
    saved = [t.clone() for t in params]
    a = G.gradient_check(two_layer_loss, params, args=(X, y), seed=3)
    b = G.gradient_check(two_layer_loss, params, args=(X, y), seed=3)
    c = G.gradient_check(two_layer_loss, params, args=(X, y), seed=4)
    assert all(torch.equal(s, t) for s, t in zip(saved, params))
    assert a.details["coords"] == b.details["coords"] and a.value == b.value
    assert a.details["coords"] != c.details["coords"]


def test_gradient_check_on_a_model(mnist):
    X, y = mnist.train
    net = mlp()
    before = copy.deepcopy(net)
    r = G.gradient_check(net, (X[:8], y[:8]))
    assert r.passed and r.details["median"] < 1e-7
    assert same_params(net, before) and next(net.parameters()).dtype == torch.float32
    assert {c.split("[")[0] for c in r.details["coords"]} == {n for n, _ in net.named_parameters()}


def test_gradient_check_checks_a_hand_written_backward_inside_a_model(mnist):
    # dlcore's BatchNorm1d has its own backward (no autograd): in training mode it is checked too
    X, y = mnist.train
    net = dlcore.MLP([784, 32, 10], "tanh", batchnorm=True, init="xavier_normal",
                     generator=torch.Generator().manual_seed(0))
    assert G.gradient_check(net, (X[:16], y[:16]), train_mode=True).passed


class _WrongSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x            # the bug: d(x^2)/dx is 2x


def test_gradient_check_catches_a_custom_autograd_function():
    x = torch.tensor([-1.0, -0.6, -0.3, 0.2, 0.5, 0.9])
    assert G.gradient_check(lambda t: (t ** 2).sum(), x).passed
    r = G.gradient_check(lambda t: _WrongSquare.apply(t).sum(), x)
    assert not r.passed and "0.5 times" in r.message


def test_gradient_check_bad_arguments(two_layer, mnist):
    params, (X, y) = two_layer
    with pytest.raises(ValueError, match="eps"):
        G.gradient_check(two_layer_loss, params, args=(X, y), eps=0.0)
    with pytest.raises(TypeError, match="n_samples"):
        G.gradient_check(two_layer_loss, params, args=(X, y), n_samples=2.5)
    with pytest.raises(ValueError, match="dtype must be a floating torch dtype.*torch.float64"):
        G.gradient_check(two_layer_loss, params, args=(X, y), dtype=torch.int64)
    with pytest.raises(TypeError, match="f must be a function"):
        G.gradient_check("loss", params)
    with pytest.raises(TypeError, match="analytic must be a function"):
        G.gradient_check(two_layer_loss, params, args=(X, y), analytic=3)
    with pytest.raises(ValueError, match="one gradient per input"):
        G.gradient_check(two_layer_loss, params, args=(X, y), analytic=lambda *a: a[:2])
    with pytest.raises(ValueError, match=r"analytic\(...\)\[1\] has shape"):
        G.gradient_check(two_layer_loss, params, args=(X, y),
                         analytic=lambda W1, b1, W2, b2, X, y: (W1, W2, W2, b2))
    with pytest.raises(ValueError, match="scalar"):
        G.gradient_check(lambda t: t * 2, torch.ones(3))
    with pytest.raises(ValueError, match="names must be 4 strings"):
        G.gradient_check(two_layer_loss, params, args=(X, y), names=("W1",))
    with pytest.raises(TypeError, match="inputs must be a tensor or a tuple"):
        G.gradient_check(two_layer_loss, 3.0)
    with pytest.raises(ValueError, match="analytic, args and names are for a function"):
        G.gradient_check(mlp(), mnist.train, analytic=two_layer_backward)
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid choices"):
        G.gradient_check(mlp(), mnist.train, loss="hinge")


def test_gradient_check_skips_gradients_below_the_rounding_noise(mnist):
    # under batch norm, the weight of a pixel that is blank across the batch has a true gradient of 0,
    # computed as ~1e-17 against a central difference of 0 or ~1e-11: not checkable, not an error
    X, y = mnist.train
    net = dlcore.MLP([784, 16, 10], "tanh", batchnorm=True, init="xavier_normal",
                     generator=torch.Generator().manual_seed(4))
    r = G.gradient_check(net, (X[:16], y[:16]), train_mode=True, n_samples=300)
    assert r.passed and not r.details["checked"].all() and "too small to check" in r.message


def test_gradient_check_is_inconclusive_on_vanishing_gradients(mnist):
    X, y = mnist.train
    r = G.gradient_check(mlp("normal", std=10.0), (X[:8], y[:8]))     # N(0, 10^2): saturated tanh
    assert not r.passed and "inconclusive" in r.message and "saturated" in r.message


def test_babysit_re_exports_the_gradient_check():
    assert babysit.gradient_check is G.gradient_check and babysit.relative_error is G.relative_error
    from dlcore.babysit import CheckResult, gradient_check  # noqa: F401  the old import path
    assert isinstance(gradient_check(lambda t: (t ** 2).sum(), torch.ones(3)), CheckResult)
