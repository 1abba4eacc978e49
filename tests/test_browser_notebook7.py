"""Notebook 7 in a real (headless) Chromium: arrow keys move the sliders, as in JupyterLab.

Notebook 7 binds ArrowLeft/ArrowRight to "move to the heading above/below" and stopped the key
before an ipywidgets slider saw it (issue 17); dlcore's figure view steps its panel's sliders on
arrow keys itself (dlcore/figure_view.py). Here: notebook 02 runs in Notebook 7, then every slider
takes ArrowRight (ArrowLeft at its maximum): its readout must change and its figure repaint; and
a mouse drag along each slider's track moves it and repaints its figure.
Skipped, like test_browser.py, where no Chromium is found.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_saturation_and_initialisation.ipynb"
BOUND_S = 3.0

pytestmark = pytest.mark.browser


def test_arrow_keys_move_sliders_in_notebook7():
    path = browser.chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with browser.jupyterlab([NOTEBOOK], app="notebook") as (base, token), sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=browser.launch_args())
        try:
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            browser.open_notebook(page, base, token, NOTEBOOK.name, app="notebook")
            browser.run_all(page, 300)
            assert not page.evaluate(browser.JS_ERRORS)
            found = browser.controls_with_figures(page, "slider")
            assert len(found) >= 3, f"expected 02's sliders beside their figure; found {len(found)}"
            for control, handle, figure in found:
                label = control.query_selector(".widget-label").inner_text().strip()
                readout = control.query_selector(".widget-readout")
                before = readout.inner_text()
                browser.move_slider(page, handle, figure, BOUND_S)   # raises if no new figure
                assert readout.inner_text() != before, f"Notebook 7: the arrow key did not move {label!r}"
            for control, handle, figure in found:    # drags: press, move a third of the track, let go
                label = control.query_selector(".widget-label").inner_text().strip()
                readout = control.query_selector(".widget-readout")
                before, shot = readout.inner_text(), figure.screenshot()
                track, box = control.query_selector(".noUi-target").bounding_box(), handle.bounding_box()
                x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                step = (track["width"] / 3) * (1 if x < track["x"] + track["width"] / 2 else -1)
                page.mouse.move(x, y)
                page.mouse.down()
                for i in range(1, 11):
                    page.mouse.move(x + step * i / 10, y)
                page.mouse.up()
                page.wait_for_timeout(1500)
                assert readout.inner_text() != before, f"Notebook 7: dragging {label!r} did not move it"
                assert figure.screenshot() != shot, f"Notebook 7: dragging {label!r} did not change its figure"
        finally:
            b.close()
