"""Self-checks for prediction-first exercises: say nothing about the answer until a prediction is set.

    my_dbeta = None                        # the student's cell: a number
    ...
    exercise.check(1, "my_dbeta", my_dbeta, dbeta, why=f"dC/dbeta = {dbeta:g}: the sum of dC/dy")

While ``my_dbeta`` is None this prints only "Exercise 1: set my_dbeta above, then run this cell
again." Once it is set it prints "right" or "not quite", then ``why``: the answer and its reason.
The notebook still asserts the facts behind each answer (the lesson checks), without printing them.
"""
from __future__ import annotations

import math
import numbers


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def verdict(prediction, answer, *, rtol: float = 0.0, atol: float = 0.0, choices=None) -> tuple[bool, str]:
    """(right?, a note on a malformed prediction, '' when it is well formed).

    answer a bool: the prediction must be True or False. A number: right within
    ``atol + rtol * |answer|``. A string: right when equal ignoring case and surrounding blanks;
    ``choices`` (default: just the answer) are the strings a prediction may be.
    """
    if isinstance(answer, bool) or (hasattr(answer, "dtype") and getattr(answer.dtype, "kind", "") == "b"):
        if not isinstance(prediction, bool):
            return False, f"answer True or False (got {prediction!r})"
        return prediction == bool(answer), ""
    if _is_number(answer) or (hasattr(answer, "item") and _is_number(answer.item())):
        answer = float(answer)
        if not _is_number(prediction):
            return False, f"answer a number (got {prediction!r})"
        return math.isclose(float(prediction), answer, rel_tol=rtol, abs_tol=atol), ""
    if isinstance(answer, str):
        options = [str(c).strip().lower() for c in (choices or [answer])]
        if not isinstance(prediction, str) or prediction.strip().lower() not in options:
            listed = ", ".join(repr(c) for c in (choices or []))
            return False, (f"answer one of {listed} (got {prediction!r})" if choices
                           else f"answer a string (got {prediction!r})")
        return prediction.strip().lower() == answer.strip().lower(), ""
    raise TypeError(f"answer must be a bool, a number or a string; got {type(answer).__name__}")


def check(number: int | str, name: str, prediction, answer, *, why: str = "", rtol: float = 0.0,
          atol: float = 0.0, choices=None) -> None:
    """Print the verdict on exercise ``number``.

    Returns nothing, so that a cell ending with it echoes no bare True/False under the verdict
    (:func:`verdict` gives the verdict as a value).

    name: the variable the student sets (named in the reminder). why: shown only once a
    prediction is set, after "right" or "not quite": the answer and the reason for it.
    """
    if not ((isinstance(number, numbers.Integral) and not isinstance(number, bool) and number >= 1)
            or (isinstance(number, str) and number.isalnum())):
        raise ValueError(f"number must be the exercise's number, e.g. 2 or '2b'; got {number!r}")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be the prediction's variable name; got {name!r}")
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be >= 0; got rtol={rtol}, atol={atol}")
    if prediction is None:
        print(f"Exercise {number}: set {name} above, then run this cell again.")
        return
    right, malformed = verdict(prediction, answer, rtol=rtol, atol=atol, choices=choices)
    if malformed:
        print(f"Exercise {number}: {name} should {malformed}.")
        return
    print(f"Exercise {number}: {'right' if right else 'not quite'}." + (f" {why}" if why else ""))


__all__ = ["check", "verdict"]
