"""Repository-wide pytest set-up: notebooks collected by nbval run in quick mode.

The environment of this process is inherited by the kernels nbval starts, so setting
DLF_QUICK here makes every notebook run its quick path (same code, small data, few steps).
"""
import os

os.environ["DLF_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two notebooks run at once on two cores: one BLAS/OpenMP thread per kernel avoids
# oversubscription (multi-threaded OpenBLAS on small matrices was 5-10x slower when contended).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
