"""The ground floor of `utils`: quick mode, where data lives, seeding, the device and its precision.

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
``DLF_WORK_DIR``
    Where :func:`work_dir` makes each notebook's folder for the files it writes. Default:
    ``work/`` in the data directory. The Colab-like test runs set it, so that they never share
    a folder with nbval's run of the same notebook.
``DLF_DEVICE``
    ``cpu``, ``cuda`` (or ``cuda:N``) or ``mps``: the PyTorch device (:func:`device`); the runner's
    ``--device`` sets it. Unset: CUDA, then MPS, then the CPU.
``DLF_RESULTS_FILE``
    Set by the runner: where :func:`utils.record` appends the numbers it records.

This module is the one reader of these variables: everything else asks :func:`env_flag`
or the functions below.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The course repository. The one place the URL lives: the stamper (``python -m utils.stamp``)
#: writes it into every badge, set-up cell and repository link (READMEs, CONTRIBUTING, pyproject).
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


def work_dir(name: str) -> Path:
    """An empty folder for the files one notebook writes (logs, checkpoints, exported models): ``data_dir()/work/name``
    (``$DLF_WORK_DIR/name`` when that is set).

    Emptied on every call, so a notebook run twice keeps one copy, not two; kept after the run, so
    you can open what it wrote (TensorBoard logs, ONNX files). Unlike ``tempfile.mkdtemp``, nothing
    piles up in the system's temporary folder run after run. ``name`` is one plain folder name.
    """
    if not name or name in {".", ".."} or any(sep in name for sep in ("/", "\\")):
        raise ValueError(f"work_dir needs one plain folder name, not {name!r}")
    import shutil

    root = os.environ.get("DLF_WORK_DIR", "").strip()
    folder = (Path(root).expanduser() if root else data_dir() / "work") / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and, when they are imported, PyTorch and TensorFlow/Keras.

    Frameworks that are not imported yet are not imported here (``import utils`` stays
    fast); call it again after importing one, or use :func:`setup` which does.
    Also turns on TensorFlow's op determinism (its CPU reductions then repeat exactly).
    """
    global _NOTEBOOK_SEED
    _NOTEBOOK_SEED = seed
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
    if os.cpu_count() != 2 or not cpu_has_native_bf16():
        return False
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return False
    return True


#: The seed of the running notebook, set by :func:`seed_everything` (and so by :func:`setup`).
_NOTEBOOK_SEED = 0


def rng(stream: int | str = 0) -> np.random.Generator:
    """A NumPy ``Generator``: notebooks pass it around instead of using global state.

    The seed convention: a notebook has **one seed** (``utils.setup(seed=...)``) and draws
    **named streams** from it, ``gen = utils.rng("init weights")``, ``utils.rng("dropout masks")``:
    each name gives its own generator, independent of the others, the same on every run, and all of
    them change together when the notebook seed changes. (An integer, ``utils.rng(3)``, is a fixed
    seed of its own, as in the chapters written before this convention.)
    """
    if isinstance(stream, str):
        import zlib

        return np.random.default_rng([_NOTEBOOK_SEED, zlib.crc32(stream.encode("utf-8"))])
    if isinstance(stream, bool) or not isinstance(stream, (int, np.integer)):
        raise TypeError(f"rng: a stream is a name (str) or an integer seed, not {type(stream).__name__}")
    return np.random.default_rng(stream)


