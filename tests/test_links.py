"""Every link to the course repository points at utils.config.REPO_URL, and one command re-points them all."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from utils import config, layout, stamp

# Built in pieces so that this file holds no repository link of its own.
GH, COLAB, RAW = "https://" + "github.com/", "https://colab.research.google.com/" + "github/", \
    "https://raw." + "githubusercontent.com/"


def test_no_stale_repository_link_in_tracked_files():
    stale = stamp.stale_links()
    assert stale == [], "run `python -m utils.stamp`:\n" + "\n".join(stale[:20])


def _mini_repo(root, slug):
    """A repository whose files link to the course as ``slug`` and to two other repositories."""
    (root / "01_intro").mkdir(parents=True)
    (root / "01_intro" / "README.md").write_text(
        f"[![Colab](x)]({COLAB}{slug}/blob/main/01_intro/01_theory_a.ipynb)\n")
    (root / "README.md").write_text(
        f"git clone {GH}{slug}.git\n"
        f"Data from {RAW}karpathy/char-rnn/master/data/tinyshakespeare/input.txt and\n"
        f"[nbval]({GH}computationalmedicine/nbval) or [the chapter]({GH}{slug}/tree/main/01_intro).\n")
    (root / "pyproject.toml").write_text(f'[project.urls]\nHomepage = "{GH}{slug}"\n')
    (root / "CONTRIBUTING.md").write_text(f"Issues: {GH}{slug}/issues. Fork {GH}someone/other-course.\n")


def test_stale_links_are_found_and_repointed_others_left_alone(tmp_path, monkeypatch):
    old = "old-owner/old-name"  # neither owner nor name of the new URL: found by where the links point
    _mini_repo(tmp_path, old)
    monkeypatch.setattr(config, "REPO_URL", "https://github.com/new-owner/new-name")
    assert stamp.course_slugs(tmp_path) == {old, "new-owner/new-name"}
    stale = stamp.stale_links(tmp_path)
    assert len(stale) == 5 and all(old in line for line in stale), stale
    before = {p: p.read_text() for p in tmp_path.rglob("*.*")}
    changed = stamp.repoint(tmp_path)
    assert len(changed) == 4 and stamp.stale_links(tmp_path) == []
    for path in tmp_path.rglob("*.*"):
        assert path.read_text() == before[path].replace(old, "new-owner/new-name"), path
    text = (tmp_path / "README.md").read_text()
    assert "karpathy/char-rnn" in text and "computationalmedicine/nbval" in text
    assert f"{GH}new-owner/new-name.git" in text
    assert "someone/other-course" in (tmp_path / "CONTRIBUTING.md").read_text()


def test_fork_of_the_same_name_is_the_course_and_colab_branch_follows(tmp_path, monkeypatch):
    (tmp_path / "README.md").write_text(f"{GH}dlf-course/deep-learning-fundamentals and "
                                        f"{COLAB}me/deep-learning-fundamentals/blob/dev/x.ipynb\n")
    monkeypatch.setattr(config, "REPO_URL", GH + "me/deep-learning-fundamentals")
    assert len(stamp.stale_links(tmp_path)) == 2  # old owner, and a Colab link on another branch
    stamp.repoint(tmp_path)
    assert (tmp_path / "README.md").read_text() == (
        f"{GH}me/deep-learning-fundamentals and {COLAB}me/deep-learning-fundamentals/blob/main/x.ipynb\n")


def test_one_command_repoints_a_copy_of_the_course(tmp_path):
    """End to end: change REPO_URL in a copy, run `python -m utils.stamp` there, nothing stale remains."""
    copy = tmp_path / "course"
    for path in layout.tracked_files():
        rel = path.relative_to(layout.ROOT)
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy / rel)
    old, new = stamp.repo_slug(), "new-owner/dl-course"
    cfg = copy / "utils" / "config.py"
    cfg.write_text(re.sub(r'REPO_URL = "[^"]*"', f'REPO_URL = "https://github.com/{new}"', cfg.read_text()))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    check = [sys.executable, "-m", "utils.stamp", "--check"]
    before = subprocess.run(check, cwd=copy, env=env, capture_output=True, text=True)
    assert before.returncode == 1 and "stale repository link" in before.stdout  # the check can fail
    subprocess.run([sys.executable, "-m", "utils.stamp"], cwd=copy, env=env, check=True, capture_output=True)
    after = subprocess.run(check, cwd=copy, env=env, capture_output=True, text=True)
    assert after.returncode == 0, after.stdout[-3000:]
    for path in [copy / "README.md", copy / "pyproject.toml", *layout.readmes(copy), *layout.notebooks(copy)]:
        assert old not in path.read_text(), path
    readme = (copy / "README.md").read_text()
    original = (layout.ROOT / "README.md").read_text()
    assert readme == original.replace(old, new), "only the course's links change"
    assert f'Homepage = "https://github.com/{new}"' in (copy / "pyproject.toml").read_text()
    assert f"git+https://github.com/{new}.git@" in (copy / layout.notebooks(copy)[0]).read_text()
    assert "karpathy/char-rnn" in (copy / "utils" / "data.py").read_text()
