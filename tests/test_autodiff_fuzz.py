"""The random-expression fuzzer of ``02_backprop/04_project_autodiff_engine.ipynb``.

The notebook builds two automatic-differentiation engines, the scalar ``Value`` and the NumPy-backed
``Tensor``, and checks a readable handful of expressions against PyTorch and TensorFlow. This file is the
exhaustive check: a seeded generator writes 1,000 random ``Tensor`` expressions (random broadcast-compatible
shapes, reductions with any ``axis``/``keepdims``, reshapes, transposes, matrix products, Python numbers on
either side of an operator, leaves used more than once) and 300 scalar ``Value`` expressions (with ``**``),
and the value and every input gradient of ours must equal ``torch.autograd``'s and ``tf.GradientTape``'s.
Then a deliberately wrong derivative of ``log`` must be caught, in exactly the expressions that use ``log``.

A test cannot import a notebook, so the engine is read from the notebook file itself: its code cells tagged
``engine`` (``"metadata": {"tags": ["engine"]}``), executed in order in one namespace. The test therefore
always checks the code a learner reads.

Expressions are nested tuples, e.g. ``("add", ("leaf", 0), ("exp", ("leaf", 1)))``; :func:`to_string`
writes them as the Python the notebook evaluates (``(x0 + exp(x1))``).
"""
from __future__ import annotations

import json
import math
import operator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch  # PyTorch before TensorFlow (see CONTRIBUTING)

import utils
from utils.config import safe_tensorflow_import

tf, _ = safe_tensorflow_import()

NOTEBOOK = Path(__file__).resolve().parents[1] / "02_backprop" / "04_project_autodiff_engine.ipynb"
N_TENSOR, N_VALUE = 1000, 300
# Every expression is checked against PyTorch; every TF_EVERY-th also against TensorFlow, whose eager
# GradientTape costs ~10x more per tiny expression (the notebook's sample checks each one against both).
TF_EVERY = 5
# float64 everywhere: libraries sum in different orders and their exp/log/tanh differ by an ulp, which
# over a few levels of operations costs a few digits (observed: ~1e-14 of the largest entry). A wrong
# rule is off by O(1). |ours - ref| <= 1e-9 (|ref| + max(1, max|ref|)) sits between the two.
RTOL, ATOL = 1e-9, 1e-9


