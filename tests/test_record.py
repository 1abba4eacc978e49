"""dlcore.Recorder: what the hooks record, checked against autograd and hand-computed statistics."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dlcore
from dlcore.record import Recorder, dead_fraction, saturated_fraction, summarize

B = 8


def g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def setup():
    model = dlcore.MLP([20, 16, 16, 4], "tanh", init="xavier_normal", generator=g())
    X = torch.randn(B, 20, generator=g(1))
    y = torch.randint(0, 4, (B,), generator=g(2))
    return model, X, y


@pytest.fixture
def recorded(setup):
    model, X, y = setup
    with Recorder(model) as rec:
        loss = F.cross_entropy(model(X), y)
        loss.backward()
    return rec


def test_layers_and_hidden(recorded):
    assert [r.name for r in recorded.layers] == ["linear1", "linear2", "linear3"]
    assert [r.index for r in recorded.layers] == [1, 2, 3]
    assert [r.activation for r in recorded.layers] == ["tanh", "tanh", None]
    assert [r.name for r in recorded.hidden] == ["linear1", "linear2"]


@pytest.mark.parametrize("slot", ["pre", "act", "grad_pre", "grad_act"])
def test_hidden_shapes(recorded, slot):
    for r in recorded.hidden:
        assert getattr(r, slot).shape == (B, 16)


def test_output_layer_records_pre_only(recorded):
    out = recorded.layers[-1]
    assert out.pre.shape == (B, 4) and out.grad_pre.shape == (B, 4)
    assert out.act is None and out.grad_act is None


def test_recorded_values_match_forward(setup, recorded):
    model, X, _ = setup
    with torch.no_grad():
        pre1 = model.linear1(X)
        act1 = torch.tanh(pre1)
        pre2 = model.linear2(act1)
    torch.testing.assert_close(recorded.layers[0].pre, pre1)
    torch.testing.assert_close(recorded.layers[0].act, act1)
    torch.testing.assert_close(recorded.layers[1].pre, pre2)


def test_recorded_tensors_are_detached(recorded):
    for r in recorded.hidden:
        for slot in ("pre", "act", "grad_pre", "grad_act"):
            assert not getattr(r, slot).requires_grad


def _manual_grads(model, X, y):
    """Gradients of the loss w.r.t. every pre-activation and activation, via retain_grad."""
    h, pres, acts = X, [], []
    for layer in model.linears:
        pre = layer(h)
        pre.retain_grad()
        pres.append(pre)
        if layer is not model.linears[-1]:
            h = torch.tanh(pre)
            h.retain_grad()
            acts.append(h)
        else:
            h = pre
    F.cross_entropy(h, y).backward()
    return [p.grad for p in pres], [a.grad for a in acts]


def test_grad_pre_matches_autograd(setup, recorded):
    model, X, y = setup
    grad_pres, _ = _manual_grads(model, X, y)
    for r, expected in zip(recorded.layers, grad_pres):
        torch.testing.assert_close(r.grad_pre, expected)


def test_grad_act_matches_autograd(setup, recorded):
    model, X, y = setup
    _, grad_acts = _manual_grads(model, X, y)
    for r, expected in zip(recorded.hidden, grad_acts):
        torch.testing.assert_close(r.grad_act, expected)


def test_grad_pre_is_grad_act_times_tanh_slope(recorded):
    for r in recorded.hidden:
        torch.testing.assert_close(r.grad_pre, r.grad_act * (1 - r.act**2))


def test_recording_does_not_change_parameter_grads(setup):
    model, X, y = setup
    F.cross_entropy(model(X), y).backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with Recorder(model):
        F.cross_entropy(model(X), y).backward()
    for a, p in zip(plain, model.parameters()):
        assert torch.equal(a, p.grad)


def test_grads_false_records_no_gradients(setup):
    model, X, y = setup
    with Recorder(model, grads=False) as rec:
        F.cross_entropy(model(X), y).backward()
    assert rec.layers[0].act is not None and rec.layers[0].grad_act is None


def test_hooks_removed_on_exit(setup, recorded):
    model, X, y = setup
    before = recorded.layers[0].act.clone()
    F.cross_entropy(model(2 * X), y).backward()
    assert torch.equal(recorded.layers[0].act, before)
    assert all(not m._forward_hooks for m in model.modules())


def test_next_forward_overwrites(setup):
    model, X, _ = setup
    with Recorder(model) as rec:
        model(X)
        model(X[:3])
    assert rec.layers[0].act.shape == (3, 16)


def test_new_forward_clears_old_gradients(setup):
    model, X, y = setup
    with Recorder(model) as rec:
        F.cross_entropy(model(X), y).backward()
        model(X[:3])  # a new forward, no backward yet
        with pytest.raises(ValueError, match="backward"):
            rec.stats("grad_act")


def test_under_no_grad_records_activations_only(setup):
    model, X, _ = setup
    with Recorder(model) as rec, torch.no_grad():
        model(X)
    assert rec.layers[0].act.shape == (B, 16)
    with pytest.raises(ValueError, match="backward"):
        rec.stats("grad_pre")


def test_stats_rows(recorded):
    rows = recorded.stats("act")
    assert [r["layer"] for r in rows] == [1, 2]
    assert [r["name"] for r in rows] == ["linear1", "linear2"]
    a = recorded.layers[0].act
    assert rows[0]["mean"] == pytest.approx(a.mean().item())
    assert rows[0]["std"] == pytest.approx(a.std().item())


def test_stats_all_layers(recorded):
    assert len(recorded.stats("pre", hidden_only=False)) == 3


@pytest.mark.parametrize("what", ["pre", "act", "grad_pre", "grad_act"])
def test_stats_every_slot(recorded, what):
    rows = recorded.stats(what)
    assert len(rows) == 2
    assert ("saturated" in rows[0]) == (what == "act")


def test_stats_before_backward(setup):
    model, X, _ = setup
    with Recorder(model) as rec:
        model(X)
        with pytest.raises(ValueError, match="backward"):
            rec.stats("grad_act")


def test_stats_before_forward(setup):
    with pytest.raises(ValueError, match="'act'"):
        Recorder(setup[0]).stats("act")


def test_stats_bogus(recorded):
    with pytest.raises(ValueError, match="what.*grad_pre"):
        recorded.stats("bogus")


@pytest.mark.parametrize("model", [None, "mlp", torch.zeros(3)], ids=["None", "str", "tensor"])
def test_recorder_non_module(model):
    with pytest.raises(TypeError, match="model"):
        Recorder(model)


def test_recorder_grads_not_bool(setup):
    with pytest.raises(TypeError, match="grads"):
        Recorder(setup[0], grads=1)


def test_recorder_no_linear():
    with pytest.raises(ValueError, match="nn.Linear"):
        Recorder(nn.Sequential(nn.Tanh()))


def test_table(recorded):
    lines = recorded.table().splitlines()
    assert len(lines) == 1 + len(recorded.hidden)
    assert lines[0].split() == ["layer", "mean", "std", "saturated", "dead"]
    assert lines[1].split()[0] == "1" and lines[2].split()[0] == "2"


def test_table_keys(recorded):
    lines = recorded.table("pre", keys=("p1", "p99")).splitlines()
    assert lines[0].split() == ["layer", "p1", "p99"]
    assert float(lines[1].split()[1]) == pytest.approx(recorded.stats("pre")[0]["p1"], rel=1e-2)


# ------------------------------------------------------------------------- hand-computed stats

def test_saturated_tanh():
    act = torch.tensor([[0.99, 0.0], [-0.98, 0.5]])
    assert saturated_fraction(act, "tanh") == 0.5
    assert summarize(act, "tanh", is_activation=True)["saturated"] == 0.5


def test_saturated_sigmoid():
    act = torch.tensor([[0.99, 0.5], [0.01, 0.96]])
    assert saturated_fraction(act, "sigmoid") == 0.5


def test_saturated_nan_for_relu():
    assert np.isnan(saturated_fraction(torch.ones(2, 2), "relu"))


def test_dead_relu():
    act = torch.tensor([[0.0, 1.0, 0.0, 2.0],
                        [0.0, 0.0, 3.0, 0.5]])   # column 0 silent on the whole batch
    assert dead_fraction(act) == 0.25
    s = summarize(act, "relu", is_activation=True)
    assert s["dead"] == 0.25
    assert s["zero"] == 4 / 8


def test_dead_half():
    act = torch.tensor([[0.0, 1.0], [0.0, 2.0], [0.0, 0.0]])
    assert summarize(act, "relu", is_activation=True)["dead"] == 0.5
    assert summarize(act, "relu", is_activation=True)["zero"] == pytest.approx(4 / 6)


def test_dead_nan_for_tanh():
    s = summarize(torch.zeros(3, 2), "tanh", is_activation=True)
    assert np.isnan(s["dead"]) and s["saturated"] == 0.0


def test_no_activation_keys_for_non_activation():
    assert "saturated" not in summarize(torch.ones(2, 2))


def test_summarize_against_numpy():
    values = torch.randn(64, 10, generator=g(5))
    v = values.numpy().ravel().astype(np.float64)
    s = summarize(values)
    assert s["mean"] == pytest.approx(v.mean(), abs=1e-6)
    assert s["std"] == pytest.approx(v.std(ddof=1), rel=1e-5)
    assert s["var"] == pytest.approx(v.var(ddof=1), rel=1e-5)
    assert s["abs_mean"] == pytest.approx(np.abs(v).mean(), rel=1e-5)
    for p in (1, 5, 50, 95, 99):
        assert s[f"p{p}"] == pytest.approx(np.percentile(v, p), rel=1e-5, abs=1e-6)


def test_summarize_small_known():
    s = summarize(torch.tensor([[1.0, -1.0], [3.0, 0.0]]))
    assert s["mean"] == 0.75 and s["abs_mean"] == 1.25 and s["zero"] == 0.25
    assert s["p50"] == 0.5
    assert s["var"] == pytest.approx(np.var([1, -1, 3, 0], ddof=1))


def test_summarize_single_value():
    s = summarize(torch.tensor([2.0]))
    assert s["std"] == 0.0 and s["var"] == 0.0 and s["mean"] == 2.0


def test_summarize_bad_input():
    with pytest.raises(TypeError, match="values"):
        summarize([[1.0, 2.0]])
    with pytest.raises(ValueError, match="values"):
        summarize(torch.tensor(1.0))


def test_relu_network_reports_dead_not_saturated():
    model = dlcore.MLP([5, 6, 2], "relu", init="normal", init_kwargs={"mean": -10.0, "std": 0.0})
    with Recorder(model) as rec:
        model(torch.rand(4, 5, generator=g()))
    row = rec.stats("act")[0]
    assert row["dead"] == 1.0 and row["zero"] == 1.0  # every pre-activation is negative
    assert np.isnan(row["saturated"])


def test_identity_activation_grads(setup):
    _, X, y = setup
    model = dlcore.MLP([20, 16, 4], "linear")
    with Recorder(model) as rec:
        F.cross_entropy(model(X), y).backward()
    r = rec.hidden[0]
    assert r.activation == "linear"
    assert torch.equal(r.act, r.pre) and torch.equal(r.grad_act, r.grad_pre)


def test_pre_activation_is_the_activation_input_when_batchnorm_sits_between():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Sigmoid(),
                                torch.nn.Linear(4, 2))
    x = torch.randn(16, 5)
    with Recorder(model) as rec:
        model(x).sum().backward()
    layer = rec.hidden[0]
    expected = model[1](model[0](x))                 # after BatchNorm: what the sigmoid sees
    assert torch.allclose(layer.pre, expected.detach(), atol=1e-6)
    assert torch.allclose(layer.act, torch.sigmoid(layer.pre))
    assert layer.grad_pre is not None and layer.grad_pre.shape == (16, 4)
