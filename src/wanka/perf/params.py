"""Named model parameters of the step-time model: the calibration record and the overlap policy.

Two kinds of knobs live here, kept apart on purpose (docs/design.md "Calibration and honesty"):

* `Calibration` - a handful of physically meaningful efficiency constants that may be fitted on the
  TRAIN part of `shared/validation/training_runs.yaml` (split rule in `perf.validate.split_of`). Their
  values are data, in `wanka/catalogs/data/calibration.yaml`, written by `benchmarks/fit_calibration.py`.
* `OverlapPolicy` - which communication hides behind which computation. Each default states its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

from wanka.errors import CatalogError

__all__ = [
    "DEFAULT_OVERLAP",
    "Calibration",
    "HeteroCalibration",
    "OverlapPolicy",
    "calibration_from_mapping",
    "default_calibration",
    "default_hetero_calibration",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Efficiency constants of the step model (dimensionless unless the name says otherwise)."""

    gemm_half_dim: float = 96.0
    """GEMM shape curve: each GEMM dimension x contributes x / (x + gemm_half_dim) to the efficiency
    (the small-GEMM penalty: a GEMM with one dimension equal to this constant runs at half speed)."""
    gemm_tile: int = 128
    """Tile edge for tile quantisation: a dimension x is padded to ceil(x / tile) * tile (CUTLASS/cuBLAS
    Hopper/Blackwell kernels use 128-wide tiles; NVIDIA "Matrix multiplication background" guide)."""
    attention_head_dim_half: float = 32.0
    """Attention head-dim curve d / (d + c), normalised to 1 at d = 128 (FlashAttention-2 paper,
    Dao 2023, Fig. 4-7: head dim 64 runs at ~0.8x the throughput of head dim 128)."""
    moe_grouped_gemm: float = 0.85
    """Efficiency of grouped expert GEMMs relative to one dense GEMM of the same per-expert shape."""
    moe_expert_gemm_s: float = 0.0
    """Fixed time per local expert per grouped GEMM (forward fc1 and fc2; backward dgrad + wgrad doubles
    it), seconds. Transformer Engine's `GroupedLinear` (Megatron-core `TEGroupedMLP`, the MoE recipes'
    default) runs one cuBLAS GEMM per local expert (`te_general_grouped_gemm`, spread over a few CUDA
    streams), so every expert pays a launch and a partly filled last wave of tiles on top of its FLOPs:
    many small local experts (Qwen3-30B-A3B at ep 8: 16 per GPU, 768 wide) lose far more per token than a
    few large ones (Mixtral, Grok: 1-2 per GPU, 14-32k wide). Fitted."""
    moe_load_imbalance: float = 1.15
    """Tokens on the busiest expert-parallel rank over the mean (auxiliary-loss-balanced routers keep it
    near 1.1-1.2; DeepSeek-V3 tech report section 2.1.2). Capped by moe.capacity_factor when set."""
    lowp_gemm_speedup: dict[str, float] = field(
        default_factory=lambda: {"fp8": 1.5, "fp8-blockwise": 1.35, "mxfp8": 1.5, "nvfp4": 2.2}
    )
    """Effective speed-up of transformer-block GEMMs over bf16 for each low precision (the quantise/
    scale kernels and non-ideal shapes eat part of the 2x/4x peak); capped at the peak ratio."""
    ep_a2a_hidden: float = 0.3
    """Share of the MoE all-to-all hidden behind computation when `OverlapPolicy.ep_hidden` is None
    (shared-expert overlap, `--overlap-moe-expert-parallel-comm`, DeepEP in NeMo/Megatron-Bridge recipes)."""
    ep_a2a_hidden_mnnvl: float | None = None
    """Share of the MoE all-to-all hidden when the EP group lies inside a multi-node NVLink domain (GB200/
    GB300 NVL72: the scale-up domain is larger than a node). There the NeMo/Megatron-Bridge MoE recipes
    dispatch with HybridEP (`--moe-token-dispatcher-type flex --moe-flex-dispatcher-backend hybridep`):
    TMA copies on a few SMs, asynchronous at kernel level and captured in CUDA Graphs, which Megatron-LM's
    "Optimizing DeepSeek-V3 Training Performance on NVIDIA GB200 NVL72" (docs/discussions, 2025) measures
    at +113.6 TFLOPS/GPU (+14%) over DeepEP at EP32. None = `ep_a2a_hidden`. Fitted."""
    tp_comm_hidden: float = 0.0
    """Share of the TP/SP collectives hidden behind GEMMs when `OverlapPolicy.tp_hidden` is None (TE
    userbuffer overlap - bulk/pipelined all-gather and reduce-scatter overlapped with the split GEMMs - that
    NeMo/Megatron-Bridge performance recipes switch on with `tp_comm_overlap=True`)."""
    microbatch_overhead_s: float = 2e-3
    """Framework time per micro-batch per pipeline stage that no kernel model captures (launches,
    Python, synchronisation), seconds."""
    moe_layer_overhead_s: float = 0.0
    """Host-side time per MoE layer per micro-batch (forward + backward): the token dispatcher's
    device-to-host synchronisation of per-expert token counts and the extra kernel launches of routing,
    permutation and grouped GEMMs (Megatron-core `MoEAlltoAllTokenDispatcher`), seconds."""
    ssd_efficiency: float = 0.5
    """Rate of the Mamba-2 SSD chunked-scan kernels (`mamba_chunk_scan_combined`, Triton) as a share of the
    flash-attention rate (bf16 peak x software_efficiency.attention). SSD turns the scan into small batched
    matmuls of chunk length Q = 128 that use tensor cores (Dao & Gu 2024, arXiv 2405.21060, section 6); their
    Fig. 10 shows SSD about as fast as FlashAttention-2 at sequence length 2K while doing fewer FLOPs, i.e. a
    lower FLOP rate. Stated, not fitted; the scan is a few percent of a hybrid layer's FLOPs, and its time is
    never taken below the memory-bound floor of reading x, B, C, dt and writing y."""
    step_overhead_s: float = 0.05
    """Fixed time per optimizer step (gradient-norm, loss reduction, logging), seconds."""
    main_grad_bytes: float = 2.0
    """Bytes per gradient element in Megatron's contiguous grad buffer (DDP and distributed optimizer), also
    the dtype of the gradient reduce(-scatter). 2: Megatron-core `DistributedDataParallelConfig.
    grad_reduce_in_fp32` defaults to False and the Megatron-Bridge performance recipes set it False
    (`scripts/performance`, e.g. dryrun_configs/deepseek/*.yaml: `ddp.grad_reduce_in_fp32: false`).
    Set 4 for Megatron-LM, whose `arguments.py` forces fp32 accumulation/all-reduce with --bf16, for the
    Megatron-Bridge library recipes (`bf16_mixed()` sets grad_reduce_in_fp32=True) and for NeMo 1.x
    (`optim.grad_sync_dtype` fp32). Stated, not fitted."""
    allocator_margin: float = 0.05
    """Share of HBM lost to the caching allocator's fragmentation; `fits` compares against the rest."""
    runtime_reserved_bytes: float = 1.5 * 2**30
    """HBM held by the CUDA context, NCCL workspaces and cuBLAS/cuDNN workspaces, bytes."""
    source: str = "defaults (not fitted)"
    """What these values were fitted on (split, data, date)."""


