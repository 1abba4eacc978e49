"""dlcore.train.fit / evaluate on small problems: learning, reproducibility, divergence, checks."""
import math

import pytest
import torch

import dlcore
from dlcore.data import moons, noisy_sine
from dlcore.train import History, evaluate, fit


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def net(sizes=(2, 16, 2), seed=0, **kw):
    return dlcore.MLP(list(sizes), init="xavier_normal", generator=g(seed), **kw)


@pytest.fixture(scope="module")
def moon_data():
    return moons(400, seed=0), moons(200, seed=1)


@pytest.fixture(scope="module")
def trained(moon_data):
    train, val = moon_data
    model = net()
    hist = fit(model, train, steps=300, lr=0.5, val=val, eval_every=50, progress=False)
    return model, hist


def test_fit_lowers_loss(trained):
    _, hist = trained
    assert hist.final_loss() < hist.loss[0] / 2


def test_fit_reaches_accuracy(trained, moon_data):
    model, _ = trained
    loss, acc = evaluate(model, moon_data[1])
    assert acc > 0.9
    assert math.isfinite(loss)


def test_history_lengths(trained):
    _, hist = trained
    assert hist.step == list(range(1, 301))
    assert len(hist.loss) == 300
    assert all(math.isfinite(v) for v in hist.loss)


def test_history_val_every(trained):
    _, hist = trained
    assert hist.val_step == [50, 100, 150, 200, 250, 300]
    assert len(hist.val_loss) == len(hist.val_acc) == 6
    assert hist.val_acc[-1] > 0.9


def test_history_not_diverged(trained):
    _, hist = trained
    assert hist.diverged_at is None and not hist.diverged
    assert hist.seconds > 0


def test_val_includes_last_step(moon_data):
    train, val = moon_data
    hist = fit(net(), train, steps=25, val=val, eval_every=10, progress=False)
    assert hist.val_step == [10, 20, 25]


def test_no_val_no_val_metrics(moon_data):
    hist = fit(net(), moon_data[0], steps=5, progress=False)
    assert hist.val_step == [] and hist.val_loss == [] and hist.val_acc == []


def test_same_seed_same_history(moon_data):
    a = fit(net(seed=1), moon_data[0], steps=30, batch_size=32, seed=5, progress=False)
    b = fit(net(seed=1), moon_data[0], steps=30, batch_size=32, seed=5, progress=False)
    assert a.loss == b.loss


def test_different_seed_different_batches(moon_data):
    a = fit(net(seed=1), moon_data[0], steps=30, batch_size=32, seed=5, progress=False)
    b = fit(net(seed=1), moon_data[0], steps=30, batch_size=32, seed=6, progress=False)
    assert a.loss != b.loss


def test_first_step_loss_is_loss_before_update(moon_data):
    X, y = moon_data[0]
    model = net()
    before = torch.nn.functional.cross_entropy(model(X), y).item()
    hist = fit(model, (X, y), steps=1, batch_size=None, progress=False)
    assert hist.loss[0] == pytest.approx(before, rel=1e-6)


def test_full_batch_is_gradient_descent(moon_data):
    X, y = moon_data[0]
    ours, ref = net(), net()
    fit(ours, (X, y), steps=3, batch_size=None, lr=0.1, progress=False)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(X), y).backward()
        opt.step()
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)


def test_full_batch_lowers_loss(moon_data):
    hist = fit(net(), moon_data[0], steps=100, batch_size=None, lr=0.5, progress=False)
    assert hist.loss[-1] < hist.loss[0]


def test_batch_size_equal_to_n(moon_data):
    hist = fit(net(), moon_data[0], steps=3, batch_size=400, progress=False)
    assert len(hist.loss) == 3


def test_custom_optimizer(moon_data):
    model = net()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    hist = fit(model, moon_data[0], steps=50, optimizer=opt, progress=False)
    assert hist.final_loss() < hist.loss[0]


def test_mse_regression_learns():
    x, y = noisy_sine(64, noise=0.0)
    hist = fit(net((1, 16, 1)), (x, y), steps=200, loss="mse", batch_size=None, lr=0.1, progress=False)
    assert hist.final_loss() < hist.loss[0] / 2


def test_steps_zero_gives_empty_history(moon_data):
    hist = fit(net(), moon_data[0], steps=0, progress=False)
    assert hist.loss == [] and hist.step == []
    with pytest.raises(ValueError, match="empty"):
        hist.final_loss()


def test_divergence_caught():
    x, y = noisy_sine(30)
    hist = fit(net((1, 16, 1)), (x, y), steps=100, loss="mse", batch_size=None, lr=1e6, progress=False)
    assert isinstance(hist.diverged_at, int) and hist.diverged
    assert hist.diverged_at < 100
    assert hist.step[-1] == hist.diverged_at == len(hist.loss)   # training stopped there
    assert not math.isfinite(hist.loss[-1])
    assert all(math.isfinite(v) for v in hist.loss[:-1])


