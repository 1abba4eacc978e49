r"""L-BFGS: a quasi-Newton method that builds an approximation of H^-1 from its last m steps.

Newton's step theta - H^-1 g needs the d x d Hessian (d^2 numbers, ~d^3/3 operations to solve).
L-BFGS (Liu & Nocedal 1989; Nocedal & Wright, *Numerical Optimization*, 2nd ed., ch. 7) keeps
only the last m pairs

    s_i = theta_{i+1} - theta_i      (a step)        y_i = g_{i+1} - g_i      (how g changed)

(y_i ~ H s_i: each pair is a measurement of the curvature along s_i) and applies the BFGS
approximation of H^-1 built from them to g with two loops over the pairs: O(m d) operations and
2 m d numbers of memory per step, never a d x d matrix.

* :func:`two_loop`: the recursion itself, d = -H_k g (Nocedal & Wright, Algorithm 7.4);
* :class:`LBFGS`: a ``torch.optim.Optimizer`` with ``torch.optim.LBFGS``'s signature, defaults and
  (with ``line_search_fn=None`` or ``"strong_wolfe"``) iterates, built on :func:`two_loop`, plus
  ``line_search_fn="backtracking"`` (Armijo, ours);
* :func:`path`, :func:`newton_path`: L-BFGS's and Newton's runs on a 2-D surface of
  :mod:`dlcore.surfaces`, as :class:`dlcore.trajectory.Trajectories` (what the figure code of
  notebook 03 draws), divergence caught as :func:`dlcore.trajectory.run` catches it.

tests/test_lbfgs.py checks the iterates against torch.optim.LBFGS in float64.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch.optim import Optimizer

from .. import _checks

CURVATURE_EPS = 1e-10          # a pair is stored only if y.s > this (torch's test, absolute)
ARMIJO_C1 = 1e-4               # sufficient decrease: f(x + t d) <= f(x) + c1 t g.d
LINE_SEARCHES = (None, "strong_wolfe", "backtracking")


def two_loop(grad, s_hist, y_hist) -> torch.Tensor:
    r"""The L-BFGS direction d = -H_k grad, by the two-loop recursion (Nocedal & Wright, Alg. 7.4).

    ::

        input: g (grad), pairs (s_i, y_i), i = k-m .. k-1 (s_hist, y_hist, oldest first)
        rho_i = 1 / (y_i . s_i)
        q = g
        for i = k-1 down to k-m:                      (newest first)
            alpha_i = rho_i s_i . q
            q       = q - alpha_i y_i
        r = gamma q,   gamma = s_{k-1} . y_{k-1} / y_{k-1} . y_{k-1}   (H_0 = gamma I; 1 if no pair)
        for i = k-m up to k-1:                        (oldest first)
            beta_i = rho_i y_i . r
            r      = r + (alpha_i - beta_i) s_i
        return d = -r

    Why: H_k is the BFGS matrix obtained by applying the m updates
    H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T to H_0; written out it is a product of m
    rank-two corrections, and the loops apply them to a vector one at a time, so neither H_k nor
    any d x d matrix is ever formed. gamma scales H_0 to the curvature last measured (y ~ H s, so
    s.y / y.y ~ 1/lambda along s), which is why a step length of 1 is usually right.

    grad: (d,); s_hist, y_hist: sequences of m (d,) tensors each, the same dtype (m = 0 allowed:
    then d = -grad). Every pair must have y.s > 0 (:class:`LBFGS` stores only those). Returns
    a new (d,) tensor; the inputs are not changed.
    """
    _checks.tensor("grad", grad)
    if grad.dim() != 1:
        raise ValueError(f"grad must be a 1-D tensor (flatten the parameters); got shape {tuple(grad.shape)}")
    s_hist, y_hist = list(s_hist), list(y_hist)
    if len(s_hist) != len(y_hist):
        raise ValueError(f"s_hist and y_hist must hold as many vectors; got {len(s_hist)} and {len(y_hist)}")
    for name, hist in (("s_hist", s_hist), ("y_hist", y_hist)):
        for v in hist:
            if not isinstance(v, torch.Tensor) or v.shape != grad.shape:
                raise ValueError(f"{name} must hold tensors of grad's shape {tuple(grad.shape)}; got "
                                 f"{tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}")
    # Computed on q = -g (torch's order of operations, so that the iterates agree to the last bit;
    # every sign flips exactly): alpha_i and the result come out negated, r is already d.
    rho = [1.0 / y.dot(s) for s, y in zip(s_hist, y_hist)]
    q = grad.neg()
    alpha = [None] * len(s_hist)
    for i in reversed(range(len(s_hist))):                           # newest pair first
        alpha[i] = s_hist[i].dot(q) * rho[i]
        q.add_(y_hist[i], alpha=-alpha[i])
    gamma = y_hist[-1].dot(s_hist[-1]) / y_hist[-1].dot(y_hist[-1]) if s_hist else 1
    r = torch.mul(q, gamma)                                          # H_0 q, H_0 = gamma I
    for i in range(len(s_hist)):                                     # oldest pair first
        beta = y_hist[i].dot(r) * rho[i]
        r.add_(s_hist[i], alpha=alpha[i] - beta)
    return r


def _pos_int(name, value, low=1):
    return _checks.integer(name, value, low=low)


class LBFGS(Optimizer):
    r"""L-BFGS, as ``torch.optim.LBFGS`` (same arguments, defaults and iterates), on :func:`two_loop`.

    ::

        input: eta (lr), m (history_size), theta_0, a closure returning f(theta) (after backward)
        for each iteration k = 0, 1, ... (at most max_iter per step() call):
            g_k = grad f(theta_k)
            if k > 0:  s = theta_k - theta_{k-1},  y = g_k - g_{k-1}
                       keep (s, y) if y.s > 1e-10, dropping the oldest pair beyond m
            d_k = two_loop(g_k, pairs)                     (= -g_k at k = 0)
            t_k = min(1, 1 / |g_0|_1) eta  at k = 0,   eta after
            theta_{k+1} = theta_k + t_k d_k                 (or t_k from a line search)

    **How this differs from the textbook** (Nocedal & Wright Alg. 7.5, which always runs a Wolfe
    line search starting from t = 1); each point is torch's behaviour, reproduced:

    * the first iteration has no pair: d = -g and the step is t = min(1, 1/|g|_1) * lr, a
      gradient step whose length is at most lr (|t g|_2 <= |g|_2 / |g|_1 <= 1). Every later
      iteration starts from t = lr (1 by default: the quasi-Newton step itself);
    * with ``line_search_fn=None`` that t is taken as it is (no line search, no safeguard): on a
      quadratic this converges, on Rosenbrock it can be thrown out of the valley;
    * a pair is skipped when y.s <= 1e-10 (an absolute threshold, not relative to |s||y|): the
      update would not keep H_k positive definite. H_0 = gamma I with gamma = s.y / y.y of the
      newest *stored* pair;
    * one ``step(closure)`` runs up to ``max_iter`` iterations (20) and calls the closure up to
      ``max_eval`` times (default max_iter * 5 // 4); the history, the last direction and step,
      and the iteration count live in ``self.state`` and carry over to the next step() call (only
      the very first iteration of all gets the short first step);
    * stopping tests, in torch's order: before anything, max|g| <= tolerance_grad returns at once;
      before a step, g.d > -tolerance_change (not a descent direction) stops without stepping;
      after it, the loop ends when the iteration count reaches max_iter, the evaluations reach
      max_eval, max|g| <= tolerance_grad, max|t d| <= tolerance_change, or the loss changed by
      less than tolerance_change. Without a line search the closure is not called again after
      the last iteration of a step() call (the next call evaluates it);
    * ``step`` returns the loss of its *first* closure call (at the parameters it started from).

    line_search_fn: ``None`` (torch's default, fixed steps as above); ``"strong_wolfe"``: torch's
    own strong-Wolfe search (``torch.optim.lbfgs._strong_wolfe``, called as torch calls it:
    we delegate, we do not re-implement it); ``"backtracking"`` (ours, not in torch): from the
    same first t, halve t until f(theta + t d) <= f(theta) + 1e-4 t g.d (Armijo's sufficient
    decrease; Nocedal & Wright Alg. 3.1), using at most the evaluations max_eval leaves.

    Like torch's, it takes one parameter group, flattens its parameters into one vector (all on
    one device, real), and keeps 2 m vectors of that size. State names: ``s_hist``, ``y_hist``
    (torch: ``old_stps``, ``old_dirs``), ``d``, ``t``, ``prev_flat_grad``, ``prev_loss``,
    ``n_iter``, ``func_evals``.
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval=None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn=None):
        defaults = _validate(lr=lr, max_iter=max_iter, max_eval=max_eval,
                             tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                             history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS takes one parameter group (no per-parameter options); "
                             f"got {len(self.param_groups)}")
        self._params = self.param_groups[0]["params"]
        for p in self._params:
            if torch.is_complex(p):
                raise ValueError("params must be real tensors; got a complex one")

    @torch.no_grad()
    def step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the model (it must call
        ``backward``) and returns the loss. Returns the loss at the parameters step() started from."""
        # one global state, kept with the first parameter (as torch does); the group is read at
        # every call, so a changed group["lr"] takes effect
        return _Iterations(self._params, self.param_groups[0], self.state[self._params[0]]).run(closure)


def _validate(*, lr, max_iter, max_eval, tolerance_grad, tolerance_change, history_size,
              line_search_fn) -> dict:
    """LBFGS's hyper-parameters checked (a ValueError/TypeError naming the argument), as a dict."""
    if isinstance(lr, torch.Tensor):
        if lr.numel() != 1:
            raise ValueError(f"lr must be a number (or a 1-element tensor); got shape {tuple(lr.shape)}")
        lr = lr.item()
    max_iter = _pos_int("max_iter", max_iter)
    if line_search_fn not in LINE_SEARCHES:
        raise ValueError(f"unknown line_search_fn {line_search_fn!r}; valid choices are "
                         f"{list(LINE_SEARCHES)}")
    return dict(lr=_checks.number("lr", lr, low=0.0), max_iter=max_iter,
                max_eval=max_iter * 5 // 4 if max_eval is None else _pos_int("max_eval", max_eval),
                tolerance_grad=_checks.number("tolerance_grad", tolerance_grad, low=0.0),
                tolerance_change=_checks.number("tolerance_change", tolerance_change, low=0.0),
                history_size=_pos_int("history_size", history_size), line_search_fn=line_search_fn)


