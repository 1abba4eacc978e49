"""Offline data: the MNIST subset shipped in the package, and small synthetic sets.

Nothing here downloads anything. Every loader is seeded: the same arguments give the same
tensors on every run and every machine.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch

from .. import _checks

MNIST_FILE = "mnist10k.npz"
N_MNIST = 10_000


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    with resources.files(__name__).joinpath(MNIST_FILE).open("rb") as f:
        d = np.load(f)
        return d["images"], d["labels"]


@dataclass
class Splits:
    """Train / validation / test splits, each an ``(X, y)`` pair of tensors.

    ``mean`` and ``std`` are the training-set statistics used to standardise (so new inputs can
    be treated the same way); both are None when ``standardise`` was False.
    """

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None

    def __iter__(self):  # train, val, test = load_mnist()
        return iter((self.train, self.val, self.test))


def load_mnist(n_train: int = 8000, n_val: int = 1000, n_test: int = 1000, *,
               standardise: bool | str = True, flatten: bool = True, seed: int = 0,
               device=None, dtype=torch.float32) -> Splits:
    """The shipped 10,000 MNIST digits, shuffled with ``seed`` and cut into disjoint splits.

    X has shape (n, 784) (or (n, 1, 28, 28) with ``flatten=False``), pixels scaled to [0, 1];
    y holds the labels 0..9 as int64.

    standardise: False keeps [0, 1] pixels; True (or ``'global'``) subtracts the training set's
    mean pixel value and divides by its standard deviation (one number each); ``'per_pixel'``
    standardises each pixel by its own training mean and std (pixels that are always blank get
    std 1, so they stay 0 instead of dividing by zero). Statistics come from the training split
    only, so nothing of the validation or test set leaks into training.
    """
    n_train = _checks.integer("n_train", n_train, low=1)
    n_val = _checks.integer("n_val", n_val, low=0)
    n_test = _checks.integer("n_test", n_test, low=0)
    if n_train + n_val + n_test > N_MNIST:
        raise ValueError(
            f"n_train + n_val + n_test must be <= {N_MNIST} (the shipped subset); "
            f"got {n_train} + {n_val} + {n_test} = {n_train + n_val + n_test}"
        )
    if standardise is True:
        standardise = "global"
    if standardise is not False:
        _checks.choice("standardise", standardise, ("global", "per_pixel"))
    seed = _checks.integer("seed", seed, low=0)

    images, labels = _mnist_arrays()
    order = np.random.default_rng(seed).permutation(N_MNIST)
    X = torch.from_numpy(images[order].astype(np.float32) / 255.0).to(dtype)
    y = torch.from_numpy(labels[order].astype(np.int64))
    X = X.reshape(N_MNIST, -1) if flatten else X.reshape(N_MNIST, 1, 28, 28)
    cuts = np.cumsum([n_train, n_val, n_test])
    parts = [(X[a:b], y[a:b]) for a, b in zip([0, *cuts[:-1]], cuts)]

    mean = std = None
    if standardise:
        Xtr = parts[0][0]
        if standardise == "global":
            mean, std = Xtr.mean(), Xtr.std()
        else:
            mean, std = Xtr.mean(dim=0), Xtr.std(dim=0)
            std = torch.where(std > 1e-6, std, torch.ones_like(std))
        parts = [((Xp - mean) / std, yp) for Xp, yp in parts]
        mean, std = mean.to(device), std.to(device)
    parts = [(Xp.to(device), yp.to(device)) for Xp, yp in parts]
    return Splits(*parts, mean=mean, std=std)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(_checks.integer("seed", seed, low=0))


def two_spirals(n: int = 400, *, noise: float = 0.2, turns: float = 1.5, seed: int = 0,
                device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spirals in the plane: X (n, 2), y (n,) in {0, 1}, half of each class.

    A task no linear model solves; ``noise`` is the std of Gaussian jitter added to each point.
    """
    n = _checks.integer("n", n, low=2)
    noise = _checks.number("noise", noise, low=0.0)
    turns = _checks.number("turns", turns, low=0.0, low_open=True)
    g = _generator(seed)
    y = torch.arange(n) % 2
    r = torch.rand(n, generator=g, dtype=torch.float64) ** 0.5   # uniform over the disc
    theta = 2 * math.pi * turns * r + math.pi * y
    X = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1) * 3
    X = X + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return X.to(device=device, dtype=dtype), y.to(device)


