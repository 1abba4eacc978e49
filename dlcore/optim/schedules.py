r"""Learning-rate schedules: the rate eta_t as a pure function of the step t = 0, 1, 2, ...

==============  ================================  ===================  =====================
schedule        eta_t                             sum_t eta_t = inf?   sum_t eta_t^2 < inf?
==============  ================================  ===================  =====================
constant        eta0                              yes                  no
step_decay      eta0 gamma^floor(t / step_size)   no (gamma < 1)       yes (gamma < 1)
inverse         eta0 / (1 + decay t)              yes                  yes (decay > 0)
exponential     eta0 exp(-decay t)                no (decay > 0)       yes (decay > 0)
==============  ================================  ===================  =====================

The last two columns are the Robbins-Monro conditions: SGD with noisy gradients converges (on a
convex problem) if the steps add up to enough to go anywhere, yet their squares, which scale the
noise, add up to a finite amount. Of these four only ``inverse`` meets both;
:func:`robbins_monro` shows it with partial sums.

``t`` may be a python number, a numpy array or a torch tensor of steps; the rate comes back as a
float, a numpy array or a tensor. With an optimiser, :func:`scheduler` (or :func:`as_lambda` and
``torch.optim.lr_scheduler.LambdaLR``) makes the rate of step t equal ``schedule(t, eta0=lr)``
when ``scheduler.step()`` is called after each ``optimizer.step()``.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

from .. import _checks


def _steps(t):
    """``t`` as a tensor or numpy array, and the module to compute with, after checking t >= 0."""
    if isinstance(t, torch.Tensor):
        xp, bad = torch, t.dtype.is_complex or t.dtype == torch.bool
    else:
        if isinstance(t, bool):
            raise TypeError("t must be a step number or an array of them; got bool")
        t = np.asarray(t)
        xp, bad = np, t.dtype.kind not in "iuf"
    if bad:
        raise TypeError(f"t must be a step number or an array of them; got dtype {t.dtype}")
    if t.numel() if xp is torch else t.size:
        if (t < 0).any():
            raise ValueError(f"t counts steps from 0 and must be >= 0; got {t.min().item()}")
    return t, xp


def _out(rate):
    """A 0-d numpy result as a plain float; arrays and tensors as they are."""
    return float(rate) if isinstance(rate, np.ndarray) and rate.ndim == 0 else rate


def constant(t, eta0: float = 1.0):
    """eta_t = eta0 for every t."""
    t, _ = _steps(t)
    eta0 = _checks.number("eta0", eta0, low=0.0)
    return _out(eta0 + 0.0 * t)  # t's shape and array type, floating point


def step_decay(t, eta0: float = 1.0, *, step_size: int, gamma: float = 0.1):
    """eta_t = eta0 * gamma^floor(t / step_size): cut by gamma every step_size steps (torch's StepLR)."""
    t, _ = _steps(t)
    eta0 = _checks.number("eta0", eta0, low=0.0)
    step_size = _checks.integer("step_size", step_size, low=1)
    gamma = _checks.number("gamma", gamma, low=0.0, high=1.0, low_open=True)
    return _out(eta0 * gamma ** (t // step_size))


def inverse(t, eta0: float = 1.0, *, decay: float):
    """eta_t = eta0 / (1 + decay * t): about eta0 / (decay t) late on, the 1/t of Robbins and Monro."""
    t, _ = _steps(t)
    eta0 = _checks.number("eta0", eta0, low=0.0)
    decay = _checks.number("decay", decay, low=0.0)
    return _out(eta0 / (1 + decay * t))


def exponential(t, eta0: float = 1.0, *, decay: float):
    """eta_t = eta0 * exp(-decay * t) (torch's ExponentialLR with gamma = exp(-decay))."""
    t, xp = _steps(t)
    eta0 = _checks.number("eta0", eta0, low=0.0)
    decay = _checks.number("decay", decay, low=0.0)
    return _out(eta0 * xp.exp(-decay * t))


SCHEDULES = {
    "constant": constant,
    "step_decay": step_decay,
    "inverse": inverse,
    "exponential": exponential,
}


def as_lambda(name: str, **kwargs):
    """The factor t -> schedule(t, eta0=1) for ``torch.optim.lr_scheduler.LambdaLR``.

    LambdaLR multiplies each group's initial lr by it, so the lr at step t is
    ``schedule(t, eta0=lr)``. ``kwargs`` are the schedule's own (``decay``, ``step_size``,
    ``gamma``); they are checked here, by one call at t = 0, not halfway through training.
    A ``functools.partial`` rather than a lambda, so the scheduler can be pickled.
    """
    fn = SCHEDULES[_checks.choice("name", name, SCHEDULES)]
    if "eta0" in kwargs:
        raise TypeError("as_lambda takes no eta0: the optimiser's lr is the base rate")
    factor = functools.partial(fn, eta0=1.0, **kwargs)
    factor(0)
    return factor


def scheduler(optimizer: torch.optim.Optimizer, name: str, **kwargs) -> LambdaLR:
    """A LambdaLR that gives ``optimizer`` the rate ``schedule(t, eta0=lr)`` at step t.

    Call ``scheduler.step()`` once after every ``optimizer.step()``.

    >>> opt = dlcore.optim.SGD(model.parameters(), lr=0.1)        # doctest: +SKIP
    >>> sched = dlcore.optim.scheduler(opt, 'inverse', decay=0.01)  # doctest: +SKIP
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    return LambdaLR(optimizer, as_lambda(name, **kwargs))


class RobbinsMonro(NamedTuple):
    """Partial sums of a schedule and what they suggest (see :func:`robbins_monro`)."""

    steps: np.ndarray         # N = 10, 100, ..., horizon
    sum_eta: np.ndarray       # eta_0 + ... + eta_{N-1}
    sum_eta_sq: np.ndarray    # eta_0^2 + ... + eta_{N-1}^2
    sum_diverges: bool        # sum eta_t = inf, as far as the partial sums suggest
    sum_sq_converges: bool    # sum eta_t^2 < inf, likewise

    @property
    def satisfied(self) -> bool:
        """Both Robbins-Monro conditions look met."""
        return self.sum_diverges and self.sum_sq_converges


def _keeps_growing(terms: np.ndarray, n: int) -> bool:
    """Did the last decade [n/10, n) add at least half as much as the decade before it?"""
    last, before = terms[n // 10:n].sum(), terms[n // 100:n // 10].sum()
    return bool(last > 0 and last >= 0.5 * before)


def robbins_monro(schedule, horizon: int = 10**6, *, eta0: float = 1.0, **kwargs) -> RobbinsMonro:
    r"""Check the Robbins-Monro conditions for a schedule by partial sums over ``horizon`` steps.

    Conditions: sum_t eta_t = inf (the steps can carry theta any distance) and
    sum_t eta_t^2 < inf (the gradient noise they let in adds up to a finite amount).

    ``schedule`` is a name in :data:`SCHEDULES` (``kwargs`` and ``eta0`` go to it) or any
    function of a numpy array of steps. Returns the partial sums at N = 10, 100, ..., horizon
    and a verdict on each sum: a series is called divergent if its last decade of terms,
    [horizon/10, horizon), added at least half as much as the decade before. Terms like
    t^(-p) add 10^(1-p) times as much per decade as the decade before: 1 or more for p <= 1,
    which diverge, and 0.1 for p = 2, which converge.

    A finite sum can only suggest, never prove: the verdict is about this horizon. Series with
    terms like t^(-1.1) converge yet pass for divergent here, and ``exponential`` passes for
    divergent until the horizon is past about 15 / decay (decay=1e-5 needs 1.5 million steps).
    With the defaults it finds: constant fails the second condition, exponential the first,
    inverse meets both.
    """
    horizon = _checks.integer("horizon", horizon, low=100, high=10**8)
    if callable(schedule) and not isinstance(schedule, str):
        if kwargs or eta0 != 1.0:
            raise TypeError("eta0 and schedule keywords go with a schedule name, not a function")
        fn = schedule
    else:
        fn = functools.partial(SCHEDULES[_checks.choice("schedule", schedule, SCHEDULES)],
                               eta0=eta0, **kwargs)
    eta = np.asarray(fn(np.arange(horizon)), dtype=np.float64)
    if eta.shape != (horizon,) or not np.all(np.isfinite(eta)) or (eta < 0).any():
        raise ValueError("schedule must give one finite rate >= 0 per step")
    steps = 10 ** np.arange(1, len(str(horizon)))  # every power of 10 up to the horizon
    if steps[-1] != horizon:
        steps = np.append(steps, horizon)
    return RobbinsMonro(
        steps=steps,
        sum_eta=np.cumsum(eta)[steps - 1],
        sum_eta_sq=np.cumsum(eta**2)[steps - 1],
        sum_diverges=_keeps_growing(eta, horizon),
        sum_sq_converges=not _keeps_growing(eta**2, horizon),
    )
