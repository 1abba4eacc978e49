r"""The optimisers as ``torch.optim.Optimizer`` subclasses, each a thin loop around its rule.

Each class takes the keyword names and defaults of its ``torch.optim`` counterpart and gives the
same iterates (tests/test_optim.py checks, in float64, against torch):

=============================================  =============================================
dlcore.optim                                   torch.optim
=============================================  =============================================
SGD(p, lr, weight_decay=0)                     SGD(p, lr, weight_decay=0)
Momentum(p, lr, momentum=0.9, weight_decay=0)  SGD(p, lr, momentum=0.9, weight_decay=0)
Nesterov(p, lr, momentum=0.9, weight_decay=0)  SGD(p, lr, momentum=0.9, nesterov=True, ...)
AdaGrad(p, lr=1e-2, lr_decay=0, ...)           Adagrad(p, lr=1e-2, lr_decay=0, ...)
RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8, ...) RMSprop(p, ...) (momentum=0, centered=False)
Adam(p, lr=1e-3, betas=(0.9, 0.999), ...)      Adam(p, ...) (amsgrad=False)
AdamW(p, lr=1e-3, ..., weight_decay=1e-2)      AdamW(p, ...) (amsgrad=False)
=============================================  =============================================

The rule itself lives once, in :mod:`dlcore.optim.functional`; ``step()`` calls it for every
parameter with a gradient, with ``out=param`` so that the new value is written into the
parameter (which must stay the same tensor: the model and autograd hold it) without a copy.
State is made lazily, on a parameter's first step, and keeps
torch's names (``momentum_buffer``, ``sum``, ``square_avg``, ``exp_avg``, ``exp_avg_sq``) plus
``step``, a python int. Every hyper-parameter is checked when a parameter group is added, so a
group added later with its own ``lr`` is checked too.

Notation (the lectures', Goodfellow et al. 2016, ch. 8): theta the parameters, g_t the gradient
of the mini-batch loss at step t, eta the learning rate, lambda the weight decay (added to the
gradient: g_t <- g_t + lambda theta, L2 regularisation, as torch.optim does it).
"""
from __future__ import annotations

import inspect

import torch
from torch.optim import Optimizer

from . import functional as F


def _keywords(fn) -> tuple:
    """The hyper-parameters ``fn`` takes: its arguments with a default, less ``out``."""
    return tuple(name for name, arg in inspect.signature(fn).parameters.items()
                 if arg.default is not arg.empty and name != "out")


class _RuleOptimizer(Optimizer):
    """Applies ``functional.RULES[rule]`` to every parameter with a gradient."""

    rule: str

    def __init_subclass__(cls, **kwargs):
        # The rule's own signature says which group entries it takes: torch adds entries of its
        # own to groups and defaults (``differentiable``; LambdaLR's ``initial_lr``).
        super().__init_subclass__(**kwargs)
        cls.update_keys = _keywords(F.RULES[cls.rule])
        cls.init_keys = _keywords(F.INITS[cls.rule])

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group.update(F.validate(**{k: group[k] for k in self.update_keys + self.init_keys}))

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        ``closure``, if given, re-evaluates the model and returns the loss (it runs with
        gradients enabled); its loss is returned.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        init, update, states = F.INITS[self.rule], F.RULES[self.rule], self.state
        for group in self.param_groups:
            hyper = {k: group[k] for k in self.update_keys}
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                state = states[p]  # one look-up: hashing a tensor is a python call
                if not state:
                    state.update(init(p, **{k: group[k] for k in self.init_keys}))
                state.update(update(p, grad, state, out=p, **hyper)[1])
        return loss


class SGD(_RuleOptimizer):
    r"""Stochastic gradient descent.

    ::

        input: eta (lr), lambda (weight_decay), theta_0
        for t = 1, 2, ...:
            g_t     = grad f(theta_{t-1}) + lambda theta_{t-1}
            theta_t = theta_{t-1} - eta g_t

    For torch's ``SGD(momentum=m)`` use :class:`Momentum`, for ``nesterov=True`` :class:`Nesterov`.
    """

    rule = "sgd"

    def __init__(self, params, lr: float = 1e-3, *, weight_decay: float = 0):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})


