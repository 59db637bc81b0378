import numpy as np
import pytest

from utils.checks import Exercise, assert_close, gradient_check, must_fail, numerical_gradient, relative_error


def test_assert_close_passes_and_prints(capsys):
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert_close("same", a, a + 1e-7)
    assert "✓ same" in capsys.readouterr().out
    assert_close("near zero", np.array([1e-9, 1.0]), np.array([0.0, 1.0]))
    assert "max rel err 0.0e+00" in capsys.readouterr().out  # 1e-9 off a true 0 is not "100 %"


@pytest.mark.parametrize("ref", [np.array([1.0, 2.0, 3.1]), np.array([1.0, 2.0]), np.array([1.0, np.nan, 3.0])])
def test_assert_close_fails_on_value_shape_nan(ref):
    with pytest.raises(AssertionError):
        assert_close("wrong", np.array([1.0, 2.0, 3.0]), ref)


def test_assert_close_accepts_torch_and_tf():
    import tensorflow as tf
    import torch

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_close("torch", x, torch.tensor(x, requires_grad=True) * 1)
    assert_close("tf", x, tf.Variable(x))
    with pytest.raises(AssertionError):
        assert_close("tf wrong", x, tf.constant(x + 1))


def test_gradient_check_catches_wrong_gradient():
    x = np.array([0.3, -1.2, 2.0])
    f = lambda v: float(np.sum(v ** 3))  # noqa: E731
    np.testing.assert_allclose(numerical_gradient(f, x.copy()), 3 * x ** 2, rtol=1e-6)
    gradient_check("cube", f, x.copy(), 3 * x ** 2)
    with pytest.raises(AssertionError):
        gradient_check("cube wrong", f, x.copy(), 2 * x ** 2)
    assert relative_error(np.ones(3), np.ones(3)) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([1.0, 1e-9])) < 1e-8  # ~0 entries do not dominate


def test_exercise_reports_and_raises(capsys):
    ex = Exercise("t", lambda f: assert_close("double", f(np.array([1.0, 2.0])), np.array([2.0, 4.0]), quiet=True))

    def stub(x):
        raise NotImplementedError

    ex.check(stub)
    assert ex.passed is False and "not attempted" in capsys.readouterr().out
    ex.check(lambda x: x * 3)
    assert ex.passed is False and "not yet" in capsys.readouterr().out
    assert ex.check(lambda x: x * 2, solution=True) is None and ex.passed is True
    with pytest.raises(AssertionError):
        ex.check(lambda x: x * 3, solution=True)
    ex.rejects(lambda x: x * 3)
    with pytest.raises(AssertionError):
        ex.rejects(lambda x: x * 2)


def test_must_fail_reports_and_insists(capsys):
    with must_fail("off by one"):
        assert_close("x", np.array([1.0]), np.array([2.0]))
    assert "caught, as it should be (off by one)" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="should have failed"):
        with must_fail("nothing wrong"):
            assert_close("x", np.array([1.0]), np.array([1.0]))


def test_compare_checks_both_frameworks(capsys):
    from utils.checks import CheckFailure, compare

    x = np.array([1.0, 2.0])
    compare("y", x, x + 1e-9, x)
    out = capsys.readouterr().out
    assert "y vs torch" in out and "y vs tf" in out
    with pytest.raises(CheckFailure, match="y vs tf"):
        compare("y", x, x, x + 1)


def test_show_table_aligns_and_formats(capsys):
    from utils.results import show_table

    text = show_table(["layer", "params", "ratio"], [["conv", 1234567, 0.123456], ["fc", 10, 2.0]])
    lines = text.splitlines()
    assert lines[1].split() == ["conv", "1,234,567", "0.1235"] and len({len(line) for line in lines}) == 1
    assert capsys.readouterr().out.strip() == text
    with pytest.raises(ValueError, match="cells"):
        show_table(["a", "b"], [[1]])
