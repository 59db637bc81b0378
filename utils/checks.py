"""Proof that from-scratch code equals the frameworks, gradient checks, auto-checked exercises.

Introduced in ``01_neural_network_foundations/02_scratch_mlp.ipynb``.

* :func:`assert_close` compares our array with a reference (NumPy, PyTorch or TensorFlow),
  prints one line and raises :class:`CheckFailure` on mismatch. Always state *why* a tolerance
  is what it is. Non-finite values must match exactly; inputs it cannot compare are refused.
* :func:`numerical_gradient` / :func:`gradient_check` are CS231n-style central differences.
* :func:`must_fail` shows that a check bites: the block's last statement must fail.
* :class:`Exercise` turns an exercise into a check the learner can run, with a solution the
  notebook itself verifies.

Every check raises :class:`CheckFailure` (an ``AssertionError``) when the answer is wrong, and
``TypeError``/``ValueError`` when it is asked something it cannot answer (complex numbers,
strings, mismatched kinds, non-finite tolerances): a check that cannot fail is a defect, and so
is one that a wrong answer can fool.
"""
from __future__ import annotations

import ast
import functools
import inspect
import linecache
import math
import sys
import traceback
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np


class CheckFailure(AssertionError):
    """A course check found a wrong answer (the only failure :func:`must_fail` counts)."""


def to_numpy(x: Any) -> np.ndarray:
    """NumPy array of a NumPy array, PyTorch tensor (any device, with grad) or TF tensor/variable.

    Low-precision floats (PyTorch or TensorFlow ``bfloat16``, ``float16``, ``float8``) become float32,
    since NumPy cannot do arithmetic on all of them; everything else keeps its dtype.
    """
    if isinstance(x, np.ndarray):
        arr = x
    elif hasattr(x, "detach"):  # torch.Tensor
        t = x.detach().cpu()
        if t.is_floating_point() and t.element_size() < 4:
            t = t.float()
        arr = t.numpy()
    elif hasattr(x, "numpy"):  # tf.Tensor / tf.Variable / keras Variable
        arr = np.asarray(x.numpy())
    elif x is None:
        raise TypeError("cannot compare None: the function returned nothing (a missing `return`?)")
    else:
        arr = np.asarray(x)
    if arr.dtype.kind == "V" or "bfloat16" in str(arr.dtype) or "float8" in str(arr.dtype):
        arr = arr.astype(np.float32)  # ml_dtypes' bfloat16/float8 from TensorFlow
    return arr


_NUMERIC = "biuf"


def _comparable(name: str, a: np.ndarray, b: np.ndarray) -> None:
    """Refuse inputs that an elementwise tolerance cannot compare meaningfully."""
    for which, arr in (("ours", a), ("reference", b)):
        if arr.dtype.kind == "c":
            raise TypeError(f"{name}: {which} is complex ({arr.dtype}); compare .real and .imag separately")
        if arr.dtype.kind not in _NUMERIC:
            raise TypeError(f"{name}: {which} has dtype {arr.dtype}, which is not a number; "
                            "compare numbers (bool, int or float) only")
    if (a.dtype.kind == "b") != (b.dtype.kind == "b"):
        raise TypeError(f"{name}: a boolean mask ({a.dtype if a.dtype.kind == 'b' else b.dtype}) compared with "
                        "numbers; compare masks with masks")


def _check_tolerances(name: str, **tols: float) -> None:
    for key, tol in tols.items():
        if not isinstance(tol, (int, float, np.floating, np.integer)) or isinstance(tol, bool) \
                or not math.isfinite(tol) or tol < 0:
            raise ValueError(f"{name}: {key}={tol!r} must be a finite number ≥ 0")


def max_errors(ours: Any, reference: Any, floor: float = 1e-12) -> tuple[float, float]:
    """Largest absolute and relative difference over the finite elements.

    The relative error is taken only over elements with ``|reference| > floor`` (elsewhere
    it means nothing: 1e-9 off a true 0 is "100 %"); pass ``atol`` as the floor.
    """
    a = to_numpy(ours).astype(np.float64)
    b = to_numpy(reference).astype(np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a[both] - b[both])
    if diff.size == 0:
        return 0.0, 0.0
    ref = np.abs(b[both])
    big = ref > floor
    rel = float((diff[big] / ref[big]).max()) if big.any() else 0.0
    return float(diff.max()), rel


