r"""Learning-rate schedules: the rate eta_t as a pure function of the step t = 0, 1, 2, ...

==============  ==================================================  ======================  ======================
schedule        eta_t                                               sum_t eta_t = inf?      sum_t eta_t^2 < inf?
==============  ==================================================  ======================  ======================
constant        eta0                                                yes                     no
step_decay      eta0 gamma^floor(t / step_size)                     no (gamma < 1)          yes (gamma < 1)
inverse         eta0 / (1 + decay t)                                yes                     yes (decay > 0)
exponential     eta0 exp(-decay t)                                  no (decay > 0)          yes (decay > 0)
cosine          eta_min + (eta0 - eta_min)(1 + cos(pi t/total))/2,  yes if eta_min > 0      no if eta_min > 0,
                held at eta_min from t = total                      (no if eta_min = 0)     yes if eta_min = 0
warmup          eta0 (f + (1 - f) min(t, steps) / steps), f =       yes                     no
                start_factor: a linear ramp, then eta0
ReduceOnPlateau eta0 factor^(number of plateaus so far), never      no rule: it depends on  likewise; with
                below min_lr (driven by the validation loss)        the validation losses   min_lr > 0: no
==============  ==================================================  ======================  ======================

The last two columns are the Robbins-Monro conditions: SGD with noisy gradients converges (on a
convex problem) if the steps add up to enough to go anywhere, yet their squares, which scale the
noise, add up to a finite amount. Of the fixed schedules only ``inverse`` meets both;
:func:`robbins_monro` shows it with partial sums. ``cosine`` and ``step_decay`` are used over a
fixed budget of steps instead (D2L's chapter on schedules; Loshchilov & Hutter's SGDR without
restarts): they are about the last steps' rate, not about t -> infinity.

``t`` may be a python number, a numpy array or a torch tensor of steps; the rate comes back as a
float, a numpy array or a tensor. With an optimiser, :func:`scheduler` (or :func:`as_lambda` and
``torch.optim.lr_scheduler.LambdaLR``) makes the rate of step t equal ``schedule(t, eta0=lr)``
when ``scheduler.step()`` is called after each ``optimizer.step()``.

Warm-up in front of another schedule: ``warmup_then("cosine", steps=50, start_factor=0.1,
total=450)`` is the schedule ``warmup`` for t < 50, then ``cosine(t - 50, total=450)``
(torch's ``SequentialLR([LinearLR, CosineAnnealingLR], milestones=[50])``); it is a schedule
like the others (a function of t and eta0), so ``scheduler(opt, warmup_then(...))`` works.

:class:`ReduceOnPlateau` is the one schedule that is not a function of t: it cuts the rate by
``factor`` when the validation loss has not improved for ``patience`` evaluations (the lectures'
"step decay when the validation loss stops improving"; torch's ``ReduceLROnPlateau``, same
arguments and the same rates).
"""
from __future__ import annotations

import functools
import math
import numbers
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


def _upto(t, top, xp):
    """min(t, top), elementwise, for a number array or a tensor."""
    return xp.clamp(t, max=top) if xp is torch else np.minimum(t, top)


def cosine(t, eta0: float = 1.0, *, total: int, eta_min: float = 0.0):
    """eta_t = eta_min + (eta0 - eta_min) (1 + cos(pi t / total)) / 2 for t <= total, then eta_min.

    Half a cosine from eta0 down to eta_min over ``total`` steps (torch's CosineAnnealingLR with
    T_max=total, which then climbs back up; this one stays at eta_min, as D2L's does)."""
    t, xp = _steps(t)
    eta0 = _checks.number("eta0", eta0, low=0.0)
    total = _checks.integer("total", total, low=1)
    eta_min = _checks.number("eta_min", eta_min, low=0.0, high=eta0)
    return _out(eta_min + (eta0 - eta_min) * (1 + xp.cos(math.pi * _upto(t, total, xp) / total)) / 2)


