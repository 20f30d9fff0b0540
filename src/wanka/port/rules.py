"""The porting rules: what each CUDA-specific construct becomes on every target, and how bad it is.

Glossary. A *target* is where the code should run: `npu` (Huawei Ascend, torch_npu), `rocm` (AMD/Hygon,
HIP builds that keep the "cuda" device type), `xpu` (Intel GPU), `mlu` (Cambricon, torch_mlu), `musa`
(Moore Threads, torch_musa), `hpu` (Intel Gaudi, habana_frameworks) and `cpu`. A *site* is one place in
the code that a rule matched. A severity says what happens to that site on a target without changes:

    breaks    the code fails, or silently never uses the accelerator
    degrades  it runs, but loses a fast path, a setting or a diagnostic
    info      it runs as it is; worth knowing when porting

The per-target mappings follow shared/research/porting.md (section 8's table) and the vendors' own
migration tables (Ascend transfer_to_npu / msFmkTransplt, Habana GPU Migration Toolkit, torch_gpu2mlu,
torchada, ROCm's HIP notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from wanka.errors import ConfigError

__all__ = [
    "PACKAGES",
    "RULES",
    "SEVERITY_ORDER",
    "TARGETS",
    "TARGET_INFO",
    "PackageRule",
    "Rule",
    "Severity",
    "TargetInfo",
    "check_target",
    "worst",
]


class Severity(StrEnum):
    """How a site behaves on a target when nothing is changed."""

    BREAKS = "breaks"
    DEGRADES = "degrades"
    INFO = "info"


SEVERITY_ORDER: dict[str, int] = {"info": 0, "degrades": 1, "breaks": 2}


def worst(severities: list[str] | tuple[str, ...]) -> str:
    """The most severe of several severities ("info" for none)."""
    return max(severities, key=SEVERITY_ORDER.__getitem__, default="info")


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetInfo:
    """What a target calls things: device type, module, collective backend, runtime plugin."""

    name: str
    label: str
    device_type: str
    """The `torch.device` type string on this target ("cuda" on ROCm: HIP masquerades as CUDA)."""
    module: str
    """The per-device module mirroring torch.cuda (`torch.npu`, ...)."""
    backend: str
    """torch.distributed backend for this device."""
    plugin: str | None
    """Python module that registers the device with PyTorch, or None when PyTorch has it built in."""
    visible_devices_env: str
    smi: str


TARGET_INFO: dict[str, TargetInfo] = {
    t.name: t
    for t in (
        TargetInfo(
            name="npu",
            label="Huawei Ascend (torch_npu)",
            device_type="npu",
            module="torch.npu",
            backend="hccl",
            plugin="torch_npu",
            visible_devices_env="ASCEND_RT_VISIBLE_DEVICES",
            smi="npu-smi",
        ),
        TargetInfo(
            name="rocm",
            label="AMD ROCm / Hygon DTK (HIP)",
            device_type="cuda",
            module="torch.cuda",
            backend="nccl (RCCL)",
            plugin=None,
            visible_devices_env="HIP_VISIBLE_DEVICES",
            smi="rocm-smi / amd-smi",
        ),
        TargetInfo(
            name="xpu",
            label="Intel GPU (xpu)",
            device_type="xpu",
            module="torch.xpu",
            backend="xccl",
            plugin=None,
            visible_devices_env="ZE_AFFINITY_MASK",
            smi="xpu-smi",
        ),
        TargetInfo(
            name="mlu",
            label="Cambricon (torch_mlu)",
            device_type="mlu",
            module="torch.mlu",
            backend="cncl",
            plugin="torch_mlu",
            visible_devices_env="MLU_VISIBLE_DEVICES",
            smi="cnmon",
        ),
        TargetInfo(
            name="musa",
            label="Moore Threads (torch_musa)",
            device_type="musa",
            module="torch.musa",
            backend="mccl",
            plugin="torch_musa",
            visible_devices_env="MUSA_VISIBLE_DEVICES",
            smi="mthreads-gmi",
        ),
        TargetInfo(
            name="hpu",
            label="Intel Gaudi (habana_frameworks)",
            device_type="hpu",
            module="torch.hpu",
            backend="hccl (Habana)",
            plugin="habana_frameworks.torch.core",
            visible_devices_env="HABANA_VISIBLE_MODULES",
            smi="hl-smi",
        ),
        TargetInfo(
            name="cpu",
            label="CPU only",
            device_type="cpu",
            module="torch.cpu",
            backend="gloo",
            plugin=None,
            visible_devices_env="(none)",
            smi="(none)",
        ),
    )
}

#: Every target, in report order.
TARGETS: tuple[str, ...] = tuple(TARGET_INFO)


def check_target(name: str) -> str:
    """Return `name` if it is a known target, else raise ConfigError naming the choices."""
    if name not in TARGET_INFO:
        raise ConfigError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return name


def _all(sev: str, **overrides: str) -> dict[str, str]:
    return {t: overrides.get(t, sev) for t in TARGETS}


def _per(template: str, **overrides: str) -> dict[str, str]:
    """Per-target text from a template using {dev}, {mod}, {backend}; overrides win."""
    out = {}
    for t, info in TARGET_INFO.items():
        out[t] = overrides.get(t) or template.format(
            dev=info.device_type,
            mod=info.module,
            backend=info.backend,
            smi=info.smi,
            env=info.visible_devices_env,
        )
    return out


_ROCM_SAME = "works as is (ROCm builds keep the 'cuda' device type and torch.cuda)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One kind of CUDA-specific construct."""

    id: str
    title: str
    severity: dict[str, str]
    """Severity per target when the site is not inside a device-type guard."""
    becomes: dict[str, str]
    """What the construct becomes on each target."""
    fix: str | None
    """What `wanka port fix` rewrites it to (None: left for a person)."""
    manual_hours: float
    """Engineer-hours to port one site by hand (used when no automatic fix applies)."""
    tags: tuple[str, ...] = field(default_factory=tuple)


