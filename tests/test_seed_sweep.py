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
    run(path, 2)
    with pytest.raises(LessonCheckFailed) as err:
        run(path, 3)
    msg = str(err.value)
    assert "99_demo.ipynb at SEED=3" in msg and "cell 1" in msg and "x must stay small" in msg
    assert "assert x < 5" in msg