# --------------------------------------------------------------------------- the engine, from the notebook
def load_engine() -> SimpleNamespace:
    """Execute the notebook's cells tagged ``engine`` and return what they define."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"]
             if c["cell_type"] == "code" and "engine" in c.get("metadata", {}).get("tags", [])]
    assert cells, f"{NOTEBOOK.name}: no code cell is tagged 'engine' (metadata.tags)"
    namespace = {"math": math, "np": np, "utils": utils}
    for cell in cells:
        source = "".join(cell["source"])
        exec(compile(source, f"<{NOTEBOOK.name} engine cell {cell.get('id')}>", "exec"), namespace)
    return SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})


@pytest.fixture(scope="module")
def engine() -> SimpleNamespace:
    return load_engine()


# --------------------------------------------------------------------------- the generator
ELEMENTWISE = ["add", "sub", "mul", "div", "neg", "exp", "log", "tanh", "relu", "const"]
TENSOR_ONLY = ["matmul", "sum", "mean", "reshape", "transpose"]
CONST_FORMS = {"x+c": "({x} + {c})", "c+x": "({c} + {x})", "x-c": "({x} - {c})", "c-x": "({c} - {x})",
               "x*c": "({x} * {c})", "c*x": "({c} * {x})", "x/c": "({x} / {c})", "c/x": "({c} / {x})"}


class ExpressionGenerator:
    """Random expression trees in which every node has a planned, exact shape (top-down).

    It decides the shape a node must have, then picks an operation that can produce it and plans its inputs'
    shapes: for ``+ - * /`` two shapes that broadcast to it, for ``@`` (m, k) and (k, n), for ``sum``/``mean``
    an input with extra or stretched axes and a matching ``axis`` (int, negative or not, tuple, or None) and
    ``keepdims``. Inputs that must be positive (of ``log``, of a denominator, of ``**``) are built only from
    positivity-preserving operations on leaves drawn from [0.5, 2]. A leaf is reused with probability 0.3.
    """

    def __init__(self, rng, ops, max_depth=4, max_rank=3):
        self.rng, self.ops, self.max_depth, self.max_rank = rng, ops, max_depth, max_rank

    def __call__(self):
        """A new expression (at least one operation) and its leaf arrays (float64)."""
        shape = self.random_shape() if "sum" in self.ops else ()
        expr = ("leaf", 0)
        while expr[0] == "leaf":
            self.leaves, self.positive = [], []
            expr = self.node(shape, self.max_depth, positive=False)
        return expr, self.leaves

    def random_shape(self, rank=None):
        if rank is None:
            rank = self.rng.choice(4, p=[0.1, 0.25, 0.4, 0.25])  # matrices (for @) most often
        return tuple(int(d) for d in self.rng.integers(1, 5, size=rank))

    def leaf(self, shape, positive):
        same = [i for i, a in enumerate(self.leaves) if a.shape == shape and (self.positive[i] or not positive)]
        if same and self.rng.random() < 0.3:  # a leaf used twice: its gradient contributions must add up
            return ("leaf", int(self.rng.choice(same)))
        values = self.rng.uniform(0.5, 2.0, shape) if positive else self.rng.normal(0.0, 1.0, shape)
        self.leaves.append(np.asarray(values, dtype=np.float64))
        self.positive.append(positive)
        return ("leaf", len(self.leaves) - 1)

    def allowed(self, op, shape, positive):
        if positive and op in ("sub", "neg", "tanh", "relu", "log"):
            return False  # these may return values <= 0
        if op == "matmul":
            return len(shape) == 2
        if op == "transpose":
            return len(shape) >= 2
        if op in ("sum", "mean"):
            return len(shape) < self.max_rank or 1 in shape or shape == ()
        return True

    def node(self, shape, depth, positive):
        rng = self.rng
        if depth == 0 or rng.random() < 0.15:
            return self.leaf(shape, positive)
        ops = [op for op in self.ops if self.allowed(op, shape, positive)]
        weights = np.array([3.0 if op == "matmul" else 1.0 for op in ops])
        op = ops[rng.choice(len(ops), p=weights / weights.sum())]
        d = depth - 1
        if op in ("neg", "exp", "tanh", "relu"):
            return (op, self.node(shape, d, False))
        if op == "log":
            return (op, self.node(shape, d, True))
        if op == "pow":
            k = float(rng.choice([2, 3, -1, 0.5, -1.5]))
            return (op, self.node(shape, d, True), k)
        if op == "const":  # a Python number on either side: __radd__, __rsub__, __rmul__, __rtruediv__
            forms = [f for f in CONST_FORMS if not (positive and "-" in f)]
            form = forms[rng.integers(len(forms))]
            c = round(float(rng.uniform(0.5, 2.0)), 2)
            return (op, self.node(shape, d, positive or form == "c/x"), form, c)
        if op in ("add", "sub", "mul", "div"):
            shape_a, shape_b = self.broadcast_pair(shape)
            return (op, self.node(shape_a, d, positive), self.node(shape_b, d, positive or op == "div"))
        if op == "matmul":
            k = int(rng.integers(1, 5))
            return (op, self.node((shape[0], k), d, positive), self.node((k, shape[1]), d, positive))
        if op in ("sum", "mean"):
            child, axis, keepdims = self.reduction(shape)
            return (op, self.node(child, d, positive), axis, keepdims)
        if op == "reshape":
            child = [tuple(reversed(shape)), (math.prod(shape),), shape + (1,)][rng.integers(3)]
            return (op, self.node(child, d, positive), shape)
        if op == "transpose":
            axes = tuple(int(a) for a in rng.permutation(len(shape)))
            child = [0] * len(shape)
            for i, a in enumerate(axes):
                child[a] = shape[i]  # out.shape[i] == child.shape[axes[i]]
            return (op, self.node(tuple(child), d, positive), axes)
        raise ValueError(op)

    def broadcast_pair(self, shape):
        """Two shapes that broadcast to `shape`."""
        a, b = list(shape), list(shape)
        for i in range(len(shape)):
            r = self.rng.random()
            if r < 0.2:
                a[i] = 1  # stretched in a
            elif r < 0.4:
                b[i] = 1  # stretched in b
        short = a if self.rng.random() < 0.5 else b
        while short and short[0] == 1 and self.rng.random() < 0.7:
            short.pop(0)  # leading axes of size 1 may be missing altogether
        return tuple(a), tuple(b)

    def reduction(self, shape):
        """(input shape, axis, keepdims) such that sum(input, axis, keepdims) has `shape`."""
        rng = self.rng
        ones = [i for i, s in enumerate(shape) if s == 1]
        ways = (["drop"] if len(shape) < self.max_rank else []) + (["keep"] if ones else [])
        if all(s == 1 for s in shape):
            ways.append("all")  # axis=None (keepdims if shape is not ())
        way = ways[rng.integers(len(ways))]
        if way == "all":
            rank = len(shape) if shape else int(rng.integers(1, self.max_rank + 1))
            return self.random_shape(rank), None, shape != ()
        if way == "keep":  # keepdims=True: some axes of size 1 were reduced from a larger size
            axes = sorted(int(a) for a in rng.choice(ones, size=int(rng.integers(1, len(ones) + 1)), replace=False))
            child = [int(rng.integers(2, 5)) if i in axes else s for i, s in enumerate(shape)]
        else:  # keepdims=False: the reduced axes disappear
            rank = len(shape) + int(rng.integers(1, self.max_rank - len(shape) + 1))
            axes = sorted(int(a) for a in rng.choice(rank, size=rank - len(shape), replace=False))
            rest = iter(shape)
            child = [int(rng.integers(2, 5)) if i in axes else next(rest) for i in range(rank)]
        rank = len(child)
        axes = [a - rank if rng.random() < 0.5 else a for a in axes]  # negative axes too
        return tuple(child), (axes[0] if len(axes) == 1 else tuple(axes)), way == "keep"


# --------------------------------------------------------------------------- evaluating and printing
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
          "matmul": operator.matmul}
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@"}


def evaluate(expr, leaves, F):
    """Evaluate `expr` on `leaves` (tensors of one library), with that library's functions in namespace F."""
    op = expr[0]
    if op == "leaf":
        return leaves[expr[1]]
    x = evaluate(expr[1], leaves, F)
    if op in BINARY:
        return BINARY[op](x, evaluate(expr[2], leaves, F))
    if op == "const":
        form, c = expr[2], expr[3]
        return {"x+c": lambda: x + c, "c+x": lambda: c + x, "x-c": lambda: x - c, "c-x": lambda: c - x,
                "x*c": lambda: x * c, "c*x": lambda: c * x, "x/c": lambda: x / c, "c/x": lambda: c / x}[form]()
    if op == "neg":
        return -x
    if op == "pow":
        return x ** expr[2]
    if op in ("sum", "mean"):
        return getattr(F, op)(x, axis=expr[2], keepdims=expr[3])
    return getattr(F, op)(x, *expr[2:])  # exp, log, tanh, relu, reshape, transpose


