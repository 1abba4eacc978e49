"""dlcore.preprocess.Normaliser: moments of the transformed training set, test splits transformed
with the training statistics, exact inverses, agreement with numpy, errors, determinism."""
import numpy as np
import pytest
import torch

from dlcore.data import load_mnist
from dlcore.preprocess import MODES, Normaliser

F64 = torch.float64


def data(n=500, seed=0, dtype=F64):
    """n rows of 3 correlated features on very different scales and offsets."""
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, 3, generator=g, dtype=F64)
    A = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.3, -0.5, 0.8]], dtype=F64)
    return (Z @ A.T * torch.tensor([1.0, 20.0, 0.05], dtype=F64) + torch.tensor([5.0, -40.0, 2.0], dtype=F64)).to(dtype)


def cov(Z):
    Zc = Z - Z.mean(0)
    return Zc.T @ Zc / len(Z)


def test_centre_and_standardise_moments():
    X = data()
    Zc = Normaliser("centre").fit_transform(X)
    assert Zc.mean(0).abs().max() < 1e-12
    assert torch.allclose(Zc.std(0), X.std(0))                       # spread untouched
    Zs = Normaliser("standardise").fit_transform(X)
    assert Zs.mean(0).abs().max() < 1e-12
    assert torch.allclose(Zs.std(0, unbiased=False), torch.ones(3, dtype=F64), atol=1e-12)
    assert torch.allclose(Zs, (X - X.mean(0)) / X.std(0, unbiased=False), atol=1e-12)
    # standardising keeps the correlations (it only rescales each feature)
    assert torch.allclose(torch.corrcoef(Zs.T), torch.corrcoef(X.T), atol=1e-12)


@pytest.mark.parametrize("mode", ["whiten", "zca"])
def test_whitened_training_covariance_is_identity(mode):
    X = data()
    Z = Normaliser(mode, eps=0.0).fit_transform(X)
    assert Z.mean(0).abs().max() < 1e-12
    assert torch.allclose(cov(Z), torch.eye(3, dtype=F64), atol=1e-10)
    # the least-squares Hessian Z^T Z / n: condition number 1
    assert torch.linalg.cond(Z.T @ Z / len(Z)).item() < 1 + 1e-9
    # with eps: variance lam / (lam + eps) along each principal direction
    norm = Normaliser(mode, eps=1e-2).fit(X)
    lam = norm.eigenvalues
    expected = torch.diag(lam / (lam + 1e-2))
    if mode == "zca":
        expected = norm.eigenvectors @ expected @ norm.eigenvectors.T
    assert torch.allclose(cov(norm.transform(X)), expected, atol=1e-10)


def test_whitening_matches_numpy():
    X = data()
    Xn = X.numpy()
    Xc = Xn - Xn.mean(0)
    lam, U = np.linalg.eigh(np.cov(Xn, rowvar=False, bias=True))
    lam, U = lam[::-1], U[:, ::-1]
    pca = Normaliser("whiten", eps=1e-3).fit(X)
    assert np.allclose(pca.eigenvalues.numpy(), lam, rtol=1e-10)
    ref_pca = Xc @ U / np.sqrt(lam + 1e-3)
    # PCA components are defined up to sign: compare column by column
    ours = pca.transform(X).numpy()
    signs = np.sign((ours * ref_pca).sum(0))
    assert np.allclose(ours, ref_pca * signs, atol=1e-10)
    # ZCA is unique (no sign ambiguity) and symmetric
    ref_zca = Xc @ U @ np.diag(1 / np.sqrt(lam + 1e-3)) @ U.T
    assert np.allclose(Normaliser("zca", eps=1e-3).fit_transform(X).numpy(), ref_zca, atol=1e-10)
    # PCA whitening: the first output feature is the direction of largest variance
    assert (pca.eigenvalues[:-1] >= pca.eigenvalues[1:]).all()


