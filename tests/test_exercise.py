import numpy as np
import pytest
import torch

from dlcore import exercise


def test_unset_prediction_reveals_nothing(capsys):
    assert exercise.check(1, "my_dbeta", None, 60.0, why="dC/dbeta = 60") is None   # nothing to echo
    out = capsys.readouterr().out
    assert out == "Exercise 1: set my_dbeta above, then run this cell again.\n"
    assert "60" not in out


@pytest.mark.parametrize("prediction, answer, kw, right", [
    (60, 60.0, {}, True),
    (59.99, 60.0, {"rtol": 1e-3}, True),
    (59, 60.0, {"rtol": 1e-3}, False),
    (True, True, {}, True),
    (False, np.bool_(True), {}, False),
    (" X ", "x", {"choices": ["x", "x_hat", "zero"]}, True),
    ("zero", "x", {"choices": ["x", "x_hat", "zero"]}, False),
    (8, torch.tensor(8.0), {"atol": 1e-6}, True),
    (3, np.float64(3.0), {}, True),
])
def test_verdicts(capsys, prediction, answer, kw, right):
    assert exercise.check(2, "my_answer", prediction, answer, why="because", **kw) is None
    assert exercise.verdict(prediction, answer, **kw) == (right, "")
    out = capsys.readouterr().out
    assert out == f"Exercise 2: {'right' if right else 'not quite'}. because\n"


@pytest.mark.parametrize("prediction, answer, kw, says", [
    ("yes", True, {}, "True or False"),
    ("8", 8.0, {}, "a number"),
    (True, 8.0, {}, "a number"),
    ("y", "x", {"choices": ["x", "x_hat"]}, "one of 'x', 'x_hat'"),
])
def test_malformed_prediction_is_named(capsys, prediction, answer, kw, says):
    exercise.check(3, "my_answer", prediction, answer, why="secret", **kw)
    out = capsys.readouterr().out
    assert "my_answer should" in out and says in out and "secret" not in out


@pytest.mark.parametrize("args, kw, match", [
    ((0, "x", 1, 1), {}, "number"),
    ((1, "not a name", 1, 1), {}, "name"),
    ((1, "x", 1, 1), {"rtol": -1}, "rtol"),
    ((1, "x", 1, [1]), {}, "answer"),
])
def test_bad_arguments(args, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        exercise.check(*args, **kw)
