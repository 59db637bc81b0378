"""Point the course at its repository: ``python -m utils.stamp [FILE ...] [--check]``.

The repository URL lives in one place, :data:`utils.config.REPO_URL` (branch:
:data:`utils.config.REPO_BRANCH`). With no argument this one command does the whole job:

1. every link to the course repository in the tracked files (Colab badges and links in
   ``README.md``, the chapter READMEs, ``CONTRIBUTING.md``, pyproject's URLs, notebooks, ...)
   is re-pointed at ``REPO_URL``. A link is the course's when it names the current repository,
   a repository of the same name (a fork), a chapter file (``<owner>/<name>/blob/<branch>/NN_topic/…``),
   a set-up cell's install URL or a pyproject URL; links to other repositories are left alone;
2. each notebook's first cell gets its Colab badge (pointing at that very notebook) and its
   second cell becomes the set-up cell below.

``--check`` changes nothing and lists what is stale (exit 1 if anything is);
``tests/test_hygiene.py`` and ``tests/test_links.py`` fail on a stale copy. Change the template
here and re-run the stamper. Used by the workflow in ``CONTRIBUTING.md``.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import config, layout

BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(.*\)$",
                      re.MULTILINE)
SETUP_MARK = "# Set-up (stamped by `python -m utils.stamp`"
#: The distribution of ``utils`` and its optional extra with what notebooks import beyond Colab's own packages.
DISTRIBUTION, EXTRA = "dlf-utils", "notebooks"

#: A link to a GitHub repository: github.com, Colab's GitHub viewer or raw file hosting.
LINK_RE = re.compile(
    r"(?<![\w.-])(?P<host>(?:www\.)?github\.com/|colab\.research\.google\.com/github/|raw\.githubusercontent\.com/)"
    r"(?P<owner>[A-Za-z0-9-]+)/(?P<name>[\w.-]+)(?P<path>/[^\s)\"'<>\]`]*)?")
TEXT_SUFFIXES = {".md", ".toml", ".txt", ".py", ".ipynb", ".cfg", ".ini", ".yml", ".yaml", ".json", ".sh", ""}


def repo_slug() -> str:
    """``owner/name`` of :data:`REPO_URL`."""
    return config.REPO_URL.rstrip("/").removesuffix(".git").split("github.com/")[1]


def install_source() -> str:
    """Where Colab installs ``utils`` from: ``git+<REPO_URL>.git@<REPO_BRANCH>``."""
    return f"git+{config.REPO_URL.rstrip('/').removesuffix('.git')}.git@{config.REPO_BRANCH}"


def requirement() -> str:
    """The pip requirement of the set-up cell: ``dlf-utils[notebooks] @ git+…``."""
    return f"{DISTRIBUTION}[{EXTRA}] @ {install_source()}"


def setup_source() -> str:
    """The set-up cell, identical in every notebook."""
    return f'''{SETUP_MARK}: edit the template in utils/stamp.py, not here.)
# Locally, `pip install -r requirements.txt` has installed `utils` and this cell only imports it.
# On Colab it installs the course's `utils` from GitHub with its `{EXTRA}` extra (the few libraries
# the notebooks use that Colab lacks), and nothing else: neither pins a framework, so Colab's own
# torch and TensorFlow stay as they are.
import importlib, subprocess, sys
try:
    import utils
    assert utils.COURSE == "deep-learning-fundamentals"
except (ImportError, AttributeError, AssertionError):
    if "google.colab" not in sys.modules:
        raise ImportError("Run `pip install -r requirements.txt` at the repository root first.")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "{requirement()}"], check=True)
    sys.modules.pop("utils", None)
    importlib.invalidate_caches()
    import utils'''


def badge(rel_path: str) -> str:
    """The Open-in-Colab badge line for the notebook at ``rel_path`` (relative to the repository)."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{repo_slug()}/blob/{config.REPO_BRANCH}/{rel_path})")


def notebooks(root: Path = layout.ROOT) -> list[Path]:
    """Every course notebook (see :func:`utils.layout.notebooks`)."""
    return layout.notebooks(root)


# ---------------------------------------------------------------- repository links

def _slug(m: re.Match) -> tuple[str, str]:
    """``(owner/name, what followed the name)`` of a link match: ``.git`` or a full stop is not the name."""
    name, tail = m["name"], ""
    for end in (".git", "."):
        if name.endswith(end) and len(name) > len(end):
            name, tail = name[: -len(end)], end + tail
    return f"{m['owner']}/{name}", tail


