"""dlcore.nn.Dropout and dropout() against torch.nn.Dropout's statistics; mc_predict.

Masks are random, so the statistical checks use a large tensor (10^6 elements) and bounds of
about 6 standard errors: a correct dropout fails them with probability ~1e-9.
"""
import pytest
import torch
from torch import nn

from dlcore.nets import MLP
from dlcore.nn import BatchNorm1d, Dropout, dropout, mc_predict

N = 1_000_000


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_statistics_match_torch(p):
    x = torch.ones(N)
    ours = Dropout(p, generator=gen(1))(x)
    torch.manual_seed(0)
    theirs = nn.Dropout(p)(x)
    se = (p * (1 - p) / N) ** 0.5  # std of the kept fraction
    for y in (ours, theirs):
        kept = (y != 0).float().mean().item()
        assert abs(kept - (1 - p)) < 6 * se
        assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / (1 - p)))
    # the mean is preserved: E[y] = x
    z = torch.randn(N, generator=gen(2)) + 3.0
    assert abs(dropout(z, p, generator=gen(3)).mean().item() - z.mean().item()) < 0.02


def test_eval_mode_and_p0_are_identity():
    x = torch.randn(64, 10, generator=gen())
    layer = Dropout(0.5).eval()
    assert torch.equal(layer(x), x)
    assert torch.equal(dropout(x, 0.5, training=False), x)
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(dropout(x, 0.0), x)


def test_gradient_is_mask_times_scale():
    p = 0.3
    x = torch.randn(200, 50, generator=gen(), requires_grad=True)
    y = dropout(x, p, generator=gen(5))
    upstream = torch.randn(200, 50, generator=gen(6))
    y.backward(upstream)
    mask = (y != 0).to(x.dtype)
    assert torch.allclose(x.grad, upstream * mask / (1 - p))
    assert torch.allclose(y, x.detach() * mask / (1 - p))


def test_generator_makes_masks_reproducible():
    x = torch.randn(100, 20)
    assert torch.equal(dropout(x, 0.5, generator=gen(7)), dropout(x, 0.5, generator=gen(7)))
    assert not torch.equal(dropout(x, 0.5, generator=gen(7)), dropout(x, 0.5, generator=gen(8)))


def test_inplace_and_drop_in_state():
    x = torch.randn(30, 4)
    y = x.clone()
    out = Dropout(0.5, inplace=True, generator=gen())(y)
    assert out.data_ptr() == y.data_ptr()
    assert repr(Dropout(0.25)) == "Dropout(p=0.25, inplace=False)"
    # in a Sequential in place of torch's: no parameters, no buffers, state_dicts load both ways
    a = nn.Sequential(nn.Linear(4, 4), Dropout(0.5))
    b = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    b.load_state_dict(a.state_dict())
    a.load_state_dict(b.state_dict())


@pytest.mark.parametrize("p, err", [(1.0, ValueError), (1.5, ValueError), (-0.1, ValueError),
                                    (float("nan"), ValueError), ("0.5", TypeError),
                                    (True, TypeError)])
def test_bad_p_rejected(p, err):
    with pytest.raises(err, match="p"):
        Dropout(p)
    with pytest.raises(err, match="p"):
        dropout(torch.ones(3), p)


def test_p1_message_says_why():
    with pytest.raises(ValueError, match="nothing would pass"):
        Dropout(1.0)


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="x"):
        dropout([1.0, 2.0], 0.5)
    with pytest.raises(TypeError, match="inplace"):
        Dropout(0.5, inplace=1)
    with pytest.raises(TypeError, match="training"):
        dropout(torch.ones(3), 0.5, training=1)
    with pytest.raises(TypeError, match="generator"):
        dropout(torch.ones(3), 0.5, generator=0)
    with pytest.raises(TypeError, match="floating-point"):
        dropout(torch.ones(3, dtype=torch.long), 0.5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_mask_in_the_input_dtype(dtype):
    y = dropout(torch.ones(10_000, dtype=dtype), 0.25, generator=gen())
    assert y.dtype == dtype
    assert set(y.unique().tolist()) == {0.0, float(torch.tensor(1 / 0.75, dtype=dtype))}


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 32), BatchNorm1d(32), nn.ReLU(), Dropout(0.5),
                         nn.Linear(32, 3))


def test_mc_predict_shapes_modes_and_reproducibility():
    net = _net()
    net.train()
    net[1].eval()  # a mixed state, which must come back as it was
    before = [m.training for m in net.modules()]
    stats = net[1].running_mean.clone()
    x = torch.randn(40, 5, generator=gen())
    mean, std = mc_predict(net, x, samples=200, generator=gen(1))
    assert mean.shape == std.shape == (40, 3)
    assert torch.allclose(mean.sum(1), torch.ones(40))  # a mean of probability vectors
    assert (std > 0).any() and (std >= 0).all()
    assert [m.training for m in net.modules()] == before
    assert torch.equal(net[1].running_mean, stats)  # BatchNorm ran in eval mode: no update
    assert net[3].generator is None
    again, _ = mc_predict(net, x, samples=200, generator=gen(1))
    assert torch.equal(mean, again)


def test_mc_predict_vectorised_equals_loop():
    # each row draws its own mask either way, in the same order when the mask is drawn for
    # the whole (T n, d) batch at once or T times for (n, d): the same numbers
    net = _net()
    x = torch.randn(10, 5, generator=gen())
    a = mc_predict(net, x, samples=7, output="raw", generator=gen(3))
    b = mc_predict(net, x, samples=7, output="raw", generator=gen(3), vectorise=False)
    for u, v in zip(a, b):
        assert torch.allclose(u, v, atol=1e-6)


def test_mc_predict_one_sample_is_one_stochastic_pass():
    net = _net().eval()
    x = torch.randn(8, 5, generator=gen())
    mean, std = mc_predict(net, x, samples=1, output="raw", generator=gen(4))
    net[3].generator = gen(4)
    net[3].train()
    assert torch.allclose(mean, net(x))
    assert torch.equal(std, torch.zeros_like(std))


def test_mc_predict_with_torch_dropout_and_mean_close_to_eval():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 1))
    x = torch.randn(20, 5, generator=gen())
    mean, std = mc_predict(net, x, samples=4000, output="raw")
    assert net.training  # restored
    # the last layer is linear, so E[output] is the eval-mode output
    assert torch.allclose(mean, net.eval()(x), atol=0.05)
    assert (std > 0).all()


def test_mc_predict_bad_arguments():
    net = _net()
    x = torch.randn(4, 5)
    with pytest.raises(ValueError, match="no dropout"):
        mc_predict(MLP([5, 3]), x)
    with pytest.raises(ValueError, match="samples"):
        mc_predict(net, x, samples=0)
    with pytest.raises(ValueError, match="output"):
        mc_predict(net, x, output="logits")
    with pytest.raises(TypeError, match="model"):
        mc_predict(lambda t: t, x)
    with pytest.raises(ValueError, match="generator"):
        mc_predict(nn.Sequential(nn.Linear(5, 2), nn.Dropout()), x, generator=gen())
    with pytest.raises(ValueError, match="raw"):
        mc_predict(nn.Sequential(nn.Linear(5, 1), Dropout(), nn.Flatten(0)), x)
