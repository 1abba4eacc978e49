"""The cost of one optimiser step: each dlcore.optim class against its torch.optim counterpart.

    .venv/bin/python benchmarks/optim_step.py [--steps 200] [--strict]

On a 784-100-100-10 ReLU MLP, batch 64, float32, CPU, one torch thread: the median time of
(a) a whole training step (zero_grad, forward, cross-entropy, backward, step) and (b) the step
alone (fixed gradients), over ``--steps`` steps after 20 of warm-up. The two optimisers take
turns, one step each, so a busy machine slows both alike. Target: dlcore within 1.5x of torch
on the step alone (the whole step hides most of the difference). Exit status is 0 unless
--strict is given and the target is missed.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch
from torch import nn

import dlcore
from dlcore import optim

TARGET = 1.5
PAIRS = [  # name, dlcore optimiser, torch optimiser (same hyper-parameters)
    ("SGD", lambda p: optim.SGD(p, lr=0.01), lambda p: torch.optim.SGD(p, lr=0.01)),
    ("Momentum", lambda p: optim.Momentum(p, lr=0.01, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    ("Nesterov", lambda p: optim.Nesterov(p, lr=0.01, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)),
    ("AdaGrad", lambda p: optim.AdaGrad(p, lr=0.01), lambda p: torch.optim.Adagrad(p, lr=0.01)),
    ("RMSprop", lambda p: optim.RMSprop(p, lr=1e-3), lambda p: torch.optim.RMSprop(p, lr=1e-3)),
    ("Adam", lambda p: optim.Adam(p, lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3)),
    ("Adam + wd", lambda p: optim.Adam(p, lr=1e-3, weight_decay=1e-4),
     lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-4)),
]


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(make_ours, make_theirs, steps: int, warmup: int = 20):
    """Median seconds (ours, theirs) of a whole training step and of the step alone."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 784, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    nets = [dlcore.MLP([784, 100, 100, 10], "relu")]
    nets.append(copy.deepcopy(nets[0]))
    opts = [make_ours(nets[0].parameters()), make_theirs(nets[1].parameters())]

    def train_step(net, opt):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    whole, alone = ([], []), ([], [])
    for i in range(warmup + steps):
        for k in (0, 1):
            t = _timed(lambda: train_step(nets[k], opts[k]))
            if i >= warmup:
                whole[k].append(t)
    for i in range(warmup + steps):  # gradients stay those of the last training step
        for k in (0, 1):
            t = _timed(opts[k].step)
            if i >= warmup:
                alone[k].append(t)
    return [statistics.median(ts) for ts in whole], [statistics.median(ts) for ts in alone]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a step ratio misses 1.5")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, 784-100-100-10 MLP, batch 64, float32, "
          f"median of {args.steps} steps")
    head = (f"{'optimiser':<10} {'whole: torch':>13} {'dlcore':>9} {'ratio':>6}   "
            f"{'step: torch':>12} {'dlcore':>9} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    worst = 0.0
    for name, ours, theirs in PAIRS:
        (w_ours, w_theirs), (s_ours, s_theirs) = compare(ours, theirs, args.steps)
        worst = max(worst, s_ours / s_theirs)
        print(f"{name:<10} {w_theirs * 1e3:>10.3f} ms {w_ours * 1e3:>6.3f} ms "
              f"{w_ours / w_theirs:>6.2f}   {s_theirs * 1e6:>9.1f} us {s_ours * 1e6:>6.1f} us "
              f"{s_ours / s_theirs:>6.2f}")
    verdict = "met" if worst <= TARGET else "MISSED"
    print(f"worst step-alone ratio {worst:.2f} (target {TARGET}: {verdict})")
    return 1 if args.strict and worst > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