def blas_threads(n: int = 1):
    """Limit NumPy's BLAS (OpenBLAS/MKL) to ``n`` threads for the rest of the session.

    From-scratch NumPy networks multiply small matrices, where handing work between threads
    costs more than it saves (measured here: one thread 5-10x faster than two on a busy
    2-core machine). Returns the ``threadpoolctl`` limiter; ``.restore_original_limits()`` undoes it.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


DEVICES = ("cpu", "cuda", "mps")


def _available(kind: str) -> bool:
    import torch

    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return kind == "cpu"


def device() -> str:
    """The PyTorch device every notebook uses: the one place it is chosen.

    ``DLF_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``; the runner's ``--device`` sets it) wins
    and is refused with a ``RuntimeError`` when that device is not there; otherwise CUDA, then
    Apple's MPS, then the CPU. Introduced in ``01_neural_network_foundations/03_framework_tensors_mlps.ipynb``.
    """
    wanted = os.environ.get("DLF_DEVICE", "").strip().lower()
    if wanted:
        kind, _, index = wanted.partition(":")
        if kind not in DEVICES or (index and not (kind == "cuda" and index.isdigit())):
            raise ValueError(f"DLF_DEVICE={wanted!r}: expected one of {', '.join(DEVICES)} (or cuda:N)")
        if not _available(kind):
            raise RuntimeError(f"DLF_DEVICE={wanted!r} asks for {kind}, but PyTorch finds no {kind} device; "
                               "unset DLF_DEVICE (or pick cpu) to run on what is available.")
        if index:
            import torch

            count = torch.cuda.device_count()
            if int(index) >= count:
                raise RuntimeError(f"DLF_DEVICE={wanted!r} asks for GPU {index}, but PyTorch finds {count} "
                                   f"(cuda:0 to cuda:{count - 1}).")
        return wanted
    for kind in ("cuda", "mps"):
        if _available(kind):
            return kind
    return "cpu"


_default_device = device  # precision(device=...) shadows the name


def cpu_has_native_bf16() -> bool:
    """True when the CPU multiplies bfloat16 in hardware: Intel AMX (``amx_bf16``) or AVX-512 BF16 (``avx512_bf16``).

    The rule reads the CPU's own feature flags rather than ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``:
    that probe also says yes on AVX-512 CPUs *without* bfloat16 instructions (Skylake/Cascade Lake Xeons,
    common in clouds), where oneDNN emulates bfloat16 and autocast is slower than float32. Where the
    flags cannot be read (no ``/proc/cpuinfo``) the answer is no: float32 is never the slow choice.
    """
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


@dataclass(frozen=True)
class Precision:
    """A mixed-precision policy: what :func:`autocast` runs forward passes in.

    ``name`` is ``"bfloat16"``, ``"float16"`` or ``"float32"``; ``dtype`` the ``torch`` dtype for
    ``torch.autocast`` (``None`` for float32: no autocast); ``grad_scaler`` whether training needs a
    ``torch.amp.GradScaler`` (float16's narrow range underflows small gradients without one).
    """

    name: str
    dtype: Any = None
    grad_scaler: bool = False

    def __str__(self) -> str:
        return self.name + (" + GradScaler" if self.grad_scaler else "")

    def scaler(self, device: str):
        """A ``torch.amp.GradScaler`` for ``device``, enabled only when this policy needs one."""
        import torch

        return torch.amp.GradScaler(_kind(device), enabled=self.grad_scaler)


PRECISIONS = ("bfloat16", "float16", "float32")


def _kind(device) -> str:
    return str(device).split(":")[0]


def precision(device: str | None = None, name: str | None = None) -> Precision:
    """The mixed-precision policy for ``device`` (default :func:`device`), or the one ``name`` forces.

    bfloat16 autocast on CPUs with native bfloat16 (:func:`cpu_has_native_bf16`) and on CUDA GPUs
    of compute capability 8.0 or more (A100, L4, RTX 30xx and newer); float16 autocast with a
    ``GradScaler`` on older CUDA GPUs (T4 = 7.5, V100 = 7.0), which have float16 tensor cores but
    no fast bfloat16; float32 everywhere else (MPS, CPUs without native bfloat16), where autocast
    would be emulated and slower. Introduced in ``05_cnns/03_framework_cnns.ipynb``.
    """
    import torch

    if name is None:
        dev = device or _default_device()
        kind = _kind(dev)
        if kind == "cuda":
            major, _ = torch.cuda.get_device_capability(dev)
            name = "bfloat16" if major >= 8 else "float16"
        elif kind == "cpu" and cpu_has_native_bf16():
            name = "bfloat16"
        else:
            name = "float32"
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r}: expected one of {', '.join(PRECISIONS)}")
    if name == "float32":
        return Precision("float32")
    return Precision(name, getattr(torch, name), grad_scaler=name == "float16")


def autocast(device: str, policy: Precision, enabled: bool = True):
    """``torch.autocast`` on ``device`` in the policy's dtype; a no-op context for float32 or ``enabled=False``.

    The one replacement for a hard-coded ``torch.autocast("cpu", dtype=torch.bfloat16, enabled=...)``:
    ``with utils.config.autocast(DEVICE, PRECISION, enabled=use_mixed):``.
    """
    if policy.dtype is None or not enabled:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=_kind(device), dtype=policy.dtype)


def describe_device(dev: str | None = None) -> str:
    """``"cuda (Tesla T4)"``, ``"mps (Apple GPU)"`` or ``"cpu"``: where PyTorch runs, for humans."""
    import torch

    dev = dev or device()
    if _kind(dev) == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    if _kind(dev) == "mps":
        return f"{dev} (Apple GPU)"
    return dev


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

    gpu_memory_growth()
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


def gpu_memory_growth() -> None:
    """Let TensorFlow take GPU memory as it needs it instead of all of it at start, if TensorFlow is imported.

    By default TensorFlow reserves almost the whole GPU when it first touches it, leaving nothing for
    PyTorch in the same notebook. Must run before TensorFlow's first GPU operation; afterwards
    TensorFlow refuses (``RuntimeError``) and the setting stays as it was.
    """
    if "tensorflow" not in sys.modules:
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # TensorFlow already initialised this GPU
            pass


def exact_float32() -> None:
    """Make float32 mean IEEE float32 in PyTorch and TensorFlow: no TensorFloat-32 on Ampere and newer GPUs.

    On an A100, L4 or RTX 30xx and later, TensorFlow (and PyTorch's cuDNN convolutions) by default run
    float32 matrix products in TF32, which keeps only 10 bits of mantissa: relative errors near 1e-3,
    enough to fail the course's float32 checks (tolerances near 1e-5) with nothing wrong in the
    learner's code. Training speed is not lost where it matters: the mixed-precision policy
    (:func:`precision`) already runs those GPUs in bfloat16. No effect on CPUs or older GPUs (T4).
    Uses PyTorch's ``fp32_precision`` settings where they exist (2.9 and newer), else ``allow_tf32``.
    """
    if "torch" in sys.modules:
        import torch

        cudnn = torch.backends.cudnn
        if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):
            torch.backends.cuda.matmul.fp32_precision = "ieee"
            cudnn.conv.fp32_precision = "ieee"
            cudnn.rnn.fp32_precision = "ieee"
        else:  # older PyTorch (mixing the two APIs is an error in the newer ones)
            torch.backends.cuda.matmul.allow_tf32 = False
            cudnn.allow_tf32 = False
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].config.experimental.enable_tensor_float_32_execution(False)


def where(seed: int, threads: int | None) -> str:
    """The one line :func:`setup` prints: mode, device, precision, versions, seed, threads, reference setup, data."""
    parts = ["mode: " + ("QUICK (DLF_QUICK=1: small subsets, few steps)" if is_quick() else "FULL")]
    if "torch" in sys.modules:
        import torch

        dev = device()
        parts.append(f"device: {describe_device(dev)}, precision {precision(dev)}")
        versions = [f"torch {torch.__version__}"]
    else:
        parts.append("device: cpu (NumPy)")
        versions = []
    if "tensorflow" in sys.modules:
        versions.append(f"tensorflow {sys.modules['tensorflow'].__version__}")
    if versions:
        parts.append(", ".join(versions))
    parts.append(f"seed: {seed}")
    parts.append(f"threads: {threads if threads else 'library default'}")
    parts.append(f"reference 2-core CPU: {'yes' if is_reference_setup() else 'no'}")
    parts.append(f"data: {data_dir()}")
    return " | ".join(parts)


def setup(seed: int = 0, frameworks: tuple[str, ...] = (), threads: int | None = None) -> None:
    """What every notebook's imports cell calls: import frameworks, seed, say where the notebook runs.

    ``frameworks`` may name ``"torch"`` and/or ``"tensorflow"``; they are imported
    (TensorFlow quietly, see :func:`safe_tensorflow_import`, with GPU memory growth on, see
    :func:`gpu_memory_growth`) before seeding so that their generators are seeded too; float32 is
    IEEE float32 in both (no TF32 on Ampere GPUs, see :func:`exact_float32`).
    ``threads=1`` runs NumPy, PyTorch and TensorFlow on one thread each (see :func:`set_threads`);
    ``None`` leaves the libraries' defaults. It applies the course's figure style
    (:func:`utils.plots.use_style`) and prints one line (:func:`where`), e.g.
    ``mode: FULL | device: cuda (Tesla T4), precision float16 + GradScaler | torch 2.x, tensorflow 2.x |
    seed: 0 | threads: 1 | reference 2-core CPU: no | data: ...``. Refuses a ``DLF_DEVICE`` that is not there.
    """
    if "torch" in frameworks:
        import torch  # noqa: F401
    if "tensorflow" in frameworks:
        safe_tensorflow_import()
    gpu_memory_growth()
    exact_float32()
    if threads is not None:
        set_threads(threads)
    seed_everything(seed)
    from .plots import use_style

    use_style()
    print(where(seed, threads))
