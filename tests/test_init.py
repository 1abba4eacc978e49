"""dlcore.init against torch.nn.init: same generator, same numbers; variances against the formulas."""
import math

import pytest
import torch
from torch import nn

import dlcore
from dlcore import init as D


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def blank(shape, dtype=torch.float32):
    return torch.full(shape, float("nan"), dtype=dtype)  # anything left unfilled shows up


# ------------------------------------------------------------------- exact match with torch

DETERMINISTIC = {"zeros_", "constant_"}

CASES = [
    ("zeros_", {}),
    ("constant_", {"val": 0.3}),
    ("normal_", {}),
    ("normal_", {"mean": 1.0, "std": 0.02}),
    ("uniform_", {}),
    ("uniform_", {"a": -2.0, "b": 3.0}),
    ("xavier_uniform_", {}),
    ("xavier_uniform_", {"gain": 4.0}),
    ("xavier_uniform_", {"gain": 5.0 / 3.0}),
    ("xavier_normal_", {}),
    ("xavier_normal_", {"gain": 2.0}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": 0.2}),
    ("kaiming_uniform_", {"nonlinearity": "relu"}),
    ("kaiming_uniform_", {"nonlinearity": "tanh"}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"a": 0.2}),
    ("kaiming_normal_", {"nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "tanh"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
]
SHAPES = [(10, 20), (100, 784), (16, 3, 5, 5)]


def _fill_both(name, kwargs, shape, dtype=torch.float32):
    ours, theirs = blank(shape, dtype), blank(shape, dtype)
    if name in DETERMINISTIC:
        getattr(D, name)(ours, **kwargs)
        getattr(nn.init, name)(theirs, **kwargs)
    else:
        getattr(D, name)(ours, generator=g(0), **kwargs)
        getattr(nn.init, name)(theirs, generator=g(0), **kwargs)
    return ours, theirs


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name, kwargs", CASES, ids=lambda x: x if isinstance(x, str) else str(x))
def test_matches_torch_exactly(name, kwargs, shape):
    ours, theirs = _fill_both(name, kwargs, shape)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("name, kwargs", [c for c in CASES if c[0] != "xavier_uniform_"],
                         ids=lambda x: x if isinstance(x, str) else str(x))
def test_matches_torch_exactly_float64(name, kwargs):
    ours, theirs = _fill_both(name, kwargs, (10, 20), torch.float64)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("shape", [(10, 20), (4, 6), (8, 16)], ids=str)
def test_xavier_uniform_matches_torch_float64(shape):
    ours, theirs = _fill_both("xavier_uniform_", {}, shape, torch.float64)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("name, kwargs", CASES[:1] + CASES[2:3] + CASES[6:7] + CASES[-1:],
                         ids=lambda x: x if isinstance(x, str) else str(x))
def test_fills_in_place_and_returns_tensor(name, kwargs):
    w = blank((4, 6))
    extra = {} if name in DETERMINISTIC else {"generator": g()}
    assert getattr(D, name)(w, **kwargs, **extra) is w
    assert torch.isfinite(w).all()


def test_fills_parameter_without_recording_graph():
    w = nn.Parameter(torch.empty(8, 4))
    D.kaiming_normal_(w, generator=g())
    assert w.grad_fn is None and w.requires_grad


def test_lecun_normal_is_normal_with_std_one_over_sqrt_fan_in():
    ours, theirs = blank((30, 50)), blank((30, 50))
    D.lecun_normal_(ours, generator=g())
    nn.init.normal_(theirs, 0.0, 1 / math.sqrt(50), generator=g())
    assert torch.equal(ours, theirs)


def test_same_generator_seed_repeats():
    assert torch.equal(D.xavier_normal_(blank((5, 7)), generator=g(3)),
                       D.xavier_normal_(blank((5, 7)), generator=g(3)))


def test_different_generator_seeds_differ():
    assert not torch.equal(D.xavier_normal_(blank((5, 7)), generator=g(3)),
                           D.xavier_normal_(blank((5, 7)), generator=g(4)))


# ------------------------------------------------------------------------------ calculate_gain

@pytest.mark.parametrize("name", D._NONLINEARITIES)
def test_calculate_gain_matches_torch(name):
    assert D.calculate_gain(name) == nn.init.calculate_gain(name)


@pytest.mark.parametrize("param", [None, 0, 0.2, 1, 5.0])
def test_calculate_gain_leaky_relu_param(param):
    assert D.calculate_gain("leaky_relu", param) == nn.init.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize("name, expected", [
    ("linear", 1.0), ("sigmoid", 1.0), ("tanh", 5 / 3), ("relu", math.sqrt(2)), ("selu", 0.75),
])
def test_calculate_gain_values(name, expected):
    assert D.calculate_gain(name) == pytest.approx(expected)


def test_calculate_gain_exported_at_top_level():
    assert dlcore.calculate_gain is D.calculate_gain


def test_calculate_gain_bad_name():
    with pytest.raises(ValueError, match=r"nonlinearity.*'relu'"):
        D.calculate_gain("bogus")


def test_calculate_gain_bad_param():
    with pytest.raises(TypeError, match="param"):
        D.calculate_gain("leaky_relu", "a")


def test_calculate_gain_non_string():
    with pytest.raises(TypeError, match="nonlinearity"):
        D.calculate_gain(None)


# ----------------------------------------------------------------- variances against the formulas

FAN_OUT, FAN_IN = 500, 2000  # a (fan_out, fan_in) weight with 10^6 entries; fan_in != fan_out
M_PLUS_N = FAN_IN + FAN_OUT

VARIANCES = [
    ("lecun_normal_", {}, 1 / FAN_IN),
    ("xavier_uniform_", {}, 2 / M_PLUS_N),
    ("xavier_uniform_", {"gain": 4.0}, 16 * 2 / M_PLUS_N),
    ("xavier_normal_", {}, 2 / M_PLUS_N),
    ("xavier_normal_", {"gain": 5 / 3}, (5 / 3) ** 2 * 2 / M_PLUS_N),
    ("kaiming_normal_", {"nonlinearity": "relu"}, 2 / FAN_IN),
    ("kaiming_normal_", {}, 2 / (1 + 0.01**2) / FAN_IN),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, 2 / FAN_OUT),
    ("kaiming_uniform_", {"nonlinearity": "relu"}, 2 / FAN_IN),
    ("normal_", {"std": 0.1}, 0.01),
    ("uniform_", {"a": -1.0, "b": 1.0}, 1 / 3),
]


@pytest.mark.parametrize("name, kwargs, var", VARIANCES,
                         ids=lambda x: x if isinstance(x, str) else str(x) if isinstance(x, dict) else "")
def test_sample_variance_matches_formula(name, kwargs, var):
    w = getattr(D, name)(torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64), generator=g(), **kwargs)
    assert w.var().item() == pytest.approx(var, rel=0.02)
    assert abs(w.mean().item()) < 6 * math.sqrt(var / w.numel())


