"""dlcore.seed_for / dlcore.rng: one SEED, named independent streams, the same on every run."""
import pytest
import torch

import dlcore


def test_same_seed_and_name_give_the_same_stream():
    assert dlcore.seed_for(3, "data") == dlcore.seed_for(3, "data")
    a = torch.randn(5, generator=dlcore.rng(3, "data"))
    b = torch.randn(5, generator=dlcore.rng(3, "data"))
    assert torch.equal(a, b)


def test_known_value_is_stable_across_machines_and_versions():
    # BLAKE2b of "0/data": a changed derivation would silently change every notebook's draws
    assert dlcore.seed_for(0, "data") == dlcore.seed_for(0, "data")
    assert dlcore.seed_for(0, "data") == int.from_bytes(
        __import__("hashlib").blake2b(b"0/data", digest_size=8).digest(), "little") % 2**31


def test_names_and_seeds_give_different_streams():
    values = {dlcore.seed_for(s, n) for s in range(20) for n in ("data", "init", "batches", "masks")}
    assert len(values) == 80
    assert not torch.equal(torch.randn(5, generator=dlcore.rng(0, "data")),
                           torch.randn(5, generator=dlcore.rng(1, "data")))


def test_derived_seeds_fit_every_seed_argument():
    for s in range(100):
        v = dlcore.seed_for(s, "x")
        assert 0 <= v < 2**31
        dlcore.data.moons(10, seed=v)  # accepted where a seed is an argument


def test_rng_on_a_device():
    g = dlcore.rng(0, "data", device="cpu")
    assert g.device == torch.device("cpu")


@pytest.mark.parametrize("seed, name, exc, match", [
    (-1, "data", ValueError, "seed must be >= 0"),
    (1.5, "data", TypeError, "seed must be an integer"),
    (0, 3, TypeError, "name must be a string"),
    (0, "", ValueError, "name must be a non-empty string"),
])
def test_bad_arguments_are_named(seed, name, exc, match):
    with pytest.raises(exc, match=match):
        dlcore.seed_for(seed, name)
