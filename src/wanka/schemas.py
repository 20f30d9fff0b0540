"""One schema for the four input files: run spec, centre file, cluster file, serving spec.

Pydantic models mirror the keys, nesting and types the loaders accept (`spec.parse_run`,
`spec_hetero.parse_hetero_run`, `plan.parse.parse_center` + `plan.site.parse_site`,
`sim.cluster.ClusterSpec.from_dict`, `serve.spec.parse_serve_spec`). Each loader first passes its raw
mapping through `check_input`, which refuses unknown keys and wrongly typed values with a one-line
ConfigError naming the key path, and returns the mapping with numbers coerced by the one rule below;
the loader's own checks (ranges, required keys, catalog ids, cross-field rules) then run as before.
`json_schema(NAME)` is the JSON Schema an editor uses (published under schemas/, `wanka schema NAME`).

The number rule, the same in every file: a number is a YAML/JSON number, or a string that reads as one
(`"1e13"`, `" 8 "`): PyYAML reads `1e13` (no decimal point) as a string, so refusing strings would
refuse what users write. Anything else (`true`, `"lots"`, a list) is refused; ranges are the loaders'.
Layer: imports only `errors` and `units` (and pydantic), so spec/plan/sim/serve may all use it."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StrictBool,
    Tag,
    ValidationError,
    WithJsonSchema,
)

from wanka.errors import ConfigError
from wanka.units import difflib_closest

__all__ = ["NAMES", "as_integer", "as_number", "check_input", "json_schema", "schema_text"]

#: A number written as text: what `as_number` accepts from a string (and the JSON Schema pattern).
NUMBER_PATTERN = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_NUMBER_RE = re.compile(NUMBER_PATTERN)


def as_number(v: Any) -> int | float:
    """The one number rule of the input files: an int/float as is, a numeric string read as a number
    (`"1e13"` -> 1e13, `"8"` -> 8); a bool, other text or any other value is a ValueError."""
    if isinstance(v, bool):
        raise ValueError(f"must be a number, got {v!r}")
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and _NUMBER_RE.match(v):
        s = v.strip()
        x = float(s)
        if not math.isfinite(x):
            raise ValueError(f"must be a finite number, got {v!r}")
        return int(s) if s.lstrip("+-").isdigit() else x
    raise ValueError(f"must be a number, got {v!r}")


def as_integer(v: Any) -> int:
    """`as_number`, and whole (`8`, `8.0`, `"1e3"`); else a ValueError."""
    x = as_number(v)
    if isinstance(x, float) and (not math.isfinite(x) or int(x) != x):
        raise ValueError(f"must be an integer, got {v!r}")
    return int(x)


_NUM_JS = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": NUMBER_PATTERN}]}
_INT_JS = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": NUMBER_PATTERN}]}
Num = Annotated[int | float, BeforeValidator(as_number), WithJsonSchema(_NUM_JS)]
Int = Annotated[int, BeforeValidator(as_integer), WithJsonSchema(_INT_JS)]
Id = str | int
Text = str | int | float  # free text a YAML writer may leave unquoted (a version 0.6, a name 405)


class _Block(BaseModel):
    """A mapping whose keys are all known: an unknown key is an error."""

    model_config = ConfigDict(extra="forbid")


def _required(*keys: str) -> ConfigDict:
    """Keys the loader requires, stated in the JSON Schema (the loader gives the message)."""
    return ConfigDict(extra="forbid", json_schema_extra={"required": list(keys)})


# --- run spec (spec.py; format in docs/design.md) -------------------------------------------------


class MoE(_Block):
    experts: Int | None = None
    top_k: Int | None = None
    expert_ffn: Int | None = None
    shared_experts: Int | None = None
    shared_expert_ffn: Int | None = None
    dense_layers: Int | None = None
    capacity_factor: Num | None = None
    router_bias: StrictBool | None = None


class MLA(_Block):
    q_lora_rank: Int | None = None
    kv_lora_rank: Int | None = None
    qk_nope_head_dim: Int | None = None
    qk_rope_head_dim: Int | None = None
    v_head_dim: Int | None = None


class Mamba(_Block):
    heads: Int | None = None
    head_dim: Int | None = None
    state_size: Int | None = None
    groups: Int | None = None
    conv_kernel: Int | None = None
    chunk_size: Int | None = None
    conv_bias: StrictBool | None = None


class Model(_Block):
    """A model: explicit shape, or `preset` (a shipped id) or `hf_config` (a config.json path)."""

    name: Text | None = None
    type: str | None = None
    preset: str | None = None
    hf_config: str | None = None
    params_b: Num | None = None
    active_params_b: Num | None = None
    notes: Any = None
    layers: Int | None = None
    hidden: Int | None = None
    heads: Int | None = None
    kv_heads: Int | None = None
    ffn_hidden: Int | None = None
    vocab: Int | None = None
    seq_len: Int | None = None
    head_dim: Int | None = None
    activation: str | None = None
    gated_mlp: StrictBool | None = None
    tied_embeddings: StrictBool | None = None
    learned_positions: StrictBool | None = None
    mtp_layers: Int | None = None
    sliding_window: Int | None = None
    attention_layer_pattern: str | None = None
    layer_pattern: str | None = None
    moe: MoE | None = None
    mla: MLA | None = None
    mamba: Mamba | None = None


class Hardware(_Block):
    model_config = _required("accelerator", "count")
    accelerator: str | None = None
    count: Int | None = None
    gpus_per_node: Int | None = None
    system: Text | None = None


class Parallelism(_Block):
    tp: Int | None = None
    pp: Int | None = None
    vpp: Int | None = None
    cp: Int | None = None
    ep: Int | None = None
    etp: Int | None = None
    dp: Int | None = None
    fsdp: str | None = None
    distributed_optimizer: StrictBool | None = None
    sequence_parallel: StrictBool | None = None
    recompute: str | None = None
    micro_batch_size: Int | None = None
    global_batch_size: Int | None = None
    pipeline_parallel_microbatch_size: Int | None = None
    tp_comm_overlap: StrictBool | None = None
    pipeline_schedule: str | None = None


class Run(_Block):
    """One training run on one kind of accelerator."""

    model_config = _required("model", "hardware")
    id: Id | None = None
    model: Model | None = None
    hardware: Hardware | None = None
    parallelism: Parallelism | None = None
    precision: str | None = None
    framework: str | None = None
    measured: dict[str, Any] | None = None
    source: Text | None = None


class HeteroGroup(_Block):
    model_config = _required("accelerator", "count")
    name: Id | None = None
    accelerator: str | None = None
    count: Int | None = None
    gpus_per_node: Int | None = None
    scale_out_gbit: Num | None = None
    system: Text | None = None


class HeteroReplica(_Block):
    model_config = _required("group")
    group: Id | None = None
    tp: Int | None = None
    batch_share: Num | None = None


class HeteroStage(_Block):
    model_config = _required("layers")
    group: Id | None = None
    layers: Int | None = None
    tp: Int | None = None
    dp: Int | None = None
    replicas: list[HeteroReplica] | None = None


class HeteroParallelism(_Block):
    model_config = _required("stages")
    stages: list[HeteroStage] | None = None
    micro_batch_size: Int | None = None
    global_batch_size: Int | None = None
    recompute: str | None = None
    sequence_parallel: StrictBool | None = None
    distributed_optimizer: StrictBool | None = None
    vpp: Int | None = None
    cp: Int | None = None
    overlap_grad_reduce: StrictBool | None = None
    fused_kernels: StrictBool | None = None


class HeteroRun(_Block):
    """One training run over groups of different accelerators (`hardware` is a list of groups)."""

    model_config = _required("model", "hardware")
    id: Id | None = None
    model: Model | None = None
    hardware: list[HeteroGroup] | None = None
    parallelism: HeteroParallelism | None = None
    precision: str | None = None
    measured: dict[str, Any] | None = None
    source: Text | None = None
    set: Text | None = None


def _run_kind(v: Any) -> str:
    return "hetero" if isinstance(v, dict) and isinstance(v.get("hardware"), list) else "single"


AnyRun = Annotated[
    Annotated[Run, Tag("single")] | Annotated[HeteroRun, Tag("hetero")], Discriminator(_run_kind)
]


class RunFile(RootModel[AnyRun | list[AnyRun]]):
    """A run-spec file: one run (a mapping) or a list of runs."""


# --- centre file (plan/parse.py, plan/site.py; format in docs/plan.md) ----------------------------

ModelRef = Annotated[str | Model, Field(union_mode="left_to_right")]


class Goal(_Block):
    model_config = _required("model", "tokens", "deadline_days")
    id: Id | None = None
    model: ModelRef | None = None
    tokens: Num | None = None
    deadline_days: Num | None = None
    global_batch_size: Int | None = None
    seq_len: Int | None = None
    precision: str | None = None


class CenterServing(_Block):
    model_config = _required("model")
    id: Id | None = None
    model: ModelRef | None = None
    tokens_per_s: Num | None = None
    precision: str | None = None
    rate: Num | None = None
    input_len: Num | None = None
    output_len: Num | None = None
    ttft_ms: Num | None = None
    tpot_ms: Num | None = None
    framework: str | None = None  # TensorRT-LLM (the default), vLLM or SGLang


class Candidate(_Block):
    model_config = _required("accelerator", "available")
    accelerator: str | None = None
    available: Int | None = None
    unit_price_usd: Num | None = None
    tdp_w: Num | None = None
    profile: str | None = None
    mtbf_hours: Num | None = None


class Network(_Block):
    options: Annotated[str | list[str], Field(union_mode="left_to_right")] | None = None
    radix: Int | None = None
    oversubscription: Num | None = None
    tiers: Int | None = None


class Limits(_Block):
    power_mw: Num | None = None
    budget_usd: Num | None = None


class Reliability(_Block):
    checkpoint_save_s: Num | None = None
    restart_s: Num | None = None
    checkpoint_interval_s: Num | None = None
    failures_per_accelerator_hour: Num | None = None


class Economics(_Block):
    node_overhead_fraction: Num | None = None
    host_power_fraction: Num | None = None
    pue: Num | None = None
    electricity_usd_per_kwh: Num | None = None
    depreciation_years: Num | None = None
    facility_usd_per_mw: Num | None = None
    serving_efficiency: Num | None = None


class Existing(_Block):
    model_config = _required("accelerator", "count")
    accelerator: str | None = None
    count: Int | None = None
    gpus_per_node: Int | None = None


class Upgrade(_Block):
    model_config = _required("cooling", "rack_kw", "usd_per_rack")
    name: Text | None = None
    cooling: str | None = None
    rack_kw: Num | None = None
    usd_per_rack: Num | None = None


class Site(_Block):
    model_config = _required("rack_kw", "cooling")
    power_mw: Num | None = None
    rack_kw: Num | None = None
    cooling: str | None = None
    racks: Int | None = None
    existing: list[Existing] | None = None
    upgrades: list[Upgrade] | None = None


class Center(_Block):
    """A centre file: training goals, serving demand, candidate chips, network, limits, site."""

    model_config = _required("goals", "candidates")
    name: Text | None = None
    goals: list[Goal] | None = None
    serving: list[CenterServing] | None = None
    candidates: list[Candidate] | None = None
    network: Network | None = None
    limits: Limits | None = None
    economics: Economics | None = None
    reliability: Reliability | None = None
    counts_per_candidate: Int | None = None
    mixed_fleets: StrictBool | None = None
    site: Site | None = None


# --- cluster file (sim/cluster.py; examples/cluster-*.yaml) ---------------------------------------


class NodeGroup(_Block):
    model_config = _required("accelerator", "nodes", "gpus_per_node")
    accelerator: Text | None = None
    nodes: Int | None = None
    gpus_per_node: Int | None = None
    nodes_per_domain: Int | None = None
    relative_speed: Num | None = None


class ClusterNetwork(_Block):
    nodes_per_leaf: Int | None = None
    leaves_per_pod: Int | None = None
    scaleout_bw_gbit_per_s: Num | None = None
    scaleup_bw_gb_per_s: Num | None = None
    cross_leaf_oversubscription: Num | None = None
    cross_pod_oversubscription: Num | None = None
    latency_us: Num | None = None


class Tenant(_Block):
    quota: Int | None = None
    weight: Num | None = None


class Cluster(_Block):
    """A cluster file for `wanka simulate`: node groups, network, tenants."""

    model_config = _required("node_groups")
    name: Text | None = None
    node_groups: list[NodeGroup] | None = None
    network: ClusterNetwork | None = None
    tenants: dict[str | int, Tenant | None] | None = None


# --- serving spec (serve/spec.py; validation/inference_runs.yaml) ---------------------------------


class ServeModel(Model):
    attention: Text | None = None
    notes_arch: Any = None


class ServeEngine(_Block):
    framework: Text | None = None
    version: Text | None = None
    precision: str | None = None
    kv_precision: str | None = None
    tp: Int | None = None
    pp: Int | None = None
    ep: Int | None = None
    dp: Int | None = None
    disaggregated: StrictBool | None = None
    prefill_instances: Int | None = None
    decode_instances: Int | None = None
    max_batch: Int | None = None
    max_num_tokens: Int | None = None
    kv_block_tokens: Int | None = None
    gpu_memory_utilization: Num | None = None
    attention_dp: StrictBool | None = None
    scheduler_policy: str | None = None  # guaranteed_no_evict (the default) or max_utilization
    speculative: dict[str, Any] | None = None  # {method, tokens, acceptance}: serve/spec.py checks


NumOrText = Annotated[Num | str, Field(union_mode="left_to_right")]


class Workload(_Block):
    model_config = _required("input_len", "output_len")
    scenario: str | None = None
    input_len: NumOrText | None = Field(None, description="tokens, or text with 'mean N'")
    output_len: NumOrText | None = Field(None, description="tokens, or text with 'mean N'")
    batch_size: Int | None = None
    request_rate: NumOrText | None = Field(None, description="requests/s, or 'infinite'")
    concurrency: Int | None = None
    requests: Int | None = None
    seed: Int | None = None


class Constraints(_Block):
    ttft_ms: Num | None = None
    tpot_ms: Num | None = None
    percentile: str | None = None


class Serve(BaseModel):
    """One serving deployment and workload; other top-level keys (notes, derived...) are kept."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"required": ["model", "hardware", "workload"]}
    )
    id: Id | None = None
    model: Annotated[str | ServeModel, Field(union_mode="left_to_right")] | None = None
    hardware: Hardware | None = None  # the same keys as a run's
    serving: ServeEngine | None = None
    workload: Workload | None = None
    constraints: Constraints | None = None
    measured: dict[str, Any] | None = None
    source: Text | None = None


