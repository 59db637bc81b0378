"""utils.config.device / precision / autocast with the hardware mocked: CPU, CUDA 7.5 and 8.0, MPS."""
import contextlib

import pytest
import torch

from utils import config


@pytest.fixture
def machine(monkeypatch):
    """Pretend to be a machine: ``machine(cuda=(7, 5))``, ``machine(mps=True)``, ``machine(cpu_bf16=True)``."""
    monkeypatch.delenv("DLF_DEVICE", raising=False)

    def pretend(cuda=None, mps=False, cpu_bf16=False, name="Tesla T4"):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda is not None)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 0 if cuda is None else 2)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(config, "cpu_flags", lambda: {"avx2", "amx_bf16"} if cpu_bf16 else {"avx2"})

    return pretend


def test_cpu_without_native_bf16_trains_in_float32(machine):
    machine()
    assert config.device() == "cpu"
    policy = config.precision()
    assert (policy.name, policy.dtype, policy.grad_scaler) == ("float32", None, False)
    assert str(policy) == "float32"


def test_cpu_with_amx_or_avx512_bf16_uses_bfloat16(machine, monkeypatch):
    machine(cpu_bf16=True)
    assert config.precision("cpu") == config.Precision("bfloat16", torch.bfloat16, False)
    monkeypatch.setattr(config, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert config.precision("cpu").name == "bfloat16"
    monkeypatch.setattr(config, "cpu_flags", lambda: {"avx512f", "avx512bw"})  # AVX-512 alone emulates bf16
    assert config.precision("cpu").name == "float32"


def test_cuda_75_is_float16_with_grad_scaler(machine):
    machine(cuda=(7, 5))
    assert config.device() == "cuda"
    policy = config.precision()
    assert (policy.name, policy.dtype, policy.grad_scaler) == ("float16", torch.float16, True)
    assert str(policy) == "float16 + GradScaler"
    assert config.describe_device() == "cuda (Tesla T4)"
    machine(cuda=(7, 0), name="Tesla V100")
    assert config.precision("cuda:0").name == "float16"


def test_cuda_80_is_bfloat16_without_scaler(machine):
    machine(cuda=(8, 0), name="NVIDIA A100")
    policy = config.precision(config.device())
    assert (policy.name, policy.dtype, policy.grad_scaler) == ("bfloat16", torch.bfloat16, False)


def test_mps_is_float32_and_cuda_comes_first(machine):
    machine(mps=True, cpu_bf16=True)
    assert config.device() == "mps" and config.precision().name == "float32"
    machine(cuda=(8, 6), mps=True)
    assert config.device() == "cuda"


def test_dlf_device_overrides_and_refuses_what_is_missing(machine, monkeypatch):
    machine(cuda=(8, 0))
    monkeypatch.setenv("DLF_DEVICE", "cpu")
    assert config.device() == "cpu" and config.precision().name == "float32"
    monkeypatch.setenv("DLF_DEVICE", "CUDA:1")
    assert config.device() == "cuda:1"
    monkeypatch.setenv("DLF_DEVICE", "cuda:2")
    with pytest.raises(RuntimeError, match="GPU 2, but PyTorch finds 2"):
        config.device()
    monkeypatch.setenv("DLF_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="DLF_DEVICE='mps'.*no mps device"):
        config.device()
    for wrong in ("tpu", "cuda:x", "cpu:1"):
        monkeypatch.setenv("DLF_DEVICE", wrong)
        with pytest.raises(ValueError, match="expected one of cpu, cuda, mps"):
            config.device()


def test_named_precision_and_unknown_name(machine):
    machine()
    assert config.precision("cpu", "float16").grad_scaler
    assert config.precision("cuda", "float32").dtype is None
    with pytest.raises(ValueError, match="expected one of"):
        config.precision("cpu", "fp8")


def test_autocast_is_a_no_op_for_float32_and_casts_otherwise():
    assert isinstance(config.autocast("cpu", config.Precision("float32")), contextlib.nullcontext)
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with config.autocast("cpu", config.precision("cpu", "bfloat16")):
        assert (a @ b).dtype == torch.bfloat16
    with config.autocast("cpu", config.Precision("float32")):
        assert (a @ b).dtype == torch.float32


def test_grad_scaler_only_where_the_policy_needs_one():
    assert config.precision("cpu", "float16").scaler("cpu").is_enabled()
    assert not config.precision("cpu", "bfloat16").scaler("cpu").is_enabled()


def test_reference_setup_needs_two_cores_native_bf16_and_no_gpu(machine, monkeypatch):
    machine(cpu_bf16=True)
    monkeypatch.setattr(config.os, "cpu_count", lambda: 2)
    assert config.is_reference_setup()
    machine(cpu_bf16=False)
    assert not config.is_reference_setup()
    machine(cuda=(7, 5), cpu_bf16=True)
    assert not config.is_reference_setup()


def test_tensorflow_memory_growth_on_every_gpu_even_if_one_is_initialised(monkeypatch):
    import tensorflow as tf

    calls = []

    def set_growth(gpu, on):
        calls.append((gpu, on))
        if gpu == "GPU:0":
            raise RuntimeError("Physical devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0", "GPU:1"])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_growth)
    config.gpu_memory_growth()
    assert calls == [("GPU:0", True), ("GPU:1", True)]


def test_float32_is_ieee_in_both_frameworks_no_tf32(monkeypatch):
    """On Ampere GPUs TF32 would make float32 checks at 1e-5 fail: setup turns it off in both frameworks."""
    import types

    import tensorflow as tf

    tf32 = []
    monkeypatch.setattr(tf.config.experimental, "enable_tensor_float_32_execution", tf32.append)
    backends = (torch.backends.cuda.matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn)
    before = [b.fp32_precision for b in backends]
    try:
        for b in backends:  # as PyTorch allows on an Ampere GPU (descriptors: set and restored by hand)
            b.fp32_precision = "tf32"
        config.exact_float32()
        assert tf32 == [False]
        assert [b.fp32_precision for b in backends] == ["ieee"] * 3
    finally:
        for b, value in zip(backends, before):
            b.fp32_precision = value
    # An older PyTorch without fp32_precision: the legacy allow_tf32 switches.
    old_matmul, old_cudnn = types.SimpleNamespace(allow_tf32=True), types.SimpleNamespace(allow_tf32=True)
    monkeypatch.setattr(torch.backends, "cuda", types.SimpleNamespace(matmul=old_matmul))
    monkeypatch.setattr(torch.backends, "cudnn", old_cudnn)
    config.exact_float32()
    assert old_matmul.allow_tf32 is False and old_cudnn.allow_tf32 is False
