"""dlcore.optim against torch.optim: same weights, same mini-batches, same iterates (float64)."""
import copy
import inspect
import io

import pytest
import torch
from torch import nn

import dlcore
from dlcore import optim
from dlcore.optim import functional as F

STEPS = 150

# (our class, its kwargs, torch's class, its kwargs)
CASES = [
    (optim.SGD, {"lr": 0.1}, torch.optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.1, "weight_decay": 0.01}, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.01}),
    (optim.Momentum, {"lr": 0.05}, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (optim.Momentum, {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01},
     torch.optim.SGD, {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01}),
    (optim.Nesterov, {"lr": 0.05}, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (optim.Nesterov, {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01},
     torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    (optim.AdaGrad, {"lr": 0.1}, torch.optim.Adagrad, {"lr": 0.1}),
    (optim.AdaGrad, {"lr": 0.1, "weight_decay": 0.01, "lr_decay": 0.01, "initial_accumulator_value": 0.1,
                     "eps": 1e-6},
     torch.optim.Adagrad, {"lr": 0.1, "weight_decay": 0.01, "lr_decay": 0.01,
                           "initial_accumulator_value": 0.1, "eps": 1e-6}),
    (optim.RMSprop, {"lr": 0.01}, torch.optim.RMSprop, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01},
     torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01}),
    (optim.Adam, {"lr": 0.01}, torch.optim.Adam, {"lr": 0.01}),
    (optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01},
     torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01}),
    (optim.AdamW, {"lr": 0.01}, torch.optim.AdamW, {"lr": 0.01}),
    (optim.AdamW, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.5},
     torch.optim.AdamW, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.5}),
    (optim.AdamW, {"lr": 0.005, "weight_decay": 0.0}, torch.optim.AdamW, {"lr": 0.005, "weight_decay": 0.0}),
]
IDS = [f"{c[0].__name__}-{'-'.join(f'{k}={v}' for k, v in c[1].items())}" for c in CASES]


def make_net(seed=0):
    torch.manual_seed(seed)
    return dlcore.MLP([10, 16, 16, 3], "tanh").double()


def batches(n, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(32, 10, generator=gen, dtype=torch.float64),
             torch.randint(0, 3, (32,), generator=gen)) for _ in range(n)]


def train(net, opt, data):
    for x, y in data:
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("ours, kw, theirs, tkw", CASES, ids=IDS)
def test_same_iterates_as_torch(ours, kw, theirs, tkw):
    net_a, data = make_net(), batches(STEPS)
    net_b, start = copy.deepcopy(net_a), copy.deepcopy(net_a)
    opt_a, opt_b = ours(net_a.parameters(), **kw), theirs(net_b.parameters(), **tkw)
    train(net_a, opt_a, data)
    train(net_b, opt_b, data)
    for p, q, p0 in zip(net_a.parameters(), net_b.parameters(), start.parameters()):
        assert rel_err(p, p0) > 1e-3  # they trained: the comparison is not of two untouched nets
        assert rel_err(p, q) < 1e-6
        state, tstate = opt_a.state[p], opt_b.state[q]
        assert state["step"] == STEPS
        for name in tstate.keys() - {"step"}:  # same buffers, under torch's names
            assert rel_err(state[name], tstate[name]) < 1e-6, name


@pytest.mark.parametrize("ours, kw, theirs, tkw", CASES[::2], ids=IDS[::2])
def test_state_dict_round_trip(ours, kw, theirs, tkw):
    data = batches(20)
    net, straight = make_net(), make_net()
    opt = ours(net.parameters(), **kw)
    train(net, opt, data[:10])
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    resumed = ours(net.parameters(), **kw)
    resumed.load_state_dict(torch.load(buffer))
    train(net, resumed, data[10:])
    train(straight, ours(straight.parameters(), **kw), data)
    for p, q in zip(net.parameters(), straight.parameters()):
        assert torch.equal(p, q)


