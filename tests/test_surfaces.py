"""dlcore.surfaces: analytic gradients and Hessians against autograd, minima, shapes, bad input."""
import math

import numpy as np
import pytest
import torch

from dlcore import surfaces as S

# every factory, with its defaults and with non-default arguments that change the formula
CASES = [(name, {}) for name in S.SURFACES] + [
    ("ravine", {"condition": 7.0, "angle": 30.0}),
    ("ravine", {"condition": 0.5, "angle": -100.0}),
    ("rosenbrock", {"a": -0.5, "b": 3.0}),
    ("plateau", {"width": 0.4}),
    ("steep_optima", {"narrow": 0.1, "wide": 0.3}),
    ("steep_optima", {"narrow": 0.2, "wide": 0.2}),  # the UvA tutorial's surface
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CASES]


def points(surface, n=64, seed=0, dtype=torch.float64):
    """n random points in the surface's window, off the axes (|x| has a kink at 0)."""
    gen = torch.Generator().manual_seed(seed)
    (x0, x1), (y0, y1) = surface.window
    u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    xy = torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], -1)
    return xy.to(dtype)


def autograd_derivatives(surface, xy):
    xy = xy.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(surface.f(xy).sum(), xy, create_graph=True)
    rows = [torch.autograd.grad(g[:, i].sum(), xy, retain_graph=True)[0] for i in range(2)]
    return g.detach(), torch.stack(rows, -2)


def close(a, b, tol=1e-10):
    """|a - b| <= tol relative to the larger of 1 and |b|'s largest entry (Beale reaches 1e5)."""
    return (a - b).abs().max().item() <= tol * max(1.0, b.abs().max().item())


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_gradient_and_hessian_match_autograd(name, kw):
    s = S.get(name, **kw)
    xy = points(s)
    g_auto, h_auto = autograd_derivatives(s, xy)
    assert close(s.grad(xy), g_auto)
    value, g = s.value_and_grad(xy)
    assert torch.equal(g, s.grad(xy)) and close(value, s.f(xy), 1e-14)
    assert s.hessian is not None and close(s.hessian(xy), h_auto)
    assert torch.allclose(s.hessian(xy), s.hessian(xy).mT)  # symmetric


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_stated_minimum_is_stationary_with_the_stated_value(name, kw):
    s = S.get(name, **kw)
    (x0, x1), (y0, y1) = s.window
    assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1
    if s.minimum is None:  # only the UvA surface: infimum 0 as y -> -inf
        assert name == "pathological_curvature" and s.min_value is None
        ys = torch.tensor([[0.0, -10.0], [0.0, -20.0], [0.0, -40.0]], dtype=torch.float64)
        vals = s.f(ys)
        assert (vals.diff() < 0).all() and vals[-1] < 1e-15 and (s.grad(ys)[:, 1] > 0).all()
        return
    m = torch.tensor(s.minimum, dtype=torch.float64)
    assert s.grad(m).abs().max() < 1e-10
    assert s.f(m).item() == pytest.approx(s.min_value, abs=1e-12)
    assert torch.linalg.eigvalsh(s.hessian(m)).min() > 0  # a minimum, not a saddle
    # and no point of the window is lower
    assert s.f(points(s, 4096, seed=1)).min() >= s.min_value - 1e-12


def test_ravine_eigenvalues_and_critical_learning_rate():
    for condition, angle in [(50.0, 0.0), (50.0, 45.0), (0.2, 10.0)]:
        s = S.ravine(condition, angle)
        eig = torch.linalg.eigvalsh(s.hessian(torch.zeros(2, dtype=torch.float64)))
        assert eig.tolist() == pytest.approx(sorted([1.0, condition]))
        assert s.params["lambda_max"] == max(1.0, condition)
        assert s.params["lr_max_gd"] == pytest.approx(2.0 / max(1.0, condition))
    s = S.ravine(50.0, 90.0)  # turned a right angle: steep along x now
    assert s.f(torch.tensor([1.0, 0.0], dtype=torch.float64)).item() == pytest.approx(25.0)


