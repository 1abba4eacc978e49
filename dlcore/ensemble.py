r"""K small MLPs trained at once: a deep ensemble (Lakshminarayanan et al. 2017), vectorised.

K members of the same shape [d_in, h_1, ..., d_out] are K independent networks, but they can
share every kernel launch: layer l of all members is one stacked weight W_l (K, out, in) and
bias b_l (K, out), and one batched matmul (torch.baddbmm) computes all K layers at once.

::

    input: x (K, n, d_in), each member its own mini-batch (or x (n, d_in), shared by all)
    a_0 = x
    a_l = act(a_{l-1} W_l^T + b_l)      (K, n, h_l)    one baddbmm per layer, l < L
    f   = a_{L-1} W_L^T + b_L           (K, n, d_out)  logits of every member

Training sums the K members' mean losses: C = sum_k C_k. Member k's parameters appear only
in C_k, so dC/dtheta_k = dC_k/dtheta_k, and any optimiser acting element by element (SGD,
momentum, Adam, weight decay) makes exactly the steps K separate trainings would make
(tests/test_ensemble.py checks this against K runs of dlcore.fit).

Speed (benchmarks/ensemble_train.py, K = 16 MLPs 784-100-10 on MNIST, batch 64, 200 SGD steps,
float32, a 2-core CPU): a python loop of K dlcore.fit runs 2.6 s, this 1.0 s (2.6x), the same
with torch.func.stack_module_state + vmap + functional_call 1.09 s; with 1 thread 2.5 s, 1.9 s,
2.0 s (1.3x: there the matmul arithmetic dominates, and batching saves only per-call overhead).
Measured again on a busier 2-core VM: loop 2.1-2.2 s, this 1.0-1.1 s (2.0-2.2x), 1 thread 1.36x.
baddbmm is kept: as fast as vmap, and its parameters are plain tensors of one module.

Dropout: ``Ensemble(sizes, K, dropout=p)`` (one p, or one per member) drops each hidden unit of
member k with probability p_k after its activation, in training mode, as
``dlcore.MLP(sizes, dropout=p_k)`` does: a sweep over dropout rates is then one training run.

Data: every member trains on all of ``train`` by default (a deep ensemble: members differ only
in their initialisation and batch order), or on its own rows of it: ``fit_ensemble(...,
bootstrap=True)`` gives member k a bootstrap resample (n rows drawn with replacement: bagging,
Breiman 1996), ``rows=`` any per-member index sets (e.g. a different data set per member,
stacked in one X).

Divergence: :func:`fit_ensemble` checks every member's loss at every step, as ``dlcore.fit``
does; a member whose loss is inf or NaN is stopped there (its parameters are kept as they were
after that step, as ``fit`` leaves a diverged model) and reported in
``EnsembleHistory.diverged_at``, while the others train on.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks
from .nets import ACTIVATIONS, MLP, make_activation
from .seeding import seed_for
from .train import History

LOSSES = ("cross_entropy", "mse")


def _sizes(sizes) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a list of layer widths like [784, 100, 10]; got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width; got {list(sizes)}")
    return [_checks.integer(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]


def _dropout_rates(dropout, k: int) -> list[float]:
    """One dropout rate per member from a number or a sequence of k numbers, each in [0, 1)."""
    if isinstance(dropout, (str, bytes)) or isinstance(dropout, Tensor):
        raise TypeError(f"dropout must be a number or a list of {k} numbers in [0, 1); "
                        f"got {type(dropout).__name__}")
    if hasattr(dropout, "__len__"):
        if len(dropout) != k:
            raise ValueError(f"dropout must be one number or one per member ({k}); "
                             f"got {len(dropout)} numbers")
        rates = list(dropout)
    else:
        rates = [dropout] * k
    return [_checks.number(f"dropout[{i}]" if hasattr(dropout, "__len__") else "dropout", r,
                           low=0.0, high=1.0, high_open=True) for i, r in enumerate(rates)]


class Ensemble(nn.Module):
    r"""K MLPs of the same ``sizes`` and ``activation`` with stacked parameters.

    Parameters ``weights.l`` (K, sizes[l+1], sizes[l]) and ``biases.l`` (K, sizes[l+1]) for
    l = 0..L-1, so ``ens.weights[l][k]`` is member k's ``linear{l+1}.weight`` of a
    :class:`dlcore.MLP`. Member k is built as ``MLP(sizes, activation, init=init,
    generator=torch.Generator().manual_seed(seed + k))`` (``init=None``: torch's default
    nn.Linear init, under ``torch.manual_seed(seed + k)``, the global generator restored
    afterwards), so every member is independently initialised and reproducible on its own.
    :meth:`from_members` stacks MLPs you made yourself; :meth:`member` gives one back.

    ``dropout``: one rate p for every member or a list of K rates. In training mode member k
    multiplies each hidden activation by m / (1 - p_k), m ~ Bernoulli(1 - p_k) per element
    (inverted dropout, as :class:`dlcore.nn.Dropout`); in eval mode nothing is dropped. The
    masks come from ``generator`` (a ``torch.Generator``, settable later as ``ens.generator``;
    fastest on the parameters' device, a CPU one also works and gives the same masks on any
    device) or, if None, from torch's global generator.
    """

    def __init__(self, sizes, k: int, activation: str = "tanh", *, dropout=0.0,
                 init: str | None = None, init_kwargs: dict | None = None, seed: int = 0,
                 device=None, dtype=torch.float32, generator: torch.Generator | None = None):
        super().__init__()
        sizes = _sizes(sizes)
        k = _checks.integer("k", k, low=1)
        _checks.choice("activation", activation, ACTIVATIONS)
        rates = _dropout_rates(dropout, k)
        seed = _checks.integer("seed", seed, low=0)
        members = []
        for i in range(k):
            if init is None:
                with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG alone
                    torch.manual_seed(seed + i)
                    members.append(MLP(sizes, activation, init_kwargs=init_kwargs))
            else:
                members.append(MLP(sizes, activation, init=init, init_kwargs=init_kwargs,
                                   generator=torch.Generator().manual_seed(seed + i)))
        self._stack(members, device, dtype, rates, generator)

    @classmethod
    def from_members(cls, members, *, device=None, dtype=None,
                     generator: torch.Generator | None = None) -> "Ensemble":
        """An Ensemble holding copies of ``members``: dlcore.MLPs of one shape, with biases
        and without batch norm (its batch statistics would need one batch per member). Each
        member keeps its own dropout rate (``MLP(..., dropout=p)``)."""
        if isinstance(members, nn.Module) or not hasattr(members, "__len__") or not members:
            raise TypeError("members must be a non-empty list of dlcore.MLP")
        for i, m in enumerate(members):
            if not isinstance(m, MLP):
                raise TypeError(f"members[{i}] must be a dlcore.MLP; got {type(m).__name__}")
            if m.batchnorm or any(l.bias is None for l in m.linears):
                raise ValueError(f"members[{i}] has batch norm or no biases; Ensemble stacks "
                                 f"plain Linear + bias layers only")
            if (m.sizes, m.activation) != (members[0].sizes, members[0].activation):
                raise ValueError(f"members[{i}] is an MLP({m.sizes}, {m.activation!r}) but "
                                 f"members[0] is MLP({members[0].sizes}, {members[0].activation!r})")
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self._stack(list(members), device, dtype or members[0].linears[0].weight.dtype,
                    [m.dropout for m in members], generator)
        return self

    def _stack(self, members, device, dtype, rates, generator) -> None:
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
        first = members[0]
        self.sizes, self.activation, self.k = list(first.sizes), first.activation, len(members)
        kw = {"device": device, "dtype": dtype}
        with torch.no_grad():
            self.weights = nn.ParameterList(
                [nn.Parameter(torch.stack([m.linears[l].weight for m in members]).to(**kw))
                 for l in range(first.depth)])
            self.biases = nn.ParameterList(
                [nn.Parameter(torch.stack([m.linears[l].bias for m in members]).to(**kw))
                 for l in range(first.depth)])
        self.act = make_activation(self.activation)
        self.dropout = [float(r) for r in rates]
        self.generator = generator

    def _drop(self, a: Tensor) -> Tensor:
        """Inverted dropout of the hidden activations a (K, n, h), member k at rate p_k."""
        # u < 1 - p_k with u in [0, 1): kept with probability 1 - p_k; p_k = 0 keeps all (u < 1)
        # (u in float32 at least, as dlcore.nn.dropout: a 16-bit u would round P(keep))
        udtype = a.dtype if a.element_size() >= 4 else torch.float32
        keep = torch.tensor([1.0 - p for p in self.dropout], dtype=udtype, device=a.device)
        keep = keep.view(-1, 1, 1)                                # (K, 1, 1): broadcast over (n, h)
        # drawn on the generator's device, then moved: a CPU generator (or one made before
        # ens.to(device)) gives the same masks on every device instead of a device-mismatch error
        gdev = a.device if self.generator is None else self.generator.device
        mask = torch.rand(a.shape, generator=self.generator, device=gdev, dtype=udtype).to(a.device)
        return a * mask.lt_(keep).div_(keep).to(a.dtype)        # 0 or 1/(1 - p_k)  (K, n, h)

    def forward(self, x: Tensor) -> Tensor:
        """x (n, d_in), shared by every member, or (K, n, d_in), one batch each; returns the
        logits of every member (K, n, d_out). Dropout (if any) in training mode only."""
        _checks.tensor("x", x, min_dim=2)
        d_in, k = self.sizes[0], self.k
        if x.dim() == 2 and x.shape[1] == d_in:
            x = x.unsqueeze(0).expand(k, -1, -1)  # a view: no copy of the shared batch
        elif not (x.dim() == 3 and x.shape[0] == k and x.shape[2] == d_in):
            raise ValueError(f"x must have shape (n, {d_in}) or ({k}, n, {d_in}); "
                             f"got {tuple(x.shape)}")
        last = len(self.weights) - 1
        drop = self.training and any(self.dropout)
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            # b (K, 1, out) + x (K, n, in) @ W^T (K, in, out): all K layers in one kernel
            x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            if l < last:
                x = self.act(x)
                if drop:
                    x = self._drop(x)
        return x

    @torch.no_grad()
    def member_proba(self, x: Tensor) -> Tensor:
        """softmax of every member's logits in eval mode (no dropout), (K, n, d_out)."""
        was_training = self.training
        self.eval()
        try:
            return self(x).softmax(dim=2)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """The ensemble's prediction p(y | x) = (1/K) sum_k softmax(f_k(x)), (n, d_out).

        The mean of the members' probabilities, not the softmax of their mean logits: the
        ensemble is a mixture of the K predictive distributions."""
        return self.member_proba(x).mean(0)

    def member(self, k: int) -> MLP:
        """Member k as a plain :class:`dlcore.MLP` with its dropout rate (a copy: training it
        leaves the ensemble be)."""
        k = _checks.integer("k", k, low=0, high=self.k - 1)
        w0 = self.weights[0]
        mlp = MLP(self.sizes, self.activation, dropout=self.dropout[k])
        mlp = mlp.to(device=w0.device, dtype=w0.dtype)
        with torch.no_grad():
            for layer, w, b in zip(mlp.linears, self.weights, self.biases):
                layer.weight.copy_(w[k])
                layer.bias.copy_(b[k])
        return mlp

    def extra_repr(self) -> str:
        drop = f", dropout={self.dropout}" if any(self.dropout) else ""
        return f"k={self.k}, sizes={self.sizes}, activation={self.activation!r}{drop}"