TORCH_OF = {
    optim.SGD: torch.optim.SGD, optim.Momentum: torch.optim.SGD, optim.Nesterov: torch.optim.SGD,
    optim.AdaGrad: torch.optim.Adagrad, optim.RMSprop: torch.optim.RMSprop, optim.Adam: torch.optim.Adam,
    optim.AdamW: torch.optim.AdamW,
}


@pytest.mark.parametrize("cls", list(TORCH_OF), ids=lambda c: c.__name__)
def test_keywords_and_defaults_are_torchs_and_the_rules(cls):
    def defaults(fn):
        args = inspect.signature(fn).parameters.items()
        return {k: a.default for k, a in args if a.default is not a.empty}

    ours, rule = defaults(cls.__init__), defaults(F.RULES[cls.rule])
    rule.update(defaults(F.INITS[cls.rule]))
    rule.pop("out")
    assert ours == rule  # the class and its rule agree
    theirs = defaults(TORCH_OF[cls].__init__)
    for k, v in ours.items():
        if k in theirs and k != "momentum":  # torch's SGD has momentum=0; ours is the point of the class
            assert theirs[k] == v, k
    assert set(ours) - set(theirs) <= {"bias_correction"}


def test_closure_zero_grad_and_parameters_without_gradient():
    net, (x, y) = make_net(), batches(1)[0]
    frozen = net.linear1.weight
    frozen.requires_grad_(False)
    before = frozen.clone()
    twin = copy.deepcopy(net)
    opt, twin_opt = optim.Adam(net.parameters(), lr=0.01), optim.Adam(twin.parameters(), lr=0.01)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, torch.Tensor) and loss.item() > 0
    train(twin, twin_opt, [(x, y)])
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.equal(p, q)
    assert torch.equal(frozen, before) and frozen not in opt.state  # no gradient: no state, no step
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert opt.step() is None


# ------------------------------------------------------------------------ bad hyper-parameters

