"""A small training loop: mini-batch steps, a history of losses, a progress bar, divergence caught."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .progress import Progress

LOSSES = {
    "cross_entropy": F.cross_entropy,   # logits (n, C), labels (n,) int64
    "mse": F.mse_loss,                  # outputs and targets of the same shape
}


@dataclass
class History:
    """What ``fit`` saw: the training loss at every step, validation metrics every ``eval_every``.

    ``diverged_at`` is the step whose loss was inf/NaN (training stopped there), else None.
    """

    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    val_step: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    diverged_at: int | None = None
    seconds: float = 0.0

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def final_loss(self, last: int = 10) -> float:
        """Mean training loss over the last ``last`` steps (a less noisy 'where it ended')."""
        if not self.loss:
            raise ValueError("the history is empty: nothing was trained")
        tail = self.loss[-last:]
        return sum(tail) / len(tail)


def _check_pair(name, pair):
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(f"{name} must be a pair (X, y) of tensors; got {type(pair).__name__}")
    X, y = (_checks.tensor(f"{name}[{i}]", t, min_dim=1) for i, t in enumerate(pair))
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: X has {X.shape[0]} rows but y has {y.shape[0]}")
    return X, y


@torch.no_grad()
def evaluate(model: nn.Module, data, loss: str = "cross_entropy") -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on ``data = (X, y)`` in eval mode; accuracy is NaN for mse."""
    X, y = _check_pair("data", data)
    loss_fn = LOSSES[_checks.choice("loss", loss, LOSSES)]
    was_training = model.training
    model.eval()
    out = model(X)
    model.train(was_training)
    acc = (out.argmax(1) == y).float().mean().item() if loss == "cross_entropy" else float("nan")
    return loss_fn(out, y).item(), acc


def fit(model: nn.Module, train, *, steps: int = 500, batch_size: int | None = 64,
        optimizer: torch.optim.Optimizer | None = None, lr: float = 0.1,
        loss: str = "cross_entropy", val=None, eval_every: int = 50, seed: int = 0,
        blowup: float | None = None, progress: bool | None = None) -> History:
    """Train ``model`` for ``steps`` mini-batch steps on ``train = (X, y)``; return a History.

    Mini-batches are drawn by reshuffling the data every epoch with a generator seeded by
    ``seed`` (``batch_size=None``: full-batch gradient descent). ``optimizer`` defaults to plain
    SGD with ``lr``. A step whose loss is inf or NaN stops the run and is recorded in
    ``history.diverged_at``, so a caller can show "diverged at step k" instead of a broken plot.
    ``blowup``: a step whose loss exceeds ``blowup`` times the first step's loss counts as
    diverged too and stops the run (with cross-entropy a too-large rate seldom reaches inf: it
    jumps to a huge loss and then sits at a bad one); None (the default): only inf/NaN.
    A progress bar appears for runs longer than a second (and vanishes at the end) (``progress=False`` hides it).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    X, y = _check_pair("train", train)
    steps = _checks.integer("steps", steps, low=0)
    n = X.shape[0]
    if batch_size is not None:
        batch_size = _checks.integer("batch_size", batch_size, low=1, high=n)
    loss_fn = LOSSES[_checks.choice("loss", loss, LOSSES)]
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=_checks.number("lr", lr, low=0.0, low_open=True))
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    if val is not None:
        val = _check_pair("val", val)
    eval_every = _checks.integer("eval_every", eval_every, low=1)
    if blowup is not None:
        blowup = _checks.number("blowup", blowup, low=1.0, low_open=True)

    gen = torch.Generator().manual_seed(_checks.integer("seed", seed, low=0))
    hist = History()
    limit = math.inf  # blowup x the first loss, once there is one
    order, cursor = None, n
    was_training = model.training
    model.train()
    start = time.perf_counter()
    bar = Progress(steps, "training", delay=1.0, disable=(progress is False))
    try:
        for step in range(1, steps + 1):
            bar.update(step - 1)
            if batch_size is None:
                xb, yb = X, y
            else:
                if cursor + batch_size > n:  # new epoch: a fresh permutation
                    order, cursor = torch.randperm(n, generator=gen).to(X.device), 0
                idx = order[cursor:cursor + batch_size]
                cursor += batch_size
                xb, yb = X[idx], y[idx]
            value = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            value = value.item()
            hist.step.append(step)
            hist.loss.append(value)
            if not math.isfinite(value) or value > limit:
                hist.diverged_at = step
                break
            if step == 1 and blowup is not None:
                limit = blowup * value
            if val is not None and (step % eval_every == 0 or step == steps):
                vl, va = evaluate(model, val, loss)
                hist.val_step.append(step)
                hist.val_loss.append(vl)
                hist.val_acc.append(va)
    finally:
        bar.close()   # however the run ends (diverged, interrupted): no bar is left
    model.train(was_training)
    hist.seconds = time.perf_counter() - start
    return hist


__all__ = ["fit", "evaluate", "History", "LOSSES"]
