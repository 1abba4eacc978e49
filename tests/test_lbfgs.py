"""dlcore.optim.lbfgs against torch.optim.LBFGS (float64) and against the dense BFGS matrix."""
import math

import numpy as np
import pytest
import torch

from dlcore import surfaces, trajectory
from dlcore.optim import lbfgs
from dlcore.optim.lbfgs import LBFGS, newton_path, path, two_loop

RTOL = 1e-6


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-300)).item()


def quadratic(d, kappa=100.0, seed=0):
    """f(x) = 0.5 x^T A x - b^T x with A's eigenvalues from 1 to kappa."""
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    A = Q @ torch.diag(torch.logspace(0, math.log10(kappa), d, dtype=torch.float64)) @ Q.T
    b = torch.randn(d, generator=gen, dtype=torch.float64)
    return lambda x: 0.5 * x @ A @ x - b @ x


def rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def ravine(x):
    return 0.5 * (x[0] ** 2 + 50 * x[1] ** 2)


def iterates(cls, f, x0, calls, **kw):
    """(calls, d) parameters and (calls,) returned losses after each step(closure)."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = cls([x], **kw)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    xs, losses = [], []
    for _ in range(calls):
        losses.append(float(opt.step(closure).detach()))
        xs.append(x.detach().clone())
    st = opt.state[x]
    return torch.stack(xs), torch.tensor(losses), (st["n_iter"], st["func_evals"])


CASES = [  # (name, f, x0, calls, kwargs)
    ("ravine", ravine, [-4.0, 1.0], 3, {}),
    ("ravine m=1", ravine, [-4.0, 1.0], 3, {"history_size": 1}),
    ("ravine max_iter=1", ravine, [-4.0, 1.0], 15, {"max_iter": 1}),
    ("ravine lr=0.5", ravine, [-4.0, 1.0], 3, {"lr": 0.5, "max_iter": 7}),
    ("rosenbrock", rosen, [-1.2, 1.0], 5, {}),
    ("rosenbrock m=3", rosen, [-1.2, 1.0], 5, {"history_size": 3}),
    ("rosenbrock m=10 max_iter=1", rosen, [-1.2, 1.0], 60, {"history_size": 10, "max_iter": 1}),
    ("rosenbrock strong_wolfe", rosen, [-1.2, 1.0], 3, {"line_search_fn": "strong_wolfe"}),
    ("rosenbrock strong_wolfe max_iter=1", rosen, [-1.2, 1.0], 30,
     {"line_search_fn": "strong_wolfe", "max_iter": 1, "max_eval": 25}),
    ("rosenbrock max_eval=7", rosen, [-1.2, 1.0], 4, {"max_eval": 7}),
]
for _m in (1, 3, 5, 20, 100):
    CASES.append((f"quadratic 20-D m={_m}", quadratic(20), [1.0] * 20, 3, {"history_size": _m}))
    CASES.append((f"quadratic 20-D m={_m} max_iter=1", quadratic(20, seed=1), [0.5] * 20, 30,
                  {"history_size": _m, "max_iter": 1}))


@pytest.mark.parametrize("name,f,x0,calls,kw", CASES, ids=[c[0] for c in CASES])
def test_same_iterates_as_torch(name, f, x0, calls, kw):
    ours, our_losses, our_counts = iterates(LBFGS, f, x0, calls, **kw)
    theirs, their_losses, their_counts = iterates(torch.optim.LBFGS, f, x0, calls, **kw)
    for k in range(calls):                               # after every step() call
        assert rel(ours[k], theirs[k]) <= RTOL, (name, k)
    assert rel(our_losses, their_losses) <= RTOL
    assert our_counts == their_counts                    # same iterations and evaluations


def test_several_parameter_tensors_like_torch():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    Y = X @ torch.tensor([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], dtype=torch.float64) + 0.1

    def fit(cls):
        W = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
        c = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt = cls([W, c], history_size=5, max_iter=6)

        def closure():
            opt.zero_grad()
            loss = ((X @ W + c - Y) ** 2).mean()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        return torch.cat([W.detach().reshape(-1), c.detach()])

    assert rel(fit(LBFGS), fit(torch.optim.LBFGS)) <= RTOL


def test_first_step_is_a_short_gradient_step():
    x0 = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    g = torch.func.grad(rosen)(x0)
    xs, _, _ = iterates(LBFGS, rosen, x0.tolist(), 1, max_iter=1, lr=0.7)
    t = min(1.0, 1.0 / g.abs().sum().item()) * 0.7      # torch's first step length
    assert rel(xs[0], x0 - t * g) < 1e-15


def test_a_pair_with_no_curvature_is_skipped():
    f = lambda x: x @ torch.tensor([1.0, -2.0], dtype=torch.float64)   # noqa: E731  linear: y = 0
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = LBFGS([x], max_iter=5)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.state[x]["s_hist"] == [] and opt.state[x]["n_iter"] == 5     # y.s = 0: never stored
    ours, _, _ = iterates(LBFGS, f, [0.0, 0.0], 2, max_iter=5)
    theirs, _, _ = iterates(torch.optim.LBFGS, f, [0.0, 0.0], 2, max_iter=5)
    assert rel(ours, theirs) <= RTOL


def test_stops_at_once_at_a_stationary_point():
    xs, losses, counts = iterates(LBFGS, ravine, [0.0, 0.0], 2)
    assert (xs == 0).all() and counts == (0, 2)           # two calls, one evaluation each, no iteration


def test_history_is_capped_and_carried_across_steps():
    x = torch.tensor([1.0] * 20, dtype=torch.float64, requires_grad=True)
    f = quadratic(20)
    opt = LBFGS([x], history_size=4, max_iter=3, max_eval=10)   # default max_eval 3 * 5 // 4 = 3

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    sizes = []
    for _ in range(3):
        opt.step(closure)
        sizes.append(len(opt.state[x]["s_hist"]))
    assert sizes == [2, 4, 4]                             # pairs made in one call are kept in the next


# ------------------------------------------------------------------------------------ two_loop

def dense_bfgs(s_hist, y_hist, d):
    """H_k by the BFGS update applied to H_0 = gamma I, as a d x d matrix."""
    s, y = s_hist[-1], y_hist[-1]
    H = (s @ y / (y @ y)) * torch.eye(d, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    for s, y in zip(s_hist, y_hist):
        rho = 1.0 / (y @ s)
        H = (eye - rho * torch.outer(s, y)) @ H @ (eye - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
    return H


@pytest.mark.parametrize("m", [1, 2, 5, 12])
def test_two_loop_is_the_bfgs_matrix_times_g(m):
    gen = torch.Generator().manual_seed(m)
    d = 20
    A = torch.randn(d, d, generator=gen, dtype=torch.float64)
    A = A @ A.T + torch.eye(d, dtype=torch.float64)       # y = A s: y.s > 0
    s_hist = [torch.randn(d, generator=gen, dtype=torch.float64) for _ in range(m)]
    y_hist = [A @ s for s in s_hist]
    g = torch.randn(d, generator=gen, dtype=torch.float64)
    g0 = g.clone()
    d_two = two_loop(g, s_hist, y_hist)
    assert rel(d_two, -dense_bfgs(s_hist, y_hist, d) @ g) < 1e-10
    assert (d_two @ g).item() < 0                          # a descent direction
    assert torch.equal(g, g0)                              # its input is left alone
    # the newest pair's secant equation H y = s holds exactly
    assert rel(-two_loop(y_hist[-1], s_hist, y_hist), s_hist[-1]) < 1e-10


def test_two_loop_without_pairs_is_minus_g_and_leaves_its_input():
    g = torch.tensor([1.0, -2.0], dtype=torch.float64)
    assert torch.equal(two_loop(g, [], []), -g) and g.tolist() == [1.0, -2.0]


def test_two_loop_rejects_bad_input():
    g = torch.ones(3, dtype=torch.float64)
    with pytest.raises(TypeError, match="grad"):
        two_loop([1.0, 2.0], [], [])
    with pytest.raises(ValueError, match="grad must be a 1-D"):
        two_loop(torch.ones(2, 2), [], [])
    with pytest.raises(ValueError, match="as many"):
        two_loop(g, [g], [])
    with pytest.raises(ValueError, match="s_hist"):
        two_loop(g, [torch.ones(2)], [g])


# ---------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kw,match", [
    ({"lr": -1.0}, "lr"), ({"lr": math.nan}, "lr"), ({"max_iter": 0}, "max_iter"),
    ({"max_iter": 2.5}, "max_iter"), ({"max_eval": 0}, "max_eval"),
    ({"tolerance_grad": -1e-3}, "tolerance_grad"), ({"tolerance_change": -1.0}, "tolerance_change"),
    ({"history_size": 0}, "history_size"), ({"line_search_fn": "wolfe"}, "strong_wolfe"),
    ({"lr": torch.ones(2)}, "lr"),
])
def test_bad_hyper_parameters_are_named(kw, match):
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises((ValueError, TypeError), match=match):
        LBFGS([x], **kw)


def test_one_group_and_a_closure():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="one parameter group"):
        LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(TypeError, match="closure"):
        LBFGS([a]).step(None)


def test_signature_and_defaults_are_torchs():
    import inspect
    ours = inspect.signature(LBFGS.__init__).parameters
    theirs = inspect.signature(torch.optim.LBFGS.__init__).parameters
    assert list(ours) == list(theirs)
    assert {k: v.default for k, v in ours.items()} == {k: v.default for k, v in theirs.items()}


# ------------------------------------------------------------------------- backtracking (ours)

def test_backtracking_never_raises_the_loss_and_converges_on_rosenbrock():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    opt = LBFGS([x], max_iter=1, max_eval=25, history_size=10, line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = rosen(x)
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(60)]
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    assert rosen(x).item() < 1e-8                # it stops when g.d > -tolerance_change (1e-9)


# ---------------------------------------------------------------------------- path, newton_path

def torch_path(surface, steps, **kw):
    """torch.optim.LBFGS(max_iter=1) on the surface's own analytic gradient, stepped `steps` times."""
    x = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=1, max_eval=25, **kw)

    def closure():
        x.grad = surface.grad(x.detach()).reshape(2).clone()
        return surface.f(x.detach())

    pts = [x.detach().clone()]
    for _ in range(steps):
        opt.step(closure)
        pts.append(x.detach().clone())
    return torch.stack(pts)


