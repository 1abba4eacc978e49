"""dlcore.data: the shipped MNIST subset and the synthetic sets."""
import hashlib
import math
from importlib import resources

import pytest
import torch

from dlcore import data
from dlcore.data import load_mnist, moons, noisy_sine, two_spirals


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.fixture(scope="module")
def raw():
    return load_mnist(standardise=False)


def _row_hashes(X):
    return {hashlib.sha1(r.numpy().tobytes()).hexdigest() for r in X}


# ----------------------------------------------------------------------------------------- MNIST

def test_mnist_default_sizes(mnist):
    assert [len(X) for X, _ in mnist] == [8000, 1000, 1000]
    assert [len(y) for _, y in mnist] == [8000, 1000, 1000]


def test_mnist_shapes_and_dtypes(mnist):
    for X, y in mnist:
        assert X.shape[1:] == (784,) and X.dtype == torch.float32
        assert y.dtype == torch.int64
        assert 0 <= y.min() and y.max() <= 9


def test_mnist_every_digit_in_train(mnist):
    assert set(mnist.train[1].tolist()) == set(range(10))


def test_mnist_splits_unpack():
    (Xtr, ytr), (Xva, yva), (Xte, yte) = load_mnist(100, 20, 30)
    assert (len(Xtr), len(Xva), len(Xte)) == (100, 20, 30)


def test_mnist_splits_are_disjoint(raw):
    tr, va, te = (_row_hashes(X) for X, _ in raw)
    assert len(tr) == 8000 and len(va) == 1000 and len(te) == 1000  # no image twice in a split
    assert not tr & va and not tr & te and not va & te


def test_mnist_all_10000_used():
    splits = load_mnist(8000, 1000, 1000, standardise=False)
    assert len(set().union(*(_row_hashes(X) for X, _ in splits))) == 10_000


def test_mnist_deterministic():
    a, b = load_mnist(200, 50, 50), load_mnist(200, 50, 50)
    for (Xa, ya), (Xb, yb) in zip(a, b):
        assert torch.equal(Xa, Xb) and torch.equal(ya, yb)


def test_mnist_seed_changes_order():
    a, b = load_mnist(200, 0, 0, seed=0), load_mnist(200, 0, 0, seed=1)
    assert not torch.equal(a.train[1], b.train[1])


def test_mnist_smaller_split_is_prefix_of_same_shuffle():
    small, big = load_mnist(100, 0, 0, standardise=False), load_mnist(8000, 0, 0, standardise=False)
    assert torch.equal(small.train[0], big.train[0][:100])


def test_mnist_global_standardise(mnist):
    Xtr = mnist.train[0]
    assert Xtr.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert Xtr.std().item() == pytest.approx(1.0, abs=1e-4)
    assert mnist.mean.dim() == 0 and mnist.std.dim() == 0


def test_mnist_standardise_true_is_global():
    a, b = load_mnist(100, 10, 10, standardise=True), load_mnist(100, 10, 10, standardise="global")
    assert torch.equal(a.train[0], b.train[0])


def test_mnist_standardise_uses_train_statistics_only(raw):
    s = load_mnist()
    Xva_raw = raw.val[0]
    assert torch.allclose(s.val[0], (Xva_raw - s.mean) / s.std)
    assert s.mean.item() == pytest.approx(raw.train[0].mean().item(), rel=1e-5)


def test_mnist_per_pixel():
    s = load_mnist(standardise="per_pixel")
    Xtr = s.train[0]
    assert torch.isfinite(Xtr).all() and all(torch.isfinite(X).all() for X, _ in s)
    assert Xtr.mean(dim=0).abs().max().item() < 1e-4
    assert s.mean.shape == (784,) and s.std.shape == (784,)
    assert (s.std > 0).all()


