"""Work for the kernel's idle moments: what a slider may ask for next, computed before it is asked.

A slider Panel whose update reruns something (optimiser trajectories, a forward pass through ten
layers) spends 10-40 ms of a 2-core machine's kernel on each new value; a drag, or an arrow key,
then waits for it. Given a ``prefetch`` function (the notebook's cached computation), the Panel
queues here the settings one slider move away, and they are computed while nothing else happens:
the next drag or key press finds them in the cache and costs only the redraw.

The rules, so that it never gets in the way:

* nothing runs until a browser has shown the panel (the view's hello): under nbval, or in a
  script, no queue is ever scheduled, and the notebook's numbers are the same either way (the
  jobs only fill caches of pure functions);
* a job runs only after IDLE_S seconds with no activity: no control moved, no value arrived from
  the browser, no cell ran (IPython's pre/post_execute events). A job is one call of a prefetch
  function (one setting), and jobs are GAP_S apart, so a message that arrives meanwhile waits for
  about one call at most. Jobs that cost nothing (the setting was in the cache already: most of a
  plan made again after one slider moved) run back to back, up to BURST_S of them at a time;
* the jobs run on the kernel's own event loop (asyncio's ``call_later``), between messages and
  never during a cell: no thread, no lock, and matplotlib is never touched;
* a job that raises drops its queue (the panel's update will show the error when it gets there).
"""
from __future__ import annotations

import asyncio
import collections
import time

IDLE_S = 0.5    # quiet seconds before a job runs: longer than the pauses within a drag or a run-all
GAP_S = 0.01    # seconds between two jobs, for the loop to take in what arrived meanwhile
BURST_S = 0.002  # jobs run back to back while together they took less than this (cache hits)

_queues: "collections.OrderedDict[object, object]" = collections.OrderedDict()   # key -> iterator of jobs, newest first
_state = {"last": time.monotonic(), "loop": None, "timer": None, "events": False}


def touch() -> None:
    """Something happened (a control moved, a frame was drawn, a cell ran): wait IDLE_S again."""
    _state["last"] = time.monotonic()


def submit(key, jobs) -> bool:
    """Queue ``jobs`` (an iterable of zero-argument callables) under ``key``, replacing what that
    key had queued, ahead of the other keys. Returns False where no event loop is running (a
    script, a test): then nothing is queued."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    _watch_cells()
    _queues[key] = iter(jobs)
    _queues.move_to_end(key, last=False)
    if _state["loop"] is not loop:
        _state["loop"], _state["timer"] = loop, None
    _schedule(IDLE_S)
    return True


def cancel(key) -> None:
    """Drop what ``key`` had queued."""
    _queues.pop(key, None)


def pending() -> int:
    """How many keys have jobs queued (for tests)."""
    return len(_queues)


def _schedule(delay: float) -> None:
    loop = _state["loop"]
    if loop is None or loop.is_closed() or _state["timer"] is not None or not _queues:
        return
    _state["timer"] = loop.call_later(max(0.0, delay), _tick)


def _tick() -> None:
    """Run one job if the kernel has been quiet for IDLE_S; then come back for the next."""
    _state["timer"] = None
    quiet = time.monotonic() - _state["last"]
    if quiet < IDLE_S:
        _schedule(IDLE_S - quiet)
        return
    start = time.perf_counter()
    while _queues and time.perf_counter() - start < BURST_S:
        key, jobs = next(iter(_queues.items()))
        try:
            job = next(jobs)
        except StopIteration:
            _queues.pop(key, None)
            continue
        try:
            job()
        except Exception:       # the panel's own update shows the error when it gets there
            _queues.pop(key, None)
    # a pause between jobs: a message that arrived meanwhile takes several turns of the loop to
    # reach its handler (socket, queue, dispatch); with no pause a job would run between each
    _schedule(GAP_S)


def _watch_cells() -> None:
    """A running cell counts as activity (its own work must not share the CPU with ours)."""
    if _state["events"]:
        return
    _state["events"] = True
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        for event in ("pre_execute", "post_execute"):
            shell.events.register(event, touch)


__all__ = ["IDLE_S", "GAP_S", "BURST_S", "touch", "submit", "cancel", "pending"]
