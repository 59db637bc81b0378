"""Teaching conventions of issue 22: short openings with a list of outcomes, and a diagram in every theory notebook.

A notebook's title cell says **What you will learn.** in at most 80 words, then "You will be able to:" and a
list of 3-5 outcomes (``- ...``), then **Prerequisites.** and **Runtime**. Every theory notebook draws at least
one structure with :mod:`utils.diagrams`. Chapters not converted yet are listed in the ``*_PENDING`` sets below;
the sets only shrink: a pending notebook that already complies fails, so that it is taken off the list.
"""
import re

import nbformat
import pytest

from utils.layout import ROOT, notebooks

NOTEBOOKS = notebooks()
THEORY = [p for p in NOTEBOOKS if "_theory_" in p.name]
MAX_WORDS, MIN_OUTCOMES, MAX_OUTCOMES = 80, 3, 5

#: Notebooks whose opening is not converted yet (paths relative to the repository root).
OPENINGS_PENDING: set[str] = set()  # e.g. "11_topic/01_theory_x.ipynb" while its opening is being rewritten
#: Theory notebooks that do not draw a structure with utils.diagrams yet.
DIAGRAMS_PENDING: set[str] = set()


def _rel(path):
    return path.relative_to(ROOT).as_posix()


def opening_problems(title: str) -> list[str]:
    """What is wrong with a title cell's opening (empty when it follows the convention)."""
    match = re.search(r"\*\*What you will learn\.?\*\*(.*?)(?:\n\s*\n|\Z)", title, flags=re.S)
    if not match:
        return ["no **What you will learn.** paragraph"]
    problems = []
    words = len(re.findall(r"\S+", match.group(1)))
    if words > MAX_WORDS:
        problems.append(f"'What you will learn' has {words} words (at most {MAX_WORDS})")
    rest = title[match.end():].lstrip("\n")
    lines = rest.splitlines()
    if not lines or not lines[0].startswith("You will be able to"):
        return problems + ["no 'You will be able to:' line right after the paragraph"]
    bullets = []
    for line in lines[1:]:
        if not line.strip():
            break
        if line.startswith("- "):
            bullets.append(line)
        elif not line.startswith("  "):  # a wrapped bullet continues with an indent
            break
    if not MIN_OUTCOMES <= len(bullets) <= MAX_OUTCOMES:
        problems.append(f"{len(bullets)} outcomes listed (between {MIN_OUTCOMES} and {MAX_OUTCOMES})")
    for field in ("**Prerequisites", "**Runtime"):
        if field not in rest:
            problems.append(f"{field}** missing after the outcomes")
    return problems


def _draws_a_diagram(nb) -> bool:
    uses = re.compile(r"\butils\.diagrams\b|^from utils import diagrams\b", flags=re.M)
    return any(c.cell_type == "code" and uses.search(c.source) for c in nb.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_opening_is_short_with_outcomes(path):
    rel = _rel(path)
    found = opening_problems(nbformat.read(path, as_version=4).cells[0].source)
    if rel in OPENINGS_PENDING:
        assert found, f"{rel} follows the opening convention now: remove it from OPENINGS_PENDING"
    else:
        assert not found, f"{rel}: " + "; ".join(found)


@pytest.mark.parametrize("path", THEORY, ids=_rel)
def test_theory_notebook_draws_a_structure(path):
    rel = _rel(path)
    drawn = _draws_a_diagram(nbformat.read(path, as_version=4))
    if rel in DIAGRAMS_PENDING:
        assert not drawn, f"{rel} draws with utils.diagrams now: remove it from DIAGRAMS_PENDING"
    else:
        assert drawn, f"{rel}: no utils.diagrams call (a picture of the structure the notebook teaches)"


@pytest.mark.parametrize("pending", [OPENINGS_PENDING, DIAGRAMS_PENDING], ids=["openings", "diagrams"])
def test_pending_notebooks_exist(pending):
    missing = sorted(rel for rel in pending if not (ROOT / rel).is_file())
    assert not missing, f"listed as pending but not in the course: {missing}"
    if pending is DIAGRAMS_PENDING:
        assert all("_theory_" in rel for rel in pending)


def test_the_opening_check_can_fail():
    good = ("# T\n\nbadge\n\n**What you will learn.** How a neuron works.\n\nYou will be able to:\n- a\n- b\n"
            "- c,\n  wrapped\n\n**Prerequisites.** None.\n\n**Runtime** (2 CPU cores): quick ~5 s.")
    assert opening_problems(good) == []
    assert "81 words" in opening_problems(good.replace("How a neuron works.", "word " * 81))[0]
    assert "2 outcomes" in opening_problems(good.replace("- c,\n  wrapped\n", ""))[0]
    assert "no 'You will be able to:'" in opening_problems(good.replace("You will be able to:", "Outcomes:"))[0]
    assert opening_problems("# T\n\nno opening") == ["no **What you will learn.** paragraph"]
