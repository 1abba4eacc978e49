"""dlcore.augment: shapes, determinism under a seeded generator, identities (zero shift, zero
angle), shifts that move pixels where they should, rotations against torch.rot90, bad input."""
import pytest
import torch

from dlcore.augment import (augment, gaussian_noise, random_rotation, random_shift, rotate,
                            shift)


def batch(n=5, c=2, h=6, w=7, seed=0):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("fn", [
    lambda x, g: random_shift(x, 2, generator=g),
    lambda x, g: random_rotation(x, 15.0, generator=g),
    lambda x, g: gaussian_noise(x, 0.3, generator=g),
    lambda x, g: augment(x, max_shift=1, max_degrees=10, noise_std=0.1, fill=-0.5, generator=g),
])
def test_shapes_dtype_and_determinism(fn):
    x = batch()
    a, b = fn(x, gen(3)), fn(x, gen(3))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)                       # the same generator state: the same batch
    assert not torch.equal(a, fn(x, gen(4)))        # another seed: another batch
    assert torch.equal(x, batch())                  # the input is left alone
    x64 = x.double()
    assert fn(x64, gen(3)).dtype == torch.float64


def test_each_image_gets_its_own_draw():
    x = torch.ones(1, 1, 8, 8).expand(64, 1, 8, 8).contiguous()
    out = random_shift(x, 2, generator=gen())
    # 64 images, 25 possible shifts: several different results
    assert len({tuple(o.flatten().tolist()) for o in out}) > 5


def test_zero_sizes_are_the_identity():
    x = batch()
    zero = torch.zeros(5, dtype=torch.long)
    assert torch.equal(shift(x, zero, zero), x)
    assert torch.equal(random_shift(x, 0, generator=gen()), x)
    assert torch.allclose(rotate(x, 0.0), x, atol=1e-6)
    assert torch.equal(random_rotation(x, 0.0, generator=gen()), x)
    assert torch.equal(gaussian_noise(x, 0.0, generator=gen()), x)
    assert torch.equal(augment(x), x)
    assert augment(x).data_ptr() != x.data_ptr()   # a copy, never the input itself


def test_shift_moves_pixels_as_expected():
    x = torch.arange(1, 5 * 6 * 7 + 1, dtype=torch.float32).view(5, 1, 6, 7)
    dy = torch.tensor([1, -2, 0, 3, 0])
    dx = torch.tensor([0, 1, -3, 2, 0])
    out = shift(x, dy, dx, fill=-1.0)
    for n in range(5):
        for i in range(6):
            for j in range(7):
                si, sj = i - dy[n].item(), j - dx[n].item()
                want = x[n, 0, si, sj] if 0 <= si < 6 and 0 <= sj < 7 else -1.0
                assert out[n, 0, i, j] == want
    # channels move together
    x2 = torch.cat([x, -x], dim=1)
    out2 = shift(x2, dy, dx, fill=0.0)
    assert torch.equal(out2[:, 0][out2[:, 0] != 0], -out2[:, 1][out2[:, 1] != 0])
    # a shift past the edge leaves only fill
    assert torch.equal(shift(x, torch.full((5,), 9), torch.zeros(5, dtype=torch.long), fill=2.0),
                       torch.full_like(x, 2.0))