def _nonfinite_mismatch(a: np.ndarray, b: np.ndarray, equal_nan: bool) -> str:
    """'' when NaN and ±inf sit in the same places (with the same sign) in both, else what differs."""
    if a.dtype.kind not in "f" and b.dtype.kind not in "f":
        return ""
    a, b = a.astype(np.float64), b.astype(np.float64)
    for label, mask_a, mask_b in (("NaN", np.isnan(a), np.isnan(b)),
                                  ("+inf", np.isposinf(a), np.isposinf(b)),
                                  ("-inf", np.isneginf(a), np.isneginf(b))):
        if label == "NaN" and not equal_nan and (mask_a.any() or mask_b.any()):
            where = "ours" if mask_a.any() else "reference"
            first = np.argwhere(mask_a if mask_a.any() else mask_b)[0]
            return f"NaN in {where} at index {tuple(int(i) for i in first)} (pass equal_nan=True if both must be NaN there)"
        if not np.array_equal(mask_a, mask_b):
            first = tuple(int(i) for i in np.argwhere(mask_a != mask_b)[0])
            return (f"{label} at index {first} in {'ours' if mask_a[first] else 'the reference'} only "
                    f"(ours {a[first]!r}, reference {b[first]!r})")
    return ""


def assert_close(name: str, ours: Any, reference: Any, *, rtol: float = 1e-5, atol: float = 1e-6,
                 quiet: bool = False, equal_nan: bool = False) -> None:
    """Assert ``|ours - reference| <= atol + rtol * |reference|`` elementwise, like ``np.allclose``.

    Prints ``✓ name  shape  max abs err  max rel err`` (or ✗) and raises :class:`CheckFailure` on a
    shape mismatch, any element out of tolerance, or non-finite values that do
    not match exactly: ``inf`` must meet ``inf`` of the same sign in the same place, and a NaN fails
    unless ``equal_nan=True`` and both have it in the same place. Refuses (``TypeError``) complex,
    object or string inputs and booleans compared with numbers; bfloat16 tensors are converted.
    """
    _check_tolerances(name, rtol=rtol, atol=atol)
    a, b = to_numpy(ours), to_numpy(reference)
    _comparable(name, a, b)
    if a.shape != b.shape:
        raise CheckFailure(f"✗ {name}: shape {a.shape} differs from reference shape {b.shape}")
    bad = _nonfinite_mismatch(a, b, equal_nan)
    if bad:
        raise CheckFailure(f"✗ {name}: {bad}")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(a64) & np.isfinite(b64)
    ok = bool(np.all(np.abs(a64[finite] - b64[finite]) <= atol + rtol * np.abs(b64[finite])))
    abs_err, rel_err = max_errors(a64, b64, floor=atol)
    line = (f"{'✓' if ok else '✗'} {name:<34} shape {str(a.shape):<14} max abs err {abs_err:.1e}  "
            f"max rel err {rel_err:.1e}  (atol {atol:.0e}, rtol {rtol:.0e})")
    if not ok:
        raise CheckFailure(line)
    if not quiet:
        print(line)


def compare(name: str, ours: Any, torch_ref: Any, tf_ref: Any, *, rtol: float = 1e-5, atol: float = 1e-6,
            quiet: bool = False) -> None:
    """:func:`assert_close` of our array against the PyTorch result **and** the TensorFlow result.

    The course's proof in one call (introduced in ``01_neural_network_foundations/02_scratch_mlp.ipynb``,
    which writes it out; later notebooks call this one). Prints two lines, ``name vs torch`` and ``name vs tf``.
    """
    assert_close(f"{name} vs torch", ours, torch_ref, rtol=rtol, atol=atol, quiet=quiet)
    assert_close(f"{name} vs tf", ours, tf_ref, rtol=rtol, atol=atol, quiet=quiet)


