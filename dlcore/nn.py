r"""Batch normalisation (Ioffe & Szegedy 2015) written out, backward pass included.

:class:`BatchNorm1d` is a drop-in for ``torch.nn.BatchNorm1d``: the same constructor keywords and
defaults, the same parameter and buffer names (so ``load_state_dict`` works both ways), the same
outputs, gradients and running statistics (tests/test_nn.py checks, in float64, against torch).
The gradient is not left to autograd: :class:`BatchNormFunction` carries the lectures' backward
pass, and :func:`batchnorm_backward_lecture` keeps it step by step, as derived on the slides.

Speed (benchmarks/batchnorm_step.py, float32, one CPU thread): forward + backward of a 60x100
batch takes about 1.6x as long as torch's fused C++ kernel, one SGD step of a 784-100-100-100-10
MLP with three of these layers 1.26x. An autograd.Function that does almost nothing already costs
what torch's whole layer does; the rest is some twenty tensor operations of a few us each.

Notation (the lectures'): a mini-batch B = {x_1 .. x_m} of m samples, each with C features;
everything below is per feature (per column of the (m, C) input), so mu, sigma^2, gamma, beta
have shape (C,) and the sums run over the m samples. C is the cost, dC/dy its given gradient.
"""
from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from . import _checks


def batchnorm_backward_lecture(grad_out: Tensor, x: Tensor, gamma: Tensor | None = None,
                               eps: float = 1e-5) -> tuple[Tensor, Tensor, Tensor]:
    r"""The backward pass of a training-mode batch norm, one lecture equation per line.

    ::

        input: x (m, C), gamma (C,) (None: 1), eps, dC/dy (m, C)
        mu          = (1/m) sum_i x_i                                          (C,)
        sigma^2     = (1/m) sum_i (x_i - mu)^2           (biased)              (C,)
        x_hat_i     = (x_i - mu) / sqrt(sigma^2 + eps)                         (m, C)
        dC/dx_hat   = dC/dy * gamma                                            (m, C)
        dC/dsigma^2 = sum_i dC/dx_hat_i (x_i - mu) (-1/2) (sigma^2 + eps)^(-3/2)     (C,)
        dC/dmu      = sum_i dC/dx_hat_i (-1 / sqrt(sigma^2 + eps))
                      + dC/dsigma^2 (1/m) sum_i -2 (x_i - mu)                  (C,)
        dC/dx_i     = dC/dx_hat_i / sqrt(sigma^2 + eps) + dC/dsigma^2 2 (x_i - mu) / m
                      + dC/dmu / m                                             (m, C)
        dC/dgamma   = sum_i dC/dy_i x_hat_i                                    (C,)
        dC/dbeta    = sum_i dC/dy_i                                            (C,)

    Returns ``(dC/dx, dC/dgamma, dC/dbeta)``. Slow on purpose (it recomputes mu and sigma^2 and
    keeps every term); :class:`BatchNormFunction` uses the compact :func:`batchnorm_backward`.
    The second term of dC/dmu is exactly 0 (the deviations from the mean sum to 0); it stays
    because the lectures write it, and in floating point it is a rounding error.
    """
    m = x.shape[0]
    mu = x.mean(0)
    xmu = x - mu
    var = (xmu ** 2).mean(0)
    std_inv = 1.0 / torch.sqrt(var + eps)
    x_hat = xmu * std_inv
    dx_hat = grad_out if gamma is None else grad_out * gamma
    dvar = (dx_hat * xmu).sum(0) * -0.5 * (var + eps) ** -1.5
    dmu = (dx_hat * -std_inv).sum(0) + dvar * (-2.0 * xmu).mean(0)
    dx = dx_hat * std_inv + dvar * 2.0 * xmu / m + dmu / m
    return dx, (grad_out * x_hat).sum(0), grad_out.sum(0)


