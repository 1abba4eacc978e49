"""The MLP every notebook builds: layer sizes, an activation by name, bias on or off, an init."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from . import _checks
from .init import init_model
from .nn import BatchNorm1d, Dropout

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "linear": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`)."""
    return ACTIVATIONS[_checks.choice("activation", name, ACTIVATIONS)]()


def activation_name(module: nn.Module) -> str | None:
    """The name under which :data:`ACTIVATIONS` knows ``module``'s class, or None."""
    for name, cls in ACTIVATIONS.items():
        if type(module) is cls:
            return name
    return None


class MLP(nn.Sequential):
    """A fully connected network: ``sizes = [d_in, h_1, ..., h_k, d_out]``.

    Layers are named ``linear1, act1, linear2, act2, ..., linear{k+1}``: every hidden layer is a
    Linear followed by the activation, the last Linear has none (it gives the logits or the
    regression output). ``batchnorm=True`` puts a :class:`dlcore.nn.BatchNorm1d` (``bn1``, ...)
    between each hidden Linear and its activation, as Ioffe & Szegedy do, and drops those
    Linears' biases (BatchNorm's beta takes their place). ``dropout=p`` puts a
    :class:`dlcore.nn.Dropout` (``drop1``, ...) after each hidden activation. ``init`` names a scheme of :func:`dlcore.init.init_model` (None keeps
    torch's default); ``init_kwargs`` go to it, e.g. ``MLP([2, 8, 2], init='normal',
    init_kwargs={'std': 0.01})``.

    >>> MLP([784, 100, 100, 10], activation='relu', init='kaiming_normal')   # doctest: +SKIP
    """

    def __init__(self, sizes, activation: str = "tanh", *, bias: bool = True,
                 batchnorm: bool = False, dropout: float = 0.0, init: str | None = None,
                 init_kwargs: dict | None = None,
                 generator: torch.Generator | None = None):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a list of layer widths like [784, 100, 10]; got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width; got {list(sizes)}")
        sizes = [_checks.integer(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False; got {bias!r}")
        if not isinstance(batchnorm, bool):
            raise TypeError(f"batchnorm must be True or False; got {batchnorm!r}")
        dropout = _checks.number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        _checks.choice("activation", activation, ACTIVATIONS)  # before building anything
        layers = OrderedDict()
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            hidden = i < len(sizes) - 1
            # a BatchNorm's beta does a bias's job: the Linear before it goes without one
            layers[f"linear{i}"] = nn.Linear(d_in, d_out, bias=bias and not (batchnorm and hidden))
            if hidden and batchnorm:
                layers[f"bn{i}"] = BatchNorm1d(d_out)
            if hidden:
                layers[f"act{i}"] = make_activation(activation)
            if hidden and dropout > 0:
                layers[f"drop{i}"] = Dropout(dropout)
        super().__init__(layers)
        self.sizes = sizes
        self.activation = activation
        self.batchnorm = batchnorm
        self.dropout = dropout
        if init is not None:
            init_model(self, init, generator=generator, **(init_kwargs or {}))
        elif init_kwargs or generator is not None:
            raise ValueError("init_kwargs or generator were given but init is None; name a scheme for them")

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers, input to output."""
        return [m for m in self if isinstance(m, nn.Linear)]

    @property
    def depth(self) -> int:
        """The number of Linear layers."""
        return len(self.sizes) - 1

    def extra_repr(self) -> str:
        return (f"sizes={self.sizes}, activation={self.activation!r}, batchnorm={self.batchnorm}, "
                f"dropout={self.dropout}")


__all__ = ["MLP", "ACTIVATIONS", "make_activation", "activation_name"]
