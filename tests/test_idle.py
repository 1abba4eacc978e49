"""dlcore.idle (jobs for the kernel's idle moments) and the Panel's prefetch that stands on it."""
import asyncio

import matplotlib

matplotlib.use("agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlcore import idle, plot, widgets  # noqa: E402
from dlcore.widgets import Panel, slider  # noqa: E402

X = np.linspace(0, 6, 50)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(idle, "IDLE_S", 0.02)
    monkeypatch.setattr(idle, "_queues", type(idle._queues)())
    monkeypatch.setattr(idle, "_state", {"last": 0.0, "loop": None, "timer": None, "events": True})
    yield


def run_loop(body, seconds=0.3):
    """Run ``body()`` inside a running event loop, then let the loop idle for ``seconds``."""
    async def main():
        out = body()
        await asyncio.sleep(seconds)
        return out
    return asyncio.run(main())


def test_nothing_is_queued_without_an_event_loop():
    ran = []
    assert idle.submit("a", [lambda: ran.append(1)]) is False
    assert idle.pending() == 0 and ran == []


def test_jobs_run_when_idle_newest_key_first():
    ran = []
    run_loop(lambda: (idle.submit("old", [lambda i=i: ran.append(("old", i)) for i in range(2)]),
                      idle.submit("new", [lambda i=i: ran.append(("new", i)) for i in range(2)])))
    assert ran == [("new", 0), ("new", 1), ("old", 0), ("old", 1)]
    assert idle.pending() == 0


def test_activity_holds_the_jobs_back():
    ran = []

    async def main():
        idle.submit("k", [lambda: ran.append(1)])
        for _ in range(10):                 # something happens every 5 ms: never quiet for 20 ms
            idle.touch()
            await asyncio.sleep(0.005)
        assert ran == []
        await asyncio.sleep(0.1)            # then quiet: the job runs
        assert ran == [1]
    asyncio.run(main())


def test_cheap_jobs_run_back_to_back_a_costly_one_gives_the_loop_a_turn(monkeypatch):
    """A plan made again after one slider moved is mostly cache hits: those must not each wait
    GAP_S; a job that computes something ends its turn, so a message waits for one job at most."""
    import time
    monkeypatch.setattr(idle, "GAP_S", 0.05)
    cheap, costly = [], []
    run_loop(lambda: idle.submit("hits", [lambda i=i: cheap.append(i) for i in range(200)]), seconds=0.15)
    assert cheap == list(range(200))       # one gap of 50 ms each would have taken 10 s

    async def main():
        idle.submit("work", [lambda i=i: (time.sleep(2 * idle.BURST_S), costly.append(i)) for i in range(3)])
        await asyncio.sleep(idle.IDLE_S + 0.03)      # quiet, the first job ran, the gap is not over
        assert costly == [0]
        await asyncio.sleep(0.2)
        assert costly == [0, 1, 2]
    asyncio.run(main())


def test_a_job_that_raises_drops_its_queue_only():
    ran = []
    run_loop(lambda: (idle.submit("ok", [lambda: ran.append("ok")]),
                      idle.submit("bad", [lambda: 1 / 0, lambda: ran.append("never")])))
    assert ran == ["ok"] and idle.pending() == 0


def test_resubmitting_replaces_a_queue_and_cancel_drops_it():
    ran = []

    def body():
        idle.submit("k", [lambda: ran.append("first")])
        idle.submit("k", [lambda: ran.append("second")])
        idle.submit("gone", [lambda: ran.append("gone")])
        idle.cancel("gone")
    run_loop(body)
    assert ran == ["second"]


# ------------------------------------------------------------------------------ the slider's grid

def test_slider_grid_values():
    lin = slider("p", 0.05, 1.2, 0.01, 0.5)
    assert widgets.slider_index(lin, 0.5) == 45 and widgets.slider_value(lin, 45) == 0.5
    assert widgets.slider_value(lin, 25) == 0.3                      # not 0.30000000000000004
    assert widgets.slider_index(lin, 99.0) == 115 and widgets.slider_value(lin, 115) == 1.2   # clamped
    log = slider("lr", 1e-4, 1.0, 0.05, 0.02, log=True)
    assert widgets.slider_index(log, 0.02) == 46
    assert widgets.slider_value(log, 46) == float(f"{10 ** -1.7:.12g}")
    ints = slider("m", 1, 1024, 1, 16)
    assert widgets.slider_value(ints, 15) == 16 and isinstance(widgets.slider_value(ints, 15), int)
    with pytest.raises(ValueError, match="index"):
        widgets.slider_value(lin, 116)
    with pytest.raises(TypeError, match="control"):
        widgets.slider_index(widgets.dropdown("d", ["a"]), 0)


def test_values_from_the_browser_snap_to_the_grid_only_when_on_it():
    lin = slider("p", 0.0, 1.0, 0.1, 0.5)
    assert widgets._on_grid(lin, 0.30000000000000004) == 0.3
    odd = slider("q", 0.0, 0.7, 0.3, 0.0)          # the range is not a whole number of steps
    assert widgets._on_grid(odd, 0.7) == 0.7        # the track's end stays where it is
    assert widgets._on_grid(slider("n", 1, 5, 1, 1), 3.0) == 3


def test_nearest_positions_come_first_and_are_capped():
    s = slider("m", 1, 1024, 1, 16)
    near = widgets._nearest(s, 16)
    assert near[:4] == [14, 16, 13, 17] and len(near) == widgets.PREFETCH_PER_SLIDER
    small = slider("n", 1, 5, 1, 1)
    assert widgets._nearest(small, 1) == [1, 2, 3, 4]


# ------------------------------------------------------------------------------ the Panel's prefetch

def _prefetch_panel(monkeypatch, prefetch):
    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot(X, np.sin(X))

    def update(scale, n, kind, slow):
        line.set_ydata(scale * np.sin(n * X))

    panel = Panel(fig, update, animated=[line], prefetch=prefetch, scale=slider("scale", 0.1, 2.0, 0.1, 1.0),
                  n=slider("n", 1, 4, 1, 1), kind=widgets.dropdown("kind", ["a", "b"]),
                  slow=slider("slow", 0.0, 1.0, 0.1, 0.5, continuous_update=False))
    monkeypatch.setattr(panel.view, "send_frame", lambda *a, **k: None)
    return panel


def test_prefetch_waits_for_a_browser_then_computes_the_next_moves(monkeypatch):
    asked = []
    panel = _prefetch_panel(monkeypatch, lambda **v: asked.append(v))
    run_loop(lambda: None)
    assert asked == []                           # no view has said hello: nothing (nbval, a script)
    run_loop(panel._send_whole)                  # a browser shows it
    base = {"scale": 1.0, "n": 1, "kind": "a", "slow": 0.5}
    moved = [{k: v for k, v in a.items() if v != base[k]} for a in asked]
    assert all(set(a) == set(base) for a in asked)
    # nearest first, the continuous sliders in turn; the drop-down and the retraining slider stay
    assert moved[:4] == [{"scale": 0.9}, {"n": 2}, {"scale": 1.1}, {"n": 3}]
    assert len(asked) == 19 + 3                  # scale: 19 other positions; n: 3
    assert {a["kind"] for a in asked} == {"a"} and {a["slow"] for a in asked} == {0.5}


def test_a_drag_finds_the_prefetched_floats(monkeypatch):
    """The values a drag relays are the grid's floats, the ones the prefetch computed: a cache hit."""
    asked = []
    panel = _prefetch_panel(monkeypatch, lambda **v: asked.append((v["scale"], v["n"])))
    run_loop(panel._send_whole)
    drawn = []
    panel.update = lambda **v: drawn.append((v["scale"], v["n"]))
    # what a browser sends for 0.7 (0.1 + 6 * 0.1 in its arithmetic)
    panel.view._message(panel.view, {"type": "values", "seq": 1, "values": {"scale": 0.1 + 6 * 0.1}}, [])
    assert drawn == [(0.7, 1)] and (0.7, 1) in asked


def test_new_values_replan_around_them(monkeypatch):
    asked = []
    panel = _prefetch_panel(monkeypatch, lambda **v: asked.append(v))

    async def main():
        panel._send_whole()
        await asyncio.sleep(0.2)
        asked.clear()
        panel.set(n=4)
        await asyncio.sleep(0.2)
    asyncio.run(main())
    assert asked and all(a["n"] == 4 or a["scale"] == 1.0 for a in asked)
    assert {"scale": 1.0, "n": 3, "kind": "a", "slow": 0.5} == asked[1]     # n's nearest, from 4


def test_prefetch_errors_and_bad_arguments(monkeypatch):
    with pytest.raises(TypeError, match="prefetch must be callable"):
        _prefetch_panel(monkeypatch, 3)
    panel = _prefetch_panel(monkeypatch, lambda **v: 1 / 0)
    run_loop(panel._send_whole)                  # a failing prefetch drops its queue, quietly
    assert idle.pending() == 0 and panel.status.value == ""


def test_a_drag_that_comes_home_finds_the_value_it_left(monkeypatch):
    """A slider that starts off its grid (0.52 on a grid of tenths): a drag back to its position
    draws 0.52 itself, the value the queued jobs were planned around, not the grid's 0.5."""
    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot(X, np.sin(X))
    drawn = []
    panel = Panel(fig, lambda s, t: (drawn.append((s, t)), line.set_ydata(s * np.sin(t * X)))[-1], animated=[line],
                  prefetch=lambda **v: None, s=slider("s", 0.0, 1.0, 0.1, 0.52), t=slider("t", 0.0, 1.0, 0.1, 0.3))
    monkeypatch.setattr(panel.view, "send_frame", lambda *a, **k: None)
    run_loop(panel._send_whole)
    for seq, s in enumerate([0.6, 0.5000000000000001], 1):
        panel.view._message(panel.view, {"type": "values", "seq": seq, "values": {"s": s, "t": 0.3}}, [])
    assert drawn[-2:] == [(0.6, 0.3), (0.52, 0.3)]