def batchnorm_backward(grad_out: Tensor, x_hat: Tensor, inv_std: Tensor,
                       gamma: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    r"""The same backward pass in its compact form, from what the forward pass kept.

    ::

        input: dC/dy (m, C), x_hat (m, C), inv_std = 1/sqrt(sigma^2 + eps) (C,), gamma (C,)
        dC/dbeta  = sum_i dC/dy_i                                              (C,)
        dC/dgamma = sum_i dC/dy_i x_hat_i                                      (C,)
        dC/dx     = (1/m) inv_std (m dC/dx_hat - sum_i dC/dx_hat_i
                                   - x_hat sum_i dC/dx_hat_i x_hat_i)          (m, C)
                  = gamma inv_std (dC/dy - dC/dbeta / m - x_hat dC/dgamma / m)

    Substitute dC/dsigma^2 and dC/dmu into the lecture's dC/dx (x_i - mu = x_hat_i / inv_std,
    and sum_i (x_i - mu) = 0) to get the first line; the second uses
    sum dC/dx_hat = gamma dC/dbeta and sum dC/dx_hat x_hat = gamma dC/dgamma, so the two sums
    dC/dgamma and dC/dbeta, needed anyway, are the only reductions. Returns
    ``(dC/dx, dC/dgamma, dC/dbeta)``.
    """
    dbeta = grad_out.sum(0)
    dgamma = torch.linalg.vecdot(grad_out, x_hat, dim=0)  # sum_i dy_i x_hat_i
    scale = inv_std if gamma is None else gamma * inv_std
    # (dy - (dbeta + x_hat dgamma) / m) scale: three passes over (m, C); alpha brings in the
    # 1/m without a python number in tensor arithmetic (see BatchNormFunction.forward)
    dx = torch.add(grad_out, torch.addcmul(dbeta, x_hat, dgamma), alpha=-1.0 / x_hat.shape[0])
    dx = dx.mul_(scale)
    return dx, dgamma, dbeta


@functools.lru_cache(maxsize=32)
def _eps_tensor(eps: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    # eps as a 0-dim tensor, made once per (eps, dtype, device): a + eps with a python eps wraps
    # and casts it on every call, and full_like makes a (C,) tensor every call (1.5 us of ~200)
    return torch.tensor(eps, dtype=dtype, device=device)


class BatchNormFunction(torch.autograd.Function):
    r"""Training-mode batch norm over the first dimension of x (m, C), backward by hand.

    ::

        forward:   mu = (1/m) sum_i x_i,  sigma^2 = (1/m) sum_i (x_i - mu)^2     (biased)
                   x_hat = (x - mu) / sqrt(sigma^2 + eps),  y = gamma x_hat + beta
                   running_mean <- (1 - momentum) running_mean + momentum mu
                   running_var  <- (1 - momentum) running_var + momentum sigma^2 m / (m - 1)
        backward:  batchnorm_backward(dC/dy, x_hat, 1/sqrt(sigma^2 + eps), gamma)

    ``BatchNormFunction.apply(x, weight, bias, eps, running_mean, running_var, momentum)``:
    weight and bias (C,) may be None (gamma = 1, beta = 0); running_mean and running_var (C,),
    when given, are updated in place, as ``torch.nn.functional.batch_norm`` does, with the
    UNBIASED variance (an estimate of the population's), while x is normalised with the biased one.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps, running_mean, running_var, momentum):
        m = x.shape[0]
        # Two passes (the mean, then the squared deviations from it), not E[x^2] - mu^2, which
        # cancels catastrophically in float32 when |mu| >> sigma. Not torch.var_mean either:
        # as accurate, but 50 us against about 10 us here (60x100 float32, one CPU thread).
        # Speed: a python number in tensor arithmetic (t / m, t + eps) is wrapped into a tensor
        # and cast on every call (measured: four of them made forward + backward 10% slower),
        # so the numbers go in as ``alpha`` (a + alpha * b, one kernel), eps as a cached tensor.
        total = x.sum(0)
        x_hat = torch.sub(x, total, alpha=1.0 / m)     # x - mu                           (m, C)
        sq = torch.linalg.vecdot(x_hat, x_hat, dim=0)  # sum_i (x_i - mu)^2 = m sigma^2   (C,)
        if running_mean is not None:  # r <- r - momentum r + momentum * (batch statistic)
            running_mean.add_(running_mean, alpha=-momentum).add_(total, alpha=momentum / m)
            # the UNBIASED variance, m sigma^2 / (m - 1): an estimate of the population's
            running_var.add_(running_var, alpha=-momentum).add_(sq, alpha=momentum / (m - 1))
        inv_std = torch.add(_eps_tensor(eps, sq.dtype, sq.device), sq, alpha=1.0 / m).rsqrt_()
        x_hat.mul_(inv_std)                            # (x - mu) / sqrt(sigma^2 + eps)   (m, C)
        if weight is not None:
            y = torch.addcmul(bias, x_hat, weight) if bias is not None else x_hat * weight
        else:  # a copy: y = x_hat itself would make an in-place op on y (ReLU) corrupt backward
            y = x_hat.clone() if bias is None else x_hat + bias
        # backward needs gamma and inv_std only as their product: save that (in place, inv_std
        # is done with), one tensor fewer to save
        ctx.save_for_backward(x_hat, inv_std if weight is None else inv_std.mul_(weight))
        return y

    @staticmethod
    def backward(ctx, grad_out):
        if torch.is_grad_enabled():  # create_graph=True: x_hat was saved without a graph to x
            raise RuntimeError("BatchNormFunction's backward is not differentiable (no double "
                               "backward): use torch.nn.BatchNorm1d for second derivatives")
        x_hat, scale = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if needs[0]:  # scale = gamma inv_std is batchnorm_backward's inv_std with gamma = 1
            dx, dgamma, dbeta = batchnorm_backward(grad_out, x_hat, scale)
        else:  # batch norm of the raw inputs: only gamma and beta learn, skip dC/dx
            dx, dgamma, dbeta = None, torch.linalg.vecdot(grad_out, x_hat, dim=0), grad_out.sum(0)
        return (dx, dgamma if needs[1] else None, dbeta if needs[2] else None,
                None, None, None, None)


class BatchNorm1d(nn.Module):
    r"""Batch normalisation of (N, C) or (N, C, L) inputs, as ``torch.nn.BatchNorm1d``.

    ::

        training (or track_running_stats=False):  the statistics of this mini-batch
            y = gamma (x - mu_B) / sqrt(sigma^2_B + eps) + beta        (BatchNormFunction)
            and, if track_running_stats, update running_mean and running_var with momentum
        eval:  the running statistics, a fixed affine map of each feature
            y = gamma (x - running_mean) / sqrt(running_var + eps) + beta

    Per feature c, over the N samples (and the L positions of an (N, C, L) input, so m = N L).
    ``momentum`` weighs the newest batch: running <- (1 - momentum) running + momentum batch;
    ``momentum=None`` takes the plain average of every batch so far (1/t for batch t), as torch.
    ``weight`` (gamma, starts at 1) and ``bias`` (beta, starts at 0) are Parameters if ``affine``;
    ``running_mean`` (0), ``running_var`` (1) and ``num_batches_tracked`` (0) are buffers if
    ``track_running_stats``, else None, as torch. ``device`` and ``dtype`` place them.
    Not in torch's: arguments are checked (num_features >= 1, eps > 0, momentum in [0, 1] or
    None), and the backward pass cannot be differentiated again (no double backward).
    """

    _version = 2  # torch's BatchNorm state_dict version: loading ours into torch's needs no fix-up

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        self.num_features = _checks.integer("num_features", num_features, low=1)
        self.eps = _checks.number("eps", eps, low=0.0, low_open=True)
        self.momentum = None if momentum is None else _checks.number("momentum", momentum,
                                                                      low=0.0, high=1.0)
        for name, flag in (("affine", affine), ("track_running_stats", track_running_stats)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False; got {flag!r}")
        self.affine, self.track_running_stats = affine, track_running_stats
        kw = {"device": device, "dtype": dtype}
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features, **kw))
            self.bias = nn.Parameter(torch.zeros(num_features, **kw))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **kw))
            self.register_buffer("running_var", torch.ones(num_features, **kw))
            self.register_buffer("num_batches_tracked",
                                 torch.tensor(0, dtype=torch.long, device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """running_mean to 0, running_var to 1, num_batches_tracked to 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """The running statistics and gamma = 1, beta = 0, as freshly made."""
        self.reset_running_stats()
        if self.affine:
            with torch.no_grad():
                self.weight.fill_(1.0)
                self.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C) or (N, C, L) with C = num_features; returns y of the same shape."""
        if not isinstance(x, Tensor):
            raise TypeError(f"input must be a torch.Tensor; got {type(x).__name__}")
        dim, c = x.dim(), self.num_features
        if (dim != 2 and dim != 3) or x.shape[1] != c:
            raise ValueError(f"BatchNorm1d({c}) expects input of shape (N, C) or (N, C, L) with "
                             f"C = num_features = {c}; got shape {tuple(x.shape)}")
        x2 = x if dim == 2 else x.transpose(1, 2).reshape(-1, c)  # (N L, C): one row per value
        # Buffers and parameters straight from nn.Module's own dicts: ``self.running_mean`` goes
        # through Module.__getattr__, ~1 us per lookup, and five of them were 8% of this layer's
        # forward + backward (60x100). The dicts are where Module keeps them, always up to date.
        buffers, params = self._buffers, self._parameters
        running_mean, running_var = buffers["running_mean"], buffers["running_var"]
        # Torch's rule: the batch's statistics in training, and in eval too if none are tracked.
        if self.training or running_mean is None:
            if x2.shape[0] < 2:  # one value per feature: sigma^2 = 0, x_hat = 0, y = beta
                raise ValueError(
                    f"BatchNorm1d needs more than 1 value per channel when training (got input "
                    f"shape {tuple(x.shape)}): the variance of one sample is 0 and every output "
                    f"would be beta. Use a batch of 2 or more, or .eval() for running statistics")
            momentum = self.momentum
            if self.training and self.track_running_stats:
                batches = buffers["num_batches_tracked"]
                batches.add_(1)
                if momentum is None:  # cumulative average: batch t gets weight 1/t
                    momentum = 1.0 / float(batches)
            else:  # eval without running statistics, or training that does not track them
                running_mean = running_var = None
            y = BatchNormFunction.apply(x2, params["weight"], params["bias"], self.eps,
                                        running_mean, running_var, momentum)
        else:  # fixed statistics: y = scale x + shift, and autograd differentiates that
            weight, bias = params["weight"], params["bias"]
            eps = _eps_tensor(self.eps, running_var.dtype, running_var.device)
            scale = torch.add(running_var, eps).rsqrt_()
            if weight is not None:
                scale = scale * weight
            if bias is not None:  # shift = beta - running_mean * scale
                shift = torch.addcmul(bias, running_mean, scale, value=-1.0)
            else:
                shift = -running_mean * scale
            y = torch.addcmul(shift, x2, scale)
        return y if dim == 2 else y.reshape(x.shape[0], -1, c).transpose(1, 2).contiguous()

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")




# ---------------------------------------------------------------------------------------------
# Dropout (Srivastava et al. 2014), the "inverted" form torch uses, and Monte-Carlo dropout
# (Gal & Ghahramani 2016).
# ---------------------------------------------------------------------------------------------

def _check_p(p) -> float:
    p = _checks.number("p", p, low=0.0, high=1.0)
    if p == 1.0:  # every unit dropped: the output would be 0 and the scale 1/(1 - p) infinite
        raise ValueError("p must be < 1 (the probability of dropping a unit); p = 1 drops every "
                         "unit, so nothing would pass and the 1/(1 - p) scale is infinite")
    return p


def dropout(x: Tensor, p: float = 0.5, training: bool = True, *,
            generator: torch.Generator | None = None, inplace: bool = False) -> Tensor:
    r"""Inverted dropout of a tensor of any shape, as ``torch.nn.functional.dropout``.

    ::

        training:  m_i ~ Bernoulli(1 - p) independently for every element        (x.shape)
                   y = x * m / (1 - p)
        eval:      y = x

    Scaling the kept units by 1/(1 - p) at training time keeps E[y] = x, so evaluation needs
    no rescaling (the original paper multiplied the weights by 1 - p at test time instead).
    The gradient is dC/dx = dC/dy * m / (1 - p): dropped units get none. ``generator`` draws
    the mask (a ``torch.Generator`` on x's device), so the same seed gives the same mask;
    ``inplace`` overwrites x. p = 0 returns x unchanged (no mask is drawn).

    The mask is drawn as m = [u < 1 - p] with u ~ U[0, 1), which is Bernoulli(1 - p): on a CPU
    torch.rand is 2.5x faster than Tensor.bernoulli_ (0.7 ms against 1.8 ms for 160 x 512
    elements, one thread), and the random numbers are most of dropout's cost.
    """
    _checks.tensor("x", x)
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got dtype {x.dtype}")
    p = _check_p(p)
    if not isinstance(training, bool):
        raise TypeError(f"training must be True or False; got {training!r}")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
        if generator.device.type != x.device.type:
            raise ValueError(f"generator is on {generator.device} but x is on {x.device}; "
                             f"make the generator with torch.Generator(device=x.device)")
    if not training or p == 0.0:
        return x
    # the mask already carries the scale: one multiply of x, and autograd's backward of
    # x * mask is exactly dC/dy * m / (1 - p). u < 1 - p with u in [0, 1): P(keep) = 1 - p
    # (u in float32 at least: a bfloat16 u has 8 bits, which would round P(keep) by up to 2^-9)
    keep = 1.0 - p
    u = torch.rand(x.shape, generator=generator, device=x.device,
                   dtype=x.dtype if x.element_size() >= 4 else torch.float32)
    mask = u.lt_(keep).to(x.dtype).mul_(1.0 / keep)        # 0 or 1/(1 - p), in x's dtype
    return x.mul_(mask) if inplace else x * mask


class Dropout(nn.Module):
    r"""Inverted dropout as a layer, a drop-in for ``torch.nn.Dropout(p, inplace)``.

    ::

        model.train():  y = x * m / (1 - p),  m ~ Bernoulli(1 - p) per element     (x.shape)
        model.eval():   y = x

    Not in torch's: p is checked (0 <= p < 1; torch accepts p = 1 and returns zeros), and an
    optional ``generator`` draws the masks, for reproducible masks without touching the global
    seed (:func:`mc_predict` sets it for the duration of a prediction).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, *,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.p = _check_p(p)
        if not isinstance(inplace, bool):
            raise TypeError(f"inplace must be True or False; got {inplace!r}")
        self.inplace = inplace
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, generator=self.generator, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


_DROPOUT_TYPES = (Dropout, nn.modules.dropout._DropoutNd)  # ours, and torch's Dropout family


@torch.no_grad()
def mc_predict(model: nn.Module, x: Tensor, samples: int = 50, *, output: str = "probs",
               generator: torch.Generator | None = None,
               vectorise: bool = True) -> tuple[Tensor, Tensor]:
    r"""Monte-Carlo dropout: T stochastic passes with dropout on, their mean and spread.

    ::

        input: model, x (n, ...), T = samples
        every dropout layer in training mode, every other module (BatchNorm!) in eval mode
        for t = 1..T:  f_t = model(x) with fresh dropout masks                  (n, d_out)
                       (output='probs': f_t = softmax(model(x)) over dim 1)
        mean = (1/T) sum_t f_t,   std = sqrt((1/T) sum_t (f_t - mean)^2)        (n, d_out)

    The mean is the MC estimate of the predictive distribution, the std a per-element measure
    of the model's uncertainty (population std, correction 0: T = 1 gives 0). As T grows the
    mean converges, as 1/sqrt(T), to the expectation over masks E_m[f]. That equals the
    eval-mode (weight-scaled) output only when f is linear in the dropped units: raw outputs
    of a network whose only dropout feeds its linear last layer. Through a softmax, or a
    dropout layer followed by a nonlinearity, the eval-mode output is an approximation, and
    the gap to it stops shrinking at that approximation's error. ``vectorise``
    stacks the T copies of x into one batch of T n rows, one forward pass (the masks are drawn
    per row, so the copies differ; this is valid because no module in eval mode mixes rows);
    ``vectorise=False`` loops over T (T times less memory). ``generator`` draws the masks of
    :class:`Dropout` layers; torch's own dropout layers cannot take one, so it is refused for
    models that have them. Every module's mode is restored afterwards. ``output='raw'`` keeps
    the model's outputs (logits or regression values) instead of softmax probabilities.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    _checks.tensor("x", x, min_dim=1)
    samples = _checks.integer("samples", samples, low=1)
    _checks.choice("output", output, ("probs", "raw"))
    if not isinstance(vectorise, bool):
        raise TypeError(f"vectorise must be True or False; got {vectorise!r}")
    drops = [m for m in model.modules() if isinstance(m, _DROPOUT_TYPES)]
    if not drops:
        raise ValueError("model has no dropout layer: every Monte-Carlo pass would be the same")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
        if any(not isinstance(m, Dropout) for m in drops):
            raise ValueError("generator= needs every dropout layer to be dlcore.nn.Dropout; "
                             "torch.nn.Dropout draws from the global generator (torch.manual_seed)")
    modes = [(m, m.training) for m in model.modules()]  # each module's own flag, to restore
    old_gens = [(m, m.generator) for m in drops if isinstance(m, Dropout)]
    try:
        model.eval()
        for m in drops:
            m.train()
            if generator is not None:
                m.generator = generator
        if vectorise:  # (T n, ...) in one pass, back to (T, n, ...)
            out = model(x.repeat(samples, *([1] * (x.dim() - 1))))
            out = out.reshape(samples, x.shape[0], *out.shape[1:])
        else:
            out = torch.stack([model(x) for _ in range(samples)])
    finally:
        for m, flag in modes:
            m.training = flag
        for m, g in old_gens:
            m.generator = g
    if output == "probs":
        if out.dim() < 3:
            raise ValueError(f"output='probs' needs model outputs of shape (n, classes); got "
                             f"{tuple(out.shape[1:])}: use output='raw' for regression")
        out = out.softmax(dim=2)
    return out.mean(0), out.std(0, correction=0)


__all__ = ["BatchNorm1d", "BatchNormFunction", "batchnorm_backward", "batchnorm_backward_lecture",
           "Dropout", "dropout", "mc_predict"]
