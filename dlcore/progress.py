"""A progress bar for training runs that leaves nothing behind once the run ends.

tqdm's notebook bar, closed with ``leave=False``, hides its widget, but the cell's saved output
keeps the bar's text ("training: 96%|#########6| 289/300"), which a static copy of the notebook
(nbconvert, GitHub) prints in place of the widget; and a run that stops early (diverged at step 3)
leaves it on screen, red and 1% full, like a hang. This bar appears only after ``delay`` seconds,
and on close its output is replaced by an empty one, live and in the saved file, however the run
ended. Outside a Jupyter kernel it is tqdm's terminal bar.

    bar = Progress(300, "training")
    for step in range(300):
        ...
        bar.update(step + 1)
    bar.close()
"""
from __future__ import annotations

import time

from . import _checks


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Progress:
    """``total`` steps; ``update(n)`` says n are done; ``close()`` removes the bar.

    delay: seconds before the bar is shown at all (a short run never shows one). disable: no bar.
    """

    def __init__(self, total: int, desc: str = "", *, unit: str = "step", delay: float = 1.0,
                 disable: bool = False):
        self.total = _checks.integer("total", total, low=0)
        self.desc, self.unit = str(desc), str(unit)
        self.delay = _checks.number("delay", delay, low=0.0)
        self.disable = bool(disable)
        self.n = 0
        self._start = time.perf_counter()
        self._shown = 0.0           # when the bar was last redrawn
        self._widgets = self._handle = self._terminal = None

    def update(self, n: int) -> None:
        """``n`` of ``total`` steps are done (redrawn at most 10 times a second)."""
        self.n = n
        if self.disable:
            return
        now = time.perf_counter()
        if now - self._start < self.delay or now - self._shown < 0.1:
            return
        self._shown = now
        if self._widgets is None and self._terminal is None:
            self._open()
        if self._terminal is not None:
            self._terminal.update(n - self._terminal.n)
        else:
            bar, label = self._widgets.children
            bar.value = n
            rate = n / max(now - self._start, 1e-9)
            label.value = f"{n}/{self.total} {self.unit}s, {rate:,.0f} {self.unit}s/s"

    def _open(self) -> None:
        if not _in_kernel():
            from tqdm.std import tqdm

            self._terminal = tqdm(total=self.total, desc=self.desc, unit=self.unit, leave=False)
            return
        import ipywidgets as W
        from IPython.display import display

        self._widgets = W.HBox([W.IntProgress(value=0, min=0, max=max(1, self.total), description=self.desc),
                                W.HTML()])
        self._handle = display(self._widgets, display_id=True)

    def close(self) -> None:
        """Remove the bar (and its saved output), finished or not."""
        if self._terminal is not None:
            self._terminal.close()
            self._terminal = None
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)   # the saved output is empty too
            self._handle = None
        if self._widgets is not None:
            for w in (*self._widgets.children, self._widgets):
                w.close()
            self._widgets = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


__all__ = ["Progress"]
