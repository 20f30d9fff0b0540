"""Training frameworks: what a run spec's fields mean and what each framework overlaps.

A run spec's `framework:` selects one record below. The record says how to read the batch fields, which
communication the framework hides behind compute by default, and what it does when a field is not stated.
Every default names its source; anything the loader infers from it is listed in the run's `assumptions`.

Batch semantics (`batch`):
- `microbatch`: `micro_batch_size` is the pipeline micro-batch per data-parallel rank and
  `global_batch_size` the samples per optimizer step (Megatron `--micro-batch-size`/`--global-batch-size`,
  DeepSpeed `train_micro_batch_size_per_gpu`, llm-foundry `device_train_microbatch_size`).
- `local`: `micro_batch_size` is the batch each data-parallel rank runs per step (torchtitan
  `training.local_batch_size`); with pipeline parallelism it is cut into pipeline micro-batches of
  `parallelism.pipeline_parallel_microbatch_size` (default 1) samples.
- `per_device`: `micro_batch_size` is the batch per device (MaxText/Paxml `per_device_batch_size`), so the
  global batch is `micro_batch_size * count` whatever the layout, and one data-parallel rank (a TP group)
  runs `micro_batch_size * tp * cp` samples at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wanka.errors import ConfigError

__all__ = [
    "FA2_ON_HOPPER",
    "FA2_SLOW_CHIPS",
    "FRAMEWORKS",
    "PP_SCHEDULES",
    "Framework",
    "attention_factor",
    "framework_from_source",
    "get_framework",
]

FA2_ON_HOPPER = 1 / 1.75
"""FlashAttention-2 speed relative to the Hopper-generation kernels on H100: FlashAttention-3 is
"1.5-2.0x faster than FlashAttention-2" in BF16 forward and backward (Shah et al. 2024, arXiv 2407.08608,
abstract and section 4.1); the midpoint 1.75. Stated, not fitted."""
FA2_SLOW_CHIPS = ("h100", "h200", "h800", "h20", "gh200", "b200", "b300", "gb200", "gb300")
"""Catalog id prefixes of NVIDIA Hopper and Blackwell parts (warp-group MMA / TMA, which
FlashAttention-2 does not use); on Ampere and Ada FlashAttention-2 is the generation's kernel."""


def attention_factor(framework: str | None, accelerator_id: str) -> float:
    """Multiplier on the catalog attention efficiency for this framework's kernel on this chip."""
    if framework is None or FRAMEWORKS[framework].attention_kernel != "fa2":
        return 1.0
    return FA2_ON_HOPPER if accelerator_id.startswith(FA2_SLOW_CHIPS) else 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Framework:
    """How one training framework reads a run spec and what it overlaps by default."""

    id: str
    label: str
    tp_comm_overlap: bool
    """Hides TP/SP all-gather / reduce-scatter behind the split GEMMs by default (Transformer Engine
    userbuffers in NeMo / Megatron-Bridge recipes; MC2 matmul-communication fusion in MindSpeed)."""
    batch: Literal["microbatch", "local", "per_device"]
    """Meaning of `micro_batch_size` (module docstring)."""
    default_layout: Literal["megatron", "fsdp"]
    """Layout when the run states no parallel degree: `fsdp` = FSDP (ZeRO-3) over all devices."""
    infer_recompute: tuple[str, ...]
    """When the run states no recompute and the plan does not fit without it, the recompute settings the
    framework's published recipes fall back on, least first: the predictor picks the first that fits and
    says so (empty: never inferred). `block`: full recompute of the fewest layers per pipeline stage that
    fits (Megatron `--recompute-method block --recompute-num-layers N`)."""
    attention_kernel: Literal["vendor", "fa2"] = "vendor"
    """`vendor`: the chip generation's own fused attention (cuDNN / Transformer Engine, FlashAttention-3
    class on Hopper and Blackwell; the catalog's `software_efficiency.attention`). `fa2`: the portable
    FlashAttention-2 / Triton kernels, which run at `FA2_ON_HOPPER` of that on Hopper and later
    (`FA2_SLOW_CHIPS`)."""
    expert_gemm: Literal["per_expert", "fused"] = "fused"
    """How the MoE expert GEMMs run. `per_expert`: Transformer Engine's `GroupedLinear` (Megatron-core
    `TEGroupedMLP`, `--moe-grouped-gemm`) issues one cuBLAS GEMM per local expert, each paying
    `Calibration.moe_expert_gemm_s`. `fused`: one grouped-matmul kernel for all local experts (MaxText
    megablox, Ascend `npu_gmm` in MindSpeed, DeepGEMM in HAI-LLM, `torch._grouped_mm` in torchtitan),
    no per-expert launch."""
    pipeline_schedule: Literal["1f1b", "zb-h1", "dualpipe"] = "1f1b"
    """Pipeline schedule of the framework's published runs (`perf.step.pipeline_bubble`); `dualpipe`
    also hides the MoE all-to-all and the pipeline send/recv entirely (DeepSeek-V3 report, section
    3.2.1: "both all-to-all and PP communication can be fully hidden during execution")."""
    infer_fsdp: bool = False
    """When the stated layout is not sharded (`fsdp: none`) and cannot even hold its weights, gradients
    and optimizer states, the framework's published recipes for that case run fully sharded: the
    predictor times the layout with `fsdp: full` and says so."""
    loss_grad_bytes: float = 4.0
    """Bytes per logit of the loss gradient next to the bf16 logits (`OverlapPolicy.loss_grad_bytes`):
    4 for an fp32 cross-entropy, 2 when the framework's loss is a fused bf16 kernel."""
    source: str

    @property
    def default_fsdp(self) -> bool:
        return self.default_layout == "fsdp"


