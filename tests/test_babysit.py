"""dlcore.babysit: every check passes on a healthy small MLP and fails, with a message that says
why, on a broken one (a N(0, 10^2) init, a learning rate 100x too large); bad arguments get errors
naming them. The gradient check itself is tested in test_gradcheck.py."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dlcore
from dlcore import babysit as B
from dlcore.data import load_mnist, moons
from dlcore.regularise import l2_penalty

LR = 0.05   # plain SGD on the tanh MLP below: update ratios ~2e-3 to 5e-3


@pytest.fixture(scope="module")
def mnist():
    torch.set_num_threads(1)
    return load_mnist(2000, 500, 0)


def mlp(init="xavier_normal", seed=0, act="tanh", sizes=(784, 64, 64, 10), **kwargs):
    return dlcore.MLP(list(sizes), act, init=init, init_kwargs=kwargs or None,
                      generator=torch.Generator().manual_seed(seed))


def bad_init(seed=0):
    return mlp("normal", seed, std=10.0)      # N(0, 10^2) weights


def same_params(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# --- initial loss -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_initial_loss_healthy_passes_bad_init_fails(mnist, seed):
    X, y = mnist.train
    good = B.initial_loss_check(mlp(seed=seed), (X, y))
    assert good.passed and abs(good.value - math.log(10)) < 0.5
    assert good.expected[0] < math.log(10) < good.expected[1]
    bad = B.initial_loss_check(bad_init(seed), (X, y))
    assert not bad.passed and bad.value > 50
    assert "too high" in bad.message and "scale" in bad.message and "Xavier" in bad.message


def test_initial_loss_matches_cross_entropy_and_leaves_mode(mnist):
    X, y = mnist.train
    net = mlp().train()
    with torch.no_grad():
        ce = F.cross_entropy(net(X), y).item()
    r = B.initial_loss_check(net, (X, y), 10)
    assert math.isclose(r.value, ce, rel_tol=1e-6) and net.training


def test_initial_loss_too_low_says_so(mnist):
    X, y = mnist.train
    fitted = B.overfit_small(mlp(), (X, y), lr=LR)
    idx = fitted.details["indices"]
    r = B.initial_loss_check(fitted.details["model"], (X[idx], y[idx]))
    assert not r.passed and "Suspiciously low" in r.message


def test_initial_loss_bad_arguments(mnist):
    X, y = mnist.train
    with pytest.raises(ValueError, match="n_classes is 5 but the model outputs 10"):
        B.initial_loss_check(mlp(), (X, y), 5)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        B.initial_loss_check(lambda x: x, (X, y))
    with pytest.raises(TypeError, match="data must be a pair"):
        B.initial_loss_check(mlp(), X)
    with pytest.raises(ValueError, match="rtol"):
        B.initial_loss_check(mlp(), (X, y), rtol=0)


# --- regularisation ---------------------------------------------------------------------------

def test_regularisation_rises(mnist):
    X, y = mnist.train
    net = mlp()
    r = B.regularisation_check(net, (X[:8], y[:8]))
    assert r.passed and list(r.value) == [0.0, 1e-3, 1e-2, 1e-1]
    losses = list(r.value.values())
    with torch.no_grad():
        assert math.isclose(losses[0], F.cross_entropy(net(X[:8]), y[:8]).item(), rel_tol=1e-6)
        assert math.isclose(losses[-1], losses[0] + l2_penalty(net, 0.1).item(), rel_tol=1e-6)


def test_regularisation_sign_error_and_missing_penalty_fail(mnist):
    X, y = mnist.train
    minus = B.regularisation_check(mlp(), (X[:8], y[:8]),
                                   loss_fn=lambda m, X, y, lam: F.cross_entropy(m(X), y) - l2_penalty(m, lam))
    assert not minus.passed and "fell" in minus.message and "sign" in minus.message
    none = B.regularisation_check(mlp(), (X[:8], y[:8]), loss_fn=lambda m, X, y, lam: F.cross_entropy(m(X), y))
    assert not none.passed and "not added" in none.message
    assert B.regularisation_check(mlp(), (X[:8], y[:8]), loss_fn=B.l1_loss).passed


def test_regularisation_bad_arguments(mnist):
    X, y = mnist.train
    with pytest.raises(ValueError, match="lams must increase"):
        B.regularisation_check(mlp(), (X, y), lams=(0.1, 0.01))
    with pytest.raises(ValueError, match="lams must be 2 or more"):
        B.regularisation_check(mlp(), (X, y), lams=(0.1,))
    with pytest.raises(ValueError, match=r"lams\[0\] must be >= 0"):
        B.regularisation_check(mlp(), (X, y), lams=(-1.0, 0.1))
    with pytest.raises(TypeError, match="loss_fn must be a function"):
        B.regularisation_check(mlp(), (X, y), loss_fn="l2")


# --- overfit a few examples -------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_overfit_small_healthy_passes_broken_fail(mnist, seed):
    X, y = mnist.train
    net = mlp(seed=seed)
    before = copy.deepcopy(net)
    good = B.overfit_small(net, (X, y), lr=LR, seed=seed)
    assert good.passed and good.value < 0.05 and good.details["accuracy"] == 1.0
    assert same_params(net, before)                     # the copy was trained, not net
    bad = B.overfit_small(bad_init(seed), (X, y), lr=LR, seed=seed)
    assert not bad.passed and bad.value > 1.0
    fast = B.overfit_small(mlp(seed=seed), (X, y), lr=100 * LR, seed=seed)
    assert not fast.passed and "rose" in fast.message and "too high" in fast.message


def test_overfit_small_reports_divergence(mnist):
    X, y = mnist.train
    r = B.overfit_small(mlp("kaiming_normal", act="relu"), (X, y), lr=1e3)
    assert not r.passed and r.details["diverged_at"] is not None
    assert f"diverged at step {r.details['diverged_at']}" in r.message


def test_overfit_small_switches_dropout_off_and_is_deterministic(mnist):
    X, y = mnist.train
    net = dlcore.MLP([784, 64, 10], "tanh", dropout=0.5, init="xavier_normal",
                     generator=torch.Generator().manual_seed(0))
    a = B.overfit_small(net, (X, y), lr=LR)
    b = B.overfit_small(net, (X, y), lr=LR)
    assert a.passed and a.value == b.value and net.drop1.p == 0.5


def test_overfit_small_bad_arguments(mnist):
    X, y = mnist.train
    with pytest.raises(ValueError, match="n must be <= 2000"):
        B.overfit_small(mlp(), (X, y), n=5000)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; valid choices are \\['adam', 'sgd'\\]"):
        B.overfit_small(mlp(), (X, y), optimizer="rmsprop")
    with pytest.raises(ValueError, match="lr must be > 0"):
        B.overfit_small(mlp(), (X, y), lr=0)


# --- update ratio -----------------------------------------------------------------------------

def test_update_ratios_by_hand(mnist):
    X, y = mnist.train
    net = mlp()
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    before = B.weight_snapshot(net)
    assert list(before) == ["linear1.weight", "linear2.weight", "linear3.weight"]   # no biases
    F.cross_entropy(net(X[:64]), y[:64]).backward()
    grads = {k: p.grad.clone() for k, p in net.named_parameters()}
    opt.step()
    ratios = B.update_ratios(before, net)
    for k, w in before.items():          # SGD: the update is lr * grad
        assert math.isclose(ratios[k], (LR * grads[k].norm() / w.norm()).item(), rel_tol=1e-4)
    r = B.update_ratio(before, net)
    assert r.value == ratios and "for one step" in r.message


@pytest.mark.parametrize("seed", [0, 1])
def test_update_ratio_good_high_low(mnist, seed):
    X, y = mnist.train
    good = B.track_update_ratios(mlp(seed=seed), (X, y), lr=LR, steps=60, seed=seed).check()
    assert good.passed and all(1e-4 < v < 1e-2 for v in good.value.values())
    high = B.track_update_ratios(mlp(seed=seed), (X, y), lr=100 * LR, steps=60, seed=seed).check()
    assert not high.passed and max(high.value.values()) > 0.1
    assert "Learning rate may be too high" in high.message and "watch the loss" in high.message
    assert "try 3-10x lower" in high.message
    low = B.track_update_ratios(mlp(seed=seed), (X, y), lr=LR / 100, steps=60, seed=seed).check()
    assert not low.passed and "Learning rate too low" in low.message
    assert min(low.value.values()) < 1e-4


def test_update_ratios_tracker_in_a_loop_of_your_own(mnist):
    X, y = mnist.train
    net = mlp()
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    tracker = B.UpdateRatios(net)
    for step in range(5):
        loss = F.cross_entropy(net(X[:64]), y[:64])
        opt.zero_grad()
        loss.backward()
        tracker.step(opt)
    assert tracker.history.shape == (5, 3) and tracker.layers == ["linear1", "linear2", "linear3"]
    assert "median of 5 steps" in tracker.check().message
    # the same numbers as a second identical run: deterministic
    other = B.track_update_ratios(mlp(), (X, y), lr=LR, steps=5)
    assert other.history.shape == (5, 3)
    again = B.track_update_ratios(mlp(), (X, y), lr=LR, steps=5)
    assert (other.history == again.history).all()


def test_update_ratio_reports_divergence():
    X, y = moons(64)
    net = dlcore.MLP([2, 32, 2], "relu", init="kaiming_normal", generator=torch.Generator().manual_seed(0))
    tracker = B.track_update_ratios(net, (X * 1e3, y), lr=1e6, steps=20)
    r = tracker.check()
    assert tracker.diverged_at is not None and not r.passed
    assert f"Diverged at step {tracker.diverged_at}" in r.message


def test_update_ratio_bad_arguments():
    net = mlp()
    with pytest.raises(TypeError, match="before must be an nn.Module or a dict"):
        B.update_ratios([1, 2], net)
    with pytest.raises(ValueError, match="after has no weights named"):
        B.update_ratios({"other.weight": torch.ones(2, 2)}, net)
    with pytest.raises(ValueError, match="band must be \\(low, high\\) with low < high"):
        B.update_ratio(B.weight_snapshot(net), net, band=(1e-2, 1e-4))
    with pytest.raises(TypeError, match="band must be a pair"):
        B.update_ratio(B.weight_snapshot(net), net, band=1e-3)
    with pytest.raises(ValueError, match="no steps recorded yet"):
        B.UpdateRatios(net).check()
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        B.UpdateRatios(net).step("sgd")
    with pytest.raises(ValueError, match="no weights"):
        B.weight_snapshot(nn.Sequential(nn.Identity()))


# --- train / validation gap -------------------------------------------------------------------

def test_train_val_gap_over_and_under_fitting():
    X, y = moons(600, noise=0.25, seed=0)
    train, val = (X[:400], y[:400]), (X[400:], y[400:])
    healthy = dlcore.MLP([2, 32, 2], "tanh", init="xavier_normal", generator=torch.Generator().manual_seed(0))
    dlcore.fit(healthy, train, steps=400, lr=0.3, batch_size=64, progress=False)
    r = B.train_val_gap(healthy, train, val, min_train_acc=0.8)
    assert r.passed and "No sign of overfitting" in r.message
    assert math.isclose(r.value, r.details["train_acc"] - r.details["val_acc"])

    memoriser = dlcore.MLP([2, 256, 256, 2], "tanh", init="xavier_normal",
                           generator=torch.Generator().manual_seed(0))
    few = (X[:12], y[:12])
    dlcore.fit(memoriser, few, steps=300, batch_size=None, optimizer=torch.optim.Adam(memoriser.parameters(), 1e-2),
               progress=False)
    over = B.train_val_gap(memoriser, few, val)
    assert not over.passed and over.value > 0.05 and "Overfitting" in over.message

    untrained = dlcore.MLP([2, 1, 2], "tanh", init="xavier_normal", generator=torch.Generator().manual_seed(0))
    under = B.train_val_gap(untrained, train, val, min_train_acc=0.8)
    assert not under.passed and "Underfitting" in under.message


def test_train_val_gap_bad_arguments():
    X, y = moons(40)
    with pytest.raises(ValueError, match="max_gap must be <= 1"):
        B.train_val_gap(dlcore.MLP([2, 2]), (X, y), (X, y), max_gap=5)
    with pytest.raises(TypeError, match="val must be a pair"):
        B.train_val_gap(dlcore.MLP([2, 2]), (X, y), X)


# --- all at once ------------------------------------------------------------------------------

def test_checklist(mnist):
    X, y = mnist.train
    healthy = B.checklist(mlp(), (X, y), lr=LR)
    assert healthy.passed and "5 of 5 checks passed" in repr(healthy)
    assert [r.name for r in healthy] == ["gradient check", "initial loss", "regularisation",
                                         "overfit small", "update ratio"]
    broken = B.checklist(bad_init(), (X, y), lr=LR)
    assert not broken.passed and not broken["initial loss"].passed and not broken["overfit small"].passed
    grad = broken["gradient check"]
    if grad.message.startswith("inconclusive"):      # saturated units: too few gradients to resolve
        assert not grad.passed and B.Checklist.status(grad) == "INCONCLUSIVE"
        assert "INCONCLUSIVE  gradient check" in repr(broken)
    assert B.Checklist.status(broken["initial loss"]) == "FAIL" and "FAIL" in repr(broken)
    fast = B.checklist(mlp(), (X, y), lr=100 * LR)
    assert not fast["update ratio"].passed and fast["initial loss"].passed
    with pytest.raises(KeyError, match="no check named 'loss'"):
        healthy["loss"]


def test_checklist_bad_arguments(mnist):
    with pytest.raises(ValueError, match="lr must be > 0"):
        B.checklist(mlp(), mnist.train, lr=-1)


def test_checklist_status_marks_an_inconclusive_check():
    from dlcore.babysit import CheckResult
    rows = B.Checklist([CheckResult("gradient check", False, 1.0, (0, 1e-5), "inconclusive, too noisy: ..."),
                        CheckResult("initial loss", False, 9.0, (2, 3), "loss 9, far too high"),
                        CheckResult("update ratio", True, {}, (1e-4, 1e-2), "in the band")])
    assert [B.Checklist.status(r) for r in rows] == ["INCONCLUSIVE", "FAIL", "PASS"]
    assert repr(rows).splitlines()[0].startswith("INCONCLUSIVE  gradient check")
    assert "1 of 3 checks passed" in repr(rows) and not rows.passed