def test_mnist_per_pixel_blank_pixels_stay_zero(raw):
    s = load_mnist(standardise="per_pixel")
    blank = (raw.train[0] == 0).all(dim=0)
    assert blank.any()  # the corners of MNIST are always blank
    assert (s.train[0][:, blank] == 0).all()
    assert (s.std[blank] == 1).all()


def test_mnist_no_standardise_keeps_unit_range(raw):
    for X, _ in raw:
        assert X.min().item() >= 0.0 and X.max().item() <= 1.0
    assert raw.train[0].max().item() == 1.0
    assert raw.mean is None and raw.std is None


def test_mnist_flatten_false():
    s = load_mnist(50, 5, 5, flatten=False)
    assert s.train[0].shape == (50, 1, 28, 28)
    assert s.test[0].shape == (5, 1, 28, 28)


def test_mnist_flatten_false_same_pixels():
    a, b = load_mnist(50, 0, 0, flatten=False), load_mnist(50, 0, 0)
    assert torch.equal(a.train[0].reshape(50, -1), b.train[0])


def test_mnist_dtype():
    assert load_mnist(10, 0, 0, dtype=torch.float64).train[0].dtype == torch.float64


def test_mnist_file_inside_package():
    f = resources.files("dlcore.data").joinpath(data.MNIST_FILE)
    assert f.is_file()
    assert f.read_bytes()[:2] == b"PK"  # an .npz is a zip archive


def test_mnist_readme_licence():
    text = resources.files("dlcore.data").joinpath("README.md").read_text(encoding="utf-8")
    assert "CC BY-SA" in text


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"n_train": 9000, "n_val": 1000, "n_test": 1}, ValueError, "n_train \\+ n_val \\+ n_test.*10000"),
    ({"n_train": 0}, ValueError, "n_train"),
    ({"n_val": -1}, ValueError, "n_val"),
    ({"n_test": 1.5}, TypeError, "n_test"),
    ({"standardise": "bogus"}, ValueError, "standardise.*per_pixel"),
    ({"standardise": 1}, TypeError, "standardise"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": "0"}, TypeError, "seed"),
], ids=["sum", "n_train=0", "n_val<0", "n_test float", "standardise", "standardise int", "seed<0",
        "seed str"])
