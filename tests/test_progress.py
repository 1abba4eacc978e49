"""The progress bar leaves no trace in the saved notebook once its run ends, however it ends."""
import nbformat
import pytest
from nbclient import NotebookClient

CELL = """
import time
from dlcore.progress import Progress
bar = Progress(5, "training", delay=0.01)
for i in range(5):
    time.sleep(0.12)
    bar.update(i + 1)
    if i == 1 and STOP_EARLY:
        break
shown = bar._handle is not None
bar.close()
print("shown" if shown else "never shown")
"""


@pytest.mark.parametrize("stop_early", [False, True])
def test_closed_bar_leaves_empty_output(stop_early):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"STOP_EARLY = {stop_early}\n" + CELL)])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in outputs)
    assert text.strip() == "shown"          # it was on screen, and nothing of it is left
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_short_or_disabled_run_shows_nothing(capsys):
    from dlcore.progress import Progress

    for bar in (Progress(3, "quick", delay=10.0), Progress(3, "off", delay=0.0, disable=True)):
        for i in range(3):
            bar.update(i + 1)
        assert bar._terminal is None and bar._handle is None
        bar.close()
    assert capsys.readouterr().err == ""


def test_terminal_bar_outside_a_kernel():
    import time

    from dlcore.progress import Progress

    with Progress(3, "terminal", delay=0.0) as bar:
        time.sleep(0.11)
        bar.update(2)
        assert bar._terminal is not None and bar._terminal.n == 2
    assert bar._terminal is None


@pytest.mark.parametrize("kw, match", [({"total": -1}, "total"), ({"total": 3, "delay": -1}, "delay")])
def test_bad_arguments(kw, match):
    from dlcore.progress import Progress

    with pytest.raises(ValueError, match=match):
        Progress(**kw)