# --------------------------------------------------------------------------- gradient checks
def _scalar(f: Callable[[np.ndarray], Any], x: np.ndarray) -> float:
    out = to_numpy(f(x))
    if out.size != 1:
        raise TypeError(f"the function must return one number (a scalar loss), got shape {out.shape}")
    value = float(out.reshape(()))
    if not math.isfinite(value):
        raise CheckFailure(f"✗ the function returned {value} during the gradient check")
    return value


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of scalar ``f`` at ``x``: (f(x+h) - f(x-h)) / 2h per element.

    ``x`` is perturbed in place and restored; use float64 so that the truncation error
    O(h²) ≈ 1e-12 and the rounding error ≈ 1e-16 / h ≈ 1e-10 are both tiny (a float32 ``x`` warns:
    its rounding error ≈ 1e-7 / h swamps the comparison). Raises :class:`CheckFailure` if ``f``
    returns NaN or infinity.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"numerical_gradient needs a float NumPy array to perturb, got {type(x).__name__} "
                        f"{getattr(x, 'dtype', '')}")
    if x.dtype != np.float64:
        warnings.warn(f"gradient check on {x.dtype} input: central differences need float64 "
                      "(rounding error ~1e-7/eps in float32 swamps the comparison); use x.astype(np.float64)",
                      stacklevel=3)
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = _scalar(f, x)
        x[i] = old - eps
        down = _scalar(f, x)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
        it.iternext()
    return grad


def relative_error(a: Any, b: Any) -> float:
    """Relative error of two gradients, ||a - b|| / (||a|| + ||b||) (0 when both are exactly 0).

    Norm-based rather than element by element, so that entries that are ~0 in both (where
    central differences only measure rounding) do not dominate; ~1e-7 or less is a pass in
    float64, while a wrong derivative gives 1e-2 to 1. Shapes must match exactly (no
    broadcasting), and a NaN or infinity in either raises ``ValueError``.
    """
    a, b = to_numpy(a), to_numpy(b)
    _comparable("relative_error", a, b)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes {a.shape} and {b.shape} differ (no broadcasting)")
    a, b = a.astype(np.float64), b.astype(np.float64)
    for which, arr in (("first", a), ("second", b)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"relative_error: the {which} gradient has NaN or infinite entries")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def gradient_check(name: str, f: Callable[[np.ndarray], float], x: np.ndarray, analytic: Any,
                   *, eps: float = 1e-6, tol: float = 1e-6) -> float:
    """Compare an analytic gradient with central differences; print one line, raise if off.

    Use float64 inputs (float32 warns). ``tol`` bounds the relative error (see :func:`relative_error`).
    Fails (:class:`CheckFailure`) on a shape mismatch, a NaN or infinity in either gradient or in ``f``.
    """
    _check_tolerances(name, eps=eps, tol=tol)
    analytic = to_numpy(analytic)
    if analytic.shape != np.shape(x):
        raise CheckFailure(f"✗ grad check {name}: analytic gradient has shape {analytic.shape}, "
                           f"the input has shape {np.shape(x)} (they must match exactly)")
    if not np.all(np.isfinite(analytic.astype(np.float64))):
        raise CheckFailure(f"✗ grad check {name}: the analytic gradient has NaN or infinite entries")
    try:
        numeric = numerical_gradient(f, x, eps)
    except CheckFailure as err:
        raise CheckFailure(f"✗ grad check {name}: {str(err).lstrip('✗ ')}") from None
    if not np.all(np.isfinite(numeric)):
        raise CheckFailure(f"✗ grad check {name}: the numerical gradient has NaN or infinite entries")
    err = relative_error(analytic, numeric)
    line = f"{'✓' if err <= tol else '✗'} grad check {name:<24} relative error {err:.1e} (tol {tol:.0e})"
    if not err <= tol:
        if np.asarray(x).dtype != np.float64:
            line += " — the input is not float64: central differences need float64"
        raise CheckFailure(line)
    print(line)
    return err


# --------------------------------------------------------------------------- must_fail
def _last_statement_lines(filename: str, with_line: int) -> tuple[int, int] | None:
    """First and last line of the last statement inside the ``with`` block that starts at ``with_line``."""
    source = "".join(linecache.getlines(filename))
    if not source:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, (ast.With, ast.AsyncWith)):
            continue
        header_end = max(node.lineno, node.body[0].lineno - 1)  # the `with ...:` line(s)
        if node.lineno <= with_line <= header_end:
            last = node.body[-1]
            return last.lineno, last.end_lineno or last.lineno
    return None


