"""Stamp the Colab badge and the set-up cell into notebooks: ``python -m utils.stamp [NOTEBOOK ...] [--check]``.

The repository URL lives in one place, :data:`utils.config.REPO_URL`. This script writes it
into each notebook's first cell (the badge, pointing at that very notebook) and makes the
second cell the set-up cell below. ``tests/test_hygiene.py`` fails when a notebook's copy
differs, so change the template here and re-run the stamper.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .config import REPO_BRANCH, REPO_URL

ROOT = Path(__file__).resolve().parent.parent
BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(.*\)$",
                      re.MULTILINE)
SETUP_MARK = "# Set-up (stamped by `python -m utils.stamp`"

SETUP_TEMPLATE = f'''{SETUP_MARK}: edit the template in utils/stamp.py, not here.)
# Locally, `pip install -r requirements.txt` has installed `utils` and this cell only imports it.
# On Colab it installs the course's `utils` from GitHub, and nothing else: `utils` pins no
# framework, so Colab's own torch and TensorFlow stay as they are.
import subprocess, sys
try:
    import utils
    assert utils.COURSE == "deep-learning-fundamentals"
except (ImportError, AttributeError, AssertionError):
    if "google.colab" not in sys.modules:
        raise ImportError("Run `pip install -r requirements.txt` at the repository root first.")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+{REPO_URL}.git@{REPO_BRANCH}"], check=True)
    sys.modules.pop("utils", None)
    import utils'''


def repo_slug() -> str:
    """``owner/name`` of :data:`REPO_URL`."""
    return REPO_URL.rstrip("/").split("github.com/")[1]


def badge(rel_path: str) -> str:
    """The Open-in-Colab badge line for the notebook at ``rel_path`` (relative to the repository)."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{repo_slug()}/blob/{REPO_BRANCH}/{rel_path})")


def notebooks(root: Path = ROOT) -> list[Path]:
    """Every course notebook: ``NN_chapter/NN_kind_topic.ipynb``."""
    return sorted(p for p in root.glob("[0-9][0-9]_*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def problems(nb, rel_path: str) -> list[str]:
    """What differs from the stamped form (empty when the notebook is up to date)."""
    out = []
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown":
        return ["first cell is not the markdown title cell"]
    found = BADGE_RE.findall(cells[0].source)
    if found != [badge(rel_path)]:
        out.append("Colab badge missing or stale")
    if len(cells) < 2 or cells[1].cell_type != "code" or cells[1].source != SETUP_TEMPLATE:
        out.append("set-up cell missing or stale")
    return out


def stamp(nb, rel_path: str) -> None:
    """Write the badge into the title cell and the set-up cell as the second cell (in place)."""
    import nbformat

    title = nb.cells[0]
    lines = [ln for ln in title.source.split("\n") if not BADGE_RE.match(ln)]
    lines.insert(1 if lines and lines[0].startswith("#") else 0, "\n" + badge(rel_path) + "\n")
    title.source = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    if len(nb.cells) > 1 and nb.cells[1].cell_type == "code" and nb.cells[1].source.startswith(SETUP_MARK):
        nb.cells[1].source = SETUP_TEMPLATE
    else:
        nb.cells.insert(1, nbformat.v4.new_code_cell(SETUP_TEMPLATE))


def main(argv: list[str] | None = None) -> int:
    import nbformat

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("paths", nargs="*", help="notebooks to stamp (default: every course notebook)")
    ap.add_argument("--check", action="store_true", help="only report notebooks that differ")
    args = ap.parse_args(argv)
    stale = 0
    for path in [Path(p).resolve() for p in args.paths] or notebooks():
        rel = path.relative_to(ROOT).as_posix()
        nb = nbformat.read(path, as_version=4)
        issues = problems(nb, rel)
        if not issues:
            continue
        stale += 1
        if args.check:
            print(f"{rel}: {'; '.join(issues)}")
        else:
            stamp(nb, rel)
            nbformat.write(nb, path)
            print(f"stamped {rel}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
