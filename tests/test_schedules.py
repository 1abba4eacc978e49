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
    "cosine": {"total": 30, "eta_min": 0.01},
    "warmup": {"steps": 12, "start_factor": 0.25},
}
FORMULA = {
    "constant": lambda t: 0.3,
    "step_decay": lambda t: 0.3 * 0.5 ** (t // 10),
    "inverse": lambda t: 0.3 / (1 + 0.1 * t),
    "exponential": lambda t: 0.3 * math.exp(-0.05 * t),
    "cosine": lambda t: 0.01 + 0.29 * (1 + math.cos(math.pi * min(t, 30) / 30)) / 2,
    "warmup": lambda t: 0.3 * (0.25 + 0.75 * min(t, 12) / 12),
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
    lam = lambda o: torch.optim.lr_scheduler.LambdaLR(o, optim.as_lambda(name, base_lr=0.3, **KW[name]))  # noqa: E731
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
    (lambda: optim.as_lambda("linear"), ValueError, r"valid choices are \['constant', 'cosine'"),
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


# ------------------------------------------------------- cosine, warm-up, reduce-on-plateau

def _torch_rates64(make_scheduler, lr=0.3, steps=40):
    """torch's rates in float64 (the lr is a python float in the param group)."""
    return np.array(_torch_rates(make_scheduler, lr=lr, steps=steps), dtype=np.float64)


@pytest.mark.parametrize("eta_min", [0.0, 0.02])
def test_cosine_is_torchs_cosineannealinglr_up_to_total(eta_min):
    L = torch.optim.lr_scheduler
    want = _torch_rates64(lambda o: L.CosineAnnealingLR(o, T_max=30, eta_min=eta_min), steps=31)
    got = S.cosine(np.arange(31), 0.3, total=30, eta_min=eta_min)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-15)
    # past total, ours stays at eta_min (torch's climbs back up: a restart we do not model)
    assert S.cosine(45, 0.3, total=30, eta_min=eta_min) == eta_min


def test_warmup_is_torchs_linearlr():
    L = torch.optim.lr_scheduler
    want = _torch_rates64(lambda o: L.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=15))
    np.testing.assert_allclose(S.warmup(np.arange(40), 0.3, steps=15, start_factor=0.1), want, rtol=1e-6)


@pytest.mark.parametrize("then, kw, make", [
    ("cosine", {"total": 40, "eta_min": 0.003},
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40, eta_min=0.003)),
    ("exponential", {"decay": 0.1},
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=math.exp(-0.1))),
    ("step_decay", {"step_size": 7, "gamma": 0.5},
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
])
def test_warmup_then_is_torchs_sequentiallr(then, kw, make):
    L = torch.optim.lr_scheduler
    want = _torch_rates64(lambda o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.2, total_iters=10), make(o)], milestones=[10]), steps=50)
    f = S.warmup_then(then, steps=10, start_factor=0.2, **kw)
    np.testing.assert_allclose(f(np.arange(50), 0.3), want, rtol=1e-6)
    np.testing.assert_allclose([f(t, 0.3) for t in range(50)], want, rtol=1e-6)   # numbers too
    np.testing.assert_allclose(f(torch.arange(50, dtype=torch.float64), 0.3).numpy(), want, rtol=1e-6)
    # as a LambdaLR through scheduler(): the same rates, and it pickles
    ours = _torch_rates64(lambda o: optim.scheduler(o, f), steps=50)
    np.testing.assert_allclose(ours, want, rtol=1e-6)
    pickle.dumps(optim.as_lambda(f))


# validation sequences with improvements, plateaus, small (below-threshold) gains, rises, a NaN
VAL_SEQUENCES = {
    "plateaus": [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6,
                 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5],
    "noisy": (1.0 + 0.3 * np.sin(np.arange(60) * 1.7) * np.exp(-np.arange(60) / 40)
              - np.arange(60) / 200).tolist(),
    "rises": [1.0, 1.1, 1.2, 1.3, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, float("nan"), 1.7, 1.8, 0.5,
              0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],
}
PLATEAU_SETTINGS = [
    {},
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 0, "factor": 0.5, "min_lr": 0.02},
    {"patience": 2, "threshold": 0.05, "threshold_mode": "abs"},
    {"patience": 1, "threshold": 0.1, "threshold_mode": "rel", "cooldown": 1, "min_lr": 1e-3},
    {"patience": 1, "mode": "max", "factor": 0.3},
    {"patience": 2, "mode": "max", "threshold_mode": "abs", "threshold": 0.01, "cooldown": 3},
]


