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


# --- Exercises and "Go further" (issue 22, item 4) -------------------------------------------------------------
CHAPTERS = sorted({p.parent for p in NOTEBOOKS})
PROJECTS = [p for p in NOTEBOOKS if "_project_" in p.name]
#: Skills the exercises used to repeat (title patterns) and how many exercises of the whole course may practise each.
#: Within one chapter no two exercises may share one of them.
REPEATED_SKILLS = {
    "counting parameters": (r"parameters? of|count\w*\b.*parameters|how big are the weights", 1),
    "clipping by global norm": (r"clip\w*\b.*global norm", 1),
    "Grad-CAM": (r"grad-cam", 1),
    "nucleus sampling": (r"top-p|nucleus", 1),
    "folding batch norm": (r"fold batch norm", 1),
    "rounding to bfloat16": (r"bfloat16", 1),
    "causal masks": (r"\bcausal\b", 1),
    "porting between PyTorch and Keras": (r"\bport\b|\bconvert\b|to keras", 4),  # one per framework chapter at most
}
EXERCISE_RE = re.compile(r"^#{2,4}\s*Exercise (\d+) — (.+)$", flags=re.M)


def exercise_titles(nb) -> list[tuple[int, str]]:
    return [(int(n), title.strip()) for c in nb.cells if c.cell_type == "markdown"
            for n, title in EXERCISE_RE.findall(c.source)]


def skills_repeated(titles: list[str], limit_of=lambda skill: 1) -> dict[str, list[str]]:
    """Skills of REPEATED_SKILLS practised by more of ``titles`` than allowed."""
    found = {skill: [t for t in titles if re.search(pattern, t, flags=re.I)]
             for skill, (pattern, _) in REPEATED_SKILLS.items()}
    return {skill: ts for skill, ts in found.items() if len(ts) > limit_of(skill)}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.name)
def test_exercises_of_a_chapter_practise_different_skills(chapter):
    titles = []
    for path in notebooks(chapter=chapter):
        nb = nbformat.read(path, as_version=4)
        found = exercise_titles(nb)
        assert [n for n, _ in found] == [1, 2, 3], f"{_rel(path)}: exercises numbered {[n for n, _ in found]}"
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert code.count("solution=True") >= 3, f"{_rel(path)}: every exercise's solution is checked"
        assert len(re.findall(r"\.rejects\(", code)) >= 3, f"{_rel(path)}: every check is shown to reject a wrong answer"
        titles += [t for _, t in found]
    assert len({t.lower() for t in titles}) == len(titles), f"{chapter.name}: an exercise title repeats: {titles}"
    assert skills_repeated(titles) == {}, f"{chapter.name}: one skill, several exercises"


def test_no_skill_is_drilled_across_the_course():
    titles = [t for path in NOTEBOOKS for _, t in exercise_titles(nbformat.read(path, as_version=4))]
    repeated = skills_repeated(titles, limit_of=lambda skill: REPEATED_SKILLS[skill][1])
    assert repeated == {}, repeated


def test_the_skill_check_can_fail():
    assert skills_repeated(["count a convolution's parameters", "the parameters of a Transformer layer"])
    assert skills_repeated(["causal attention by hand", "the causal mask, in PyTorch's convention"])
    assert skills_repeated(["the ELU derivative", "one step of Adam"]) == {}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.name)
def test_each_chapter_has_open_ended_tasks(chapter):
    """Two or three "Go further" tasks per project notebook, each saying what a good answer looks like."""
    projects = [p for p in PROJECTS if p.parent == chapter]
    assert projects, f"{chapter.name} has no project notebook"
    for path in projects:
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        match = re.search(r"^#{2,4}\s*Go further[^\n]*\n(.*?)(?=^#{1,4} |\Z)", text, flags=re.M | re.S)
        assert match, f"{_rel(path)}: no Go further section"
        tasks = re.split(r"\n(?=\d+\. )", "\n" + match.group(1))[1:]
        assert 2 <= len(tasks) <= 3, f"{_rel(path)}: {len(tasks)} Go further tasks"
        vague = [t.split("\n")[0][:60] for t in tasks if "good answer" not in " ".join(t.split()).lower()]
        assert not vague, f"{_rel(path)}: tasks that do not say what a good answer looks like: {vague}"


def solution_cells_not_collapsed(nb) -> list[int]:
    """Indices of "# @title Solution" cells that Jupyter, Colab and the site would show open."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith("# @title Solution")
            and not (c.metadata.get("jupyter", {}).get("source_hidden") and c.metadata.get("cellView") == "form")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_solutions_are_collapsed(path):
    """Hidden in Jupyter (``jupyter.source_hidden``), a form in Colab (``cellView``), a closed box on the site."""
    nb = nbformat.read(path, as_version=4)
    assert sum(c.cell_type == "code" and c.source.startswith("# @title Solution") for c in nb.cells) >= 3
    assert solution_cells_not_collapsed(nb) == [], f"{_rel(path)}: solution cells shown open"


def test_the_collapsed_check_can_fail():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# @title Solution (try it first)\nx = 1")])
    assert solution_cells_not_collapsed(nb) == [0]
    nb.cells[0].metadata.update({"cellView": "form", "jupyter": {"source_hidden": True}})
    assert solution_cells_not_collapsed(nb) == []