def to_string(expr):
    """The expression as Python source over leaves x0, x1, ... (the form the notebook evaluates)."""
    op, args = expr[0], expr[1:]
    if op == "leaf":
        return f"x{args[0]}"
    if op in BINARY:
        return f"({to_string(args[0])} {SYMBOL[op]} {to_string(args[1])})"
    if op == "const":
        return CONST_FORMS[args[1]].format(x=to_string(args[0]), c=f"{args[2]:g}")
    if op == "neg":
        return f"-{to_string(args[0])}"
    if op == "pow":
        return f"{to_string(args[0])}**{args[1]:g}"
    if op in ("sum", "mean"):
        return f"{op}({to_string(args[0])}, axis={args[1]}{', keepdims=True' if args[2] else ''})"
    if op in ("reshape", "transpose"):
        return f"{op}({to_string(args[0])}, {args[1]})"
    return f"{op}({to_string(args[0])})"


def count_ops(expr, counts=None):
    """How often each operation occurs in `expr`."""
    counts = {} if counts is None else counts
    if expr[0] != "leaf":
        counts[expr[0]] = counts.get(expr[0], 0) + 1
        for arg in expr[1:]:
            if isinstance(arg, tuple) and arg and isinstance(arg[0], str):
                count_ops(arg, counts)
    return counts


# --------------------------------------------------------------------------- the three libraries
def ours_ops():
    """Our functions, looked up when called, so that a patched Tensor.log takes effect."""
    return SimpleNamespace(exp=lambda x: x.exp(), log=lambda x: x.log(), tanh=lambda x: x.tanh(),
                           relu=lambda x: x.relu(), sum=lambda x, axis=None, keepdims=False: x.sum(axis, keepdims),
                           mean=lambda x, axis=None, keepdims=False: x.mean(axis, keepdims),
                           reshape=lambda x, shape: x.reshape(shape), transpose=lambda x, axes: x.transpose(*axes))


