import nbformat

from utils import run, stamp


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A test notebook"),
                nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path.read_text()


RECORDING = "import os, utils\nprint('quick' if utils.is_quick() else 'full')\nutils.record('answer', 42.0, target=40)"


def test_full_run_in_place_records_numbers(tmp_path):
    path = tmp_path / "01_theory_x.ipynb"
    _notebook(path, RECORDING)
    r = run.execute(path, quick=False, timeout=120)
    assert r["status"] == "ok", r["error"]
    assert [(n["name"], n["value"], n["met"]) for n in r["numbers"]] == [("answer", 42.0, True)]
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].execution_count == 1 and "full" in nb.cells[1].outputs[0]["text"]


def test_quick_run_leaves_committed_file_alone(tmp_path):
    path = tmp_path / "01_theory_x.ipynb"
    before = _notebook(path, RECORDING)
    r = run.execute(path, quick=True, timeout=120)
    assert r["status"] == "ok" and path.read_text() == before


def test_failing_notebook_is_reported_and_not_saved(tmp_path):
    path = tmp_path / "01_theory_x.ipynb"
    before = _notebook(path, "raise ValueError('boom')")
    r = run.execute(path, quick=False, timeout=120)
    assert r["status"] == "error" and "boom" in r["error"] and path.read_text() == before


def test_stamp_writes_badge_and_setup_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nText."), nbformat.v4.new_code_cell("x = 1")]
    rel = "01_neural_network_foundations/99_theory_x.ipynb"
    assert stamp.problems(nb, rel) == ["Colab badge missing or stale", "set-up cell missing or stale"]
    stamp.stamp(nb, rel)
    assert stamp.problems(nb, rel) == []
    assert rel in nb.cells[0].source and nb.cells[2].source == "x = 1"
    stamp.stamp(nb, rel)  # idempotent
    assert len(nb.cells) == 3 and nb.cells[0].source.count("colab-badge") == 1
    assert stamp.problems(nb, "01_neural_network_foundations/other.ipynb") == ["Colab badge missing or stale"]


def test_results_table_lists_every_published_notebook():
    text = run.table({"notebooks": {}})
    for path in stamp.notebooks():
        assert (path.name in text) == run.published(path.parent)


def test_unpublished_chapter_is_left_out(tmp_path):
    (tmp_path / "README.md").write_text("Coming next.\n")
    assert not run.published(tmp_path)
    (tmp_path / "README.md").write_text("# 09 · Something\n\nNotebooks ...")
    assert run.published(tmp_path)
