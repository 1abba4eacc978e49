"""The presenting path: `make present` serves presenter copies of the notebooks as Voila apps.

The unit tests check tools/present.py (what the copies leave out and how they read without code).
The browser test (marker ``browser``) starts Voila as `make present` does (127.0.0.1, a token,
kernel culling; here with short timeouts), opens notebook 01 in a headless Chromium, moves a slider
and checks that the figure changes, then checks that the kernels of closed pages are freed: at
once when the page says so on closing (Voila's beforeunload beacon), and by the culler within
its timeout plus one interval when it cannot (a killed tab: no beforeunload), while the kernel of
a page that stays open is never culled. Skipped like tests/test_browser.py where no Chromium is
found; DLCORE_BROWSER_TESTS=required makes that a failure.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import present  # noqa: E402

VOILA_CONFIG = ROOT / "tools" / "voila_config"   # `make present`'s: the page sets the cookie its beacon needs
CULL_IDLE_S, CULL_EVERY_S = 6, 2        # the test's culling; `make present` uses 60 and 30
PAGE_TIMEOUT_S = 120                    # notebook 01 renders in ~7 s alone on 2 cores
SLIDER_TIMEOUT_S = 15


# ------------------------------------------------------------------------------ presenter copies

@pytest.fixture(scope="module")
def copies():
    return {p.name: (nbformat.read(p, as_version=4), *present.presenter_copy(nbformat.read(p, as_version=4)))
            for p in present.NOTEBOOKS}


def test_every_notebook_has_an_exercises_section(copies):
    for name, (nb, _, _) in copies.items():
        assert any(c.cell_type == "markdown" and present.EXERCISES.search(c.source) for c in nb.cells), name


def test_copies_leave_out_the_exercises(copies):
    for name, (nb, copy, report) in copies.items():
        assert report["left_out"] >= 2, name                     # at least a prediction cell and a self-check
        assert len(copy.cells) == len(nb.cells) - report["left_out"], name
        code = "\n".join(c.source for c in copy.cells if c.cell_type == "code")
        assert "exercise.check(" not in code, name
        assert not re.search(r"^(my_\w+|prediction_\d+) = None", code, re.M), name
        text = "\n".join(c.source for c in copy.cells if c.cell_type == "markdown")
        assert not present.EXERCISES.search(text), name
        assert "## Summary" in text, f"{name}: the summary stays"


def test_copies_do_not_talk_about_cells(copies):
    for name, (_, copy, _) in copies.items():
        for c in copy.cells:
            if c.cell_type == "markdown":
                hit = present.ABOUT_CELLS.search(c.source)
                assert hit is None, f"{name} cell {c.id}: {c.source[max(0, hit.start() - 60):hit.end() + 60]!r}"


def test_copies_keep_everything_else(copies):
    for name, (nb, copy, _) in copies.items():
        ids = [c.id for c in nb.cells]
        kept = [c.id for c in copy.cells]
        assert kept == [i for i in ids if i in set(kept)], f"{name}: order or ids changed"
        before = {c.id: c for c in nb.cells}
        for c in copy.cells:
            assert c.metadata == before[c.id].metadata, f"{name} {c.id}: metadata changed"
            if c.cell_type == "code":
                assert c.source == before[c.id].source and c.outputs == [], f"{name} {c.id}"
        changed = sum(c.source != before[c.id].source for c in copy.cells)
        assert changed <= 9, f"{name}: {changed} cells rewritten"       # a light touch: 3-8 per notebook


@pytest.mark.parametrize("before, after", [
    ("A loop (folded below) runs.", "A loop runs."),
    ("Runs on 9 sets (folded below: all 36 networks at once).", "Runs on 9 sets (all 36 networks at once)."),
    ("The sliders are in section 3; the folded cells hold set-up, and the figures are drawn by `f`.",
     "The sliders are in section 3, and the figures are drawn by `f`."),
    ("Folded cells (click to open) hold set-up; the figures are drawn by `f`.", "The figures are drawn by `f`."),
    ("One.\nA folded cell checks it.\n\n## Next", "One.\n\n## Next"),
    ("Left, a block; about half the cells are white, several-fold.", "Left, a block; about half the cells are white, several-fold."),
    ("The folded cell stacks them (one (nested) product), and `step` is one step:", "`step` is one step:"),
])
def test_rewrite_prose(before, after):
    assert present.rewrite_prose(before) == after


def test_a_left_out_cell_that_later_cells_need_runs_silently():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_code_cell("SEED = 0", metadata={"tags": ["parameters"]}),
        v4.new_markdown_cell("## Summary\n\n* it holds\n\n## Exercises\n\n1. Predict."),
        v4.new_code_cell("my_x = None"),
        v4.new_code_cell("answer = 2\nexercise.check(1, 'my_x', my_x, answer)"),
        v4.new_markdown_cell("### Aside\n\nMore."),
        v4.new_code_cell("print(answer)"),
    ])
    copy, report = present.presenter_copy(nb)
    assert report == {"left_out": 1, "silenced": 1, "rewritten": 0}
    assert [c.source.splitlines()[0] for c in copy.cells] == [
        "SEED = 0", "## Summary", "%%capture", "### Aside", "print(answer)"]
    assert len(nb.cells) == 6 and nb.cells[3].source.startswith("answer"), "the notebook itself is untouched"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"notebook '42'.*01"):
        present.resolve(["42"])
    with pytest.raises(ValueError, match="nbformat|notebook number"):
        present.resolve(["nope.txt"])
    with pytest.raises(TypeError, match="nb must be a notebook"):
        present.presenter_copy({"cells": []})
    with pytest.raises(TypeError, match="out must be a directory path"):
        present.write_copies(["01"], out=3)
    assert present.resolve("1") == present.resolve(["01"]) == [present.NOTEBOOKS[0]]


def test_write_copies(tmp_path):
    written = present.write_copies(["01", "03"], tmp_path)
    assert [p.name for p in written] == [present.NOTEBOOKS[0].name, present.NOTEBOOKS[2].name]
    for p in written:
        nbformat.validate(nbformat.read(p, as_version=4))


def test_makefile_present_target():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^present:.*?(?=^\S|\Z)", text, re.M | re.S).group(0)
    for setting in ("--Voila.ip=127.0.0.1", "--Voila.auto_token=True", "cull_idle_timeout=$(CULL_IDLE)",
                    "--Voila.config_file_paths=$(CURDIR)/tools/voila_config",
                    "cull_interval=$(CULL_EVERY)", "cull_connected=False", "tools/present.py"):
        assert setting in recipe, setting
    assert re.search(r"^CULL_IDLE\s*\?=\s*60$", text, re.M) and re.search(r"^CULL_EVERY\s*\?=\s*30$", text, re.M)


# ---------------------------------------------------------------------------------- in a browser

def _chromium_or_skip():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import browser

    path = browser.find_chromium()
    missing = ("no Chromium found" if path is None
               else None if importlib.util.find_spec("playwright") else "the playwright package is missing")
    if missing is None and importlib.util.find_spec("voila") is None:
        missing = "the voila package is missing (pip install -e '.[dev]')"
    if missing:
        message = f"skipped: {missing} ({browser.INSTALL_HINT})"
        if os.environ.get(browser.REQUIRED_ENV) == "required":
            pytest.fail(f"{browser.REQUIRED_ENV}=required but {message}")
        pytest.skip(message)
    return path, browser.launch_args()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None                     # a redirect (to the login page) is the answer itself


_NO_REDIRECTS = urllib.request.build_opener(_Stay)


class Voila:
    """`make present`'s server on copies in ``served``, with the test's cull timeouts."""

    def __init__(self, served: Path, log: Path):
        self.port, self.token = _free_port(), secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DLCORE_PRESENTER="1", OMP_NUM_THREADS="1")
        env.pop("MPLBACKEND", None)
        cmd = [sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={self.port}",
               f"--token={self.token}", "--show_tracebacks=True", f"--Voila.config_file_paths={VOILA_CONFIG}",
               f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
               f"--MappingKernelManager.cull_interval={CULL_EVERY_S}",
               "--MappingKernelManager.cull_connected=False", str(served)]
        self.log_path = log
        self._log = open(log, "w")
        self.proc = subprocess.Popen(cmd, env=env, cwd=served, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while self.status("/") != 200:
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"Voila did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)

    def status(self, path: str, token: bool = True) -> int:
        url = self.base + path + (f"?token={self.token}" if token else "")
        try:
            with _NO_REDIRECTS.open(url, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            return -1

    def kernel_alive(self, kernel_id: str) -> bool:
        code = self.status(f"/api/kernels/{kernel_id}")
        assert code in (200, 404), f"/api/kernels answered {code}"
        return code == 200

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


# A slider ([role=slider]: ipywidgets' handle; or an <input type=range>) and the figure it redraws:
# the first <img>/<canvas> in the slider's nearest enclosing element that has one.
JS_SLIDER_AND_FIGURE = """() => {
    const sliders = [...document.querySelectorAll('[role=slider], input[type=range]')];
    for (const s of sliders.reverse()) {
        for (let box = s.parentElement; box; box = box.parentElement) {
            const fig = box.querySelector('img, canvas');
            if (fig) { s.setAttribute('data-dlcore-test', 'slider'); fig.setAttribute('data-dlcore-test', 'figure'); return true; }
        }
    }
    return false;
}"""
JS_FIGURE_PRINT = """() => { const f = document.querySelector('[data-dlcore-test=figure]');
    return f.tagName === 'CANVAS' ? f.toDataURL() : f.src; }"""
JS_KERNEL_ID = "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"


def _culled(server) -> str:
    """The culler's lines in the server's log ("Culling 'idle' kernel 'python3' (<id>) with 0 connections ...")."""
    server._log.flush()
    return "\n".join(line for line in server.log_path.read_text().splitlines() if "Culling 'idle' kernel" in line)


def _shut_by_beacon(server, kernel: str) -> bool:
    """The kernel's shutdown was logged before any culling of it (the culler may still find it
    while it shuts down, and say so)."""
    lines = server.log_path.read_text().splitlines()
    shut = next((i for i, line in enumerate(lines) if f"Kernel shutdown: {kernel}" in line), None)
    culled = next((i for i, line in enumerate(lines) if "Culling 'idle' kernel" in line and kernel in line), None)
    return shut is not None and (culled is None or shut < culled)


def _wait(predicate, timeout_s: float, step_s: float = 0.25) -> float | None:
    """Seconds until predicate() is true, or None after timeout_s."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if predicate():
            return time.perf_counter() - start
        time.sleep(step_s)
    return None


