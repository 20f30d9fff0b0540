"""Named parameters of the serving model: fitted ones and stated engine defaults, kept apart.

Fitted (`ServeCalibration`, values in `catalogs/data/serve_calibration.yaml`, written by
`benchmarks/fit_serve.py` from the TRAIN part of `validation/inference_runs.yaml`; split rule in
`wanka.serve.validate.SPLIT_RULE`). Every other constant states its source next to it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

from wanka.errors import CatalogError, ConfigError

__all__ = [
    "VLLM_LARGE_DEVICE_BYTES",
    "EngineDefaults",
    "ServeCalibration",
    "default_serve_calibration",
    "FRAMEWORKS",
    "engine_defaults",
    "engine_family",
    "framework_name",
    "paged_framework",
    "serve_calibration_from",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeCalibration:
    """Efficiency constants of the serving step model (dimensionless unless the name says otherwise)."""

    stream_bw_efficiency: float = 1.0
    """Multiplies the chip's `software_efficiency.memory_bw` for the weight and KV-cache streaming of a
    serving iteration (decode is HBM-bound: paged-attention and small-M GEMM kernels read memory at a
    different share of peak than the STREAM-like kernels the training figure describes)."""
    gemm_efficiency_scale: float = 1.0
    """Multiplies `software_efficiency.gemm` for the inference GEMMs (weights pre-quantised offline, no
    backward pass, CUDA-graph captured): the compute-bound (prefill-heavy) share of an iteration."""
    attention_efficiency_scale: float = 1.0
    """Multiplies `software_efficiency.attention` for inference attention (forward only; FlashInfer/
    TRT-LLM XQA/FMHA kernels)."""
    gemm_tile: int = 128
    """Tile edge of the serving GEMMs' shape curve (replaces `perf.Calibration.gemm_tile` for serving):
    inference GEMM libraries pick narrower tiles for small token counts (cuBLASLt/CUTLASS heuristics,
    TensorRT-LLM's tactic profiler), so the padding waste of a 128-wide tile overstates their cost."""
    moe_ep_imbalance: float = 1.15
    """Routed tokens on the busiest expert-parallel rank over the mean during serving (the training value,
    `perf.Calibration.moe_load_imbalance`, is the default; inference batches carry no balancing loss,
    which is why DeepSeek-V3 serving re-places hot experts, EPLB)."""
    moe_expert_half_dim: float = 0.0
    """Expert width (FFN columns per GPU) at which a grouped expert GEMM runs at half the efficiency
    the dense shape curve gives it: a factor fe / (fe + this). Many narrow experts (Qwen3: 128 of
    768-1,536 columns) split the work into small per-expert problems, each with its own prologue,
    epilogue and partial wave, where a few wide ones (Mixtral: 8 of 14,336) keep the tensor cores
    busy; 0 leaves the dense curve alone."""
    step_overhead_s: float = 2e-3
    """Time per engine iteration that no kernel model captures (scheduler, sampling, host-device sync,
    graph launch), seconds."""
    source: str = "defaults (not fitted)"
    """What these values were fitted on (split, data, date)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineDefaults:
    """Stated serving-engine settings used when the spec does not give them."""

    max_batch: int = 2048
    """Most sequences in one iteration: TensorRT-LLM `BuildConfig.max_batch_size` default 2048."""
    max_num_tokens: int = 8192
    """Token budget of one iteration (decode tokens + prefill chunk): TensorRT-LLM `max_num_tokens`
    default 8192; vLLM's `max_num_batched_tokens` is 8192 for chunked prefill on large GPUs."""
    gpu_memory_utilization: float = 0.90
    """KV-cache memory fraction, default 0.9 in both engines but of different wholes (see
    `fraction_of_free`): vLLM `gpu_memory_utilization` (of all HBM); TensorRT-LLM
    `KvCacheConfig.free_gpu_memory_fraction` (of the memory left free after loading the model)."""
    fraction_of_free: bool = True
    """True: TensorRT-LLM, the KV pool is the fraction of the HBM left after weights, activations and
    runtime ("allocate 90% of free GPU memory for KV cache", TensorRT-LLM docs, How to Change KV Cache
    Behavior). False: vLLM/SGLang, the fraction caps all of the engine's memory and the pool is what
    the weights and activations leave of it (`vllm/v1/core/kv_cache_utils.py`)."""
    kv_block_tokens: int = 32
    """Tokens per paged KV block: TensorRT-LLM `tokens_per_block` default 32 (vLLM uses 16)."""
    runtime_reserved_bytes: float = 2.0 * 2**30
    """HBM held outside the KV pool per GPU (CUDA context, NCCL and GEMM workspaces, CUDA graphs), bytes."""
    activation_bytes_per_token: float = 0.0
    """Per-token activation workspace is computed from the model (see `kv.activation_workspace_bytes`)."""
    no_evict: bool = True
    """Reserve each request's full KV (input + output) at admission: TensorRT-LLM's default
    `CapacitySchedulerPolicy.GUARANTEED_NO_EVICT`. False: vLLM-style on-demand blocks with preemption."""
    draft_tokens: int = 0
    """Speculative decoding: tokens a one-layer draft head (DeepSeek-V3 MTP modules, EAGLE) proposes
    per decode step, verified in the next forward pass; 0 (the engines' default) is off."""
    draft_acceptance: float = 0.0
    """Probability that the target model accepts each drafted token (given the ones before it)."""

    @property
    def rows_per_sequence(self) -> int:
        """Tokens a decoding sequence puts through one pass: itself and its drafts to verify."""
        return 1 + self.draft_tokens

    @property
    def tokens_per_step(self) -> float:
        """Expected tokens a decoding sequence gains per step: 1 + a + ... + a^k for k drafted tokens
        accepted each with probability a until the first rejection (Leviathan, Kalman and Matias,
        ICML 2023, eq. 1, (1 - a^(k+1)) / (1 - a)); 1 without speculation."""
        k, a = self.draft_tokens, self.draft_acceptance
        return float(sum(a**j for j in range(k + 1)))


#: vLLM's batch limits by device (`vllm/engine/arg_utils.py`, `EngineArgs.get_batch_defaults`, for
#: `vllm serve`): at least 70 GiB of device memory and not an A100 ("for GPUs like H100 and MI300x")
#: gets max_num_seqs 1024 and max_num_batched_tokens 8192; other GPUs 256 and 2048.
VLLM_LARGE_DEVICE_BYTES = 70 * 2**30


FRAMEWORKS = {"tensorrt-llm": "TensorRT-LLM", "trtllm": "TensorRT-LLM", "vllm": "vLLM",
              "sglang": "SGLang"}  # fmt: skip
"""Engines a plan can name (lower-cased spelling -> name), each run with `engine_defaults`."""


def framework_name(text: Any, where: str) -> str:
    """The engine `text` names (`FRAMEWORKS`), or a one-line error for `where`."""
    name = FRAMEWORKS.get(str(text).strip().lower())
    if name is None:
        raise ConfigError(f"unknown {where} {text!r}; choose from TensorRT-LLM, vLLM, SGLang")
    return name


def engine_family(framework: str) -> str | None:
    """Which modelled engine a framework text names ("vLLM 0.6.5, ROCm 6.3.1" -> vLLM), or None."""
    fw = framework.lower()
    for key, name in (("vllm", "vLLM"), ("sglang", "SGLang"), ("tensorrt", "TensorRT-LLM"),
                      ("trt-llm", "TensorRT-LLM"), ("trtllm", "TensorRT-LLM")):  # fmt: skip
        if key in fw:
            return name
    return None


def paged_framework(framework: str) -> bool:
    """vLLM and SGLang allocate KV blocks on demand; TensorRT-LLM reserves them by default."""
    return engine_family(framework) in ("vLLM", "SGLang")


def engine_defaults(framework: str, acc: Any) -> EngineDefaults:
    """The engine's own settings on this chip, as a spec naming `framework` gets them.

    TensorRT-LLM (and an unnamed engine): `EngineDefaults`. vLLM: its batch limits by device (see
    `VLLM_LARGE_DEVICE_BYTES`). vLLM and SGLang: KV blocks on demand, 16 tokens each, and a memory
    fraction of all HBM rather than of the memory the model leaves free.
    """
    eng = EngineDefaults()
    if engine_family(framework) == "vLLM":
        large = acc.hbm_bytes >= VLLM_LARGE_DEVICE_BYTES and "a100" not in acc.id.lower()
        eng = replace(eng, max_batch=1024 if large else 256, max_num_tokens=8192 if large else 2048)
    if paged_framework(framework):
        eng = replace(eng, no_evict=False, fraction_of_free=False, kv_block_tokens=16)
    return eng


def serve_calibration_from(d: dict[str, Any]) -> ServeCalibration:
    """Build a ServeCalibration from a mapping; unknown keys are an error."""
    names = {f.name for f in fields(ServeCalibration)}
    unknown = set(d) - names
    if unknown:
        raise CatalogError(
            f"serve_calibration.yaml: unknown parameter(s) {sorted(unknown)}; allowed: {sorted(names)}"
        )
    return ServeCalibration(**d)


@cache
def default_serve_calibration() -> ServeCalibration:
    """The shipped fit (`catalogs/data/serve_calibration.yaml`), or the defaults without it."""
    from wanka.catalogs import load_data

    try:
        data = load_data("serve_calibration.yaml")
    except FileNotFoundError:
        return ServeCalibration()
    params = dict(data.get("parameters") or {})
    params["source"] = (
        f"{data.get('fitted_on', '?')}; split: {data.get('split', '?')}; date {data.get('date', '?')}"
    )
    return serve_calibration_from(params)