@pytest.mark.parametrize("name,m,ls", [("ravine", 10, None), ("ravine", 1, None), ("rosenbrock", 3, None),
                                       ("rosenbrock", 10, "strong_wolfe")])
def test_path_takes_torchs_steps(name, m, ls):
    s = surfaces.get(name)
    res = path(s, steps=40, history_size=m, line_search=ls, margin=math.inf)
    ref = torch_path(s, 40, history_size=m, line_search_fn=ls)
    assert rel(torch.from_numpy(res.paths[:, 0]), ref) <= RTOL
    assert res.labels == [f"L-BFGS ({m} pairs" + (", strong wolfe)" if ls else ")")]


def test_path_is_a_trajectories_and_reaches_the_minimum():
    res = path(surfaces.rosenbrock(), steps=60, line_search="backtracking")
    assert isinstance(res, trajectory.Trajectories) and len(res) == 1 and res.steps == 60
    assert res.paths.shape == (61, 1, 2) and res.losses.shape == (61, 1)
    assert res.labels == ["L-BFGS (10 pairs, backtracking)"] and not res.diverged[0]
    assert 0 < res.steps_to(1e-6)[0] < 50
    assert np.allclose(res.losses[:, 0], surfaces.rosenbrock().f(torch.from_numpy(res.paths[:, 0])).numpy())


