"""The cost of batch norm: dlcore.nn.BatchNorm1d against torch.nn.BatchNorm1d.

    .venv/bin/python benchmarks/batchnorm_step.py [--reps 2000] [--strict]

Float32, CPU, one torch thread, the median over ``--reps`` repetitions after 200 of warm-up;
the two modules take turns, one repetition each, so a busy machine slows both alike.

(a) the layer alone: forward + backward of a 60x100 batch (the input requires grad, as inside
    a network), and the forward alone, in training mode, and the forward in eval mode;
    For scale, a floor: an autograd.Function layer that does only y = gamma x + beta, with its
    backward by hand (a module as ours, the same apply and engine costs, almost no arithmetic);
(b) inside a network: one SGD training step (zero_grad, forward, cross-entropy, backward, step)
    of a 784-100-100-100-10 sigmoid MLP with batch norm between each hidden Linear and its
    sigmoid (Ioffe & Szegedy's placement), batch 60; the same MLP without batch norm for scale.

Target: dlcore within 1.5x of torch on (a)'s forward + backward. Exit status is 0 unless --strict
is given and the target is missed.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch
from torch import nn

from dlcore.nn import BatchNorm1d

TARGET = 1.5
SIZES = [784, 100, 100, 100, 10]


def _median_pair(fns, reps: int, warmup: int = 200) -> list[float]:
    """Median seconds of each zero-argument function in ``fns``, run in turns, the order
    reversed every other round: whichever runs second in a round was measured ~4% faster (warm
    caches), so a fixed order would favour one side."""
    times = [[] for _ in fns]
    order = list(enumerate(fns))
    for i in range(warmup + reps):
        for k, fn in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if i >= warmup:
                times[k].append(elapsed)
    return [statistics.median(ts) for ts in times]


class _AffineFunction(torch.autograd.Function):
    """y = gamma x + beta with a hand-written backward: the floor under any autograd.Function
    layer (Function.apply, saving tensors, the engine calling python in backward)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(weight)
        return torch.addcmul(bias, x, weight)

    @staticmethod
    def backward(ctx, grad_out):
        (weight,) = ctx.saved_tensors
        return grad_out * weight, None, grad_out.sum(0)


class _AffineFloor(BatchNorm1d):
    def forward(self, x):
        self.num_batches_tracked.add_(1)
        return _AffineFunction.apply(x, self.weight, self.bias)


def layer_cases(reps: int):
    """(name, dlcore seconds, torch seconds) for the layer alone on a 60x100 batch."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(60, 100, generator=gen).mul_(2.0).add_(1.0).requires_grad_()
    grad = torch.randn(60, 100, generator=gen)
    ours, theirs = BatchNorm1d(100), nn.BatchNorm1d(100)
    rows = []
    for name, make in [
        ("forward + backward", lambda bn: lambda: bn(x).backward(grad)),
        ("forward (train)", lambda bn: lambda: bn(x)),
    ]:
        rows.append((name, *_median_pair([make(ours), make(theirs)], reps)))
    ours.eval(), theirs.eval()
    with torch.no_grad():
        times = _median_pair([lambda: ours(x), lambda: theirs(x)], reps)
        rows.append(("forward (eval, no_grad)", *times))
    ours.train(), theirs.train()
    floor = _AffineFloor(100)
    times = _median_pair([lambda: floor(x).backward(grad), lambda: theirs(x).backward(grad)], reps)
    rows.append(("  (floor: Function, no maths)", *times))
    return rows


def _mlp(norm) -> nn.Sequential:
    layers = []
    for i, (d_in, d_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(SIZES) - 2:
            if norm is not None:
                layers.append(norm(d_out))
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def mlp_cases(reps: int):
    """(name, dlcore seconds, torch seconds) for one SGD step of the MLP, batch 60."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 784, generator=gen), torch.randint(0, 10, (60,), generator=gen)
    torch.manual_seed(0)
    ours = _mlp(BatchNorm1d)
    theirs = _mlp(nn.BatchNorm1d)
    theirs.load_state_dict(ours.state_dict())  # same names: the same network, twice
    plain = _mlp(None)

    def stepper(net):
        opt = torch.optim.SGD(net.parameters(), lr=0.1)

        def step():
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        return step

    t_ours, t_theirs, t_plain = _median_pair([stepper(ours), stepper(theirs), stepper(plain)], reps)
    return [("MLP SGD step, 3 BN layers", t_ours, t_theirs),
            ("  (the same MLP without BN)", t_plain, t_plain)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="timed repetitions per measurement")
    parser.add_argument("--strict", action="store_true",
                        help=f"exit 1 if the ratio misses {TARGET}")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, float32, median of {args.reps} repetitions")
    head = f"{'case':<30} {'torch':>10} {'dlcore':>10} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    rows = layer_cases(args.reps) + mlp_cases(max(args.reps // 4, 50))
    for name, ours, theirs in rows:
        if name.startswith("  (the"):
            print(f"{name:<30} {ours * 1e6:>7.1f} us")
            continue
        print(f"{name:<30} {theirs * 1e6:>7.1f} us {ours * 1e6:>7.1f} us {ours / theirs:>6.2f}")
    ratio = rows[0][1] / rows[0][2]
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"60x100 forward + backward: {ratio:.2f}x torch (target {TARGET}: {verdict})")
    return 1 if args.strict and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