def _text_files(root: Path) -> list[Path]:
    return [p for p in layout.tracked_files(root) if p.suffix in TEXT_SUFFIXES]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _chapter_file(m: re.Match) -> str:
    """The first folder of the file a link points at (``blob/<branch>/NN_topic/...`` → ``NN_topic``)."""
    pattern = r"^/[^/]+/([^/#?]+)" if m["host"].startswith("raw.") else r"^/(?:blob|tree|raw)/[^/]+/([^/#?]+)"
    found = re.match(pattern, m["path"] or "")
    return found[1] if found else ""


def course_slugs(root: Path = layout.ROOT) -> set[str]:
    """Every ``owner/name`` the tracked files use for the course repository (the current one included).

    A link is the course's when it has the current repository's name (the old owner, or a fork), points
    at a chapter file, is a set-up cell's ``git+https://`` install URL, or is one of pyproject's URLs.
    """
    current = repo_slug()
    name = current.split("/")[1].lower()
    chapters = {c.name for c in layout.chapters(root)}
    found = {current}
    for path in _text_files(root):
        text = _read(path)
        if text is None:
            continue
        for m in LINK_RE.finditer(text):
            slug, _ = _slug(m)
            if (slug.split("/")[1].lower() == name
                    or _chapter_file(m) in chapters
                    or text[max(0, m.start() - 12):m.start()] == "git+https://"
                    or path.name == "pyproject.toml"):
                found.add(slug)
    return found


def _repoint(text: str, slugs: set[str]) -> str:
    """``text`` with each course link re-pointed at the current slug (and Colab links at the current branch)."""
    current = repo_slug()

    def fix(m: re.Match) -> str:
        slug, tail = _slug(m)
        if slug not in slugs:
            return m[0]
        path = m["path"] or ""
        if m["host"].startswith("colab."):
            path = re.sub(r"^/blob/[^/]+/", f"/blob/{config.REPO_BRANCH}/", path)
        return f"{m['host']}{current}{tail}{path}"

    return LINK_RE.sub(fix, text)


def stale_links(root: Path = layout.ROOT) -> list[str]:
    """``file:line: link`` for every course link that does not point at ``REPO_URL`` (and, for Colab, the branch)."""
    slugs = course_slugs(root)
    out = []
    for path in _text_files(root):
        text = _read(path)
        if text is None:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            for m in LINK_RE.finditer(line):
                if _slug(m)[0] in slugs and _repoint(m[0], slugs) != m[0]:
                    out.append(f"{path.relative_to(root).as_posix()}:{i}: {m[0]}")
    return out


def repoint(root: Path = layout.ROOT, paths: list[Path] | None = None) -> list[Path]:
    """Re-point every course link in the tracked text files (or only ``paths``); returns the files changed."""
    slugs = course_slugs(root)
    changed = []
    for path in paths if paths is not None else _text_files(root):
        text = _read(path)
        if text is not None and (new := _repoint(text, slugs)) != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


# ---------------------------------------------------------------- notebooks

def problems(nb, rel_path: str) -> list[str]:
    """What differs from the stamped form (empty when the notebook is up to date)."""
    out = []
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown":
        return ["first cell is not the markdown title cell"]
    found = BADGE_RE.findall(cells[0].source)
    if found != [badge(rel_path)]:
        out.append("Colab badge missing or stale")
    if len(cells) < 2 or cells[1].cell_type != "code" or cells[1].source != setup_source():
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
        nb.cells[1].source = setup_source()
    else:
        nb.cells.insert(1, nbformat.v4.new_code_cell(setup_source()))


def main(argv: list[str] | None = None) -> int:
    import nbformat

    ap = argparse.ArgumentParser(prog="python -m utils.stamp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="files to stamp (default: every tracked file and notebook)")
    ap.add_argument("--check", action="store_true", help="change nothing; list what is stale (exit 1 if any)")
    args = ap.parse_args(argv)
    root = layout.ROOT
    files = [Path(p).resolve() for p in args.paths] or None
    stale = 0
    if args.check:
        wanted = {p.relative_to(root).as_posix() for p in files or []}
        for line in stale_links(root):
            if not wanted or line.split(":", 1)[0] in wanted:
                print(f"{line}   (stale repository link)")
                stale += 1
    else:
        for path in repoint(root, files):
            print(f"re-pointed links in {path.relative_to(root).as_posix()}")
    for path in [p for p in files if p.suffix == ".ipynb"] if files else notebooks(root):
        rel = path.relative_to(root).as_posix()
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
