"""dlcore.regularise: penalties, decoupled weight decay against SGD with lam w in the gradient,
early stopping on a synthetic validation curve."""
import copy

import pytest
import torch
from torch import nn

from dlcore.ensemble import Ensemble
from dlcore.nets import MLP
from dlcore.regularise import (EarlyStopping, decoupled_weight_decay_, l1_penalty, l2_penalty)

F64 = torch.float64


def net(seed=0, batchnorm=False):
    torch.manual_seed(seed)
    return MLP([4, 8, 3], batchnorm=batchnorm).double()


def test_l2_and_l1_values_exclude_biases():
    m = net()
    w1, w2 = m.linear1.weight, m.linear2.weight
    expected = 0.5 * 0.1 * (w1.square().sum() + w2.square().sum())
    assert torch.allclose(l2_penalty(m, 0.1), expected)
    assert torch.allclose(l1_penalty(m, 0.1), 0.1 * (w1.abs().sum() + w2.abs().sum()))
    every = sum(p.square().sum() for p in m.parameters())
    assert torch.allclose(l2_penalty(m, 0.1, include_bias=True), 0.05 * every)
    assert torch.allclose(l2_penalty(list(m.parameters()), 0.1), expected)  # dimension rule
    # BatchNorm's gamma and beta are not weights either
    bn = net(batchnorm=True)
    assert torch.allclose(l2_penalty(bn, 1.0),
                          0.5 * (bn.linear1.weight.square().sum() + bn.linear2.weight.square().sum()))
    # an Ensemble's stacked biases (K, out) are 2-D but named biases.l: excluded
    ens = Ensemble([4, 8, 3], 2)
    assert torch.allclose(l2_penalty(ens, 2.0), sum(w.square().sum() for w in ens.weights))


def test_penalty_gradients():
    m = net()
    l2_penalty(m, 0.3).backward()
    assert torch.allclose(m.linear1.weight.grad, 0.3 * m.linear1.weight)
    assert m.linear1.bias.grad is None
    m.zero_grad()
    l1_penalty(m, 0.3).backward()
    assert torch.allclose(m.linear2.weight.grad, 0.3 * m.linear2.weight.sign())


def _grad_step(m, x, y, lr, lam, how):
    m.zero_grad()
    loss = nn.functional.cross_entropy(m(x), y)
    if how == "penalty":
        loss = loss + l2_penalty(m, lam)
    loss.backward()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if how == "by_hand" and "weight" in name:
                p.grad += lam * p  # the lectures: add lam w to the gradient
    if how == "decoupled":
        decoupled_weight_decay_(m, lr, lam)
    torch.optim.SGD(m.parameters(), lr=lr).step()


def test_sgd_with_lam_w_in_gradient_equals_decayed_update():
    x = torch.randn(16, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(16) % 3
    lr, lam = 0.5, 0.25  # the two forms round differently: equal to float64's last digits
    models = {how: net() for how in ("by_hand", "penalty", "decoupled")}
    # and torch's own SGD weight_decay, which decays every parameter it is given: weights only
    ref = net()
    opt = torch.optim.SGD([{"params": [ref.linear1.weight, ref.linear2.weight], "weight_decay": lam},
                           {"params": [ref.linear1.bias, ref.linear2.bias]}], lr=lr)
    for _ in range(5):
        for how, m in models.items():
            _grad_step(m, x, y, lr, lam, how)
        opt.zero_grad()
        nn.functional.cross_entropy(ref(x), y).backward()
        opt.step()
    for name, p in models["decoupled"].named_parameters():
        assert torch.allclose(p, dict(models["by_hand"].named_parameters())[name], rtol=0, atol=1e-14)
        assert torch.allclose(p, dict(models["penalty"].named_parameters())[name], rtol=0, atol=1e-14)
        assert torch.allclose(p, dict(ref.named_parameters())[name], rtol=0, atol=1e-14)


def test_one_sgd_step_with_lam_w_equals_decayed_update_exactly():
    # w - lr (g + lam w) = (1 - lam lr) w - lr g: with numbers that floating point holds
    # exactly (small multiples of 1/64, lr and lam powers of two) the two sides are bit-equal
    w0 = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.25, -1.5]])
    g = torch.tensor([[0.125, 0.5, -1.0], [-0.25, 2.0, 0.75]])
    lr, lam = 0.5, 0.25
    coupled = w0.clone().requires_grad_()
    coupled.grad = g + lam * coupled.detach()
    torch.optim.SGD([coupled], lr=lr).step()
    decoupled = w0.clone().requires_grad_()
    decoupled.grad = g.clone()
    decoupled_weight_decay_([decoupled], lr, lam)
    torch.optim.SGD([decoupled], lr=lr).step()
    assert torch.equal(coupled, decoupled)
    assert torch.equal(decoupled.detach(), (1 - lam * lr) * w0 - lr * g)


