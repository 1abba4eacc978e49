"""Every notebook at other SEEDs (``make test`` runs these with ``-m seeds`` after nbval runs SEED 0).

The SEEDs come from the environment variable DLCORE_SEEDS (default '1 2'); a failure names the
notebook, the SEED, the cell and the check. The machinery is in tests/seed_sweep.py."""
import os

import pytest

from seed_sweep import NOTEBOOKS, LessonCheckFailed, parameters_cell, parse_seeds, run, with_seed

SEEDS = parse_seeds(os.environ.get("DLCORE_SEEDS", "1 2"))


@pytest.mark.seeds
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_checks_hold_at_seed(path, seed, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        run(path, seed)
    except LessonCheckFailed as err:
        pytest.fail(str(err), pytrace=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_one_seed_parameter(path):
    """The first code cell is tagged 'parameters' and sets SEED = 0 (and nothing random runs before it)."""
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    i = parameters_cell(nb)
    first_code = next(j for j, c in enumerate(nb.cells) if c.cell_type == "code")
    assert i == first_code, "the parameters cell must be the first code cell"
    assigned = {t.id: node.value for node in ast.parse(nb.cells[i].source).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    assert "SEED" in assigned, "the parameters cell must set SEED"
    assert isinstance(assigned["SEED"], ast.Constant) and assigned["SEED"].value == 0, "SEED = 0 by default"


def test_injection_goes_after_the_parameters_cell():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("SEED = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(SEED)"),
    ])
    injected, at = with_seed(nb, 7)
    assert at == 2 and injected.cells[2].source.startswith("SEED = 7")
    assert len(nb.cells) == 3, "the original notebook is not modified"


def test_a_notebook_without_parameters_cell_is_refused():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="tagged 'parameters'"):
        parameters_cell(nb)


@pytest.mark.parametrize("text, seeds", [("1 2", [1, 2]), ("0-3", [0, 1, 2, 3]), ("5,7", [5, 7])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


def test_a_failing_check_names_notebook_seed_and_check(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("SEED = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = SEED * 2\nassert x < 5, 'x must stay small'"),
    ])
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    run(path, 2, export=False)
    with pytest.raises(LessonCheckFailed) as err:
        run(path, 3, export=False)
    msg = str(err.value)
    assert "99_demo.ipynb at SEED=3" in msg and "cell 1" in msg and "x must stay small" in msg
    assert "assert x < 5" in msg


def _executed_demo(tmp_path, extra_cells):
    import nbformat

    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_code_cell("SEED = 0", metadata={"tags": ["parameters"]}), *extra_cells])
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    return path


PANEL = """import matplotlib
from dlcore import plot, widgets
fig, ax = plot.figure(figsize=(3, 2))
(line,) = ax.plot([0, 1], [0, 1])
widgets.Panel(fig, lambda s: line.set_ydata([0, s]), animated=[line], s=widgets.slider("s", 0.1, 2.0, value=1.0))"""


def test_export_check_passes_a_panel_and_a_silent_self_check(tmp_path):
    import nbformat

    v4 = nbformat.v4
    path = _executed_demo(tmp_path, [
        v4.new_code_cell(PANEL),
        v4.new_code_cell("from dlcore import exercise\nmy_k = None\nexercise.check(1, 'my_k', my_k, 8, why='k = 8')"),
    ])
    run(path, 0)        # a Panel carries its image; the unset prediction reveals nothing


def test_export_check_catches_answers_and_bare_widgets(tmp_path):
    import nbformat

    v4 = nbformat.v4
    path = _executed_demo(tmp_path, [
        v4.new_code_cell(PANEL),
        v4.new_code_cell("import ipywidgets as W\nW.IntSlider()"),
        v4.new_code_cell("print('Exercise 1: set my_k (k = 8)')"),
    ])
    with pytest.raises(LessonCheckFailed) as err:
        run(path, 0)
    msg = str(err.value)
    assert "static export is wrong" in msg
    assert "cell 2" in msg and "widget with no static image" in msg
    assert "cell 3" in msg and "answers before a prediction" in msg


def test_export_check_wants_a_figure_early(tmp_path):
    import nbformat

    v4 = nbformat.v4
    path = _executed_demo(tmp_path, [v4.new_code_cell("\n".join(f"x{i} = {i}" for i in range(45))),
                                     v4.new_code_cell(PANEL)])
    with pytest.raises(LessonCheckFailed, match="visible code lines before the first figure"):
        run(path, 0)