def batch_orders(n: int, batch_size: int, steps: int, seeds) -> Tensor:
    """Row indices (steps, K, batch_size): the mini-batches ``dlcore.fit`` draws with
    seed=seeds[k], for K = len(seeds) runs (a fresh torch.randperm of the n rows per epoch from
    ``torch.Generator().manual_seed(seeds[k])``; an epoch's short tail is skipped), on the CPU."""
    n = _checks.integer("n", n, low=1)
    batch_size = _checks.integer("batch_size", batch_size, low=1, high=n)
    steps = _checks.integer("steps", steps, low=0)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or not len(seeds):
        raise TypeError(f"seeds must be a non-empty list of ints; got {seeds!r}")
    seeds = [_checks.integer(f"seeds[{j}]", s, low=0) for j, s in enumerate(seeds)]
    out = torch.empty(steps, len(seeds), batch_size, dtype=torch.long)
    for j, s in enumerate(seeds):
        gen = torch.Generator().manual_seed(s)
        order, cursor = None, n
        for t in range(steps):
            if cursor + batch_size > n:
                order, cursor = torch.randperm(n, generator=gen), 0
            out[t, j] = order[cursor:cursor + batch_size]
            cursor += batch_size
    return out


def bootstrap_rows(n: int, k: int, seed: int = 0) -> Tensor:
    """k bootstrap resamples of n rows (bagging, Breiman 1996): row indices (k, n), each row of a
    resample drawn uniformly from 0..n-1 with replacement (torch.randint on
    ``torch.Generator().manual_seed(seed)``), on the CPU. A resample holds about 1 - 1/e = 63% of
    the distinct rows, some of them twice or more."""
    n = _checks.integer("n", n, low=1)
    k = _checks.integer("k", k, low=1)
    seed = _checks.integer("seed", seed, low=0)
    return torch.randint(n, (k, n), generator=torch.Generator().manual_seed(seed))