def warmup(t, eta0: float = 1.0, *, steps: int, start_factor: float = 0.1):
    """eta_t = eta0 (f + (1 - f) min(t, steps) / steps), f = start_factor: a linear ramp from
    f eta0 at t = 0 to eta0 at t = steps, then eta0 (torch's LinearLR with total_iters=steps)."""
    t, xp = _steps(t)
    eta0 = _checks.number("eta0", eta0, low=0.0)
    steps = _checks.integer("steps", steps, low=1)
    f = _checks.number("start_factor", start_factor, low=0.0, high=1.0, low_open=True)
    return _out(eta0 * (f + (1 - f) * _upto(t, steps, xp) / steps))


def _warmed(t, eta0=1.0, *, name, steps, start_factor, kwargs):
    t, xp = _steps(t)
    after = SCHEDULES[name](xp.clamp(t - steps, min=0) if xp is torch else np.maximum(t - steps, 0),
                            eta0, **kwargs)
    ramp = warmup(t, eta0, steps=steps, start_factor=start_factor)
    return _out(xp.where(t < steps, ramp, after))


def warmup_then(name: str, *, steps: int, start_factor: float = 0.1, **kwargs):
    """The schedule ``warmup`` for t < steps, then ``SCHEDULES[name](t - steps, eta0, **kwargs)``.

    Returns a function ``(t, eta0=1.0) -> rate`` like the others (torch's SequentialLR of a
    LinearLR and the named schedule, milestones=[steps]). ``kwargs`` are the named schedule's
    own (``total`` for cosine: the steps after the warm-up); everything is checked here.

    >>> lr = warmup_then("cosine", steps=50, total=450)   # 500 steps in all
    >>> round(lr(0, 0.5), 3), lr(50, 0.5), f"{lr(499, 0.5):.1e}"
    (0.05, 0.5, '6.1e-06')
    """
    fn = _checks.choice("name", name, SCHEDULES)
    if "eta0" in kwargs:
        raise TypeError("warmup_then takes no eta0: give it to the schedule it returns, f(t, eta0)")
    steps = _checks.integer("steps", steps, low=1)
    start_factor = _checks.number("start_factor", start_factor, low=0.0, high=1.0, low_open=True)
    SCHEDULES[fn](0, **kwargs)                   # the named schedule's keywords, checked now
    return functools.partial(_warmed, name=fn, steps=steps, start_factor=start_factor,
                             kwargs=dict(kwargs))


