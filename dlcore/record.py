"""Record what each layer computes, and the gradients flowing back through it, via hooks.

    with Recorder(model) as rec:                   # hooks on while inside the block
        loss = F.cross_entropy(model(X), y)
        loss.backward()
    rec.layers[0].act                              # (batch, units) activations of layer 1
    rec.stats("act")                               # a dict per layer: mean, std, saturated, ...

A "layer" starts at each ``nn.Linear`` and takes in the activation module that follows it. Its
pre-activation is what enters that activation: the Linear's output, or, with a BatchNorm in
between, the normalised values. Each forward pass overwrites what the last one recorded.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .nets import ACTIVATIONS, activation_name

# A tanh unit is "saturated" when |a| > 0.97 (slope < 0.06 there), a sigmoid unit when a is
# outside [0.03, 0.97] (slope < 0.03 vs 0.25 at 0): in both, little gradient gets through.
TANH_SATURATION = 0.97
SIGMOID_SATURATION = 0.03
PERCENTILES = (1, 5, 50, 95, 99)
WHAT = ("pre", "act", "grad_pre", "grad_act")
_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


@dataclass
class LayerRecord:
    """What one layer computed in the last forward (and backward) pass; tensors are (batch, units)."""

    index: int                      # 1-based, input to output
    name: str                       # the Linear module's name in the model
    activation: str | None          # name of the activation that follows, None for the output
    pre: torch.Tensor | None = None
    act: torch.Tensor | None = None
    grad_pre: torch.Tensor | None = None
    grad_act: torch.Tensor | None = None


def saturated_fraction(act: torch.Tensor, activation: str) -> float:
    """Fraction of entries of ``act`` at a flat end of a tanh or sigmoid (NaN for others)."""
    if activation == "tanh":
        return (act.abs() > TANH_SATURATION).float().mean().item()
    if activation == "sigmoid":
        return ((act < SIGMOID_SATURATION) | (act > 1 - SIGMOID_SATURATION)).float().mean().item()
    return float("nan")


def dead_fraction(act: torch.Tensor) -> float:
    """Fraction of units (columns of ``act``, shape (batch, units)) that are 0 for every input."""
    act = act.reshape(act.shape[0], -1)
    return (act == 0).all(dim=0).float().mean().item()


def summarize(values: torch.Tensor, activation: str | None = None, *, is_activation: bool = False) -> dict:
    """Summary statistics of one recorded tensor (batch, units).

    Always: mean, std, var, abs_mean, zero (fraction exactly 0) and percentiles p1..p99.
    For activations also: saturated (tanh/sigmoid, else NaN) and dead (ReLU units silent on
    the whole batch, else NaN).
    """
    _checks.tensor("values", values, min_dim=1)
    v = values.detach().float().reshape(values.shape[0], -1)
    flat = v.flatten()
    q = torch.quantile(flat[: 2**24 - 1], torch.tensor([p / 100 for p in PERCENTILES], device=flat.device))
    out = {
        "mean": flat.mean().item(),
        "std": flat.std().item() if flat.numel() > 1 else 0.0,
        "var": flat.var().item() if flat.numel() > 1 else 0.0,
        "abs_mean": flat.abs().mean().item(),
        "zero": (flat == 0).float().mean().item(),
        **{f"p{p}": x.item() for p, x in zip(PERCENTILES, q)},
    }
    if is_activation:
        out["saturated"] = saturated_fraction(v, activation) if activation else float("nan")
        out["dead"] = dead_fraction(v) if activation == "relu" else float("nan")
    return out


class Recorder:
    """Context manager that hooks every Linear layer of ``model`` (and the activation after it).

    grads: also record the gradients of the loss w.r.t. each pre-activation and activation
    (filled in by ``backward()``). Recorded tensors are detached views: they hold no graph.
    """

    def __init__(self, model: nn.Module, *, grads: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        if not isinstance(grads, bool):
            raise TypeError(f"grads must be True or False; got {grads!r}")
        self.model, self.grads = model, grads
        self.layers: list[LayerRecord] = []
        self._targets: list[tuple[nn.Module, LayerRecord, str]] = []
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                self.layers.append(LayerRecord(len(self.layers) + 1, name, None))
                self._targets.append((module, self.layers[-1], "pre"))
            elif isinstance(module, _ACTIVATION_TYPES) and self.layers and self.layers[-1].activation is None:
                self.layers[-1].activation = activation_name(module)
                self._targets.append((module, self.layers[-1], "act"))
        if not self.layers:
            raise ValueError("model has no nn.Linear layer to record")
        self._handles = []

    def _keep(self, record: LayerRecord, slot: str, tensor: torch.Tensor) -> None:
        setattr(record, slot, tensor.detach())
        setattr(record, "grad_" + slot, None)  # a new pass: the last backward's gradients are stale
        if self.grads and tensor.requires_grad:
            tensor.register_hook(lambda g: setattr(record, "grad_" + slot, g.detach()))

    def _hook(self, record: LayerRecord, slot: str):
        def forward_hook(module, inputs, output):
            if slot == "act":
                # the activation's own input is the pre-activation: the Linear's output, or what a
                # BatchNorm between them made of it (the sigmoid's input of Ioffe & Szegedy's Fig. 1)
                self._keep(record, "pre", inputs[0])
            self._keep(record, slot, output)
        return forward_hook

    def __enter__(self) -> "Recorder":
        for module, record, slot in self._targets:
            self._handles.append(module.register_forward_hook(self._hook(record, slot)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @property
    def hidden(self) -> list[LayerRecord]:
        """The layers followed by an activation (all but the output layer, for an MLP)."""
        return [r for r in self.layers if r.activation is not None]

    def stats(self, what: str = "act", *, hidden_only: bool = True) -> list[dict]:
        """One :func:`summarize` dict per layer (with ``layer`` and ``name`` keys) for ``what``:
        'pre', 'act', 'grad_pre' or 'grad_act'."""
        _checks.choice("what", what, WHAT)
        rows = []
        for r in (self.hidden if hidden_only else self.layers):
            t = getattr(r, what)
            if t is None:
                hint = " (call backward() inside the block)" if what.startswith("grad") else ""
                raise ValueError(f"layer {r.index} has no {what!r} recorded{hint}")
            rows.append({"layer": r.index, "name": r.name, "activation": r.activation,
                         **summarize(t, r.activation, is_activation=(what == "act"))})
        return rows

    def table(self, what: str = "act", keys=("mean", "std", "saturated", "dead")) -> str:
        """The stats as a fixed-width text table, for printing in a notebook."""
        rows = self.stats(what)
        head = f"{'layer':>5} " + " ".join(f"{k:>10}" for k in keys)
        lines = [head] + [f"{r['layer']:>5} " + " ".join(f"{r[k]:>10.3g}" for k in keys) for r in rows]
        return "\n".join(lines)


__all__ = ["Recorder", "LayerRecord", "summarize", "saturated_fraction", "dead_fraction"]