def _member_rows(rows, k: int, n: int) -> list[Tensor]:
    """rows: a (k, m) integer tensor or k 1-D integer index sequences into n rows -> k CPU tensors."""
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__len__"):
        raise TypeError(f"rows must be a ({k}, m) tensor or a list of {k} index tensors; got "
                        f"{type(rows).__name__}")
    if isinstance(rows, Tensor) and rows.dim() != 2:
        raise ValueError(f"rows must be a ({k}, m) tensor or a list of {k} index tensors; got a "
                         f"tensor of shape {tuple(rows.shape)}")
    if len(rows) != k:
        raise ValueError(f"rows must hold one index set per member ({k}); got {len(rows)}")
    out = []
    for j, r in enumerate(rows):
        r = torch.as_tensor(r).cpu() if not isinstance(r, Tensor) else r.cpu()
        if r.dim() != 1 or not len(r) or r.dtype.is_floating_point or r.dtype == torch.bool:
            raise ValueError(f"rows[{j}] must be a non-empty 1-D tensor of integer row indices; got "
                             f"dtype {r.dtype}, shape {tuple(r.shape)}")
        if int(r.min()) < 0 or int(r.max()) >= n:
            raise ValueError(f"rows[{j}] must index rows 0..{n - 1} of train; got "
                             f"{int(r.min())}..{int(r.max())}")
        out.append(r.long())
    return out


