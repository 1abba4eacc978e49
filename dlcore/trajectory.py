r"""Many optimiser runs on a 2-D loss surface at once: every (setting, start) pair in one batch.

>>> from dlcore import surfaces, trajectory                                  # doctest: +SKIP
>>> res = trajectory.run(surfaces.rosenbrock(),
...                      [("sgd", {"lr": 1e-3}), ("adam", {"lr": 0.05})],
...                      starts=[(-1.5, 2.0), (0.0, -0.5)], steps=500)
>>> res.paths.shape, res.labels[2]                       # ((501, 4, 2), 'adam(lr=0.05)')
>>> plt.plot(*res.path(2).T); res.steps_to(1e-3)

How it is fast: the R runs are the rows of one (R, 2) tensor. Each step makes one call of the
surface's analytic ``value_and_grad`` on all R rows and one call of each update rule of
:mod:`dlcore.optim.functional` on its own contiguous block of rows (settings that share a rule
share the call; where their hyper-parameters differ these become (B, 1) tensors); the rule writes
the new positions straight into the next row of the preallocated path (its ``out=``; the caller's
tensors are never touched). The python loop is over steps only: some 60 small tensor operations
a step, whatever the number of runs. benchmarks/trajectory_sweep.py: 6 optimisers x 1,000 starts x
500 steps in ~0.2 s on 2 cores, thousands of times faster than one python loop per run.

Divergence: a run diverges at step t when its position or loss there is not finite, or lies
outside the surface's window grown by ``margin`` times its width (height) on every side. From then
on it is frozen: its later rows repeat row t, ``diverged_at`` holds t, and :meth:`Trajectories.path`
cuts it there, so nothing plotted contains NaN or inf. (The engine looks every 16 steps, then
rewrites the rows after t: the result is the same as looking every step.)
"""
from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from . import _checks
from .optim import functional as F
from .surfaces import Surface


def _keywords(fn) -> dict:
    """The hyper-parameters ``fn`` takes and their defaults (``out`` is not one)."""
    return {k: a.default for k, a in inspect.signature(fn).parameters.items()
            if a.default is not a.empty and k != "out"}


CHECK_EVERY = 16  # steps between divergence checks (see run's check)
UPDATE_KEYS = {name: _keywords(rule) for name, rule in F.RULES.items()}
INIT_KEYS = {name: _keywords(init) for name, init in F.INITS.items()}


@dataclass(frozen=True)
class Setting:
    """One optimiser setting: a rule of :data:`dlcore.optim.RULES`, its (checked) hyper-parameters
    as given (defaults are the rule's), and the label used in legends."""

    name: str
    hyper: dict
    label: str


def _fmt(v):
    if isinstance(v, tuple):
        return f"({v[0]:g}, {v[1]:g})"
    return f"{v:g}" if isinstance(v, float) else str(v)


def settings(optimisers) -> list:
    """Check ``optimisers`` and return them as a list of :class:`Setting`.

    Each item is a rule name (its defaults), a pair (name, {hyper: value}) or a triple
    (name, {hyper: value}, label); a single pair may stand alone. Values are python numbers,
    ``betas`` a pair, ``bias_correction`` a bool. To sweep a value, give one setting per value.
    """
    if isinstance(optimisers, str) or (isinstance(optimisers, tuple) and optimisers
                                        and isinstance(optimisers[0], str)):
        optimisers = [optimisers]
    if not isinstance(optimisers, (list, tuple)) or not optimisers:
        raise ValueError("optimisers must be a non-empty list of (name, {hyper-parameter: value}) "
                         f"pairs, e.g. [('sgd', {{'lr': 0.1}})]; got {optimisers!r}")
    out = []
    for item in optimisers:
        item = (item, {}) if isinstance(item, str) else item
        if not (isinstance(item, (tuple, list)) and len(item) in (2, 3) and isinstance(item[1], dict)):
            raise ValueError("each optimiser must be a name, (name, dict) or (name, dict, label); "
                             f"got {item!r}")
        name = _checks.choice("optimiser name", item[0], F.RULES)
        valid = set(UPDATE_KEYS[name]) | set(INIT_KEYS[name])
        unknown = sorted(set(item[1]) - valid)
        if unknown:
            raise TypeError(f"{name} takes no hyper-parameter {unknown[0]!r}; "
                            f"valid names are {sorted(valid)}")
        hyper = F.validate(**item[1])
        for k, v in hyper.items():
            if any(isinstance(b, torch.Tensor) for b in (v if k == "betas" else (v,))):
                raise TypeError(f"{k} must be a number here (to sweep it, give one setting per "
                                "value); got a tensor")
        given = ", ".join(f"{k}={_fmt(v)}" for k, v in hyper.items())
        out.append(Setting(name, hyper, str(item[2]) if len(item) == 3 else f"{name}({given})"))
    return out