class _Iterations:
    """The body of :meth:`LBFGS.step` on a list of parameters, a hyper-parameter dict and a state
    dict. Kept apart from the Optimizer so that :func:`path` can run it without building one
    (torch.optim's Optimizer imports torch._dynamo on first use: ~1.5 s in a fresh process)."""

    def __init__(self, params, group, state):
        self._params, self.group, self.state = params, group, state

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([p.new_zeros(p.numel()) if p.grad is None else p.grad.reshape(-1)
                          for p in self._params])

    def _add(self, t, d) -> None:
        """theta <- theta + t d, one parameter's slice of d at a time."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset:offset + n].view_as(p), alpha=t)
            offset += n

    def _evaluate(self, closure):
        with torch.enable_grad():
            loss = closure()
        loss = float(loss.detach() if isinstance(loss, torch.Tensor) else loss)
        return loss, self._flat_grad()

    def _directional_evaluate(self, closure, x, t, d):
        """f and g at x + t d, the parameters then set back to x (what torch's search calls)."""
        self._add(t, d)
        loss, g = self._evaluate(closure)
        for p, v in zip(self._params, x):
            p.copy_(v)
        return loss, g

    def _backtrack(self, closure, t, d, loss, gtd, max_ls):
        """Armijo backtracking from t: returns (loss, grad, t, evaluations) at the accepted t."""
        x = [p.clone() for p in self._params]
        evals = 0
        while True:
            new_loss, g = self._directional_evaluate(closure, x, t, d)
            evals += 1
            if (math.isfinite(new_loss) and new_loss <= loss + ARMIJO_C1 * t * gtd) or evals >= max_ls:
                return new_loss, g, t, evals
            t = 0.5 * t

    def run(self, closure):
        if not callable(closure):
            raise TypeError("LBFGS.step needs a closure: a function that zeroes the gradients, "
                            "computes the loss, calls backward and returns the loss")
        group, state = self.group, self.state
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        m, line_search = group["history_size"], group["line_search_fn"]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with torch.enable_grad():
            orig_loss = closure()
        loss = float(orig_loss.detach() if isinstance(orig_loss, torch.Tensor) else orig_loss)
        flat_grad = self._flat_grad()
        current_evals = 1
        state["func_evals"] += 1
        if flat_grad.abs().max() <= tol_grad:   # already at a stationary point
            return orig_loss

        d, t = state.get("d"), state.get("t")
        s_hist, y_hist = state.get("s_hist", []), state.get("y_hist", [])
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:            # the very first iteration: no pair yet
                s_hist, y_hist = [], []
                d = -flat_grad
            else:
                y, s = flat_grad - prev_flat_grad, d * t
                if y.dot(s) > CURVATURE_EPS:    # else skip: the update would lose positive definiteness
                    if len(s_hist) == m:
                        s_hist.pop(0)
                        y_hist.pop(0)
                    s_hist.append(s)
                    y_hist.append(y)
                d = two_loop(flat_grad, s_hist, y_hist)
            prev_flat_grad, prev_loss = flat_grad.clone(), loss
            t = min(1.0, 1.0 / flat_grad.abs().sum().item()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:               # not a descent direction (or a negligible one)
                break

            evals = 0
            if line_search == "strong_wolfe":
                from torch.optim.lbfgs import _strong_wolfe   # torch's own search, as torch calls it
                x = [p.clone(memory_format=torch.contiguous_format) for p in self._params]
                loss, flat_grad, t, evals = _strong_wolfe(
                    lambda x_, t_, d_: self._directional_evaluate(closure, x_, t_, d_),
                    x, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add(t, d)
                opt_cond = flat_grad.abs().max() <= tol_grad
            elif line_search == "backtracking":
                loss, flat_grad, t, evals = self._backtrack(closure, t, d, loss, gtd.item(),
                                                            max(1, max_eval - current_evals))
                self._add(t, d)
                opt_cond = flat_grad.abs().max() <= tol_grad
            else:                               # a fixed step
                self._add(t, d)
                opt_cond = False
                if n_iter != max_iter:          # the next step() call evaluates the last point
                    loss, flat_grad = self._evaluate(closure)
                    opt_cond = flat_grad.abs().max() <= tol_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if (d * t).abs().max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break                           # no progress

        state.update(d=d, t=t, s_hist=s_hist, y_hist=y_hist, prev_flat_grad=prev_flat_grad,
                     prev_loss=prev_loss)
        return orig_loss


# ----------------------------------------------------------------------- runs on a 2-D surface

def _start(surface, start):
    pt = surface.start if start is None else start
    if isinstance(pt, torch.Tensor):
        pt = pt.detach().cpu().tolist()
    try:
        arr = np.asarray(pt, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"start must be a point (x, y); got {start!r}") from None
    if arr.shape != (2,) or not np.isfinite(arr).all():
        raise ValueError(f"start must be one finite point (x, y); got {start!r}")
    return arr


def _check_surface_args(surface, steps, margin):
    from ..surfaces import Surface
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a dlcore.surfaces.Surface; got {type(surface).__name__}")
    steps = _checks.integer("steps", steps, low=0)
    if not (isinstance(margin, numbers.Real) and not isinstance(margin, bool) and margin > 0):
        raise ValueError(f"margin must be a number > 0 (math.inf allowed); got {margin!r}")
    return steps, float(margin)


class _Box:
    """trajectory.run's divergence test: outside the window grown by margin x its size, or not finite."""

    def __init__(self, surface, margin):
        (x0, x1), (y0, y1) = surface.window
        grow = margin + 0.5
        self.centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        self.half = np.array([x1 - x0, y1 - y0]) * grow

    def bad(self, point, loss) -> bool:
        return not (np.isfinite(point).all() and math.isfinite(loss)
                    and (np.abs(point - self.centre) <= self.half).all())


def _trajectories(surface, points, losses, diverged_at, name, hyper, label, start):
    """One run as :class:`dlcore.trajectory.Trajectories` (rows after a divergence repeat its row)."""
    from ..trajectory import Setting, Trajectories
    return Trajectories(surface=surface, paths=np.asarray(points)[:, None, :],
                        losses=np.asarray(losses)[:, None], diverged_at=np.array([diverged_at]),
                        labels=[label], setting=np.zeros(1, dtype=np.int64),
                        start=np.zeros(1, dtype=np.int64), settings=[Setting(name, hyper, label)],
                        starts=start[None])


def _run_points(surface, start, steps, margin, advance):
    """Iterate ``advance(theta) -> next theta`` (float64 tensors) with divergence caught."""
    box = _Box(surface, margin)
    f = lambda th: surface.f(th).item()                                         # noqa: E731
    theta = torch.tensor(start, dtype=torch.float64)
    points, losses, diverged_at = [start.copy()], [f(theta)], -1
    for t in range(1, steps + 1):
        theta = advance(theta)
        p = theta.detach().numpy().copy()
        loss = f(theta) if np.isfinite(p).all() else math.nan
        points.append(p)
        losses.append(loss)
        if box.bad(p, loss):
            diverged_at = t
            points += [p] * (steps - t)
            losses += [loss] * (steps - t)
            break
    return np.stack(points), np.array(losses), diverged_at


def path(surface, start=None, steps: int = 50, *, history_size: int = 10, lr: float = 1.0,
         line_search=None, margin: float = 10.0):
    """L-BFGS on a 2-D surface: one :class:`LBFGS` iteration per step, in float64.

    The same iterates as ``torch.optim.LBFGS(history_size=..., lr=..., max_iter=1)`` stepped
    ``steps`` times (so torch's short first step applies). start: a point (x, y), default the
    surface's; line_search: None (fixed steps), ``"backtracking"`` (Armijo, see :class:`LBFGS`)
    or ``"strong_wolfe"`` (torch's), each allowed up to 25 evaluations per step. A run that leaves
    the window grown by ``margin`` x its size, or reaches a non-finite point, diverged there, as
    in :func:`dlcore.trajectory.run`. Returns a :class:`dlcore.trajectory.Trajectories` with one
    run labelled ``"L-BFGS (10 pairs)"`` (``", backtracking"`` added with a line search).
    """
    steps, margin = _check_surface_args(surface, steps, margin)
    history_size = _pos_int("history_size", history_size)
    lr = _checks.number("lr", lr, low=0.0, low_open=True)
    if line_search not in LINE_SEARCHES:
        raise ValueError(f"unknown line_search {line_search!r}; valid choices are {list(LINE_SEARCHES)}")
    start = _start(surface, start)
    theta = torch.tensor(start, dtype=torch.float64)
    hyper = _validate(lr=lr, max_iter=1, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9,
                      history_size=history_size, line_search_fn=line_search)
    lbfgs = _Iterations([theta], hyper, {})       # LBFGS.step's loop, without an Optimizer

    def closure():
        theta.grad = surface.grad(theta).reshape(2).clone()      # the analytic gradient
        return surface.f(theta)

    def advance(_):
        lbfgs.run(closure)
        return theta.clone()

    points, losses, diverged_at = _run_points(surface, start, steps, margin, advance)
    # "pairs", not "m =": notebook 03 (and the README's notation) keeps m for the mini-batch size
    label = f"L-BFGS ({history_size} pairs" + (f", {line_search.replace('_', ' ')})" if line_search else ")")
    hyper = {"lr": lr, "history_size": history_size, "line_search": line_search}
    return _trajectories(surface, points, losses, diverged_at, "lbfgs", hyper, label, start)


def newton_path(surface, start=None, steps: int = 10, *, margin: float = 10.0):
    """Newton's method theta <- theta - H^-1 g on a 2-D surface (float64, the analytic Hessian).

    The same step as notebook 03's ``newton_step``, iterated. A singular Hessian gives a
    non-finite point: the run diverged there. Returns a one-run
    :class:`dlcore.trajectory.Trajectories` labelled ``"Newton"``.
    """
    steps, margin = _check_surface_args(surface, steps, margin)
    start = _start(surface, start)

    def advance(theta):
        g, H = surface.grad(theta).reshape(2), surface.hessian(theta).reshape(2, 2)
        try:
            return theta - torch.linalg.solve(H, g)
        except RuntimeError:                     # singular H: no Newton step exists
            return torch.full_like(theta, math.nan)

    points, losses, diverged_at = _run_points(surface, start, steps, margin, advance)
    return _trajectories(surface, points, losses, diverged_at, "newton", {}, "Newton", start)


__all__ = ["two_loop", "LBFGS", "path", "newton_path", "LINE_SEARCHES"]