@pytest.mark.parametrize("kw", PLATEAU_SETTINGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
@pytest.mark.parametrize("seq", sorted(VAL_SEQUENCES))
def test_reduce_on_plateau_is_torchs_reducelronplateau(kw, seq):
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.3)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    ours = S.ReduceOnPlateau(0.3, **kw)
    cuts = 0
    for v in VAL_SEQUENCES[seq]:
        theirs.step(v)
        got = ours.step(v)
        want = opt.param_groups[0]["lr"]
        assert got == pytest.approx(want, rel=1e-6, abs=0), (seq, kw, ours)
        assert ours.bad == theirs.num_bad_epochs and ours.cooldown_left == theirs.cooldown_counter
        cuts += 0 if len(ours.lrs) < 2 or ours.lrs[-1] == ours.lrs[-2] else 1
    assert len(ours.cuts) == cuts and ours.lrs[0] == 0.3 and len(ours.lrs) == len(VAL_SEQUENCES[seq]) + 1


def test_reduce_on_plateau_cuts_where_expected():
    s = S.ReduceOnPlateau(1.0, factor=0.5, patience=2, min_lr=0.2)
    rates = [s.step(v) for v in [3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]]
    # improved at 1 and 2, then 3 bad evaluations (> patience 2) -> cut after evaluation 5, 8, 11
    assert rates == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2]
    assert s.cuts == [5, 8, 11]                      # the third cut stops at min_lr
    assert s.step(torch.tensor(1.0)) == 0.2 and s.best == 1.0   # a 0-d tensor is a number
    assert "ReduceOnPlateau(lr=0.2" in repr(s)


@pytest.mark.parametrize("call, error, match", [
    (lambda: S.cosine(1, total=0), ValueError, "total"),
    (lambda: S.cosine(1), TypeError, "total"),
    (lambda: S.cosine(1, 0.1, total=10, eta_min=0.2), ValueError, "eta_min"),
    (lambda: S.cosine(-1, total=10), ValueError, "t counts steps from 0"),
    (lambda: S.warmup(1, steps=0), ValueError, "steps"),
    (lambda: S.warmup(1, steps=5, start_factor=0.0), ValueError, "start_factor"),
    (lambda: S.warmup(1, steps=5, start_factor=1.5), ValueError, "start_factor"),
    (lambda: S.warmup_then("cos", steps=5), ValueError, "valid choices"),
    (lambda: S.warmup_then("cosine", steps=5), TypeError, "total"),
    (lambda: S.warmup_then("cosine", steps=0, total=5), ValueError, "steps"),
    (lambda: S.warmup_then("cosine", steps=5, total=5, eta0=0.1), TypeError, "eta0"),
    (lambda: S.warmup_then("inverse", steps=5, decay=-1.0), ValueError, "decay"),
    (lambda: S.ReduceOnPlateau(-0.1), ValueError, "eta0"),
    (lambda: S.ReduceOnPlateau(0.1, factor=1.0), ValueError, "factor"),
    (lambda: S.ReduceOnPlateau(0.1, factor=0.0), ValueError, "factor"),
    (lambda: S.ReduceOnPlateau(0.1, patience=-1), ValueError, "patience"),
    (lambda: S.ReduceOnPlateau(0.1, patience=2.5), TypeError, "patience"),
    (lambda: S.ReduceOnPlateau(0.1, threshold=-1e-3), ValueError, "threshold"),
    (lambda: S.ReduceOnPlateau(0.1, threshold_mode="relative"), ValueError, r"\['abs', 'rel'\]"),
    (lambda: S.ReduceOnPlateau(0.1, cooldown=-1), ValueError, "cooldown"),
    (lambda: S.ReduceOnPlateau(0.1, min_lr=-1.0), ValueError, "min_lr"),
    (lambda: S.ReduceOnPlateau(0.1, mode="lowest"), ValueError, r"\['max', 'min'\]"),
    (lambda: S.ReduceOnPlateau(0.1).step("0.5"), TypeError, "val_loss"),
    (lambda: S.ReduceOnPlateau(0.1).step(torch.ones(3)), ValueError, "val_loss"),
])
def test_new_schedules_reject_bad_input_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()
