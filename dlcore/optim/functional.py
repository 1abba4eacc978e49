r"""The update rules, each written once as a pure function (optax-style).

Every rule has the signature ::

    new_param, new_state = rule(param, grad, state, *, lr=..., <its hyper-parameters>, out=None)

and every rule's state is made by ``init_state(name, param, **init_kwargs)`` (or the rule's own
``init_<name>(param)``): a dict of tensors shaped like ``param`` plus ``'step'``, the number of
updates taken so far (a python int, 0 at the start). Nothing is changed in place: the inputs are
left as they were and new tensors come back, so a trajectory can keep every iterate.

``out`` is the one exception, and only on request: the new parameter is written into it (the
rule's last operation writes there directly) and ``out`` is returned. The optimiser classes pass
``out=param``, which updates the parameter in place, as ``torch.optim`` does. Measured on a
784-100-100-10 MLP (benchmarks/optim_step.py), returning a new tensor and copying it into the
parameter made plain SGD's step 1.6x slower than torch's: two extra passes over memory for
one pass of arithmetic. With ``out`` every class is within a few per cent of torch.optim.

The rules use only elementwise torch arithmetic, so one function drives two very different things:

* a network: one call per parameter tensor, python-float hyper-parameters
  (:mod:`dlcore.optim.optimizers` does exactly this);
* a batch of runs on a 2-D loss surface: ``param`` of shape (B, 2) and any hyper-parameter a
  tensor of shape (B, 1), one setting per run (give it ``param``'s dtype), e.g. ::

      theta = torch.zeros(1000, 2, dtype=torch.float64)
      lrs = torch.logspace(-3, 0, 1000, dtype=torch.float64)[:, None]
      state = init_state("adam", theta)
      for _ in range(100):
          theta, state = adam(theta, grad_f(theta), state, lr=lrs, betas=(0.9, 0.999))

Speed: for a python-number coefficient the helpers below call torch's fused kernels (``torch.add``
with ``alpha``, ``addcmul``, ``addcdiv``, ``lerp``), the same ones ``torch.optim`` calls, so the
optimiser classes keep pace with ``torch.optim``; for a tensor coefficient they spell out the same
arithmetic with broadcasting. The rules do not check their arguments (they run once per parameter
per step); :func:`validate` does, and the optimiser classes call it once per parameter group.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from .. import _checks

# ------------------------------------------------------------- elementwise helpers (x + a * ...)


def _axpy(x: Tensor, a, y: Tensor, out=None) -> Tensor:
    """x + a * y."""
    if isinstance(a, Tensor):
        return torch.add(x, a * y, out=out)
    return torch.add(x, y, alpha=a, out=out)


def _addcmul(x: Tensor, a, y: Tensor, z: Tensor) -> Tensor:
    """x + a * y * z."""
    return x + a * (y * z) if isinstance(a, Tensor) else torch.addcmul(x, y, z, value=a)


def _addcdiv(x: Tensor, a, y: Tensor, z: Tensor, out=None) -> Tensor:
    """x + a * y / z."""
    if isinstance(a, Tensor):
        return torch.add(x, a * (y / z), out=out)
    return torch.addcdiv(x, y, z, value=a, out=out)


def _lerp(x: Tensor, y: Tensor, w) -> Tensor:
    """x + w * (y - x) = (1 - w) x + w y (torch.lerp wants a tensor weight of x's own dtype)."""
    return x + w * (y - x) if isinstance(w, Tensor) else torch.lerp(x, y, w)


def _decay(grad: Tensor, param: Tensor, weight_decay) -> Tensor:
    """The gradient of f + (weight_decay / 2) |param|^2: L2 regularisation, as torch.optim does it."""
    if isinstance(weight_decay, Tensor) or weight_decay != 0:
        return _axpy(grad, weight_decay, param)
    return grad


# ------------------------------------------------------------------------------- the rules

def init_sgd(param: Tensor) -> dict:
    """Plain SGD remembers nothing but the step count."""
    return {"step": 0}


def sgd(param, grad, state, *, lr=1e-3, weight_decay=0.0, out=None):
    """theta <- theta - lr * g."""
    grad = _decay(grad, param, weight_decay)
    return _axpy(param, -lr, grad, out), {"step": state["step"] + 1}


def init_momentum(param: Tensor) -> dict:
    """The buffer b (torch's ``momentum_buffer``), 0 everywhere."""
    return {"step": 0, "momentum_buffer": torch.zeros_like(param)}


def momentum(param, grad, state, *, lr=1e-3, momentum=0.9, weight_decay=0.0, out=None):
    """b <- momentum * b + g;  theta <- theta - lr * b  (torch's SGD(momentum=...) form).

    The buffer starts at 0, so the first step sets b = g exactly, as torch does.
    """
    grad = _decay(grad, param, weight_decay)
    buf = _axpy(grad, momentum, state["momentum_buffer"])
    return _axpy(param, -lr, buf, out), {"step": state["step"] + 1, "momentum_buffer": buf}


init_nesterov = init_momentum


def nesterov(param, grad, state, *, lr=1e-3, momentum=0.9, weight_decay=0.0, out=None):
    """b <- momentum * b + g;  theta <- theta - lr * (g + momentum * b)  (torch's nesterov=True)."""
    grad = _decay(grad, param, weight_decay)
    buf = _axpy(grad, momentum, state["momentum_buffer"])
    step = _axpy(grad, momentum, buf)
    return _axpy(param, -lr, step, out), {"step": state["step"] + 1, "momentum_buffer": buf}


def init_adagrad(param: Tensor, initial_accumulator_value=0.0) -> dict:
    """The running sum of squared gradients r (torch's ``sum``), initial_accumulator_value everywhere."""
    # zeros + value rather than full_like: the value may be a (B, 1) tensor, one per run
    return {"step": 0, "sum": torch.zeros_like(param) + initial_accumulator_value}


def adagrad(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
            out=None):
    """r <- r + g^2;  theta <- theta - lr_t * g / (sqrt(r) + eps),  lr_t = lr / (1 + (t-1) lr_decay)."""
    t = state["step"] + 1
    grad = _decay(grad, param, weight_decay)
    clr = lr / (1 + (t - 1) * lr_decay)
    acc = _addcmul(state["sum"], 1.0, grad, grad)
    return _addcdiv(param, -clr, grad, acc.sqrt() + eps, out), {"step": t, "sum": acc}


def init_rmsprop(param: Tensor) -> dict:
    """The moving average of squared gradients r (torch's ``square_avg``), 0 everywhere."""
    return {"step": 0, "square_avg": torch.zeros_like(param)}


def rmsprop(param, grad, state, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, out=None):
    """r <- alpha * r + (1 - alpha) g^2;  theta <- theta - lr * g / (sqrt(r) + eps)."""
    grad = _decay(grad, param, weight_decay)
    avg = _addcmul(state["square_avg"] * alpha, 1 - alpha, grad, grad)
    new = _addcdiv(param, -lr, grad, avg.sqrt() + eps, out)
    return new, {"step": state["step"] + 1, "square_avg": avg}


def init_adam(param: Tensor) -> dict:
    """The first and second moments s and r (torch's ``exp_avg``, ``exp_avg_sq``), 0 everywhere."""
    return {"step": 0, "exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}


def adam(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
         bias_correction=True, out=None):
    """s <- b1 s + (1-b1) g;  r <- b2 r + (1-b2) g^2;  theta <- theta - lr * s_hat / (sqrt(r_hat) + eps).

    s_hat = s / (1 - b1^t), r_hat = r / (1 - b2^t) with ``bias_correction`` (torch's Adam);
    s_hat = s, r_hat = r without it. Computed as torch does: (lr / (1 - b1^t)) * s /
    (sqrt(r) / sqrt(1 - b2^t) + eps), the same number with fewer full-size operations.
    """
    beta1, beta2 = betas
    t = state["step"] + 1
    grad = _decay(grad, param, weight_decay)
    s = _lerp(state["exp_avg"], grad, 1 - beta1)
    r = _addcmul(state["exp_avg_sq"] * beta2, 1 - beta2, grad, grad)
    if bias_correction:
        step_size = lr / (1 - beta1**t)
        denom = r.sqrt() / (1 - beta2**t) ** 0.5 + eps
    else:
        step_size, denom = lr, r.sqrt() + eps
    return _addcdiv(param, -step_size, s, denom, out), {"step": t, "exp_avg": s, "exp_avg_sq": r}


init_adamw = init_adam


def adamw(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
          bias_correction=True, out=None):
    """theta <- theta (1 - lr * weight_decay), then Adam's step on the raw gradient g (AdamW).

    Decoupled weight decay (Loshchilov & Hutter 2019): the decay never enters s or r, so every
    weight shrinks by the same factor 1 - lr * lambda per step, whatever its gradient's size.
    Adam's ``weight_decay`` instead adds lambda * theta to g, and the division by sqrt(r) then
    shrinks a weight with large gradients far less than one with small gradients. Torch's order:
    decay first, then the Adam step from the decayed point.
    """
    decayed = param * (1 - lr * weight_decay)
    return adam(decayed, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0,
                bias_correction=bias_correction, out=out)


RULES = {
    "sgd": sgd, "momentum": momentum, "nesterov": nesterov,
    "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam, "adamw": adamw,
}
INITS = {
    "sgd": init_sgd, "momentum": init_momentum, "nesterov": init_nesterov,
    "adagrad": init_adagrad, "rmsprop": init_rmsprop, "adam": init_adam, "adamw": init_adamw,
}


def init_state(name: str, param: Tensor, **init_kwargs) -> dict:
    """The starting state of rule ``name`` for ``param`` (only adagrad takes a keyword:
    ``initial_accumulator_value``, a float or a (B, 1) tensor)."""
    _checks.choice("name", name, RULES)
    _checks.tensor("param", param)
    return INITS[name](param, **init_kwargs)


# ------------------------------------------------------------------------------ validation

# argument: (what it is, low, high, high_open); every range is closed at its low end
_RANGES = {
    "lr": ("learning rate", 0.0, math.inf, False),
    "momentum": ("momentum", 0.0, 1.0, True),
    "weight_decay": ("weight decay", 0.0, math.inf, False),
    "lr_decay": ("learning-rate decay", 0.0, math.inf, False),
    "initial_accumulator_value": ("initial accumulator value", 0.0, math.inf, False),
    "eps": ("epsilon", 0.0, math.inf, False),
    "alpha": ("smoothing constant", 0.0, 1.0, True),
    "betas[0]": ("beta", 0.0, 1.0, True),
    "betas[1]": ("beta", 0.0, 1.0, True),
}


def _check(name: str, value):
    what, low, high, high_open = _RANGES[name]
    interval = f"[{low:g}, {high:g}{')' if high_open or high == math.inf else ']'}"
    if isinstance(value, Tensor):
        bad = ~torch.isfinite(value) | (value < low) | ((value >= high) if high_open else (value > high))
        if bad.any():
            raise ValueError(f"invalid {what} {name}={value[bad].flatten()[0].item()} "
                             f"(one of its entries): must be in {interval}")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number or a tensor; got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and low <= value and (value < high if high_open else value <= high)):
        raise ValueError(f"invalid {what} {name}={value}: must be in {interval}")
    return value


def validate(**hyper) -> dict:
    """Check hyper-parameters by name and return them cleaned (numbers as floats, betas a tuple).

    Numbers and tensors (checked entry by entry) are both accepted; a bad value raises a
    ValueError naming the argument and its valid range, e.g. ``invalid momentum momentum=1.5:
    must be in [0, 1)``. ``bias_correction`` must be a bool.
    """
    out = {}
    for name, value in hyper.items():
        if name == "betas":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
                raise TypeError(f"betas must be a pair (beta1, beta2); got {value!r}")
            out[name] = (_check("betas[0]", value[0]), _check("betas[1]", value[1]))
        elif name == "bias_correction":
            if not isinstance(value, bool):
                raise TypeError(f"bias_correction must be True or False; got {value!r}")
            out[name] = value
        elif name in _RANGES:
            out[name] = _check(name, value)
        else:
            valid = sorted({n.split("[")[0] for n in _RANGES} | {"bias_correction"})
            raise TypeError(f"unknown hyper-parameter {name!r}; valid names are {valid}")
    return out
