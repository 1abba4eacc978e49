"""dlcore.optim: the optimisers of the lectures, written once and checked against torch.optim.

- :mod:`dlcore.optim.functional`: each update rule as a pure function
  ``rule(param, grad, state, **hyper) -> (new_param, new_state)``, in :data:`RULES`; the same
  function steps a network's tensors or a (B, 2) batch of runs on a loss surface.
- the classes ``SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW``: ``torch.optim.Optimizer``
  subclasses with torch's keyword names and defaults, each a loop around its rule.
- :mod:`dlcore.optim.lbfgs`: ``LBFGS`` (torch.optim.LBFGS's signature and iterates) on
  ``two_loop``, the two-loop recursion d = -H_k g, plus ``lbfgs.path`` / ``lbfgs.newton_path``,
  L-BFGS's and Newton's runs on a 2-D surface as ``Trajectories``.
- schedules: ``constant, step_decay, inverse, exponential, cosine, warmup`` as functions of the
  step, ``warmup_then(name, steps=...)`` to put a linear warm-up in front of one,
  ``scheduler(optimizer, name, **kw)`` to use one with an optimiser, ``robbins_monro``, and
  ``ReduceOnPlateau``, the step decay driven by the validation loss.
"""
from __future__ import annotations

from . import functional, lbfgs
from .functional import RULES, init_state
from .lbfgs import LBFGS, two_loop
from .optimizers import SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSprop
from .schedules import (SCHEDULES, ReduceOnPlateau, RobbinsMonro, as_lambda, constant, cosine,
                        exponential, inverse, robbins_monro, scheduler, step_decay, warmup,
                        warmup_then)

__all__ = [
    "functional", "RULES", "init_state",
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW",
    "lbfgs", "LBFGS", "two_loop",
    "SCHEDULES", "constant", "step_decay", "inverse", "exponential", "cosine", "warmup",
    "warmup_then", "ReduceOnPlateau",
    "as_lambda", "scheduler", "robbins_monro", "RobbinsMonro",
]
