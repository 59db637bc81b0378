"""Every package a notebook imports is on Colab already, in the stdlib, `utils`, or declared by the `notebooks` extra.

On Colab the set-up cell installs ``dlf-utils[notebooks]`` and nothing else (chapter 08 once stopped at
``No module named 'sacrebleu'``). The extra lists packages without pins; requirements.txt pins them.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata

import nbformat
import pytest

from utils import layout

#: Import names of packages Colab's default runtime ships preinstalled (its `!pip list`). Only add a
#: package after seeing it there; a package not listed must go into the `notebooks` extra instead.
COLAB_PREINSTALLED = {
    "torch", "torchvision", "torchaudio",      # PyTorch (CUDA build on GPU runtimes)
    "tensorflow", "keras", "tensorboard",      # TensorFlow 2 with Keras 3, TensorBoard
    "jax", "numpy", "scipy", "pandas", "sympy",
    "matplotlib", "seaborn", "PIL",            # PIL: pillow
    "sklearn", "statsmodels",                  # sklearn: scikit-learn
    "skimage",                                 # scikit-image
    "tqdm", "requests", "IPython", "ipywidgets",
    "google",                                  # google.colab
}
FRAMEWORKS = {"torch", "torchvision", "tensorflow", "tensorflow-cpu", "keras"}


def imports_of(source: str) -> set[str]:
    """Top-level module names a cell imports: ``import a.b``, ``from a import b``, inside functions too."""
    found = set()
    for node in ast.walk(layout.parse_code(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def notebook_imports() -> dict[str, set[str]]:
    """Every course notebook's imports, over all its code cells."""
    out = {}
    for path in layout.notebooks():
        nb = nbformat.read(path, as_version=4)
        out[path.relative_to(layout.ROOT).as_posix()] = set().union(
            *(imports_of(c.source) for c in nb.cells if c.cell_type == "code"))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra(name: str = "notebooks") -> list[str]:
    """The requirements of one optional extra of pyproject.toml."""
    project = tomllib.loads((layout.ROOT / "pyproject.toml").read_text())["project"]
    return project.get("optional-dependencies", {}).get(name, [])


def undeclared(imports: set[str], declared: list[str]) -> set[str]:
    """The imports that neither Colab, the stdlib, `utils` nor a declared distribution provides."""
    providers = metadata.packages_distributions()  # import name -> distributions installing it
    wanted = {_norm(d) for d in declared}
    return {name for name in imports
            if name not in COLAB_PREINSTALLED and name not in sys.stdlib_module_names and name != "utils"
            and not wanted & {_norm(d) for d in providers.get(name, [name])}}


def pins() -> dict[str, str]:
    """``{distribution: version}`` of the ``==`` pins in requirements.txt."""
    text = (layout.ROOT / "requirements.txt").read_text()
    return {_norm(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.MULTILINE)}


@pytest.mark.parametrize("rel, imports", sorted(notebook_imports().items()))
def test_every_import_is_on_colab_or_declared(rel, imports):
    missing = undeclared(imports, extra())
    assert not missing, f"{rel} imports {sorted(missing)}: add to [project.optional-dependencies] notebooks"


def test_the_check_rejects_an_undeclared_import():
    source = "import numpy as np\nfrom sacrebleu.metrics import BLEU\n%matplotlib inline\n" \
             "def f():\n    import not_a_colab_pkg.sub\n    from os import path\n"
    assert imports_of(source) == {"numpy", "sacrebleu", "not_a_colab_pkg", "os"}
    assert undeclared(imports_of(source), []) == {"sacrebleu", "not_a_colab_pkg"}
    assert undeclared(imports_of(source), ["sacrebleu"]) == {"not_a_colab_pkg"}


def test_extra_is_unpinned_frameworkless_and_pinned_in_requirements():
    declared = extra()
    assert declared, "the notebooks extra exists"
    pinned = pins()
    for req in declared:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", req), f"{req!r}: no versions in pyproject (pins: requirements.txt)"
        assert _norm(req) not in FRAMEWORKS, f"{req}: Colab's own framework must stay"
        assert _norm(req) in pinned, f"{req} is not pinned in requirements.txt"
    for dist in [*declared, "pillow"]:  # pillow decodes the checksummed offline data copies
        assert pinned[_norm(dist)] == metadata.version(dist), f"{dist}: pin differs from the installed version"
