"""utils.cifar is 05/04's code: the same functions and classes as the notebook's teaching copies, and they behave.

The comparison parses both with :mod:`ast` and compares ``ast.unparse`` of each definition with docstrings
removed, so formatting, comments and docstrings may differ and nothing else may: a change to either copy
fails here until the other follows it. 10/04 must import them, not define them again.
"""
import ast
import inspect
import json

import pytest
import torch

from utils import cifar
from utils.layout import ROOT

TEACHING_NOTEBOOK = ROOT / "05_cnns" / "04_project_cifar10.ipynb"
USING_NOTEBOOK = ROOT / "10_training_at_scale" / "04_project_ship_cifar10.ipynb"


def _code_cells(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]


def _definitions(sources):
    """name -> normalised source of every top-level function and class in ``sources`` (docstrings removed)."""
    found = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:                                   # a cell with IPython syntax defines nothing shared
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                for inner in ast.walk(node):
                    body = getattr(inner, "body", None)
                    if (isinstance(inner, (ast.FunctionDef, ast.ClassDef)) and body and isinstance(body[0], ast.Expr)
                            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
                        inner.body = body[1:] or [ast.Pass()]
                found[node.name] = ast.unparse(node)
    return found


def differences(teaching_sources, module_source, names):
    """The names whose definition is missing from, or differs between, the notebook and the module."""
    teaching, ours = _definitions(teaching_sources), _definitions([module_source])
    return [name for name in names if name not in teaching or name not in ours or teaching[name] != ours[name]]


def test_utils_cifar_is_the_teaching_copy():
    assert differences(_code_cells(TEACHING_NOTEBOOK), inspect.getsource(cifar), cifar.__all__) == []


def test_the_comparison_fails_on_a_change_in_either_copy():
    cells, module = _code_cells(TEACHING_NOTEBOOK), inspect.getsource(cifar)
    changed_cells = [c.replace("eps=5e-4", "eps=1e-3") for c in cells]
    assert differences(changed_cells, module, cifar.__all__) == ["patch_whitening"]
    moved = module.replace("            self.whiten.weight.requires_grad_(False)",    # out of the `if` block
                           "        self.whiten.weight.requires_grad_(False)")
    assert differences(cells, moved, cifar.__all__) == ["FastCifarNet"]
    assert differences(cells, module.replace("lr: float = 0.2", "lr: float = 0.1"), cifar.__all__) == ["Recipe"]
    assert differences([c.replace("def conv_block(", "def block(") for c in cells], module, ["conv_block"]) == [
        "conv_block"]
    # comments, docstrings and line breaks do not count
    assert differences([c.replace("# global max-pooling", "# pooled") for c in cells], module, cifar.__all__) == []


def test_the_project_of_chapter_10_imports_it():
    defined = _definitions(_code_cells(USING_NOTEBOOK))
    assert not set(defined) & {*cifar.__all__, "shift_and_flip"}, "10/04 defines its own copy again"
    assert any("from utils.cifar import" in cell for cell in _code_cells(USING_NOTEBOOK))


def test_patch_whitening_whitens_and_is_deterministic():
    images = torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    filters, eigenvalues, patches = cifar.patch_whitening(images, max_patches=5000)
    assert filters.shape == (24, 3, 2, 2) and filters.dtype == torch.float32
    assert eigenvalues.shape == (12,) and patches.shape == (5000, 12)
    assert torch.equal(filters[12:], -filters[:12])
    again = cifar.patch_whitening(images, max_patches=5000)
    assert all(torch.equal(a, b) for a, b in zip((filters, eigenvalues, patches), again))
    whitened = patches.double() @ filters[:12].reshape(12, -1).T.double()
    expected = torch.diag(eigenvalues / (eigenvalues + 5e-4))
    assert torch.allclose(torch.cov(whitened.T), expected, atol=1e-4)     # float32 filters, 5,000 patches


def test_fast_cifar_net_shapes_parameters_and_frozen_whitening():
    torch.manual_seed(0)
    filters = cifar.patch_whitening(torch.randn(8, 3, 32, 32))[0]
    net = cifar.FastCifarNet(whitening=filters).eval()
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        logits = net(x)
        assert logits.shape == (5, 10) and torch.equal(logits, net(x))
    n_all = sum(p.numel() for p in net.parameters())
    n_trained = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert (n_all, n_trained) == (295_096, 294_808)                       # 05/04's counts; 288 whitening weights fixed
    assert torch.equal(net.whiten.weight, filters) and not net.whiten.bias.any()
    assert cifar.FastCifarNet().whiten.weight.requires_grad                # without whitening: an ordinary layer
    torch.manual_seed(1)
    a = cifar.FastCifarNet(widths=(8, 16, 32))
    torch.manual_seed(1)
    b = cifar.FastCifarNet(widths=(8, 16, 32))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_recipe_is_frozen_with_05_04_settings():
    recipe = cifar.Recipe()
    assert (recipe.batch_size, recipe.lr, recipe.momentum, recipe.weight_decay, recipe.warmup,
            recipe.label_smoothing, recipe.max_shift) == (512, 0.2, 0.9, 5e-4, 0.2, 0.2, 2)
    with pytest.raises(AttributeError):
        recipe.lr = 0.1
