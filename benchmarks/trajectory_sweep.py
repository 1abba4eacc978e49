"""The optimiser sweep of the notebooks: 6 optimisers x 1,000 starting points x 500 steps.

    .venv/bin/python benchmarks/trajectory_sweep.py [--surface rosenbrock] [--starts 1000]
        [--steps 500] [--repeats 5] [--loop-runs 20] [--strict]

Times ``dlcore.trajectory.run`` (median of ``--repeats``, float64 and float32) with torch's
threads as you have them and with one thread, against the same runs done one at a time by a
per-run python loop, in two forms:

* autograd loop: what a student writes (a 2-element parameter, ``surface.f``, ``backward()``,
  a ``dlcore.optim`` optimiser's ``step()``);
* rule loop: the same pure update rule and analytic gradient as the engine, one run at a time.

A loop over 6,000 runs would take minutes, so ``--loop-runs`` runs spread over the sweep are
timed and the time is extrapolated to all of them (the output says so). Targets: the sweep well
under a second on a 2-core CPU, and at least 50x faster than the autograd loop. Exit status is 0
unless --strict is given and a target is missed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

from dlcore import optim, surfaces, trajectory
from dlcore.optim import functional as F

TARGET_S, TARGET_RATIO = 1.0, 50.0
SETTINGS = [  # rates that suit the Rosenbrock valley from most starts in its window
    ("sgd", {"lr": 1e-4}), ("momentum", {"lr": 1e-4, "momentum": 0.9}),
    ("nesterov", {"lr": 1e-4, "momentum": 0.9}), ("adagrad", {"lr": 0.1}),
    ("rmsprop", {"lr": 0.01}), ("adam", {"lr": 0.05}),
]
CLASSES = {"sgd": optim.SGD, "momentum": optim.Momentum, "nesterov": optim.Nesterov,
           "adagrad": optim.AdaGrad, "rmsprop": optim.RMSprop, "adam": optim.Adam}


def starts_in(surface, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    (x0, x1), (y0, y1) = surface.window
    u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    return torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], -1)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def autograd_loop(surface, name, hyper, start, steps):
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = CLASSES[name]([p], **hyper)
    path = [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        surface.f(p).backward()
        opt.step()
        path.append(p.detach().clone())
    return torch.stack(path)


def rule_loop(surface, name, hyper, start, steps):
    theta = torch.tensor([start], dtype=torch.float64)
    rule, state, path = F.RULES[name], F.init_state(name, theta), [theta]
    for _ in range(steps):
        theta, state = rule(theta, surface.grad(theta), state, **hyper)
        path.append(theta)
    return torch.cat(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surface", default="rosenbrock", choices=sorted(surfaces.SURFACES))
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-runs", type=int, default=20)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    surface = surfaces.get(args.surface)
    starts = starts_in(surface, args.starts)
    n_runs = len(SETTINGS) * args.starts
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads as set: {threads} "
          f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); surface {surface.name}; "
          f"{len(SETTINGS)} optimisers x {args.starts} starts x {args.steps} steps = {n_runs} runs")

    engine = {}
    for n_threads in dict.fromkeys([threads, 1]):
        torch.set_num_threads(n_threads)
        for dtype in (torch.float64, torch.float32):
            sweep = lambda: trajectory.run(surface, SETTINGS, starts, args.steps, dtype=dtype)  # noqa: E731
            sweep()  # warm-up
            engine[n_threads, dtype] = median_time(sweep, args.repeats)
            print(f"engine, {n_threads} thread(s), {str(dtype)[6:]}: {engine[n_threads, dtype]:.3f} s "
                  f"(median of {args.repeats})")
    torch.set_num_threads(threads)
    result = trajectory.run(surface, SETTINGS, starts, args.steps)
    print(f"  {result.diverged.sum()} of {n_runs} runs diverged (left the window grown 10x)")

    torch.set_num_threads(1)  # a one-run loop is all overhead: more threads only add to it
    picks = np.linspace(0, n_runs - 1, args.loop_runs).round().astype(int)
    loops = {}
    for label, fn in (("autograd loop", autograd_loop), ("rule loop", rule_loop)):
        worst, t0 = 0.0, time.perf_counter()
        paths = [fn(surface, *SETTINGS[result.setting[r]], tuple(starts[result.start[r]].tolist()),
                    args.steps) for r in picks]
        per_run = (time.perf_counter() - t0) / len(picks)
        for r, path in zip(picks, paths):  # the same iterates as the engine's (runs that stayed)
            if not result.diverged[r]:
                worst = max(worst, float(np.abs(path.numpy() - result.paths[:, r]).max()))
        loops[label] = per_run * n_runs
        print(f"{label}: {per_run * 1e3:.1f} ms per run, timed on {len(picks)} runs spread over the "
              f"sweep and EXTRAPOLATED to {n_runs} runs: {loops[label]:.0f} s "
              f"(largest difference from the engine's paths: {worst:.1e})")
    torch.set_num_threads(threads)

    best = engine[threads, torch.float64]
    ratio = loops["autograd loop"] / best
    print(f"engine (float64, {threads} thread(s)) {best:.3f} s vs autograd loop {loops['autograd loop']:.0f} s "
          f"(extrapolated): {ratio:.0f}x faster; vs rule loop: {loops['rule loop'] / best:.0f}x")
    ok = best < TARGET_S and ratio >= TARGET_RATIO
    print(f"targets: sweep < {TARGET_S:g} s and >= {TARGET_RATIO:g}x the loop: {'met' if ok else 'MISSED'}")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
