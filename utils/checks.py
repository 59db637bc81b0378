"""Proof that from-scratch code equals the frameworks, gradient checks, auto-checked exercises.

Introduced in ``01_neural_network_foundations/02_scratch_mlp.ipynb``.

* :func:`assert_close` compares our array with a reference (NumPy, PyTorch or TensorFlow),
  prints one line and raises on mismatch. Always state *why* a tolerance is what it is.
* :func:`numerical_gradient` / :func:`gradient_check` are CS231n-style central differences.
* :class:`Exercise` turns an exercise into a check the learner can run, with a solution the
  notebook itself verifies.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np


def to_numpy(x: Any) -> np.ndarray:
    """NumPy copy of a NumPy array, PyTorch tensor (any device, with grad) or TF tensor/variable."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy"):  # tf.Tensor / tf.Variable / keras Variable
        return np.asarray(x.numpy())
    return np.asarray(x)


def max_errors(ours: Any, reference: Any, floor: float = 1e-12) -> tuple[float, float]:
    """Largest absolute and relative difference.

    The relative error is taken only over elements with ``|reference| > floor`` (elsewhere
    it means nothing: 1e-9 off a true 0 is "100 %"); pass ``atol`` as the floor.
    """
    a = to_numpy(ours).astype(np.float64)
    b = to_numpy(reference).astype(np.float64)
    diff = np.abs(a - b)
    if diff.size == 0:
        return 0.0, 0.0
    big = np.abs(b) > floor
    rel = float((diff[big] / np.abs(b[big])).max()) if big.any() else 0.0
    return float(diff.max()), rel


def assert_close(name: str, ours: Any, reference: Any, *, rtol: float = 1e-5, atol: float = 1e-6,
                 quiet: bool = False) -> None:
    """Assert ``|ours - reference| <= atol + rtol * |reference|`` elementwise, like ``np.allclose``.

    Prints ``✓ name  shape  max abs err  max rel err`` (or ✗) and raises ``AssertionError``
    on a shape mismatch, a NaN, or any element out of tolerance.
    """
    a, b = to_numpy(ours), to_numpy(reference)
    if a.shape != b.shape:
        raise AssertionError(f"✗ {name}: shape {a.shape} differs from reference shape {b.shape}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise AssertionError(f"✗ {name}: NaN in {'ours' if np.isnan(a).any() else 'reference'}")
    abs_err, rel_err = max_errors(a, b, floor=atol)
    ok = bool(np.all(np.abs(a.astype(np.float64) - b.astype(np.float64))
                     <= atol + rtol * np.abs(b.astype(np.float64))))
    line = (f"{'✓' if ok else '✗'} {name:<34} shape {str(a.shape):<14} max abs err {abs_err:.1e}  "
            f"max rel err {rel_err:.1e}  (atol {atol:.0e}, rtol {rtol:.0e})")
    if not ok:
        raise AssertionError(line)
    if not quiet:
        print(line)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of scalar ``f`` at ``x``: (f(x+h) - f(x-h)) / 2h per element.

    ``x`` is perturbed in place and restored; use float64 so that the truncation error
    O(h²) ≈ 1e-12 and the rounding error ≈ 1e-16 / h ≈ 1e-10 are both tiny.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
        it.iternext()
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error of two gradients, ||a - b|| / (||a|| + ||b||) (0 when both are 0).

    Norm-based rather than element by element, so that entries that are ~0 in both (where
    central differences only measure rounding) do not dominate; ~1e-7 or less is a pass in
    float64, while a wrong derivative gives 1e-2 to 1.
    """
    a, b = to_numpy(a).astype(np.float64), to_numpy(b).astype(np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def gradient_check(name: str, f: Callable[[np.ndarray], float], x: np.ndarray, analytic: np.ndarray,
                   *, eps: float = 1e-6, tol: float = 1e-6) -> float:
    """Compare an analytic gradient with central differences; print one line, raise if off.

    Use float64 inputs. ``tol`` bounds the relative error (see :func:`relative_error`).
    """
    numeric = numerical_gradient(f, x, eps)
    err = relative_error(analytic, numeric)
    line = f"{'✓' if err <= tol else '✗'} grad check {name:<24} relative error {err:.1e} (tol {tol:.0e})"
    if not err <= tol:
        raise AssertionError(line)
    print(line)
    return err


@contextmanager
def must_fail(what: str) -> Iterator[None]:
    """Show that a check bites: the block must raise ``AssertionError``.

    >>> with must_fail("a forgotten transpose"):
    ...     assert_close("dW", wrong_dW, reference_dW)
    ✓ caught, as it should be (a forgotten transpose): ✗ dW ... max abs err 3.1e-01 ...
    """
    try:
        yield
    except AssertionError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"✓ caught, as it should be ({what}): {first[:160]}")
    else:
        raise AssertionError(f"{what}: the check passed, but it should have failed")


class Exercise:
    """An exercise with an automatic check.

    >>> ex = Exercise("1.1 leaky ReLU", lambda f: assert_close("leaky", f(np.array([-1., 2.])), [-0.01, 2.]))
    >>> def leaky_relu(z):
    ...     raise NotImplementedError  # the learner's cell
    >>> ex.check(leaky_relu)           # says "not attempted yet", never fails the notebook
    >>> ex.check(solution, solution=True)  # the hidden solution cell: must pass

    ``check`` is any function that raises ``AssertionError`` when the answer is wrong.
    """

    def __init__(self, title: str, check: Callable[[Any], Any]):
        self.title, self._check = title, check
        self.passed: bool | None = None

    def check(self, answer: Any, *, solution: bool = False) -> None:
        """Run the check on ``answer``; ``self.passed`` tells the outcome afterwards.

        A learner's stub (``NotImplementedError``) reports "not attempted yet"; a wrong answer
        prints what went wrong. With ``solution=True`` any failure raises. Returns nothing, so
        a cell ending in ``ex.check(...)`` shows only the message.
        """
        self.passed = self._run(answer, solution)

    def _run(self, answer: Any, solution: bool) -> bool:
        try:
            self._check(answer)
        except NotImplementedError:
            if solution:
                raise
            print(f"… Exercise {self.title}: not attempted yet — replace NotImplementedError with your code.")
            return False
        except (AssertionError, ValueError, TypeError, IndexError) as err:
            if solution:
                raise
            print(f"✗ Exercise {self.title}: not yet — {err}")
            return False
        print(f"✓ Exercise {self.title}: correct{' (reference solution)' if solution else ''}")
        return True

    def rejects(self, wrong: Any) -> None:
        """Assert that the check fails on a known-wrong answer (a check that cannot fail is a defect)."""
        try:
            self._check(wrong)
        except (AssertionError, ValueError, TypeError, IndexError):
            return
        raise AssertionError(f"Exercise {self.title}: the check accepted a wrong answer")