@dataclass(frozen=True, eq=False)
class Trajectories:
    """What :func:`run` returns; runs are numbered r = setting * len(starts) + start.

    paths: (steps + 1, R, 2) positions, row 0 the starts; losses: (steps + 1, R);
    diverged_at: (R,) int64, the step at which each run diverged, -1 if it did not;
    labels: R strings (the setting's label); setting, start: (R,) int indices of each run's
    setting and start; settings: the :class:`Setting` list; starts: (R0, 2); surface.
    All arrays are numpy, in the dtype the runs were computed in (``paths`` is a transposed view
    of the engine's (steps + 1, 2, R) array: use ``np.ascontiguousarray`` if you need C order).
    """

    surface: Surface
    paths: np.ndarray
    losses: np.ndarray
    diverged_at: np.ndarray
    labels: list
    setting: np.ndarray
    start: np.ndarray
    settings: list
    starts: np.ndarray

    def __len__(self) -> int:
        return self.paths.shape[1]

    @property
    def steps(self) -> int:
        return self.paths.shape[0] - 1

    @property
    def diverged(self) -> np.ndarray:
        """(R,) bool: which runs diverged."""
        return self.diverged_at >= 0

    def _run(self, i) -> int:
        return _checks.integer("i", i, low=-len(self), high=len(self) - 1) % len(self)

    def ends(self) -> np.ndarray:
        """(R,) int: the last step of each run worth plotting: ``steps`` for a run that did not
        diverge; else its divergence step t if the point there is finite (the jump out of the
        window shows), t - 1 if not."""
        t = np.maximum(self.diverged_at, 0)
        cols = np.arange(len(self))
        finite = np.isfinite(self.paths[t, cols]).all(1) & np.isfinite(self.losses[t, cols])
        return np.where(self.diverged_at < 0, self.steps, np.where(finite, t, t - 1))

    def end(self, i) -> int:
        """:meth:`ends` of run ``i``."""
        i = self._run(i)
        t = int(self.diverged_at[i])
        if t < 0:
            return self.steps
        return t if np.isfinite(self.paths[t, i]).all() and np.isfinite(self.losses[t, i]) else t - 1

    def path(self, i) -> np.ndarray:
        """(n, 2) positions of run ``i`` from its start to :meth:`end`: never NaN or inf."""
        return self.paths[: self.end(i) + 1, self._run(i)]

    def loss(self, i) -> np.ndarray:
        """(n,) losses of run ``i`` along :meth:`path`."""
        return self.losses[: self.end(i) + 1, self._run(i)]

    def steps_to(self, loss_threshold) -> np.ndarray:
        """(R,) int: each run's first step whose loss is <= ``loss_threshold`` (among the steps
        :meth:`path` keeps), -1 for runs that never got there."""
        thr = _checks.number("loss_threshold", loss_threshold)
        hit = (self.losses <= thr) & (np.arange(self.steps + 1)[:, None] <= self.ends())
        return np.where(hit.any(0), hit.argmax(0), -1)

    def runs(self, setting) -> np.ndarray:
        """The run indices of one setting, given by its index or its label."""
        if isinstance(setting, str):
            labels = [s.label for s in self.settings]
            setting = labels.index(_checks.choice("setting", setting, labels))
        k = _checks.integer("setting", setting, low=0, high=len(self.settings) - 1)
        return np.flatnonzero(self.setting == k)