PP_SCHEDULES = ("1f1b", "zb-h1", "dualpipe")
"""Pipeline schedules a run spec may state (`parallelism.pipeline_schedule`)."""

_MEGATRON_ARGS = "Megatron-LM megatron/training/arguments.py"

FRAMEWORKS: dict[str, Framework] = {
    f.id: f
    for f in (
        Framework(
            id="megatron",
            expert_gemm="per_expert",
            label="Megatron-LM",
            tp_comm_overlap=False,
            batch="microbatch",
            default_layout="megatron",
            infer_recompute=("selective", "block"),
            source=f"{_MEGATRON_ARGS}: --tp-comm-overlap defaults off (Korthikanti et al. 2022, "
            "sec. 4.2.2, exposed TP communication); --micro-batch-size / --global-batch-size",
        ),
        Framework(
            id="nemo",
            expert_gemm="per_expert",
            label="NeMo / Megatron-Bridge",
            tp_comm_overlap=True,
            batch="microbatch",
            default_layout="megatron",
            infer_recompute=("selective", "block"),
            # Megatron-Bridge v0.3.0 scripts/performance/configs/llama/llama3_workload_base_configs.py:
            # the Llama 3 70B recipes on 64 GB200/GB300 with tp = pp = 1 (BF16, FP8-CS) all set
            # use_megatron_fsdp=True; the 26.02.01 table (docs/performance-summary-archive.md) lists
            # the GB300 FP8 row of that layout with FSDP 64 but its NVFP4 row with FSDP 0, a layout
            # whose bf16 weights and gradients alone (4 B x 70e9) exceed the GPU's 288 GB.
            infer_fsdp=True,
            source="NeMo and Megatron-Bridge performance recipes (scripts/performance) set "
            "tp_comm_overlap=True whenever tp > 1 with sequence parallelism (Transformer Engine "
            "userbuffers); recompute_modules / recompute_num_layers where the recipe does not fit; "
            "use_megatron_fsdp=True for the tp = pp = 1 layouts of models too large to replicate",
        ),
        Framework(
            id="mindspeed",
            label="MindSpeed-LLM (Megatron on Ascend)",
            tp_comm_overlap=True,
            batch="microbatch",
            default_layout="megatron",
            infer_recompute=("selective",),
            source="MindSpeed-LLM README (Ascend/MindSpeed-LLM): the published throughput table is "
            "measured with the MC2 matmul/communication fusion on (--use-mc2); Megatron batch arguments",
        ),
        Framework(
            id="mindformers",
            label="MindFormers (MindSpore)",
            tp_comm_overlap=False,
            batch="microbatch",
            default_layout="megatron",
            infer_recompute=("selective", "full"),
            source="MindFormers parallel_config (data/model/pipeline_parallel, micro_batch_num); "
            "no TP communication overlap by default",
        ),
        Framework(
            id="torchtitan",
            label="TorchTitan",
            tp_comm_overlap=False,
            batch="local",
            default_layout="fsdp",
            infer_recompute=("selective", "full"),
            source="torchtitan/config/job_config.py: training.local_batch_size per data-parallel "
            "rank, parallelism.pipeline_parallel_microbatch_size = 1, "
            "enable_async_tensor_parallel = False, data_parallel_shard_degree = -1 (FSDP2)",
        ),
        Framework(
            id="maxtext",
            label="MaxText (JAX)",
            tp_comm_overlap=False,
            batch="per_device",
            default_layout="fsdp",
            infer_recompute=("selective", "block"),
            source="AI-Hypercomputer/maxtext MaxText/configs/base.yml: per_device_batch_size, "
            "ici_fsdp_parallelism = -1 (FSDP over the slice), remat_policy: the tiering recipes pick a "
            "partial policy that fits HBM (e.g. save_dot_except_mlpwi), taken as the least share of "
            "layers recomputed that fits (block)",
        ),
        Framework(
            id="paxml",
            label="Paxml / Praxis (JAX)",
            tp_comm_overlap=False,
            batch="per_device",
            default_layout="fsdp",
            infer_recompute=("full",),
            source="google/paxml: PERCORE_BATCH_SIZE per device, ICI_MESH_SHAPE data/fsdp/tensor "
            "axes; layers rematerialised (checkpoint_policy) in the published LLM configs",
        ),
        Framework(
            id="deepspeed",
            expert_gemm="per_expert",
            label="DeepSpeed (Megatron-DeepSpeed)",
            tp_comm_overlap=False,
            batch="microbatch",
            default_layout="megatron",
            infer_recompute=("selective", "full"),
            source="DeepSpeed config: train_micro_batch_size_per_gpu, train_batch_size; "
            "no TP communication overlap",
        ),
        Framework(
            id="llm-foundry",
            label="MosaicML llm-foundry (Composer, PyTorch FSDP)",
            tp_comm_overlap=False,
            batch="microbatch",
            default_layout="fsdp",
            infer_recompute=("full",),
            attention_kernel="fa2",
            # MPT's loss defaults to `fused_crossentropy` (llmfoundry/models/mpt/modeling_mpt.py since
            # v0.1.0: `loss_fn` default 'fused_crossentropy' = flash_attn.losses.cross_entropy.
            # CrossEntropyLoss), which reads the bf16 logits and writes a bf16 gradient of the same
            # dtype (flash_attn/ops/triton/cross_entropy.py: dlogits = empty_like(logits); apex-derived
            # csrc/xentropy before 2023-09): no fp32 copy of the logits or of their gradient.
            loss_grad_bytes=2.0,
            source="mosaicml/llm-foundry scripts/train/benchmarking: device_train_microbatch_size, "
            "global_train_batch_size, fsdp_config FULL_SHARD; activation_checkpointing per row; "
            "attention through the flash-attn 2 / Triton kernels (attn_impl: flash | triton); "
            "MPT loss_fn fused_crossentropy (flash-attn's bf16 cross-entropy)",
        ),
        Framework(
            id="hai-llm",
            label="HAI-LLM (DeepSeek)",
            tp_comm_overlap=False,
            batch="microbatch",
            default_layout="megatron",
            infer_recompute=("selective",),
            pipeline_schedule="dualpipe",
            source="DeepSeek-V3 report (arXiv 2412.19437) section 3.2: DualPipe with computation/"
            "all-to-all overlap, no tensor parallelism, recompute of RMSNorm and MLA up-projections "
            "only (section 3.2.3: selective-class, never full); DeepSeek-V2 (arXiv 2405.04434, "
            "section 3.1.3) ran zero-bubble pipelines: state pipeline_schedule: zb-h1",
        ),
        Framework(
            id="other",
            expert_gemm="per_expert",
            label="other / unknown",
            tp_comm_overlap=False,
            batch="microbatch",
            default_layout="megatron",
            infer_recompute=("selective", "full"),
            source="no framework stated: Megatron field meanings, no TP communication overlap credit",
        ),
    )
}

