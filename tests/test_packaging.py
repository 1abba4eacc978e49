"""The two install paths (pip via pyproject.toml, conda via environment.yml) name the same packages;
notebooks are stored clean; `make test` is what CI runs."""
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None


def _name(requirement: str) -> str:
    """'torch>=2.2' -> 'torch'; 'foo[bar] ; python_version<"3.11"' -> 'foo'."""
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


@pytest.fixture(scope="module")
def pyproject():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11+")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def env():
    with open(ROOT / "environment.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _conda_names(env):
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            names.add(_name(dep))
    names -= {"python", "pip"}
    conda_to_pip = {"pytorch": "torch", "python-build": "build"}   # conda-forge's names for two PyPI packages
    return {conda_to_pip.get(n, n) for n in names}


@pytest.mark.parametrize("req, name", [
    ("torch>=2.2", "torch"), ("pytest-xdist>=3.3", "pytest-xdist"), ("numpy", "numpy"),
    ("PyYAML >= 6", "pyyaml"), ("foo[bar]>=1; python_version<'3.11'", "foo"), ("a==1.0", "a"),
])
def test_name_parser(req, name):
    assert _name(req) == name


def test_pip_and_conda_name_the_same_packages(pyproject, env):
    project = pyproject["project"]
    pip = {_name(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        pip |= {_name(r) for r in extra}
    assert pip == _conda_names(env)


def test_pyproject_basics(pyproject):
    project = pyproject["project"]
    assert project["name"] == "dlcore"
    assert "torch" in {_name(r) for r in project["dependencies"]}


def test_version_matches_package(pyproject):
    import dlcore

    assert pyproject["project"]["version"] == dlcore.__version__


def test_pyproject_ships_mnist(pyproject):
    data = pyproject["tool"]["setuptools"]["package-data"]["dlcore.data"]
    assert "*.npz" in data and "README.md" in data


def test_cuda_marker_registered(pyproject):
    markers = pyproject["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("cuda:") for m in markers)


def test_conda_channels(env):
    assert env["channels"] == ["conda-forge"]


def test_conda_installs_package_with_pip(env):
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-e ."]]
    assert "pip" in env["dependencies"]


def test_conda_python_pinned(env):
    assert any(isinstance(d, str) and _name(d) == "python" for d in env["dependencies"])


# --------------------------------------------------------------------------------------- notebooks

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_name(path):
    assert re.fullmatch(r"\d{2}_[A-Za-z0-9][\w-]*\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_valid(path):
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.read(path, as_version=4))


def test_notebook_numbers_unique():
    if not NOTEBOOKS:
        pytest.skip("no notebooks yet")
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert len(numbers) == len(set(numbers))


# ------------------------------------------------------------------------------------- make / CI

def test_makefile_targets():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("lab", "test"):
        assert re.search(rf"^{target}:", text, re.M), f"Makefile has no '{target}' target"


def test_ci_runs_make_test():
    run = ROOT / ".ci" / "run"
    assert re.search(r"^\s*make test\s*$", run.read_text(encoding="utf-8"), re.M)


# ---------------------------------------------------------------------------- licence and sdist

def test_license_file_is_mit():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2026 the dlcore authors" in text
    assert "CC BY-SA 3.0" in text and "dlcore/data/README.md" in text   # the MNIST subset is not MIT


def test_pyproject_license_is_spdx(pyproject):
    project = pyproject["project"]
    assert project["license"] == "MIT"                  # an SPDX expression, not the deprecated table
    assert project["license-files"][0] == "LICENSE"
    assert all((ROOT / f).is_file() for f in project["license-files"])
    assert "classifiers" not in project or not any(c.startswith("License ::") for c in project["classifiers"])
    setuptools = next(r for r in pyproject["build-system"]["requires"] if _name(r) == "setuptools")
    assert int(re.search(r">=\s*(\d+)", setuptools).group(1)) >= 77   # SPDX license + license-files


def test_extras(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    assert {_name(r) for r in extras["present"]} == {"voila"}
    assert {"voila", "notebook", "build"} <= {_name(r) for r in extras["dev"]}


# What the sdist must carry for its own `make test` (and `make present`, `make bench`, CI).
SDIST_NEEDS = ["LICENSE", "README.md", "Makefile", "environment.yml", "pyproject.toml", ".ci/run",
               "etc/jupyter/jupyter_server_config.json", "tests/conftest.py", "tests/browser.py", "tests/seed_sweep.py", "tests/notebook_style.py",
               "benchmarks/run.py", "tools/present.py", "tools/voila_config/voila.py",
               "dlcore/data/mnist10k.npz", "dlcore/data/README.md"]


def test_manifest_grafts_what_the_tests_need():
    lines = [line.split() for line in (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    grafted = {words[1] for words in lines if words[0] == "graft"}
    included = {w for words in lines if words[0] == "include" for w in words[1:]}
    assert {"tests", "notebooks", "benchmarks", "tools", ".ci", "etc", "dlcore"} <= grafted
    assert {"LICENSE", "README.md", "Makefile", "environment.yml"} <= included
    assert {"build", "dist", ".venv"} <= {words[1] for words in lines if words[0] == "prune"}


def test_sdist_carries_its_tests(tmp_path):
    """Build the sdist (no isolation: offline, with this environment's setuptools) and list it."""
    pytest.importorskip("build")
    import subprocess
    import sys
    import tarfile

    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (sdist,) = tmp_path.glob("dlcore-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    needed = SDIST_NEEDS + [f"tests/{p.name}" for p in (ROOT / "tests").glob("*.py")] \
        + [f"notebooks/{p.name}" for p in NOTEBOOKS]
    assert sorted(set(needed) - names) == []
    assert not [n for n in names if n.startswith((".venv/", "build/", "dist/")) or "__pycache__" in n
                or n.endswith(".pyc") or ".ipynb_checkpoints" in n]


def test_makefile_setup_clean_and_present():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    setup = re.search(r"^\$\(BIN\)/\.installed:.*?(?=^\S|\Z)", text, re.M | re.S).group(0)
    assert "--quiet" not in setup and "-q " not in setup          # pip's own progress shows
    assert [int(n) for n in re.findall(r"\[(\d)/3\]", setup)] == [1, 2, 3]
    clean = re.search(r"^clean:.*?(?=^\S|\Z)", text, re.M | re.S).group(0)
    for artefact in ("$(VENV)", "build", "dist", "*.egg-info", ".pytest_cache"):
        assert f" {artefact}" in clean, artefact
    assert re.search(r"^present:", text, re.M)