class Momentum(_RuleOptimizer):
    r"""SGD with heavy-ball momentum (Polyak 1964), as ``torch.optim.SGD(momentum=...)``.

    ::

        input: eta (lr), gamma (momentum), lambda (weight_decay), theta_0;  b_0 = 0
        for t = 1, 2, ...:
            g_t     = grad f(theta_{t-1}) + lambda theta_{t-1}
            b_t     = gamma b_{t-1} + g_t                      (so b_1 = g_1)
            theta_t = theta_{t-1} - eta b_t

    **The lectures' velocity form**, u_{t+1} = gamma u_t - eta g, theta_{t+1} = theta_t + u_{t+1}
    with g = grad f(theta_t), gives the same iterates: put u_t = -eta b_t. The box's update at
    theta_t is b_{t+1} = gamma b_t + g, so u_{t+1} = -eta (gamma b_t + g) = gamma u_t - eta g,
    and theta_{t+1} = theta_t - eta b_{t+1} = theta_t + u_{t+1}. The
    velocity is the buffer with its sign flipped and scaled by eta (in parameter units, b is in
    gradient units). The forms part only when eta changes mid-run (a schedule): a new eta
    rescales torch's whole buffer at once, while u keeps the steps taken at the old rate.
    This class follows torch, so its iterates match ``torch.optim.SGD`` exactly.
    """

    rule = "momentum"

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, *,
                 weight_decay: float = 0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})


class Nesterov(_RuleOptimizer):
    r"""SGD with Nesterov momentum, as ``torch.optim.SGD(momentum=..., nesterov=True)``.

    ::

        input: eta (lr), gamma (momentum), lambda (weight_decay), theta_0;  b_0 = 0
        for t = 1, 2, ...:
            g_t     = grad f(theta_{t-1}) + lambda theta_{t-1}
            b_t     = gamma b_{t-1} + g_t
            theta_t = theta_{t-1} - eta (g_t + gamma b_t)

    **The lectures' form** takes the gradient at a look-ahead point:
    u_{t+1} = gamma u_t - eta grad f(theta_t + gamma u_t), theta_{t+1} = theta_t + u_{t+1}.
    Torch (and this class) stores the look-ahead point itself, phi_t = theta_t + gamma u_t, so the
    gradient is taken where the parameters are. With u_t = -eta b_t:
    phi_{t+1} = theta_{t+1} + gamma u_{t+1} = phi_t + (u_{t+1} - gamma u_t) + gamma u_{t+1}
    = phi_t - eta grad f(phi_t) - eta gamma b_{t+1}: the update above, applied to phi.
    Since u_0 = 0, phi_0 = theta_0: both start at the same point, and this class's iterates are the
    lectures' look-ahead points (their theta_t is phi_t - gamma u_t). Iterates match torch exactly.
    """

    rule = "nesterov"

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, *,
                 weight_decay: float = 0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})


class AdaGrad(_RuleOptimizer):
    r"""AdaGrad (Duchi et al. 2011), as ``torch.optim.Adagrad``.

    ::

        input: eta (lr), delta (eps), lambda (weight_decay), eta_decay (lr_decay),
               r_0 (initial_accumulator_value, every entry), theta_0
        for t = 1, 2, ...:
            g_t     = grad f(theta_{t-1}) + lambda theta_{t-1}
            eta_t   = eta / (1 + (t - 1) eta_decay)
            r_t     = r_{t-1} + g_t^2                           (elementwise)
            theta_t = theta_{t-1} - eta_t g_t / (delta + sqrt(r_t))

    Each coordinate's rate shrinks with the gradients it has seen so far: steep directions slow
    down, flat ones keep their pace. The lectures' form is the same (delta outside the root);
    they suggest delta = 1e-7, torch's default is 1e-10. ``lr_decay`` is the inverse schedule
    (:func:`dlcore.optim.inverse`) built into torch's Adagrad; leave it 0 to see AdaGrad alone.
    """

    rule = "adagrad"

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10):
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})