TORCH_OPS = SimpleNamespace(exp=torch.exp, log=torch.log, tanh=torch.tanh, relu=torch.relu,
                            sum=lambda x, axis=None, keepdims=False: x.sum(dim=axis, keepdim=keepdims),
                            mean=lambda x, axis=None, keepdims=False: x.mean(dim=axis, keepdim=keepdims),
                            reshape=lambda x, shape: x.reshape(shape), transpose=lambda x, axes: x.permute(axes))
TF_OPS = SimpleNamespace(exp=tf.exp, log=tf.math.log, tanh=tf.tanh, relu=tf.nn.relu,
                         sum=lambda x, axis=None, keepdims=False: tf.reduce_sum(x, axis, keepdims),
                         mean=lambda x, axis=None, keepdims=False: tf.reduce_mean(x, axis, keepdims),
                         reshape=tf.reshape, transpose=lambda x, axes: tf.transpose(x, axes))


def torch_reference(expr, leaves, upstream):
    ts = [torch.tensor(a, requires_grad=True) for a in leaves]
    out = evaluate(expr, ts, TORCH_OPS)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def tf_reference(expr, leaves, upstream):
    ts = [tf.constant(a) for a in leaves]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        out = evaluate(expr, ts, TF_OPS)
    grads = tape.gradient(out, ts, output_gradients=tf.constant(upstream))
    return out.numpy(), [g.numpy() for g in grads]


def ours_result(engine, kind, expr, leaves, upstream):
    if kind == "Value":  # scalars: L is the output itself (upstream gradient 1)
        vs = [engine.Value(float(a)) for a in leaves]
        out = evaluate(expr, vs, ours_ops())
        out.backward()
        return np.array(out.data), [np.array(v.grad) for v in vs]
    ts = [engine.Tensor(a.copy(), requires_grad=True) for a in leaves]
    out = evaluate(expr, ts, ours_ops())
    out.backward(upstream)
    return out.data, [t.grad for t in ts]


def make_cases(kind, n, seed):
    """n random expressions for `kind` ("Value" or "Tensor") with their PyTorch references (and TensorFlow's
    for every TF_EVERY-th one).

    Expressions whose reference values or gradients exceed 1e6 (an exp of an exp of a large sum) are redrawn:
    their comparisons would test overflow, not derivatives.
    """
    ops = ELEMENTWISE + (["pow"] if kind == "Value" else TENSOR_ONLY)
    generator, rng = ExpressionGenerator(np.random.default_rng(seed), ops), np.random.default_rng(seed + 1)
    cases = []
    while len(cases) < n:
        expr, leaves = generator()
        if kind == "Tensor":
            shape = tuple(evaluate(expr, [torch.from_numpy(a) for a in leaves], TORCH_OPS).shape)
            upstream = rng.normal(size=shape)
        else:
            upstream = np.asarray(1.0)
        refs = {"torch": torch_reference(expr, leaves, upstream)}
        arrays = [refs["torch"][0], *refs["torch"][1]]
        if all(np.all(np.isfinite(a)) and np.all(np.abs(a) < 1e6) for a in arrays):
            if len(cases) % TF_EVERY == 0:
                refs["tf"] = tf_reference(expr, leaves, upstream)
            cases.append(SimpleNamespace(expr=expr, leaves=leaves, upstream=upstream, refs=refs))
    return cases


