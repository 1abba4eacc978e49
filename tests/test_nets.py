"""dlcore.MLP: layer names, activations, bias, init, and argument checks."""
import pytest
import torch
from torch import nn

import dlcore
from dlcore.nets import ACTIVATIONS, MLP, activation_name, make_activation


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_layer_names():
    assert [name for name, _ in MLP([784, 100, 10]).named_children()] == ["linear1", "act1", "linear2"]


def test_layer_names_deeper():
    names = [name for name, _ in MLP([4, 3, 3, 3, 2]).named_children()]
    assert names == ["linear1", "act1", "linear2", "act2", "linear3", "act3", "linear4"]


def test_layer_shapes():
    m = MLP([784, 100, 10])
    assert m.linear1.in_features == 784 and m.linear1.out_features == 100
    assert m.linear2.in_features == 100 and m.linear2.out_features == 10


@pytest.mark.parametrize("sizes, depth", [([3, 2], 1), ([784, 100, 10], 2), ([5, 4, 4, 4, 4, 2], 5)])
def test_depth(sizes, depth):
    assert MLP(sizes).depth == depth


def test_linears():
    m = MLP([5, 4, 3, 2])
    assert m.linears == [m.linear1, m.linear2, m.linear3]
    assert all(isinstance(l, nn.Linear) for l in m.linears)


def test_no_activation_after_last_layer():
    assert isinstance(MLP([5, 4, 2])[-1], nn.Linear)


def test_forward_shape():
    assert MLP([784, 100, 10])(torch.zeros(7, 784)).shape == (7, 10)


def test_sizes_attribute_and_repr():
    m = MLP((6, 5, 2), "relu")
    assert m.sizes == [6, 5, 2]
    assert "sizes=[6, 5, 2]" in repr(m) and "'relu'" in repr(m)


def test_is_sequential_module():
    assert isinstance(MLP([3, 2]), nn.Sequential)
    assert dlcore.MLP is MLP


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_builds(name):
    m = MLP([4, 3, 3, 2], name)
    assert type(m.act1) is ACTIVATIONS[name] and type(m.act2) is ACTIVATIONS[name]
    assert m.act1 is not m.act2
    assert activation_name(m.act1) == name
    assert m(torch.randn(5, 4, generator=g())).shape == (5, 2)


@pytest.mark.parametrize("name, x, expected", [
    ("tanh", 0.5, torch.tanh(torch.tensor(0.5))),
    ("relu", -1.0, torch.tensor(0.0)),
    ("sigmoid", 0.0, torch.tensor(0.5)),
    ("linear", -3.0, torch.tensor(-3.0)),
])
def test_make_activation(name, x, expected):
    assert torch.equal(make_activation(name)(torch.tensor(x)), expected)


def test_activation_name_unknown_module():
    assert activation_name(nn.Linear(2, 2)) is None


def test_bias_false():
    m = MLP([5, 4, 3, 2], bias=False)
    assert all(l.bias is None for l in m.linears)
    assert not any("bias" in name for name, _ in m.named_parameters())


def test_bias_true_default():
    assert all(l.bias is not None for l in MLP([5, 4, 2]).linears)


def test_init_xavier_uniform_applied():
    m = MLP([20, 30, 10], init="xavier_uniform", generator=g(1))
    gen = g(1)
    for layer in m.linears:
        expected = nn.init.xavier_uniform_(torch.empty_like(layer.weight), generator=gen)
        assert torch.equal(layer.weight, expected)
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))


def test_init_kwargs():
    m = MLP([3, 4, 2], init="constant", init_kwargs={"val": 0.25})
    assert all(torch.equal(l.weight, torch.full_like(l.weight, 0.25)) for l in m.linears)


def test_init_with_generator_reproducible():
    a = MLP([6, 5, 2], init="kaiming_normal", generator=g(4))
    b = MLP([6, 5, 2], init="kaiming_normal", generator=g(4))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_init_kwargs_without_init():
    with pytest.raises(ValueError, match="init_kwargs.*init"):
        MLP([3, 2], init_kwargs={"std": 0.1})


def test_unknown_init():
    with pytest.raises(ValueError, match="scheme.*xavier_uniform"):
        MLP([3, 2], init="glorot")


@pytest.mark.parametrize("sizes, exc, match", [
    ([], ValueError, "sizes"),
    ([5], ValueError, "sizes"),
    ([784, 0, 10], ValueError, r"sizes\[1\]"),
    ([784, -3], ValueError, r"sizes\[1\]"),
    ("784", TypeError, "sizes"),
    (784, TypeError, "sizes"),
    (None, TypeError, "sizes"),
    ([784, 2.5], TypeError, r"sizes\[1\]"),
    ([784.0, 10], TypeError, r"sizes\[0\]"),
    ([784, True], TypeError, r"sizes\[1\]"),
], ids=["empty", "one", "zero width", "negative", "str", "int", "None", "float", "float first", "bool"])
def test_bad_sizes(sizes, exc, match):
    with pytest.raises(exc, match=match):
        MLP(sizes)


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation") as err:
        MLP([3, 4, 2], "swish")
    for name in ACTIVATIONS:
        assert name in str(err.value)


def test_activation_not_string():
    with pytest.raises(TypeError, match="activation"):
        MLP([3, 4, 2], nn.Tanh)


def test_bias_not_bool():
    with pytest.raises(TypeError, match="bias"):
        MLP([3, 2], bias=1)


def test_make_activation_unknown():
    with pytest.raises(ValueError, match="activation.*tanh"):
        make_activation("swish")


def test_mlp_with_batchnorm_puts_it_between_linear_and_activation():
    from dlcore.nn import BatchNorm1d

    m = MLP([10, 8, 8, 3], "sigmoid", batchnorm=True)
    names = [n for n, _ in m.named_children()]
    assert names == ["linear1", "bn1", "act1", "linear2", "bn2", "act2", "linear3"]
    assert isinstance(m.bn1, BatchNorm1d) and m.bn1.num_features == 8
    assert m.linear1.bias is None and m.linear3.bias is not None   # beta replaces the hidden biases
    assert m(torch.randn(5, 10)).shape == (5, 3)
    with pytest.raises(TypeError, match="batchnorm"):
        MLP([10, 3], batchnorm="yes")


def test_mlp_with_dropout_after_each_hidden_activation():
    from dlcore.nn import Dropout

    m = MLP([10, 8, 8, 3], "relu", dropout=0.5)
    names = [n for n, _ in m.named_children()]
    assert names == ["linear1", "act1", "drop1", "linear2", "act2", "drop2", "linear3"]
    assert isinstance(m.drop1, Dropout) and m.drop1.p == 0.5
    m.eval()
    x = torch.randn(4, 10)
    assert torch.equal(m(x), m(x))                   # evaluation: no dropout, deterministic
    assert [n for n, _ in MLP([10, 8, 3]).named_children()] == ["linear1", "act1", "linear2"]
    with pytest.raises(ValueError, match="dropout"):
        MLP([10, 8, 3], dropout=1.0)
