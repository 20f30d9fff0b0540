"""Model presets shipped in `wanka/catalogs/data/models.yaml`: `get_model("llama3-70b")`.

Each preset records its sources (Hugging Face config.json or paper) and the sizes its authors publish,
so that tests and `wanka catalog show` can set our exact counts beside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from wanka.catalogs import check_keys, load_data
from wanka.errors import CatalogError, ConfigError
from wanka.units import difflib_closest, squash, unambiguous, without_remarks
from wanka.workload.model import MambaSpec, MLASpec, ModelSpec, MoESpec

__all__ = [
    "MODEL_KEYS",
    "ModelPreset",
    "get_model",
    "get_preset",
    "model_from_dict",
    "models",
    "presets",
    "resolve_id",
]

#: Keys a model mapping may hold (the ModelSpec fields, `moe`/`mla` as nested mappings).
MODEL_KEYS = frozenset(
    {
        "name",
        "layers",
        "hidden",
        "heads",
        "kv_heads",
        "ffn_hidden",
        "vocab",
        "seq_len",
        "head_dim",
        "activation",
        "tied_embeddings",
        "moe",
        "mla",
        "mtp_layers",
        "learned_positions",
        "type",
        "norm",
        "attention_bias",
        "mlp_bias",
        "qk_norm",
        "attention_sinks",
        "sliding_window",
        "attention_layer_pattern",
        "layer_pattern",
        "mamba",
    }
)
_MODEL_REQUIRED = frozenset({"layers", "hidden", "heads", "vocab", "seq_len"})
_MOE_KEYS = frozenset(
    {
        "experts",
        "top_k",
        "expert_ffn",
        "shared_experts",
        "shared_expert_ffn",
        "dense_layers",
        "capacity_factor",
        "router_bias",
    }
)
_MLA_KEYS = frozenset(
    {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"}
)
_MAMBA_KEYS = frozenset(
    {"heads", "head_dim", "state_size", "groups", "conv_kernel", "chunk_size", "conv_bias"}
)
_PRESET_KEYS = MODEL_KEYS | {"id", "aliases", "published", "sources", "notes"}
_PUBLISHED_KEYS = frozenset({"total_b", "active_b"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPreset:
    """A shipped model architecture with where it comes from and what its authors say it weighs."""

    id: str
    model: ModelSpec
    aliases: tuple[str, ...] = ()
    published_total_params: float | None = None
    """Total parameters as published (count, not billions)."""
    published_active_params: float | None = None
    """Parameters activated per token as published (MoE)."""
    sources: tuple[str, ...] = field(default_factory=tuple)
    notes: str | None = None


def model_from_dict(
    d: dict[str, Any],
    *,
    where: str = "model",
    error: type[Exception] = ConfigError,
    default_name: str | None = None,
) -> ModelSpec:
    """Build a ModelSpec from a mapping of its fields (a run spec's `model:` or a catalog record).

    `kv_heads` defaults to `heads`, `ffn_hidden` to 4*hidden, `type` to "moe" when `moe` is given.
    Unknown keys raise `error` (ConfigError for user input, CatalogError for shipped data).
    """
    try:
        check_keys(where, d, set(MODEL_KEYS), set(_MODEL_REQUIRED))
        kw = dict(d)
        if kw.get("moe") is not None:
            check_keys(
                where + " moe", kw["moe"], set(_MOE_KEYS), {"experts", "top_k", "expert_ffn"}
            )
            moe = {k: v for k, v in kw["moe"].items() if v is not None}
            kw["moe"] = MoESpec(**moe)
            kw.setdefault("type", "moe")
        if kw.get("mla") is not None:
            check_keys(where + " mla", kw["mla"], set(_MLA_KEYS), set(_MLA_KEYS) - {"q_lora_rank"})
            kw["mla"] = MLASpec(**{"q_lora_rank": None, **kw["mla"]})
        if kw.get("mamba") is not None:
            check_keys(
                where + " mamba", kw["mamba"], set(_MAMBA_KEYS), {"heads", "head_dim", "state_size"}
            )
            kw["mamba"] = MambaSpec(**{k: v for k, v in kw["mamba"].items() if v is not None})
        kw["name"] = kw.get("name") or default_name or where
        if kw.get("kv_heads") is None:
            kw["kv_heads"] = kw["heads"]
        if kw.get("ffn_hidden") is None:
            kw["ffn_hidden"] = 4 * kw["hidden"]
        kw = {k: v for k, v in kw.items() if v is not None or k in ("head_dim", "sliding_window")}
        return ModelSpec(**kw)
    except (CatalogError, ConfigError) as e:
        if isinstance(e, error):
            raise
        raise error(str(e)) from None
    except TypeError as e:  # a value of the wrong shape, e.g. moe: 8
        raise error(f"{where}: {e}") from None


def _preset(d: dict[str, Any]) -> ModelPreset:
    where = f"model preset {d.get('id')!r}"
    check_keys(where, d, set(_PRESET_KEYS), {"id", "sources"})
    published = d.get("published") or {}
    check_keys(where + " published", published, set(_PUBLISHED_KEYS))
    if not d["sources"]:
        raise CatalogError(f"{where}: needs at least one source URL")
    fields = {k: v for k, v in d.items() if k in MODEL_KEYS}
    model = model_from_dict(fields, where=where, error=CatalogError, default_name=d["id"])

    def billions(key: str) -> float | None:
        v = published.get(key)
        return None if v is None else float(v) * 1e9

    return ModelPreset(
        id=d["id"],
        model=model,
        aliases=tuple(d.get("aliases") or ()),
        published_total_params=billions("total_b"),
        published_active_params=billions("active_b"),
        sources=tuple(d["sources"]),
        notes=d.get("notes"),
    )


@cache
def presets() -> dict[str, ModelPreset]:
    """Every shipped model preset, by id (aliases not included)."""
    out: dict[str, ModelPreset] = {}
    for d in load_data("models.yaml")["models"]:
        p = _preset(d)
        if p.id in out:
            raise CatalogError(f"model preset id {p.id!r} appears twice in models.yaml")
        out[p.id] = p
    return out


@cache
def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for p in presets().values():
        for name in (p.id, *p.aliases):
            key = name.lower()
            if key in table and table[key] != p.id:
                raise CatalogError(f"model name {name!r} names both {table[key]!r} and {p.id!r}")
            table[key] = p.id
    return table


def resolve_id(preset_id: str) -> str:
    """The canonical preset id for an id or alias (case-insensitive), or for a published checkpoint
    name of one ("meta-llama/Llama-3.1-8B-Instruct", "Qwen3-235B-A22B-FP8", "DeepSeek-R1-0528": see
    `_core_name`); CatalogError names the closest ids."""
    key = str(preset_id).strip().lower()
    found = _aliases().get(key) or _core_names().get(_core_name(key))
    if found is None:
        raise CatalogError(
            f"unknown model preset {preset_id!r}{difflib_closest(preset_id, list(_aliases()))}; "
            "see `wanka catalog list --kind models`"
        )
    return found


#: tokens of a checkpoint name that do not change the architecture: tuning, format, quantisation, a
#: release date (R1-0528); a version (Mistral v0.1 / v0.3: another vocabulary, no sliding window) does
_VARIANT = re.compile(
    r"instruct|chat|hf|base|it|fp8|fp4|nvfp4|mxfp4|bf16|fp16|awq|gptq|int4|int8|w8a8|w4a16|w4a8|"
    r"dynamic|\d{4}"
)


def _core_name(name: str) -> str:
    """A model name without a parenthesised remark, its organisation ("meta-llama/"), a leading
    "meta", and the variant tokens (`_VARIANT`), squashed to letters, digits and dots: "Meta-Llama-3.1-8B-Instruct" ->
    "llama3.18b", "Mixtral-8x7B-Instruct-v0.1" -> "mixtral8x7bv0.1"."""
    tokens = re.split(r"[-_\s]+", without_remarks(name).lower().rsplit("/", 1)[-1])
    if tokens and tokens[0] == "meta":
        tokens = tokens[1:]
    return squash("".join(t for t in tokens if not _VARIANT.fullmatch(t)))


@cache
def _core_names() -> dict[str, str]:
    """`_core_name` of every preset id and alias -> the preset (names two presets share left out)."""
    return unambiguous((_core_name(name), pid) for name, pid in _aliases().items())


def get_preset(preset_id: str) -> ModelPreset:
    """Look a preset up by id or alias."""
    return presets()[resolve_id(preset_id)]


def get_model(preset_id: str) -> ModelSpec:
    """The ModelSpec of a shipped preset (`llama3-70b`, `deepseek-v3`, ...); aliases such as `llama3.1-70b` work."""
    return get_preset(preset_id).model


def models() -> dict[str, ModelSpec]:
    """Every shipped model, by canonical preset id."""
    return {k: p.model for k, p in presets().items()}
