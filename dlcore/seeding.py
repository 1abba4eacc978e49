"""One SEED per notebook: named, independent random streams derived from it.

A notebook sets ``SEED`` once (its ``parameters`` cell) and asks for each of its draws by name::

    train = dlcore.data.two_spirals(100, seed=dlcore.seed_for(SEED, "spirals"))
    net = dlcore.MLP(sizes, generator=dlcore.rng(SEED, "init"))

Changing SEED changes every draw; the names keep the draws independent of one another (the data
do not share a stream with the initialisation), and adding a draw does not shift the others, as
consuming one shared generator in order would.
"""
from __future__ import annotations

import hashlib

import torch

from . import _checks

SEED_BITS = 31  # derived seeds stay below 2**31, so code that adds a member index (seed + k) is safe


def seed_for(seed: int, name: str) -> int:
    """The integer seed of the stream ``name`` under the notebook seed ``seed``.

    A hash (BLAKE2b) of both: the same pair gives the same number on every machine, run and Python
    version (unlike ``hash()``); different names give unrelated numbers. The result lies in
    [0, 2**31), for the functions that take ``seed=``.
    """
    seed = _checks.integer("seed", seed, low=0)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string naming the draw, e.g. 'data'; got {type(name).__name__}")
    if not name:
        raise ValueError("name must be a non-empty string naming the draw, e.g. 'data' or 'init'")
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % 2**SEED_BITS


def rng(seed: int, name: str, *, device=None) -> torch.Generator:
    """A fresh ``torch.Generator`` for the stream ``name`` under ``seed`` (on ``device``, default CPU).

    Draws from a CPU generator are the same on every machine; move the result with ``.to(dev)``.
    A generator on a GPU gives other numbers than one on the CPU with the same seed.
    """
    return torch.Generator(device=device if device is not None else "cpu").manual_seed(seed_for(seed, name))
