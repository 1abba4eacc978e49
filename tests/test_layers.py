"""The numerical core never imports the presentation layer (matplotlib, ipywidgets, dlcore.figures)."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

DLCORE = Path(__file__).resolve().parent.parent / "dlcore"
PRESENTATION = {"plot", "widgets", "figures"}
CORE = sorted(p for p in DLCORE.rglob("*.py")
              if p.relative_to(DLCORE).parts[0].removesuffix(".py") not in PRESENTATION)


def test_import_dlcore_stays_light():
    code = ("import sys, dlcore; heavy = [m for m in ('matplotlib', 'ipywidgets', 'dlcore.figures', "
            "'dlcore.plot', 'dlcore.widgets') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(DLCORE)))
def test_core_module_imports_no_presentation(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:      # from . import plot, from .figures import x
            names = [f"dlcore.{n}" for n in [node.module or "", *(a.name for a in node.names)] if n]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[:2] not in [["dlcore", m] for m in PRESENTATION], (
                f"{path.name} imports {name}: the numerical core must not import the presentation layer")
