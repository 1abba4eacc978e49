r"""Regularisation written out: L2 and L1 penalties, decoupled weight decay, early stopping.

Which parameters count as weights: by default only those with 2 or more dimensions (the
weights of Linear and convolution layers, and a dlcore.ensemble.Ensemble's stacked
``weights.l``) whose name does not say ``bias``. Biases, BatchNorm's gamma and beta (1-D)
and an Ensemble's stacked ``biases.l`` (2-D, but named so) are left out, as the lectures do:
a bias shifts a unit without making the function any steeper, so shrinking it does not
regularise, and shrinking gamma would fight the normalisation. ``include_bias=True`` takes
every parameter. A plain list of tensors has no names: there the dimension rule alone decides.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from . import _checks


def _weights(model_or_params, include_bias: bool) -> list[Tensor]:
    if not isinstance(include_bias, bool):
        raise TypeError(f"include_bias must be True or False; got {include_bias!r}")
    if isinstance(model_or_params, nn.Module):
        named = list(model_or_params.named_parameters())
    elif isinstance(model_or_params, Tensor):
        named = [("", model_or_params)]
    else:
        try:
            named = [("", p) for p in model_or_params]
        except TypeError:
            raise TypeError(f"model_or_params must be an nn.Module or an iterable of tensors; "
                            f"got {type(model_or_params).__name__}") from None
    for i, (_, p) in enumerate(named):
        if not isinstance(p, Tensor):
            raise TypeError(f"model_or_params[{i}] must be a torch.Tensor; got {type(p).__name__}")
    if include_bias:
        return [p for _, p in named]
    return [p for name, p in named if p.dim() >= 2 and not _is_bias(name)]


def _is_bias(name: str) -> bool:
    """'linear1.bias' and an Ensemble's 'biases.0': the last part of the name that is not a
    list index says bias."""
    parts = [part for part in name.split(".") if not part.isdigit()]
    return bool(parts) and "bias" in parts[-1]


def l2_penalty(model_or_params, lam: float, *, include_bias: bool = False) -> Tensor:
    r"""The L2 penalty (lam / 2) sum_w w^2 over the weights, a scalar tensor with a graph.

    ::

        Omega(w) = (lam / 2) ||w||^2,    dOmega/dw = lam w

    Add it to the loss: the gradient step then becomes w <- w - lr (dC/dw + lam w)
    = (1 - lr lam) w - lr dC/dw, weight decay (see :func:`decoupled_weight_decay_`).
    Biases are excluded unless ``include_bias`` (module docstring).
    """
    lam = _checks.number("lam", lam, low=0.0)
    ws = _weights(model_or_params, include_bias)
    if not ws:
        raise ValueError("no weights to penalise (only biases / 1-D parameters were given; "
                         "pass include_bias=True to penalise those)")
    return 0.5 * lam * sum(w.square().sum() for w in ws)


def l1_penalty(model_or_params, lam: float, *, include_bias: bool = False) -> Tensor:
    r"""The L1 penalty lam sum_w |w| over the weights, a scalar tensor with a graph.

    ::

        Omega(w) = lam ||w||_1,    dOmega/dw = lam sign(w)     (0 at w = 0, as torch.abs)

    Its gradient has the same size however small w is, so it pushes weights to exactly 0
    (sparsity) where L2's lam w fades away. Biases excluded unless ``include_bias``.
    """
    lam = _checks.number("lam", lam, low=0.0)
    ws = _weights(model_or_params, include_bias)
    if not ws:
        raise ValueError("no weights to penalise (only biases / 1-D parameters were given; "
                         "pass include_bias=True to penalise those)")
    return lam * sum(w.abs().sum() for w in ws)


@torch.no_grad()
def decoupled_weight_decay_(model_or_params, lr: float, lam: float, *,
                            include_bias: bool = False) -> None:
    r"""Weight decay as the lectures write it, in place: w <- (1 - lam lr) w.

    Called before (or after) ``optimizer.step()`` on the gradient of the loss alone. With
    plain SGD, decay then step gives w - lr lam w - lr dC/dw, the SGD step on C + (lam/2)||w||^2
    (tests/test_regularise.py checks this). With Adam the two differ, and the decoupled form
    is AdamW's (Loshchilov & Hutter 2019): the decay is not divided by Adam's sqrt(v).
    Biases excluded unless ``include_bias``.
    """
    lr = _checks.number("lr", lr, low=0.0)
    lam = _checks.number("lam", lam, low=0.0)
    factor = 1.0 - lam * lr
    if factor < 0.0:  # each step would flip the sign of every weight: not a decay any more
        raise ValueError(f"lam * lr must be <= 1; got lam * lr = {lam * lr}")
    for w in _weights(model_or_params, include_bias):
        w.mul_(factor)


class EarlyStopping:
    r"""Keep the weights of the best validation loss; say when ``patience`` checks brought none better.

    ::

        on each check t with validation loss L_t:
            if L_t < best - min_delta:  best <- L_t, best_step <- t, keep a copy of the weights,
                                        bad <- 0
            else:                       bad <- bad + 1
            stop when bad >= patience

    ``step(loss, model)`` records one check (an epoch, or every few steps) and returns True when
    it is time to stop; ``restore(model)`` loads the best weights back. The copy is a deep copy of
    ``model.state_dict()`` (parameters and buffers, BatchNorm's running statistics included),
    so later training cannot change it. A NaN or inf loss never counts as an improvement.
    """

    def __init__(self, patience: int = 10, *, min_delta: float = 0.0):
        self.patience = _checks.integer("patience", patience, low=1)
        self.min_delta = _checks.number("min_delta", min_delta, low=0.0)
        self.best_loss = math.inf
        self.best_step: int | None = None
        self.best_state: dict | None = None
        self.bad_steps = 0
        self.steps = 0

    @property
    def should_stop(self) -> bool:
        return self.bad_steps >= self.patience

    def step(self, loss, model: nn.Module, step: int | None = None) -> bool:
        """Record validation ``loss`` (a number or a one-element tensor) for ``model``; ``step``
        labels this check (default: 1, 2, ... in calling order). Returns :attr:`should_stop`."""
        if isinstance(loss, Tensor):
            if loss.numel() != 1:
                raise ValueError(f"loss must be one number; got a tensor of shape {tuple(loss.shape)}")
            loss = loss.item()
        if isinstance(loss, bool) or not isinstance(loss, (int, float)):
            raise TypeError(f"loss must be a real number; got {type(loss).__name__}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        self.steps += 1
        step = self.steps if step is None else _checks.integer("step", step)
        if loss < self.best_loss - self.min_delta:  # False for NaN: never an improvement
            self.best_loss, self.best_step, self.bad_steps = float(loss), step, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_steps += 1
        return self.should_stop

    def restore(self, model: nn.Module) -> nn.Module:
        """Load the best weights into ``model`` (a copy of them: restoring twice works); return it."""
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        if self.best_state is None:
            raise RuntimeError("no best weights yet: call step(loss, model) with a finite loss first")
        model.load_state_dict(copy.deepcopy(self.best_state))
        return model

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, best_loss={self.best_loss:.4g}, "
                f"best_step={self.best_step}, bad_steps={self.bad_steps})")


__all__ = ["l2_penalty", "l1_penalty", "decoupled_weight_decay_", "EarlyStopping"]
