"""Frames per second of notebook 10's live playground: train a chunk, redraw, send.

    .venv/bin/python benchmarks/playground_fps.py [--seconds 5] [--browser] [--strict]

(a) in the kernel: the live panel's own loop (``dlcore.figures.playground.Live``) on an asyncio
    loop with no frame cap, for ``--seconds``: each frame trains ``steps_per_frame`` = 10 steps
    of the default network (2 hidden layers of 16 tanh units, 500 points, 250 for training,
    batches of 32), measures the losses and per-layer summaries, redraws the animated artists
    and encodes the changed pixels as the panel sends them. Reported: frames per second, the
    median and p95 frame time, and how it splits (the 10 steps alone, update + render).
(b) with ``--browser``: the same panel in JupyterLab in a headless Chromium (tests/browser.py's
    harness): a small notebook builds it, the benchmark clicks start and counts the distinct
    figure pictures painted per second for ``--seconds`` (the canvas's "dlcore-painted" events,
    or an <img>'s new, decoded src), then pause. The kernel, the server and Chromium share the
    machine's cores, as a student's laptop does.

Target: at least 10 frames per second, in the kernel and (b) in the browser. Exit status is 0
unless --strict is given and a measured target is missed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TARGET_FPS = 10.0


def kernel_fps(seconds: float) -> dict:
    from dlcore import plot
    from dlcore.figures import playground as fp
    from dlcore.playground import Playground

    torch.set_num_threads(1)
    plot.style()
    pg = Playground(0)
    play = fp.live(pg, steps_per_frame=10, max_fps=1e6, max_steps=10**9)
    times = []
    original = play._redraw

    def timed_redraw():                           # the loop's redraw, timed from the frame's start
        original()
        times.append(time.perf_counter())

    play._redraw = timed_redraw

    async def session():
        play.start(refresh=False)
        await asyncio.sleep(seconds)
        play.pause(refresh=False)
        await asyncio.sleep(0.05)

    t0 = time.perf_counter()
    asyncio.run(session())
    frames = [b - a for a, b in zip([t0] + times[:-1], times)][1:]
    # the two parts of a frame, alone
    t = time.perf_counter()
    for _ in range(20):
        pg.run(10)
    train = (time.perf_counter() - t) / 20
    t = time.perf_counter()
    for _ in range(20):
        play.panel.refresh(full=play.view.draw(pg, state="benchmark"))
    draw = (time.perf_counter() - t) / 20
    return {"frames": len(times), "fps": len(times) / seconds, "median_ms": 1e3 * statistics.median(frames),
            "p95_ms": 1e3 * sorted(frames)[int(0.95 * (len(frames) - 1))], "train10_ms": 1e3 * train,
            "draw_ms": 1e3 * draw, "steps": pg.step}


NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "bench-1", "metadata": {}, "outputs": [],
               "source": "import torch\nfrom dlcore import plot\nfrom dlcore.figures import playground as fp\n"
                         "from dlcore.playground import Playground\ntorch.set_num_threads(1)\nplot.style()\n"
                         "pg = Playground(0)\nplay = fp.live(pg, max_steps=10**9)\nplay"}],
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}




def browser_fps(seconds: float) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import browser
    from playwright.sync_api import sync_playwright

    chromium = browser.find_chromium()
    if chromium is None:
        return {"skipped": f"no Chromium ({browser.INSTALL_HINT})"}
    folder = Path(tempfile.mkdtemp(prefix="dlcore-fps-"))
    nb = folder / "playground_fps.ipynb"
    nb.write_text(json.dumps(NOTEBOOK))
    with browser.jupyterlab([nb]) as (base, token), sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=browser.launch_args())
        try:
            page = b.new_page(viewport={"width": 1500, "height": 1100})
            browser.open_notebook(page, base, token, nb.name)
            browser.run_all(page, 120)
            buttons = {c.inner_text().strip(): (t, img) for c, t, img in browser.controls_with_figures(page, "button")}
            start, figure = buttons["start"]
            page.evaluate(browser.JS_COUNT_PAINTS, figure)
            start.click()
            page.wait_for_timeout(1000)                         # the first frames: start-up
            page.evaluate("() => { window.__paints = []; }")
            page.wait_for_timeout(seconds * 1000)
            paints = page.evaluate("() => window.__paints.length")
            buttons["pause"][0].click()
            page.wait_for_timeout(500)
            kernel = browser.kernel_print(page, "print(play.frames, pg.step)").split()
        finally:
            b.close()
    return {"paints": paints, "fps": paints / seconds, "kernel_frames": int(kernel[0]), "steps": int(kernel[1])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--browser", action="store_true", help="also count the frames painted in Chromium")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args(argv)
    ok = True
    k = kernel_fps(args.seconds)
    print(f"kernel: {k['fps']:.1f} frames/s ({k['frames']} frames, {k['steps']} steps in {args.seconds:g} s); "
          f"frame median {k['median_ms']:.1f} ms, p95 {k['p95_ms']:.1f} ms; 10 steps alone {k['train10_ms']:.1f} ms, "
          f"update + render {k['draw_ms']:.1f} ms (target >= {TARGET_FPS:g} frames/s)")
    ok &= k["fps"] >= TARGET_FPS
    if args.browser:
        r = browser_fps(args.seconds)
        if "skipped" in r:
            print(f"browser: skipped: {r['skipped']}")
        else:
            print(f"browser: {r['fps']:.1f} distinct figures painted per second ({r['paints']} in {args.seconds:g} s; "
                  f"the kernel drew {r['kernel_frames']} frames in all, {r['steps']} steps) (target >= {TARGET_FPS:g})")
            ok &= r["fps"] >= TARGET_FPS
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