def test_test_split_uses_training_statistics():
    X = data(400, seed=0)
    X_test = data(100, seed=1) + torch.tensor([3.0, 0.0, 0.0], dtype=F64)     # a shifted test set
    for mode in MODES:
        norm = Normaliser(mode).fit(X)
        Z_test = norm.transform(X_test)
        # the same map as for the training set: row by row, whatever else is in the batch
        assert torch.allclose(norm.transform(torch.cat([X, X_test]))[400:], Z_test, atol=1e-12)
        assert torch.allclose(norm.transform(X_test[:1]), Z_test[:1], atol=1e-12)     # one example
        assert torch.allclose(norm.transform(X_test[0]), Z_test[0], atol=1e-12)       # a 1-D row
        # the shift survives: the transformed test mean is the shift, mapped by the training
        # statistics, not the zero a fit on the test set itself would give
        shift = norm.transform(X_test.mean(0, keepdim=True)) - norm.transform(X.mean(0, keepdim=True))
        assert torch.allclose(Z_test.mean(0), norm.transform(X.mean(0, keepdim=True))[0] + shift[0], atol=1e-10)
        assert Z_test.mean(0).abs().max() > 0.5
        assert Normaliser(mode).fit_transform(X_test).mean(0).abs().max() < 1e-10
    norm = Normaliser("standardise").fit(X)
    assert torch.allclose(norm.transform(X_test).mean(0)[0],
                          (X_test[:, 0].mean() - X[:, 0].mean()) / X[:, 0].std(unbiased=False))


@pytest.mark.parametrize("mode", MODES)
def test_inverse_transform(mode):
    X = data()
    norm = Normaliser(mode).fit(X)
    X_new = data(50, seed=3)
    assert torch.allclose(norm.inverse_transform(norm.transform(X_new)), X_new, atol=1e-9)
    Z = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(norm.transform(norm.inverse_transform(Z)), Z, atol=1e-9)


def test_constant_feature_is_centred_not_divided():
    X = data()
    X[:, 1] = 0.25                                                        # a blank "border pixel"
    norm = Normaliser("standardise").fit(X)
    assert norm.std[1] == 1.0
    Z = norm.transform(X)
    assert torch.isfinite(Z).all() and (Z[:, 1] == 0).all()
    probe = X[:2].clone()
    probe[:, 1] = 0.75                                                    # faint ink at test time
    assert torch.allclose(norm.transform(probe)[:, 1], torch.full((2,), 0.5, dtype=F64))
    assert torch.allclose(norm.inverse_transform(norm.transform(probe)), probe)
    # whitening a rank-deficient covariance: fine with eps > 0, a clear error with eps = 0
    assert torch.isfinite(Normaliser("whiten").fit_transform(X)).all()
    with pytest.raises(ValueError, match="singular.*eps > 0"):
        Normaliser("zca", eps=0.0).fit(X)


def test_matches_load_mnist_per_pixel():
    raw = load_mnist(500, 0, 100, standardise=False, dtype=F64)
    ref = load_mnist(500, 0, 100, standardise="per_pixel", dtype=F64)
    norm = Normaliser("standardise").fit(raw.train[0])
    n = 500
    blank = ref.std == 1.0                                                # pixels never inked in training
    assert blank.sum() > 20 and torch.equal(norm.std == 1.0, blank)
    factor = torch.where(blank, 1.0, ((n - 1) / n) ** 0.5)                # unbiased vs biased std
    for ours, theirs in [(raw.train[0], ref.train[0]), (raw.test[0], ref.test[0])]:
        assert torch.allclose(norm.transform(ours) * factor, theirs, atol=1e-9)


def test_dtype_and_device_follow_the_input():
    X32 = data(dtype=torch.float32)
    norm = Normaliser("whiten", eps=0.0).fit(X32)
    assert norm.mean.dtype == F64                                         # statistics in float64
    Z = norm.transform(X32)
    assert Z.dtype == torch.float32
    assert torch.allclose(cov(Z.double()), torch.eye(3, dtype=F64), atol=1e-4)
    assert norm.transform(X32.double()).dtype == F64                      # fitted once, used in either
    # gradients flow through transform (e.g. to an input being optimised)
    x = X32[:4].clone().requires_grad_()
    norm.transform(x).sum().backward()
    assert x.grad is not None and x.grad.shape == (4, 3)