# Substrings of a run's `source` URL that name its framework (the loader's inference when
# `framework:` is null, listed in the run's assumptions).
_SOURCE_HINTS: tuple[tuple[str, str], ...] = (
    ("megatron-bridge", "nemo"),
    ("/nemo", "nemo"),
    ("nemo", "nemo"),
    ("llm-foundry", "llm-foundry"),
    ("torchtitan", "torchtitan"),
    ("maxtext", "maxtext"),
    ("paxml", "paxml"),
    ("mindspeed", "mindspeed"),
    ("modellink", "mindspeed"),
    ("mindformers", "mindformers"),
    ("deepspeed", "deepspeed"),
    ("megatron", "megatron"),
    ("arxiv.org/abs/2205.05198", "megatron"),
)


def get_framework(name: str) -> Framework:
    """The framework record for `name`; a one-line ConfigError listing the choices otherwise."""
    key = str(name).strip().lower()
    if key in FRAMEWORKS:
        return FRAMEWORKS[key]
    raise ConfigError(f"unknown framework {name!r}; choose from {', '.join(FRAMEWORKS)}")


def framework_from_source(source: str | None) -> Framework | None:
    """The framework a run's `source` URL names, if any (first match in `_SOURCE_HINTS`)."""
    s = (source or "").lower()
    for hint, fid in _SOURCE_HINTS:
        if hint in s:
            return FRAMEWORKS[fid]
    return None