@contextmanager
def must_fail(what: str) -> Iterator[None]:
    """Show that a check bites: the block's **last statement** (the check it guards) must fail.

    >>> with must_fail("a forgotten transpose"):
    ...     wrong_dW = dW.T
    ...     assert_close("dW", wrong_dW, reference_dW)
    ✓ caught, as it should be (a forgotten transpose): ✗ dW ... max abs err 3.1e-01 ...

    Only an ``AssertionError`` raised by that last statement counts. An assertion failing in the
    set-up lines above it is a bug of its own and is re-raised, as is any other exception
    (``TypeError`` …): a check that was never reached has not been shown to bite.
    """
    caller = sys._getframe(2)  # 0: this generator, 1: contextlib's __enter__, 2: the with statement
    span = _last_statement_lines(caller.f_code.co_filename, caller.f_lineno)
    try:
        yield
    except AssertionError as err:
        line = next((tb.tb_lineno for tb in _walk_tb(err.__traceback__) if tb.tb_frame is caller), None)
        if span is not None and line is not None and not span[0] <= line <= span[1]:
            raise AssertionError(f"must_fail({what!r}): an assertion on line {line} failed before the check "
                                 f"it guards (the block's last statement) ran: {err}") from err
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"✓ caught, as it should be ({what}): {first[:160]}")
    else:
        raise CheckFailure(f"{what}: the check passed, but it should have failed")


def _walk_tb(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


# --------------------------------------------------------------------------- exercises
def _copy_value(value: Any) -> Any:
    """A private copy of an argument's *data*: arrays and tensors are copied, containers recursed.

    Models, layers and other objects are passed as they are (an exercise may be about changing
    them, e.g. freezing a backbone); :func:`_snapshot` guards their weights instead.
    """
    if isinstance(value, np.ndarray):
        return value.copy()
    if hasattr(value, "clone") and hasattr(value, "detach"):  # torch.Tensor: clone keeps the autograd link
        return value.clone()
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_copy_value(v) for v in value)
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    return value


def _weights(value: Any) -> list[np.ndarray] | None:
    """The weights of a PyTorch module, Keras layer/model or TF variable, as NumPy copies (else None)."""
    if hasattr(value, "state_dict") and hasattr(value, "parameters"):  # torch.nn.Module
        return [t.detach().cpu().clone().numpy() for t in value.state_dict().values() if hasattr(t, "detach")]
    if hasattr(value, "get_weights") and callable(value.get_weights):  # Keras layer or model
        try:
            return [np.array(w) for w in value.get_weights()]
        except Exception:  # an unbuilt layer has no weights to change
            return None
    if type(value).__name__ in {"ResourceVariable", "Variable", "UninitializedVariable"} and hasattr(value, "numpy"):
        return [np.array(value.numpy())]
    return None


def _snapshot(args: tuple, kwargs: dict) -> list[tuple[str, Any, list[np.ndarray]]]:
    found = []
    for i, v in enumerate(args):
        w = _weights(v)
        if w is not None:
            found.append((f"argument {i + 1}", v, w))
    for k, v in kwargs.items():
        w = _weights(v)
        if w is not None:
            found.append((f"argument {k!r}", v, w))
    return found


class _ChangedInput(CheckFailure):
    """The learner's function changed the weights of a model it was given to read."""


def _guarded(answer: Callable, may_modify_inputs: bool) -> Callable:
    """``answer`` called on private copies of its array arguments; its models' weights must not change."""

    @functools.wraps(answer)
    def call(*args, **kwargs):
        args, kwargs = _copy_value(args), _copy_value(kwargs)
        before = [] if may_modify_inputs else _snapshot(args, kwargs)
        out = answer(*args, **kwargs)
        for label, obj, old in before:
            new = _weights(obj)
            if new is None or len(new) != len(old) or any(
                    a.shape != b.shape or not np.array_equal(a, b, equal_nan=True) for a, b in zip(old, new)):
                raise _ChangedInput(f"your function changed the weights of {label} ({type(obj).__name__}); "
                                    "it should only read them")
        return out

    return call


def _guard(answer: Any, may_modify_inputs: bool) -> Any:
    if inspect.isfunction(answer) or inspect.ismethod(answer) or isinstance(answer, functools.partial):
        return _guarded(answer, may_modify_inputs)
    if isinstance(answer, (tuple, list)):
        return type(answer)(_guard(a, may_modify_inputs) for a in answer)
    return answer  # a class, a number, a model: passed as it is