def test_path_catches_a_fixed_step_leaving_the_window():
    res = path(surfaces.rosenbrock(), steps=100, history_size=10)        # no line search: thrown out
    assert res.diverged[0] and np.isfinite(res.path(0)).all()
    t = res.diverged_at[0]
    assert (res.paths[t:, 0] == res.paths[t, 0]).all()                 # frozen, as trajectory.run does
    inside = path(surfaces.rosenbrock(), steps=100, history_size=10, margin=math.inf)
    assert not inside.diverged[0] and np.abs(inside.paths).max() > 40    # the excursion it made


def test_path_start_and_zero_steps():
    res = path(surfaces.ravine(), start=(1.0, 1.0), steps=0)
    assert res.paths.tolist() == [[[1.0, 1.0]]] and res.losses[0, 0] == 25.5


@pytest.mark.parametrize("kw,error,match", [
    ({"steps": -1}, ValueError, "steps"), ({"history_size": 0}, ValueError, "history_size"),
    ({"lr": 0.0}, ValueError, "lr"), ({"line_search": "armijo"}, ValueError, "backtracking"),
    ({"start": (1.0, 2.0, 3.0)}, ValueError, "start"), ({"margin": 0}, ValueError, "margin"),
])
def test_path_rejects_bad_input(kw, error, match):
    with pytest.raises(error, match=match):
        path(surfaces.ravine(), **kw)
    with pytest.raises(TypeError, match="surface"):
        path("ravine")


def test_newton_path():
    one = newton_path(surfaces.ravine(condition=1000), steps=3)
    assert one.losses[1, 0] < 1e-20 and one.labels == ["Newton"]          # exact on a quadratic
    s = surfaces.rosenbrock()
    res = newton_path(s, steps=8)
    theta = torch.tensor(s.start, dtype=torch.float64)
    for k in range(1, 9):                                                # theta - H^-1 g, iterated
        theta = theta - torch.linalg.solve(s.hessian(theta), s.grad(theta))
        assert np.allclose(res.paths[k, 0], theta.numpy(), rtol=1e-12, atol=1e-14)
    assert res.steps_to(1e-10)[0] <= 6


def test_newton_path_singular_hessian_is_a_divergence():
    s = surfaces.rosenbrock()
    res = newton_path(s, start=(0.0, 0.005), steps=5)           # H_xx = 2 - 400 y + 1200 x^2 = 0
    assert res.diverged_at[0] == 1 and res.end(0) == 0 and np.isfinite(res.path(0)).all()


def test_lbfgs_is_exported():
    from dlcore import optim
    assert optim.LBFGS is LBFGS and optim.lbfgs is lbfgs
