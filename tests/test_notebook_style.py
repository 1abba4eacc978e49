"""Every notebook reads like a lesson: little visible code per cell, prose around it (issue 13).

The numbers and targets are defined in tests/notebook_style.py (``python tests/notebook_style.py``
prints the table); the first-figure target needs outputs, so the export check in
tests/seed_sweep.py asserts it on each executed notebook.
"""
import nbformat
import pytest

from notebook_style import NOTEBOOKS, measure, problems

PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_meets_readability_targets(path):
    nb = nbformat.read(path, as_version=4)
    assert problems(nb) == []


def test_measure_counts_visible_lines_only():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("one two three four five six seven eight nine ten eleven twelve $x$ 1"),
        v4.new_code_cell("a = 1\n\nb = 2"),
        v4.new_code_cell("# draws the figure\n" + "x = 1\n" * 40, metadata={"jupyter": {"source_hidden": True}}),
        v4.new_code_cell("c = 3", outputs=[v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "f"})]),
    ])
    m = measure(nb)
    assert (m["code_cells"], m["folded"], m["median"], m["max"], m["visible_lines"]) == (3, 1, 1.5, 2, 3)
    assert m["words_per_line"] == pytest.approx(13 / 3)      # "$x$" has letters, "1" has none
    assert m["before_figure"] == 3
    assert any("words of prose" in p for p in problems(nb))


def test_folded_cell_must_say_what_it_does():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("word " * 100),
                                v4.new_code_cell("x = 1", metadata={"jupyter": {"source_hidden": True}}),
                                v4.new_code_cell("y = 2")])
    assert any("does not open with a '#' line" in p for p in problems(nb))


def test_self_check_that_spells_out_the_answer_must_be_folded():
    v4 = nbformat.v4
    check = 'exercise.check(1, "my_k", my_k, k, why=f"k = {k}: the batch size")'
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("word " * 100), v4.new_code_cell(check)])
    assert any("shows an exercise's answer" in p for p in problems(nb))
    nb.cells[1].metadata["jupyter"] = {"source_hidden": True}
    nb.cells[1].source = "# Self-check (unfold after you predict)\n" + check
    assert not any("shows an exercise's answer" in p for p in problems(nb))
    nb.cells[1] = v4.new_code_cell('exercise.check(1, "my_k", my_k, k, why=WHY[1])')   # computed in a folded cell
    assert not any("shows an exercise's answer" in p for p in problems(nb))
