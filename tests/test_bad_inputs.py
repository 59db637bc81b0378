"""Bad inputs, tried as a careful user would: every check bites, and none can be fooled.

One case per way the proof machinery was (or could be) fooled. Data loaders' bad inputs live in
``test_bad_inputs_data.py``. Offline and fast (a few seconds).
"""
from __future__ import annotations

import json
import linecache
import warnings

import numpy as np
import pytest

from utils import checks, results
from utils.checks import CheckFailure, Exercise, assert_close, gradient_check, must_fail, relative_error

inf, nan = np.inf, np.nan


# --------------------------------------------------------------------------- assert_close
@pytest.mark.parametrize("ours, ref", [
    ([1.0], [inf]),                 # finite vs infinite
    ([-inf], [inf]),                # infinities of opposite sign
    ([inf, 1.0], [1.0, inf]),       # infinities in different places
    ([nan], [nan]),                 # NaN fails unless equal_nan=True
    ([1.0, nan], [1.0, 2.0]),       # NaN in ours
    ([1.0, 2.0], [1.0, nan]),       # NaN in the reference
    ([1.0, 2.0], [1.0, 2.1]),       # out of tolerance
    ([1.0], 1.0),                   # shape (1,) vs scalar: no broadcasting
    ([[1.0, 2.0]], [1.0, 2.0]),     # (1, 2) vs (2,)
    (np.zeros((0,)), np.zeros((0, 1))),  # empty, but of another shape
], ids=["1-vs-inf", "-inf-vs-inf", "inf-elsewhere", "nan-both", "nan-ours", "nan-ref", "value", "scalar-shape",
        "row-shape", "empty-shape"])
def test_assert_close_fails(ours, ref):
    with pytest.raises(CheckFailure):
        assert_close("bad", np.asarray(ours, dtype=float), np.asarray(ref, dtype=float) if not np.isscalar(ref) else ref)


def test_assert_close_matching_nonfinite_passes():
    assert_close("inf same place", np.array([inf, -inf, 1.0]), np.array([inf, -inf, 1.0]))
    assert_close("nan allowed", np.array([nan, 1.0]), np.array([nan, 1.0]), equal_nan=True)
    with pytest.raises(CheckFailure, match="NaN"):
        assert_close("nan misplaced", np.array([nan, 1.0]), np.array([1.0, nan]), equal_nan=True)


@pytest.mark.parametrize("ours, ref, match", [
    (np.array([1j]), np.array([1j]), "complex"),
    (np.array(["a"]), np.array(["a"]), "not a number"),
    (np.array([object()]), np.array([1.0]), "not a number"),
    (np.array([True, False]), np.array([1.0, 0.0]), "mask"),
    (None, np.array([1.0]), "None"),
], ids=["complex", "str", "object", "bool-vs-float", "none"])
def test_assert_close_refuses_what_it_cannot_compare(ours, ref, match):
    with pytest.raises(TypeError, match=match):
        assert_close("refused", ours, ref)


@pytest.mark.parametrize("tol", [{"rtol": -1e-5}, {"atol": nan}, {"atol": inf}, {"rtol": "1e-5"}])
def test_assert_close_refuses_bad_tolerances(tol):
    with pytest.raises(ValueError, match="finite number"):
        assert_close("tol", np.ones(2), np.ones(2), **tol)


def test_assert_close_converts_bfloat16_instead_of_crashing():
    import tensorflow as tf
    import torch

    x = np.array([1.0, 2.0, 3.5], dtype=np.float32)
    assert_close("torch bf16", torch.tensor(x, dtype=torch.bfloat16), x)
    assert_close("tf bf16", tf.constant(x, dtype=tf.bfloat16), x)
    with pytest.raises(CheckFailure):
        assert_close("torch bf16 wrong", torch.tensor(x + 1, dtype=torch.bfloat16), x)


# --------------------------------------------------------------------------- gradient checks
X = np.array([[0.3, -1.2, 2.0]] * 4) * np.arange(1, 5)[:, None]


def cube(v):
    return float(np.sum(v ** 3))


@pytest.mark.parametrize("analytic, match", [
    (np.full(X.shape, nan), "NaN"),
    (np.where(X > 0, inf, 3 * X ** 2), "NaN or infinite"),
    (np.float64(1.0), "shape"),             # a scalar broadcast against (4, 3) used to pass
    (3 * X[0] ** 2, "shape"),               # (3,) against (4, 3)
    (3 * X.T ** 2, "shape"),                # transposed
], ids=["nan-grad", "inf-grad", "scalar", "row", "transposed"])
def test_gradient_check_fails(analytic, match):
    with pytest.raises(CheckFailure, match=match):
        gradient_check("bad", cube, X.copy(), analytic)


