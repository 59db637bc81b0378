"""utils.diagrams: figures build, shapes sit where asked, arrows join edges, kinds are validated, figures close."""
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import diagrams as dg  # noqa: E402


@pytest.fixture
def canvas():
    fig, ax = dg.diagram(6, 3, title="test")
    yield fig, ax
    plt.close(fig)


def test_diagram_is_a_bare_canvas_in_inches(canvas):
    fig, ax = canvas
    assert tuple(fig.get_size_inches()) == (6, 3)
    assert ax.get_xlim() == (0, 6) and ax.get_ylim() == (0, 3)
    assert not ax.axison and ax.get_aspect() == 1.0


def test_shapes_are_where_asked(canvas):
    _, ax = canvas
    n = dg.node(ax, (1, 1.5), "x", kind="input", r=0.3)
    b = dg.box(ax, (4, 1), "Dense", kind="linear", w=1.2, h=0.5)
    assert n.center == (1, 1.5) and n.radius == 0.3
    assert np.allclose([b.get_x(), b.get_y(), b.get_width(), b.get_height()], [3.4, 0.75, 1.2, 0.5])
    assert [t.get_text() for t in ax.texts] == ["x", "Dense"]
    assert dg.anchor(n) == (1, 1.5, 0.3, 0.3, "circle") and dg.anchor((2, 2))[-1] == "point"


def test_arrows_join_edges_not_centres(canvas):
    _, ax = canvas
    a = dg.node(ax, (1, 1.5), r=0.3)
    b = dg.box(ax, (4, 1.5), kind="loss", w=1.2, h=0.5)
    start, end = dg.arrow(ax, a, b, "x").dlf_ends
    assert np.isclose(np.hypot(*(start - (1, 1.5))), 0.3 + 0.03)          # on the circle (plus the gap)
    assert np.allclose(end, (4 - 0.6 - 0.03, 1.5))                         # on the box's left side
    up = dg.box(ax, (4, 2.7), w=1.2, h=0.4)
    _, end_up = dg.arrow(ax, (4, 0.2), up).dlf_ends                      # from below: the bottom side
    assert np.allclose(end_up, (4, 2.7 - 0.2 - 0.03))
    s2, e2 = dg.arrow(ax, b, a, style="backward").dlf_ends                 # a second lane, below
    assert s2[1] < 1.5 and e2[1] < 1.5 and np.isclose(s2[1], 1.4)
    corner = dg.edge_point(b, (5.6, 2.3), gap=0)                           # a diagonal leaves through a side
    assert np.isclose(abs(corner[0] - 4), 0.6) or np.isclose(abs(corner[1] - 1.5), 0.25)


def test_kinds_and_styles_are_validated(canvas):
    _, ax = canvas
    for kind in dg.PALETTE:
        dg.box(ax, (3, 1.5), kind=kind)
    with pytest.raises(ValueError, match="unknown kind 'lstm'.*gate"):
        dg.node(ax, (1, 1), kind="lstm")
    with pytest.raises(ValueError, match="unknown kind"):
        dg.grid(ax, (2, 2), (0, 3), kind="pixels")
    with pytest.raises(ValueError, match="unknown arrow style 'dotted'"):
        dg.arrow(ax, (0, 0), (1, 1), style="dotted")


def test_grid_cells_numbers_and_window(canvas):
    _, ax = canvas
    g = dg.grid(ax, np.arange(12).reshape(3, 4), (0.5, 2.5), cell=0.4, window=(1, 1, 2, 2), label="x")
    assert len(g.cells) == 12 and g.center(0, 0) == pytest.approx((0.7, 2.3))
    assert g.center(2, 3) == pytest.approx((0.5 + 3.5 * 0.4, 2.5 - 2.5 * 0.4))
    assert [t.get_text() for t in ax.texts][:12] == [str(k) for k in range(12)] and ax.texts[-1].get_text() == "x"
    window = ax.patches[-1]
    assert np.allclose([window.get_x(), window.get_y(), window.get_width()], [0.9, 2.5 - 3 * 0.4, 0.8])
    blank = dg.grid(ax, (2, 2), (4, 2.2), numbers=False)  # same centre height as g
    assert blank.shape == (2, 2) and len(ax.texts) == 13
    _, end = dg.arrow(ax, g, blank).dlf_ends                               # arrows reach the grid's outline
    assert np.isclose(end[0], 4 - 0.03)


def test_chain_and_layer_stack(canvas):
    _, ax = canvas
    boxes = dg.chain(ax, ["Dense", "ReLU", "loss"], (1, 2.5), kinds=["linear", "activation", "loss"])
    assert [dg.anchor(b)[:2] for b in boxes] == [(1, 2.5), (2.5, 2.5), (4, 2.5)]
    assert sum(type(p).__name__ == "FancyArrowPatch" for p in ax.patches) == 2
    cols = dg.layer_stack(ax, [2, 9, 1], (1, 1), labels=["in", "hidden", "out"], max_shown=4, dropped=[[], [0], []])
    assert [len(c) for c in cols] == [2, 3, 1]                             # 9 units: 3 drawn and a "⋮"
    assert cols[1][0].dlf_kind == "dropped" and "(9 units)" in " ".join(t.get_text() for t in ax.texts)
    assert len(ax.lines) == 2 * 2 + 2 * 1                                  # the dropped unit has no connections


def test_figures_close_when_shown():
    fig, ax = dg.diagram(2, 2)
    assert fig.number in plt.get_fignums()
    fig._repr_mimebundle_()                                               # what Jupyter does when it displays it
    assert fig.number not in plt.get_fignums()


def test_import_utils_does_not_import_matplotlib():
    code = "import sys, utils, utils.diagrams; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
