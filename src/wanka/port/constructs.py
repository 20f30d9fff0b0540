"""What the porting pass matches (torch.cuda names, device strings, environment variables) and what it
records for each match: a `Site` (rule, position, per-target severity) and its planned `Rewrite`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst

from wanka.port.rules import SEVERITY_ORDER

#: Names the fixer defines once per module (see `wanka.port.fix.preamble`).
PREAMBLE_NAMES = (
    "_ACCELERATOR",
    "_DEVICE_TYPE",
    "_ACCEL_TYPE",
    "_DEVICE",
    "_DEVICE_MODULE",
    "_DIST_BACKEND",
)

_DEVICE_STR = re.compile(
    r"^cuda(:(\d*|%[dis]|\{[^{}]*\}))?$"
)  # "cuda", "cuda:0", "cuda:%d", "cuda:{}"
_ENV_VAR = re.compile(
    r"^(CUDA_[A-Z_]+|NCCL_[A-Z_0-9]+|CUBLAS_WORKSPACE_CONFIG|PYTORCH_CUDA_ALLOC_CONF)$"
)
_TENSOR_TYPES = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
    "ByteTensor": "uint8",
    "CharTensor": "int8",
    "ShortTensor": "int16",
    "IntTensor": "int32",
    "LongTensor": "int64",
    "BoolTensor": "bool",
}

# torch.cuda.X -> (rule, replacement dotted name); "" = no automatic rewrite.
_ACCEL = {
    "is_available": ("cuda-availability", "torch.accelerator.is_available"),
    "device_count": ("cuda-availability", "torch.accelerator.device_count"),
    "current_device": ("cuda-availability", "torch.accelerator.current_device_index"),
    "set_device": ("cuda-device-select", "torch.accelerator.set_device_index"),
    "synchronize": ("cuda-sync", "torch.accelerator.synchronize"),
    "current_stream": ("cuda-sync", "torch.accelerator.current_stream"),
    "Stream": ("cuda-sync", "torch.Stream"),
    "OutOfMemoryError": ("cuda-memory", "torch.OutOfMemoryError"),
}
_MIRRORED = {  # functions every vendor's device module mirrors: torch.cuda.X -> _DEVICE_MODULE.X
    "cuda-seed": (
        "manual_seed",
        "manual_seed_all",
        "seed",
        "seed_all",
        "initial_seed",
        "get_rng_state",
        "set_rng_state",
        "get_rng_state_all",
        "set_rng_state_all",
    ),
    "cuda-memory": (
        "empty_cache",
        "memory_allocated",
        "max_memory_allocated",
        "memory_reserved",
        "max_memory_reserved",
        "reset_peak_memory_stats",
        "reset_max_memory_allocated",
        "memory_stats",
        "memory_summary",
        "mem_get_info",
        "memory_cached",
        "max_memory_cached",
        "set_per_process_memory_fraction",
        "ipc_collect",
        "reset_accumulated_memory_stats",
        "memory_snapshot",
        "list_gpu_processes",
        "utilization",
    ),
    "cuda-availability": ("is_initialized", "init"),
    "cuda-capability": (
        "get_device_name",
        "get_device_properties",
        "is_bf16_supported",
        "get_device_capability",
    ),
    "cuda-sync": (
        "Event",
        "stream",
        "default_stream",
        "set_stream",
        "StreamContext",
        "is_current_stream_capturing",
    ),
    "cuda-device-select": ("device", "device_of"),
}
_MIRROR_RULE = {name: rule for rule, names in _MIRRORED.items() for name in names}
_GRAPH = {"CUDAGraph", "graph", "graphs", "make_graphed_callables", "graph_pool_handle"}
_CAPABILITY_MANUAL = {"get_arch_list", "is_tf32_supported", "get_gencode_flags"}
_SIDE_EFFECT_ONLY = {  # CUDA-only calls with no result: safe to run only on CUDA
    "torch.cuda.nvtx.range_push",
    "torch.cuda.nvtx.range_pop",
    "torch.cuda.nvtx.mark",
    "torch.cuda.profiler.start",
    "torch.cuda.profiler.stop",
    "torch.cuda.profiler.init",
}


@dataclass(slots=True, kw_only=True)
class Rewrite:
    """A planned change: `build(updated_node)` returns the replacement of the node with id `key`."""

    key: int
    build: Callable[[cst.CSTNode], cst.CSTNode]
    needs: frozenset[str] = frozenset()
    """Preamble names the replacement refers to."""
    description: str = ""


@dataclass(slots=True, kw_only=True)
class Site:
    """One match of a rule in one module."""

    rule: str
    line: int
    col: int
    message: str
    severity: dict[str, str]
    becomes: dict[str, str]
    guarded: bool = False
    rewrite: Rewrite | None = None
    manual_hours: float = 0.0


def _cap(sev: dict[str, str], cap: str) -> dict[str, str]:
    return {t: (s if SEVERITY_ORDER[s] <= SEVERITY_ORDER[cap] else cap) for t, s in sev.items()}