def test_random_shift_stays_within_max_shift():
    x = torch.zeros(200, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0                              # one bright pixel in the centre
    out = random_shift(x, 2, generator=gen())
    pos = out.flatten(1).argmax(1)
    rows, cols = pos // 9 - 4, pos % 9 - 4
    assert rows.abs().max() == 2 and cols.abs().max() == 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25      # every shift occurs
    assert torch.equal(out.sum((1, 2, 3)), torch.ones(200))        # nothing lost, nothing added


def test_rotation_matches_rot90_and_keeps_the_centre():
    x = batch(h=6, w=6)
    assert torch.allclose(rotate(x, 90.0), torch.rot90(x, 1, dims=(2, 3)), atol=1e-5)
    assert torch.allclose(rotate(x, -90.0), torch.rot90(x, -1, dims=(2, 3)), atol=1e-5)
    xr = batch(h=5, w=8)                                              # non-square too
    assert torch.allclose(rotate(xr, 180.0), torch.rot90(xr, 2, dims=(2, 3)), atol=1e-5)
    angles = torch.tensor([0.0, 90.0, 180.0, -90.0, 0.0])
    per = rotate(x, angles)
    for n, k in enumerate([0, 1, 2, -1, 0]):
        assert torch.allclose(per[n], torch.rot90(x[n], k, dims=(1, 2)), atol=1e-5)
    # a small turn of a centred blob keeps its mass in the middle; the uncovered corners get fill
    img = torch.zeros(1, 1, 9, 9)
    img[0, 0, 3:6, 3:6] = 1.0
    out = rotate(img, 10.0, fill=0.0)
    assert abs(out.sum().item() - 9.0) < 0.05
    corners = rotate(torch.zeros(1, 1, 9, 9), 45.0, fill=-1.0)
    assert corners[0, 0, 0, 0] == -1.0 and abs(corners[0, 0, 4, 4].item()) < 1e-6


def test_random_rotation_angles_within_range():
    x = torch.zeros(100, 1, 15, 15)
    x[:, 0, 7, 7:] = 1.0                             # a bar from the centre to the right edge
    small = random_rotation(x, 5.0, generator=gen())
    # within 5 degrees the bar's tip barely moves: rows 6..8 hold nearly all of it
    assert (small[:, 0, 6:9].sum((1, 2)) / small.sum((1, 2, 3)) > 0.95).all()
    large = random_rotation(x, 90.0, generator=gen())
    assert (large[:, 0, 6:9].sum((1, 2)) / large.sum((1, 2, 3)) < 0.5).any()


def test_noise_has_the_asked_std():
    x = torch.zeros(64, 1, 28, 28)
    out = gaussian_noise(x, 0.5, generator=gen())
    assert abs(out.std().item() - 0.5) < 0.01 and abs(out.mean().item()) < 0.01


def test_generator_device_and_data_device_may_differ():
    # a CPU generator drives a batch on whatever device x is on; on CPU this checks the path
    x = batch()
    a = augment(x, max_shift=1, max_degrees=5, noise_std=0.1, generator=gen(1))
    b = augment(x.to("cpu"), max_shift=1, max_degrees=5, noise_std=0.1, generator=gen(1))
    assert torch.equal(a, b)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    x = batch()
    kw = dict(max_shift=2, max_degrees=10, noise_std=0.1, fill=-0.4)
    a = augment(x, generator=gen(2), **kw)
    b = augment(x.cuda(), generator=gen(2), **kw)
    assert b.device.type == "cuda" and torch.allclose(a, b.cpu(), atol=1e-5)


def test_bad_arguments():
    x = batch()
    with pytest.raises(ValueError, match=r"x must be a batch of images of shape \(N, C, H, W\)"):
        augment(torch.zeros(5, 784))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        augment([[1.0]])
    with pytest.raises(TypeError, match="floating-point"):
        random_shift(torch.zeros(2, 1, 4, 4, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="max_shift must be <= 5"):
        random_shift(x, 6)
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        augment(x, max_shift=-1)
    with pytest.raises(TypeError, match="max_shift must be an integer"):
        augment(x, max_shift=1.5)
    with pytest.raises(ValueError, match="max_degrees must be <= 180"):
        random_rotation(x, 200)
    with pytest.raises(ValueError, match="noise_std must be >= 0"):
        augment(x, noise_std=-0.1)
    with pytest.raises(ValueError, match="std must be finite"):
        gaussian_noise(x, float("nan"))
    with pytest.raises(TypeError, match="fill must be a real number"):
        augment(x, fill="black")
    with pytest.raises(TypeError, match="fill must be a real number"):
        random_shift(x, 0, fill=None)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        augment(x, max_shift=1, generator=0)
    with pytest.raises(ValueError, match=r"dy must be an integer tensor of shape \(5,\)"):
        shift(x, torch.zeros(5), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"degrees must be a number or a tensor of shape \(5,\)"):
        rotate(x, torch.zeros(3))


def test_rotation_and_shift_together_equal_one_after_the_other():
    # the order and the draws augment documents
    x = batch(n=16, h=10, w=10)
    g1, g2 = gen(7), gen(7)
    fused = augment(x, max_shift=2, max_degrees=20, fill=-0.3, generator=g1)
    apart = random_shift(random_rotation(x, 20, fill=-0.3, generator=g2), 2, fill=-0.3, generator=g2)
    assert torch.allclose(fused, apart, atol=1e-5)
    assert torch.equal(g1.get_state(), g2.get_state())       # the same draws were used up


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_augment_on_cuda_with_cpu_generator_and_float64_degrees():
    x = torch.rand(6, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    deg = torch.linspace(-30, 30, 6, dtype=torch.float64)        # cast before the move (MPS has no float64)
    torch.testing.assert_close(rotate(x.cuda(), deg).cpu(), rotate(x, deg), rtol=1e-4, atol=1e-4)
    a = augment(x.cuda(), max_shift=2, max_degrees=10, noise_std=0.1, generator=torch.Generator().manual_seed(3))
    b = augment(x, max_shift=2, max_degrees=10, noise_std=0.1, generator=torch.Generator().manual_seed(3))
    assert a.is_cuda
    torch.testing.assert_close(a.cpu(), b, rtol=1e-4, atol=1e-4)
