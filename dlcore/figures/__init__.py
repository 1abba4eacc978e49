"""Each notebook's figures and slider panels, one module per lesson (``dlcore.figures.symmetry``
for notebook 01, ...), so that a notebook shows the lesson's algorithm and a one-line call that
draws it, not the matplotlib artists behind the picture.

A module here draws what the notebook computed and passes it in; it never trains or measures
anything a lesson check relies on, and the numerical core never imports it. Each returns the
figure (and, for a slider, a :class:`dlcore.widgets.Panel`) with handles the notebook's checks
read back (titles, lines). Import the lesson's module by name:
``from dlcore.figures import symmetry``.
"""
