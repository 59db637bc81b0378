"""The ground floor of `utils`: quick mode, where data lives, seeding and the device.

Every notebook's set-up cell ends with ``utils.setup()`` (introduced in
``01_neural_network_foundations/01_theory_neurons_activations_losses.ipynb``), which prints
the mode, the data directory and the seed, so a reader always knows how the
outputs below were produced.

Environment variables
---------------------
``DLF_QUICK=1``
    Quick mode: small, stratified subsets and few steps. Same code paths as full mode.
``DLF_DATA_DIR``
    A directory with the course data sets, laid out like the official downloads once
    unpacked (README, "Data and offline use"). Default: a per-user cache directory
    (``pooch.os_cache("dlf")``).
``DLF_OFFLINE=1``
    Never download: a data set that is not in the data directory raises ``DataError``.
``DLF_RETRAIN=1``
    Ignore cached trained weights (:func:`utils.train.train_or_load`) and train again.
``DLF_RESULTS_FILE``
    Set by the runner: where :func:`utils.record` appends the numbers it records.

This module is the one reader of these variables: everything else asks :func:`env_flag`
or the functions below.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np

#: The course repository. The one place the URL lives: the notebook stamper
#: (``python -m utils.stamp``) writes it into every badge and set-up cell.
REPO_URL = "https://github.com/dlf-course/deep-learning-fundamentals"
#: Branch that Colab badges point at.
REPO_BRANCH = "main"

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is 1/true/yes/on (read on every call, never cached)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_quick() -> bool:
    """True when ``DLF_QUICK`` is set to 1/true/yes/on (read on every call, never cached)."""
    return env_flag("DLF_QUICK")


def is_offline() -> bool:
    """True when ``DLF_OFFLINE`` forbids downloads."""
    return env_flag("DLF_OFFLINE")


def wants_retrain() -> bool:
    """True when ``DLF_RETRAIN`` asks to ignore cached trained weights."""
    return env_flag("DLF_RETRAIN")


def pick(full, quick):
    """``quick`` in quick mode, ``full`` otherwise: ``epochs = utils.pick(full=20, quick=1)``."""
    return quick if is_quick() else full


def data_dir() -> Path:
    """The data directory: ``$DLF_DATA_DIR`` if set, else a per-user cache directory."""
    env = os.environ.get("DLF_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("dlf"))


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and, when they are imported, PyTorch and TensorFlow/Keras.

    Frameworks that are not imported yet are not imported here (``import utils`` stays
    fast); call it again after importing one, or use :func:`setup` which does.
    Also turns on TensorFlow's op determinism (its CPU reductions then repeat exactly).
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        # Not torch.use_deterministic_algorithms(True): with TensorFlow loaded in the same
        # process it crashes this torch build (segfault seen here); CPU kernels are deterministic.
    if "keras" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.random.set_seed(seed)
        tf.config.experimental.enable_op_determinism()
    return seed


def cpu_flags() -> set[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo does not exist)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def is_reference_setup() -> bool:
    """True on the setup the course's wall times are measured on: 2 CPU cores with native bfloat16, no GPU.

    Speed targets (seconds, speed-ups) are asserted only here; everywhere else they are recorded and
    shown, so a slower laptop or a Colab runtime never fails a notebook whose model learned fine.
    """
    if os.cpu_count() != 2 or not {"amx_bf16", "avx512_bf16"} & cpu_flags():
        return False
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return False
    return True


def rng(seed: int = 0) -> np.random.Generator:
    """A NumPy ``Generator``: notebooks pass it around instead of using global state."""
    return np.random.default_rng(seed)


def blas_threads(n: int = 1):
    """Limit NumPy's BLAS (OpenBLAS/MKL) to ``n`` threads for the rest of the session.

    From-scratch NumPy networks multiply small matrices, where handing work between threads
    costs more than it saves (measured here: one thread 5-10x faster than two on a busy
    2-core machine). Returns the ``threadpoolctl`` limiter; ``.restore_original_limits()`` undoes it.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def device() -> str:
    """The PyTorch device to use: ``"cuda"`` or ``"mps"`` when present, else ``"cpu"``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def tf_device() -> str:
    """The TensorFlow device string: the first GPU if there is one, else the CPU."""
    import tensorflow as tf

    return "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"


def safe_tensorflow_import():
    """Import TensorFlow and Keras 3 quietly, after Triton when Triton is installed.

    PyTorch's CUDA builds ship Triton, which PyTorch imports lazily (on the first optimizer or
    ``torch.compile``). Loading Triton's native library *after* TensorFlow's crashes the process
    (a segfault seen here with torch 2.14.1 + tensorflow 2.21.0); loaded before, both work. So
    notebooks import TensorFlow through this function (``utils.setup`` does).
    """
    import importlib.util

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow's oneDNN kernels reorder float sums ("slightly different numerical results",
    # it warns on stderr at every start). The course compares TF with NumPy and PyTorch to
    # ~1e-6, so it uses TF's plain kernels unless the environment already chose otherwise.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if "tensorflow" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401
    import keras  # Keras 3 on the TensorFlow backend
    import tensorflow as tf

    return tf, keras


def set_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS and in the frameworks that are imported.

    Small networks multiply small matrices, where a second thread mostly waits for the first;
    on two shared cores one thread per library was 5-20x faster here. TensorFlow's setting
    only takes effect before its first operation.
    """
    blas_threads(n)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:  # TensorFlow already ran an operation: its pools are fixed
            pass


def setup(seed: int = 0, frameworks: tuple[str, ...] = (), threads: int | None = None) -> None:
    """What every notebook's imports cell calls: import frameworks, seed, say the mode.

    ``frameworks`` may name ``"torch"`` and/or ``"tensorflow"``; they are imported
    (TensorFlow quietly, see :func:`safe_tensorflow_import`) before seeding so that their
    generators are seeded too. ``threads=1`` runs NumPy, PyTorch and TensorFlow on one
    thread each (see :func:`set_threads`); ``None`` leaves the libraries' defaults.
    """
    if "torch" in frameworks:
        import torch  # noqa: F401
    if "tensorflow" in frameworks:
        safe_tensorflow_import()
    if threads is not None:
        set_threads(threads)
    seed_everything(seed)
    mode = "QUICK (DLF_QUICK=1: small subsets, few steps)" if is_quick() else "FULL"
    print(f"mode: {mode} | data: {data_dir()} | seed: {seed}" + (f" | threads: {threads}" if threads else ""))
