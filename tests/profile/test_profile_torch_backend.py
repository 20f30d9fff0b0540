"""The torch backend's logic (device choice, synchronisation, kernels) against a numpy stand-in for torch.

PyTorch is not installed in the test environment; this fake implements just the calls the backend
makes, so the whole `run_profile(backend="torch")` path runs on the CPU.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from wanka.profile import Sweep, run_profile


def _fake_torch(accel: str | None) -> types.ModuleType:
    t = types.ModuleType("torch")
    t.__version__ = "0.0-fake"
    calls = {"sync": 0}
    t._calls = calls  # type: ignore[attr-defined]
    for name in ("bfloat16", "float16", "float32"):
        setattr(t, name, np.float32)

    class Device:
        def __init__(self, kind: str) -> None:
            self.type = kind

    t.device = Device  # type: ignore[attr-defined]

    def sync() -> None:
        calls["sync"] += 1

    acc = types.SimpleNamespace(
        is_available=lambda: accel is not None,
        current_accelerator=lambda: Device(accel or "cpu"),
        synchronize=sync,
    )
    t.accelerator = acc  # type: ignore[attr-defined]
    t.randn = lambda *shape, device=None, dtype=None: (
        np.random.default_rng(0).standard_normal(shape).astype(dtype)
    )
    t.empty = lambda *shape, device=None, dtype=None: np.empty(shape, dtype=dtype)
    t.ones = lambda n, device=None, dtype=None: np.ones(n, dtype=dtype)

    class _Arr(np.ndarray):
        def copy_(self, other):
            np.copyto(self, other)
            return self

    t.ones = lambda n, device=None, dtype=None: np.ones(n, dtype=dtype).view(_Arr)
    t.empty_like = lambda x: np.empty_like(x).view(_Arr)
    t.matmul = lambda a, b, out=None: np.matmul(a, b, out=out)

    def sdpa(q, k, v, is_causal=False):
        s = q @ np.swapaxes(k, -1, -2)
        s = np.exp(s - s.max(-1, keepdims=True))
        return (s / s.sum(-1, keepdims=True)) @ v

    t.nn = types.SimpleNamespace(
        functional=types.SimpleNamespace(scaled_dot_product_attention=sdpa)
    )
    t.get_device_module = lambda kind: types.SimpleNamespace(get_device_name=lambda: f"fake {kind}")
    t.distributed = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: False)
    return t


TINY = Sweep(
    gemm_shapes=((16, 16, 16), (32, 32, 32)),
    gemm_dtypes=("bfloat16",),
    attention_shapes=((1, 1, 16, 8),),
    memory_bytes=(1 << 14,),
    collective_bytes=(1 << 14,),
    repeats=1,
    warmup=1,
)


@pytest.mark.parametrize("accel", ["npu", None])
def test_torch_backend_runs_with_any_device(monkeypatch, accel):
    """The device comes from torch.accelerator (CPU without one); timing synchronises the device."""
    fake = _fake_torch(accel)
    monkeypatch.setitem(sys.modules, "torch", fake)
    prof = run_profile(backend="torch", sweep=TINY)
    assert prof.backend == "torch"
    assert prof.device.startswith(f"{accel or 'cpu'} (fake {accel or 'cpu'})")
    assert {k.kernel_class for k in prof.kernels} == {"gemm", "attention", "memory"}
    assert any("torchrun" in n for n in prof.notes)  # one rank: no collectives
    assert (fake._calls["sync"] > 0) == (accel is not None)  # no device sync on the CPU