_R = [
    Rule(
        id="cuda-method",
        title="`.cuda()` moves a tensor or module to CUDA",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            ".to('{dev}')",
            rocm=_ROCM_SAME,
            npu=".npu() / .to('npu')",
            mlu=".mlu() / .to('mlu')",
            musa=".musa() / .to('musa')",
            cpu="drop it (tensors stay on the CPU)",
        ),
        fix=".to(_DEVICE) with the device chosen once from torch.accelerator",
        manual_hours=0.1,
    ),
    Rule(
        id="cuda-device-string",
        title='hard-coded "cuda" device string',
        severity=_all("breaks", rocm="info"),
        becomes=_per("'{dev}' / '{dev}:N'", rocm=_ROCM_SAME, cpu="'cpu'"),
        fix="_DEVICE_TYPE (the accelerator's type, 'cpu' without one)",
        manual_hours=0.1,
    ),
    Rule(
        id="device-type-compare",
        title='compares a device type with "cuda"',
        severity=_all("degrades", rocm="info"),
        becomes=_per(
            "compare with '{dev}': the CUDA-only branch is skipped otherwise",
            rocm=_ROCM_SAME,
            cpu="the CUDA branch is skipped (intended on a CPU)",
        ),
        fix="compare with _ACCEL_TYPE (the accelerator's type)",
        manual_hours=0.2,
    ),
    Rule(
        id="is-cuda-attr",
        title="`tensor.is_cuda` tests for CUDA",
        severity=_all("degrades", rocm="info"),
        becomes=_per(
            "tensor.device.type == '{dev}'", rocm=_ROCM_SAME, cpu="False (intended on a CPU)"
        ),
        fix="tensor.device.type != 'cpu'",
        manual_hours=0.2,
    ),
    Rule(
        id="cuda-availability",
        title="torch.cuda availability / device queries",
        severity=_all("breaks", rocm="info", cpu="info"),
        becomes=_per(
            "{mod}.is_available() / device_count() (False/0 for CUDA: the chip is never used)",
            rocm=_ROCM_SAME,
            cpu="torch.cuda.is_available() is False: the CPU path runs",
        ),
        fix="torch.accelerator.is_available() / device_count() / current_device_index()",
        manual_hours=0.2,
    ),
    Rule(
        id="cuda-device-select",
        title="torch.cuda.set_device / torch.cuda.device",
        severity=_all("breaks", rocm="info"),
        becomes=_per("{mod}.set_device(...)", rocm=_ROCM_SAME, cpu="drop it"),
        fix="torch.accelerator.set_device_index(...)",
        manual_hours=0.2,
    ),
    Rule(
        id="cuda-sync",
        title="torch.cuda synchronisation, streams and events",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            "{mod}.synchronize() / {mod}.Stream / {mod}.Event",
            rocm=_ROCM_SAME,
            cpu="no-op (drop it)",
        ),
        fix="torch.accelerator.synchronize() / torch.Stream / torch.Event",
        manual_hours=0.3,
    ),
    Rule(
        id="cuda-seed",
        title="torch.cuda random seeding / RNG state",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            "{mod}.manual_seed(...) (torch.manual_seed seeds every device)",
            rocm=_ROCM_SAME,
            cpu="torch.manual_seed(...)",
        ),
        fix="_DEVICE_MODULE.manual_seed(...) (torch.get_device_module)",
        manual_hours=0.1,
    ),
    Rule(
        id="cuda-memory",
        title="torch.cuda memory statistics and caching allocator",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            "{mod}.memory_allocated() / max_memory_allocated() / empty_cache()",
            rocm=_ROCM_SAME,
            cpu="no equivalent (use psutil / tracemalloc)",
        ),
        fix="_DEVICE_MODULE.<same function> (torch.get_device_module)",
        manual_hours=0.2,
    ),
    Rule(
        id="cuda-capability",
        title="CUDA capability / properties / bf16 checks",
        severity=_all("breaks", rocm="degrades"),
        becomes=_per(
            "{mod}.get_device_properties() / is_bf16_supported()",
            rocm="returns gfx-derived values; test torch.version.hip or feature-test instead",
            cpu="no equivalent; bf16 autocast works on CPUs",
        ),
        fix="_DEVICE_MODULE.<same function> (torch.get_device_module)",
        manual_hours=0.5,
    ),
    Rule(
        id="cuda-amp",
        title="torch.cuda.amp autocast / GradScaler (deprecated CUDA-only AMP)",
        severity=_all("breaks", rocm="degrades"),
        becomes=_per(
            "torch.amp.autocast('{dev}') / torch.amp.GradScaler('{dev}')",
            npu="torch.amp.autocast('npu') / torch.npu.amp.GradScaler",
            rocm="works, but torch.cuda.amp is deprecated: torch.amp.autocast('cuda')",
            cpu="torch.amp.autocast('cpu', dtype=torch.bfloat16); no GradScaler needed",
        ),
        fix="torch.amp.autocast(_DEVICE_TYPE, ...) / torch.amp.GradScaler(_DEVICE_TYPE, ...)",
        manual_hours=0.3,
    ),
    Rule(
        id="cuda-graph",
        title="CUDA graphs",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            "{mod} graphs if the vendor has them; else run eagerly",
            npu="torch.npu.NPUGraph (aclgraph, recent torch_npu) or torchair",
            rocm="HIP graphs via torch.cuda.CUDAGraph (as is)",
            xpu="torch.xpu.XPUGraph (recent releases)",
            hpu="habana_frameworks.torch.hpu.graphs (HPU graphs)",
            cpu="run eagerly (no graphs)",
        ),
        fix=None,
        manual_hours=4.0,
    ),
    Rule(
        id="nvtx",
        title="NVTX ranges (NVIDIA profiler annotations)",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            "torch.profiler.record_function(...)",
            npu="torch_npu.npu.mstx ranges or torch.profiler.record_function",
            rocm="roctx through the torch.cuda.nvtx shim (as is)",
            xpu="torch.profiler.itt or torch.profiler.record_function",
        ),
        fix='guarded by `if _DEVICE_TYPE == "cuda":`; `with nvtx.range(...)` -> record_function',
        manual_hours=0.2,
    ),
    Rule(
        id="cuda-tensor-type",
        title="legacy CUDA tensor types (torch.cuda.FloatTensor, ...)",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            "torch.empty(..., dtype=..., device='{dev}') / x.to('{dev}', dtype)", rocm=_ROCM_SAME
        ),
        fix="isinstance(...) and .type(...) forms rewritten with dtype and device",
        manual_hours=0.3,
    ),
    Rule(
        id="cuda-api",
        title="other torch.cuda API",
        severity=_all("breaks", rocm="info"),
        becomes=_per(
            "{mod}.<same name> where the vendor mirrors it", rocm=_ROCM_SAME, cpu="no equivalent"
        ),
        fix=None,
        manual_hours=0.5,
    ),
    Rule(
        id="cudnn-flag",
        title="cuDNN flags (benchmark, deterministic, allow_tf32, enabled)",
        severity=_all("degrades", rocm="info", cpu="info"),
        becomes=_per(
            "no effect on {dev}; use the vendor's settings / torch.use_deterministic_algorithms",
            rocm="maps to MIOpen (benchmark triggers MIOpen find)",
            npu="ignored; torch.npu.config.allow_internal_format and friends",
            cpu="no effect",
        ),
        fix="guarded by `if torch.backends.cudnn.is_available():`",
        manual_hours=0.1,
    ),
    Rule(
        id="cuda-backend-flag",
        title="torch.backends.cuda settings (TF32 matmul, SDPA kernels)",
        severity=_all("degrades", rocm="info", cpu="info"),
        becomes=_per(
            "torch.set_float32_matmul_precision(...) / SDPA picks the kernel on {dev}",
            rocm=_ROCM_SAME,
        ),
        fix="allow_tf32 = True/False -> torch.set_float32_matmul_precision('high'/'highest')",
        manual_hours=0.1,
    ),
    Rule(
        id="nccl-backend",
        title='the "nccl" collective backend',
        severity=_all("breaks", rocm="info"),
        becomes=_per("'{backend}'", rocm="'nccl' maps to RCCL (as is)", cpu="'gloo'"),
        fix="_DIST_BACKEND = torch.distributed.get_default_backend_for_device(_DEVICE)",
        manual_hours=0.2,
    ),
    Rule(
        id="cuda-only-package",
        title="imports a CUDA-only package",
        severity=_all("breaks"),
        becomes=_per("see the package's alternative"),
        fix=None,
        manual_hours=8.0,
    ),
    Rule(
        id="cuda-extension",
        title="custom CUDA C++ extension (torch.utils.cpp_extension)",
        severity=_all("breaks", rocm="degrades"),
        becomes=_per(
            "rewrite the kernel for {dev}",
            npu="rewrite in Ascend C / register through OpPlugin",
            rocm="hipified automatically at build; fix PTX and warp-size (64) assumptions",
            xpu="rewrite in SYCL (SyclExtension, PyTorch 2.7+)",
            mlu="rewrite in BANG C",
            musa="musify + MUSAExtension",
            hpu="rewrite as a TPC-C kernel",
            cpu="keep a pure-PyTorch reference path",
        ),
        fix=None,
        manual_hours=40.0,
    ),
    Rule(
        id="pin-memory",
        title="pinned host memory (pin_memory) assumes a CUDA device",
        severity=_all("info"),
        becomes=_per(
            "works once the {dev} device is registered (pins for the current accelerator)",
            rocm=_ROCM_SAME,
            cpu="no effect without an accelerator (set pin_memory=False)",
        ),
        fix=None,
        manual_hours=0.0,
    ),
    Rule(
        id="cuda-env-var",
        title="CUDA/NCCL environment variable",
        severity=_all("degrades", rocm="info"),
        becomes=_per(
            "{env}",
            rocm="HIP_VISIBLE_DEVICES (CUDA_VISIBLE_DEVICES is honoured too); "
            "RCCL reads NCCL_* variables",
        ),
        fix=None,
        manual_hours=0.2,
    ),
    Rule(
        id="nvidia-smi",
        title="calls nvidia-smi",
        severity=_all("degrades"),
        becomes=_per("{smi}"),
        fix=None,
        manual_hours=0.2,
    ),
    Rule(
        id="cuda-version-check",
        title="tests torch.version.cuda",
        severity=_all("degrades", cpu="info"),
        becomes=_per(
            "None on {dev}: feature-test instead of version-test",
            rocm="None on ROCm: test torch.version.hip",
        ),
        fix=None,
        manual_hours=0.3,
    ),
    Rule(
        id="data-parallel",
        title="torch.nn.DataParallel (single-process multi-GPU)",
        severity=_all("info", npu="degrades", hpu="degrades"),
        becomes=_per(
            "works; DistributedDataParallel is faster",
            npu="unsupported by older torch_npu: use DistributedDataParallel",
            hpu="unsupported: use DistributedDataParallel",
        ),
        fix=None,
        manual_hours=1.0,
    ),
    Rule(
        id="cuda-graph-compile",
        title='torch.compile(mode="reduce-overhead") relies on CUDA graphs',
        severity=_all("info"),
        becomes=_per("falls back to plain compiled code without graphs on {dev}", rocm=_ROCM_SAME),
        fix=None,
        manual_hours=0.0,
    ),
]

