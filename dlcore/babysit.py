r"""Babysitting a network: the lectures' checklist as checks you run on your own model.

Before a long training run, and while it runs, the lectures (after CS231n's "babysitting the
learning process") check, in order:

1. the gradient: a central-difference numerical gradient against the analytic one
   (:func:`gradient_check`, from :mod:`dlcore.gradcheck`, re-exported here);
2. the loss at initialisation: about log(K) for K classes with a softmax output (the lectures
   write log C; here C is the cost)
   (:func:`initial_loss_check`);
3. that switching regularisation on raises the loss (:func:`regularisation_check`);
4. that the model can overfit a handful of examples with regularisation off
   (:func:`overfit_small`);
5. while training, the size of each update against the weights it changes, ~1e-3
   (:func:`update_ratio`, :class:`UpdateRatios`);
6. after training, the gap between training and validation accuracy (:func:`train_val_gap`).

Each check returns a :class:`CheckResult`: ``passed``, the measured ``value``, the ``expected``
range, and a ``message`` that says what was measured and, on a failure, what is likely wrong
and what to try. :func:`checklist` runs 1-5 and returns them as one table.

Every check works on a copy of the model (``overfit_small`` trains a deep copy), runs on the
device the model and data are on, and is deterministic: sampling and mini-batches use
generators seeded by ``seed``.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks
from ._result import CheckResult
from .gradcheck import gradient_check, relative_error
from .regularise import _is_bias, l1_penalty, l2_penalty
from .train import _check_pair, fit

RATIO_BAND = (1e-4, 1e-2)  # healthy ||update|| / ||w|| per step: 1e-3 within a factor of 10
_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
_OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}


class Checklist(list):
    """A list of :class:`CheckResult` that prints as a table; ``passed`` is True when all passed."""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self)

    def __getitem__(self, key):
        if isinstance(key, str):  # checklist["initial loss"]
            for r in self:
                if r.name == key:
                    return r
            raise KeyError(f"no check named {key!r}; the checks are {[r.name for r in self]}")
        return super().__getitem__(key)

    @staticmethod
    def status(result) -> str:
        """PASS, FAIL, or INCONCLUSIVE for a check that failed only because it could not measure
        (a gradient check whose gradients are mostly below the central difference's noise)."""
        if result.passed:
            return "PASS"
        return "INCONCLUSIVE" if result.message.startswith("inconclusive") else "FAIL"

    def __repr__(self) -> str:
        width = max((len(r.name) for r in self), default=0)
        status = [self.status(r) for r in self]
        sw = max(map(len, status), default=4)
        lines = [f"{st:<{sw}}  {r.name:<{width}}  {r.message}" for st, r in zip(status, self)]
        return "\n".join(lines + [f"{sum(r.passed for r in self)} of {len(self)} checks passed"])


def _model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    return model


@contextmanager
def _eval_mode(model: nn.Module):
    """Run ``model`` in eval mode (dropout off, batch norm on its running statistics), then restore."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    return _OPTIMIZERS[name](params, lr=lr)   # name already checked against _OPTIMIZERS


# ---------------------------------------------------------------------------------------------
# 1. The gradient check: dlcore.gradcheck (gradient_check, relative_error, imported above)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# 2. The loss at initialisation
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def initial_loss_check(model, data, n_classes: int | None = None, *, rtol: float = 0.25) -> CheckResult:
    r"""The cross-entropy of a freshly initialised classifier on ``data = (X, y)`` against log(K).

    With small initial logits the softmax gives every class about 1/K, so the loss is
    -log(1/K) = log(K) (2.30 for K = 10 classes). Passes when |loss - log K| <= ``rtol`` log K.
    Far above: the logits start large, the network is confidently wrong (weights initialised at
    too large a scale); far below: it already knows the answers (trained already, or the labels
    leak into the inputs). ``n_classes`` defaults to the model's output width.
    ``details``: ``logit_std``, ``n_classes``.
    """
    model = _model(model)
    X, y = _check_pair("data", data)
    rtol = _checks.number("rtol", rtol, low=0.0, low_open=True)
    with _eval_mode(model):
        logits = model(X)
    if logits.dim() != 2:
        raise ValueError(f"the model must output logits of shape (n, K); got shape {tuple(logits.shape)}")
    width = logits.shape[1]
    K = width if n_classes is None else _checks.integer("n_classes", n_classes, low=2)
    if K != width:
        raise ValueError(f"n_classes is {K} but the model outputs {width} logits per example")
    if K < 2:
        raise ValueError(f"a softmax classifier needs at least 2 classes; the model outputs {K}")
    loss = F.cross_entropy(logits.float(), y).item()
    expected = math.log(K)
    std = logits.float().std().item()
    low, high = expected * (1 - rtol), expected * (1 + rtol)
    passed = math.isfinite(loss) and low <= loss <= high
    msg = (f"loss at initialisation {loss:.4g}, expected log({K}) = {expected:.3f} "
           f"(between {low:.2f} and {high:.2f}).")
    if not math.isfinite(loss):
        msg += " The loss is not finite: the logits overflow. Initialise the weights at a smaller scale."
    elif loss > high:
        msg += (f" Far too high: the initial logits are large (std {std:.3g}; near 0 is expected), so "
                f"the network starts out confidently wrong. The weights are initialised at too large a "
                f"scale: use Xavier (tanh, sigmoid) or He (ReLU), or scale the last layer's weights down.")
    elif loss < low:
        msg += (" Suspiciously low: the untrained network already knows the answers. Was it trained "
                "already, do the labels leak into the inputs, or is n_classes wrong?")
    return CheckResult("initial loss", passed, loss, (low, high), msg,
                       {"logit_std": std, "n_classes": K, "expected": expected})


# ---------------------------------------------------------------------------------------------
# 3. Regularisation raises the loss
# ---------------------------------------------------------------------------------------------

def l2_loss(model: nn.Module, X: Tensor, y: Tensor, lam: float) -> Tensor:
    """Cross-entropy + (lam / 2) ||w||^2 over the weights: the default ``loss_fn`` of the checks."""
    return F.cross_entropy(model(X), y) + l2_penalty(model, lam)


def l1_loss(model: nn.Module, X: Tensor, y: Tensor, lam: float) -> Tensor:
    """Cross-entropy + lam ||w||_1 over the weights."""
    return F.cross_entropy(model(X), y) + l1_penalty(model, lam)


@torch.no_grad()
def regularisation_check(model, data, *, lams=(0.0, 1e-3, 1e-2, 1e-1), loss_fn=None,
                         min_rise: float = 1e-6) -> CheckResult:
    r"""The total loss ``loss_fn(model, X, y, lam)`` at initialisation rises with lam.

    With lam = 0 the loss is the data loss alone (about log K for a fresh classifier); a
    penalty Omega(w) >= 0 added as loss + lam Omega(w) must make it rise with every step up in
    lam. ``lams`` (increasing, >= 0) are tried in turn; the check passes when each raises the
    loss by more than ``min_rise``. ``loss_fn`` is your total loss (default :func:`l2_loss`); a
    penalty that is never added, or added with the wrong sign, fails here.
    ``value``: the losses, as a dict lam -> loss.
    """
    model = _model(model)
    X, y = _check_pair("data", data)
    if isinstance(lams, (str, bytes)) or not hasattr(lams, "__len__") or len(lams) < 2:
        raise ValueError(f"lams must be 2 or more increasing values >= 0, e.g. (0.0, 1e-3, 1e-2); "
                         f"got {lams!r}")
    lams = [_checks.number(f"lams[{i}]", v, low=0.0) for i, v in enumerate(lams)]
    if any(b <= a for a, b in zip(lams, lams[1:])):
        raise ValueError(f"lams must increase; got {lams}")
    loss_fn = l2_loss if loss_fn is None else loss_fn
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function (model, X, y, lam) -> loss; "
                        f"got {type(loss_fn).__name__}")
    min_rise = _checks.number("min_rise", min_rise, low=0.0)
    losses = {}
    with _eval_mode(model):
        for lam in lams:
            value = loss_fn(model, X, y, lam)
            if isinstance(value, Tensor):
                if value.numel() != 1:
                    raise ValueError(f"loss_fn must return one number; got a tensor of shape "
                                     f"{tuple(value.shape)}")
                value = value.item()
            losses[lam] = float(value)
    values = list(losses.values())
    rises = [b - a for a, b in zip(values, values[1:])]
    passed = all(r > min_rise for r in rises)
    shown = ", ".join(f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}" for v in values)   # no 4.4e+04
    msg = f"loss at λ = {', '.join(f'{lam:g}' for lam in lams)}: {shown}; expected to rise with λ."
    if not passed:
        k = next(i for i, r in enumerate(rises) if r <= min_rise)
        step = f"from λ = {lams[k]:g} to {lams[k + 1]:g}"
        if rises[k] < -min_rise:
            msg += (f" It fell {step}: the penalty is subtracted (a sign error) or is negative. "
                    f"The loss must be data loss + λ * penalty, with penalty >= 0.")
        else:
            msg += (f" It did not change {step}: the penalty is not added to the loss, or lam is not "
                    f"passed through to it (or it is far too small to see).")
    return CheckResult("regularisation", passed, losses, (None, None), msg, {"rises": rises})


# ---------------------------------------------------------------------------------------------
# 4. Overfit a handful of examples
# ---------------------------------------------------------------------------------------------

def _without_dropout(net: nn.Module) -> nn.Module:
    for m in net.modules():  # torch's Dropout and dlcore's both keep their rate in .p
        if isinstance(m, nn.Dropout) or type(m).__name__ == "Dropout":
            m.p = 0.0
    return net


def overfit_small(model, data, *, n: int = 20, steps: int = 200, lr: float = 0.1,
                  optimizer: str = "sgd", threshold: float = 0.05, seed: int = 0) -> CheckResult:
    r"""Train a copy of ``model`` on ``n`` examples of ``data`` until it has memorised them.

    ``n`` examples drawn with a generator seeded by ``seed``, full-batch steps of ``optimizer``
    (``'sgd'`` or ``'adam'``) at ``lr``, no weight decay and dropout switched off: any model
    worth training can learn 20 examples by heart, so the cross-entropy should fall to ~0.
    Passes when the final loss is below ``threshold``. If it cannot, something between the loss
    and the weights is broken (the learning rate, the init, a parameter that gets no gradient),
    and a long run would be wasted. A loss that becomes inf or NaN stops the run: "diverged at
    step k". ``details``: ``losses`` (one per step), ``accuracy``, ``diverged_at``, ``model``
    (the trained copy).
    """
    model = _model(model)
    X, y = _check_pair("data", data)
    n = _checks.integer("n", n, low=1, high=X.shape[0])
    steps = _checks.integer("steps", steps, low=1)
    lr = _checks.number("lr", lr, low=0.0, low_open=True)
    _checks.choice("optimizer", optimizer, _OPTIMIZERS)
    threshold = _checks.number("threshold", threshold, low=0.0, low_open=True)
    gen = torch.Generator().manual_seed(_checks.integer("seed", seed, low=0))
    idx = torch.randperm(X.shape[0], generator=gen)[:n].to(X.device)
    xb, yb = X[idx], y[idx]
    net = _without_dropout(copy.deepcopy(model)).train()
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameter that requires a gradient: nothing can learn")
    # full-batch steps; fit stops at an inf/NaN loss and records the step
    hist = fit(net, (xb, yb), steps=steps, batch_size=None, optimizer=_optimizer(optimizer, params, lr),
               progress=False)
    losses, diverged_at = hist.loss, hist.diverged_at
    net.eval()
    final = acc = float("nan")
    if diverged_at is None:
        with torch.no_grad():
            out = net(xb)
            final = F.cross_entropy(out, yb).item()
            acc = (out.argmax(1) == yb).float().mean().item()
    passed = diverged_at is None and final < threshold
    first = losses[0]
    msg = f"{n} examples, {steps} steps of {_OPTIMIZER_NAMES.get(optimizer, optimizer)} at η = {lr:g}: "
    if diverged_at is not None:
        msg += (f"diverged at step {diverged_at} (the loss became {losses[-1]:.3g}). The learning rate is "
                f"too high: try 10x lower.")
    else:
        msg += f"loss {first:.3g} -> {final:.3g} (expected < {threshold:g}), training accuracy {acc:.0%}."
        if not passed and final > first:
            msg += (" The loss rose: the learning rate is too high (try 10x lower), or the loss is "
                    "computed on the wrong outputs.")
        elif not passed and final > 0.5 * first:
            msg += (" The loss barely moved: the learning rate is too low, or gradients do not reach "
                    "the weights (saturated or dead units from a bad init, parameters missing from "
                    "the optimiser, a .detach() in the forward pass).")
        elif not passed:
            msg += (" It falls but not to ~0: train for more steps or raise the learning rate; if it "
                    "stalls, check the init (saturated or dead units) and that the model is big enough.")
    return CheckResult("overfit small", passed, final, (0.0, threshold), msg,
                       {"losses": losses, "accuracy": acc, "diverged_at": diverged_at, "model": net,
                        "indices": idx})


# ---------------------------------------------------------------------------------------------
# 5. The update-to-weight ratio
# ---------------------------------------------------------------------------------------------

def weight_snapshot(model, *, include_bias: bool = False) -> dict:
    """Copies of ``model``'s weights, name -> tensor: the "before" of :func:`update_ratio`.

    Weights are the parameters with 2 or more dimensions not named bias (as
    :mod:`dlcore.regularise` counts them): a bias starts at 0, so its ratio would be infinite.
    """
    model = _model(model)
    if not isinstance(include_bias, bool):
        raise TypeError(f"include_bias must be True or False; got {include_bias!r}")
    out = {name: p.detach().clone() for name, p in model.named_parameters()
           if include_bias or (p.dim() >= 2 and not _is_bias(name))}
    if not out:
        raise ValueError("the model has no weights (parameters with 2+ dimensions); pass include_bias=True")
    return out


def _weights_of(name: str, value) -> dict:
    if isinstance(value, nn.Module):
        return {k: p.detach() for k, p in value.named_parameters()}
    if isinstance(value, Mapping):
        for k, t in value.items():
            _checks.tensor(f"{name}[{k!r}]", t)
        return dict(value)
    raise TypeError(f"{name} must be an nn.Module or a dict name -> tensor (from weight_snapshot); "
                    f"got {type(value).__name__}")


def update_ratios(before, after) -> dict:
    r"""Per weight: ||w_after - w_before|| / ||w_before|| (Frobenius norms), name -> float.

    ``before`` is a :func:`weight_snapshot` (or a copy of the model) taken before a step;
    ``after`` the model (or a snapshot) after it. Only names in ``before`` are compared.
    """
    b, a = _weights_of("before", before), _weights_of("after", after)
    missing = [k for k in b if k not in a]
    if missing:
        raise ValueError(f"after has no weights named {missing}; before and after must be the same model")
    out = {}
    for k, w in b.items():
        if a[k].shape != w.shape:
            raise ValueError(f"{k}: shape {tuple(w.shape)} before but {tuple(a[k].shape)} after")
        out[k] = ((a[k].to(w.device) - w).norm() / w.norm()).item()
    return out


def _layer(name: str) -> str:
    return name[:-len(".weight")] if name.endswith(".weight") else name


def _layers(names) -> str:
    return ", ".join(map(_layer, names))


def _ratio_result(ratios: dict, band, where: str, diverged_at=None) -> CheckResult:
    lo, hi = band
    shown = ", ".join(f"{_layer(k)} {v:.1e}" for k, v in ratios.items())
    msg = f"update/weight ratio {where}: {shown}; expected {lo:.0e} to {hi:.0e} (~1e-3)."
    if diverged_at is not None:
        return CheckResult("update ratio", False, ratios, band,
                           msg + f" Diverged at step {diverged_at}: the learning rate is far too high.",
                           {"diverged_at": diverged_at})
    bad = [k for k, v in ratios.items() if not math.isfinite(v)]
    high = [k for k, v in ratios.items() if v > hi]
    low = [k for k, v in ratios.items() if v < lo]
    if bad:
        msg += (f" Not finite in {_layers(bad)}: the weights overflowed; the learning "
                f"rate is far too high.")
    elif high:
        msg += (f" Learning rate may be too high: each step changes {_layers(high)} by more "
                f"than {hi:.0e} of its size, above the band (a warning, not a verdict): watch the "
                f"loss; if it is not falling, lower the rate (try 3-10x lower).")
        if low:
            msg += (f" {_layers(low)} barely change(s): those units have saturated or "
                    f"died, typically after a few steps that were too large.")
    elif low:
        dead = [k for k in low if ratios[k] == 0.0]
        msg += (f" Learning rate too low: {_layers(low)} barely change(s); raise it "
                f"(try 10x higher).")
        if dead:
            msg += f" {_layers(dead)} did not change at all: no gradient reaches it."
    return CheckResult("update ratio", not (bad or high or low), ratios, band, msg)


def _band(band):
    if not (isinstance(band, (tuple, list)) and len(band) == 2):
        raise TypeError(f"band must be a pair (low, high) like {RATIO_BAND}; got {band!r}")
    lo = _checks.number("band[0]", band[0], low=0.0, low_open=True)
    hi = _checks.number("band[1]", band[1], low=0.0, low_open=True)
    if not lo < hi:
        raise ValueError(f"band must be (low, high) with low < high; got {band!r}")
    return (lo, hi)


def update_ratio(before, after, *, band=RATIO_BAND) -> CheckResult:
    r"""Check one step's update-to-weight ratio ||lr * update|| / ||w|| per layer against ``band``.

    ::

        ratio_l = ||w_l(after) - w_l(before)|| / ||w_l(before)||

    The step w <- w - lr * update (whatever the optimiser's update is) should change each
    weight matrix by about 1e-3 of its size: much more and each step overwrites what the layer
    knew (learning rate too high), much less and training crawls (too low). ``band`` is the
    healthy range, by default 1e-3 within a factor of 10. ``before``: :func:`weight_snapshot`
    taken before ``optimizer.step()``; ``after``: the model after it. One step is noisy: to
    follow the ratio over training use :class:`UpdateRatios`.
    """
    band = _band(band)
    return _ratio_result(update_ratios(before, after), band, "for one step")


class UpdateRatios:
    """Record each layer's update-to-weight ratio at every optimiser step.

    ::

        tracker = UpdateRatios(model)
        for X, y in batches:
            loss = F.cross_entropy(model(X), y)
            optimizer.zero_grad(); loss.backward()
            tracker.step(optimizer)          # optimizer.step(), and the ratios of that step
        tracker.history                      # (steps, layers) numpy array
        tracker.check()                      # a CheckResult on the median ratio per layer

    A step whose ratios are not finite (the weights overflowed) is recorded in ``diverged_at``.
    """

    def __init__(self, model, *, include_bias: bool = False):
        self.model = _model(model)
        self.include_bias = include_bias
        self.names = list(weight_snapshot(model, include_bias=include_bias))
        self._rows: list[list[float]] = []
        self.diverged_at: int | None = None
        self.losses: list[float] = []   # filled by track_update_ratios (a loop of your own may append)

    @property
    def layers(self) -> list[str]:
        """Layer names for the columns of :attr:`history` ('linear1', ...)."""
        return [_layer(k) for k in self.names]

    @property
    def history(self) -> np.ndarray:
        return np.array(self._rows, dtype=float).reshape(len(self._rows), len(self.names))

    def step(self, optimizer) -> dict:
        """Call ``optimizer.step()`` and record (and return) this step's ratios."""
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
        before = weight_snapshot(self.model, include_bias=self.include_bias)
        optimizer.step()
        ratios = update_ratios(before, self.model)
        self._rows.append([ratios[k] for k in self.names])
        if self.diverged_at is None and not all(math.isfinite(v) for v in ratios.values()):
            self.diverged_at = len(self._rows)
        return ratios

    def check(self, *, band=RATIO_BAND) -> CheckResult:
        """The median ratio of each layer over the recorded steps, against ``band``."""
        band = _band(band)
        if not self._rows:
            raise ValueError("no steps recorded yet: call step(optimizer) in the training loop first")
        H = self.history
        if self.diverged_at is not None:
            H = H[: self.diverged_at - 1]
        med = {k: float(np.median(H[:, j])) if len(H) else float("nan") for j, k in enumerate(self.names)}
        where = f"(median of {len(H)} steps)"
        result = _ratio_result(med, band, where, self.diverged_at)
        result.details["history"] = self.history
        return result

    def __repr__(self) -> str:
        return f"UpdateRatios(layers={self.layers}, steps={len(self._rows)}, diverged_at={self.diverged_at})"


def track_update_ratios(model, data, *, lr: float = 0.05, steps: int = 100, batch_size: int = 64,
                        optimizer: str = "sgd", seed: int = 0) -> UpdateRatios:
    """Train a copy of ``model`` on ``data = (X, y)`` for ``steps`` mini-batch steps of
    ``optimizer`` (``'sgd'``, ``'adam'``) at ``lr``, recording the update ratios; return the
    :class:`UpdateRatios` (its ``model`` is the trained copy). Stops at a non-finite loss."""
    model = _model(model)
    X, y = _check_pair("data", data)
    lr = _checks.number("lr", lr, low=0.0, low_open=True)
    steps = _checks.integer("steps", steps, low=1)
    batch_size = _checks.integer("batch_size", batch_size, low=1, high=X.shape[0])
    _checks.choice("optimizer", optimizer, _OPTIMIZERS)
    gen = torch.Generator().manual_seed(_checks.integer("seed", seed, low=0))
    net = copy.deepcopy(model).train()
    opt = _optimizer(optimizer, net.parameters(), lr)
    tracker = UpdateRatios(net)
    for _ in range(steps):
        idx = torch.randint(0, X.shape[0], (batch_size,), generator=gen).to(X.device)
        value = F.cross_entropy(net(X[idx]), y[idx])
        tracker.losses.append(value.item())
        if not math.isfinite(tracker.losses[-1]):
            tracker.diverged_at = len(tracker._rows) + 1
            break
        opt.zero_grad(set_to_none=True)
        value.backward()
        tracker.step(opt)
        if tracker.diverged_at is not None:
            break
    return tracker


# ---------------------------------------------------------------------------------------------
# 6. The train / validation gap
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def train_val_gap(model, train, val, *, max_gap: float = 0.05,
                  min_train_acc: float | None = None) -> CheckResult:
    r"""Training minus validation accuracy of a trained classifier (eval mode).

    A gap above ``max_gap`` means overfitting: the model memorises the training set. A training
    accuracy below ``min_train_acc`` (if given) means underfitting: the model is too weak or
    under-trained, whatever the gap. ``details``: ``train_acc``, ``val_acc``.
    """
    model = _model(model)
    Xt, yt = _check_pair("train", train)
    Xv, yv = _check_pair("val", val)
    max_gap = _checks.number("max_gap", max_gap, low=0.0, high=1.0)
    if min_train_acc is not None:
        min_train_acc = _checks.number("min_train_acc", min_train_acc, low=0.0, high=1.0)
    with _eval_mode(model):
        tr = (model(Xt).argmax(1) == yt).float().mean().item()
        va = (model(Xv).argmax(1) == yv).float().mean().item()
    gap = tr - va
    msg = f"training accuracy {tr:.1%}, validation {va:.1%}: gap {gap:+.1%} (expected at most {max_gap:.0%})."
    under = min_train_acc is not None and tr < min_train_acc
    if gap > max_gap:
        msg += (" Overfitting: the model memorises the training set. Try stronger regularisation "
                "(L2 weight decay, dropout), early stopping, more data, or a smaller model.")
    elif under:
        msg += (f" Underfitting: training accuracy below {min_train_acc:.0%}. The model is too small "
                f"or under-trained: a bigger model, more steps, a higher learning rate, less regularisation.")
    elif gap < -max_gap:
        msg += " Validation well above training: are the two splits from the same distribution?"
    else:
        msg += " No sign of overfitting."
    passed = abs(gap) <= max_gap and not under
    return CheckResult("train/val gap", passed, gap, (-max_gap, max_gap), msg,
                       {"train_acc": tr, "val_acc": va})


# ---------------------------------------------------------------------------------------------
# All of them
# ---------------------------------------------------------------------------------------------

def checklist(model, train, *, lr: float = 0.05, n_classes: int | None = None, optimizer: str = "sgd",
              seed: int = 0) -> Checklist:
    """Run the checks before training, in the lectures' order, on ``train = (X, y)``:

    gradient check (8 examples, 10 coordinates per parameter, float64), initial loss (up to 1,000 examples),
    regularisation (8 examples), overfit 20 examples (200 steps at ``lr``), and the update ratio
    over 50 mini-batch steps at ``lr``. ``model`` itself is left untouched.
    """
    model = _model(model)
    X, y = _check_pair("train", train)
    lr = _checks.number("lr", lr, low=0.0, low_open=True)
    small = (X[:8], y[:8])
    return Checklist([
        gradient_check(model, small, seed=seed),
        initial_loss_check(model, (X[:1000], y[:1000]), n_classes),
        regularisation_check(model, small),
        overfit_small(model, (X, y), n=min(20, X.shape[0]), lr=lr, optimizer=optimizer, seed=seed),
        track_update_ratios(model, (X, y), lr=lr, steps=50, batch_size=min(64, X.shape[0]),
                            optimizer=optimizer, seed=seed).check(),
    ])


__all__ = ["CheckResult", "Checklist", "relative_error", "gradient_check", "initial_loss_check",
           "l2_loss", "l1_loss", "regularisation_check", "overfit_small", "weight_snapshot",
           "update_ratios", "update_ratio", "UpdateRatios", "track_update_ratios", "train_val_gap",
           "checklist", "RATIO_BAND"]