@pytest.mark.parametrize("f", [lambda v: float("nan"), lambda v: float("inf") if v[0, 0] > 0.3 else 0.0],
                         ids=["f-nan", "f-inf"])
def test_gradient_check_fails_when_f_is_not_finite(f):
    with pytest.raises(CheckFailure, match="returned"):
        gradient_check("f", f, X.copy(), 3 * X ** 2)


def test_gradient_check_refuses_vector_f():
    with pytest.raises(TypeError, match="one number"):
        gradient_check("vector f", lambda v: v ** 2, X.copy(), 2 * X)


def test_gradient_check_float32_warns_and_says_why():
    x32 = X.astype(np.float32)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(CheckFailure, match="float64"):
        warnings.simplefilter("always")
        gradient_check("float32", lambda v: float(np.sum(v.astype(np.float32) ** 3)), x32, 3 * x32 ** 2)
    assert any("float64" in str(w.message) for w in caught)
    gradient_check("float64 passes", cube, X.copy(), 3 * X ** 2)


@pytest.mark.parametrize("a, b, match", [
    (np.array([nan, 1.0]), np.array([1.0, 1.0]), "NaN or infinite"),
    (np.array([1.0, 1.0]), np.array([inf, 1.0]), "NaN or infinite"),
    (np.ones((4, 3)), np.ones(3), "shapes"),
], ids=["nan", "inf", "shape"])
def test_relative_error_refuses(a, b, match):
    with pytest.raises(ValueError, match=match):
        relative_error(a, b)


# --------------------------------------------------------------------------- record
@pytest.fixture
def results_file(tmp_path, monkeypatch):
    path = tmp_path / "numbers.jsonl"
    monkeypatch.setenv(results.RESULTS_ENV, str(path))
    return path


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
@pytest.mark.parametrize("value, kwargs", [
    (nan, {}), (nan, {"target": 0.5}), (inf, {"target": 0.5}), (-inf, {"target": 1.0, "higher_is_better": False}),
], ids=["nan-headline", "nan-target", "+inf-accuracy", "-inf-loss"])
def test_record_never_counts_nonfinite_as_met(results_file, monkeypatch, quick, value, kwargs):
    monkeypatch.setenv("DLF_QUICK", "1" if quick else "0")
    with pytest.raises(AssertionError, match="NaN or infinite"):
        results.record("x", value, **kwargs)
    row = json.loads(results_file.read_text())  # valid JSON: no bare NaN / Infinity
    assert row["value"] is None and row["met"] in (None, False)


@pytest.mark.parametrize("value", ["0.9", [0.9, 0.8], np.array([0.9, 0.8]), True, None],
                         ids=["str", "list", "array", "bool", "none"])
def test_record_refuses_what_is_not_one_number(results_file, value):
    with pytest.raises(TypeError, match="record"):
        results.record("x", value)


def test_record_accepts_framework_scalars(results_file, monkeypatch):
    import torch

    monkeypatch.setenv("DLF_QUICK", "0")
    assert results.record("acc", torch.tensor(0.9), target=0.5) == pytest.approx(0.9)
    assert results.record("n", np.int64(3)) == 3
    assert [json.loads(line)["met"] for line in results_file.read_text().splitlines()] == [True, None]


def test_record_speed_targets_asserted_only_on_reference_setup(results_file, monkeypatch, capsys):
    monkeypatch.setenv("DLF_QUICK", "0")
    monkeypatch.setattr(results, "is_reference_setup", lambda: False)
    results.record("train_seconds", 1000.0, target=900, higher_is_better=False, reference_only=True)
    assert "not asserted on this machine" in capsys.readouterr().out
    monkeypatch.setattr(results, "is_reference_setup", lambda: True)
    with pytest.raises(AssertionError, match="misses the target"):
        results.record("train_seconds", 1000.0, target=900, higher_is_better=False, reference_only=True)
    with pytest.raises(AssertionError, match="misses the target"):  # learning targets: asserted everywhere
        monkeypatch.setattr(results, "is_reference_setup", lambda: False)
        results.record("accuracy", 0.5, target=0.9)


# --------------------------------------------------------------------------- must_fail
def test_must_fail_does_not_count_an_unrelated_assert():
    with pytest.raises(AssertionError, match="before the check it guards"):
        with must_fail("a wrong dW"):
            assert 1 + 1 == 3, "unrelated set-up bug"
            assert_close("dW", np.array([1.0]), np.array([2.0]))


def test_must_fail_passes_other_errors_through():
    with pytest.raises(TypeError, match="complex"):
        with must_fail("complex input"):
            assert_close("c", np.array([1j]), np.array([1j]))


