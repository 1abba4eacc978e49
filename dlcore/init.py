r"""Weight initialisation schemes, written out in the style of ``torch.nn.init``.

Every function fills a tensor in place, returns it, and takes the same keyword names as its
``torch.nn.init`` counterpart (``gain``, ``a``, ``mode``, ``nonlinearity``, ``generator``), so
with the same generator the two produce the same numbers (tests/test_init.py checks).

For a weight matrix ``W`` of shape ``(fan_out, fan_in)`` (an ``nn.Linear`` weight), the
variance each scheme chooses, and why:

==================  =====================================  ==========================================
scheme              Var(w)                                 keeps ... constant across layers
==================  =====================================  ==========================================
lecun_normal_       1 / fan_in                             Var(a) for a linear unit: Var(a) = d Var(w) Var(x)
xavier_*            gain^2 * 2 / (fan_in + fan_out)        forward and backward variance, averaged
                    (uniform: bound gain * sqrt(6/(m+n)))  (Glorot & Bengio 2010, for tanh)
kaiming_* (He)      gain^2 / fan  (gain sqrt(2) for ReLU)  Var of ReLU signals, which halve per layer
                                                           (He et al. 2015)
==================  =====================================  ==========================================

The lectures scale Xavier by 4 for sigmoid units (its slope at 0 is 1/4, not 1):
``xavier_uniform_(w, gain=4.0)``.  ``calculate_gain('sigmoid')`` stays 1, as in torch.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import _checks

_NONLINEARITIES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which ``nonlinearity`` scales a signal's standard deviation, to undo in init.

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2));
    selu: 3/4. Same values as ``torch.nn.init.calculate_gain``.
    """
    _checks.choice("nonlinearity", nonlinearity, _NONLINEARITIES)
    if nonlinearity in ("linear", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else _checks.number("param", param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    return 3.0 / 4.0  # selu


def _calculate_fan_in_and_fan_out(tensor: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): each times the kernel size."""
    _checks.tensor("tensor", tensor, min_dim=2)
    if tensor.numel() == 0:
        raise ValueError(f"tensor has a zero fan (shape {tuple(tensor.shape)}): nothing to scale by")
    receptive = tensor[0][0].numel() if tensor.dim() > 2 else 1
    return tensor.size(1) * receptive, tensor.size(0) * receptive


def _fan(tensor: torch.Tensor, mode: str) -> int:
    _checks.choice("mode", mode, ("fan_in", "fan_out"))
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    """Fill with 0. Every unit then computes the same thing: the symmetry never breaks."""
    _checks.tensor("tensor", tensor)
    with torch.no_grad():
        return tensor.zero_()


def constant_(tensor: torch.Tensor, val: float) -> torch.Tensor:
    """Fill with the constant ``val`` (symmetric, like zeros: a lesson, not a scheme)."""
    _checks.tensor("tensor", tensor)
    val = _checks.number("val", val)
    with torch.no_grad():
        return tensor.fill_(val)


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> torch.Tensor:
    """Fill with draws from N(mean, std^2)."""
    _checks.tensor("tensor", tensor)
    mean = _checks.number("mean", mean)
    std = _checks.number("std", std, low=0.0)
    with torch.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None) -> torch.Tensor:
    """Fill with draws from U(a, b)."""
    _checks.tensor("tensor", tensor)
    a, b = _checks.number("a", a), _checks.number("b", b)
    if a > b:
        raise ValueError(f"uniform_ needs a <= b; got a={a}, b={b}")
    with torch.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def lecun_normal_(tensor, generator=None) -> torch.Tensor:
    """Fill with N(0, 1/fan_in): the "N(0, 1/d)" of the lectures (LeCun et al. 1998)."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator=generator)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None) -> torch.Tensor:
    """Glorot & Bengio (2010): U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).

    Var(w) = b^2/3 = gain^2 * 2/(fan_in + fan_out): the compromise between keeping the forward
    variance (1/fan_in) and the backward variance (1/fan_out) of a tanh network constant.
    """
    gain = _checks.number("gain", gain, low=0.0)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std   # = gain * sqrt(6 / (m + n)), computed as torch does, bit for bit
    return uniform_(tensor, -bound, bound, generator=generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None) -> torch.Tensor:
    """Glorot & Bengio (2010), normal form: N(0, gain^2 * 2 / (fan_in + fan_out))."""
    gain = _checks.number("gain", gain, low=0.0)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator=generator)


def _kaiming_std(tensor, a, mode, nonlinearity) -> float:
    a = _checks.number("a", a)
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> torch.Tensor:
    """He et al. (2015), uniform form: U(-b, b), b = sqrt(3) * gain / sqrt(fan).

    With the defaults (leaky_relu, a=0) the gain is sqrt(2): Var(w) = 2 / fan_in, which offsets
    the ReLU zeroing half of its inputs.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator=generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> torch.Tensor:
    """He et al. (2015): N(0, gain^2 / fan); for ReLU, N(0, 2 / fan_in)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator=generator)


SCHEMES = {
    "zeros": zeros_,
    "constant": constant_,
    "normal": normal_,
    "uniform": uniform_,
    "lecun_normal": lecun_normal_,
    "xavier_uniform": xavier_uniform_,
    "xavier_normal": xavier_normal_,
    "kaiming_uniform": kaiming_uniform_,
    "kaiming_normal": kaiming_normal_,
    "he_uniform": kaiming_uniform_,   # the lectures' name for the same thing
    "he_normal": kaiming_normal_,
}


def init_model(model: nn.Module, scheme: str, *, bias: float | None = 0.0,
               generator: torch.Generator | None = None, **kwargs) -> nn.Module:
    """Initialise the weight of every ``nn.Linear`` in ``model`` with ``scheme``; return ``model``.

    ``scheme`` names one of :data:`SCHEMES`; ``kwargs`` go to it (``std=0.01`` for
    ``'normal'``, ``val=0.5`` for ``'constant'``, ``gain=4.0`` for the lectures' sigmoid
    Xavier, ``nonlinearity='relu'`` for He).  Biases are set to the constant ``bias``
    (``None`` leaves them as they are).  Layers are filled in order, so one ``generator``
    makes the whole model reproducible.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    fill = SCHEMES[_checks.choice("scheme", scheme, SCHEMES)]
    if bias is not None:
        bias = _checks.number("bias", bias)
    if generator is not None:
        kwargs["generator"] = generator
    if scheme in ("zeros", "constant") and generator is not None:
        kwargs.pop("generator")  # deterministic schemes take no generator
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear layer to initialise")
    for layer in linears:
        try:
            fill(layer.weight, **kwargs)
        except TypeError as err:
            if "unexpected keyword" not in str(err) and "missing" not in str(err):
                raise
            raise TypeError(f"scheme {scheme!r}: {err}") from None
        if layer.bias is not None and bias is not None:
            constant_(layer.bias, bias)
    return model
