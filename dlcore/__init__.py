"""dlcore: the small library behind the notebooks on optimising, initialising and regularising
deep networks.

The numerical core (data, init, nets, record, train) imports only torch and numpy; the
presentation layer (``dlcore.plot``, ``dlcore.widgets``, ``dlcore.figures``) adds matplotlib and ipywidgets and is
imported on first use, so ``import dlcore`` stays light.
"""
from __future__ import annotations

import importlib
import os
import random

import numpy as np
import torch

from . import (augment, babysit, data, ensemble, exercise, gradcheck, init, nets, nn, optim, preprocess,
               record, regularise, search, surfaces, train, trajectory)
from .init import calculate_gain, init_model
from .nets import MLP
from .record import Recorder
from .seeding import rng, seed_for
from .train import History, fit

__version__ = "0.1.0"

DEVICE_ENV = "DLCORE_DEVICE"
_DEVICE_KINDS = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def device() -> torch.device:
    """The device the notebooks compute on: CUDA if present, else Apple MPS, else the CPU.

    Set the environment variable ``DLCORE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) to
    choose one yourself, e.g. ``DLCORE_DEVICE=cpu make lab`` to compare a laptop with a GPU.
    """
    wanted = os.environ.get(DEVICE_ENV, "").strip()
    if not wanted:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(wanted)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in _DEVICE_KINDS:
        raise ValueError(
            f"{DEVICE_ENV}={wanted!r} is not a device; valid choices are "
            f"'cpu', 'cuda', 'cuda:N', 'mps'"
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{DEVICE_ENV}={wanted!r} but torch sees no CUDA GPU here; use 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{DEVICE_ENV}={wanted!r} but there are only {torch.cuda.device_count()} CUDA GPUs")
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"{DEVICE_ENV}={wanted!r} but Apple MPS is not available here; use 'cpu'")
    return dev


def seed(n: int = 0) -> torch.Generator:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random generators with ``n``.

    Returns a fresh CPU ``torch.Generator`` seeded with ``n`` too, for code that prefers to
    pass its generator explicitly (as ``torch.nn.init`` and ``dlcore.init`` accept).
    """
    from ._checks import integer

    n = integer("n", n, low=0, high=2**32 - 1)
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)  # also seeds every CUDA device
    return torch.Generator().manual_seed(n)


def __getattr__(name):  # lazy: plotting and widgets pull in matplotlib / ipywidgets
    if name in ("plot", "widgets", "figures"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dlcore' has no attribute {name!r}")


__all__ = [
    "device", "seed", "rng", "seed_for",
    "augment", "babysit", "data", "ensemble", "exercise", "gradcheck", "init", "nets", "nn",
    "optim", "preprocess", "record", "regularise", "search", "surfaces", "train", "trajectory",
    "plot", "widgets", "figures",
    "calculate_gain", "init_model", "MLP", "Recorder", "fit", "History",
]