def _learner_code(answer: Any) -> set[tuple[str, str]]:
    """(file, function name) of the learner's functions and methods (the notebook cell that defined them)."""
    found = set()
    for obj in answer if isinstance(answer, (tuple, list)) else [answer]:
        obj = getattr(obj, "func", obj)  # functools.partial
        members = vars(obj).values() if inspect.isclass(obj) else [obj]
        for member in members:
            code = getattr(inspect.unwrap(member) if callable(member) else member, "__code__", None)
            if code is not None:
                found.add((code.co_filename, code.co_name))
    return found


def _where(err: BaseException, answer: Any) -> str:
    """``(your code, line 3: `return d["x"]`)``: the learner's own line where ``err`` was raised, if any."""
    mine = _learner_code(answer)
    chosen = [f for f in traceback.extract_tb(err.__traceback__) if (f.filename, f.name) in mine]
    if not chosen:
        return ""
    frame = chosen[-1]
    text = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    return f" (your code, line {frame.lineno}: `{text[:100]}`)" if text else f" (your code, line {frame.lineno})"


class Exercise:
    """An exercise with an automatic check.

    >>> ex = Exercise("1.1 leaky ReLU", lambda f: assert_close("leaky", f(np.array([-1., 2.])), [-0.01, 2.]))
    >>> def leaky_relu(z):
    ...     raise NotImplementedError  # the learner's cell
    >>> ex.check(leaky_relu)           # says "not attempted yet", never fails the notebook
    >>> ex.check(solution, solution=True)  # the hidden solution cell: must pass

    ``check`` is any function that raises (usually ``AssertionError``) when the answer is wrong.
    The learner's function is called on private copies of the arrays and tensors the check passes
    it, so it can neither change what the check's reference sees nor be punished for writing into
    its own input; models and layers it receives may not have their weights changed, unless the
    exercise is about changing them (``may_modify_inputs=True``).
    """

    def __init__(self, title: str, check: Callable[[Any], Any], *, may_modify_inputs: bool = False):
        self.title, self._check = title, check
        self.may_modify_inputs = may_modify_inputs
        self.passed: bool | None = None

    def check(self, answer: Any, *, solution: bool = False) -> None:
        """Run the check on ``answer``; ``self.passed`` tells the outcome of this latest attempt.

        A learner's stub (``NotImplementedError``) reports "not attempted yet"; any other exception
        (a wrong value, or an error in the learner's code: ``KeyError``, ``RuntimeError``, TF's
        ``InvalidArgumentError`` …) prints its type, message and the learner's own line. With
        ``solution=True`` any failure raises. Returns nothing, so a cell ending in
        ``ex.check(...)`` shows only the message.
        """
        self.passed = None
        try:
            self.passed = self._run(answer, solution)
        finally:
            if self.passed is None:
                self.passed = False

    def _run(self, answer: Any, solution: bool) -> bool:
        try:
            self._check(_guard(answer, self.may_modify_inputs))
        except NotImplementedError:
            if solution:
                raise
            print(f"… Exercise {self.title}: not attempted yet — replace NotImplementedError with your code.")
            return False
        except Exception as err:  # noqa: BLE001 — any error of the learner's code is a failed attempt
            if solution:
                raise
            kind = "" if isinstance(err, AssertionError) else f"{type(err).__name__}: "
            message = str(err).strip() or type(err).__name__
            print(f"✗ Exercise {self.title}: not yet — {kind}{message}{_where(err, answer)}")
            return False
        print(f"✓ Exercise {self.title}: correct{' (reference solution)' if solution else ''}")
        return True

    def rejects(self, wrong: Any) -> None:
        """Assert that the check fails on a known-wrong answer (a check that cannot fail is a defect).

        Any exception counts as a rejection except ``NotImplementedError`` (a stub is not a wrong answer).
        """
        try:
            self._check(_guard(wrong, self.may_modify_inputs))
        except NotImplementedError:
            raise CheckFailure(f"Exercise {self.title}: rejects() was given a stub, not a wrong answer") from None
        except Exception:  # noqa: BLE001
            return
        raise CheckFailure(f"Exercise {self.title}: the check accepted a wrong answer")
