"""Learning-rate schedules: formulas, torch's own schedulers, LambdaLR, Robbins-Monro, bad input."""
import math
import pickle

import numpy as np
import pytest
import torch

from dlcore import optim
from dlcore.optim import schedules as S

KW = {  # each schedule with settings that make every formula matter
    "constant": {},
    "step_decay": {"step_size": 10, "gamma": 0.5},
    "inverse": {"decay": 0.1},
    "exponential": {"decay": 0.05},
}
FORMULA = {
    "constant": lambda t: 0.3,
    "step_decay": lambda t: 0.3 * 0.5 ** (t // 10),
    "inverse": lambda t: 0.3 / (1 + 0.1 * t),
    "exponential": lambda t: 0.3 * math.exp(-0.05 * t),
}
STEPS = [0, 1, 9, 10, 11, 25, 100, 1234]


@pytest.mark.parametrize("name", sorted(KW))
def test_values_against_the_formula_for_numbers_arrays_and_tensors(name):
    fn, want = S.SCHEDULES[name], [FORMULA[name](t) for t in STEPS]
    for t, w in zip(STEPS, want):
        got = fn(t, 0.3, **KW[name])
        assert isinstance(got, float) and got == pytest.approx(w, rel=1e-12)
    got = fn(np.array(STEPS), 0.3, **KW[name])
    assert isinstance(got, np.ndarray) and got.shape == (len(STEPS),)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    for dtype in (torch.int64, torch.float64):
        got = fn(torch.tensor(STEPS, dtype=dtype), 0.3, **KW[name])
        assert isinstance(got, torch.Tensor) and got.is_floating_point()
        np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-6)


def test_chosen_values():
    got = S.step_decay(np.array([0, 9, 10, 25]), 0.5, step_size=10)
    assert got == pytest.approx([0.5, 0.5, 0.05, 0.005])
    assert S.inverse(99, 2.0, decay=0.01) == pytest.approx(2.0 / 1.99)
    assert S.exponential(100, decay=0.01) == pytest.approx(math.exp(-1))
    assert S.constant(np.arange(3), 0.1).tolist() == [0.1, 0.1, 0.1]


def _torch_rates(make_scheduler, lr=0.3, steps=40):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched, rates = make_scheduler(opt), []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def test_step_decay_and_exponential_are_torchs_steplr_and_exponentiallr():
    t = np.arange(40)
    step = _torch_rates(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10, gamma=0.5))
    np.testing.assert_allclose(S.step_decay(t, 0.3, step_size=10, gamma=0.5), step, rtol=1e-12)
    expo = _torch_rates(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=math.exp(-0.05)))
    np.testing.assert_allclose(S.exponential(t, 0.3, decay=0.05), expo, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(KW))
def test_lambdalr_gives_the_plain_functions_rates(name):
    want = S.SCHEDULES[name](np.arange(40), 0.3, **KW[name])
    ours = _torch_rates(lambda o: optim.scheduler(o, name, **KW[name]))
    np.testing.assert_allclose(ours, want, rtol=1e-12)
    lam = lambda o: torch.optim.lr_scheduler.LambdaLR(o, optim.as_lambda(name, **KW[name]))  # noqa: E731
    np.testing.assert_allclose(_torch_rates(lam), want, rtol=1e-12)


def test_a_dlcore_optimizer_takes_the_scheduled_steps():
    """With SGD on f(w) = w (gradient 1), step t moves w by exactly -eta_t."""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    sched = optim.scheduler(opt, "inverse", decay=0.2)
    for t in range(30):
        before = w.item()
        opt.zero_grad()
        w.sum().backward()
        opt.step()
        sched.step()
        assert before - w.item() == pytest.approx(S.inverse(t, 0.5, decay=0.2), rel=1e-12)
    state = pickle.loads(pickle.dumps(sched.state_dict()))  # a partial, not a lambda: it pickles
    assert state["last_epoch"] == 30


# -------------------------------------------------------------------------- Robbins-Monro