def test_deterministic():
    X = data()
    for mode in MODES:
        a, b = Normaliser(mode).fit(X), Normaliser(mode).fit(X.clone())
        assert torch.equal(a.transform(X), b.transform(X))
    # the eigenvector signs are pinned (largest-magnitude entry positive), so a row-shuffled
    # training set gives the same PCA whitening
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    a, b = Normaliser("whiten").fit(X), Normaliser("whiten").fit(X[perm])
    assert torch.allclose(a.transform(X), b.transform(X), atol=1e-9)
    U = a.eigenvectors
    assert (U[U.abs().argmax(0), torch.arange(3)] > 0).all()


def test_errors():
    X = data()
    with pytest.raises(ValueError, match=r"unknown mode 'whitening'; valid choices are \['centre', 'standardise', 'whiten', 'zca'\]"):
        Normaliser("whitening")
    with pytest.raises(TypeError, match="mode must be a string"):
        Normaliser(1)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        Normaliser("whiten", eps=-1e-3)
    with pytest.raises(ValueError, match="min_std must be > 0"):
        Normaliser(min_std=0.0)
    norm = Normaliser("standardise")
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(X_train\)"):
        norm.transform(X)
    with pytest.raises(RuntimeError, match="not fitted"):
        norm.inverse_transform(X)
    with pytest.raises(TypeError, match="X must be a torch.Tensor"):
        norm.fit(X.numpy())
    with pytest.raises(ValueError, match=r"X must have shape \(n, d\)"):
        norm.fit(X[0])
    with pytest.raises(ValueError, match="at least 2 rows"):
        norm.fit(X[:1])
    with pytest.raises(TypeError, match="floating-point"):
        norm.fit(torch.ones(5, 3, dtype=torch.uint8))
    bad = X.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        norm.fit(bad)
    norm.fit(X)
    with pytest.raises(ValueError, match="X has 2 features.*fitted on 3"):
        norm.transform(X[:, :2])
    with pytest.raises(ValueError, match="Z has 4 features.*fitted on 3"):
        norm.inverse_transform(torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match="no variance"):
        Normaliser("whiten").fit(torch.ones(5, 3, dtype=F64))
    assert "fitted on 3 features" in repr(norm) and "not fitted" in repr(Normaliser("zca"))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mode", MODES)
def test_cuda_matches_cpu(mode):
    X = data(dtype=torch.float32)
    cpu = Normaliser(mode).fit(X)
    gpu = Normaliser(mode).fit(X.cuda())
    assert gpu.mean.is_cuda
    Z = gpu.transform(X.cuda())
    assert Z.is_cuda and Z.dtype == torch.float32
    assert torch.allclose(Z.cpu(), cpu.transform(X), atol=1e-4)
    assert torch.allclose(cpu.transform(X.cuda()).cpu(), cpu.transform(X), atol=1e-5)   # fitted on CPU, used on GPU


def test_mps_statistics_are_fitted_on_the_cpu_in_float64():
    # Apple's MPS has no float64 (and torch < 2.13 no eigh there): fit on the CPU, keep float32 on MPS
    from dlcore.preprocess import _stored_dtype, _working_device
    assert _working_device(torch.device("mps")) == torch.device("cpu")
    assert _stored_dtype(torch.device("mps")) == torch.float32
    assert _working_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert _stored_dtype(torch.device("cuda")) == F64 and _stored_dtype(torch.device("cpu")) == F64


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_whiten_on_cuda_matches_the_cpu():
    X = data(dtype=torch.float32)
    cpu, gpu = Normaliser("zca").fit(X), Normaliser("zca").fit(X.cuda())
    assert gpu.mean.is_cuda and gpu.eigenvectors.is_cuda and gpu.mean.dtype == F64
    torch.testing.assert_close(gpu.transform(X.cuda()).cpu(), cpu.transform(X), rtol=1e-4, atol=1e-4)