#: Every rule by id.
RULES: dict[str, Rule] = {r.id: r for r in _R}


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRule:
    """A CUDA-only third-party package: severity and alternative per target."""

    name: str
    severity: dict[str, str]
    becomes: dict[str, str]
    manual_hours: float


_PKG = [
    PackageRule(
        name="flash_attn",
        severity=_all("breaks", rocm="degrades"),
        manual_hours=8.0,
        becomes=_per(
            "torch.nn.functional.scaled_dot_product_attention",
            npu="torch_npu.npu_fusion_attention (different layout/mask API) or SDPA",
            rocm="ROCm flash-attention (CK or Triton backend)",
            xpu="SDPA (IPEX kernels)",
            hpu="habana FusedSDPA or SDPA",
        ),
    ),
    PackageRule(
        name="xformers",
        severity=_all("breaks", rocm="degrades"),
        manual_hours=8.0,
        becomes=_per(
            "torch.nn.functional.scaled_dot_product_attention",
            rocm="partial ROCm support; else SDPA",
        ),
    ),
    PackageRule(
        name="apex",
        severity=_all("breaks", rocm="degrades"),
        manual_hours=4.0,
        becomes=_per(
            "torch.optim.AdamW(fused=True), nn.LayerNorm/RMSNorm, torch.amp",
            npu="Ascend apex fork (ascend/apex)",
            rocm="ROCm apex fork (ROCm/apex)",
            hpu="Habana FusedAdamW (the GPU Migration Toolkit maps some apex calls)",
        ),
    ),
    PackageRule(
        name="bitsandbytes",
        severity=_all("breaks", rocm="degrades", xpu="degrades", hpu="degrades"),
        manual_hours=8.0,
        becomes=_per(
            "torchao quantization",
            rocm="bitsandbytes ROCm backend (multi-backend)",
            xpu="bitsandbytes multi-backend (alpha)",
            hpu="bitsandbytes Gaudi backend",
        ),
    ),
    PackageRule(
        name="triton",
        severity=_all("breaks", rocm="info", xpu="info", npu="degrades"),
        manual_hours=16.0,
        becomes=_per(
            "torch.compile picks the device's backend; rewrite hand-written kernels",
            npu="Triton-Ascend (early)",
            rocm="AMD Triton backend (as is)",
            xpu="Intel XPU Triton backend",
            hpu="TPC kernels (no Triton)",
            cpu="Triton CPU backend is experimental: keep a PyTorch path",
        ),
    ),
    PackageRule(
        name="transformer_engine",
        severity=_all("breaks", rocm="degrades"),
        manual_hours=16.0,
        becomes=_per(
            "plain torch.nn layers with torch.amp (FP8 via torchao where supported)",
            rocm="ROCm TransformerEngine fork",
            hpu="habana FP8 (Intel Gaudi TE)",
        ),
    ),
    PackageRule(
        name="pynvml",
        severity=_all("degrades"),
        manual_hours=1.0,
        becomes=_per(
            "the vendor's management library",
            npu="pyACL / npu-smi",
            rocm="amdsmi / pyrsmi",
            xpu="pyxpum / xpu-smi",
            hpu="pyhlml",
        ),
    ),
    PackageRule(
        name="cupy",
        severity=_all("breaks", rocm="degrades"),
        manual_hours=8.0,
        becomes=_per("torch tensor operations", rocm="CuPy ROCm build"),
    ),
    PackageRule(
        name="pycuda",
        severity=_all("breaks"),
        manual_hours=16.0,
        becomes=_per("torch tensor operations / the vendor's runtime API"),
    ),
    PackageRule(
        name="numba.cuda",
        severity=_all("breaks"),
        manual_hours=16.0,
        becomes=_per("torch operations or Triton kernels"),
    ),
    PackageRule(
        name="nvidia",
        severity=_all("breaks"),
        manual_hours=8.0,
        becomes=_per("the vendor's equivalent library (NVIDIA-only package)"),
    ),
    PackageRule(
        name="mamba_ssm",
        severity=_all("breaks", rocm="degrades"),
        manual_hours=16.0,
        becomes=_per("a pure-PyTorch selective-scan reference"),
    ),
    PackageRule(
        name="causal_conv1d",
        severity=_all("breaks", rocm="degrades"),
        manual_hours=4.0,
        becomes=_per("torch.nn.functional.conv1d with causal padding"),
    ),
    PackageRule(
        name="cutlass",
        severity=_all("breaks", rocm="breaks"),
        manual_hours=40.0,
        becomes=_per("rewrite the kernel for the target", rocm="Composable Kernel (CK)"),
    ),
]

#: CUDA-only third-party packages by top-level import name ("numba.cuda" by its dotted name).
PACKAGES: dict[str, PackageRule] = {p.name: p for p in _PKG}