@pytest.mark.browser
def test_voila_slider_and_kernels_freed(tmp_path):
    chromium_path, args = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    served = tmp_path / "present"
    name = present.write_copies(["01"], served)[0].name
    server = Voila(served, tmp_path / "voila.log")
    try:
        assert server.status(f"/voila/render/{name}", token=False) in (302, 401, 403), "no token, no page"
        with sync_playwright() as p:
            chrome = p.chromium.launch(executable_path=chromium_path, headless=True, args=args)
            try:
                def open_page():
                    page = chrome.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(f"{server.base}/voila/render/{name}?token={server.token}",
                              timeout=PAGE_TIMEOUT_S * 1000, wait_until="load")
                    page.wait_for_function(JS_SLIDER_AND_FIGURE, timeout=PAGE_TIMEOUT_S * 1000, polling=500)
                    return page, page.evaluate(JS_KERNEL_ID)

                # 1. the presenter's page: the lesson without exercises, a slider that redraws its figure
                page, kernel = open_page()
                text = page.inner_text("body")
                assert "Traceback" not in text, text[text.find("Traceback") - 200:][:1500]
                assert "Exercise" not in text and "Summary" in text
                # an open page is never culled: idle past the timeout and two intervals, still alive
                time.sleep(CULL_IDLE_S + 2 * CULL_EVERY_S + 1)
                assert server.kernel_alive(kernel), "the open page's kernel was culled"
                before = page.evaluate(JS_FIGURE_PRINT)
                handle = page.locator("[data-dlcore-test=slider]")
                at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax") \
                    and handle.get_attribute("aria-valuemax") is not None
                handle.focus()
                start = time.perf_counter()
                handle.press("ArrowLeft" if at_max else "ArrowRight")
                page.wait_for_function(f"(b) => ({JS_FIGURE_PRINT})() !== b", arg=before,
                                       timeout=SLIDER_TIMEOUT_S * 1000, polling=100)
                slider_ms = 1000 * (time.perf_counter() - start)
                # 2. leaving it (closing the tab, reloading, following a link): Voila's beforeunload beacon
                # shuts the kernel at once. (Playwright's page.close(run_before_unload=True) runs the
                # handler but tears the page down before the beacon leaves; navigating away does not.)
                page.goto("about:blank")
                beacon_s = _wait(lambda: not server.kernel_alive(kernel), 10)
                page.close()
                assert "'_xsrf' argument missing" not in server.log_path.read_text(), "the beacon was refused"
                assert beacon_s is not None, "leaving the page (beforeunload) did not shut its kernel"
                assert _shut_by_beacon(server, kernel), "the culler, not the page's beacon, shut the kernel"

                # 3. a page that dies without beforeunload: the culler frees its kernel
                page, kernel = open_page()
                page.close(run_before_unload=False)
                cull_s = _wait(lambda: not server.kernel_alive(kernel), CULL_IDLE_S + CULL_EVERY_S + 10)
                assert cull_s is not None, f"kernel {kernel} still alive {CULL_IDLE_S + CULL_EVERY_S + 10} s after its page died"
                assert f"({kernel}) with 0 connections" in _culled(server), "the dead page's kernel was not culled"
            finally:
                chrome.close()
        print(f"\nVoila 01: slider to new figure {slider_ms:.0f} ms; kernel freed {beacon_s:.1f} s after "
              f"the page was left (beacon), {cull_s:.1f} s after a page died (culler: idle {CULL_IDLE_S} s, "
              f"every {CULL_EVERY_S} s)")
    finally:
        server.close()
