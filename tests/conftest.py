"""Shared test setup: a headless matplotlib backend and a clean DLCORE_* environment."""
import matplotlib

matplotlib.use("agg")  # before anything imports pyplot; never via the MPLBACKEND variable

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Tests see no DLCORE_DEVICE / DLCORE_PRESENTER from the shell that started pytest."""
    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    monkeypatch.delenv("DLCORE_PRESENTER", raising=False)



_SESSION_START = __import__("time").time()


def pytest_terminal_summary(terminalreporter):
    """After a run with browser tests: what a student waits for, per notebook and slider."""
    import json
    from pathlib import Path

    reports = sorted(Path(__file__).resolve().parents[1].glob("build/browser/*.json"))
    rows = [json.loads(p.read_text()) for p in reports]
    rows = [r for r in rows if r.get("time", 0) >= _SESSION_START]
    if not rows:
        return
    tr = terminalreporter
    tr.section("notebooks in JupyterLab + Chromium (screenshots in build/browser/)")
    for r in rows:
        tr.write_line(f"{r['notebook']}: run all {r['run_all_s']:.1f} s")
        for label, ms in r["slider_ms"].items():
            tr.write_line(f"    {label!r}: from the key press (or choice) to the new figure painted {ms:.0f} ms")


@pytest.fixture(autouse=True)
def _lesson_style(request):
    """tests/test_figures_*.py: every test draws in the lesson style (not presenter mode), in an
    rc context of its own, and leaves no pyplot figure open."""
    if not request.module.__name__.startswith("test_figures_"):
        yield
        return
    import matplotlib.pyplot as plt

    from dlcore import plot

    with matplotlib.rc_context():
        plot.style(presenter=False)
        yield
    plt.close("all")