def test_robbins_monro_classifies_the_schedules():
    const = S.robbins_monro("constant", eta0=0.1)
    assert const.sum_diverges and not const.sum_sq_converges and not const.satisfied
    inv = S.robbins_monro("inverse", decay=0.01)
    assert inv.sum_diverges and inv.sum_sq_converges and inv.satisfied
    expo = S.robbins_monro("exponential", decay=0.01)
    assert not expo.sum_diverges and expo.sum_sq_converges and not expo.satisfied
    step = S.robbins_monro("step_decay", step_size=1000, gamma=0.5)
    assert not step.sum_diverges and step.sum_sq_converges


def test_robbins_monro_partial_sums():
    r = S.robbins_monro("constant", horizon=10**4, eta0=0.5)
    assert r.steps.tolist() == [10, 100, 1000, 10**4]
    np.testing.assert_allclose(r.sum_eta, 0.5 * r.steps)
    np.testing.assert_allclose(r.sum_eta_sq, 0.25 * r.steps)
    expo = S.robbins_monro("exponential", horizon=10**5, decay=0.01)
    assert expo.sum_eta[-1] == pytest.approx(1 / (1 - math.exp(-0.01)))  # a geometric series
    assert S.robbins_monro("inverse", horizon=2500, decay=1.0).steps.tolist() == [10, 100, 1000, 2500]


def test_robbins_monro_takes_any_function_of_the_steps():
    assert S.robbins_monro(lambda t: 1 / np.sqrt(1 + t)).satisfied is False   # squares: 1/t diverges
    assert S.robbins_monro(lambda t: 1 / (1 + t) ** 0.75).satisfied          # squares: t^-1.5
    assert S.robbins_monro(lambda t: 1 / (1 + t)).satisfied
    r = S.robbins_monro(lambda t: 1 / (1 + t) ** 2)
    assert not r.sum_diverges and r.sum_sq_converges


def test_robbins_monro_only_suggests():
    """The documented limits: t^-1.1 converges but passes for divergent over 10^6 steps, and a
    slow exponential passes for divergent until the horizon is past about 15 / decay."""
    assert S.robbins_monro(lambda t: 1 / (1 + t) ** 1.1).sum_diverges
    assert S.robbins_monro("exponential", horizon=10**6, decay=1e-5).sum_diverges
    assert not S.robbins_monro("exponential", horizon=2 * 10**6, decay=1e-5).sum_diverges


# ----------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("call, error, match", [
    (lambda: S.constant(1, -0.1), ValueError, "eta0"),
    (lambda: S.inverse(1, decay=-0.1), ValueError, "decay"),
    (lambda: S.exponential(1, -1.0, decay=0.1), ValueError, "eta0"),
    (lambda: S.exponential(1, decay=float("inf")), ValueError, "decay"),
    (lambda: S.step_decay(1, step_size=0), ValueError, "step_size"),
    (lambda: S.step_decay(1, step_size=2.5), TypeError, "step_size"),
    (lambda: S.step_decay(1, step_size=10, gamma=0.0), ValueError, "gamma"),
    (lambda: S.step_decay(1, step_size=10, gamma=1.5), ValueError, "gamma"),
    (lambda: S.inverse(-1, decay=0.1), ValueError, "t counts steps from 0"),
    (lambda: S.inverse(np.array([0, -3]), decay=0.1), ValueError, "t counts steps from 0"),
    (lambda: S.inverse(torch.tensor([-1.0]), decay=0.1), ValueError, "t counts steps from 0"),
    (lambda: S.constant(True), TypeError, "t must be"),
    (lambda: S.constant("5"), TypeError, "t must be"),
    (lambda: S.inverse(1), TypeError, "decay"),
    (lambda: optim.as_lambda("cosine"), ValueError, r"valid choices are \['constant', 'exponential'"),
    (lambda: optim.as_lambda("inverse", decay=-1.0), ValueError, "decay"),
    (lambda: optim.as_lambda("inverse", decay=0.1, eta0=0.5), TypeError, "eta0"),
    (lambda: optim.scheduler("not an optimizer", "constant"), TypeError, "optimizer"),
    (lambda: S.robbins_monro("linear"), ValueError, "valid choices"),
    (lambda: S.robbins_monro("constant", horizon=50), ValueError, "horizon"),
    (lambda: S.robbins_monro(lambda t: -np.ones_like(t, dtype=float)), ValueError, ">= 0"),
    (lambda: S.robbins_monro(lambda t: 1 / (1 + t), eta0=2.0), TypeError, "eta0"),
])
def test_bad_inputs_are_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()
