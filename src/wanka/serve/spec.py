"""The serving spec (DESIGN.md "Serving spec"): one translation point from a user mapping to `ServeSpec`.

Blocks: `model` (as in a run spec, plus `attention` and `active_params_b`), `hardware`, `serving`,
`workload`, optional `constraints` and `measured` (ignored here). Free text the published sources use is
read by its leading word ("infinite (all requests queued)" -> inf, "server (note)" -> server); a length
given as text is read from "mean N", from a dataset named in `catalogs/data/serve_datasets.yaml`, or
from the one standalone number it holds ("1024 (fixed)", "ISL 1,000", "8k" = 8,192).
Unknown keys inside the known blocks are errors (with the nearest key suggested); other top-level keys
(`source`, `notes`, `derived`, ...) are descriptive and kept, except a block's own key standing beside
its block (`scenario: server` next to `workload:`), which is refused rather than silently unused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError, WankaError
from wanka.hardware import Accelerator
from wanka.serve.lengths import lengths_note, read_length
from wanka.serve.model import (
    KV_FORMATS,
    WEIGHT_FORMATS,
    default_kv_precision,
    precision_name,
    weight_format,
)
from wanka.serve.params import EngineDefaults, engine_defaults, engine_family, paged_framework
from wanka.spec import model_from_mapping, read_spec_file
from wanka.units import difflib_closest, leading_word
from wanka.userfile import check_count
from wanka.workload.model import ModelSpec
from wanka.workload.presets import resolve_id

__all__ = [
    "SCENARIOS", "ServeError", "ServeSpec", "load_serve_specs", "parse_serve_spec", "parse_speculation",
    "with_speculation",
]  # fmt: skip

SCENARIOS = ("offline", "server", "interactive", "fixed-batch")
SCHEDULER_POLICIES = {  # spelling -> reserve the whole request at admission
    "guaranteed_no_evict": True, "no_evict": True, "max_utilization": False, "max_util": False,
}  # fmt: skip
_HW = {"accelerator", "count", "system", "gpus_per_node"}
_SERVING = {
    "framework", "version", "precision", "kv_precision", "tp", "pp", "ep", "dp", "disaggregated",
    "prefill_instances", "decode_instances", "max_batch", "max_num_tokens", "kv_block_tokens",
    "gpu_memory_utilization", "attention_dp", "scheduler_policy", "speculative",
}  # fmt: skip
#: speculative decoding with a one-layer draft head (vLLM `speculative_config.method`, SGLang
#: `--speculative-algorithm`, TensorRT-LLM `decoding_type`): spelling -> needs the model's MTP modules
DRAFT_METHODS = {"mtp": True, "deepseek_mtp": True, "nextn": True, "eagle": False, "eagle3": False}
_SPECULATIVE = {"method", "tokens", "num_speculative_tokens", "acceptance"}
_WORKLOAD = {
    "scenario", "input_len", "output_len", "batch_size", "request_rate", "concurrency", "requests",
    "seed",
}  # fmt: skip
_CONSTRAINTS = {"ttft_ms", "tpot_ms", "percentile"}
_MODEL_EXTRA = {"attention", "notes_arch"}  # descriptive in a serving spec's model block
# block keys that may also stand at the top level as description (a system name, a framework note)
_DESCRIPTIVE = {"system", "framework", "version", "seed", "requests"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeSpec:
    """One serving deployment and workload, resolved (SI units; None = not stated)."""

    id: str | None
    model: ModelSpec
    accelerator: Accelerator
    count: int
    framework: str
    precision: str
    kv_precision: str
    tp: int | None
    pp: int | None
    ep: int | None
    dp: int | None
    attention_dp: bool | None
    """Attention data parallel inside an instance (None: decided with the layout, see predict)."""
    disaggregated: bool
    prefill_instances: int | None
    decode_instances: int | None
    scenario: str
    input_len: float
    output_len: float
    length_dataset: str | None = None
    """Dataset whose (input, output) sample the server simulation draws lengths from (None: every
    request at the mean lengths); see `serve.lengths.request_lengths`."""
    batch_size: int | None
    request_rate: float | None
    """Requests per second of the whole deployment; inf = all queued (offline)."""
    concurrency: int | None
    requests: int
    seed: int
    ttft_ms: float | None
    tpot_ms: float | None
    percentile: str
    engine: EngineDefaults
    params_b: float | None = None
    measured: dict[str, Any] | None = None
    """The `measured` block, untouched (used by `serve validate`, ignored by predict)."""
    source: str | None = None
    assumptions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_slo(self) -> bool:
        return self.ttft_ms is not None or self.tpot_ms is not None

    @property
    def closed_loop(self) -> bool:
        """Clients keep `concurrency` requests in flight (no finite rate stated; not a fixed batch)."""
        open_rate = self.request_rate is not None and math.isfinite(self.request_rate)
        return self.concurrency is not None and self.scenario != "fixed-batch" and not open_rate


@dataclass(frozen=True, slots=True)
class ServeError:
    """A spec that could not be read; `error` is one line meant for the user."""

    id: str | None
    error: str


def _block(where: str, d: Any, allowed: set[str]) -> dict[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(d).__name__}")
    for k in d:
        if k not in allowed:
            hint = difflib_closest(str(k), sorted(allowed))
            raise ConfigError(f"{where}: unknown key {k!r}{hint}")
    return d


def _pos_int(where: str, v: Any, *, allow_none: bool = True) -> int | None:
    if v is None and allow_none:
        return None
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or not math.isfinite(v)
        or v != int(v)
    ):
        raise ConfigError(f"{where} must be a positive integer, got {v!r}")
    if v <= 0:
        raise ConfigError(f"{where} must be positive, got {v!r}")
    return int(v)


def _leading(v: Any) -> Any:
    """A rate written with its unit ("100 req/s", "12.5 QPS"): its leading number; other values
    unchanged (per minute or per hour is not read as per second)."""
    if not isinstance(v, str) or re.search(r"min|hour|/\s*h\b", v.lower()):
        return v
    m = re.match(r"\s*~?\s*([0-9]+(?:\.[0-9]+)?)(?![0-9.])", v)
    if m is None:
        return v
    x = float(m.group(1))
    return int(x) if x == int(x) else x


def _rate(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise ConfigError(f"workload.request_rate must be a number, got {v!r}")
    if isinstance(v, (int, float)):
        if math.isnan(v) or v <= 0:
            raise ConfigError(f"workload.request_rate must be positive, got {v!r}")
        return float(v)
    if leading_word(v) in ("infinite", "inf", "unlimited", "max"):
        return math.inf
    lead = _leading(v)
    if not isinstance(lead, str):
        return _rate(lead)
    raise ConfigError(f"workload.request_rate: cannot read {v!r}; give requests/s or 'infinite'")


def _model(
    d: Any, base_dir: Path | None, notes: list[str], seq: int
) -> tuple[ModelSpec, float | None]:
    if isinstance(d, str):
        d = {"preset": d}
    if not isinstance(d, dict):
        raise ConfigError("model must be a mapping (or a preset id)")
    d = _preset_by_name({k: v for k, v in d.items() if k not in _MODEL_EXTRA}, notes)
    params_b = d.get("params_b")
    if d.get("seq_len") is None:
        d["seq_len"] = seq
    first: list[str] = []
    try:
        model: ModelSpec | None = model_from_mapping(dict(d), base_dir=base_dir, assumptions=first)
    except ConfigError as e:
        if "give head_dim" not in str(e):
            raise
        model = None
    if d.get("head_dim") is None and (model is None or model.head_dim is None):
        model = _head_dim(d, model, base_dir, first)
    notes.extend(first)
    assert model is not None
    return model, params_b


def _preset_by_name(d: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """A model block short of a shape (no layers, hidden or heads, no preset or hf_config) whose name
    is a preset's or a published checkpoint's of one takes that preset; stated fields still apply."""
    name = d.get("name")
    short = any(d.get(k) is None for k in ("layers", "hidden", "heads"))
    if not short or not isinstance(name, str) or {"preset", "hf_config"} & d.keys():
        return d
    try:
        pid = resolve_id(name)
    except WankaError as e:
        if all(d.get(k) is None for k in ("layers", "hidden", "heads")):
            raise ConfigError(
                f"model: layers, hidden, heads required, or a preset's name: {e}"
            ) from None
        return d
    notes.append(f"model.name {name!r} without a full shape: preset {pid}")
    return {**d, "preset": pid}


#: head sizes of published decoder LLMs: 64 (GPT-3, Llama 3.2 1B), 128 (Llama, Mixtral, Qwen3, GLM-4.5),
#: 256 (Gemma); hidden / heads is often none of them (Qwen3-32B: 5120 / 64 = 80, its head is 128)
HEAD_DIMS = (64, 128, 256)


def _head_dim(
    d: dict[str, Any], model: ModelSpec | None, base_dir: Path | None, notes: list[str]
) -> ModelSpec:
    """A model block without head_dim that no preset fills. The base guess is hidden / heads when
    whole, else 128; another of HEAD_DIMS replaces it only when the stated parameters point clearly to
    it (within 3%, and less than half the base guess's error): active_params_b for an MoE model (its
    attention is a large share of the active parameters, a small one of the total), else params_b."""
    if model is not None and (model.mla is not None or math.isinf(_count_error(model, d))):
        return model  # MLA has its own head sizes; with no stated count nothing points elsewhere
    tries = {c: model_from_mapping({**d, "head_dim": c}, base_dir=base_dir) for c in HEAD_DIMS}
    base = model if model is not None else tries[128]
    err = {c: _count_error(m, d) for c, m in tries.items()}
    best = min(err, key=err.__getitem__)
    if err[best] < min(0.03, 0.5 * _count_error(base, d)):
        how, pick = "its parameter count matches the stated one", best
    elif model is None:
        how, pick = "the common head size", 128
    else:
        return model
    why = "not whole" if model is None else f"{model.hidden // model.heads}"
    notes.append(f"model.head_dim null (hidden / heads: {why}): {pick}, {how}")
    return tries[pick]


def _count_error(m: ModelSpec, d: dict[str, Any]) -> float:
    """|counted / stated - 1| of the active (MoE, when stated) or total parameters; inf unstated."""
    from wanka.workload.counts import param_count

    pc = param_count(m)
    active, total = d.get("active_params_b"), d.get("params_b")
    if m.moe is not None and isinstance(active, (int, float)) and active > 0:
        return abs((pc.active - pc.mtp_active) / (active * 1e9) - 1)
    if isinstance(total, (int, float)) and total > 0:
        return abs(pc.total_without_mtp / (total * 1e9) - 1)
    return math.inf


def _moe_interleave(model: ModelSpec, params_b: Any, notes: list[str]) -> ModelSpec:
    """Infer interleaved dense layers when the stated total is well below an all-MoE count."""
    from wanka.workload.counts import param_count

    if model.moe is None or not isinstance(params_b, (int, float)) or model.layer_pattern:
        return model
    total = param_count(model).total_without_mtp
    if total <= 1.15 * params_b * 1e9:
        return model
    ng = 3 if model.gated else 2
    h = model.hidden
    per_moe = ng * h * (model.moe.experts * model.moe.expert_ffn) + h * model.moe.experts
    per_dense = ng * h * model.ffn_hidden
    extra = (total - params_b * 1e9) / max(per_moe - per_dense, 1)
    dense = min(model.layers - 1, max(0, round(extra)))
    if dense <= 0:
        return model
    notes.append(
        f"model: {total / 1e9:.0f}B parameters with every layer MoE but params_b = {params_b}; "
        f"{dense} of {model.layers} layers taken as dense MLPs (interleaved MoE)"
    )
    return replace(model, moe=replace(model.moe, dense_layers=int(dense)))


def _hardware(hw: dict[str, Any]) -> tuple[Accelerator, int]:
    if not hw.get("accelerator"):
        raise ConfigError("hardware.accelerator is required (an id from `wanka catalog list`)")
    acc = get_accelerator(str(hw["accelerator"]))
    count = _pos_int("hardware.count", hw.get("count"), allow_none=False)
    assert count is not None  # allow_none=False raises instead
    return acc, check_count("hardware.count", count)


#: scenario words of published tables: vLLM/SGLang "online" serving and trtllm-bench's "throughput"
#: and "latency" modes (the latter a fixed batch, its size stated); "max throughput" (MLPerf's name
#: for Offline) and a "concurrency" sweep point (vLLM `benchmark_serving --max-concurrency`, SGLang
#: `bench_serving`: a closed loop of that many requests, the offline scenario with `concurrency`)
SCENARIO_WORDS = {"online": "server", "streaming": "server", "throughput": "offline",
                  "max": "offline", "max-throughput": "offline", "concurrency": "offline",
                  "latency": "fixed-batch", "static": "fixed-batch"}  # fmt: skip


def _scenario(wl: dict[str, Any]) -> str:
    text = re.sub(r"fixed[\s_]+batch", "fixed-batch", str(wl.get("scenario") or "offline").lower())
    scenario = SCENARIO_WORDS.get(leading_word(text), leading_word(text))
    if scenario not in SCENARIOS:
        raise ConfigError(
            f"workload.scenario {wl.get('scenario')!r}: choose from {', '.join(SCENARIOS)}"
            + difflib_closest(scenario, SCENARIOS)
        )
    return scenario


def _disaggregated(sv: dict[str, Any], notes: list[str]) -> bool:
    """`serving.disaggregated` (a boolean, the schema's check); left out or null with prefill/decode
    instance numbers stated, a disaggregated deployment (noted)."""
    v = sv.get("disaggregated")
    pools = sv.get("prefill_instances") is not None or sv.get("decode_instances") is not None
    if v is None and pools:
        notes.append("serving.disaggregated null: prefill/decode instance numbers are stated, so the "
                     "deployment is disaggregated")  # fmt: skip
    return bool(v) if v is not None else pools


def _formats(sv: dict[str, Any], acc: Accelerator, moe: bool, notes: list[str]) -> tuple[str, str]:
    """(weight precision, KV-cache precision), checked against the chip's catalog peaks."""
    raw = sv.get("precision")
    precision = precision_name(raw or "bf16")
    if raw is None:
        notes.append("serving.precision null: bf16")
    elif precision != str(raw).strip().lower():
        notes.append(f"serving.precision {raw!r} read as {precision}")
    if precision not in WEIGHT_FORMATS:
        raise ConfigError(
            f"unknown serving precision {precision!r}; choose from {', '.join(WEIGHT_FORMATS)}"
        )
    wf, _, ratio = weight_format(precision, acc)  # raises when the chip lacks the format
    used = next(k for k in wf.peaks if acc.peak_flops.get(k))
    if precision in ("int8", "mxfp4") and used in ("bf16", "fp16"):
        notes.append(
            f"serving.precision {precision}: {acc.id} has no {precision} peak in the catalog; "
            f"{wf.bytes_per_param:g}-byte weights, GEMMs at the {used} peak (weight-only "
            f"{precision}, x{ratio:.1f})"
        )
    kvp = sv.get("kv_precision")
    if kvp is not None and str(kvp).strip().lower() == "auto":  # vLLM kv_cache_dtype: the default
        kvp = None
    if kvp is None:
        kvp = default_kv_precision(precision, acc, moe)
        notes.append(
            f"serving.kv_precision null: {kvp} (quantised checkpoints ship an fp8 KV cache)"
            if kvp == "fp8"
            else "serving.kv_precision null: bf16"
        )
    kvp = precision_name(kvp)
    if kvp not in KV_FORMATS:
        raise ConfigError(f"unknown kv_precision {kvp!r}; choose from {', '.join(KV_FORMATS)}")
    return precision, kvp


def mlperf_result(source: str | None) -> bool:
    """Whether a spec's source is an MLPerf Inference submission (mlcommons `inference_results_v*`)."""
    src = (source or "").lower()
    return "mlcommons" in src and "inference_results" in src


def _engine(
    sv: dict[str, Any], acc: Accelerator, source: str | None, notes: list[str]
) -> tuple[EngineDefaults, str]:
    """(engine settings, framework name): stated values over the engine's own defaults
    (`params.engine_defaults`). An MLPerf submission served by TensorRT-LLM ran NVIDIA's MLPerf LLM
    harness, whose `trtllm_batch_sched_policy` defaults to `max_util` (MAX_UTILIZATION; mlcommons
    `inference_results_v4.1`/`v5.0`, `closed/NVIDIA/code/harness/harness_llm/main_llm.cc`), not
    TensorRT-LLM's own GUARANTEED_NO_EVICT."""
    framework = str(sv.get("framework") or "unspecified")
    eng = engine_defaults(framework, acc)
    if engine_family(framework) is None:
        stated = (
            f"{framework!r} is none of TensorRT-LLM, vLLM, SGLang"
            if sv.get("framework")
            else "null"
        )
        notes.append(f"serving.framework {stated}: TensorRT-LLM's engine settings")
    if sv.get("scheduler_policy") is None and mlperf_result(source) and eng.no_evict:
        eng = replace(eng, no_evict=False)
        notes.append(
            "serving.scheduler_policy null: max_utilization, the default of NVIDIA's MLPerf LLM "
            "harness (harness_llm trtllm_batch_sched_policy max_util)"
        )
    ints = {k: _pos_int(f"serving.{k}", sv[k]) for k in ("max_batch", "max_num_tokens",
            "kv_block_tokens") if sv.get(k) is not None}  # fmt: skip
    eng = replace(
        eng,
        max_batch=ints.get("max_batch") or eng.max_batch,
        max_num_tokens=ints.get("max_num_tokens") or eng.max_num_tokens,
        kv_block_tokens=ints.get("kv_block_tokens") or eng.kv_block_tokens,
    )
    if sv.get("gpu_memory_utilization") is not None:
        u = sv["gpu_memory_utilization"]
        if not isinstance(u, (int, float)) or not 0.0 < u <= 1.0:
            raise ConfigError(f"serving.gpu_memory_utilization must be in (0, 1], got {u!r}")
        eng = replace(eng, gpu_memory_utilization=float(u))
    if sv.get("scheduler_policy") is not None:
        eng = replace(eng, no_evict=_no_evict(sv["scheduler_policy"], framework))
    return eng, framework


def _speculative(sv: dict[str, Any], model: ModelSpec, eng: EngineDefaults, notes: list[str]):
    """`serving.speculative` on the engine settings (see `with_speculation`)."""
    if sv.get("speculative") is None:
        return eng
    return with_speculation(sv["speculative"], model, eng, notes)


def parse_speculation(text: str) -> dict[str, Any]:
    """`serve plan --speculative METHOD:TOKENS:ACCEPTANCE` ("mtp:1:0.85") as a speculative block."""
    parts = [x.strip() for x in str(text).split(":")]
    try:
        if len(parts) != 3:
            raise ValueError
        return {"method": parts[0], "tokens": int(parts[1]), "acceptance": float(parts[2])}
    except ValueError:
        raise ConfigError(
            f"--speculative {text!r}: write METHOD:TOKENS:ACCEPTANCE, e.g. mtp:1:0.85"
        ) from None


def with_speculation(
    d: Any,
    model: ModelSpec,
    eng: EngineDefaults,
    notes: list[str],
    where: str = "serving.speculative",
) -> EngineDefaults:
    """`{method, tokens, acceptance}` (speculative decoding with a one-layer draft head) on the engine
    settings; stated, never defaulted: acceptance depends on the model, the draft and the data."""
    d = _block(where, d, _SPECULATIVE)
    method = str(d.get("method") or "").strip().lower()
    if method not in DRAFT_METHODS:
        raise ConfigError(
            f"{where}.method {d.get('method')!r}: choose from mtp, nextn, eagle, eagle3 "
            "(one-layer draft heads; a separate draft model is not modelled)"
        )
    if DRAFT_METHODS[method] and not model.mtp_layers:
        raise ConfigError(f"{where}.method {method}: {model.name} has no MTP modules; use eagle")
    k = _pos_int(f"{where}.tokens", d.get("tokens") or d.get("num_speculative_tokens"))
    a = d.get("acceptance")
    if k is None or k > 16:
        raise ConfigError(f"{where}.tokens: give the drafted tokens per step, 1 to 16")
    if not isinstance(a, (int, float)) or isinstance(a, bool) or not 0.0 < a <= 1.0:
        raise ConfigError(
            f"{where}.acceptance must be in (0, 1], got {a!r} (the share of drafted "
            "tokens accepted; DeepSeek-V3 reports 0.85-0.9 for its MTP module, report sec. 5.4.3)"
        )
    eng = replace(eng, draft_tokens=k, draft_acceptance=float(a))
    notes.append(
        f"{where}: {method}, {k} drafted token(s) per step at acceptance {a:g}: "
        f"{eng.tokens_per_step:.2f} tokens per decode step (Leviathan et al. 2023, i.i.d. "
        f"acceptance); each pass verifies {k + 1} tokens per sequence, then {k} one-layer draft "
        "pass(es)"
    )
    return eng


def _no_evict(policy: Any, framework: str) -> bool:
    """`serving.scheduler_policy`: TensorRT-LLM's `CapacitySchedulerPolicy`, GUARANTEED_NO_EVICT
    (reserve input + output at admission) or MAX_UTILIZATION (blocks on demand, pausing the newest
    request when the pool runs out); vLLM/SGLang only allocate on demand."""
    key = str(policy).strip().lower().replace("-", "_")
    if key not in SCHEDULER_POLICIES:
        raise ConfigError(
            f"unknown serving.scheduler_policy {policy!r}; choose from guaranteed_no_evict, "
            "max_utilization"
        )
    no_evict = SCHEDULER_POLICIES[key]
    if no_evict and paged_framework(framework):
        raise ConfigError(
            f"serving.scheduler_policy {policy!r}: {framework} allocates KV blocks on demand; "
            "drop the key or write max_utilization"
        )
    return no_evict


def _limits(cs: dict[str, Any]) -> tuple[float | None, float | None, str]:
    """(p-th percentile TTFT limit ms, TPOT limit ms, percentile)."""
    out: list[float | None] = []
    for name in ("ttft_ms", "tpot_ms"):
        v = cs.get(name)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0):
            raise ConfigError(
                f"constraints.{name} must be a positive number of milliseconds, got {v!r}"
            )
        out.append(None if v is None else float(v))
    return out[0], out[1], str(cs.get("percentile") or "p99")