def calibration_from_mapping(d: dict[str, Any]) -> Calibration:
    """Build a Calibration from a calibration.yaml `parameters` mapping; unknown keys are an error."""
    names = {f.name for f in fields(Calibration)}
    unknown = set(d) - names
    if unknown:
        raise CatalogError(
            f"calibration.yaml: unknown parameter(s) {sorted(unknown)}; allowed: {sorted(names)}"
        )
    return Calibration(**d)


@cache
def default_calibration() -> Calibration:
    """The shipped calibration (`catalogs/data/calibration.yaml`), or the dataclass defaults without it."""
    from wanka.catalogs import load_data

    try:
        data = load_data("calibration.yaml")
    except FileNotFoundError:
        return Calibration()
    params = dict(data.get("parameters") or {})
    params["source"] = (
        f"{data.get('fitted_on', 'unknown data')}; split: {data.get('split', '?')}; "
        f"date {data.get('date', '?')}"
    )
    return calibration_from_mapping(params)


@dataclass(frozen=True, slots=True, kw_only=True)
class OverlapPolicy:
    """Which communication hides behind computation. Defaults follow Megatron-LM/NeMo behaviour."""

    tp_hidden: float | None = None
    """Share of TP/SP all-gather + reduce-scatter hidden behind GEMMs; None = `Calibration.tp_comm_hidden`
    (fitted on NeMo/Megatron-Bridge recipes, which enable Transformer Engine userbuffer overlap,
    `tp_comm_overlap=True`, whenever tp > 1). 0: Megatron-LM without `--tp-comm-overlap` runs them on the
    critical path (Korthikanti et al. 2022, section 4.2.2)."""
    cp_overlap: bool = True
    """Ring-attention send/recv runs concurrently with the attention of the previous KV chunk
    (Megatron/TE context parallelism), so only the part longer than attention compute is exposed."""
    ep_hidden: float | None = None
    """Share of the MoE all-to-all hidden behind computation; None = `Calibration.ep_a2a_hidden` (fitted on
    Megatron-Bridge MoE recipes, which overlap the shared experts and, with
    `--overlap-moe-expert-parallel-comm`, the a2a of one micro-batch with another's compute). 0 puts the
    whole a2a on the critical path, as Megatron's plain a2a dispatcher does."""
    pp_hidden: float = 0.0
    """Share of pipeline send/recv hidden. 0: each micro-batch boundary's transfer is exposed."""
    pp_schedule: str = "1f1b"
    """Pipeline schedule, which sets the bubble (`perf.step.pipeline_bubble`): `1f1b` (Megatron's
    one-forward-one-backward, interleaved when vpp > 1), `zb-h1` (zero bubble, Qi et al. 2024,
    arXiv 2401.10241) or `dualpipe` (DeepSeek-V3 report, arXiv 2412.19437, section 3.2.1)."""
    dp_overlap: bool = True
    """Gradient reduce(-scatter) overlaps the last micro-batch's backward except the last bucket and the
    parameter all-gather overlaps the first forward (Megatron `--overlap-grad-reduce`,
    `--overlap-param-gather`, on in NeMo/Megatron-Bridge recipes; PyTorch DDP bucketing, Li et al. 2020)."""
    dp_bucket_params: float = 40e6
    """Parameters per gradient bucket: Megatron DDP's default bucket size (`--ddp-bucket-size`, 40M)."""
    fsdp_overlap: bool = True
    """FSDP prefetches the next layer's all-gather during the current layer's compute (PyTorch FSDP
    `forward_prefetch`/`backward_prefetch`, Zhao et al. 2023); the first layer's gather stays exposed."""
    loss_grad_bytes: float = 4.0
    """Bytes per logit of the loss gradient held next to the bf16 logits at the start of the backward
    pass (`perf.memory`). 4: an fp32 cross-entropy (Megatron-core's vocab-parallel cross-entropy on
    fp32 logits; PyTorch's `cross_entropy` under autocast). A framework with a fused bf16 cross-entropy
    sets less (`workload.frameworks.Framework.loss_grad_bytes`); carried here so that `search --run`
    applies the run's framework to every candidate, as it does the overlap credits."""