def test_decay_alone_is_exact_shrink():
    w = torch.tensor([[1.0, -2.0], [4.0, 0.5]])
    decoupled_weight_decay_([w], lr=0.5, lam=0.5)
    assert torch.equal(w, torch.tensor([[0.75, -1.5], [3.0, 0.375]]))
    b = torch.ones(3)
    decoupled_weight_decay_([b], lr=0.5, lam=0.5)  # 1-D: a bias, untouched
    assert torch.equal(b, torch.ones(3))
    decoupled_weight_decay_([b], lr=0.5, lam=0.5, include_bias=True)
    assert torch.equal(b, torch.full((3,), 0.75))


def test_regularise_bad_arguments():
    m = net()
    with pytest.raises(ValueError, match="lam"):
        l2_penalty(m, -1.0)
    with pytest.raises(TypeError, match="lam"):
        l1_penalty(m, "0.1")
    with pytest.raises(TypeError, match="model_or_params"):
        l2_penalty(3, 0.1)
    with pytest.raises(ValueError, match="no weights"):
        l2_penalty([torch.ones(3)], 0.1)
    with pytest.raises(ValueError, match="lr"):
        decoupled_weight_decay_(m, -0.1, 0.1)
    with pytest.raises(ValueError, match="lam \\* lr"):
        decoupled_weight_decay_(m, 2.0, 1.0)
    with pytest.raises(TypeError, match="include_bias"):
        l2_penalty(m, 0.1, include_bias=1)


def test_early_stopping_picks_minimum_and_stops_after_patience():
    losses = [1.0, 0.8, 0.9, 0.5, 0.6, 0.55, 0.7, 0.51, 0.52, 0.4]
    stopper = EarlyStopping(patience=3)
    model = nn.Linear(2, 1)
    stopped_at = None
    for t, loss in enumerate(losses, start=1):
        with torch.no_grad():
            model.weight.fill_(loss)  # the weights remember which step they came from
        if stopper.step(loss, model):
            stopped_at = t
            break
    # best 0.5 at step 4; steps 5, 6, 7 bring nothing better: stop at 7, before 0.4 is seen
    assert (stopper.best_step, stopper.best_loss, stopped_at) == (4, 0.5, 7)
    assert stopper.should_stop and stopper.bad_steps == 3
    stopper.restore(model)
    assert torch.equal(model.weight, torch.full((1, 2), 0.5))


def test_early_stopping_restore_gives_back_exactly_the_best_state():
    torch.manual_seed(0)
    model = MLP([3, 5, 2], batchnorm=True)
    stopper = EarlyStopping(patience=2)
    stopper.step(torch.tensor(1.0), model, step=10)
    best = copy.deepcopy(model.state_dict())
    model(torch.randn(8, 3))  # training mode: BatchNorm's running statistics move
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # training goes on, in place: the copy must not see it
    assert not stopper.step(2.0, model, step=20)
    assert stopper.step(float("nan"), model, step=30)  # NaN is never an improvement
    assert stopper.best_step == 10
    stopper.restore(model)
    state = model.state_dict()
    assert state.keys() == best.keys()
    assert all(torch.equal(state[k], best[k]) for k in best)
    with torch.no_grad():
        model.linear1.weight.add_(1.0)
    stopper.restore(model)  # twice: the kept copy was not aliased by the first restore
    assert torch.equal(model.linear1.weight, best["linear1.weight"])


def test_early_stopping_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    m = nn.Linear(1, 1)
    assert not stopper.step(1.0, m)
    assert not stopper.step(0.95, m)  # better, but by less than min_delta
    assert stopper.step(0.92, m)
    assert stopper.best_loss == 1.0 and stopper.best_step == 1


def test_early_stopping_bad_arguments():
    for bad, err in ((0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(err, match="patience"):
            EarlyStopping(patience=bad)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(min_delta=-1.0)
    stopper = EarlyStopping(3)
    with pytest.raises(RuntimeError, match="no best weights"):
        stopper.restore(nn.Linear(1, 1))
    with pytest.raises(TypeError, match="loss"):
        stopper.step("0.3", nn.Linear(1, 1))
    with pytest.raises(ValueError, match="loss"):
        stopper.step(torch.ones(2), nn.Linear(1, 1))
    with pytest.raises(TypeError, match="model"):
        stopper.step(0.3, {"w": 1})