def moons(n: int = 400, *, noise: float = 0.1, seed: int = 0, device=None,
          dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles: X (n, 2), y (n,) in {0, 1}, half of each class."""
    n = _checks.integer("n", n, low=2)
    noise = _checks.number("noise", noise, low=0.0)
    g = _generator(seed)
    y = torch.arange(n) % 2
    t = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    X = torch.where(y[:, None] == 0, upper, lower)
    X = X + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return X.to(device=device, dtype=dtype), y.to(device)


def noisy_sine(n: int = 30, *, noise: float = 0.2, low: float = 0.0, high: float = 2 * math.pi,
               seed: int = 0, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """y = sin(x) + N(0, noise^2) at n points drawn uniformly from [low, high]: x, y both (n, 1).

    The lectures' bias-variance example (a degree-1 fit underfits, degree 25 overfits).
    """
    n = _checks.integer("n", n, low=1)
    noise = _checks.number("noise", noise, low=0.0)
    low, high = _checks.number("low", low), _checks.number("high", high)
    if not low < high:
        raise ValueError(f"noisy_sine needs low < high; got low={low}, high={high}")
    g = _generator(seed)
    x = low + (high - low) * torch.rand(n, 1, generator=g, dtype=torch.float64)
    y = torch.sin(x) + noise * torch.randn(n, 1, generator=g, dtype=torch.float64)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def circles(n: int = 400, *, noise: float = 0.1, seed: int = 0, device=None,
            dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A disc inside a ring: X (n, 2), y (n,) in {0, 1}, half of each class.

    Class 0 lies at radius 0 to 0.5, class 1 at radius 0.7 to 1 (the TensorFlow Playground's
    "circle" set, scaled to radius 1), uniform in angle and over the area. No line separates
    them; one hidden layer of a few units does. ``noise`` is the std of Gaussian jitter.
    """
    n = _checks.integer("n", n, low=2)
    noise = _checks.number("noise", noise, low=0.0)
    g = _generator(seed)
    y = torch.arange(n) % 2
    u = torch.rand(n, generator=g, dtype=torch.float64)
    low = torch.where(y == 0, 0.0, 0.7).double()
    high = torch.where(y == 0, 0.5, 1.0).double()
    r = torch.sqrt(low ** 2 + u * (high ** 2 - low ** 2))      # uniform over the annulus' area
    theta = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    X = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1)
    X = X + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return X.to(device=device, dtype=dtype), y.to(device)


def xor(n: int = 400, *, noise: float = 0.1, margin: float = 0.05, seed: int = 0, device=None,
        dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The four quadrants of [-1, 1]^2, opposite ones alike: X (n, 2), y (n,) in {0, 1}, half each.

    Class 1 where x1 x2 > 0 (first and third quadrants), class 0 where x1 x2 < 0: the XOR of the
    two signs, which no linear model solves. Each coordinate is at least ``margin`` away from
    the axes (a clean gap when ``noise`` = 0); ``noise`` is the std of Gaussian jitter.
    """
    n = _checks.integer("n", n, low=2)
    noise = _checks.number("noise", noise, low=0.0)
    margin = _checks.number("margin", margin, low=0.0, high=1.0, high_open=True)
    g = _generator(seed)
    y = torch.arange(n) % 2
    mag = margin + (1 - margin) * torch.rand(n, 2, generator=g, dtype=torch.float64)
    s1 = torch.where(torch.rand(n, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0).double()
    s2 = torch.where(y == 1, s1, -s1)                           # same signs: class 1
    X = mag * torch.stack([s1, s2], dim=1)
    X = X + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return X.to(device=device, dtype=dtype), y.to(device)


def train_test_split(X: torch.Tensor, y: torch.Tensor, train_fraction: float = 0.5, *,
                     seed: int = 0) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Shuffle the rows with ``seed`` and cut them into ((X_train, y_train), (X_test, y_test)).

    ``train_fraction`` of the n rows (rounded, at least 1 in each part) go to training. The
    split is stratified: each class is shuffled and cut on its own, so both parts keep the
    classes' proportions.
    """
    X = _checks.tensor("X", X, min_dim=1)
    y = _checks.tensor("y", y, min_dim=1)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[0] < 2:
        raise ValueError(f"X needs at least 2 rows to split; got {X.shape[0]}")
    frac = _checks.number("train_fraction", train_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    g = _generator(seed)
    train, test = [], []
    labels = y.cpu()
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = round(frac * len(idx))
        if len(idx) > 1:                 # a class of 2 or more rows: at least one in each part
            k = min(max(k, 1), len(idx) - 1)
        train.append(idx[:k])
        test.append(idx[k:])
    tr, te = torch.cat(train), torch.cat(test)
    if len(te) == 0 or len(tr) == 0:
        raise ValueError(f"train_fraction {frac} leaves one part empty with {X.shape[0]} rows")
    tr, te = tr.sort().values.to(X.device), te.sort().values.to(X.device)
    return (X[tr], y[tr]), (X[te], y[te])


__all__ = ["Splits", "load_mnist", "two_spirals", "moons", "circles", "xor", "noisy_sine",
           "train_test_split"]
