"""Repository-wide pytest set-up: notebooks collected by nbval run in quick mode.

The environment of this process is inherited by the kernels nbval starts, so setting
DLF_QUICK here makes every notebook run its quick path (same code, small data, few steps).
"""
import os

import pytest

os.environ["DLF_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two notebooks run at once on two cores: one BLAS/OpenMP thread per kernel avoids
# oversubscription (multi-threaded OpenBLAS on small matrices was 5-10x slower when contended).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Schedule by file, except tests that name their own ``xdist_group`` (pyproject: ``--dist loadgroup``).

    Every cell of one notebook (nbval) and every test of one module stay on one worker, as with
    ``--dist loadfile``; tests/test_colab_like.py groups its runs per notebook, so the two workers share them.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(config.rootpath).as_posix()))