def test_mnist_bad_args(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        load_mnist(**kwargs)


# ---------------------------------------------------------------------------------- synthetic sets

CLASSIFIERS = [two_spirals, moons]


@pytest.mark.parametrize("fn", CLASSIFIERS)
def test_classifier_shapes_dtypes(fn):
    X, y = fn(100)
    assert X.shape == (100, 2) and X.dtype == torch.float32
    assert y.shape == (100,) and y.dtype == torch.int64


@pytest.mark.parametrize("fn", CLASSIFIERS)
def test_classifier_balanced(fn):
    _, y = fn(200)
    assert torch.bincount(y).tolist() == [100, 100]


@pytest.mark.parametrize("fn", CLASSIFIERS)
def test_classifier_deterministic(fn):
    (Xa, ya), (Xb, yb) = fn(50, seed=3), fn(50, seed=3)
    assert torch.equal(Xa, Xb) and torch.equal(ya, yb)


@pytest.mark.parametrize("fn", CLASSIFIERS)
def test_classifier_seed_matters(fn):
    assert not torch.equal(fn(50, seed=3)[0], fn(50, seed=4)[0])


@pytest.mark.parametrize("fn", CLASSIFIERS)
def test_classifier_dtype(fn):
    assert fn(10, dtype=torch.float64)[0].dtype == torch.float64


def test_moons_noise_zero_on_the_circles():
    X, y = moons(200, noise=0.0)
    up, lo = X[y == 0].double(), X[y == 1].double()
    assert torch.allclose(up.pow(2).sum(1), torch.ones(100, dtype=torch.float64), atol=1e-6)
    assert torch.allclose((lo - torch.tensor([1.0, 0.5], dtype=torch.float64)).pow(2).sum(1),
                          torch.ones(100, dtype=torch.float64), atol=1e-6)
    assert (up[:, 1] >= 0).all() and (lo[:, 1] <= 0.5).all()


def test_two_spirals_noise_zero_inside_radius_three():
    X, _ = two_spirals(200, noise=0.0)
    assert X.norm(dim=1).max().item() <= 3.0 + 1e-5


def test_two_spirals_noise_zero_on_the_spirals():
    turns = 1.5
    X, y = two_spirals(200, noise=0.0, turns=turns, dtype=torch.float64)
    r = X.norm(dim=1) / 3
    angle = torch.atan2(X[:, 1], X[:, 0])
    # point = 3 r (cos t, sin t) with t = 2 pi turns r + pi y: class 1 is class 0 turned by pi
    residue = torch.remainder(angle - 2 * math.pi * turns * r - math.pi * y, 2 * math.pi)
    off = torch.minimum(residue, 2 * math.pi - residue)
    assert off.max().item() < 1e-9


def test_noisy_sine_shapes_dtypes():
    x, y = noisy_sine(30)
    assert x.shape == (30, 1) and y.shape == (30, 1)
    assert x.dtype == torch.float32 and y.dtype == torch.float32


def test_noisy_sine_in_range():
    x, _ = noisy_sine(500, low=-1.0, high=2.0)
    assert x.min().item() >= -1.0 and x.max().item() <= 2.0


def test_noisy_sine_noise_zero_is_exact_float64():
    x, y = noisy_sine(100, noise=0.0, dtype=torch.float64)
    assert torch.equal(y, torch.sin(x))


def test_noisy_sine_noise_zero_float32():
    x, y = noisy_sine(100, noise=0.0)
    assert torch.allclose(y, torch.sin(x), atol=1e-6, rtol=0)


def test_noisy_sine_noise_std():
    x, y = noisy_sine(20_000, noise=0.5, dtype=torch.float64)
    assert (y - torch.sin(x)).std().item() == pytest.approx(0.5, rel=0.03)


def test_noisy_sine_deterministic():
    assert torch.equal(noisy_sine(seed=1)[1], noisy_sine(seed=1)[1])
    assert not torch.equal(noisy_sine(seed=1)[1], noisy_sine(seed=2)[1])


@pytest.mark.parametrize("fn, kwargs, exc, match", [
    (two_spirals, {"n": 0}, ValueError, r"\bn\b"),
    (two_spirals, {"n": 2.0}, TypeError, r"\bn\b"),
    (two_spirals, {"noise": -1.0}, ValueError, "noise"),
    (two_spirals, {"turns": 0.0}, ValueError, "turns"),
    (two_spirals, {"seed": -1}, ValueError, "seed"),
    (moons, {"n": 0}, ValueError, r"\bn\b"),
    (moons, {"noise": -1.0}, ValueError, "noise"),
    (moons, {"noise": float("nan")}, ValueError, "noise"),
    (moons, {"seed": 0.5}, TypeError, "seed"),
    (noisy_sine, {"n": 0}, ValueError, r"\bn\b"),
    (noisy_sine, {"noise": -1.0}, ValueError, "noise"),
    (noisy_sine, {"low": 1.0, "high": 1.0}, ValueError, "low < high"),
    (noisy_sine, {"low": 2.0, "high": 1.0}, ValueError, "low < high"),
    (noisy_sine, {"high": "pi"}, TypeError, "high"),
], ids=lambda x: getattr(x, "__name__", None) or (str(x) if isinstance(x, dict) else ""))
def test_synthetic_bad_args(fn, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(**kwargs)


# ------------------------------------------------------------ circles, xor, train_test_split

from dlcore.data import circles, train_test_split, xor  # noqa: E402


@pytest.mark.parametrize("fn", [circles, xor])
def test_new_classifier_shapes_balance_determinism(fn):
    X, y = fn(200)
    assert X.shape == (200, 2) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [100, 100]
    assert torch.equal(fn(50, seed=3)[0], fn(50, seed=3)[0])
    assert not torch.equal(fn(50, seed=3)[0], fn(50, seed=4)[0])
    assert fn(10, dtype=torch.float64)[0].dtype == torch.float64


def test_circles_noise_zero_radii():
    X, y = circles(400, noise=0.0, dtype=torch.float64)
    r = X.norm(dim=1)
    assert r[y == 0].max() <= 0.5 + 1e-12 and r[y == 1].min() >= 0.7 - 1e-12 and r.max() <= 1 + 1e-12


def test_xor_noise_zero_quadrants():
    X, y = xor(400, noise=0.0, margin=0.1, dtype=torch.float64)
    prod = X[:, 0] * X[:, 1]
    assert ((prod > 0) == (y == 1)).all()
    assert X.abs().min() >= 0.1 - 1e-12 and X.abs().max() <= 1 + 1e-12
    # all four quadrants are used
    quadrant = (X[:, 0] > 0).long() * 2 + (X[:, 1] > 0).long()
    assert set(quadrant.tolist()) == {0, 1, 2, 3}


def test_noise_std_new_sets():
    X0, _ = circles(5000, noise=0.0, seed=1, dtype=torch.float64)
    X1, _ = circles(5000, noise=0.3, seed=1, dtype=torch.float64)
    assert (X1 - X0).std().item() == pytest.approx(0.3, rel=0.05)


def test_train_test_split_sizes_disjoint_stratified():
    X, y = moons(100, seed=1)
    (Xtr, ytr), (Xte, yte) = train_test_split(X, y, 0.7, seed=2)
    assert len(Xtr) == 70 and len(Xte) == 30
    assert torch.bincount(ytr).tolist() == [35, 35] and torch.bincount(yte).tolist() == [15, 15]
    rows = {tuple(r.tolist()) for r in X}
    assert {tuple(r.tolist()) for r in Xtr} | {tuple(r.tolist()) for r in Xte} == rows
    assert not {tuple(r.tolist()) for r in Xtr} & {tuple(r.tolist()) for r in Xte}


def test_train_test_split_seeded():
    X, y = xor(60)
    a, b = train_test_split(X, y, 0.5, seed=1), train_test_split(X, y, 0.5, seed=1)
    assert torch.equal(a[0][0], b[0][0])
    assert not torch.equal(a[0][0], train_test_split(X, y, 0.5, seed=2)[0][0])


def test_train_test_split_keeps_one_of_each_part():
    X, y = moons(10)
    (Xtr, _), (Xte, _) = train_test_split(X, y, 0.01)
    assert len(Xtr) == 2 and len(Xte) == 8          # one per class at least


@pytest.mark.parametrize("fn, kwargs, exc, match", [
    (circles, {"n": 1}, ValueError, r"\bn\b"),
    (circles, {"noise": -0.1}, ValueError, "noise"),
    (xor, {"n": 3.0}, TypeError, r"\bn\b"),
    (xor, {"margin": 1.0}, ValueError, "margin"),
    (xor, {"noise": float("inf")}, ValueError, "noise"),
    (xor, {"seed": -2}, ValueError, "seed"),
])
def test_new_sets_bad_args(fn, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(**kwargs)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((torch.zeros(4, 2), torch.zeros(3)), {}, ValueError, "rows"),
    ((torch.zeros(4, 2), torch.zeros(4)), {"train_fraction": 1.0}, ValueError, "train_fraction"),
    ((torch.zeros(4, 2), torch.zeros(4)), {"train_fraction": 0.0}, ValueError, "train_fraction"),
    (([[0.0]], torch.zeros(1)), {}, TypeError, r"\bX\b"),
    ((torch.zeros(4, 2), torch.zeros(4)), {"seed": 1.5}, TypeError, "seed"),
])
def test_train_test_split_bad_args(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train_test_split(*args, **kwargs)
