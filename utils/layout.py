"""The repository layout, in one place: root, chapters, notebooks, READMEs, tracked files.

The runner (``python -m utils.run``), the stamper (``python -m utils.stamp``) and the tests ask
this module instead of globbing for themselves, so a new chapter needs no change anywhere
else: a folder ``NN_topic/`` next to the syllabus chapters is discovered on disk.
Introduced for the tooling described in ``CONTRIBUTING.md`` (no notebook imports it).
"""
from __future__ import annotations

import ast
import subprocess
from pathlib import Path

#: The repository root (the folder holding ``utils/``).
ROOT = Path(__file__).resolve().parent.parent

#: The chapters of the syllabus, in reading order. Further ``NN_topic/`` folders are found on disk.
SYLLABUS = ("01_neural_network_foundations", "02_backprop", "03_optimization", "04_regularization",
            "05_cnns", "06_advanced_cnns", "07_rnns", "08_seq2seq")

#: The glob a chapter folder matches (pyproject's pytest ``testpaths`` uses the same one).
CHAPTER_GLOB = "[0-9][0-9]_*"
#: The glob a notebook inside a chapter matches: ``NN_kind_topic.ipynb``.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
#: A chapter README that is only this (case and spaces aside) is an unpublished chapter.
PLACEHOLDER = "coming next."

_NOT_SOURCE = {".git", ".venv", ".data", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", "build"}


def chapters(root: Path = ROOT) -> list[Path]:
    """The syllabus chapters plus every other ``NN_topic/`` folder on disk, sorted by name."""
    found = {root / name for name in SYLLABUS}
    found |= {p for p in root.glob(CHAPTER_GLOB) if p.is_dir()}
    return sorted(found)


def chapter(key: str, root: Path = ROOT) -> Path | None:
    """The chapter folder for ``"01"`` or ``"01_neural_network_foundations"``; None if there is none."""
    for path in chapters(root):
        if path.name == key or path.name[:2] == key:
            return path
    return None


def notebooks(root: Path = ROOT, chapter: Path | None = None) -> list[Path]:
    """Every course notebook ``NN_chapter/NN_kind_topic.ipynb`` (of one chapter when given), in order."""
    folders = [chapter] if chapter is not None else chapters(root)
    return sorted(p for folder in folders for p in folder.glob(NOTEBOOK_GLOB) if p.is_file())


def readmes(root: Path = ROOT) -> list[Path]:
    """The top README, then each chapter's README that exists."""
    out = [root / "README.md"] if (root / "README.md").exists() else []
    return out + [c / "README.md" for c in chapters(root) if (c / "README.md").exists()]


def published(chapter: Path) -> bool:
    """A chapter is published once its README is more than the "Coming next." placeholder."""
    readme = chapter / "README.md"
    return readme.exists() and readme.read_text(encoding="utf-8").strip().lower() != PLACEHOLDER


def tracked_files(root: Path = ROOT) -> list[Path]:
    """The files under version control (``git ls-files``); outside git, every file but caches and venvs."""
    if (root / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
        return sorted(root / rel for rel in out.stdout.split("\0") if rel and (root / rel).is_file())
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and not _NOT_SOURCE & set(p.relative_to(root).parts)
                  and not any(part.endswith(".egg-info") for part in p.parts))


def parse_code(source: str) -> ast.Module:
    """Notebook code as a syntax tree, its IPython lines (``%magic``, ``!shell``) blanked so line numbers still match."""
    return ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()))
