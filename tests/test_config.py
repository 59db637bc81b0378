import random

import numpy as np
import pytest

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


def test_work_dir_is_emptied_on_each_call_and_stays_under_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DLF_WORK_DIR", raising=False)
    first = config.work_dir("03_ship")
    assert first == tmp_path / "work" / "03_ship" and first.is_dir() and not any(first.iterdir())
    (first / "model.onnx").write_bytes(b"x" * 10)
    (first / "logs").mkdir()
    (first / "logs" / "events").write_text("e")
    again = config.work_dir("03_ship")                      # a second run of the same notebook: one copy, empty
    assert again == first and not any(again.iterdir())
    (again / "kept.txt").write_text("after the run")        # what a run writes stays for the reader to open
    config.work_dir("other")
    assert (again / "kept.txt").read_text() == "after the run"
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["03_ship", "other"]
    monkeypatch.setenv("DLF_WORK_DIR", str(tmp_path / "elsewhere"))
    assert config.work_dir("03_ship") == tmp_path / "elsewhere" / "03_ship"
    assert (again / "kept.txt").exists()                   # another root: the data directory's folder is untouched
    for bad in ("", ".", "..", "a/b", "../escape", "a\\b"):
        with pytest.raises(ValueError):
            config.work_dir(bad)


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


def test_device_is_cpu_or_accelerator(monkeypatch):
    monkeypatch.delenv("DLF_DEVICE", raising=False)
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


def _setup_line(code, **env):
    import os
    import subprocess
    import sys

    env = {**os.environ, **env}
    for name in ("DLF_QUICK", "DLF_DEVICE"):
        if name not in env or env[name] is None:
            env.pop(name, None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def test_setup_prints_one_line_saying_where_the_notebook_runs():
    code = ("import utils, torch; utils.setup(seed=3, frameworks=('torch', 'tensorflow'))\n"
            "c = utils.config; print(c.describe_device(), c.precision(), c.is_reference_setup(), sep='||')")
    out = _setup_line(code, DLF_QUICK=None, DLF_DEVICE=None)
    assert out.returncode == 0, out.stderr[-2000:]
    line, facts = out.stdout.strip().splitlines()
    where, policy, reference = facts.split("||")
    import tensorflow as tf
    import torch

    assert line.split(" | ")[:-1] == [
        "mode: FULL", f"device: {where}, precision {policy}", f"torch {torch.__version__}, tensorflow {tf.__version__}",
        "seed: 3", "threads: library default", "reference 2-core CPU: " + ("yes" if reference == "True" else "no")]
    assert line.split(" | ")[-1].startswith("data: ")


def test_setup_quick_numpy_only_and_refusing_a_missing_device():
    code = ("import sys, matplotlib; dpi = matplotlib.rcParams['figure.dpi']; import utils; utils.setup(threads=1)\n"
            "print('torch' in sys.modules, dpi, matplotlib.rcParams['figure.dpi'])")
    out = _setup_line(code, DLF_QUICK="1")
    assert out.returncode == 0, out.stderr[-2000:]
    line, facts = out.stdout.strip().splitlines()
    assert line.startswith("mode: QUICK") and "| device: cpu (NumPy) |" in line
    assert facts == "False 100.0 80.0"                      # no torch for NumPy; the course style for figures
    import torch

    missing = "cuda" if not torch.cuda.is_available() else "mps"
    if missing == "mps" and torch.backends.mps.is_available():
        return
    out = _setup_line("import utils; utils.setup(frameworks=('torch',))", DLF_DEVICE=missing)
    assert out.returncode != 0 and f"DLF_DEVICE='{missing}' asks for {missing}" in out.stderr
    assert "mode:" not in out.stdout                                      # refused before claiming a device


def test_named_rng_streams_follow_the_notebook_seed():
    config.seed_everything(0)
    a, b = config.rng("init").normal(size=3), config.rng("dropout").normal(size=3)
    np.testing.assert_array_equal(a, config.rng("init").normal(size=3))  # same name, same numbers
    assert not np.array_equal(a, b)  # another name, another stream
    config.seed_everything(1)
    assert not np.array_equal(a, config.rng("init").normal(size=3))  # a new notebook seed changes them all
    config.seed_everything(0)
    np.testing.assert_array_equal(config.rng(5).normal(size=3), np.random.default_rng(5).normal(size=3))
    import pytest

    with pytest.raises(TypeError, match="stream"):
        config.rng(1.5)
