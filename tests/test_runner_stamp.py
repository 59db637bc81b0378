import json
import os
import shutil
import subprocess
import sys

import nbformat

from utils import config, layout, run, stamp


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


def test_error_keeps_type_whole_message_and_no_colour_codes(tmp_path):
    path = tmp_path / "01_theory_x.ipynb"
    advice = "Run `pip install -r requirements.txt` first. " + "x" * 600 + " END"
    before = _notebook(path, f"def helper():\n    raise ValueError({advice!r})\n\nhelper()")
    r = run.execute(path, quick=False, timeout=120)
    assert r["status"] == "error" and path.read_text() == before
    assert r["error"].startswith("ValueError: Run `pip install -r requirements.txt` first. xxx"), r["error"][:200]
    assert advice in r["error"] and "(code cell 1)" in r["error"]
    assert "helper()" in r["error"], "the short last frames are shown"
    assert "\x1b[" not in r["error"]


def test_error_message_strips_colour_and_drops_long_frames():
    red = "\x1b[0;31mValueError\x1b[0m"
    frames = ["header", "frame one " + "y" * 2000, "frame two", f"{red}: boom"]
    msg = run.error_message(red, "boom \x1b[1mloud\x1b[0m", frames, cell=4)
    assert msg.splitlines()[0] == "ValueError: boom loud   (code cell 4)"
    assert "frame two" in msg and "frame one" not in msg and "\x1b[" not in msg


def test_help_names_the_command_options_and_environment():
    out = subprocess.run([sys.executable, "-m", "utils.run", "--help"], capture_output=True, text=True,
                         cwd=layout.ROOT, check=True).stdout
    assert out.startswith("usage: python -m utils.run")
    for word in ["--quick", "--record-quick", "--device", "{cpu,cuda,mps}", "DLF_QUICK", "DLF_DATA_DIR",
                 "DLF_OFFLINE", "DLF_DEVICE", "DLF_RETRAIN"]:
        assert word in out, word


def test_machine_records_cpu_cores_and_blas_kernel():
    m = run.machine()
    assert {"platform", "cpu", "cpus", "blas"} <= m.keys() and m["cpus"] == os.cpu_count()
    assert m["cpu"] and isinstance(m["cpu"], str)
    assert m["blas"], "NumPy's BLAS is always loaded"
    for lib in m["blas"]:
        assert {"internal_api", "version", "architecture", "num_threads"} <= lib.keys()
    assert json.loads(json.dumps(m)) == m  # goes to results.json as is


def test_describe_uses_the_one_formatter():
    assert run.describe({"name": "acc", "value": 0.987654, "unit": "%"}) == "acc 0.9877%"
    assert run.describe({"name": "n", "value": 3, "unit": ""}) == "n 3"
    assert not hasattr(run, "fmt_number")


DEVICE_NB = ("import os, utils\n"
             "utils.record('device_is_cpu', float(os.environ.get('DLF_DEVICE') == 'cpu'))")


def _tiny_repo(root):
    """A repository with the course's `utils`, one chapter of one notebook, READMEs with tables, committed."""
    shutil.copytree(layout.ROOT / "utils", root / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    chapter = root / "01_demo"
    chapter.mkdir()
    _notebook(chapter / "01_theory_demo.ipynb", DEVICE_NB)
    table = f"{run.TABLE_START}\n{run.TABLE_END}\n"
    (chapter / "README.md").write_text(f"# 01 · Demo\n\n{table}")
    (root / "README.md").write_text(f"# Course\n\n{table}")
    (root / "results.json").write_text('{"notebooks": {}}\n')
    (root / ".gitignore").write_text("__pycache__/\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tiny"], cwd=root, check=True)


def _runner(root, *args):
    env = {k: v for k, v in os.environ.items() if k not in {"DLF_DEVICE", "DLF_RESULTS_FILE"}}
    out = subprocess.run([sys.executable, "-m", "utils.run", *args, "--report", str(root.parent / "report.json")],
                         cwd=root, env=env, capture_output=True, text=True, timeout=300)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    return out, status, json.loads((root.parent / "report.json").read_text())


def test_quick_run_changes_no_tracked_file_unless_asked(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    _tiny_repo(root)
    out, status, report = _runner(root, "01", "--quick", "--device", "cpu")
    assert out.returncode == 0, out.stdout + out.stderr
    assert status == "", f"quick mode changed tracked files:\n{status}"
    assert "1 passed, 0 failed" in out.stdout
    assert [n["value"] for n in report[0]["numbers"]] == [1.0], "--device cpu reaches the kernel as DLF_DEVICE"

    out, status, report = _runner(root, "01", "--quick", "--record-quick")
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(status.split()) == ["01_demo/README.md", "M", "M", "M", "README.md", "results.json"]
    assert [n["value"] for n in report[0]["numbers"]] == [0.0], "no --device: DLF_DEVICE unset"
    entry = json.loads((root / "results.json").read_text())["notebooks"]["01_demo/01_theory_demo.ipynb"]
    assert entry["quick_seconds"] > 0 and "numbers" not in entry


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


def test_setup_cell_installs_utils_with_its_notebooks_extra_and_no_framework(monkeypatch):
    source = stamp.setup_source()
    assert f'"dlf-utils[notebooks] @ git+{config.REPO_URL}.git@{config.REPO_BRANCH}"' in source
    pip_line = next(line for line in source.splitlines() if "git+" in line)
    assert not any(f in pip_line for f in ("torch", "tensorflow", "keras"))
    other = "https://" + "github.com/someone/else"  # in pieces: tests/test_links.py reads this file
    monkeypatch.setattr(config, "REPO_URL", other)
    assert f"git+{other}.git@" in stamp.setup_source()  # read at call time


def test_results_table_lists_every_published_notebook():
    text = run.table({"notebooks": {}})
    for path in layout.notebooks():
        assert (path.name in text) == layout.published(path.parent)


def test_unpublished_chapter_is_left_out(tmp_path):
    (tmp_path / "README.md").write_text("Coming next.\n")
    assert not layout.published(tmp_path)
    (tmp_path / "README.md").write_text("# 09 · Something\n\nNotebooks ...")
    assert layout.published(tmp_path)


def test_layout_finds_syllabus_and_new_chapters(tmp_path):
    for name in ("01_neural_network_foundations", "09_transformers"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "README.md").write_text("Coming next.\n")
    (tmp_path / "09_transformers" / "02_scratch_b.ipynb").write_text("{}")
    (tmp_path / "09_transformers" / "01_theory_a.ipynb").write_text("{}")
    (tmp_path / "09_transformers" / "notes.ipynb").write_text("{}")  # not NN_kind_topic: not a course notebook
    (tmp_path / "scratch").mkdir()
    (tmp_path / "README.md").write_text("# Course\n")
    chapters = layout.chapters(tmp_path)
    assert [c.name for c in chapters] == sorted([*layout.SYLLABUS, "09_transformers"])
    assert layout.chapter("09", tmp_path).name == "09_transformers"
    assert layout.chapter("10", tmp_path) is None
    assert [p.name for p in layout.notebooks(tmp_path)] == ["01_theory_a.ipynb", "02_scratch_b.ipynb"]
    assert [p.relative_to(tmp_path).as_posix() for p in layout.readmes(tmp_path)] == [
        "README.md", "01_neural_network_foundations/README.md", "09_transformers/README.md"]
