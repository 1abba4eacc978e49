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


# ------------------------------------------------------------------ no bar is ever left behind
# tests/seed_sweep.py's export check runs leftover_bars on every notebook it executes, at every SEED.

import ast
import re
from pathlib import Path

from seed_sweep import leftover_bars

ROOT = Path(__file__).resolve().parents[1]


def test_leftover_bars_finds_each_kind():
    v4 = nbformat.v4
    tqdm_text = v4.new_output("stream", name="stderr", text="training:   1%|          | 2/300 [00:00<00:10]")
    widget_text = v4.new_output("display_data", data={"text/plain": "HBox(children=(IntProgress(value=2, max=300),))"})
    view = v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "box"},
                                               "text/plain": ""})
    clean = v4.new_output("display_data", data={"text/plain": ""})
    nb = v4.new_notebook(cells=[v4.new_code_cell(outputs=[o]) for o in (tqdm_text, widget_text, view, clean)])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_bar", "IPY_MODEL_label"]}},
        "bar": {"model_name": "IntProgressModel", "state": {}}, "label": {"model_name": "HTMLModel", "state": {}}}}}
    assert [f.split(" ")[1] for f in leftover_bars(nb)] == ["0", "1", "2"]


FIT_CELLS = [
    # Every bar fit() makes is shown at once (delay 0), so that the short runs below show one.
    """import torch
import dlcore.train as T
from dlcore.progress import Progress

class Shown(Progress):
    opened = 0
    def __init__(self, *args, **kwargs):
        kwargs["delay"] = 0.0
        super().__init__(*args, **kwargs)
    def _open(self):
        Shown.opened += 1
        super()._open()

T.Progress = Shown
X = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
y = (X[:, 0] > 0).long()
net = lambda: torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))""",
    # a run to the end
    """h = T.fit(net(), (X, y), steps=60, batch_size=32, lr=0.1)
print("full run, bars shown:", Shown.opened, "diverged:", h.diverged_at)""",
    # the case: a run that diverges in its first steps
    """h = T.fit(net(), (X, y), steps=300, batch_size=32, lr=1e4, blowup=1.5)
print("diverged run, bars shown:", Shown.opened, "diverged at:", h.diverged_at)""",
    # a run stopped by an error (as by an interrupt)
    """class Breaks(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.calls = torch.nn.Linear(2, 2), 0
    def forward(self, x):
        self.calls += 1
        if self.calls == 3:
            raise KeyboardInterrupt("stopped at step 3")
        return self.lin(x)

try:
    T.fit(Breaks(), (X, y), steps=300)
except KeyboardInterrupt:
    print("interrupted run, bars shown:", Shown.opened)""",
]


def test_fit_leaves_no_bar_however_the_run_ends():
    """dlcore.train.fit (the one maker of bars in dlcore, checked below): run to the end, diverged
    at an early step, interrupted; each showed its bar, and none is left in the saved outputs."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in FIT_CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    printed = [
        "".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream") for c in nb.cells[1:]]
    assert re.search(r"full run, bars shown: 1 diverged: None", printed[0]), printed[0]
    m = re.search(r"diverged run, bars shown: 2 diverged at: (\d+)", printed[1])
    assert m and int(m.group(1)) <= 10, printed[1]
    assert "interrupted run, bars shown: 3" in printed[2], printed[2]
    assert leftover_bars(nb) == []


def _python_files():
    return sorted((ROOT / "dlcore").rglob("*.py"))


def test_every_bar_goes_through_progress():
    """No module but dlcore/progress.py and no notebook makes a bar of its own (tqdm, an
    ipywidgets IntProgress/FloatProgress): every bar is a dlcore.progress.Progress."""
    maker = re.compile(r"\btqdm\b|\b(?:Int|Float)Progress\b")
    offenders = [str(p.relative_to(ROOT)) for p in _python_files()
                 if p.name != "progress.py" and maker.search(p.read_text(encoding="utf-8"))]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        offenders += [f"{path.name} cell {c.get('id')}" for c in nb.cells
                      if c.cell_type == "code" and maker.search(c.source)]
    assert offenders == []


def _closes(func: ast.AST, name: str) -> bool:
    """``name`` is closed in a finally block (or the bar is used as a context manager)."""
    for node in ast.walk(func):
        if isinstance(node, ast.Try):
            for stmt in node.finalbody:
                for call in ast.walk(stmt):
                    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                            and call.func.attr == "close" and isinstance(call.func.value, ast.Name)
                            and call.func.value.id == name):
                        return True
    return False


def test_every_progress_is_closed_in_a_finally():
    """Each Progress(...) made in dlcore is either a `with` item or assigned to a name that a
    `finally:` of the same function closes: an early stop (divergence, early stopping, an
    exception) cannot skip the close."""
    made = []
    for path in _python_files():
        if path.name == "progress.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            with_items = {id(item.context_expr) for node in ast.walk(func) if isinstance(node, ast.With)
                          for item in node.items}
            for node in ast.walk(func):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Progress"):
                    continue
                made.append(f"{path.name}:{node.lineno}")
                if id(node) in with_items:
                    continue
                target = next((a.targets[0].id for a in ast.walk(func) if isinstance(a, ast.Assign)
                               and a.value is node and isinstance(a.targets[0], ast.Name)), None)
                assert target and _closes(func, target), f"{path.name}:{node.lineno}: a Progress not closed in a finally"
    assert made, "dlcore.train.fit makes a Progress; the scan found none"