class RMSprop(_RuleOptimizer):
    r"""RMSprop (Hinton 2012), as ``torch.optim.RMSprop`` with momentum=0, centered=False.

    ::

        input: eta (lr), rho (alpha), delta (eps), lambda (weight_decay), theta_0;  r_0 = 0
        for t = 1, 2, ...:
            g_t     = grad f(theta_{t-1}) + lambda theta_{t-1}
            r_t     = rho r_{t-1} + (1 - rho) g_t^2
            theta_t = theta_{t-1} - eta g_t / (sqrt(r_t) + delta)

    AdaGrad's sum becomes a moving average, so old gradients are forgotten (after about
    1/(1 - rho) steps) and the rate no longer decays to zero.

    **Where the lectures differ**: they put delta inside the root, eta g_t / sqrt(delta + r_t),
    with delta = 1e-6. This class follows torch (delta outside, default 1e-8), so its iterates
    match ``torch.optim.RMSprop`` exactly. The two agree wherever r_t >> delta; the lectures'
    denominator never falls below sqrt(delta) = 1e-3 (torch's: delta = 1e-8), so they differ
    for coordinates whose gradients have stayed tiny.
    """

    rule = "rmsprop"

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay})


class Adam(_RuleOptimizer):
    r"""Adam (Kingma & Ba 2015), as ``torch.optim.Adam`` (amsgrad=False).

    ::

        input: eta (lr), rho_1, rho_2 (betas), delta (eps), lambda (weight_decay), theta_0
               s_0 = 0, r_0 = 0
        for t = 1, 2, ...:
            g_t     = grad f(theta_{t-1}) + lambda theta_{t-1}
            s_t     = rho_1 s_{t-1} + (1 - rho_1) g_t               first moment (momentum)
            r_t     = rho_2 r_{t-1} + (1 - rho_2) g_t^2             second moment (RMSprop)
            s_hat_t = s_t / (1 - rho_1^t),  r_hat_t = r_t / (1 - rho_2^t)    bias correction
            theta_t = theta_{t-1} - eta s_hat_t / (sqrt(r_hat_t) + delta)

    The lectures' form is the same (delta outside the root, delta = 1e-8), and so are the
    iterates of ``torch.optim.Adam``. Torch computes the last line as
    (eta / (1 - rho_1^t)) s_t / (sqrt(r_t) / sqrt(1 - rho_2^t) + delta): the same number.

    **Why bias correction**: s and r start at 0, so early on they are averages over t terms
    with weights summing to 1 - rho^t, not 1: s_t underestimates the mean gradient by the factor
    1 - rho_1^t (0.1 at t = 1) and r_t the mean square by 1 - rho_2^t (0.001 at t = 1), the
    most at t = 1. ``bias_correction=False`` (not in torch) drops the division; with the default
    betas and a steady gradient the uncorrected step is then (1 - rho_1^t) / sqrt(1 - rho_2^t)
    times the corrected one: 3.2x at t = 1, up to 6.6x at t = 12, back towards 1x after a
    few thousand steps (1 / (1 - rho_2) = 1000 is r's memory).
    """

    rule = "adam"

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, *, bias_correction: bool = True):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "bias_correction": bias_correction})


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``
    (amsgrad=False).

    ::

        input: eta (lr), rho_1, rho_2 (betas), delta (eps), lambda (weight_decay), theta_0
               s_0 = 0, r_0 = 0
        for t = 1, 2, ...:
            g_t     = grad f(theta_{t-1})                           no lambda theta here
            theta'  = theta_{t-1} (1 - eta lambda)                  decay: every weight alike
            s_t     = rho_1 s_{t-1} + (1 - rho_1) g_t
            r_t     = rho_2 r_{t-1} + (1 - rho_2) g_t^2
            theta_t = theta' - eta s_hat_t / (sqrt(r_hat_t) + delta)     s_hat, r_hat as Adam's

    **Why**: with plain SGD, L2 (lambda theta added to g) and weight decay are one update. Under
    Adam they are not: :class:`Adam`'s ``weight_decay`` puts lambda theta into s and r, and the
    division by sqrt(r) scales it down where gradients are large, so those weights are barely
    regularised. AdamW shrinks each weight by 1 - eta lambda per step, whatever its gradient.
    Torch's default lambda is 1e-2 here (0 for Adam), and so is ours.
    """

    rule = "adamw"

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, *, bias_correction: bool = True):
        super().__init__(params, lr, betas, eps, weight_decay, bias_correction=bias_correction)