def test_xavier_uniform_bound():
    w = D.xavier_uniform_(torch.empty(FAN_OUT, FAN_IN), gain=2.0, generator=g())
    bound = 2.0 * math.sqrt(6 / M_PLUS_N)
    assert w.abs().max().item() <= bound
    assert w.abs().max().item() > 0.99 * bound


# ------------------------------------------------------------------------------------------ fans

@pytest.mark.parametrize("shape, fans", [
    ((7, 3), (3, 7)),
    ((8, 4, 3), (12, 24)),
    ((16, 3, 5, 5), (75, 400)),
    ((4, 2, 3, 3, 3), (54, 108)),
], ids=str)
def test_fans(shape, fans):
    w = torch.empty(shape)
    assert D._calculate_fan_in_and_fan_out(w) == fans == nn.init._calculate_fan_in_and_fan_out(w)


def test_fans_of_conv2d_weight():
    conv = nn.Conv2d(3, 16, kernel_size=5)
    assert D._calculate_fan_in_and_fan_out(conv.weight) == (3 * 25, 16 * 25)


# -------------------------------------------------------------------------------------- init_model

SCHEME_KWARGS = {"constant": {"val": 0.5}}


@pytest.mark.parametrize("scheme", sorted(D.SCHEMES))
def test_init_model_every_scheme(scheme):
    model = dlcore.MLP([6, 5, 4, 3])
    before = [l.weight.clone() for l in model.linears]
    assert D.init_model(model, scheme, generator=g(), **SCHEME_KWARGS.get(scheme, {})) is model
    for layer, old in zip(model.linears, before):
        assert torch.isfinite(layer.weight).all()
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
        if scheme == "zeros":
            assert torch.equal(layer.weight, torch.zeros_like(layer.weight))
        elif scheme == "constant":
            assert torch.equal(layer.weight, torch.full_like(layer.weight, 0.5))
        else:
            assert not torch.equal(layer.weight, old)


@pytest.mark.parametrize("alias, name", [("he_normal", "kaiming_normal"), ("he_uniform", "kaiming_uniform")])
def test_he_is_kaiming(alias, name):
    assert D.SCHEMES[alias] is D.SCHEMES[name]


def test_init_model_bias_value():
    model = D.init_model(dlcore.MLP([3, 4, 2]), "xavier_normal", bias=0.25, generator=g())
    for layer in model.linears:
        assert torch.equal(layer.bias, torch.full_like(layer.bias, 0.25))


def test_init_model_bias_none_leaves_biases():
    model = dlcore.MLP([3, 4, 2])
    before = [l.bias.clone() for l in model.linears]
    D.init_model(model, "xavier_normal", bias=None, generator=g())
    for layer, old in zip(model.linears, before):
        assert torch.equal(layer.bias, old)


def test_init_model_with_generator_is_reproducible():
    a = D.init_model(dlcore.MLP([6, 5, 4, 3]), "kaiming_normal", generator=g(1))
    b = D.init_model(dlcore.MLP([6, 5, 4, 3]), "kaiming_normal", generator=g(1))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_init_model_fills_layers_in_order_like_torch():
    model = D.init_model(dlcore.MLP([6, 5, 4, 3]), "kaiming_uniform", nonlinearity="relu", generator=g(2))
    gen = g(2)
    for layer in model.linears:
        expected = nn.init.kaiming_uniform_(torch.empty_like(layer.weight), nonlinearity="relu", generator=gen)
        assert torch.equal(layer.weight, expected)


