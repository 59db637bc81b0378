"""Every committed notebook: one clean full run, no errors, current badge and set-up cell, small, listed."""
import json
import subprocess
import sys

import nbformat
import pytest

from utils import layout
from utils.layout import ROOT, notebooks
from utils.stamp import problems

NOTEBOOKS = notebooks()
MAX_BYTES = 2_000_000


def test_layout():
    for name in ["README.md", "CONTRIBUTING.md", "requirements.txt", "pyproject.toml", "utils", ".ci/run"]:
        assert (ROOT / name).exists(), name
    assert [c.name for c in layout.chapters()][:len(layout.SYLLABUS)] == list(layout.SYLLABUS)
    for chapter in layout.chapters():
        readme = (chapter / "README.md").read_text()
        if not notebooks(chapter=chapter):
            assert not layout.published(chapter), f"{chapter.name}: an empty chapter says 'Coming next.' only"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    rel = path.relative_to(ROOT).as_posix()
    assert path.stat().st_size < MAX_BYTES, f"{rel} is over 2 MB"
    nb = nbformat.read(path, as_version=4)
    assert problems(nb, rel) == [], f"{rel}: run `python -m utils.stamp`"
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), f"{rel}: not one clean run"
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", f"{rel}: error output"
            assert "Traceback (most recent call last)" not in str(out.get("text", ""))
    setup_out = "".join(str(o.get("text", "")) for c in code[:3] for o in c.outputs)
    assert "mode: FULL" in setup_out, f"{rel}: committed outputs must come from a full run"
    chapter_readme = (path.parent / "README.md").read_text()
    assert path.name in chapter_readme, f"{rel} not listed in its chapter README"
    assert rel in (ROOT / "README.md").read_text(), f"{rel} not listed in the top README"


def test_results_json_names_recording_notebooks():
    results = json.loads((ROOT / "results.json").read_text()) if (ROOT / "results.json").exists() else {}
    for path in NOTEBOOKS:
        if "utils.record(" in path.read_text():
            entry = results.get("notebooks", {}).get(path.relative_to(ROOT).as_posix())
            assert entry and "full_seconds" in entry, f"{path.name}: no full run in results.json"


def test_course_audit_passes():
    audit = ROOT.parent / "shared" / "tools" / "audit.py"
    if not audit.exists():
        pytest.skip("the course audit lives in ../shared/tools (not in this checkout)")
    out = subprocess.run([sys.executable, str(audit), str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


#: Code cells may hold at most this many lines (CONTRIBUTING, "A notebook", item 4).
MAX_CELL_LINES = 40
#: Notebooks whose long cells have not been split yet, with how many they still have. The list may only
#: shrink: a notebook with fewer long cells than listed fails too, so that its entry is lowered or removed.
LONG_CELLS_PENDING: dict[str, int] = {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_short(path):
    rel = path.relative_to(ROOT).as_posix()
    nb = nbformat.read(path, as_version=4)
    long = [(i, len(c.source.splitlines())) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and len(c.source.splitlines()) > MAX_CELL_LINES]
    allowed = LONG_CELLS_PENDING.get(rel, 0)
    assert len(long) <= allowed, f"{rel}: code cells over {MAX_CELL_LINES} lines (cell, lines): {long}"
    assert len(long) == allowed, f"{rel}: now {len(long)} long cells: lower its LONG_CELLS_PENDING entry to {len(long)}"


def leaky_temp_folders(source):
    """Lines of notebook code that make a temporary folder nobody removes: ``mkdtemp`` and a
    ``TemporaryDirectory`` outside a ``with`` (its clean-up at kernel exit does not run when the kernel is
    killed, which is how Jupyter and nbclient stop it). ``utils.work_dir`` is the course's way."""
    import ast

    tree = layout.parse_code(source)
    in_with = {id(item.context_expr) for node in ast.walk(tree) if isinstance(node, ast.With) for item in node.items}
    leaks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "mkdtemp" or (name == "TemporaryDirectory" and id(node) not in in_with):
                leaks.append(f"line {node.lineno}: {name}")
    return leaks


def test_the_leak_finder_tells_a_leak_from_a_clean_up():
    assert leaky_temp_folders("import tempfile\nd = tempfile.mkdtemp(prefix='x')") == ["line 2: mkdtemp"]
    assert leaky_temp_folders("from tempfile import mkdtemp\nd = mkdtemp()") == ["line 2: mkdtemp"]
    assert leaky_temp_folders("W = tempfile.TemporaryDirectory(prefix='w')") == ["line 1: TemporaryDirectory"]
    assert leaky_temp_folders("%matplotlib inline\nwith tempfile.TemporaryDirectory() as tmp:\n    pass") == []
    assert leaky_temp_folders("d = utils.work_dir('03_ship')") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_leave_no_temporary_folders_behind(path):
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert leaky_temp_folders(source) == [], f"{path.name}: use utils.work_dir(name) for files the notebook writes"
