"""JupyterLab in a real (headless) Chromium, driven by Playwright: the harness for test_browser.py.

Kept apart from the test so the steps read in order there: start a server on a copy of the
notebooks (JupyterLab autosaves, and the repository's notebooks must stay output-free), open a
notebook in a fresh workspace, run all cells, read errors from the notebook model, move sliders.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

CHROMIUM_ENV = "DLCORE_CHROMIUM"           # path to a Chromium/Chrome binary, if not on PATH
REQUIRED_ENV = "DLCORE_BROWSER_TESTS"      # "required": a missing browser fails instead of skipping
INSTALL_HINT = "install it with `sudo apt-get install chromium` (Debian/Ubuntu) or set DLCORE_CHROMIUM"

# Settings for a test server: every cell rendered (no virtual scrolling, so all outputs exist in
# the DOM and the screenshot shows the whole notebook), no news pop-up over the figures.
NOTEBOOK_SETTINGS = "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
LAB_SETTINGS = {
    NOTEBOOK_SETTINGS: {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}
# JupyterLab's windowing modes (how it renders cells outside the viewport). The tests use "none",
# every cell laid out and painted (the screenshots need it); a student's JupyterLab 4 runs
# "contentVisibility", where the browser skips the off-screen cells (benchmarks/drag.py measures both).
WINDOWING_MODES = ("none", "contentVisibility", "defer", "full")


# The project's Jupyter settings (etc/jupyter/README.md), as `make lab` uses them.
CONFIG_PATH = Path(__file__).resolve().parents[1] / "etc" / "jupyter"
SERVER_ARGS: list[str] = []
SERVER_ROOT: Path | None = None   # the running test server's folder (its kernels' files are in it)   # more options for the test server (benchmarks try settings with it)


def find_chromium() -> str | None:
    """A Chromium binary: $DLCORE_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH."""
    if os.environ.get(CHROMIUM_ENV):
        path = os.environ[CHROMIUM_ENV]
        return path if os.access(path, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def chromium_or_skip() -> str:
    """The Chromium to test with; skips the test (with the reason) where there is none or no
    playwright package, or fails it when $DLCORE_BROWSER_TESTS is "required" (as in CI)."""
    import importlib.util

    import pytest

    path = find_chromium()
    missing = ("no Chromium found" if path is None
               else None if importlib.util.find_spec("playwright") else "the playwright package is missing")
    if missing:
        message = f"skipped: {missing} ({INSTALL_HINT})"
        if os.environ.get(REQUIRED_ENV) == "required":
            pytest.fail(f"{REQUIRED_ENV}=required but {message}")
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(notebooks: list[Path], app: str = "lab", windowing: str = "none"):
    """A JupyterLab server (``app="notebook"``: Notebook 7) from this environment on 127.0.0.1, a
    free port and a fresh token, serving copies of ``notebooks``; yields (base_url, token). Always
    shut down, kernels too. ``windowing``: the notebook's windowing mode (WINDOWING_MODES)."""
    global SERVER_ROOT
    if windowing not in WINDOWING_MODES:
        raise ValueError(f"windowing must be one of {WINDOWING_MODES}; got {windowing!r}")
    root = SERVER_ROOT = Path(tempfile.mkdtemp(prefix="dlcore-lab-"))
    served = root / "notebooks"
    served.mkdir()
    for nb in notebooks:
        shutil.copy(nb, served / nb.name)
    for name, value in {**LAB_SETTINGS, NOTEBOOK_SETTINGS: {"windowingMode": windowing}}.items():
        path = root / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(24)
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(CONFIG_PATH), JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    env.pop("MPLBACKEND", None)  # the kernel must pick the inline backend, as for a student
    if app not in ("lab", "notebook"):
        raise ValueError(f"app must be 'lab' or 'notebook'; got {app!r}")
    expose = "LabApp" if app == "lab" else "JupyterNotebookApp"
    cmd = [sys.executable, "-m", "jupyter", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
           f"--{expose}.expose_app_in_browser=True",   # window.jupyterapp: run commands, read models
           *SERVER_ARGS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(root / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def launch_args() -> list[str]:
    args = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-gpu", "--disable-dev-shm-usage"]   # CI has no network and a small /dev/shm
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")                        # Chromium refuses to sandbox as root
    return args


CURRENT = "window.jupyterapp.shell.currentWidget"

JS_KERNEL_IDLE = f"""() => {{
    const w = window.jupyterapp && {CURRENT};
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle';
}}"""

# Done when the kernel is idle and no cell waits ([*]) and either every code cell has run or one
# failed (JupyterLab stops a run-all at the first error).
JS_RUN_FINISHED = f"""() => {{
    const w = {CURRENT};
    const k = w.sessionContext.session && w.sessionContext.session.kernel;
    if (!k || k.status !== 'idle') return false;
    const cells = [...w.content.model.cells].filter(c => c.type === 'code');
    const failed = cells.some(c => c.outputs.toJSON().some(o => o.output_type === 'error'));
    const prompts = [...w.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
    if (prompts.some(p => p.includes('*'))) return false;
    return failed || cells.every(c => c.executionCount !== null);
}}"""

JS_ERRORS = f"""() => [...{CURRENT}.content.model.cells].flatMap((c, i) =>
    c.type !== 'code' ? [] : c.outputs.toJSON().filter(o => o.output_type === 'error')
        .map(o => `cell ${{i}}: ${{o.ename}}: ${{o.evalue}}`))"""

# What a widget that failed shows in place of itself (ipywidgets 7 and 8, JupyterLab 3 and 4).
WIDGET_FAILURES = ("Error displaying widget", "model not found", "Failed to load model class",
                   "Could not create a view", "Click to show javascript error", "Loading widget...")
WIDGET_FAILURE_SELECTOR = ".jupyter-widgets-error-widget, .jupyter-widget-error"
# A matplotlib figure IPython could not draw shows as its text repr instead of a picture.
FIGURE_AS_TEXT = r"<Figure size \d+x\d+ with \d+ Axes>"


def open_notebook(page, base: str, token: str, name: str, app: str = "lab") -> None:
    """Open ``name`` (in JupyterLab: in its own workspace, so restored tabs don't interfere) and
    wait for its kernel."""
    page.goto(f"{base}/lab/workspaces/{uuid.uuid4().hex}/tree/{name}?reset&token={token}" if app == "lab"
              else f"{base}/notebooks/{name}?token={token}")
    page.wait_for_function(JS_KERNEL_IDLE, timeout=120_000)
    page.evaluate(JS_PAINT_PROBE)


def run_all(page, timeout_s: float) -> float:
    """Run every cell through JupyterLab's own command; return the seconds it took."""
    start = time.perf_counter()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_timeout(500)  # let the first cell enter the queue before polling for idle
    page.wait_for_function(JS_RUN_FINISHED, timeout=timeout_s * 1000, polling=250)
    return time.perf_counter() - start


def controls_with_figures(page, kind: str) -> list[tuple]:
    """(control, its input, figure image) for each control of a Panel, with the image in the same box.

    kind 'slider': the input is the slider's handle; kind 'dropdown': its <select>; kind
    'button' (dlcore.widgets.button): the button itself.
    """
    selector, inner = {"slider": (".widget-slider", ".noUi-handle"),
                       "dropdown": (".widget-dropdown", "select"),
                       "button": (".widget-button", None)}[kind]
    found = []
    for control in page.query_selector_all(f".jp-OutputArea {selector}"):
        box = control.evaluate_handle("c => c.closest('.widget-vbox')").as_element()
        img = box.query_selector("canvas.dlcore-figure, img") if box else None
        target = control if inner is None else control.query_selector(inner)
        if img and target:
            found.append((control, target, img))
    return found


# ``window.__dlcoreOnPaint(figure, callback)``: calls back with performance.now() each time the
# figure shows a new picture, painted: an <img> once its new src is decoded and two animation
# frames have passed; a dlcore canvas when it says so (its "dlcore-painted" event). Installed by
# open_notebook; a new call replaces the previous watch.
JS_PAINT_PROBE = """() => {
    window.__dlcoreWatches = [];
    window.__dlcoreOnPaint = (figure, callback) => {
        window.__dlcoreWatches.forEach(stop => stop());
        window.__dlcoreWatches = [];
        if (figure.tagName === 'IMG') {
            let src = figure.src;
            const obs = new MutationObserver(async () => {
                if (figure.src === src) return;
                src = figure.src;
                try { await figure.decode(); } catch (e) {}
                requestAnimationFrame(() => requestAnimationFrame(() => callback(performance.now())));
            });
            obs.observe(figure, {attributes: true, attributeFilter: ['src']});
            window.__dlcoreWatches.push(() => obs.disconnect());
        } else {
            const on = e => callback(e.detail.time);
            figure.addEventListener('dlcore-painted', on);
            window.__dlcoreWatches.push(() => figure.removeEventListener('dlcore-painted', on));
        }
    };
}"""

# Counts, in window.__paints, the pictures ``figure`` paints from now on, independently of
# __dlcoreOnPaint (whose one watch the key-press helpers replace): a dlcore canvas says so ("dlcore-painted"),
# an <img> when its src changes and the new picture is decoded
JS_COUNT_PAINTS = """(figure) => {
    window.__paints = [];
    if (figure.tagName === 'IMG') {
        let src = figure.src;
        new MutationObserver(async () => {
            if (figure.src === src) return;
            src = figure.src;
            try { await figure.decode(); } catch (e) {}
            window.__paints.push(performance.now());
        }).observe(figure, {attributes: true, attributeFilter: ['src']});
    } else {
        figure.addEventListener('dlcore-painted', () => window.__paints.push(performance.now()));
    }
}"""

# Marks when the user acted (key down, or the drop-down's change) and when the figure's next new
# picture was painted.
JS_ARM = """([target, figure, event]) => {
    window.__dlcore = {key: null, painted: null};
    // on the window, first of all: dlcore's figure view handles arrow keys there itself
    const mark = e => {
        if (!target.contains(e.target)) return;
        window.__dlcore.key = performance.now();
        window.removeEventListener(event, mark, true);
    };
    window.addEventListener(event, mark, true);
    // a frame already on its way when the user acted is not the answer: count paints after it
    window.__dlcoreOnPaint(figure, t => {
        const d = window.__dlcore;
        if (d.painted === null && d.key !== null && t > d.key) d.painted = t;
    });
}"""


def kernel_print(page, code: str) -> str:
    """Run ``code`` in the open notebook's kernel (not in a cell); return what it printed."""
    return page.evaluate(f"""async (code) => {{
        const k = {CURRENT}.sessionContext.session.kernel;
        const future = k.requestExecute({{code, silent: false, store_history: false}});
        let out = '';
        future.onIOPub = m => {{ if (m.header.msg_type === 'stream') out += m.content.text; }};
        await future.done;
        return out;
    }}""", code)


def move_slider(page, handle, figure, timeout_s: float) -> float:
    """Press an arrow key on ``handle`` (Right, or Left at the maximum); wait until ``figure`` shows
    a new picture; return the milliseconds from the key press to the new picture being painted."""
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    return press_and_wait(page, handle, figure, "ArrowLeft" if at_max else "ArrowRight", timeout_s)


def press_and_wait(page, handle, figure, key: str, timeout_s: float) -> float:
    """Press ``key`` on ``handle``; the milliseconds until ``figure`` painted a new picture."""
    page.evaluate(JS_ARM, [handle, figure, "keydown"])
    handle.focus()
    handle.press(key)
    return _wait_painted(page, timeout_s)


def pick_next_option(page, select, img, timeout_s: float) -> float:
    """Choose the drop-down's next option (the first after the last); like :func:`move_slider`."""
    n, current = select.evaluate("s => [s.options.length, s.selectedIndex]")
    page.evaluate(JS_ARM, [select, img, "change"])
    select.select_option(index=(current + 1) % n)
    return _wait_painted(page, timeout_s)


def click_button(page, button, img, timeout_s: float) -> float:
    """Click the button; like :func:`move_slider` (the time runs from the mouse press)."""
    page.evaluate(JS_ARM, [button, img, "mousedown"])
    button.click()
    return _wait_painted(page, timeout_s)


def _wait_painted(page, timeout_s: float) -> float:
    page.wait_for_function("() => window.__dlcore.painted !== null", timeout=timeout_s * 1000, polling="raf")
    return page.evaluate("() => window.__dlcore.painted - window.__dlcore.key")


def full_screenshot(page, path: Path) -> None:
    """The whole executed notebook in one image: hide the side bar, grow the viewport to fit."""
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    # the notebook scrolls inside its own box: measure what is inside it, not the box
    height = page.evaluate(f"""() => Math.max(...[{CURRENT}.content.node,
        ...{CURRENT}.content.node.querySelectorAll('.jp-WindowedPanel-outer, .jp-WindowedPanel-inner')]
        .map(e => e.scrollHeight))""")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(int(height) + 200, 16000)})
    page.evaluate(f"""() => [{CURRENT}.content.node,
        ...{CURRENT}.content.node.querySelectorAll('.jp-WindowedPanel-outer')].forEach(e => e.scrollTop = 0)""")
    page.wait_for_timeout(300)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