@dataclass
class EnsembleHistory:
    """What :func:`fit_ensemble` saw.

    ``loss`` (steps run, K) on the CPU: member k's mean mini-batch loss at every step, NaN after
    the step it diverged at. ``diverged_at[k]``: the step (1-based, as ``History.diverged_at``)
    whose loss was inf/NaN, where member k was stopped, else None. Training ends early when
    every member has diverged, so ``loss`` may have fewer rows than ``steps`` asked for.
    ``rows``: the rows of train each member trained on (a list of K CPU index tensors, e.g. its
    bootstrap resample), or None when every member used all of them.
    """

    loss: Tensor
    diverged_at: list = field(default_factory=list)
    seconds: float = 0.0
    rows: list | None = None

    @property
    def diverged(self) -> list[bool]:
        """Per member: whether it diverged."""
        return [d is not None for d in self.diverged_at]

    def member(self, k: int) -> History:
        """Member k's run as a :class:`dlcore.train.History`, as ``dlcore.fit`` would have
        returned it (steps up to and including a diverged one), e.g. for
        ``dlcore.plot.loss_curves``, which then labels it "diverged at step k"."""
        k = _checks.integer("k", k, low=0, high=self.loss.shape[1] - 1)
        end = self.diverged_at[k] or self.loss.shape[0]
        return History(step=list(range(1, end + 1)), loss=self.loss[:end, k].tolist(),
                       diverged_at=self.diverged_at[k], seconds=self.seconds)


