r"""The playground: a small network on 2-D data with every knob of notebooks 01-09 exposed.

    pg = Playground(seed=0, dataset="spirals", activation="relu", init="he")
    pg.run(500)                        # 500 mini-batch steps, headless and deterministic
    pg.history["test_loss"][-1], pg.layer_stats()[0]["saturated"]
    pg.set(lr=0.1)                     # a training knob: applies from the next step
    pg.set(depth=4)                    # a structural knob: a new network, back to step 0
    pg.diagnose()                      # notebook 09's checks on the current network

The live panel (start / pause / step / reset / diagnose, the knobs as sliders) is
:func:`dlcore.figures.playground.live`; it calls the same :meth:`Playground.run` in small chunks,
so a headless run of N steps gives the same numbers as N steps clicked through in the browser.

Knobs and their defaults (the lessons' recommendations for a small tanh network):

==============  ==============  =================================================================
knob            default         what it is
==============  ==============  =================================================================
dataset         "moons"         moons, spirals, circles, xor (:mod:`dlcore.data`)
noise           0.1             std of the Gaussian jitter on the points
train_fraction  0.5             share of the ``n_points`` = 500 points used for training
depth           2               hidden layers
width           16              units per hidden layer
activation      "tanh"          tanh, relu, sigmoid, leaky_relu, linear
init            "xavier"        xavier (Glorot, for tanh), he (ReLU), lecun (1/d_in), normal, zeros
init_scale      1.0             multiplies the scheme's weights; for "normal" it is the std itself
batchnorm       False           a BatchNorm before each hidden activation (04)
dropout         0.0             drop probability p after each hidden activation (05)
optimizer       "adam"          sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw (03)
lr              0.01            the base learning rate eta_0
momentum        0.9             mu for momentum and Nesterov; beta_1 for Adam and AdamW
schedule        "constant"      constant, step (x0.5 every 500 steps), cosine (to eta_0/100 over
                                2,000 steps), warmup (linear from 0.1 eta_0 over 100 steps), 1/t
l2              0.0             lambda: (lambda/2)||w||^2 added to the cost (weights, not biases);
                                for AdamW the decoupled weight decay instead (06)
batch_size      32              mini-batch size m (the whole training set at most) (08)
==============  ==============  =================================================================

Every random draw derives from ``seed`` through :func:`dlcore.seed_for` / :func:`dlcore.rng`, one
named stream each (data, split, init, batches, dropout masks): the same seed and knobs give the
same run, and :meth:`reset` starts it again from the same weights.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from . import _checks, babysit, data, optim
from ._result import CheckResult
from .nets import MLP
from .nn import BatchNorm1d, Dropout
from .optim import schedules
from .record import Recorder, dead_fraction, saturated_fraction
from .regularise import l2_penalty
from .seeding import rng, seed_for

DATASETS = {"moons": data.moons, "spirals": data.two_spirals, "circles": data.circles, "xor": data.xor}
ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu", "linear")
INITS = ("xavier", "he", "lecun", "normal", "zeros")
OPTIMIZERS = {"sgd": optim.SGD, "momentum": optim.Momentum, "nesterov": optim.Nesterov,
              "adagrad": optim.AdaGrad, "rmsprop": optim.RMSprop, "adam": optim.Adam, "adamw": optim.AdamW}
SCHEDULES = ("constant", "step", "cosine", "warmup", "1/t")
HORIZON = 2000          # the cosine schedule's length in steps
DEFAULTS = dict(dataset="moons", noise=0.1, train_fraction=0.5, depth=2, width=16, activation="tanh",
                init="xavier", init_scale=1.0, batchnorm=False, dropout=0.0, optimizer="adam", lr=0.01,
                momentum=0.9, schedule="constant", l2=0.0, batch_size=32)
STRUCTURAL = ("dataset", "noise", "train_fraction", "depth", "width", "activation", "init", "init_scale",
              "batchnorm", "dropout")           # changing one builds a new network (step 0)
SATURATED, DEAD = 0.5, 0.5                      # diagnose: more than half of a layer saturated or dead
BLOWUP = 1e3                                    # a training loss above this counts as diverged
LOSS_GAP = 0.15                                 # diagnose: test loss more than this above training


def _check_knob(name: str, value):
    """``value`` checked for knob ``name``, as the type the playground uses."""
    if name == "dataset":
        return _checks.choice("dataset", value, DATASETS)
    if name == "activation":
        return _checks.choice("activation", value, ACTIVATIONS)
    if name == "init":
        return _checks.choice("init", value, INITS)
    if name == "optimizer":
        return _checks.choice("optimizer", value, OPTIMIZERS)
    if name == "schedule":
        return _checks.choice("schedule", value, SCHEDULES)
    if name == "batchnorm":
        if not isinstance(value, bool):
            raise TypeError(f"batchnorm must be True or False; got {value!r}")
        return value
    if name in ("depth", "width", "batch_size"):
        return _checks.integer(name, value, low=1, high={"depth": 8, "width": 256, "batch_size": 10**6}[name])
    bounds = {"noise": dict(low=0.0, high=2.0), "train_fraction": dict(low=0.0, high=1.0, low_open=True, high_open=True),
              "init_scale": dict(low=0.0, low_open=True), "dropout": dict(low=0.0, high=1.0, high_open=True),
              "lr": dict(low=0.0, low_open=True), "momentum": dict(low=0.0, high=1.0, high_open=True),
              "l2": dict(low=0.0)}
    return _checks.number(name, value, **bounds[name])


def check_knobs(knobs: dict) -> dict:
    """The knobs checked one by one (a ValueError/TypeError naming a bad one and its choices)."""
    unknown = sorted(set(knobs) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown knob(s) {unknown}; the knobs are {sorted(DEFAULTS)}")
    return {k: _check_knob(k, v) for k, v in knobs.items()}


def build_model(knobs: dict, generator: torch.Generator | None = None, device=None) -> MLP:
    """The MLP the knobs describe: 2 inputs, ``depth`` hidden layers of ``width``, 2 logits."""
    k = {**DEFAULTS, **check_knobs(knobs)}
    sizes = [2] + [k["width"]] * k["depth"] + [2]
    scheme, kwargs = {"xavier": ("xavier_normal", {}), "he": ("kaiming_normal", {"nonlinearity": "relu"}),
                      "lecun": ("lecun_normal", {}), "normal": ("normal", {"std": k["init_scale"]}),
                      "zeros": ("zeros", {})}[k["init"]]
    model = MLP(sizes, k["activation"], batchnorm=k["batchnorm"], dropout=k["dropout"], init=scheme,
                init_kwargs=kwargs or None, generator=generator)
    if k["init"] in ("xavier", "he", "lecun") and k["init_scale"] != 1.0:
        with torch.no_grad():
            for lin in model.linears:
                lin.weight.mul_(k["init_scale"])
    return model.to(device)


def _ratio(before: torch.Tensor, after: torch.Tensor) -> float:
    """||after - before|| / ||before||; 0 when a zero weight stayed zero (nothing moved)."""
    change, size = (after - before).norm().item(), before.norm().item()
    if size > 0:
        return change / size
    return 0.0 if change == 0 else math.inf


class Playground:
    """A 2-D classification problem, a network and its optimiser, built from knobs; see the module."""

    def __init__(self, seed: int = 0, *, n_points: int = 500, eval_every: int = 5, device=None, **knobs):
        self.seed = _checks.integer("seed", seed, low=0)
        self.n_points = _checks.integer("n_points", n_points, low=4)
        self.eval_every = _checks.integer("eval_every", eval_every, low=1)
        # the CPU by default: a 2-16-16-2 network is bound by kernel launches on a GPU, where each
        # step costs more than the arithmetic of the whole run on a CPU core; device="cuda" works too
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.knobs = {**DEFAULTS, **check_knobs(knobs)}
        self._data_key = None
        self.reset()

    # ------------------------------------------------------------------------------- building
    def _make_data(self) -> None:
        k = self.knobs
        key = (k["dataset"], k["noise"], k["train_fraction"])
        if key == self._data_key:
            return
        X, y = DATASETS[k["dataset"]](self.n_points, noise=k["noise"],
                                      seed=seed_for(self.seed, f"playground data {k['dataset']}"))
        train, test = data.train_test_split(X, y, k["train_fraction"], seed=seed_for(self.seed, "playground split"))
        # standardise with the training split's statistics (07): every set then sits near [-2, 2]^2
        self.mean, self.std = train[0].mean(0), train[0].std(0)
        self.raw_train, self.raw_test = train, test
        self.train = ((train[0] - self.mean) / self.std, train[1])
        self.test = ((test[0] - self.mean) / self.std, test[1])
        self.train = tuple(t.to(self.device) for t in self.train)
        self.test = tuple(t.to(self.device) for t in self.test)
        self._data_key = key

    def reset(self) -> "Playground":
        """A fresh network from the knobs (the same initial weights for the same seed and knobs), step 0."""
        self._make_data()
        self.model = build_model(self.knobs, generator=rng(self.seed, "playground init"), device=self.device)
        masks = rng(self.seed, "playground dropout", device=self.device)   # on the activations' device
        for m in self.model.modules():
            if isinstance(m, Dropout):
                m.generator = masks
        self._batches = rng(self.seed, "playground batches")
        self._order, self._cursor = None, math.inf
        self.step = 0
        self.diverged_at: int | None = None
        self.history = {"step": [], "train_loss": [], "test_loss": [], "train_acc": [], "test_acc": []}
        self.ratios: list[list[float]] = []          # per step, per Linear layer: ||dW|| / ||W||
        self._since = 0                               # the step the training knobs were last set
        # two classes: log 2 = 0.69, within 50% (a small net's Xavier logits are not tiny)
        self.initial = babysit.initial_loss_check(self.model, self.train, rtol=0.5)
        self._make_optimizer()
        self._evaluate()
        return self

    def _make_optimizer(self) -> None:
        k = self.knobs
        cls = OPTIMIZERS[k["optimizer"]]
        kw = {"lr": k["lr"]}
        if k["optimizer"] in ("momentum", "nesterov"):
            kw["momentum"] = k["momentum"]
        if k["optimizer"] in ("adam", "adamw"):
            kw["betas"] = (k["momentum"], 0.999)
        if k["optimizer"] == "adamw":
            kw["weight_decay"] = k["l2"]
        self.optimizer = cls(self.model.parameters(), **kw)
        self._optimizer_key = (k["optimizer"], k["momentum"], k["l2"] if k["optimizer"] == "adamw" else None)

    def set(self, **knobs) -> "Playground":
        """Change knobs. A structural one (data, architecture, init, BatchNorm, dropout) builds a new
        network at step 0; the others (optimiser, its settings, schedule, L2, batch size) apply
        from the next step, keeping the weights (a new optimiser starts with empty state)."""
        knobs = check_knobs(knobs)
        changed = {k: v for k, v in knobs.items() if self.knobs[k] != v}
        self.knobs.update(knobs)
        if any(k in STRUCTURAL for k in changed):
            return self.reset()
        if changed:
            self._since = self.step
            key = (self.knobs["optimizer"], self.knobs["momentum"],
                   self.knobs["l2"] if self.knobs["optimizer"] == "adamw" else None)
            if key != self._optimizer_key:
                self._make_optimizer()
        return self

    # ------------------------------------------------------------------------------- training
    @property
    def rate(self) -> float:
        """The learning rate eta_t the schedule gives for the next step."""
        k, t = self.knobs, self.step
        eta0 = k["lr"]
        return float({"constant": lambda: eta0,
                      "step": lambda: schedules.step_decay(t, eta0, step_size=500, gamma=0.5),
                      "cosine": lambda: schedules.cosine(t, eta0, total=HORIZON, eta_min=eta0 / 100),
                      "warmup": lambda: schedules.warmup(t, eta0, steps=100, start_factor=0.1),
                      "1/t": lambda: schedules.inverse(t, eta0, decay=0.01)}[k["schedule"]]())

    @property
    def stopped(self) -> bool:
        """True once the run diverged: :meth:`run` does nothing until :meth:`reset`."""
        return self.diverged_at is not None

    def _batch(self):
        X, y = self.train
        n, m = X.shape[0], min(self.knobs["batch_size"], X.shape[0])
        if self._cursor + m > n:                       # a new epoch: a fresh permutation
            self._order, self._cursor = torch.randperm(n, generator=self._batches).to(X.device), 0
        idx = self._order[self._cursor:self._cursor + m]
        self._cursor += m
        return X[idx], y[idx]

    def run(self, steps: int) -> "Playground":
        """Train ``steps`` mini-batch steps (fewer if it diverges: then ``diverged_at`` is set)."""
        steps = _checks.integer("steps", steps, low=0)
        model, opt = self.model, self.optimizer
        linears = model.linears
        l2 = self.knobs["l2"] if self.knobs["optimizer"] != "adamw" else 0.0
        model.train()
        for _ in range(steps):
            if self.stopped:
                break
            for group in opt.param_groups:
                group["lr"] = self.rate
            xb, yb = self._batch()
            loss = F.cross_entropy(model(xb), yb)
            if l2 > 0:
                loss = loss + l2_penalty(model, l2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            before = [lin.weight.detach().clone() for lin in linears]
            opt.step()
            self.step += 1
            self.ratios.append([_ratio(b, lin.weight.detach()) for b, lin in zip(before, linears)])
            if not math.isfinite(loss.item()) or not all(math.isfinite(r) for r in self.ratios[-1]):
                self.diverged_at = self.step
                self._evaluate(force=True)
                break
            if self.step % self.eval_every == 0:
                self._evaluate()
        return self

    # ------------------------------------------------------------------------------- measuring
    @torch.no_grad()
    def _evaluate(self, force: bool = False) -> None:
        """Full training and test loss and accuracy (eval mode), and the per-layer summaries."""
        model = self.model
        model.eval()
        with torch.enable_grad(), Recorder(model) as rec:
            out = model(self.train[0])
            loss = F.cross_entropy(out, self.train[1])
            if loss.requires_grad:
                loss.backward()
        model.zero_grad(set_to_none=True)
        test_out = model(self.test[0])
        model.train()
        tl, vl = loss.item(), F.cross_entropy(test_out, self.test[1]).item()
        h = self.history
        h["step"].append(self.step)
        h["train_loss"].append(tl)
        h["test_loss"].append(vl)
        h["train_acc"].append((out.argmax(1) == self.train[1]).float().mean().item())
        h["test_acc"].append((test_out.argmax(1) == self.test[1]).float().mean().item())
        if self.diverged_at is None and (not math.isfinite(tl) or tl > BLOWUP):
            self.diverged_at = self.step
        self._layers = []
        for r in rec.hidden:
            grad = r.grad_pre
            self._layers.append({
                "layer": r.index, "activation": r.activation,
                "saturated": saturated_fraction(r.act, r.activation) if r.activation in ("tanh", "sigmoid") else math.nan,
                "dead": dead_fraction(r.act) if r.activation == "relu" else math.nan,
                "identical": bool((r.act - r.act[:, :1]).abs().max().item() < 1e-6) if r.act.shape[1] > 1 else False,
                "grad_rms": grad.pow(2).mean().sqrt().item() if grad is not None else math.nan,
            })

    def layer_stats(self) -> list[dict]:
        """Per hidden layer at the last evaluation: saturated and dead fractions (NaN where the
        activation has none), whether all its units compute the same thing, the RMS gradient
        reaching its pre-activation, and the update/weight ratio of its weights (median of the
        last 20 steps; NaN before the first step)."""
        recent = np.array(self.ratios[-20:], dtype=float).reshape(-1, len(self.model.linears))
        med = np.median(recent, axis=0) if len(recent) else np.full(len(self.model.linears), np.nan)
        return [{**row, "ratio": float(med[row["layer"] - 1])} for row in self._layers]

    def output_ratio(self) -> float:
        """The output layer's update/weight ratio (median of the last 20 steps)."""
        recent = np.array(self.ratios[-20:], dtype=float).reshape(-1, len(self.model.linears))
        return float(np.median(recent[:, -1])) if len(recent) else math.nan

    def data_window(self, margin: float = 0.5) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1): the range of all the points (training and test), grown by ``margin``
        on each side and rounded to halves (so it moves only when the data move a lot)."""
        margin = _checks.number("margin", margin, low=0.0)
        X = torch.cat([self.train[0], self.test[0]])
        lo = [round(v * 2) / 2 for v in (X.min(0).values - margin).tolist()]
        hi = [round(v * 2) / 2 for v in (X.max(0).values + margin).tolist()]
        return lo[0], hi[0], lo[1], hi[1]

    @torch.no_grad()
    def surface(self, n: int = 60, margin: float = 0.5, window=None):
        """P(class 1) on an n x n grid over the data (standardised coordinates), and its extent
        (x0, x1, y0, y1): for the decision-surface image. Eval mode.

        window: (x0, x1, y0, y1) to use instead of the data's range (grown by ``margin``, rounded
        to halves); e.g. a figure that keeps one window while the data move a little.
        """
        n = _checks.integer("n", n, low=2)
        if window is None:
            x0, x1, y0, y1 = self.data_window(margin)
            lo, hi = [x0, y0], [x1, y1]
        else:
            try:
                x0, x1, y0, y1 = (float(v) for v in window)
            except (TypeError, ValueError):
                raise ValueError(f"window must be 4 numbers (x0, x1, y0, y1); got {window!r}") from None
            if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
                raise ValueError(f"window must be finite with x0 < x1 and y0 < y1; got {window!r}")
            lo, hi = [x0, y0], [x1, y1]
        xs = torch.linspace(lo[0], hi[0], n, device=self.device)
        ys = torch.linspace(lo[1], hi[1], n, device=self.device)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        grid = torch.stack([gx.flatten(), gy.flatten()], 1)
        self.model.eval()
        p = torch.softmax(self.model(grid), 1)[:, 1].reshape(n, n)
        self.model.train()
        p = torch.nan_to_num(p, nan=0.5)
        return p.cpu().numpy(), (lo[0], hi[0], lo[1], hi[1])

    # ------------------------------------------------------------------------------- diagnosing
    def diagnose(self) -> babysit.Checklist:
        """Notebook 09's checks on the current network, each a CheckResult with a one-line
        ``details['short']`` for the figure: initial loss vs log K, symmetry (01), saturated or
        dead units (02), the update/weight ratio since a training knob last changed, the
        train/test gap (in accuracy as 09 checks it, and in loss: at most ``LOSS_GAP``)."""
        init = self.initial
        init.details["short"] = (f"{init.value:.2f} at step 0, near log 2" if init.passed else
                                 f"{init.value:.3g} at step 0, not log 2: init scale")
        return babysit.Checklist([init, self._symmetry_check(), self._units_check(), self._ratio_check(),
                                  self._gap_check()])

    def _symmetry_check(self) -> CheckResult:
        same = [row["layer"] for row in self._layers if row["identical"]]
        passed = not same
        msg = ("hidden units differ: the symmetry is broken." if passed else
               f"every unit of layer(s) {', '.join(map(str, same))} computes the same thing (equal weights "
               f"give equal gradients, so they stay equal): the symmetry never breaks. Use a random init (01).")
        short = "units differ" if passed else f"layer {same[0]}: all units identical (01)"
        return CheckResult("symmetry", passed, same, (None, None), msg, {"short": short})

    def _units_check(self) -> CheckResult:
        bad = []
        for row in self._layers:
            if row["saturated"] > SATURATED:
                bad.append(f"layer {row['layer']} {row['saturated']:.0%} saturated")
            if row["dead"] > DEAD:
                bad.append(f"layer {row['layer']} {row['dead']:.0%} dead")
        passed = not bad
        msg = ("no layer is mostly saturated or dead." if passed else
               "; ".join(bad) + ": little gradient gets through. Scale the init down (Xavier for tanh, He for "
               "ReLU), or lower the learning rate (02).")
        return CheckResult("units", passed, bad, (0.0, SATURATED), msg,
                           {"short": "none mostly saturated or dead" if passed else bad[0] + " (02)"})

    def _ratio_check(self) -> CheckResult:
        rows = self.ratios[self._since:]
        names = [f"linear{i}" for i in range(1, len(self.model.linears) + 1)]
        if not rows:
            return CheckResult("update ratio", False, {}, babysit.RATIO_BAND,
                               "no steps since the training knobs were set: train first.",
                               {"short": "no steps yet: press start"})
        H = np.array(rows, dtype=float)
        med = {name: float(np.median(H[:, j])) for j, name in enumerate(names)}
        result = babysit._ratio_result(med, babysit.RATIO_BAND, f"(median of the {len(H)} steps since η was set)",
                                       self.diverged_at)
        lo, hi = babysit.RATIO_BAND
        vals = list(med.values())
        if self.diverged_at is not None:
            short = f"diverged at step {self.diverged_at}: η far too high (03)"
        elif result.passed:
            short = f"{min(vals):.0e} to {max(vals):.0e}, in the band"
        elif max(vals) > hi:
            short = f"up to {max(vals):.0e}: η may be too high (09)"
        elif min(vals) == 0:
            short = "0 in some layer: no gradient reaches it"
        else:
            short = f"down to {min(vals):.0e}: η too low, or no gradient (09)"
        result.details["short"] = short
        return result

    def _gap_check(self) -> CheckResult:
        """09's train/validation gap on the test split (accuracy), and the same gap in loss: on a few
        hundred 2-D points a memorising network may still classify most test points right while
        its test loss climbs far above its training loss (confidently wrong on the rest)."""
        result = babysit.train_val_gap(self.model, self.train, self.test, max_gap=0.05, min_train_acc=0.9)
        result.name = "train/test gap"
        tr, te = result.details["train_acc"], result.details["val_acc"]
        train_loss, test_loss = self.history["train_loss"][-1], self.history["test_loss"][-1]
        loss_gap = test_loss - train_loss
        result.details.update(train_loss=train_loss, test_loss=test_loss, loss_gap=loss_gap)
        if result.passed and not loss_gap <= LOSS_GAP:
            result.passed = False
            result.message = result.message.replace(" No sign of overfitting.", "") + (f" But the test loss {test_loss:.3g} is {loss_gap:.2g} above the training loss "
                               f"{train_loss:.3g} (expected at most {LOSS_GAP:g}): overfitting, confidently wrong on "
                               f"the test points it misses. Try L2, dropout or more data.")
        over = result.value > 0.05 or not loss_gap <= LOSS_GAP
        word = "ok" if result.passed else ("overfitting (05, 06)" if over else "underfitting")
        result.details["short"] = (f"train {tr:.0%}, test {te:.0%}: {word}" if not over or result.value > 0.05 else
                                   f"loss {train_loss:.2g} vs {test_loss:.2g} on test: {word}")
        if self.diverged_at is not None:
            result.details["short"] = "diverged: nothing to compare"
        return result

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.knobs.items() if v != DEFAULTS[k]}
        return f"Playground(seed={self.seed}, step={self.step}, {changed or 'defaults'})"


__all__ = ["Playground", "build_model", "check_knobs", "DEFAULTS", "DATASETS", "ACTIVATIONS", "INITS",
           "OPTIMIZERS", "SCHEDULES", "STRUCTURAL"]
