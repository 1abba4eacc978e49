r"""Hyper-parameter search: log-spaced grids, one short run per value, the best by validation loss.

The lectures' recipe, in three calls::

    rates = log_grid(1e-4, 1.0, 9)                       # coarse: every half decade
    coarse = lr_search(make_model, train, val, rates, steps=300)
    fine = lr_search(make_model, train, val, refine(coarse.best, 10**0.4, 5), steps=300)
    lams = search("weight_decay", [0, 1e-4, 1e-3, 1e-2], make_model, train, val,
                  steps=300, fixed={"lr": fine.best})    # lambda after eta is fixed

Grid or random search (Bergstra & Bengio 2012): with a budget of n trials over several
hyper-parameters, a grid of k values per axis tests only k distinct values of each, while n
random draws test n distinct values of every one, so when one hyper-parameter matters much more
than the others a random search explores it n/k times as finely. :func:`sample_log_uniform`
draws such trials, :func:`log_strata` lays a grid (optionally shifted) on the same log axis, and
:func:`nearest_cell` reads trials off a table of runs measured once on a fine grid, so both
strategies can be replayed thousands of times for the price of one table.

Why log spacing: a learning rate (or a weight decay) acts multiplicatively, so 1e-4 and 2e-4
differ as much as 0.1 and 0.2; an even grid would spend almost all its points on the top decade.

Every run trains a fresh model from ``make_model()`` with :func:`dlcore.train.fit`, the same
mini-batch order (``seed``) and the same number of steps; only the searched value changes. A run
**diverged** when its training loss became inf/NaN (fit stops it there) or first exceeded
``blowup`` times its loss at step 1: with cross-entropy a too-large rate rarely reaches inf in
float32, it jumps to a huge loss and then sits at a bad one (dead ReLUs, saturated units), so
the blow-up is what marks it (the learning-rate range test of Smith, 2017, and fastai's
``lr_find`` likewise stop a run once its loss has blown up; so does ``fit(blowup=...)``). A
diverged run gets validation loss inf (never the best, never NaN) and its history ends there, so
:func:`dlcore.plot.loss_curves` draws it as "diverged at step k".
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import _checks
from .train import fit


def log_grid(low: float, high: float, n: int) -> np.ndarray:
    """``n`` values evenly spaced in log10 from ``low`` to ``high``, both included.

    ``10 ** linspace(log10 low, log10 high, n)``; e.g. ``log_grid(1e-4, 1, 9)`` is
    1e-4, 3.2e-4, 1e-3, ..., 0.32, 1 (half a decade apart). The ends are exactly ``low`` and
    ``high``.
    """
    low = _checks.number("low", low, low=0.0, low_open=True)
    high = _checks.number("high", high, low=0.0, low_open=True)
    n = _checks.integer("n", n, low=2)
    if not low < high:
        raise ValueError(f"log_grid needs low < high; got low={low}, high={high}")
    grid = 10.0 ** np.linspace(math.log10(low), math.log10(high), n)   # (n,)
    grid[0], grid[-1] = low, high        # no 0.00010000000000000002
    return grid


def refine(best: float, factor: float = 10**0.5, n: int = 5) -> np.ndarray:
    """A finer log grid around ``best``: ``log_grid(best / factor, best * factor, n)``.

    With an odd ``n`` the middle value is ``best`` itself (exactly), so the finer search
    re-runs the coarse winner alongside its new neighbours. ``factor`` is how far out to look
    on either side (10**0.5: as far as the neighbours on a half-decade grid).
    """
    best = _checks.number("best", best, low=0.0, low_open=True)
    factor = _checks.number("factor", factor, low=1.0, low_open=True)
    grid = log_grid(best / factor, best * factor, _checks.integer("n", n, low=2))
    if n % 2:
        grid[n // 2] = best
    return grid


def _log_range(low, high, name_low="low", name_high="high"):
    low = _checks.number(name_low, low, low=0.0, low_open=True)
    high = _checks.number(name_high, high, low=0.0, low_open=True)
    if not low < high:
        raise ValueError(f"needs {name_low} < {name_high}; got {name_low}={low}, {name_high}={high}")
    return math.log10(low), math.log10(high)


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(_checks.integer("rng", rng, low=0))
    raise TypeError(f"rng must be a numpy Generator or a seed (int >= 0); got {type(rng).__name__}")


def sample_log_uniform(low: float, high: float, size, *, rng=0) -> np.ndarray:
    """``size`` values drawn log-uniformly from [low, high]: ``10 ** U(log10 low, log10 high)``.

    Log-uniform: each decade of the range gets the same share of the draws, as a learning rate
    or a weight decay needs (see :func:`log_grid`). ``rng`` is a ``numpy.random.Generator`` or
    an int seed; ``size`` an int or a shape tuple (e.g. (draws, trials)).
    """
    a, b = _log_range(low, high)
    if isinstance(size, (tuple, list)):
        size = tuple(_checks.integer(f"size[{i}]", k, low=1) for i, k in enumerate(size))
    else:
        size = _checks.integer("size", size, low=1)
    return np.clip(10.0 ** _generator(rng).uniform(a, b, size), 10.0 ** a, 10.0 ** b)


def log_strata(low: float, high: float, n: int, offset: float = 0.5) -> np.ndarray:
    """A grid of ``n`` values on [low, high], one in each of n equal strata of log10 [low, high].

    Value i is ``10 ** (log10 low + (i + offset) * w)``, w = log10(high / low) / n: with the
    default offset 0.5 the strata's centres (the grid a careful person lays: e.g. (1e-3.5,
    1e-0.5) with n = 3 gives 0.001, 0.01, 0.1); any offset in [0, 1) shifts the whole grid,
    keeping its spacing, which is how to average a grid search over where its points happen to
    fall.
    """
    a, b = _log_range(low, high)
    n = _checks.integer("n", n, low=1)
    offset = _checks.number("offset", offset, low=0.0, high=1.0, high_open=True)
    return 10.0 ** (a + (np.arange(n) + offset) * (b - a) / n)


def nearest_cell(axes, points) -> tuple:
    """Index the cell of a table measured on log-spaced ``axes`` that is nearest each point.

    ``axes``: one increasing 1-D array of positive values per hyper-parameter (the table's rows,
    columns, ...); ``points``: an array (..., d) of trials (d = len(axes)), in the same units.
    Returns a tuple of d integer arrays of shape (...), one per axis, nearest in log10, so
    ``table[nearest_cell(axes, points)]`` reads every trial's measured result at once.
    """
    if isinstance(axes, np.ndarray) or not isinstance(axes, (list, tuple)) or not axes:
        raise TypeError("axes must be a list of 1-D arrays, one per hyper-parameter")
    logs = []
    for i, ax in enumerate(axes):
        ax = np.asarray(ax, dtype=float)
        if ax.ndim != 1 or ax.size == 0 or not np.all(np.isfinite(ax)) or (ax <= 0).any():
            raise ValueError(f"axes[{i}] must be a non-empty 1-D array of positive values")
        if (np.diff(ax) <= 0).any():
            raise ValueError(f"axes[{i}] must be increasing")
        logs.append(np.log10(ax))
    points = np.asarray(points, dtype=float)
    if points.ndim < 1 or points.shape[-1] != len(axes):
        raise ValueError(f"points must have shape (..., {len(axes)}), one column per axis; "
                         f"got {points.shape}")
    if not np.all(np.isfinite(points)) or (points <= 0).any():
        raise ValueError("points must be positive and finite (values on a log axis)")
    out = []
    for j, lg in enumerate(logs):
        x = np.log10(points[..., j])
        k = np.clip(np.searchsorted(lg, x), 1, max(len(lg) - 1, 1))     # lg[k-1] <= x < lg[k]
        if len(lg) == 1:
            out.append(np.zeros(x.shape, dtype=int))
            continue
        out.append(np.where(x - lg[k - 1] <= lg[k] - x, k - 1, k))
    return tuple(out)


@dataclass
class SearchResult:
    """One run per value of the hyper-parameter ``name``: what each reached, and the best.

    ``val_loss[i]`` is run i's validation loss after the last step (inf if it diverged);
    ``diverged_at[i]`` the step where it diverged, else None; ``histories[i]`` its History
    (ending at the divergence).
    """

    name: str
    values: np.ndarray                   # (k,) the values tried, in the order given
    val_loss: np.ndarray                 # (k,) final validation loss; inf where diverged
    val_acc: np.ndarray                  # (k,) final validation accuracy; nan where diverged
    diverged_at: list                    # k entries: a step number or None
    histories: list = field(repr=False)  # k History objects

    @property
    def diverged(self) -> np.ndarray:
        """(k,) bool: which runs diverged."""
        return np.array([d is not None for d in self.diverged_at], dtype=bool)

    @property
    def best_index(self) -> int:
        """Index of the lowest validation loss (the first, on a tie). Raises if every run diverged."""
        if self.diverged.all():
            raise ValueError(f"every run diverged: no best {self.name}; try smaller values")
        return int(np.argmin(self.val_loss))

    @property
    def best(self) -> float:
        """The value with the lowest validation loss."""
        return float(self.values[self.best_index])

    @property
    def best_val_loss(self) -> float:
        return float(self.val_loss[self.best_index])

    def status(self, i: int) -> str:
        """'diverged at step k' or 'val loss 0.253' for run ``i``."""
        i = _checks.integer("i", i, low=-len(self.values), high=len(self.values) - 1)
        if self.diverged_at[i] is not None:
            return f"diverged at step {self.diverged_at[i]}"
        return f"val loss {self.val_loss[i]:.3f}"

    def table(self) -> str:
        """A plain-text table, one row per value, the best marked."""
        best = None if self.diverged.all() else self.best_index
        rows = [f"{self.name:>12}  {'val loss':>9}  {'val acc':>7}"]
        for i, v in enumerate(self.values):
            if self.diverged_at[i] is not None:
                rows.append(f"{v:>12.3g}  diverged at step {self.diverged_at[i]}")
            else:
                mark = "   <- best" if i == best else ""
                rows.append(f"{v:>12.3g}  {self.val_loss[i]:>9.4f}  {self.val_acc[i]:>7.3f}{mark}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.table()


def search(name: str, values, make_model, train, val, *, steps: int, batch_size: int | None = 64,
           optimizer=None, fixed: dict | None = None, blowup: float | None = 4.0,
           loss: str = "cross_entropy", eval_every: int | None = None, seed: int = 0) -> SearchResult:
    r"""Train a fresh model for each value of the hyper-parameter ``name``; compare on ``val``.

    For each ``v`` in ``values``: ``model = make_model()``, ``opt = optimizer(model.parameters(),
    **fixed, name=v)``, then ``fit(model, train, steps=steps, batch_size=batch_size,
    optimizer=opt, val=val, seed=seed)``. The best value has the lowest validation loss after
    the last step.

    Args:
        name: the optimiser keyword searched: ``'lr'``, ``'weight_decay'``, ``'momentum'`` ...
        values: the values to try (a list or 1-D array of numbers; see :func:`log_grid`).
        make_model: a callable with no arguments returning a fresh ``nn.Module``; seed its
            initialisation inside, so every run starts from the same weights.
        train, val: ``(X, y)`` pairs.
        steps: mini-batch steps per run (the same for every value: a fair comparison).
        optimizer: a ``torch.optim.Optimizer`` class or any callable ``(params, **hyper)``;
            default :class:`dlcore.optim.SGD`.
        fixed: the other hyper-parameters, held fixed (e.g. ``{'lr': 0.1}`` when searching
            ``'weight_decay'``).
        blowup: a run whose training loss exceeds ``blowup`` times its first loss counts as
            diverged at that step (None: only inf/NaN counts).
        eval_every: steps between validation checks in each History (default: only at the end).
        seed: the mini-batch order, the same for every run.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be an optimiser keyword such as 'lr'; got {name!r}")
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"values must be a list or 1-D array of numbers; got {type(values).__name__}")
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"values must be 1-D; got shape {values.shape}")
        values = values.tolist()
    values = list(values)
    if not values:
        raise ValueError("values is empty: give at least one value to try")
    values = [_checks.number(f"values[{i}]", v) for i, v in enumerate(values)]
    if isinstance(make_model, nn.Module):   # a model is callable too: the likeliest slip
        raise TypeError("make_model must be a callable returning a fresh nn.Module (e.g. "
                        "lambda: MLP(...)), not a model: every run needs its own fresh weights")
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable returning a fresh nn.Module; got {type(make_model).__name__}")
    steps = _checks.integer("steps", steps, low=1)
    if fixed is None:
        fixed = {}
    if not isinstance(fixed, dict):
        raise TypeError(f"fixed must be a dict of hyper-parameters; got {type(fixed).__name__}")
    if name in fixed:
        raise ValueError(f"{name!r} is searched, so it cannot also be in fixed")
    if optimizer is None:
        from .optim import SGD as optimizer
    elif not callable(optimizer):
        raise TypeError(f"optimizer must be an Optimizer class or a callable (params, **hyper); "
                        f"got {type(optimizer).__name__}")
    eval_every = steps if eval_every is None else _checks.integer("eval_every", eval_every, low=1)

    histories, val_loss, val_acc, diverged_at = [], [], [], []
    for v in values:
        model = make_model()
        if not isinstance(model, nn.Module):
            raise TypeError(f"make_model() must return an nn.Module; got {type(model).__name__}")
        opt = optimizer(model.parameters(), **fixed, **{name: v})
        # fit stops a run at its first inf/NaN or blown-up loss, and records the step
        h = fit(model, train, steps=steps, batch_size=batch_size, optimizer=opt, loss=loss,
                val=val, eval_every=eval_every, seed=seed, blowup=blowup, progress=False)
        if h.diverged_at is None and not (h.val_loss and math.isfinite(h.val_loss[-1])):
            h.diverged_at = h.step[-1]   # the training loss stayed finite, the validation loss not
        k = h.diverged_at
        histories.append(h)
        diverged_at.append(k)
        val_loss.append(math.inf if k is not None else h.val_loss[-1])
        val_acc.append(math.nan if k is not None else h.val_acc[-1])
    return SearchResult(name=name, values=np.array(values), val_loss=np.array(val_loss),
                        val_acc=np.array(val_acc), diverged_at=diverged_at, histories=histories)


def lr_search(make_model, train, val, rates, *, steps: int, **kwargs) -> SearchResult:
    """:func:`search` over the learning rate: ``search('lr', rates, ...)``; every rate must be > 0.

    ``kwargs`` go to :func:`search` (``batch_size``, ``optimizer``, ``fixed``, ``blowup``, ...).
    """
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__len__"):
        raise TypeError(f"rates must be a list or 1-D array of learning rates; got {type(rates).__name__}")
    rates = np.asarray(rates.tolist() if isinstance(rates, torch.Tensor) else rates)
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError(f"rates must be a non-empty 1-D list of learning rates; got shape {rates.shape}")
    for i, r in enumerate(rates.tolist()):
        if isinstance(r, numbers.Real) and not isinstance(r, bool):
            _checks.number(f"rates[{i}]", r, low=0.0, low_open=True)
    return search("lr", rates, make_model, train, val, steps=steps, **kwargs)


__all__ = ["log_grid", "refine", "search", "lr_search", "SearchResult", "sample_log_uniform",
           "log_strata", "nearest_cell"]