def _misplaced(d: dict[str, Any]) -> None:
    """A top-level key that belongs inside a block (`scenario: server` beside `workload:`) would be kept
    as description and silently not used: refuse it, naming its block."""
    blocks = (("workload", _WORKLOAD), ("serving", _SERVING), ("hardware", _HW),
              ("constraints", _CONSTRAINTS))  # fmt: skip
    for k in set(d) - _DESCRIPTIVE:
        for name, keys in blocks:
            block = d.get(name)
            if k in keys and not (isinstance(block, dict) and k in block):
                raise ConfigError(f"`{k}` belongs inside `{name}:` (e.g. {name}: {{{k}: ...}})")


def parse_serve_spec(d: Any, *, base_dir: Path | None = None) -> ServeSpec:
    """Parse and check one serving spec mapping; raises a WankaError with a one-line message."""
    if not isinstance(d, dict):
        raise ConfigError(f"a serving spec must be a mapping, got {type(d).__name__}")
    from wanka.schemas import check_input

    d = check_input(
        "serve", d
    )  # unknown keys, wrong types; numbers as `schemas.as_number` reads them
    for k in ("model", "hardware", "workload"):
        if k not in d:
            raise ConfigError(
                f"a serving spec needs `model`, `hardware` and `workload` (missing {k})"
            )
    _misplaced(d)
    notes: list[str] = []
    sv = _block("serving", d.get("serving"), _SERVING)
    wl = _block("workload", d["workload"], _WORKLOAD)
    acc, count = _hardware(_block("hardware", d["hardware"], _HW))
    ttft, tpot, pct = _limits(_block("constraints", d.get("constraints"), _CONSTRAINTS))
    scenario = _scenario(wl)
    mname = str(d["model"].get("name", "")) if isinstance(d["model"], dict) else str(d["model"])
    isl, ds_in = read_length("workload.input_len", wl.get("input_len"), "input", notes, mname)
    # the output length's dataset is the one the prompts come from (named by input_len or the model)
    osl, ds_out = read_length(
        "workload.output_len", wl.get("output_len"), "output", notes,
        f"{mname} {wl.get('input_len') if isinstance(wl.get('input_len'), str) else ''}",
    )  # fmt: skip
    lengths = lengths_note(ds_in or ds_out, isl, osl, notes)
    model, params_b = _model(d["model"], base_dir, notes, int(isl + osl))
    model = _moe_interleave(model, params_b, notes)
    precision, kvp = _formats(sv, acc, model.moe is not None, notes)
    src = None if d.get("source") is None else str(d["source"])
    eng, framework = _engine(sv, acc, src, notes)
    eng = _speculative(sv, model, eng, notes)
    spec = ServeSpec(
        id=None if d.get("id") is None else str(d["id"]),
        model=model, accelerator=acc, count=count, framework=framework, precision=precision,
        kv_precision=kvp,
        tp=_pos_int("serving.tp", sv.get("tp")),
        pp=_pos_int("serving.pp", sv.get("pp")),
        ep=_pos_int("serving.ep", sv.get("ep")),
        dp=_pos_int("serving.dp", sv.get("dp")),
        attention_dp=None if sv.get("attention_dp") is None else bool(sv["attention_dp"]),
        disaggregated=_disaggregated(sv, notes),
        prefill_instances=_pos_int("serving.prefill_instances", sv.get("prefill_instances")),
        decode_instances=_pos_int("serving.decode_instances", sv.get("decode_instances")),
        scenario=scenario, input_len=isl, output_len=osl, length_dataset=lengths,
        batch_size=_pos_int("workload.batch_size", wl.get("batch_size")),
        request_rate=_rate(wl.get("request_rate")),
        concurrency=_pos_int("workload.concurrency", wl.get("concurrency")),
        requests=_pos_int("workload.requests", wl.get("requests")) or 1000,
        seed=int(wl.get("seed") or 0),
        ttft_ms=ttft, tpot_ms=tpot, percentile=pct, engine=eng,
        params_b=params_b if isinstance(params_b, (int, float)) else None,
        measured=d.get("measured") if isinstance(d.get("measured"), dict) else None,
        source=src,
        assumptions=tuple(notes),
    )  # fmt: skip
    if scenario == "fixed-batch" and spec.batch_size is None:
        raise ConfigError("workload.batch_size is required for the fixed-batch scenario")
    return spec


def load_serve_specs(path: str | Path) -> list[ServeSpec | ServeError]:
    """Read a serving-spec file (one mapping or a list); each spec parses on its own, errors per spec."""
    data = read_spec_file(path)
    if data is None or data == []:
        empty = "the file is empty" if data is None else "the file holds an empty list"
        raise ConfigError(f"{path}: {empty}; give one serving spec or a list of them")
    items = data if isinstance(data, list) else [data]
    out: list[ServeSpec | ServeError] = []
    for i, d in enumerate(items):
        sid = d.get("id") if isinstance(d, dict) else None
        try:
            out.append(parse_serve_spec(d, base_dir=Path(path).parent))
        except WankaError as e:
            out.append(ServeError(None if sid is None else str(sid), str(e) or type(e).__name__))
        except (TypeError, ValueError, AttributeError) as e:
            out.append(ServeError(None if sid is None else str(sid), f"spec {i + 1}: {e}"))
    return out
