"""dlcore.device() and dlcore.seed()."""
import random

import numpy as np
import pytest
import torch

import dlcore

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
no_mps = pytest.mark.skipif(dlcore._mps_available(), reason="Apple MPS is present here")


@no_cuda
@no_mps
def test_device_default_is_cpu_without_gpu():
    assert dlcore.device() == torch.device("cpu")


def test_device_returns_torch_device():
    assert isinstance(dlcore.device(), torch.device)


@pytest.mark.parametrize("value", ["cpu", " cpu ", "cpu:0"])
def test_device_env_cpu(monkeypatch, value):
    monkeypatch.setenv("DLCORE_DEVICE", value)
    assert dlcore.device().type == "cpu"


@pytest.mark.parametrize("value", ["", "   "])
def test_device_env_blank_means_auto(monkeypatch, value):
    auto = dlcore.device()  # the autouse fixture has removed DLCORE_DEVICE
    monkeypatch.setenv("DLCORE_DEVICE", value)
    assert dlcore.device() == auto


@pytest.mark.parametrize("value", ["gpu", "tpu", "CPU", "meta", "xla"])
def test_device_env_bogus(monkeypatch, value):
    monkeypatch.setenv("DLCORE_DEVICE", value)
    with pytest.raises(ValueError, match="DLCORE_DEVICE") as err:
        dlcore.device()
    for choice in ("cpu", "cuda", "mps"):
        assert choice in str(err.value)


@no_cuda
@pytest.mark.parametrize("value", ["cuda", "cuda:0"])
def test_device_env_cuda_without_cuda(monkeypatch, value):
    monkeypatch.setenv("DLCORE_DEVICE", value)
    with pytest.raises(ValueError, match="DLCORE_DEVICE.*CUDA"):
        dlcore.device()


@no_mps
def test_device_env_mps_without_mps(monkeypatch):
    monkeypatch.setenv("DLCORE_DEVICE", "mps")
    with pytest.raises(ValueError, match="DLCORE_DEVICE.*MPS"):
        dlcore.device()


# ---------------------------------------------------------------------------------------- seed

def _draws():
    return torch.randn(5), np.random.rand(5), [random.random() for _ in range(5)]


def test_seed_repeats_torch():
    dlcore.seed(3)
    a = torch.randn(10)
    dlcore.seed(3)
    assert torch.equal(a, torch.randn(10))


def test_seed_repeats_numpy():
    dlcore.seed(3)
    a = np.random.rand(10)
    dlcore.seed(3)
    np.testing.assert_array_equal(a, np.random.rand(10))


def test_seed_repeats_python_random():
    dlcore.seed(3)
    a = [random.random() for _ in range(10)]
    dlcore.seed(3)
    assert a == [random.random() for _ in range(10)]


def test_seed_different_seeds_differ():
    dlcore.seed(1)
    a = _draws()
    dlcore.seed(2)
    b = _draws()
    assert not torch.equal(a[0], b[0])
    assert not np.array_equal(a[1], b[1])
    assert a[2] != b[2]


def test_seed_returns_seeded_generator():
    g = dlcore.seed(7)
    assert isinstance(g, torch.Generator)
    assert g.initial_seed() == 7
    assert torch.equal(torch.randn(4, generator=g), torch.randn(4, generator=torch.Generator().manual_seed(7)))


def test_seed_returns_fresh_generator_each_call():
    assert dlcore.seed(0) is not dlcore.seed(0)


@pytest.mark.parametrize("n", [0, 2**32 - 1])
def test_seed_bounds_ok(n):
    dlcore.seed(n)


@pytest.mark.parametrize("n, exc", [
    (-1, ValueError),
    (2**32, ValueError),
    (1.5, TypeError),
    ("a", TypeError),
    (None, TypeError),
    (True, TypeError),
])
def test_seed_bad(n, exc):
    with pytest.raises(exc, match=r"\bn\b"):
        dlcore.seed(n)