ALL = [optim.SGD, optim.Momentum, optim.Nesterov, optim.AdaGrad, optim.RMSprop, optim.Adam]
BAD = (
    [(cls, {"lr": -1.0}, "lr") for cls in ALL]
    + [(cls, {"lr": float("nan")}, "lr") for cls in ALL]
    + [(cls, {"weight_decay": -0.1}, "weight_decay") for cls in ALL]
    + [(cls, {"momentum": m}, "momentum")
       for cls in (optim.Momentum, optim.Nesterov) for m in (-0.1, 1.0, 1.5)]
    + [(optim.Adam, {"betas": b}, name) for b, name in
       [((1.0, 0.999), r"betas\[0\]"), ((-0.1, 0.999), r"betas\[0\]"), ((0.9, 1.0), r"betas\[1\]"),
        ((0.9, -1e-3), r"betas\[1\]")]]
    + [(cls, {"eps": -1e-8}, "eps") for cls in (optim.AdaGrad, optim.RMSprop, optim.Adam)]
    + [(optim.RMSprop, {"alpha": a}, "alpha") for a in (-0.1, 1.0, 2.0)]
    + [(optim.AdaGrad, {"lr_decay": -0.1}, "lr_decay"),
       (optim.AdaGrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value")]
)


@pytest.mark.parametrize("cls, kw, name", BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_bad_hyper_parameter_is_named(cls, kw, name):
    with pytest.raises(ValueError, match=rf"\b{name}="):
        cls(make_net().parameters(), **kw)


def test_bad_types_and_later_groups_are_rejected():
    params = list(make_net().parameters())
    with pytest.raises(TypeError, match="betas must be a pair"):
        optim.Adam(params, betas=0.9)
    with pytest.raises(TypeError, match="bias_correction"):
        optim.Adam(params, bias_correction="no")
    with pytest.raises(TypeError, match="lr must be a real number"):
        optim.SGD(params, lr="0.1")
    opt = optim.SGD(params[:2], lr=0.1)
    with pytest.raises(ValueError, match=r"\blr="):
        opt.add_param_group({"params": params[2:], "lr": -0.5})
    with pytest.raises(ValueError, match=r"unknown name 'lamb'; valid choices are \['adagrad'"):
        F.init_state("lamb", params[0])


def test_validate_checks_tensor_hyper_parameters_entry_by_entry():
    good = torch.tensor([[0.1], [0.9]])
    assert F.validate(momentum=good)["momentum"] is good
    with pytest.raises(ValueError, match=r"momentum=1\.0"):
        F.validate(momentum=torch.tensor([[0.5], [1.0]]))
    with pytest.raises(TypeError, match="unknown hyper-parameter 'beta1'"):
        F.validate(beta1=0.9)


# ------------------------------------------------------------------- the functional rules

def rosenbrock_grad(theta):
    """Gradient of (1 - x)^2 + 5 (y - x^2)^2 for theta = (..., 2): curved, not a quadratic."""
    x, y = theta[..., 0], theta[..., 1]
    return torch.stack([-2 * (1 - x) - 20 * x * (y - x**2), 10 * (y - x**2)], dim=-1)


def col(*values):
    return torch.tensor(values, dtype=torch.float64)[:, None]  # (B, 1): one value per run


B = 4
PER_RUN = {  # rule: (hyper-parameters, one per run, as (B, 1) tensors; init keywords)
    "sgd": ({"lr": col(0.01, 0.005, 0.002, 0.001), "weight_decay": col(0, 0.1, 0.0, 0.5)}, {}),
    "momentum": ({"lr": col(0.01, 0.005, 0.002, 0.001), "momentum": col(0.0, 0.5, 0.9, 0.99),
                  "weight_decay": col(0, 0.1, 0.0, 0.5)}, {}),
    "nesterov": ({"lr": col(0.01, 0.005, 0.002, 0.001), "momentum": col(0.0, 0.5, 0.9, 0.99),
                  "weight_decay": col(0, 0.1, 0.0, 0.5)}, {}),
    "adagrad": ({"lr": col(0.1, 0.5, 0.05, 1.0), "lr_decay": col(0, 0.01, 0.1, 0),
                 "weight_decay": col(0, 0.1, 0, 0), "eps": col(1e-10, 1e-6, 1e-3, 0.1)},
                {"initial_accumulator_value": col(0, 0.1, 1.0, 0)}),
    "rmsprop": ({"lr": col(0.01, 0.05, 0.001, 0.02), "alpha": col(0.99, 0.9, 0.5, 0.0),
                 "eps": col(1e-8, 1e-6, 1e-3, 0.1), "weight_decay": col(0, 0.1, 0, 0)}, {}),
    "adam": ({"lr": col(0.01, 0.05, 0.001, 0.02),
              "betas": (col(0.9, 0.0, 0.5, 0.99), col(0.999, 0.9, 0.5, 0.0)),
              "eps": col(1e-8, 1e-6, 1e-3, 0.1), "weight_decay": col(0, 0.1, 0, 0)}, {}),
    "adamw": ({"lr": col(0.01, 0.05, 0.001, 0.02),
               "betas": (col(0.9, 0.0, 0.5, 0.99), col(0.999, 0.9, 0.5, 0.0)),
               "eps": col(1e-8, 1e-6, 1e-3, 0.1), "weight_decay": col(0, 0.1, 1.0, 0.01)}, {}),
}


def run_i(hyper, i):
    """Run i's hyper-parameters as python floats (betas a pair of them)."""
    def pick(v):
        if isinstance(v, tuple):
            return tuple(pick(u) for u in v)
        return v[i, 0].item() if torch.is_tensor(v) else v
    return {k: pick(v) for k, v in hyper.items()}


@pytest.mark.parametrize("name, extra", [(n, {}) for n in sorted(PER_RUN)]
                         + [("adam", {"bias_correction": False})])
def test_one_batched_call_equals_separate_runs(name, extra):
    hyper, init_kw = PER_RUN[name]
    hyper = {**hyper, **extra}
    start = torch.tensor([[-1.0, 1.0], [0.5, -0.5], [1.2, 1.0], [0.0, 0.0]], dtype=torch.float64)
    theta, state = start, F.init_state(name, start, **init_kw)
    for _ in range(40):
        theta, state = F.RULES[name](theta, rosenbrock_grad(theta), state, **hyper)
    assert theta.shape == (B, 2) and torch.isfinite(theta).all()
    for i in range(B):
        one, one_state = start[i], F.init_state(name, start[i], **run_i(init_kw, i))
        for _ in range(40):
            one, one_state = F.RULES[name](one, rosenbrock_grad(one), one_state, **run_i(hyper, i))
        torch.testing.assert_close(theta[i], one, rtol=1e-10, atol=1e-12)
        for key in state.keys() - {"step"}:
            torch.testing.assert_close(state[key][i], one_state[key], rtol=1e-10, atol=1e-12)
        assert state["step"] == one_state["step"] == 40


@pytest.mark.parametrize("name", sorted(F.RULES))
def test_rules_are_pure_unless_given_out(name):
    gen = torch.Generator().manual_seed(0)
    param, grad = torch.randn(3, 2, generator=gen), torch.randn(3, 2, generator=gen)
    state = F.init_state(name, param)
    param, state = F.RULES[name](param, grad, state)  # a state that is not all zeros
    kept = copy.deepcopy((param, grad, state))
    new, new_state = F.RULES[name](param, grad, state, weight_decay=0.1)
    assert torch.equal(param, kept[0]) and torch.equal(grad, kept[1]) and state.keys() == kept[2].keys()
    for k, v in state.items():
        assert torch.equal(v, kept[2][k]) if torch.is_tensor(v) else v == kept[2][k], k
    assert new is not param and not torch.equal(new, param) and new_state["step"] == state["step"] + 1
    out = torch.empty_like(param)
    assert F.RULES[name](param, grad, state, weight_decay=0.1, out=out)[0] is out
    assert torch.equal(out, new)


def test_momentum_is_the_lectures_velocity_form():
    lr, gamma = 0.002, 0.9
    theta, u = torch.tensor([-1.0, 1.5], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    ours, state = theta, F.init_state("momentum", theta)
    for _ in range(60):
        u = gamma * u - lr * rosenbrock_grad(theta)
        theta = theta + u
        ours, state = F.momentum(ours, rosenbrock_grad(ours), state, lr=lr, momentum=gamma)
        torch.testing.assert_close(ours, theta, rtol=1e-12, atol=1e-12)


def test_nesterov_iterates_are_the_lectures_look_ahead_points():
    lr, gamma = 0.002, 0.9
    theta, u = torch.tensor([-1.0, 1.5], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    ours, state = theta, F.init_state("nesterov", theta)
    for _ in range(60):
        u = gamma * u - lr * rosenbrock_grad(theta + gamma * u)  # gradient at the look-ahead point
        theta = theta + u
        ours, state = F.nesterov(ours, rosenbrock_grad(ours), state, lr=lr, momentum=gamma)
        torch.testing.assert_close(ours, theta + gamma * u, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------- Adam's bias correction

def test_adam_without_bias_correction_differs_from_the_first_step():
    net, (x, y) = make_net(), batches(1)[0]
    twin = copy.deepcopy(net)
    train(net, optim.Adam(net.parameters(), lr=0.01), [(x, y)])
    train(twin, optim.Adam(twin.parameters(), lr=0.01, bias_correction=False), [(x, y)])
    assert all(rel_err(p, q) > 1e-4 for p, q in zip(net.parameters(), twin.parameters()))


def test_adam_bias_is_largest_at_step_one_and_the_step_ratio_matches_the_docstring():
    """On a steady gradient g: the moments' bias is worst at t = 1; the corrected step is lr sign(g)."""
    b1, b2, lr, steps = 0.9, 0.999, 0.01, 3000
    g = torch.tensor([3.0, -0.02], dtype=torch.float64)
    p, q = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    sp, sq = F.init_adam(p), F.init_adam(q)
    gaps, ratios = [], []
    for t in range(1, steps + 1):
        new_p, sp = F.adam(p, g, sp, lr=lr, eps=0.0)
        new_q, sq = F.adam(q, g, sq, lr=lr, eps=0.0, bias_correction=False)
        torch.testing.assert_close(new_p - p, -lr * g.sign(), rtol=1e-9, atol=0)
        torch.testing.assert_close(sp["exp_avg"] / (1 - b1**t), g, rtol=1e-9, atol=0)  # s_hat = g
        gaps.append(((sp["exp_avg"] - g).abs() / g.abs()).max().item())  # = b1^t
        ratios.append(((new_q - q) / (new_p - p)).mean().item())
        p, q = new_p, new_q
    assert gaps[0] == max(gaps) and gaps[0] == pytest.approx(b1)
    t = torch.arange(1, steps + 1, dtype=torch.float64)
    want = (1 - b1**t) / (1 - b2**t).sqrt()
    torch.testing.assert_close(torch.tensor(ratios, dtype=torch.float64), want)
    assert ratios[0] == pytest.approx(3.162, abs=1e-3)
    assert max(ratios) == ratios[11] == pytest.approx(6.57, abs=0.01)  # peaks at t = 12
    assert ratios[-1] == pytest.approx(1.026, abs=1e-3)


# ------------------------------------------------------------- AdamW: decoupled weight decay

def test_adamw_equals_torch_over_lr_decay_and_betas():
    """Float64, 150 steps, several settings at once: within 1e-6 relative of torch.optim.AdamW."""
    data = batches(STEPS)
    for lr, wd, betas in [(1e-3, 1e-2, (0.9, 0.999)), (0.05, 0.1, (0.5, 0.9)), (0.01, 2.0, (0.0, 0.99))]:
        net_a = make_net(3)
        net_b = copy.deepcopy(net_a)
        train(net_a, optim.AdamW(net_a.parameters(), lr=lr, betas=betas, weight_decay=wd), data)
        train(net_b, torch.optim.AdamW(net_b.parameters(), lr=lr, betas=betas, weight_decay=wd), data)
        for p, q in zip(net_a.parameters(), net_b.parameters()):
            assert rel_err(p, q) < 1e-6, (lr, wd, betas)


def test_adamw_is_adam_without_decay_and_differs_from_adam_l2_with_it():
    data = batches(30)
    nets = [make_net(4) for _ in range(3)]
    train(nets[0], optim.AdamW(nets[0].parameters(), lr=0.01, weight_decay=0.0), data)
    train(nets[1], optim.Adam(nets[1].parameters(), lr=0.01), data)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q)
    decoupled, coupled = make_net(4), make_net(4)
    train(decoupled, optim.AdamW(decoupled.parameters(), lr=0.01, weight_decay=0.1), data)
    train(coupled, optim.Adam(coupled.parameters(), lr=0.01, weight_decay=0.1), data)
    assert all(rel_err(p, q) > 1e-3 for p, q in zip(decoupled.parameters(), coupled.parameters()))


def test_adamw_shrinks_a_weight_with_zero_gradient_by_one_minus_lr_lambda_per_step():
    w = torch.tensor([2.0, -1.0], dtype=torch.float64)
    state = F.init_state("adamw", w)
    for _ in range(10):
        w, state = F.adamw(w, torch.zeros_like(w), state, lr=0.1, weight_decay=0.5)
    torch.testing.assert_close(w, torch.tensor([2.0, -1.0], dtype=torch.float64) * 0.95**10)
    with pytest.raises(ValueError, match=r"weight_decay=-1"):
        optim.AdamW([torch.zeros(2, requires_grad=True)], weight_decay=-1)
