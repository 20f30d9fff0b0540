"""Serving-side facts of a model on a chip: weight formats, weights per GPU, KV-cache bytes and capacity.

Layout names (vLLM/TensorRT-LLM): one *instance* is `tp * pp` accelerators holding one copy of the
weights; attention is split over `tp`; the routed experts of an MoE layer over `ep` ranks of the TP group,
each expert's width over `etp = tp / ep` (TensorRT-LLM `moe_tp_size * moe_ep_size = tp`); `dp` instances
serve side by side. All functions broadcast over numpy arrays of layouts (array in, array out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError
from wanka.hardware import Accelerator
from wanka.serve.params import EngineDefaults
from wanka.units import leading_word
from wanka.workload.counts import param_count
from wanka.workload.model import ModelSpec

__all__ = [
    "KV_FORMATS",
    "WEIGHT_FORMATS",
    "Layouts",
    "ModelShape",
    "default_kv_precision",
    "WeightFormat",
    "kv_bytes_per_token_per_gpu",
    "kv_capacity_tokens",
    "kv_tokens_held",
    "mean_context",
    "model_shape",
    "prefill_pairs",
    "precision_name",
    "weight_format",
    "weights_bytes_per_gpu",
    "wide_ep_degrees",
]

F64 = NDArray[np.float64]
BF16_BYTES = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightFormat:
    """How a weight precision is stored and which catalog peak its GEMMs run at."""

    name: str
    bytes_per_param: float
    """Bytes per weight including block scales."""
    peaks: tuple[str, ...]
    """Catalog `peak_flops` keys it can run at, in order of preference."""
    speedup_key: str | None
    """Key of `perf.Calibration.lowp_gemm_speedup` (the achieved speed-up over bf16), None for 16-bit."""


#: Weight formats of a serving spec. fp8: one byte per weight (per-tensor/per-channel scales are
#: negligible). fp4: NVFP4 stores 4-bit values plus one fp8 scale per 16 weights = 0.5 + 1/16 bytes
#: (NVIDIA, "Introducing NVFP4", 2025); MXFP4 one E8M0 scale per 32 = 0.5 + 1/32 (OCP MX spec v1.0).
WEIGHT_FORMATS: dict[str, WeightFormat] = {
    "bf16": WeightFormat(
        name="bf16", bytes_per_param=2.0, peaks=("bf16", "fp16"), speedup_key=None
    ),
    "fp16": WeightFormat(
        name="fp16", bytes_per_param=2.0, peaks=("fp16", "bf16"), speedup_key=None
    ),
    "fp8": WeightFormat(name="fp8", bytes_per_param=1.0, peaks=("fp8",), speedup_key="fp8"),
    # fp8 with one fp32 scale per 128 x 128 weight block and 1 x 128 activation tiles (DeepSeek-V3
    # report sec. 3.3; the DeepSeek-V3/R1 and Qwen3 FP8 checkpoints, `weight_block_size` [128, 128]):
    # the scales are promoted on CUDA cores, so its GEMMs reach the training fit's `fp8-blockwise`
    # speed-up rather than per-tensor fp8's
    "fp8-blockwise": WeightFormat(
        name="fp8-blockwise",
        bytes_per_param=1.0 + 4.0 / 128**2,
        peaks=("fp8",),
        speedup_key="fp8-blockwise",
    ),
    # int8 (W8A8 SmoothQuant, vLLM-Ascend/MindIE w8a8; TensorRT-LLM int8 weight-only): one byte per
    # weight, GEMMs at the catalog int8 peak where one is listed, else at bf16 (weight-only dequant)
    "int8": WeightFormat(
        name="int8", bytes_per_param=1.0, peaks=("int8", "bf16", "fp16"), speedup_key="int8"
    ),
    "fp4": WeightFormat(
        name="fp4", bytes_per_param=0.5 + 1.0 / 16, peaks=("nvfp4", "mxfp4"), speedup_key="nvfp4"
    ),
    # MXFP4 on chips without fp4 tensor cores (Hopper, CDNA3): weight-only, dequantised to bf16 in the
    # GEMM (vLLM's Marlin/Triton MXFP4 MoE kernels that serve gpt-oss on H100 and MI300X)
    "mxfp4": WeightFormat(
        name="mxfp4",
        bytes_per_param=0.5 + 1.0 / 32,
        peaks=("mxfp4", "nvfp4", "bf16", "fp16"),
        speedup_key="nvfp4",
    ),
    # int4 weight-only (AWQ/GPTQ, W4A16): 4-bit values plus one fp16 scale per 128-weight group
    # (AutoAWQ/GPTQ default group size 128), dequantised to bf16 inside the GEMM
    "int4": WeightFormat(
        name="int4", bytes_per_param=0.5 + 2.0 / 128, peaks=("bf16", "fp16"), speedup_key=None
    ),
    # W4A8 (TensorRT-LLM/ModelOpt `W4A8_AWQ`): int4 weights in groups of 128 with their scales,
    # converted to fp8 inside the GEMM, which runs on the fp8 tensor cores; at fp8's achieved
    # speed-up (the conversion's own cost is not modelled)
    "w4a8": WeightFormat(
        name="w4a8", bytes_per_param=0.5 + 2.0 / 128, peaks=("fp8",), speedup_key="fp8"
    ),
}
#: Names published results and engines use for those formats (the lower-cased leading word): vLLM
#: `--dtype`/`--quantization`/`--kv-cache-dtype`, SGLang `--kv-cache-dtype`, TensorRT-LLM `QuantAlgo`,
#: MLPerf and vendor result tables. One byte either way: vLLM and SGLang's KV dtypes fp8_e4m3 and
#: fp8_e5m2 (and vLLM's fp8_inc, Intel Gaudi's) differ in exponent bits, not in size.
PRECISION_ALIASES: dict[str, str] = {
    "bfloat16": "bf16", "float16": "fp16", "half": "fp16", "nvfp4": "fp4",
    "fp8_e4m3": "fp8", "e4m3": "fp8", "fp8_e5m2": "fp8", "e5m2": "fp8", "fp8_inc": "fp8",
    "w8a8-fp8": "fp8", "w8a8": "int8", "w8a8-int8": "int8",
    "smoothquant": "int8", "w4a16": "int4", "awq": "int4", "gptq": "int4", "int4-awq": "int4",
    "w4a16-awq": "int4", "w4a8-awq": "w4a8", "int4-fp8": "w4a8", "auto": "bf16",
}  # fmt: skip
#: KV-cache element formats (bytes per element; fp8 KV: vLLM `kv_cache_dtype=fp8`, TRT-LLM FP8 KV).
KV_FORMATS: dict[str, float] = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


def precision_name(text: Any) -> str:
    """The format name of a precision as written in a spec ("NVFP4", "FP8 (blockwise)", "W8A8")."""
    word = leading_word(text)
    name = PRECISION_ALIASES.get(word, word)
    if name == "fp8" and "block" in str(text).lower():  # "FP8 (blockwise)", "fp8 block-scaled"
        return "fp8-blockwise"
    return name


def default_kv_precision(precision: str, accelerator: Accelerator, moe: bool = False) -> str:
    """The KV-cache format of a spec that leaves it null: fp8 for fp8/fp4 weights on chips with fp8
    (the quantised checkpoints ship an fp8 KV cache), else bf16. MXFP4 on an MoE model is gpt-oss's
    release format, whose `quantization_config` quantises the experts only (attention in bf16, no KV
    scales), so vLLM's and TensorRT-LLM's `kv_cache_dtype` "auto" keeps its KV cache in bf16; a dense
    model in MXFP4 is AMD Quark's W-MXFP4 A-MXFP4 KV-FP8 format (AMD's MLPerf Llama 2 70B and its
    Llama 3.3 70B checkpoints, `amd/Llama-2-70b-chat-hf-WMXFP4-AMXFP4-KVFP8-...`): fp8 KV."""
    fp8_weights = precision in ("fp8", "fp8-blockwise", "fp4") or (precision == "mxfp4" and not moe)
    return "fp8" if fp8_weights and accelerator.peak_flops.get("fp8") else "bf16"


def weight_format(precision: str, accelerator: Accelerator) -> tuple[WeightFormat, float, float]:
    """(format, GEMM peak FLOP/s of that format, its peak over bf16) for a weight precision on a chip."""
    try:
        wf = WEIGHT_FORMATS[precision]
    except KeyError:
        raise ConfigError(
            f"unknown serving precision {precision!r}; choose from {', '.join(WEIGHT_FORMATS)}"
        ) from None
    bf16 = accelerator.peak_flops.get("bf16") or accelerator.peak_flops.get("fp16") or 0.0
    if bf16 <= 0.0:  # attention and the bf16 parts of every format run at it
        raise ConfigError(
            f"{accelerator.id} has no bf16 or fp16 peak in the catalog; serving needs one for "
            "attention: add peak_tflops.bf16 to its entry"
        )
    for key in wf.peaks:
        if accelerator.peak_flops.get(key):
            return wf, accelerator.peak_flops[key], accelerator.peak_flops[key] / max(bf16, 1.0)
    have = sorted(
        k for k, v in WEIGHT_FORMATS.items() if any(accelerator.peak_flops.get(p) for p in v.peaks)
    )
    raise ConfigError(
        f"{accelerator.id} has no {precision} peak in the catalog; it serves {', '.join(have) or 'none'}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Layouts:
    """N candidate instance layouts, struct of arrays (see the module docstring for the names)."""

    tp: F64
    pp: F64
    ep: F64
    attention_dp: NDArray[np.bool_]
    """Attention and dense MLPs data parallel over the tp GPUs (each on its own sequences)."""

    @staticmethod
    def of(tp: Any, pp: Any = 1, ep: Any = 1, attention_dp: Any = False) -> Layouts:
        tp, pp, ep = (np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (tp, pp, ep))
        adp = np.atleast_1d(np.asarray(attention_dp, dtype=bool))
        tp, pp, ep, adp = np.broadcast_arrays(tp, pp, ep, adp)
        return Layouts(tp=tp, pp=pp, ep=ep, attention_dp=adp)

    def take(self, idx: Any) -> Layouts:
        """The layouts at `idx` (an index array; repeats allowed)."""
        return Layouts.of(self.tp[idx], self.pp[idx], self.ep[idx], self.attention_dp[idx])

    @property
    def tpa(self) -> F64:
        """Tensor-parallel degree of attention: 1 under attention data parallelism, else tp."""
        return np.where(self.attention_dp, 1.0, self.tp)

    @property
    def gpus(self) -> F64:
        return self.tp * self.pp

    def __len__(self) -> int:
        return int(self.tp.shape[0])


def wide_ep_degrees(experts: int, domain: int, limit: int) -> list[int]:
    """Instance widths beyond one scale-up domain for wide expert parallelism: whole domains
    (multiples of `domain`) up to `limit` GPUs whose expert slots, ceil(experts / width) per GPU, hold
    the routed experts with at most a quarter more as redundant copies (EPLB's: DeepSeek-V3's decode
    put 256 experts on 320 GPUs, 64 of them for redundant and shared experts, DeepSeek-V3 report
    section 3.4; SGLang's EP72 and DeepSeek's EP144 hold 288 slots, 32 redundant).

    Such an instance runs attention and dense layers data parallel on every GPU and spreads the experts
    over all of them (tp = ep, attention DP), its all-to-all crossing the scale-out network: SGLang's
    DeepSeek-V3 deployment (EP32 prefill and EP72 decode instances on H100 nodes, LMSYS blog
    2025-05-05) and DeepSeek's own inference system (EP32 prefill, EP144 decode; DeepSeek
    open-infra-index "Day 6", 2025).
    """
    if experts <= 0 or domain <= 0:
        return []
    widths = range(2 * domain, limit + 1, domain)
    return [w for w in widths if -(-experts // w) * w - experts <= experts / 4]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelShape:
    """The per-layer dimensions the serving model needs, as floats (from a ModelSpec)."""

    layers: float
    attn_layers: float
    moe_layers: float
    dense_layers: float
    hidden: float
    heads: float
    kv_heads: float
    dq: float
    """Query/key width per head (MLA: nope + rope)."""
    dv: float
    ffn: float
    gated: bool
    vocab: float
    experts: float
    top_k: float
    expert_ffn: float
    shared_ffn: float
    mla_latent: float
    """MLA: cached latent width per token per layer (kv_lora_rank + qk_rope_head_dim); 0 otherwise."""
    attn_params: float
    """Parameters of one attention block (Q/K/V/O or MLA projections)."""
    emb_params: float
    head_params: float
    total_params: float
    active_params: float
    slide_frac: float = 0.0
    """Share of the attention layers that attend to a sliding window (gpt-oss: 1/2, Mistral 7B: 1)."""
    window: float = float("inf")
    """Tokens a sliding layer attends to and keeps in its KV cache."""


def model_shape(model: ModelSpec) -> ModelShape:
    """Collect the dimensions (parameter counts from `workload.counts.param_count`, the one home)."""
    pc = param_count(model)
    moe = model.moe
    first = pc.per_layer[0]
    if model.mla is not None:
        m = model.mla
        dq, dv = float(m.qk_nope_head_dim + m.qk_rope_head_dim), float(m.v_head_dim)
        latent = float(m.kv_lora_rank + m.qk_rope_head_dim)
    else:
        dq = dv = float(model.d_head)
        latent = 0.0
    return ModelShape(
        layers=float(model.layers),
        attn_layers=float(model.attention_layers),
        moe_layers=float(model.moe_layers),
        dense_layers=float(model.dense_mlp_layers),
        hidden=float(model.hidden),
        heads=float(model.heads),
        kv_heads=float(model.kv_heads),
        dq=dq,
        dv=dv,
        ffn=float(model.ffn_hidden),
        gated=model.gated,
        vocab=float(model.vocab),
        experts=float(moe.experts) if moe else 0.0,
        top_k=float(moe.top_k) if moe else 0.0,
        expert_ffn=float(moe.expert_ffn) if moe else 0.0,
        shared_ffn=float(moe.shared_experts * moe.shared_ffn) if moe else 0.0,
        mla_latent=latent,
        attn_params=float(first.attention),
        emb_params=float(pc.embedding),
        head_params=float(pc.head),
        total_params=float(pc.total_without_mtp),
        active_params=float(pc.active_without_mtp),
        **_window(model),
    )


def _window(model: ModelSpec) -> dict[str, float]:
    """Sliding-window layers: their share of the attention layers and the window (hybrid models count
    only the '*' layers)."""
    if model.sliding_window is None:
        return {}
    kinds = model.sliding_layers
    if model.layer_pattern is not None:
        kinds = tuple(k for k, c in zip(kinds, model.layer_pattern, strict=True) if c == "*")
    if not kinds or not any(kinds):
        return {}
    return {"slide_frac": sum(kinds) / len(kinds), "window": float(model.sliding_window)}


def _mean_min(a: Any, b: Any, w: float) -> F64:
    """Mean of min(x, w) over x uniform in [a, b] (a point where a = b)."""
    a, b = _f(a), _f(b)
    lo, hi = np.minimum(a, w), np.minimum(b, w)
    # integral of min(x, w) from a to b: (hi^2 - lo^2) / 2 below the window, w per token above it
    area = (hi * hi - lo * lo) / 2.0 + w * (b - np.maximum(a, w)).clip(min=0.0)
    span = b - a
    return np.where(span > 0, area / np.where(span > 0, span, 1.0), np.minimum(a, w))


def kv_tokens_held(s: ModelShape, length: Any) -> F64:
    """KV a sequence of `length` tokens holds, in tokens of every attention layer: a sliding layer
    keeps only its last `window` tokens (vLLM's hybrid KV cache manager frees blocks that leave the
    window, `SlidingWindowSpec`; TensorRT-LLM's per-layer `max_attention_window`)."""
    n = _f(length)
    if not s.slide_frac:
        return n
    return (1.0 - s.slide_frac) * n + s.slide_frac * np.minimum(n, s.window)


def mean_context(s: ModelShape, start: Any, span: Any) -> F64:
    """Mean keys per attention layer read by a decode step whose context runs from `start` to
    `start + span` over the steps (a request's decode phase): start + span / 2 without windows."""
    a, b = _f(start), _f(start) + _f(span)
    if not s.slide_frac:
        return (a + b) / 2.0
    return (1.0 - s.slide_frac) * (a + b) / 2.0 + s.slide_frac * _mean_min(a, b, s.window)


def prefill_pairs(s: ModelShape, done: Any, chunk: Any) -> F64:
    """Query-key pairs per attention layer of a prompt chunk of `chunk` tokens after `done` cached
    ones, causal: chunk * (done + chunk / 2); a sliding layer's query sees at most `window` keys."""
    d, c = _f(done), _f(chunk)
    full = c * (d + c / 2.0)
    if not s.slide_frac:
        return full
    return (1.0 - s.slide_frac) * full + s.slide_frac * c * _mean_min(d, d + c, s.window)


def _f(x: Any) -> F64:
    return np.asarray(x, dtype=np.float64)


def weights_bytes_per_gpu(s: ModelShape, wf: WeightFormat, lay: Layouts) -> F64:
    """Weight bytes on the busiest GPU of an instance.

    Transformer blocks in `wf`; embedding and LM head kept in bf16 (NVIDIA's quantised checkpoints and
    vLLM/TensorRT-LLM leave them unquantised), split over `tp` (vocab-parallel). Layers are spread over
    `pp` stages (the first stage holds the embedding, the last the head; the busier one counts). Routed
    experts are split over the `ep` ranks and each expert's width over `etp = tp / ep`. Under attention
    data parallelism the attention and dense weights are whole on every GPU.
    """
    tp, pp, ep, tpa = lay.tp, lay.pp, lay.ep, lay.tpa
    ng = 3.0 if s.gated else 2.0
    experts = s.moe_layers * s.experts * ng * s.hidden * s.expert_ffn
    rest = s.total_params - s.emb_params - s.head_params - experts
    per_stage = np.ceil(s.layers / pp) / s.layers
    per_rank = np.where(ep >= tp, np.ceil(s.experts / ep) / max(s.experts, 1.0), 1.0 / tp)
    blocks = (rest / tpa + experts * per_rank) * per_stage * wf.bytes_per_param
    ends = np.where(pp > 1, np.maximum(s.emb_params, s.head_params), s.emb_params + s.head_params)
    return blocks + ends * BF16_BYTES / tpa


def kv_bytes_per_token_per_gpu(s: ModelShape, kv_bytes: float, tp: Any, pp: Any) -> F64:
    """KV-cache bytes one token adds on one GPU of an instance.

    GQA/MHA: K and V for the GPU's KV heads, ceil(kv_heads / tp) of them (KV heads are replicated when
    tp > kv_heads, as vLLM and TensorRT-LLM do), on ceil(attention layers / pp) layers. MLA: the compressed
    latent (kv_lora_rank + qk_rope_head_dim) per layer, held whole by every TP rank (vLLM MLA backend).
    vLLM v1 `FullAttentionSpec.page_size_bytes = 2 * block_size * num_kv_heads * head_size * dtype_size`
    per layer; MLA: `MLAAttentionSpec` drops the factor 2 and uses the latent width.
    """
    tp, pp = _f(tp), _f(pp)
    layers = np.ceil(s.attn_layers / pp)
    if s.mla_latent:
        per_layer = s.mla_latent * kv_bytes + 0.0 * tp
    else:
        per_layer = 2.0 * np.ceil(s.kv_heads / tp) * s.dq * kv_bytes
    return layers * per_layer


def activation_workspace_bytes(s: ModelShape, tp: Any, eng: EngineDefaults) -> F64:
    """Peak activation memory of one iteration per GPU: `max_num_tokens` rows of the widest
    intermediate (hidden in/out, QKV, MLP up-projection) in bf16 plus fp32 logits of `max_batch` rows."""
    tp = _f(tp)
    ng = 2.0 if s.gated else 1.0
    width = 4.0 * s.hidden + ng * max(s.ffn, s.expert_ffn * max(s.top_k, 1.0)) / tp
    return eng.max_num_tokens * width * BF16_BYTES + eng.max_batch * s.vocab / tp * 4.0


def kv_capacity_tokens(
    s: ModelShape,
    acc: Accelerator,
    wf: WeightFormat,
    kv_bytes: float,
    lay: Layouts,
    eng: EngineDefaults,
) -> tuple[F64, F64]:
    """(KV-cache tokens one instance holds, KV pool bytes per GPU), paged.

    Pool per GPU: vLLM (`vllm/v1/core/kv_cache_utils.py`)
    `available = hbm * gpu_memory_utilization - weights - peak activations - non-torch memory`;
    TensorRT-LLM `free_gpu_memory_fraction * (hbm - weights - activations - runtime)` (the fraction
    of the memory left free, `EngineDefaults.fraction_of_free`). Block arithmetic as vLLM's:
    `num_blocks = available // (page_size_bytes * num_layers)`; tokens = num_blocks * block_size.
    Negative pools give 0 tokens (the model does not fit). Under attention data parallelism each of the
    tp GPUs holds whole KV heads for its own sequences, so the instance holds tp times one GPU's tokens.
    """
    per_tok = kv_bytes_per_token_per_gpu(s, kv_bytes, lay.tpa, lay.pp)
    held = (
        weights_bytes_per_gpu(s, wf, lay)
        + activation_workspace_bytes(s, lay.tpa, eng)
        + eng.runtime_reserved_bytes
    )
    if eng.fraction_of_free:
        pool = eng.gpu_memory_utilization * np.maximum(acc.hbm_bytes - held, 0.0)
    else:
        pool = np.maximum(acc.hbm_bytes * eng.gpu_memory_utilization - held, 0.0)
    block = eng.kv_block_tokens * per_tok
    blocks = np.floor(pool / np.maximum(block, 1.0))
    return blocks * eng.kv_block_tokens * (lay.tp / lay.tpa), pool