def test_divergence_stops_val_evaluation():
    x, y = noisy_sine(30)
    hist = fit(net((1, 16, 1)), (x, y), steps=100, loss="mse", batch_size=None, lr=1e6,
               val=(x, y), eval_every=1, progress=False)
    assert hist.val_step and hist.val_step[-1] < hist.diverged_at


def test_blowup_stops_a_finite_run():
    # lr 10 on the moons: the loss jumps far above its start but stays finite
    train = moons(200, seed=0)
    plain = fit(net(), train, steps=40, lr=10.0, progress=False)
    assert plain.diverged_at is None
    limit = 2.0 * plain.loss[0]
    first = next(s for s, v in zip(plain.step, plain.loss) if v > limit)
    hist = fit(net(), train, steps=40, lr=10.0, blowup=2.0, progress=False)
    assert hist.diverged_at == first == hist.step[-1]                 # stopped at the blow-up
    assert hist.loss == plain.loss[:first]                            # the same run until then


@pytest.mark.parametrize("bad", [1.0, 0.5, -2])
def test_blowup_must_exceed_one(bad):
    with pytest.raises(ValueError, match="blowup"):
        fit(net(), moons(100), steps=2, blowup=bad, progress=False)


def test_history_final_loss_window():
    h = History(step=[1, 2, 3, 4], loss=[4.0, 3.0, 2.0, 1.0])
    assert h.final_loss(2) == 1.5
    assert h.final_loss() == 2.5


# --------------------------------------------------------------------------------------- evaluate

def test_evaluate_values():
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    X = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    y = torch.tensor([0, 1, 1])
    loss, acc = evaluate(model, (X, y))
    assert acc == pytest.approx(2 / 3)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(X, y).item())


def test_evaluate_mse_accuracy_nan():
    x, y = noisy_sine(10)
    loss, acc = evaluate(net((1, 4, 1)), (x, y), loss="mse")
    assert math.isfinite(loss) and math.isnan(acc)


def test_evaluate_restores_training_mode(moon_data):
    model = net()
    model.train()
    evaluate(model, moon_data[1])
    assert model.training
    model.eval()
    evaluate(model, moon_data[1])
    assert not model.training


# -------------------------------------------------------------------------------------- bad args

X4, Y4 = torch.zeros(100, 2), torch.zeros(100, dtype=torch.int64)  # 100 rows


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"steps": -1}, ValueError, "steps"),
    ({"steps": 1.5}, TypeError, "steps"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 101}, ValueError, "batch_size.*100"),
    ({"batch_size": 2.0}, TypeError, "batch_size"),
    ({"loss": "bogus"}, ValueError, "loss.*cross_entropy"),
    ({"loss": "mse "}, ValueError, "loss"),
    ({"optimizer": "sgd"}, TypeError, "optimizer"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": -0.1}, ValueError, "lr"),
    ({"lr": float("nan")}, ValueError, "lr"),
    ({"eval_every": 0}, ValueError, "eval_every"),
    ({"seed": -1}, ValueError, "seed"),
    ({"val": (X4, Y4[:3])}, ValueError, "val: X has 100 rows but y has 3"),
    ({"val": X4}, TypeError, "val"),
], ids=["steps<0", "steps float", "batch_size=0", "batch_size>n", "batch_size float", "loss",
        "loss space", "optimizer str", "lr=0", "lr<0", "lr nan", "eval_every=0", "seed<0",
        "val rows", "val tensor"])
def test_fit_bad_args(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fit(net(), (X4, Y4), progress=False, **kwargs)


@pytest.mark.parametrize("train, exc, match", [
    ((X4, Y4[:3]), ValueError, r"train: X has 100 rows but y has 3"),
    ((X4,), TypeError, "train"),
    (X4, TypeError, "train"),
    ((X4, [0, 1, 0, 1]), TypeError, r"train\[1\]"),
    ((X4.numpy(), Y4), TypeError, r"train\[0\]"),
    ((torch.tensor(1.0), Y4), ValueError, r"train\[0\]"),
], ids=["rows", "one", "tensor", "list y", "numpy X", "0-d X"])
def test_fit_bad_train(train, exc, match):
    with pytest.raises(exc, match=match):
        fit(net(), train, progress=False)


def test_fit_non_module():
    with pytest.raises(TypeError, match="model"):
        fit(lambda x: x, (X4, Y4), progress=False)


def test_evaluate_bad_args():
    with pytest.raises(ValueError, match="data"):
        evaluate(net(), (X4, Y4[:2]))
    with pytest.raises(ValueError, match="loss"):
        evaluate(net(), (X4, Y4), loss="bogus")

