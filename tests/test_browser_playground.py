"""Notebook 10's live playground in JupyterLab in a real Chromium: start, pause, step, reset, diagnose.

tests/test_browser.py already clicks every control of every notebook once; this one drives the
playground the way a student does and checks what each button means: start trains and keeps
painting new frames while the controls stay live (a slider moved mid-run takes effect), pause
stops the frames, step trains one chunk, reset goes back to step 0, diagnose shows the verdicts,
and nothing printed an error. The kernel's state is read with tests/browser.py's kernel_print.

Skipped like test_browser.py where no Chromium or playwright is found (a failure with
DLCORE_BROWSER_TESTS=required).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "10_playground.ipynb"
REPORT = ROOT / "build" / "browser" / "10_playground-live.json"
RUN_ALL_TIMEOUT_S = 300
BOUND_S = 3.0               # a click or key press must show in the figure within this long

pytestmark = pytest.mark.browser

JS_COUNT = browser.JS_COUNT_PAINTS



@pytest.fixture(scope="module")
def page():
    path = browser.chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with browser.jupyterlab([NOTEBOOK]) as (base, token), sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=browser.launch_args())
        try:
            pg = b.new_page(viewport={"width": 1500, "height": 1100})
            browser.open_notebook(pg, base, token, NOTEBOOK.name)
            run_s = browser.run_all(pg, RUN_ALL_TIMEOUT_S)
            errors = pg.evaluate(browser.JS_ERRORS)
            assert not errors, f"cells failed in JupyterLab: {errors}"
            pg.run_all_s = run_s
            yield pg
        finally:
            b.close()


def _kernel(page, expr: str):
    return json.loads(browser.kernel_print(page, f"import json; print(json.dumps({expr}))"))


def _panel(page):
    """The live panel's buttons {label: button}, its sliders {label: handle} and its figure (the
    notebook's one panel: the tour's figures are static pictures)."""
    buttons = browser.controls_with_figures(page, "button")
    assert buttons, "no button beside a figure: the live panel did not display"
    named = {c.inner_text().strip(): t for c, t, _ in buttons}
    sliders = {c.query_selector(".widget-label").inner_text().strip(): t
               for c, t, _ in browser.controls_with_figures(page, "slider")}
    return named, sliders, buttons[0][2]


def test_playground_live(page):
    buttons, sliders, figure = _panel(page)
    assert set(buttons) >= {"start", "pause", "step", "reset", "diagnose"}
    assert _kernel(page, "[pg.step, play.running]") == [0, False]        # nothing runs until start
    report = {"run_all_s": page.run_all_s}

    # start: frames keep coming while it trains
    before = figure.screenshot()
    page.evaluate(JS_COUNT, figure)
    buttons["start"].click()
    page.wait_for_timeout(1000)
    page.evaluate("() => { window.__paints = []; }")
    page.wait_for_timeout(3000)
    paints = page.evaluate("() => window.__paints.length")
    report["painted_per_s"] = paints / 3
    assert paints >= 6, f"only {paints} frames painted in 3 s of training"
    assert figure.screenshot() != before
    step, running = _kernel(page, "[pg.step, play.running]")
    assert running and step >= 50

    # a slider moved mid-run answers and takes effect (the learning rate: a training knob)
    lr = _kernel(page, "pg.knobs['lr']")
    browser.move_slider(page, sliders["learning rate η"], figure, BOUND_S)
    assert _kernel(page, "pg.knobs['lr']") > lr and _kernel(page, "play.running")

    # pause: the frames stop, the step count holds
    browser.click_button(page, buttons["pause"], figure, BOUND_S)   # (a frame in flight may paint first)
    page.wait_for_timeout(500)
    held = _kernel(page, "[pg.step, play.running]")
    page.evaluate("() => { window.__paints = []; }")
    page.wait_for_timeout(1000)
    assert held[1] is False and _kernel(page, "pg.step") == held[0]
    assert page.evaluate("() => window.__paints.length") == 0

    # step: one chunk of ten steps
    report["step_ms"] = browser.click_button(page, buttons["step"], figure, BOUND_S)
    assert _kernel(page, "pg.step") == held[0] + 10

    # diagnose: the verdicts at this step
    shown = figure.screenshot()
    report["diagnose_ms"] = browser.click_button(page, buttons["diagnose"], figure, BOUND_S)
    assert _kernel(page, "play.diagnosis[0]") == held[0] + 10 and figure.screenshot() != shown

    # reset: back to step 0; a structural slider (the width) builds a new network
    report["reset_ms"] = browser.click_button(page, buttons["reset"], figure, BOUND_S)
    assert _kernel(page, "[pg.step, play.diagnosis is None]") == [0, True]
    width = _kernel(page, "pg.knobs['width']")
    report["width_ms"] = browser.move_slider(page, sliders["width"], figure, BOUND_S)
    assert _kernel(page, "[pg.knobs['width'], pg.step]") == [width + 1, 0]

    assert not page.evaluate(browser.JS_ERRORS), "a control's update raised"
    text = page.inner_text(".jp-NotebookPanel")
    assert not [f for f in browser.WIDGET_FAILURES if f in text]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report))
