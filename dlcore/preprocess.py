r"""Input normalisation: statistics fitted on the training split only, then applied unchanged
to every split (training, validation, test, one new example).

    norm = Normaliser("standardise").fit(X_train)     # mean and std of the TRAINING inputs
    Z_train = norm.transform(X_train)                  # mean 0, std 1 per feature
    Z_test = norm.transform(X_test)                    # the same shift and scale: a test set that
                                                       # differs from training still differs

Never fit on the test set (or on a test batch): its statistics would leak into the model's
inputs, a shifted test set would look unshifted, and a single example has no spread at all.

==============  ==========================================  ======================================
mode            transform(X)                                what it fixes (Hessian X^T X / n)
==============  ==========================================  ======================================
``centre``      X - mu                                      an offset (a large eigenvalue along mu)
``standardise`` (X - mu) / s                                features on very different scales
``whiten``      (X - mu) U diag(lam + eps)^(-1/2)           correlated features (PCA whitening)
``zca``         (X - mu) U diag(lam + eps)^(-1/2) U^T       the same, turned back to the input axes
==============  ==========================================  ======================================

with, over the n training rows x_i (each of d features):

    mu = (1/n) sum_i x_i                                    (d,)
    s_j = sqrt((1/n) sum_i (x_ij - mu_j)^2)                 (d,)  the biased std, as BatchNorm
    Sigma = (1/n) (X - mu)^T (X - mu) = U diag(lam) U^T     (d, d), lam sorted largest first

The 1/n (not 1/(n-1)) makes the transformed training set have std exactly 1 and covariance
exactly I (up to eps), so a least-squares Hessian X^T X / n becomes exactly I. (``load_mnist(
standardise='per_pixel')`` divides by the unbiased std: its output is sqrt((n-1)/n) times this.)
"""
from __future__ import annotations

import torch

from . import _checks

MODES = ("centre", "standardise", "whiten", "zca")


def _working_device(device: torch.device) -> torch.device:
    # statistics in float64 (a covariance's small eigenvalues need it). Apple's MPS has no float64
    # (and torch < 2.13 has no eigh there): fit on the CPU, keep the statistics on MPS in float32
    return torch.device("cpu") if device.type == "mps" else device


def _stored_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


