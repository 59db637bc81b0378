import random

import numpy as np

import utils
from utils import config


def test_quick_flag_and_pick(monkeypatch):
    monkeypatch.delenv("DLF_QUICK", raising=False)
    assert not config.is_quick() and config.pick(full=10, quick=1) == 10
    for on in ("1", "true", "YES"):
        monkeypatch.setenv("DLF_QUICK", on)
        assert config.is_quick() and config.pick(full=10, quick=1) == 1
    monkeypatch.setenv("DLF_QUICK", "0")
    assert not config.is_quick()


def test_data_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("DLF_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path
    monkeypatch.delenv("DLF_DATA_DIR")
    assert "dlf" in str(config.data_dir())


def _draws():
    import tensorflow as tf
    import torch

    return (random.random(), np.random.rand(3), torch.rand(3).numpy(), tf.random.uniform((3,)).numpy())


def test_seed_everything_repeats_all_frameworks():
    import tensorflow  # noqa: F401  (seed_everything seeds frameworks that are imported)
    import torch  # noqa: F401

    config.seed_everything(123)
    first = _draws()
    config.seed_everything(123)
    second = _draws()
    config.seed_everything(124)
    third = _draws()
    for a, b, c in zip(first, second, third):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_device_is_cpu_or_accelerator():
    assert config.device() in {"cpu", "cuda", "mps"}
    assert config.tf_device() in {"/CPU:0", "/GPU:0"}


def test_import_utils_does_not_import_frameworks():
    import subprocess
    import sys

    code = "import sys, utils; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert utils.COURSE == "deep-learning-fundamentals"


def test_blas_threads_limits_and_restores():
    from threadpoolctl import threadpool_info

    limiter = config.blas_threads(1)
    assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    limiter.restore_original_limits()


def test_setup_imports_both_frameworks_safely_and_sets_threads():
    import subprocess
    import sys

    code = ("import utils; utils.setup(seed=1, frameworks=('torch', 'tensorflow'), threads=1)\n"
            "import torch, tensorflow as tf\n"
            "m = torch.nn.Linear(2, 2); torch.optim.SGD(m.parameters(), lr=0.1).step()  # loads Triton: must not crash\n"
            "print(torch.get_num_threads(), tf.config.threading.get_intra_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "seed: 1 | threads: 1" in out.stdout and out.stdout.split()[-2:] == ["1", "1"]
