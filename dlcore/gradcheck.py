r"""The numerical gradient check: an analytic gradient against central differences, in float64.

At a sampled coordinate i of an input x (e_i its unit vector), with ``a_i`` the analytic
gradient (a hand-written backward pass, or autograd's)::

    n_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)        the numerical gradient
    r_i = |a_i - n_i| / max(|a_i|, |n_i|, floor)             the relative error (0 equal, 1 unrelated)

``floor`` (1e-10) only keeps two gradients that are both ~0 from dividing 0 by 0.

How to read the largest r_i, after CS231n (float64, eps = 1e-5):

===================  =====================================================================
r < 1e-7             great: the gradient is right                          (``GRAD_GREAT``)
1e-7 <= r < 1e-5     good: rounding, largest where a gradient is tiny      (``GRAD_GOOD``)
1e-5 <= r < 1e-4     acceptable only where f has kinks (ReLU, max)         (``GRAD_KINKS``)
1e-4 <= r < 1e-2     uncomfortable: probably a bug
r >= 1e-2            wrong                                                 (``GRAD_WRONG``)
===================  =====================================================================

Why float64. n_i is off by truncation ~ eps^2 |f'''| / 6 plus rounding ~ m |f| / eps, with m
the machine epsilon of the dtype f is computed in (``torch.finfo(dtype).eps``). In float64
(m = 2.2e-16) both are ~1e-11 for a loss of order 1, and a right gradient gives a median r_i
of 1e-10 to 1e-8. In float32 (m = 1.2e-7) the rounding term is ~3e-2, comparable to the gradients
themselves: the check is more than 10,000 times worse and cannot tell right from wrong.

The noise floor. Rounding alone can push r_i of a coordinate with a tiny gradient over any
bound (a true gradient of exactly 0 comes out as 1e-17 against a central difference of
2e-11). So the rounding error of each n_i is estimated from its two evaluations,
noise_i = 4 m (|f(x + eps e_i)| + |f(x - eps e_i)|) / (2 eps), and only the *checkable*
coordinates count, those with max(|a_i|, |n_i|) tol > noise_i, whose r_i rounding cannot
push over ``tol``. If fewer than half of the sampled coordinates are checkable (float32,
vanishing gradients, too small an eps), the check is inconclusive and fails as too noisy.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import Tensor, nn

from . import _checks
from ._result import CheckResult
from .train import LOSSES, _check_pair

# CS231n's bands for the relative error |a - n| / max(|a|, |n|) of a gradient check in float64
GRAD_GREAT = 1e-7       # below: the gradient is right
GRAD_GOOD = 1e-5        # below: right; rounding lifts the error of coordinates with tiny gradients
GRAD_KINKS = 1e-4       # below: acceptable where the function has kinks (ReLU, max), too high if smooth
GRAD_WRONG = 1e-2       # above: the gradient is wrong


def relative_error(a: Tensor, n: Tensor, floor: float = 1e-10) -> Tensor:
    r"""Elementwise |a - n| / max(|a|, |n|, floor): 0 when equal, 1 when one of them is 0.

    ``floor`` keeps coordinates where both gradients are (numerically) zero from dividing 0 by 0:
    below it, a difference counts as absolute. The default suits float64 central differences
    with eps ~ 1e-5, whose rounding noise is ~1e-16 |f| / eps ~ 1e-11 for a loss of order 1:
    smaller gradients cannot be resolved anyway.
    """
    _checks.tensor("a", a)
    _checks.tensor("n", n)
    floor = _checks.number("floor", floor, low=0.0, low_open=True)
    if a.shape != n.shape:
        raise ValueError(f"a and n must have the same shape; got {tuple(a.shape)} and {tuple(n.shape)}")
    return (a - n).abs() / torch.clamp(torch.maximum(a.abs(), n.abs()), min=floor)


def gradient_check(f, inputs, *, args=(), analytic=None, names=None, loss: str = "cross_entropy",
                   eps: float = 1e-5, n_samples: int = 10, tol: float = 1e-5,
                   dtype: torch.dtype = torch.float64, train_mode: bool = False,
                   floor: float = 1e-10, seed: int = 0) -> CheckResult:
    r"""Compare an analytic gradient with a central-difference one at sampled coordinates.

    ::

        n_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)        the numerical gradient
        r_i = |a_i - n_i| / max(|a_i|, |n_i|)                    the relative error

    ``f`` is either a function or an ``nn.Module``:

    * a function ``f(*inputs, *args)`` returning a scalar tensor: the gradient is taken with
      respect to ``inputs`` (a tensor or a tuple of tensors); ``args`` are passed along but not
      differentiated (data, labels). The analytic gradient is ``analytic(*inputs, *args)`` (a
      tensor per input: your hand-written backward pass), or autograd's when ``analytic`` is
      None (which checks a custom ``torch.autograd.Function``'s backward);
    * a model: ``inputs = (X, y)`` and the gradient is that of ``loss`` (``'cross_entropy'`` or
      ``'mse'``) with respect to every parameter, by autograd. The model is copied; it runs in
      eval mode unless ``train_mode`` (dropout's random masks would break the check).

    ``floor`` is the smallest denominator of r_i (see :func:`relative_error`): a gradient that
    should be 0 and comes out as 1e-17 is not an error. ``names`` labels the inputs in messages
    (default ``inputs[0]``, ...; a model's parameters carry their own names). Everything
    floating is cast to ``dtype``: keep float64 (in float32 rounding swamps the difference; the
    module docstring has the error terms and CS231n's reading of r).

    The check passes when the largest r_i is below ``tol`` over the *checkable* coordinates,
    those whose gradient stands above the rounding noise of n_i (the module docstring's noise
    floor); if fewer than half are checkable it fails as inconclusive.
    ``details['median']`` is over all coordinates.

    ``n_samples`` coordinates of each tensor (all of them if fewer), drawn without replacement
    with a generator seeded by ``seed``, each cost two evaluations of f.
    ``details``: ``analytic``, ``numeric``, ``rel_error``, ``checked`` (numpy arrays, one per
    coordinate), ``coords`` (names like ``'linear1.weight[3, 17]'``), ``median``, ``per_tensor``
    (the largest r_i among each tensor's counted coordinates), ``dtype``, ``eps``.
    """
    eps = _checks.number("eps", eps, low=0.0, low_open=True)
    n_samples = _checks.integer("n_samples", n_samples, low=1)
    tol = _checks.number("tol", tol, low=0.0, low_open=True)
    dtype = _dtype(dtype)
    if not isinstance(train_mode, bool):
        raise TypeError(f"train_mode must be True or False; got {train_mode!r}")
    floor = _checks.number("floor", floor, low=0.0, low_open=True)
    gen = torch.Generator().manual_seed(_checks.integer("seed", seed, low=0))
    if isinstance(f, nn.Module):
        if analytic is not None or args != () or names is not None:
            raise ValueError("with a model, gradient_check takes inputs=(X, y) and uses autograd; "
                             "analytic, args and names are for a function f(*inputs, *args)")
        problem = _model_problem(f, inputs, loss, dtype, train_mode)
    else:
        problem = _function_problem(f, inputs, args, analytic, names, dtype)
    a, n, noise, coords, owner = _central_differences(*problem, dtype, eps, n_samples, gen)

    rel = relative_error(a, n, floor)
    rel = torch.where(torch.isfinite(rel), rel, torch.full_like(rel, math.inf))   # NaN -> inf: a failure
    med = rel.median().item()
    checkable = torch.maximum(a.abs(), n.abs()) * tol > noise   # rounding alone cannot push r_i over tol
    enough = 2 * int(checkable.sum()) >= len(coords)
    counted = checkable if enough else torch.ones_like(checkable)
    worst = int(torch.where(counted, rel, torch.full_like(rel, -1.0)).argmax())
    err = rel[worst].item()
    per_tensor = {}
    for name, r, c in zip(owner, rel.tolist(), counted.tolist()):
        per_tensor[name] = max(per_tensor.get(name, 0.0), r if c else 0.0)
    passed = enough and err < tol
    n_counted, n_checkable = int(counted.sum()), int(checkable.sum())
    typical_noise = np.median(noise.numpy())

    if enough:
        msg = (f"largest relative error {err:.1e} over {n_counted} coordinates (median "
               f"{med:.1e}), expected < {tol:.0e}: {_grad_verdict(err)}.")
        if n_counted < len(coords):
            msg += f" ({len(coords) - n_counted} more had gradients too small to check at this precision.)"
    else:
        msg = (f"inconclusive, too noisy: only {n_checkable} of {len(coords)} coordinates have a "
               f"gradient above the rounding noise of the central difference (~{typical_noise:.0e}) "
               f"/ tol; the relative error reaches {err:.1e} (median {med:.1e}), expected < {tol:.0e}.")
    if not passed:
        msg += (f" Worst at {coords[worst]}: analytic {a[worst].item():.6g}, numerical "
                f"{n[worst].item():.6g}. " + _grad_hints(a, n, per_tensor, tol, dtype, floor, enough))
    return CheckResult("gradient check", passed, err, (0.0, tol), msg,
                       {"analytic": a.numpy(), "numeric": n.numpy(), "rel_error": rel.numpy(),
                        "checked": counted.numpy(), "coords": coords, "median": med,
                        "per_tensor": per_tensor, "dtype": dtype, "eps": eps})


def _dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"dtype must be a floating torch dtype, one of torch.float64, torch.float32, "
                         f"torch.float16, torch.bfloat16; got {dtype!r}")
    return dtype


def _compute_device(device: torch.device, dtype: torch.dtype) -> torch.device:
    # Apple's MPS has no float64: a float64 check runs on the CPU there
    return torch.device("cpu") if device.type == "mps" and dtype == torch.float64 else device


def _as_tuple(name, value) -> tuple:
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    raise TypeError(f"{name} must be a tensor or a tuple of tensors; got {type(value).__name__}")


def _central_differences(xs, names, evaluate, grads, dtype, eps, n_samples, gen):
    """n_i, its rounding noise and a_i at ``n_samples`` coordinates of each tensor in ``xs``.

    Returns (a, n, noise) as float64 tensors of shape (coordinates,), and per coordinate its
    name (``'W1[3, 17]'``) and its tensor's name. A bias has few entries but its own backward
    pass, so every tensor gets its own sample.
    """
    a, n, noise, coords, owner = [], [], [], [], []
    m = torch.finfo(dtype).eps                      # 2x the unit roundoff: f carries several roundings
    with torch.no_grad():
        for x, name, g in zip(xs, names, grads):
            picks = torch.randperm(x.numel(), generator=gen)[:min(n_samples, x.numel())].sort().values
            flat = x.view(-1)                       # a view: writing to it perturbs x itself
            for i in picks.tolist():
                old = flat[i].item()
                flat[i] = old + eps
                up = evaluate().item()
                flat[i] = old - eps
                down = evaluate().item()
                flat[i] = old
                n.append((up - down) / (2 * eps))
                noise.append(4 * m * (abs(up) + abs(down)) / (2 * eps))
                a.append(g.reshape(-1)[i].item())
                index = np.unravel_index(i, tuple(x.shape)) if x.dim() else ()
                coords.append(f"{name}[{', '.join(str(int(j)) for j in index)}]")
                owner.append(name)
    return (*(torch.tensor(v, dtype=torch.float64) for v in (a, n, noise)), coords, owner)


def _model_problem(model, inputs, loss, dtype, train_mode):
    """(parameters, their names, loss evaluation, autograd gradients) of a copy of ``model``."""
    loss_fn = LOSSES[_checks.choice("loss", loss, LOSSES)]
    X, y = _check_pair("inputs", inputs)
    dev = _compute_device(X.device, dtype)
    net = copy.deepcopy(model).to(device=dev, dtype=dtype).train(train_mode)
    X = X.to(device=dev, dtype=dtype)
    y = y.to(device=dev, dtype=dtype) if y.is_floating_point() else y.to(dev)
    named = [(name, p) for name, p in net.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no parameter that requires a gradient")

    def evaluate():
        return loss_fn(net(X), y)

    net.zero_grad(set_to_none=True)
    evaluate().backward()
    xs = [p for _, p in named]
    grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in xs]
    return xs, [name for name, _ in named], evaluate, grads


def _function_problem(f, inputs, args, analytic, names, dtype):
    """(inputs cast to ``dtype``, their names, f's evaluation, analytic or autograd gradients)."""
    if not callable(f):
        raise TypeError(f"f must be a function returning a scalar tensor, or an nn.Module; "
                        f"got {type(f).__name__}")
    if analytic is not None and not callable(analytic):
        raise TypeError(f"analytic must be a function returning the gradient(s), or None; "
                        f"got {type(analytic).__name__}")
    raw = _as_tuple("inputs", inputs)
    if not raw:
        raise ValueError("inputs is empty: give the tensor(s) to differentiate")
    for i, t in enumerate(raw):
        _checks.tensor(f"inputs[{i}]", t)
    dev = _compute_device(raw[0].device, dtype)
    xs = [t.detach().to(device=dev, dtype=dtype).clone().contiguous() for t in raw]
    # data passed along: floating tensors in the same dtype (labels stay integers)
    extra = tuple(a.to(device=dev, dtype=dtype if a.is_floating_point() else a.dtype)
                  if isinstance(a, Tensor) else a for a in _as_tuple("args", args))
    if names is None:
        names = [f"inputs[{i}]" for i in range(len(xs))] if len(xs) > 1 else ["input"]
    elif (isinstance(names, (str, bytes)) or not hasattr(names, "__len__") or len(names) != len(xs)
          or not all(isinstance(k, str) for k in names)):
        raise ValueError(f"names must be {len(xs)} strings, one per input; got {names!r}")

    def evaluate(*at):
        out = f(*(at or xs), *extra)
        if not isinstance(out, Tensor) or out.numel() != 1:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"f must return a scalar tensor (one number); got {got}")
        return out.reshape(())

    if analytic is None:
        leaves = [x.clone().requires_grad_() for x in xs]
        grads = torch.autograd.grad(evaluate(*leaves), leaves, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(x) for g, x in zip(grads, xs)]
    else:
        with torch.no_grad():
            grads = _as_tuple("analytic(...)", analytic(*xs, *extra))
        if len(grads) != len(xs):
            raise ValueError(f"analytic must return one gradient per input ({len(xs)}); got {len(grads)}")
        for i, (g, x) in enumerate(zip(grads, xs)):
            _checks.tensor(f"analytic(...)[{i}]", g)
            if g.shape != x.shape:
                raise ValueError(f"analytic(...)[{i}] has shape {tuple(g.shape)} but {names[i]} has "
                                 f"shape {tuple(x.shape)}")
        grads = [g.detach().to(device=dev, dtype=dtype).clone() for g in grads]
    return xs, list(names), evaluate, grads


def _grad_verdict(err: float) -> str:
    if err < GRAD_GREAT:
        return "great"
    if err < GRAD_GOOD:
        return "good (rounding error, largest where a gradient is tiny)"
    if err < GRAD_KINKS:
        return "acceptable only where the function has kinks (ReLU, max); too high for a smooth one"
    if err < GRAD_WRONG:
        return "uncomfortable: probably a bug"
    return "wrong"


def _grad_hints(a, n, per_tensor, tol, dtype, floor, enough) -> str:
    """What a failed gradient check most likely means, from the pattern of the errors."""
    if dtype != torch.float64:
        return (f"This ran in {str(dtype).replace('torch.', '')}: its rounding error, divided by 2 eps, "
                f"swamps the difference; run the check in float64.")
    if not enough:
        return ("The gradients are tiny (saturated or dead units?) or eps is too small: try eps=1e-4, "
                "or check a network whose gradients are not vanishing.")
    ok = n.abs() > 1e3 * floor
    ratio = a[ok] / n[ok]                      # analytic / numerical where the latter is not ~0
    if ratio.numel() >= 3 and bool((ratio - ratio.median()).abs().max() < 1e-3 * ratio.median().abs()):
        return (f"The analytic gradient is {ratio.median().item():.4g} times the numerical one "
                f"everywhere: a constant factor is missing or extra (1/N of a mean, 2 of a square).")
    wrong = [k for k, v in per_tensor.items() if not v < tol]
    right = [k for k, v in per_tensor.items() if v < tol]
    hints = []
    if right:
        hints.append(f"Wrong in {', '.join(wrong)}; right in {', '.join(right)}: the bug is in the "
                     f"backward pass between them.")
    if max(per_tensor.values()) < GRAD_WRONG:
        hints.append("If the function has kinks (ReLU, max, abs), a coordinate near a kink can fail: "
                     "look at the median; otherwise check the backward pass of that tensor.")
    else:
        hints.append(f"Check each term of the chain rule in the backward pass of {', '.join(wrong)} "
                     f"(a missing derivative, a transpose, a sign).")
    return " ".join(hints)


__all__ = ["relative_error", "gradient_check", "GRAD_GREAT", "GRAD_GOOD", "GRAD_KINKS", "GRAD_WRONG"]