class Normaliser:
    r"""Centre, standardise or whiten inputs with statistics of the training split (module docstring).

    Args:
        mode: ``'centre'``, ``'standardise'`` (default), ``'whiten'`` (PCA whitening: the output's
            features are the principal components, largest variance first, each scaled to
            variance ~1) or ``'zca'`` (ZCA whitening: the PCA-whitened data turned back by U^T, the
            whitened data closest to the input; for images it still looks like an image).
        eps: added to every covariance eigenvalue before dividing by its square root (whitening
            modes only): z_k = u_k^T (x - mu) / sqrt(lam_k + eps). A direction with lam_k >> eps
            gets variance lam_k / (lam_k + eps) ~ 1; one with lam_k << eps (noise, or a direction
            along which the training data do not vary at all, as whenever n <= d) is left near
            its small size instead of being blown up by 1 / sqrt(lam_k). ``eps=0`` whitens exactly
            and raises a ValueError if the covariance is singular. Default 1e-5, for inputs of
            variance ~1 or less (pixels in [0, 1]); scale it with your data's variance.
        min_std: a feature whose training std is below this (a constant feature, such as the
            MNIST border pixels that are blank in every training image) is divided by 1 instead
            of its std (``'standardise'`` only): it is centred but not scaled. Dividing by its
            ~0 std would turn a test image's faint ink there into a value of ~1e6. The same rule
            as ``load_mnist(standardise='per_pixel')``.

    After :meth:`fit`: ``mean`` (d,), ``std`` (d,) (``'standardise'``), ``eigenvalues`` (d,)
    (largest first) and ``eigenvectors`` (d, d) (columns, each with its largest-magnitude entry
    positive, so that a fit is reproducible) for the whitening modes. They are computed and kept
    in float64 on the training data's device (on Apple's MPS, which has no float64: computed on
    the CPU, kept on MPS in float32); :meth:`transform` uses them in the dtype and on
    the device of whatever it is given. Features lie along the last dimension.
    """

    def __init__(self, mode: str = "standardise", *, eps: float = 1e-5, min_std: float = 1e-6):
        self.mode = _checks.choice("mode", mode, MODES)
        self.eps = _checks.number("eps", eps, low=0.0)
        self.min_std = _checks.number("min_std", min_std, low=0.0, low_open=True)
        self.mean = self.std = self.eigenvalues = self.eigenvectors = None
        self._forward = self._inverse = None      # (d, d) matrices of the whitening modes

    def __repr__(self) -> str:
        state = f"fitted on {self.n_features} features" if self.fitted else "not fitted"
        extra = f", eps={self.eps:g}" if self.mode in ("whiten", "zca") else ""
        return f"Normaliser({self.mode!r}{extra}; {state})"

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    @property
    def n_features(self) -> int | None:
        return None if self.mean is None else self.mean.shape[0]

    # ------------------------------------------------------------------------------------- fit
    @torch.no_grad()
    def fit(self, X: torch.Tensor) -> "Normaliser":
        """Compute the statistics of ``X`` (n, d), the training inputs; returns self."""
        X = _checks.tensor("X", X)
        if X.dim() != 2:
            raise ValueError(f"X must have shape (n, d): n examples of d features; got shape {tuple(X.shape)}")
        _floating("X", X)
        n, d = X.shape
        if n < 2:
            raise ValueError(f"X must have at least 2 rows (examples) to estimate a spread; got {n}")
        if d < 1:
            raise ValueError(f"X must have at least 1 feature; got shape {tuple(X.shape)}")
        if not torch.isfinite(X).all():
            raise ValueError("X contains NaN or inf: its statistics would be NaN")
        home = X.device
        X = X.to(_working_device(home)).to(torch.float64)      # move, then cast: never float64 on MPS
        mean = X.mean(0)                                         # (d,)
        Xc = X - mean                                            # (n, d)
        std = eigenvalues = eigenvectors = forward = inverse = None
        if self.mode == "standardise":
            std = Xc.square().mean(0).sqrt()                     # (d,) biased, as BatchNorm
            std = torch.where(std >= self.min_std, std, torch.ones_like(std))
        elif self.mode in ("whiten", "zca"):
            cov = Xc.T @ Xc / n                                  # (d, d)
            lam, U = torch.linalg.eigh(cov)                      # ascending
            lam, U = lam.flip(0).clamp_min(0.0), U.flip(1)       # largest first; >= 0 (rounding)
            # each eigenvector's sign is arbitrary: make its largest-magnitude entry positive
            pivot = U.abs().argmax(0)                            # (d,)
            U = U * torch.sign(U[pivot, torch.arange(d, device=U.device)])
            if self.eps == 0 and lam[-1] <= d * torch.finfo(lam.dtype).eps * lam[0]:
                raise ValueError(
                    f"the training covariance is singular (smallest eigenvalue {lam[-1].item():.1e}, "
                    f"largest {lam[0].item():.1e}; always so when n <= d): whitening with eps=0 "
                    f"would divide by ~0. Pass eps > 0 (e.g. 1e-5) or use mode='standardise'")
            if lam[0] == 0:
                raise ValueError("X has no variance at all (every row is the same): nothing to whiten")
            scale = (lam + self.eps).sqrt()                      # (d,)
            forward, inverse = U / scale, scale[:, None] * U.T  # U diag(1/scale), diag(scale) U^T
            if self.mode == "zca":                               # turn back to the input axes
                forward, inverse = forward @ U.T, U @ inverse
            eigenvalues, eigenvectors = lam, U
        def keep(t):  # cast, then move: never float64 on MPS
            return None if t is None else t.to(_stored_dtype(home)).to(home)

        self.mean, self.std = keep(mean), keep(std)
        self.eigenvalues, self.eigenvectors = keep(eigenvalues), keep(eigenvectors)
        self._forward, self._inverse = keep(forward), keep(inverse)
        return self

    # ------------------------------------------------------------------------------- transform
    def _check(self, name: str, X) -> torch.Tensor:
        if not self.fitted:
            raise RuntimeError(f"this Normaliser({self.mode!r}) is not fitted yet: call fit(X_train) "
                               f"first (with the training split only), then transform any split")
        X = _checks.tensor(name, X, min_dim=1)
        _floating(name, X)
        if X.shape[-1] != self.n_features:
            raise ValueError(f"{name} has {X.shape[-1]} features (last dimension, shape {tuple(X.shape)}); "
                             f"this Normaliser was fitted on {self.n_features}")
        return X

    def _stat(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return t.to(device=like.device, dtype=like.dtype)

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Normalise ``X`` (..., d) with the training statistics (never its own); same dtype and device."""
        X = self._check("X", X)
        Xc = X - self._stat(self.mean, X)
        if self.mode == "centre":
            return Xc
        if self.mode == "standardise":
            return Xc / self._stat(self.std, X)
        return Xc @ self._stat(self._forward, X)                 # (..., d) @ (d, d)

    def fit_transform(self, X: torch.Tensor) -> torch.Tensor:
        """``fit(X)`` then ``transform(X)``: for the training split only."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`transform`: back to the input's units (exact, eps and min_std included)."""
        Z = self._check("Z", Z)
        if self.mode == "standardise":
            Z = Z * self._stat(self.std, Z)
        elif self.mode in ("whiten", "zca"):
            Z = Z @ self._stat(self._inverse, Z)
        return Z + self._stat(self.mean, Z)


def _floating(name: str, X: torch.Tensor) -> None:
    if not X.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got {X.dtype} (convert it with .double() "
                        f"or .float(), e.g. pixels as X.float() / 255)")


__all__ = ["Normaliser", "MODES"]