def fit_ensemble(ens: Ensemble, train, *, steps: int = 500, batch_size: int = 64,
                 optimizer: torch.optim.Optimizer | None = None, lr: float = 0.1,
                 loss: str = "cross_entropy", seed: int = 0,
                 same_batches: bool = False, bootstrap: bool = False,
                 rows=None) -> EnsembleHistory:
    r"""Train all K members of ``ens`` together on ``train = (X, y)``; return an
    :class:`EnsembleHistory` (losses (steps, K), which members diverged and when).

    ::

        for t = 1..steps:
            member k's mini-batch B_k(t), k = 1..K                 X[idx] (K, batch_size, d_in)
            C = sum_k (1/|B_k|) sum_{i in B_k} loss(f_k(x_i), y_i)
            optimizer step on the stacked parameters (default SGD with lr)
            a member whose loss C_k is inf or NaN: stopped (parameters held from now on)

    Mini-batches: independent by default (the classic deep ensemble: member k reshuffles
    with seed + k, exactly as ``dlcore.fit(member_k, train, seed=seed + k)`` would), or
    ``same_batches=True``: every member sees the same batches (seed), so the members differ
    only by their initialisation. Parameters end as K separate ``dlcore.fit`` runs would leave
    them (same optimiser settings), diverged members included: ``fit`` stops at a diverged
    step, and so does that member here, while the others go on. (Dropout masks, if the
    ensemble has dropout, are drawn differently from K separate runs'.)

    Data per member: all of ``train`` by default. ``bootstrap=True``: member k trains on its own
    bootstrap resample ``rows[k]`` of the n rows (:func:`bootstrap_rows` with seed
    ``dlcore.seed_for(seed, "bootstrap")``), as ``dlcore.fit(member_k, (X[rows[k]],
    y[rows[k]]), seed=seed + k)`` would; ``rows=``: your own index sets instead, a (K, m) tensor
    or K 1-D index tensors (lengths may differ; each at least ``batch_size``). The rows used
    come back in ``EnsembleHistory.rows``.
    """
    if not isinstance(ens, Ensemble):
        raise TypeError(f"ens must be a dlcore.ensemble.Ensemble; got {type(ens).__name__}")
    if not (isinstance(train, (tuple, list)) and len(train) == 2):
        raise TypeError(f"train must be a pair (X, y) of tensors; got {type(train).__name__}")
    X, y = (_checks.tensor(f"train[{i}]", t, min_dim=1) for i, t in enumerate(train))
    if X.dim() != 2 or X.shape[1] != ens.sizes[0] or y.shape[0] != X.shape[0]:
        raise ValueError(f"train must be X (n, {ens.sizes[0]}) and y with n rows; got X "
                         f"{tuple(X.shape)}, y {tuple(y.shape)}")
    steps = _checks.integer("steps", steps, low=0)
    n = X.shape[0]
    batch_size = _checks.integer("batch_size", batch_size, low=1, high=n)
    _checks.choice("loss", loss, LOSSES)
    seed = _checks.integer("seed", seed, low=0)
    if not isinstance(same_batches, bool):
        raise TypeError(f"same_batches must be True or False; got {same_batches!r}")
    if not isinstance(bootstrap, bool):
        raise TypeError(f"bootstrap must be True or False; got {bootstrap!r}")
    if bootstrap and rows is not None:
        raise ValueError("give either bootstrap=True or rows=, not both")
    if optimizer is None:
        optimizer = torch.optim.SGD(ens.parameters(), lr=_checks.number("lr", lr, low=0.0,
                                                                         low_open=True))
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    k = ens.k
    if bootstrap:
        rows = list(bootstrap_rows(n, k, seed_for(seed, "bootstrap")))
    elif rows is not None:
        rows = _member_rows(rows, k, n)
        small = min(range(k), key=lambda j: len(rows[j]))
        if batch_size > len(rows[small]):
            raise ValueError(f"batch_size must be at most the smallest member's rows "
                             f"(rows[{small}]: {len(rows[small])}); got {batch_size}")
    # all the indices up front: one tensor, no per-step python bookkeeping per member
    if rows is not None:  # member j: positions into its own rows, as fit on X[rows[j]] draws them
        seeds = [seed if same_batches else seed + j for j in range(k)]
        idx = torch.stack([r[batch_orders(len(r), batch_size, steps, [s])[:, 0]]
                           for r, s in zip(rows, seeds)], 1)                 # (steps, K, batch_size)
    elif same_batches:
        idx = batch_orders(n, batch_size, steps, [seed]).expand(steps, k, batch_size)
    else:
        idx = batch_orders(n, batch_size, steps, [seed + j for j in range(k)])
    idx = idx.to(X.device)
    # on the data's device, in the parameters' dtype (float64 stays float64)
    losses = torch.full((steps, k), float("nan"), dtype=ens.weights[0].dtype, device=X.device)
    params = list(ens.parameters())                       # each (K, ...): member j is p[j]
    diverged_at: list[int | None] = [None] * k
    held: dict[int, list[Tensor]] = {}                    # diverged member -> its parameters
    was_training = ens.training
    ens.train()
    start = time.perf_counter()
    t = -1
    for t in range(steps):
        xb, yb = X[idx[t]], y[idx[t]]                     # (K, B, d_in), (K, B, ...)
        out = ens(xb)                                     # (K, B, d_out)
        if loss == "cross_entropy":
            per = F.cross_entropy(out.flatten(0, 1), yb.flatten(), reduction="none")
            per = per.view(k, batch_size).mean(1)         # each member's mean loss   (K,)
        else:
            per = (out - yb.view_as(out)).square().flatten(1).mean(1)
        optimizer.zero_grad(set_to_none=True)
        per.sum().backward()                              # sum: no member's gradient is scaled
        optimizer.step()
        per = per.detach()
        losses[t] = per
        if held:  # members stopped at an earlier step: undo this step for them, record no loss
            with torch.no_grad():
                for j, saved in held.items():
                    for p, value in zip(params, saved):
                        p[j] = value
            losses[t, list(held)] = float("nan")
        bad = ~torch.isfinite(per)
        if bool(bad.any()):  # one host sync per step, as fit's loss.item()
            for j in torch.nonzero(bad).flatten().tolist():
                if diverged_at[j] is None:  # newly diverged: stop it here, after this step
                    diverged_at[j] = t + 1
                    held[j] = [p.detach()[j].clone() for p in params]
            if len(held) == k:  # every member stopped: nothing left to train
                break
    ens.train(was_training)
    return EnsembleHistory(losses[:t + 1].cpu(), diverged_at, time.perf_counter() - start, rows)


@torch.no_grad()
def accuracy(ens: Ensemble, data) -> tuple[float, Tensor]:
    """(ensemble accuracy, members' accuracies (K,)) on ``data = (X, y)``, in eval mode: the
    ensemble predicts argmax of the mean probability, member k argmax of its own."""
    if not isinstance(ens, Ensemble):
        raise TypeError(f"ens must be a dlcore.ensemble.Ensemble; got {type(ens).__name__}")
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"data must be a pair (X, y) of tensors; got {type(data).__name__}")
    X, y = (_checks.tensor(f"data[{i}]", t, min_dim=1) for i, t in enumerate(data))
    probs = ens.member_proba(X)                           # (K, n, C)
    members = (probs.argmax(2) == y).float().mean(1)
    return (probs.mean(0).argmax(1) == y).float().mean().item(), members.cpu()


__all__ = ["Ensemble", "EnsembleHistory", "fit_ensemble", "batch_orders", "bootstrap_rows", "accuracy"]