DEFAULT_OVERLAP = OverlapPolicy()
"""The default policy (a frozen value, shared as a default argument)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeteroCalibration:
    """Named constants of the heterogeneous composition (`perf.hetero`), fitted on the TRAIN split of
    validation/hetero_runs.yaml by benchmarks/fit_hetero.py (values in catalogs/data/hetero.yaml)."""

    layer_bytes_per_token: float = 0.0
    """Memory traffic per token per transformer layer (forward + backward) that the fused-kernel model
    does not see, streamed at the chip's memory bandwidth (HBM x software_efficiency.memory_bw): the
    unfused GPT layer of the pipeline engines (materialised attention scores through separate scale, mask,
    softmax and dropout kernels; separate bias, GeLU and layer-norm kernels), bytes."""
    grad_reduce_bytes: float = 4.0
    """Bytes per gradient element in the data-parallel all-reduce. 4: fp16 loss-scaled training keeps
    fp32 master gradients and reduces them in fp32 (DeepSpeed `fp32_allreduce`, Megatron-LM v1
    `--fp32-allreduce`, as in the AMP study's ds_config). Stated, not fitted."""
    source: str = "defaults (not fitted)"


@cache
def default_hetero_calibration() -> HeteroCalibration:
    """The shipped heterogeneous calibration (`wanka/catalogs/data/hetero.yaml`)."""
    from wanka.catalogs import check_keys, load_data

    try:
        d = load_data("hetero.yaml")
    except FileNotFoundError:
        return HeteroCalibration()
    params = dict(d.get("parameters") or {})
    check_keys("hetero.yaml parameters", params, {"layer_bytes_per_token", "grad_reduce_bytes"})
    return HeteroCalibration(**params, source=f"fitted on {d.get('fitted_on')} ({d.get('script')})")