def test_saddle_point_and_uva_surfaces():
    s = S.saddle()
    h = s.hessian(torch.zeros(2, dtype=torch.float64))
    assert torch.equal(h, torch.tensor([[2.0, 0.0], [0.0, -2.0]], dtype=torch.float64))
    assert s.grad(torch.zeros(2, dtype=torch.float64)).abs().max() == 0
    p = S.pathological_curvature()
    xy = torch.tensor([0.7, -1.3], dtype=torch.float64)
    want = math.tanh(0.7) ** 2 + 0.01 * 0.7 + 1 / (1 + math.exp(1.3))
    assert p.f(xy).item() == pytest.approx(want, rel=1e-14)
    q = S.steep_optima()
    assert q.min_value < -3.9 and q.f(torch.tensor([1.0, -0.5], dtype=torch.float64)) > -0.7


@pytest.mark.parametrize("name", sorted(S.SURFACES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_broadcast_over_leading_dims_and_dtypes(name, dtype):
    s = S.get(name)
    xy = points(s, 24, dtype=dtype).reshape(2, 3, 4, 2)
    f, g, h = s.f(xy), s.grad(xy), s.hessian(xy)
    assert f.shape == (2, 3, 4) and g.shape == (2, 3, 4, 2) and h.shape == (2, 3, 4, 2, 2)
    assert f.dtype == g.dtype == h.dtype == dtype
    flat = xy.reshape(-1, 2)
    tol = 1e-5 if dtype == torch.float32 else 1e-13
    assert close(f.reshape(-1), s.f(flat), tol) and close(g.reshape(-1, 2), s.grad(flat), tol)
    one = s.f(flat[0])  # a single point: a 0-d loss
    assert one.shape == () and s.grad(flat[0]).shape == (2,) and s.hessian(flat[0]).shape == (2, 2)
    # any memory layout of xy: the engine's (all x's, then all y's)
    soa = flat.T.contiguous().T
    assert close(s.grad(soa), s.grad(flat), tol) and close(s.f(soa), s.f(flat), tol)


def test_grid():
    s = S.rosenbrock()
    X, Y, Z = S.grid(s, 50)
    assert X.shape == Y.shape == Z.shape == (50, 50) and Z.dtype == np.float64
    assert (X[0, 0], X[0, -1], Y[0, 0], Y[-1, 0]) == (-2.0, 2.0, -1.0, 3.0)
    assert Z[7, 11] == pytest.approx(s.f(torch.tensor([X[7, 11], Y[7, 11]])).item())
    X, Y, Z = S.grid(s, (30, 20), window=((0, 1), (0, 2)))
    assert Z.shape == (20, 30) and X.max() == 1.0 and Y.max() == 2.0


BAD_ARGS = [
    ("ravine", {"condition": 0.0}, "condition"), ("ravine", {"condition": -3.0}, "condition"),
    ("ravine", {"condition": math.inf}, "condition"), ("ravine", {"angle": math.nan}, "angle"),
    ("rosenbrock", {"b": 0.0}, "b"), ("rosenbrock", {"a": math.inf}, "a"),
    ("plateau", {"width": -1.0}, "width"), ("steep_optima", {"narrow": 0.0}, "narrow"),
    ("steep_optima", {"narrow": 0.5, "wide": 0.2}, "narrow must be <= wide"),
]


@pytest.mark.parametrize("name, kw, match", BAD_ARGS, ids=[f"{n}-{m}" for n, _, m in BAD_ARGS])
def test_bad_parameters_are_named(name, kw, match):
    with pytest.raises(ValueError, match=match):
        S.get(name, **kw)


def test_bad_names_shapes_and_types():
    with pytest.raises(ValueError, match=r"unknown name 'himmelblau'; valid choices are \['beale'"):
        S.get("himmelblau")
    with pytest.raises(TypeError, match="condition"):
        S.ravine(condition="50")
    with pytest.raises(TypeError, match="unexpected keyword"):
        S.get("beale", a=1)
    s = S.ravine()
    for bad in (torch.zeros(3), torch.zeros(4, 3), torch.zeros(())):
        for fn in (s.f, s.grad, s.hessian, s.value_and_grad):
            with pytest.raises(ValueError, match=rf"xy must have shape \(\.\.\., 2\).*{tuple(bad.shape)}"):
                fn(bad)
    with pytest.raises(TypeError, match="xy must be a torch.Tensor"):
        s.f(np.zeros(2))
    with pytest.raises(TypeError, match="xy must be float32 or float64"):
        s.f(torch.zeros(2, dtype=torch.int64))
    with pytest.raises(TypeError, match="surface must be a Surface"):
        S.grid("ravine")
    with pytest.raises(ValueError, match="n must be >= 2"):
        S.grid(s, 1)
    with pytest.raises(ValueError, match="window"):
        S.grid(s, 10, window=((1, 0), (0, 1)))