def concat(*parts: Trajectories) -> Trajectories:
    """One :class:`Trajectories` holding the runs of ``parts`` in order, as if :func:`run` had been
    given all their settings at once. Runs never interact, so the numbers are the same, bit for bit
    when no rule appears in two parts (a rule's settings share one block of the engine; split
    across parts, their hyper-parameters are applied in another shape and may round differently).

    For a panel whose sliders each move some of the settings: run the groups apart, cache each
    (``functools.lru_cache``), and join them per frame; a slider then recomputes only its group.
    The parts must share the surface, the starts and the number of steps.
    """
    if not parts:
        raise ValueError("concat needs at least one Trajectories")
    for p in parts:
        if not isinstance(p, Trajectories):
            raise TypeError(f"concat takes Trajectories; got {type(p).__name__}")
    first = parts[0]
    for p in parts[1:]:
        same = p.surface is first.surface or (
            (p.surface.name, p.surface.window, repr(dict(p.surface.params)))
            == (first.surface.name, first.surface.window, repr(dict(first.surface.params))))
        if not same:
            raise ValueError(f"concat: the parts are on different surfaces ({first.surface.name!r}, {p.surface.name!r})")
        if p.steps != first.steps or not np.array_equal(p.starts, first.starts):
            raise ValueError("concat: the parts must have the same steps and starts; "
                             f"got {first.steps} and {p.steps} steps")
    offsets = np.cumsum([0] + [len(p.settings) for p in parts[:-1]])
    return Trajectories(
        surface=first.surface, paths=np.concatenate([p.paths for p in parts], axis=1),
        losses=np.concatenate([p.losses for p in parts], axis=1),
        diverged_at=np.concatenate([p.diverged_at for p in parts]),
        labels=[label for p in parts for label in p.labels],
        setting=np.concatenate([p.setting + k for p, k in zip(parts, offsets)]),
        start=np.concatenate([p.start for p in parts]),
        settings=[s for p in parts for s in p.settings], starts=first.starts)