class ReduceOnPlateau:
    r"""Step decay driven by the validation loss: cut eta by ``factor`` once it stops improving.

    ::

        after each evaluation, with its validation loss v:
            if v improves on the best so far (mode="min", "rel": v < best (1 - threshold);
                                                        "abs": v < best - threshold)
                best <- v;  bad <- 0
            else bad <- bad + 1
            if cooling down: cooldown_left <- cooldown_left - 1;  bad <- 0
            if bad > patience:  eta <- max(factor eta, min_lr);  cooldown_left <- cooldown;  bad <- 0

    The same rule and arguments as ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (its tests
    feed both the same losses and compare every rate), but not tied to an optimiser: ``step``
    returns the rate for the next stretch of training, and you give it to the optimiser
    (``opt.param_groups[0]["lr"] = sched.step(v)``) or to a run in a batch of runs.
    ``mode="max"`` is for a score that should rise (an accuracy). A NaN or inf loss counts as no
    improvement. ``eps``: a cut smaller than this is skipped (torch's ``eps``).
    """

    def __init__(self, eta0: float, *, factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, mode: str = "min", eps: float = 1e-8):
        self.lr = _checks.number("eta0", eta0, low=0.0)
        self.factor = _checks.number("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = _checks.integer("patience", patience, low=0)
        self.threshold = _checks.number("threshold", threshold, low=0.0)
        self.threshold_mode = _checks.choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = _checks.integer("cooldown", cooldown, low=0)
        self.min_lr = _checks.number("min_lr", min_lr, low=0.0)
        self.mode = _checks.choice("mode", mode, ("min", "max"))
        self.eps = _checks.number("eps", eps, low=0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.bad = 0              # evaluations since the last improvement (torch: num_bad_epochs)
        self.cooldown_left = 0    # evaluations still ignored after a cut (torch: cooldown_counter)
        self.lrs = [self.lr]      # the rate after every step, starting with eta0
        self.cuts = []            # the evaluations (1, 2, ...) after which the rate was cut

    def _improves(self, v: float) -> bool:
        sign = 1.0 if self.mode == "min" else -1.0
        if self.threshold_mode == "rel":
            return sign * v < sign * self.best * (1.0 - sign * self.threshold)
        return sign * v < sign * self.best - self.threshold

    def step(self, val_loss) -> float:
        """Record one evaluation's validation loss (or score); return the rate to use next."""
        if isinstance(val_loss, torch.Tensor):
            if val_loss.numel() != 1:
                raise ValueError(f"val_loss must be one number; got a tensor of shape {tuple(val_loss.shape)}")
            val_loss = val_loss.item()
        if isinstance(val_loss, np.ndarray) and val_loss.size == 1:
            val_loss = val_loss.item()
        if isinstance(val_loss, bool) or not isinstance(val_loss, numbers.Real):
            raise TypeError(f"val_loss must be a real number; got {type(val_loss).__name__}")
        v = float(val_loss)
        if self._improves(v):
            self.best, self.bad = v, 0
        else:
            self.bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad = 0
        if self.bad > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            if self.lr - new > self.eps:
                self.lr = new
                self.cuts.append(len(self.lrs))
            self.cooldown_left, self.bad = self.cooldown, 0
        self.lrs.append(self.lr)
        return self.lr

    def __repr__(self) -> str:
        return (f"ReduceOnPlateau(lr={self.lr:g}, factor={self.factor:g}, patience={self.patience}, "
                f"best={self.best:.4g}, cuts after evaluations {self.cuts})")


SCHEDULES = {
    "constant": constant,
    "step_decay": step_decay,
    "inverse": inverse,
    "exponential": exponential,
    "cosine": cosine,
    "warmup": warmup,
}


def _factor(t, *, fn, base_lr, kwargs):
    return fn(t, eta0=base_lr, **kwargs) / base_lr


def as_lambda(name, *, base_lr: float = 1.0, **kwargs):
    """The factor t -> schedule(t, eta0=base_lr) / base_lr for ``torch.optim.lr_scheduler.LambdaLR``.

    ``name`` is a name in :data:`SCHEDULES` or a schedule function ``(t, eta0) -> rate`` such as
    :func:`warmup_then`'s.

    LambdaLR multiplies each group's initial lr by it, so with ``base_lr`` = that lr the lr at
    step t is ``schedule(t, eta0=lr)``. ``base_lr`` matters only for a schedule with an absolute
    rate in it (cosine's ``eta_min``): with the default 1, eta_min becomes a fraction of the lr.
    :func:`scheduler` passes each group's lr. ``kwargs`` are the schedule's own (``decay``,
    ``step_size``, ``gamma``, ``total`` ...); they are checked here, by one call at t = 0, not
    halfway through training. A ``functools.partial`` rather than a lambda, so the scheduler
    can be pickled.
    """
    if callable(name) and not isinstance(name, str):   # a schedule function, e.g. warmup_then(...)
        fn = name
    else:
        fn = SCHEDULES[_checks.choice("name", name, SCHEDULES)]
    if "eta0" in kwargs:
        raise TypeError("as_lambda takes no eta0: the optimiser's lr is the base rate")
    base_lr = _checks.number("base_lr", base_lr, low=0.0, low_open=True)
    factor = functools.partial(_factor, fn=fn, base_lr=base_lr, kwargs=kwargs)
    factor(0)
    return factor


def scheduler(optimizer: torch.optim.Optimizer, name, **kwargs) -> LambdaLR:
    """A LambdaLR that gives ``optimizer`` the rate ``schedule(t, eta0=lr)`` at step t.

    ``name``: a name in :data:`SCHEDULES` or a schedule function (e.g. :func:`warmup_then`'s).
    Each parameter group gets its own lr as eta0. Call ``scheduler.step()`` once after every
    ``optimizer.step()``.

    >>> opt = dlcore.optim.SGD(model.parameters(), lr=0.1)        # doctest: +SKIP
    >>> sched = dlcore.optim.scheduler(opt, 'inverse', decay=0.01)  # doctest: +SKIP
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    return LambdaLR(optimizer, [as_lambda(name, base_lr=float(g["lr"]) or 1.0, **kwargs)
                                  for g in optimizer.param_groups])


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