class ServeFile(RootModel[Serve | list[Serve]]):
    """A serving-spec file: one spec (a mapping) or a list of specs."""


# --- the checks --------------------------------------------------------------------------------

#: `wanka schema NAME` -> (model of the whole file, title).
_FILES: dict[str, tuple[type[BaseModel], str]] = {
    "run": (RunFile, "wanka run spec"),
    "center": (Center, "wanka centre file"),
    "cluster": (Cluster, "wanka cluster file"),
    "serve": (ServeFile, "wanka serving spec"),
}
NAMES = tuple(_FILES)
#: The model one loader checks one record against.
_RECORDS: dict[str, type[BaseModel]] = {
    "run": RootModel[AnyRun],
    "center": Center,
    "cluster": Cluster,
    "serve": Serve,
}


def _path(loc: tuple[Any, ...], data: Any) -> str:
    """The key path of an error: the parts of pydantic's `loc` that are keys of `data` (the union and
    validator tags pydantic adds in between are skipped)."""
    out, cur = "", data
    for part in loc:
        if isinstance(cur, dict) and part in cur:
            out, cur = (f"{out}.{part}" if out else str(part)), cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out, cur = f"{out}[{part}]", cur[part]
    return out


def _models_in(ann: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (through Optional, unions, lists, dicts, Annotated)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    return [m for a in get_args(ann) for m in _models_in(a)]


_TAGS: dict[str, type[BaseModel]] = {
    "single": Run,
    "hetero": HeteroRun,
}  # the tags of the run-spec union (`_run_kind`)


def _allowed(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the mapping at pydantic's `loc` (for an unknown-key hint)."""
    models = (
        _models_in(root.model_fields["root"].annotation) if "root" in root.model_fields else [root]
    )
    for part in loc:
        if part in _TAGS:
            models = [_TAGS[str(part)]]
        elif isinstance(part, str) and any(part == m.__name__ for m in models):
            models = [m for m in models if m.__name__ == part]
        elif isinstance(part, str):
            hits = [m.model_fields[part] for m in models if part in m.model_fields]
            models = [m for f in hits for m in _models_in(f.annotation)] if hits else models
    return sorted({k for m in models for k in m.model_fields})


def _message(e: ValidationError, data: Any, name: str) -> str:
    """One line for the deepest of pydantic's errors (in a union, the branch that got furthest)."""
    errs = e.errors(include_url=False)
    best = max(errs, key=lambda er: len(_path(er["loc"], data)))
    path = _path(best["loc"], data)
    if best["type"] == "extra_forbidden":
        parent, _, key = path.rpartition(".")
        allowed = _allowed(_RECORDS[name], best["loc"][:-1])
        hint = difflib_closest(key, allowed) if allowed else ""
        return (
            f"{parent or name}: unknown key {key!r}{hint}; see `wanka schema {name}` for the keys"
        )
    msg = str(best["msg"]).removeprefix("Value error, ")
    if "must be" not in msg:
        msg = f"{msg[:1].lower()}{msg[1:]}, got {best['input']!r}"[:200]
    return f"{path or name}: {msg}"


def check_input(name: str, data: Any, *, where: str = "") -> Any:
    """Check one record of input file `name` (run|center|cluster|serve) against its schema.

    Returns the record with numbers coerced by `as_number` (other values, key order and nulls as
    given); unknown keys and wrongly typed values are a one-line ConfigError naming the key path.
    """
    if not isinstance(data, dict):  # the loaders word this one themselves
        return data
    model = _RECORDS[name]
    try:
        checked = model.model_validate(data)
    except ValidationError as e:
        msg = _message(e, data, name)
        raise ConfigError(f"{where}: {msg}" if where else msg) from None
    record = checked.root if isinstance(checked, RootModel) else checked
    dumped = record.model_dump(exclude_unset=True)
    return _in_order(dumped, data)


def _in_order(new: Any, old: Any) -> Any:
    """`new` (the checked record) with `old`'s key order: the loaders see the file, numbers aside."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: _in_order(new.get(k), v) if k in new else v for k, v in old.items()}
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [_in_order(n, o) for n, o in zip(new, old)]
    return new


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of input file `name`; ConfigError naming the valid names."""
    if name not in _FILES:
        raise ConfigError(f"unknown schema {name!r}; choose from {', '.join(NAMES)}")
    model, title = _FILES[name]
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text(name: str) -> str:
    """`json_schema(name)` as the text published under schemas/ and printed by `wanka schema`."""
    import json

    return json.dumps(json_schema(name), indent=2) + "\n"
