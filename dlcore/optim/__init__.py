"""dlcore.optim: the optimisers of the lectures, written once and checked against torch.optim.

- :mod:`dlcore.optim.functional`: each update rule as a pure function
  ``rule(param, grad, state, **hyper) -> (new_param, new_state)``, in :data:`RULES`; the same
  function steps a network's tensors or a (B, 2) batch of runs on a loss surface.
- the classes ``SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam``: ``torch.optim.Optimizer``
  subclasses with torch's keyword names and defaults, each a loop around its rule.
- schedules: ``constant, step_decay, inverse, exponential`` as functions of the step,
  ``scheduler(optimizer, name, **kw)`` to use one with an optimiser, and ``robbins_monro``.
"""
from __future__ import annotations

from . import functional
from .functional import RULES, init_state
from .optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .schedules import (SCHEDULES, RobbinsMonro, as_lambda, constant, exponential, inverse,
                        robbins_monro, scheduler, step_decay)

__all__ = [
    "functional", "RULES", "init_state",
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
    "SCHEDULES", "constant", "step_decay", "inverse", "exponential",
    "as_lambda", "scheduler", "robbins_monro", "RobbinsMonro",
]