def test_must_fail_counts_the_guarded_check_and_insists(capsys):
    with must_fail("a wrong dW"):
        wrong = np.array([1.0])
        assert_close("dW", wrong, np.array([2.0]))
    assert "caught, as it should be" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match="should have failed"):
        with must_fail("nothing wrong"):
            assert_close("x", np.array([1.0]), np.array([1.0]))


# --------------------------------------------------------------------------- exercises
def _cell(source: str, name: str):
    """Define a function as a notebook cell would (its own file name, source in linecache)."""
    filename = f"<cell-{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = {"np": np}
    exec(compile(source, filename, "exec"), scope)
    return scope[name]


def _double_check(fn):
    x = np.array([1.0, 2.0])
    assert_close("double", fn(x), 2 * x, quiet=True)  # reference built after the call, on purpose


@pytest.mark.parametrize("body, kind", [
    ("    raise RuntimeError('shapes do not line up')\n", "RuntimeError"),
    ("    return {}['x']\n", "KeyError"),
    ("    return x @ np.ones((3, 3))\n", "ValueError"),
    ("    return x.no_such_method()\n", "AttributeError"),
    ("    return 1 / 0\n", "ZeroDivisionError"),
], ids=["runtime", "key", "value", "attribute", "zerodiv"])
def test_exercise_reports_any_learner_error_with_type_and_line(capsys, body, kind):
    ex = Exercise("t", _double_check)
    ex.check(lambda x: 2 * x, solution=True)
    assert ex.passed is True
    ex.check(_cell(f"def answer(x):\n{body}", "answer"))
    out = capsys.readouterr().out
    assert ex.passed is False, "passed must reflect the latest attempt only"
    assert f"not yet — {kind}" in out and "your code, line 2" in out


def test_exercise_reports_tensorflow_errors():
    import tensorflow as tf

    def check(fn):
        assert_close("matmul", fn(tf.ones((2, 3))), np.full((2, 2), 3.0), quiet=True)

    ex = Exercise("tf", check)
    ex.check(lambda a: tf.matmul(a, a))  # (2, 3) @ (2, 3): InvalidArgumentError
    assert ex.passed is False


def test_exercise_cannot_be_fooled_by_changing_its_input():
    ex = Exercise("double", _double_check)

    def zero_then_double(x):  # zeroes the check's input, so a reference built afterwards would be 0
        x[:] = 0
        return x

    ex.check(zero_then_double)
    assert ex.passed is False
    ex.rejects(zero_then_double)


def test_exercise_accepts_a_correct_answer_that_writes_into_its_input():
    ex = Exercise("double", _double_check)

    def double_in_place(x):
        x *= 2
        return x

    ex.check(double_in_place, solution=True)
    assert ex.passed is True


def test_exercise_tensors_are_copied_but_keep_autograd():
    import torch

    def check(fn):
        x = torch.tensor([1.0, -2.0], requires_grad=True)
        fn(x).sum().backward()
        assert_close("dx", x.grad, np.array([1.0, 0.0]), quiet=True)
        assert_close("x untouched", x, np.array([1.0, -2.0]), quiet=True)

    ex = Exercise("relu", check)
    ex.check(lambda x: torch.relu(x), solution=True)

    def relu_clobbering(x):
        with torch.no_grad():
            x[1] = 5.0  # writes into its (private) input
        return torch.relu(x)

    ex.rejects(relu_clobbering)  # the gradient at x[1] is now 1, not 0: still wrong, and x stays untouched


def test_exercise_rejects_changing_a_models_weights_unless_allowed():
    import torch

    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)

    def check(fn):
        w = fn(module)
        assert_close("ported", w, module.weight.detach().numpy().T, quiet=True)

    def swap_through_view(m):  # the 07 ex_port trick: edit the weights through a shared .numpy() view
        wrong = m.weight.detach().numpy().copy()
        m.weight.detach().numpy()[:] = np.flip(wrong, 0)
        return np.flip(wrong, 0).T

    ex = Exercise("port", check)
    ex.check(lambda m: m.weight.detach().numpy().T, solution=True)
    ex.check(swap_through_view)
    assert ex.passed is False
    ex.rejects(swap_through_view)

    freeze = Exercise("freeze", lambda fn: fn(module), may_modify_inputs=True)
    freeze.check(lambda m: m.weight.data.zero_(), solution=True)


def test_exercise_rejects_with_a_stub_or_a_right_answer_is_an_error():
    ex = Exercise("double", _double_check)

    def stub(x):
        raise NotImplementedError

    with pytest.raises(CheckFailure, match="stub"):
        ex.rejects(stub)
    with pytest.raises(CheckFailure, match="accepted a wrong answer"):
        ex.rejects(lambda x: 2 * x)


def test_exercise_solution_raises_whatever_fails():
    ex = Exercise("double", _double_check)
    with pytest.raises(KeyError):
        ex.check(lambda x: {}["x"], solution=True)
    assert ex.passed is False