def _starts(starts, dtype, device) -> torch.Tensor:
    if isinstance(starts, torch.Tensor):
        starts = starts.detach().cpu()
    try:
        pts = torch.as_tensor(np.asarray(starts, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"starts must be a point (x, y) or an (R0, 2) array of them; "
                         f"got {starts!r}") from None
    pts = pts[None] if pts.shape == (2,) else pts
    if pts.dim() != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise ValueError(f"starts must have shape (2,) or (R0, 2) with R0 >= 1; "
                         f"got shape {tuple(pts.shape)}")
    if not torch.isfinite(pts).all():
        raise ValueError("starts must be finite")
    return pts.to(dtype=dtype, device=device)


def _column(vals, n0, dtype, device):
    """A float if every setting agrees (torch then uses its fused kernels), else a (B, 1) tensor
    holding each setting's value once per start."""
    if all(v == vals[0] for v in vals):
        return float(vals[0])
    return torch.tensor(vals, dtype=dtype, device=device).repeat_interleave(n0)[:, None]


def _block_hyper(group, n0, keys, dtype, device) -> dict:
    """The keyword arguments of one rule call on a block of runs (settings ``group`` x n0 starts)."""
    out = {}
    for key, default in keys.items():
        vals = [s.hyper.get(key, default) for s in group]
        if key == "bias_correction":
            out[key] = vals[0]  # the same within a block: it is part of the block's key
        elif key == "betas":
            out[key] = tuple(_column([v[j] for v in vals], n0, dtype, device) for j in (0, 1))
        else:
            out[key] = _column(vals, n0, dtype, device)
    return out


def run(surface, optimisers, starts=None, steps: int = 100, *, noise: float = 0.0, seed: int = 0,
        schedule=None, margin: float = 10.0, dtype=torch.float64, device=None) -> Trajectories:
    """Run every optimiser setting from every start for ``steps`` steps, all at once.

    surface: a :class:`dlcore.surfaces.Surface` (e.g. ``surfaces.get('ravine', condition=50)``).
    optimisers: a list of (name, {hyper: value}) pairs, names from :data:`dlcore.optim.RULES`,
        e.g. ``[('sgd', {'lr': 0.1}), ('adam', {'lr': 0.1})]`` (:func:`settings` has the forms).
    starts: a point (x, y) or (R0, 2) array/tensor of them; default ``surface.start``.
    steps: updates per run (>= 0). Run r = setting * R0 + start, R = len(optimisers) * R0.
    noise: std of Gaussian noise added to each gradient component at every step (mini-batch
        noise, e.g. sigma / sqrt(m)), drawn with a torch.Generator seeded with ``seed``: 2R
        numbers per step, so a run's noise depends on the whole batch, not on the run alone.
    schedule: None, or a function of the step t = 0, 1, ... giving a factor >= 0 for every run's
        lr at update t (as LambdaLR does), e.g. ``dlcore.optim.as_lambda('inverse', decay=0.01)``.
    margin: divergence box = the surface's window grown by ``margin`` x its size on each side
        (``math.inf``: only non-finite values count as divergence).
    dtype: torch.float64 (default) or torch.float32; device: None (the CPU) or a torch device
        (a GPU only pays for very large batches: the loop is bound by per-operation overhead).
    Returns a :class:`Trajectories`.
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a dlcore.surfaces.Surface; got {type(surface).__name__}")
    sets = settings(optimisers)
    steps = _checks.integer("steps", steps, low=0)
    noise = _checks.number("noise", noise, low=0.0)
    seed = _checks.integer("seed", seed, low=0, high=2**63 - 1)
    if not (isinstance(margin, numbers.Real) and not isinstance(margin, bool) and margin > 0):
        raise ValueError(f"margin must be a number > 0 (math.inf allowed); got {margin!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError):
        raise ValueError("device must be None, a torch.device or a name like 'cpu', 'cuda'; "
                         f"got {device!r}") from None
    mult = None
    if schedule is not None:
        if not callable(schedule):
            raise TypeError("schedule must be None or a function of the step t; "
                            f"got {type(schedule).__name__}")
        mult = [float(schedule(t)) for t in range(steps)]  # checked here, not halfway through
        bad = [t for t, m in enumerate(mult) if not (math.isfinite(m) and m >= 0)]
        if bad:
            raise ValueError(f"schedule must give a finite factor >= 0; "
                             f"got {mult[bad[0]]} at t={bad[0]}")
    pts = _starts(surface.start if starts is None else starts, dtype, device)
    n0, R = pts.shape[0], len(sets) * pts.shape[0]

    # Runs of one rule (and one bias_correction) form one contiguous block of rows, so each rule
    # is called once per step; `order` maps a public run number to its row.
    keyed = {}
    for k, s in enumerate(sets):
        keyed.setdefault((s.name, s.hyper.get("bias_correction", True)), []).append(k)
    blocks, rows = [], []
    for (name, _), ks in keyed.items():
        a = len(rows) * n0
        rows += ks
        grp = [sets[k] for k in ks]
        blocks.append((name, slice(a, a + len(ks) * n0),
                       _block_hyper(grp, n0, UPDATE_KEYS[name], dtype, device),
                       _block_hyper(grp, n0, INIT_KEYS[name], dtype, device)))
    order = torch.tensor([rows.index(k) * n0 + j for k in range(len(sets)) for j in range(n0)])

    x0 = pts.repeat(len(sets), 1)[torch.argsort(order).to(device)]  # each row's start
    P, losses, diverged_at = _simulate(surface, blocks, x0, steps, noise, seed, mult, margin)
    if not torch.equal(order, torch.arange(R)):  # only when a rule's settings were not adjacent
        order = order.to(device)
        P, losses = P.index_select(2, order), losses.index_select(1, order)
        diverged_at = diverged_at[order]
    setting_of = np.repeat(np.arange(len(sets)), n0)
    return Trajectories(
        surface=surface, paths=P.cpu().numpy().transpose(0, 2, 1), losses=losses.cpu().numpy(),
        diverged_at=diverged_at.cpu().numpy(), labels=[sets[k].label for k in setting_of],
        setting=setting_of, start=np.tile(np.arange(n0), len(sets)), settings=sets,
        starts=pts.cpu().numpy())


def _simulate(surface, blocks, x0, steps, noise, seed, mult, margin):
    """The loop of :func:`run`: returns positions P (steps + 1, 2, R), losses (steps + 1, R) and
    diverged_at (R,).

    P holds all x's of a step, then all y's ("structure of arrays"): the surface then reads x and
    y as contiguous vectors, and each rule's block of runs, P[t, :, a:b].T, is a (B, 2) view whose
    elementwise operations run over contiguous memory (with (R, 2) rows they ran over pairs, 2-5x
    slower for the divergence check). The states are made in the same layout.
    """
    R, dtype, device = x0.shape[0], x0.dtype, x0.device
    P = torch.empty(steps + 1, 2, R, dtype=dtype, device=device)
    losses = torch.empty(steps + 1, R, dtype=dtype, device=device)
    P[0] = x0.T
    sizes = [sl.stop - sl.start for _, sl, _, _ in blocks]
    rules, hypers = [F.RULES[name] for name, *_ in blocks], [hyper for _, _, hyper, _ in blocks]
    # init_state makes zeros_like(param): give it a (B, 2) tensor in P's layout
    states = [F.init_state(name, torch.empty(2, n, dtype=dtype, device=device).T, **init)
              for (name, _, _, init), n in zip(blocks, sizes)]
    (wx0, wx1), (wy0, wy1) = surface.window
    grow = margin + 0.5 if math.isfinite(margin) else math.inf
    centre = torch.tensor([[(wx0 + wx1) / 2], [(wy0 + wy1) / 2]], dtype=dtype, device=device)
    half = torch.tensor([[wx1 - wx0], [wy1 - wy0]], dtype=torch.float64) * grow
    half = half.clamp(max=torch.finfo(dtype).max).to(dtype=dtype, device=device)  # inf is out
    box = (centre - half).flatten().tolist(), (centre + half).flatten().tolist()
    gen = torch.Generator(device=device).manual_seed(seed) if noise else None
    diverged_at = torch.full((R,), -1, dtype=torch.int64, device=device)
    alive, checked = None, 0  # alive: None while no run has diverged (no masking needed)

    def check(last):
        """Find runs that went bad in rows checked..last and freeze them from their first bad row.

        Every CHECK_EVERY steps on a block of rows rather than every step, and first by a fast
        test (2 min/max reductions and a sum, one sync) that almost always passes: the check then
        costs a few microseconds per step. A run that went bad inside the block has been updated a
        few more times; those rows are overwritten here with its first bad row, and as rows never
        mix, no other run is affected: the result is that of freezing it at once.
        """
        nonlocal alive, diverged_at, checked
        Pb, Lb = P[checked:last + 1], losses[checked:last + 1]
        if alive is not None:  # runs frozen earlier sit at bad points: look at the others only
            Pb, Lb = torch.where(alive, Pb, centre), torch.where(alive, Lb, 0.0)
        v = torch.cat([Pb.amin(dim=(0, 2)), Pb.amax(dim=(0, 2)), Lb.sum()[None]]).tolist()
        if box[0][0] <= v[0] and box[0][1] <= v[1] and v[2] <= box[1][0] and v[3] <= box[1][1] \
                and math.isfinite(v[4]):
            checked = last + 1
            return
        ok = ((Pb - centre).abs() <= half).all(1) & torch.isfinite(Lb)  # (k, R); NaN fails <=
        new = ~ok.all(0)
        first = torch.where(new, checked + (~ok).to(torch.uint8).argmax(0), diverged_at)
        diverged_at, alive = first, ~new if alive is None else alive & ~new
        cols, t0 = torch.arange(R, device=device), first.clamp(min=0)
        stop = min(last + 2, steps + 1)  # row last + 1 may hold an update from a bad point
        later = new & (torch.arange(checked, stop, device=device)[:, None] > first)  # (k', R)
        block, lblock = P[checked:stop], losses[checked:last + 1]
        torch.where(later[:, None], P[t0, :, cols].T, block, out=block)
        torch.where(later[: last + 1 - checked], losses[t0, cols], lblock, out=lblock)
        checked = last + 1

    for t in range(steps):
        theta = P[t].T  # (R, 2) view
        loss, g = surface.value_and_grad(theta)
        losses[t] = loss
        if noise:  # drawn as (2, R), like g, so the sum keeps the layout
            z = torch.randn(2, R, generator=gen, dtype=dtype, device=device)
            g = torch.add(g, z.T, alpha=noise)
        # one call per rule on its block of rows; the rule writes the next row itself (out=)
        blocks_t = zip(theta.split(sizes), g.split(sizes), P[t + 1].T.split(sizes))
        for j, (th, gj, nxt) in enumerate(blocks_t):
            hyper = hypers[j] if mult is None else {**hypers[j], "lr": hypers[j]["lr"] * mult[t]}
            states[j] = rules[j](th, gj, states[j], out=nxt, **hyper)[1]
        if alive is not None:  # frozen runs keep their position (their state may run on: unused)
            torch.where(alive, P[t + 1], P[t], out=P[t + 1])
        if t + 1 - checked >= CHECK_EVERY:
            check(t)
    losses[steps] = surface.f(P[steps].T)
    check(steps)
    return P, losses, diverged_at
