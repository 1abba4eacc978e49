"""The result every babysitting check returns, shared by :mod:`dlcore.babysit` and
:mod:`dlcore.gradcheck` (here so that neither has to import the other's internals)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    """The outcome of one check: did it pass, what was measured, what was expected, and why.

    ``value`` is a number (or, per layer, a dict of numbers); ``expected`` is the range
    ``(low, high)`` it should lie in (None: unbounded on that side); ``message`` states the
    measurement and, on a failure, what is likely wrong and what to try. ``details`` holds the
    raw measurements (per-coordinate errors, loss curves, ...) for plots.
    """

    name: str
    passed: bool
    value: object
    expected: tuple
    message: str
    details: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.name}: {self.message}"


CheckResult.__module__ = "dlcore.babysit"   # where users import it from (and pickles look it up)