def test_init_model_passes_kwargs():
    model = D.init_model(dlcore.MLP([3, 4, 2]), "normal", std=0.0, mean=0.7)
    for layer in model.linears:
        assert torch.equal(layer.weight, torch.full_like(layer.weight, 0.7))


def test_init_model_on_any_module_with_linears():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    conv_before = model[0].weight.clone()
    D.init_model(model, "zeros")
    assert torch.equal(model[2].weight, torch.zeros(2, 8))
    assert torch.equal(model[0].weight, conv_before)  # only Linear layers are touched


# ------------------------------------------------------------------------------------ bad inputs

def test_init_model_unknown_scheme():
    with pytest.raises(ValueError, match="scheme") as err:
        D.init_model(dlcore.MLP([3, 2]), "glorot")
    assert "xavier_uniform" in str(err.value) and "kaiming_normal" in str(err.value)


def test_init_model_non_string_scheme():
    with pytest.raises(TypeError, match="scheme"):
        D.init_model(dlcore.MLP([3, 2]), D.xavier_uniform_)


@pytest.mark.parametrize("model", [None, "mlp", torch.empty(3, 2)], ids=["None", "str", "tensor"])
def test_init_model_non_module(model):
    with pytest.raises(TypeError, match="model"):
        D.init_model(model, "xavier_uniform")


def test_init_model_no_linear():
    with pytest.raises(ValueError, match="nn.Linear"):
        D.init_model(nn.Sequential(nn.Tanh()), "xavier_uniform")


@pytest.mark.parametrize("scheme, kwargs", [
    ("normal", {"gain": 2.0}),
    ("xavier_uniform", {"std": 0.1}),
    ("kaiming_normal", {"val": 1.0}),
    ("constant", {}),                   # val is required
])
def test_init_model_wrong_kwarg_names_scheme(scheme, kwargs):
    with pytest.raises(TypeError, match=f"scheme '{scheme}'"):
        D.init_model(dlcore.MLP([3, 2]), scheme, **kwargs)


def test_init_model_bad_bias():
    with pytest.raises(TypeError, match="bias"):
        D.init_model(dlcore.MLP([3, 2]), "zeros", bias="0")


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_", "lecun_normal_"])
def test_one_dimensional_tensor(name):
    with pytest.raises(ValueError, match=r"tensor.*2 dimensions.*shape \(5,\)"):
        getattr(D, name)(torch.empty(5))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: D.normal_(torch.empty(3), std=-1.0), ValueError, "std"),
    (lambda: D.normal_(torch.empty(3), mean=float("nan")), ValueError, "mean"),
    (lambda: D.normal_(torch.empty(3), std="1"), TypeError, "std"),
    (lambda: D.uniform_(torch.empty(3), a=1.0, b=0.0), ValueError, "a <= b"),
    (lambda: D.uniform_(torch.empty(3), a=float("inf")), ValueError, r"\ba\b"),
    (lambda: D.constant_(torch.empty(3), "x"), TypeError, "val"),
    (lambda: D.xavier_uniform_(torch.empty(3, 3), gain=-1.0), ValueError, "gain"),
    (lambda: D.xavier_normal_(torch.empty(3, 3), gain=None), TypeError, "gain"),
    (lambda: D.kaiming_uniform_(torch.empty(3, 3), mode="bad"), ValueError, "mode.*fan_in"),
    (lambda: D.kaiming_normal_(torch.empty(3, 3), mode="bad"), ValueError, "mode.*fan_out"),
    (lambda: D.kaiming_normal_(torch.empty(3, 3), nonlinearity="bad"), ValueError, "nonlinearity.*relu"),
    (lambda: D.kaiming_uniform_(torch.empty(3, 3), a="x"), TypeError, r"\ba\b"),
], ids=["std<0", "mean nan", "std str", "a>b", "a inf", "val str", "gain<0", "gain None",
        "mode ku", "mode kn", "nonlinearity", "a str"])
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("name", ["zeros_", "constant_", "normal_", "uniform_", "lecun_normal_",
                                  "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("value", [[[1.0, 2.0]], None], ids=["list", "None"])
def test_non_tensor(name, value):
    args = (0.5,) if name == "constant_" else ()
    with pytest.raises(TypeError, match="tensor"):
        getattr(D, name)(value, *args)


@pytest.mark.parametrize("name, shape", [
    ("lecun_normal_", (5, 0)), ("xavier_uniform_", (0, 0)), ("xavier_normal_", (0, 0)),
    ("kaiming_uniform_", (5, 0)), ("kaiming_normal_", (5, 0)),
])
def test_zero_fan_is_not_zero_division(name, shape):
    w = torch.empty(shape)
    try:
        assert getattr(D, name)(w) is w  # a no-op, as torch.nn.init does ...
    except ValueError as err:            # ... or a clear error naming the tensor
        assert "tensor" in str(err)