def close(mine, ref):
    """utils.assert_close's criterion, vectorised and quiet (thousands of tiny arrays)."""
    mine, ref = np.asarray(mine, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    return mine.shape == ref.shape and bool(np.all(np.abs(mine - ref) <= ATOL * scale + RTOL * np.abs(ref)))


def check_cases(engine, kind, cases):
    """{case index: [what failed]} of ours against the references, and the number of arrays compared."""
    failures, compared = {}, 0
    for i, case in enumerate(cases):
        value, grads = ours_result(engine, kind, case.expr, case.leaves, case.upstream)
        for lib, (ref_value, ref_grads) in case.refs.items():
            pairs = [("value", value, ref_value)] + [(f"d/dx{j}", g, r) for j, (g, r) in enumerate(zip(grads, ref_grads))]
            for what, mine, ref in pairs:
                compared += 1
                if not close(mine, ref):
                    failures.setdefault(i, []).append(f"{what} vs {lib}")
    return failures, compared


def describe(cases, failures):
    return {to_string(cases[i].expr): f for i, f in list(failures.items())[:5]}


@pytest.fixture(scope="module")
def tensor_cases():
    return make_cases("Tensor", N_TENSOR, seed=100)


# --------------------------------------------------------------------------- the tests
def test_engine_cells_define_both_engines(engine):
    for name in ("Value", "topological_order", "unbroadcast", "Tensor", "softmax_cross_entropy"):
        assert hasattr(engine, name), f"no engine cell of {NOTEBOOK.name} defines {name}"
    for method in ("__add__", "__mul__", "__pow__", "exp", "log", "tanh", "relu", "__neg__", "__sub__",
                   "__truediv__", "__radd__", "__rmul__", "__rsub__", "__rtruediv__", "backward"):
        assert callable(getattr(engine.Value, method, None)), f"Value.{method} is missing"
    for method in ("__add__", "__sub__", "__mul__", "__truediv__", "__neg__", "__radd__", "__rmul__", "__rsub__",
                   "__rtruediv__", "exp", "log", "tanh", "relu", "__matmul__", "sum", "mean", "reshape",
                   "transpose", "backward"):
        assert callable(getattr(engine.Tensor, method, None)), f"Tensor.{method} is missing"


def test_printed_expressions_are_the_python_the_notebook_evaluates():
    generator = ExpressionGenerator(np.random.default_rng(7), ELEMENTWISE + TENSOR_ONLY)
    for _ in range(50):
        expr, leaves = generator()
        ts = [torch.from_numpy(a) for a in leaves]
        by_tree = evaluate(expr, ts, TORCH_OPS)
        by_text = eval(to_string(expr), {**vars(TORCH_OPS), **{f"x{i}": t for i, t in enumerate(ts)}})
        np.testing.assert_array_equal(by_text.numpy(), by_tree.numpy(), err_msg=to_string(expr))


def test_tensor_engine_equals_torch_and_tf_on_random_expressions(engine, tensor_cases):
    failures, compared = check_cases(engine, "Tensor", tensor_cases)
    assert not failures, describe(tensor_cases, failures)
    shapes = {a.shape for case in tensor_cases for a in case.leaves}
    ops = {}
    for case in tensor_cases:
        count_ops(case.expr, ops)
    assert sum("tf" in case.refs for case in tensor_cases) == N_TENSOR // TF_EVERY
    assert compared > 3 * N_TENSOR and len(shapes) > 50  # the generator really varies shapes
    assert set(ops) == set(ELEMENTWISE + TENSOR_ONLY)  # and every operation was exercised


def test_value_engine_equals_torch_and_tf_on_random_expressions(engine):
    cases = make_cases("Value", N_VALUE, seed=200)
    failures, _ = check_cases(engine, "Value", cases)
    assert not failures, describe(cases, failures)
    ops = {}
    for case in cases:
        count_ops(case.expr, ops)
    assert set(ops) == set(ELEMENTWISE + ["pow"])


def test_a_wrong_log_derivative_fails_exactly_where_log_is_used(engine, tensor_cases, monkeypatch):
    Tensor = engine.Tensor

    def log_with_wrong_derivative(self):
        out = Tensor._make(np.log(self.data), (self,), "log")
        out._backward = lambda: self._accumulate(out.grad / self.data**2)  # BUG: 1/x², not 1/x
        return out

    monkeypatch.setattr(Tensor, "log", log_with_wrong_derivative)
    failures, _ = check_cases(engine, "Tensor", tensor_cases)
    with_log = {i for i, case in enumerate(tensor_cases) if "log" in count_ops(case.expr)}
    assert len(failures) > len(with_log) // 2, "the check must catch the wrong derivative"
    assert set(failures) <= with_log, "only expressions that use log may fail"
    assert all(what.startswith("d/dx") for fs in failures.values() for what in fs), "values must not fail"


def test_fused_softmax_cross_entropy_equals_torch(engine):
    rng = np.random.default_rng(300)
    for n, k in [(1, 2), (7, 4), (32, 10)]:
        logits, labels = rng.normal(0.0, 5.0, size=(n, k)), rng.integers(0, k, size=n)
        z = engine.Tensor(logits.copy(), requires_grad=True)
        loss = engine.softmax_cross_entropy(z, labels)
        loss.backward()
        zt = torch.tensor(logits, requires_grad=True)
        loss_t = torch.nn.functional.cross_entropy(zt, torch.from_numpy(labels))
        loss_t.backward()
        utils.assert_close(f"loss ({n}, {k})", loss.data, loss_t, rtol=1e-12, atol=1e-12, quiet=True)
        utils.assert_close(f"grad ({n}, {k})", z.grad, zt.grad, rtol=1e-10, atol=1e-13, quiet=True)
