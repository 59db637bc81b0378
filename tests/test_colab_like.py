"""Every notebook as a learner opens it on Colab: alone, with `utils` installed by its own set-up cell.

For each notebook, in quick mode:

* a fresh virtual environment whose only link to the test environment is a ``.pth`` file naming
  that environment's site-packages. Python adds the directory to ``sys.path`` but does not process
  the ``.pth`` files inside it, so the editable install of ``utils`` there stays invisible (checked:
  ``import utils`` fails) while the frameworks, Jupyter and the libraries Colab ships are reused;
* ``google.colab`` is a stub module imported at start-up, as Colab's kernel has it;
* the notebook is copied alone into an empty folder: nothing else of the repository is reachable;
* its set-up cell runs unchanged except for its ``git+https://…`` URL, swapped for a wheel of
  ``utils`` built from this checkout, so ``pip`` installs ``dlf-utils[notebooks]`` non-editable,
  offline (``PIP_NO_INDEX=1``): every dependency it declares must already be installed.

The reused environment holds every package of requirements.txt, so a package a notebook imports but
the extra does not declare would still be found here: tests/test_extras.py catches that, statically.

The runs are one file: under ``--dist loadfile`` one worker runs them while the other runs nbval.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from utils import layout, stamp

HERE = Path(__file__).resolve().parent
ROOT = layout.ROOT
CELL_TIMEOUT = 300
#: Appended to each copy: proves the notebook ran on a non-editable install inside the Colab-like venv.
PROOF_CELL = """import sys, utils
assert "google.colab" in sys.modules, "the google.colab stub was not imported"
assert utils.__file__.startswith(sys.prefix), f"utils came from {utils.__file__}, not from {sys.prefix}"
print("utils installed at", utils.__file__)"""


@pytest.fixture(scope="session")
def utils_wheel(tmp_path_factory) -> Path:
    """A wheel of ``utils`` built offline from a copy of the package sources (the checkout stays clean)."""
    src = tmp_path_factory.mktemp("utils-src")
    shutil.copytree(ROOT / "utils", src / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(src)], check=True, capture_output=True, text=True)
    return next(out.glob("dlf_utils-*.whl"))


@dataclass
class ColabVenv:
    """The Colab-like environment's interpreter and the environment variables to run it with."""

    python: Path
    env: dict[str, str] = field(repr=False)  # never print the CI environment in a failure report


def colab_like_venv(folder: Path) -> ColabVenv:
    """A virtual environment in ``folder`` that sees this environment's packages but not `utils`."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
    python = folder / "venv" / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    stub = folder / "stub" / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('"""A stand-in for Colab\'s module: its presence says "this is Colab"."""\n')
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "ci_site_packages.pth").write_text("\n".join(sorted(ours)) + "\n")
    (site / "zz_colab_stub.pth").write_text(f"import sys; sys.path.append({str(folder / 'stub')!r}); import google.colab\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))
           and k not in {"DLF_RESULTS_FILE"}}
    env.update(VIRTUAL_ENV=str(folder / "venv"), PATH=f"{folder / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1", DLF_QUICK="1",
               MPLBACKEND="Agg", PYTHONNOUSERSITE="1",
               DLF_WORK_DIR=str(folder / "work"))        # not the folder nbval's run of the same notebook empties
    return ColabVenv(python, env)


@pytest.fixture
def colab(tmp_path) -> ColabVenv:
    return colab_like_venv(tmp_path)


def test_utils_is_hidden_before_the_setup_cell(colab, tmp_path):
    python, env = colab.python, colab.env
    empty = tmp_path / "empty"
    empty.mkdir()
    probe = "import google.colab, numpy, nbclient; import utils"  # the test env is reachable, utils is not
    out = subprocess.run([str(python), "-c", probe], cwd=empty, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "No module named 'utils'" in out.stderr, out.stderr[-2000:]
    # The same probe in this (CI) environment imports utils: the hiding above is what makes it fail.
    assert subprocess.run([sys.executable, "-c", "import utils"], cwd=empty, capture_output=True).returncode == 0


@pytest.mark.parametrize("path", [pytest.param(p, id=p.relative_to(ROOT).as_posix(),
                                               marks=pytest.mark.xdist_group(f"colab:{p.name}"))
                                  for p in layout.notebooks()])
def test_notebook_runs_as_on_colab(path, colab, tmp_path, utils_wheel):
    rel = path.relative_to(ROOT).as_posix()
    nb = nbformat.read(path, as_version=4)
    assert stamp.problems(nb, rel) == [], f"{rel}: set-up cell or badge stale: run `python -m utils.stamp`"
    result = run_as_on_colab(nb, path.name, tmp_path / "colab", colab, utils_wheel)
    assert result["status"] == "ok", f"{rel} failed as on Colab after {result['seconds']} s:\n{result['error']}"


def run_as_on_colab(nb, name: str, folder: Path, colab: ColabVenv, wheel: Path) -> dict:
    """Run the stamped notebook ``nb`` alone in the empty ``folder``; its set-up cell installs ``wheel``."""
    source = stamp.install_source()
    assert nb.cells[1].source.count(source) == 1, "the set-up cell does not install from REPO_URL"
    nb.cells[1].source = nb.cells[1].source.replace(source, wheel.as_uri())
    nb.cells.append(nbformat.v4.new_code_cell(PROOF_CELL))
    folder.mkdir()
    copy = folder / name
    nbformat.write(nb, copy)
    out = subprocess.run([str(colab.python), str(HERE / "colab_like_run.py"), str(copy), str(CELL_TIMEOUT)],
                         cwd=folder, env=colab.env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_missing_package_fails_the_colab_like_run(colab, tmp_path, utils_wheel):
    """The harness can fail: the set-up cell installs utils, then an import nothing provides stops the run."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A notebook"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("import utils\nimport a_package_nobody_installed")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    stamp.stamp(nb, "01_intro/01_theory_x.ipynb")
    result = run_as_on_colab(nb, "01_theory_x.ipynb", tmp_path / "colab", colab, utils_wheel)
    assert result["status"] == "error"
    assert result["error"].startswith("ModuleNotFoundError: No module named 'a_package_nobody_installed'")
