"""Catalog renderers: the JSON record of an accelerator or model preset, the lists and the cards.

`accelerator_record` / `model_record` are the `catalog ... --json` objects; `accelerators_table` /
`models_table` are the `catalog list` tables (80-column rule of `wanka.report.table`); the cards are
`catalog show`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.table import Table

from wanka.hardware import Accelerator
from wanka.report.table import Col, fit_table
from wanka.units import GB, TERA, GiB
from wanka.workload.counts import flops_per_token_terms, param_count
from wanka.workload.presets import ModelPreset

__all__ = [
    "accelerator_card",
    "accelerator_record",
    "accelerators_table",
    "model_card",
    "model_record",
    "models_table",
    "traces_table",
]


def _fp4(acc: Accelerator) -> float | None:
    return acc.peak_flops.get("nvfp4") or acc.peak_flops.get("mxfp4")


def accelerator_record(acc: Accelerator) -> dict[str, Any]:
    """One accelerator in edge units (TFLOP/s, GiB, GB/s, Gb/s), with its sources."""
    se = acc.software_efficiency
    return {
        "id": acc.id,
        "vendor": acc.vendor,
        "name": acc.name,
        "year": acc.year,
        "peak_tflops": {k: v / TERA for k, v in acc.peak_flops.items()},
        "hbm_gib": acc.hbm_bytes / GiB,
        "hbm_bw_gb_s": acc.hbm_bw_bytes_per_s / GB,
        "scaleup": {
            "name": acc.scaleup_name,
            "domain": acc.scaleup_domain,
            "bw_gb_s_unidir": acc.scaleup_bw_bytes_per_s / GB,
        },
        "scaleout_gbit_s": acc.scaleout_bw_bytes_per_s * 8 / 1e9,
        "gpus_per_node": acc.gpus_per_node,
        "tdp_w": acc.tdp_w,
        "price_usd": acc.price_usd,
        "software": {
            "stack": acc.software_stack,
            "pytorch_device": acc.pytorch_device,
            "collectives": acc.collectives_library,
            "efficiency": {
                "gemm": se.gemm,
                "attention": se.attention,
                "memory_bw": se.memory_bw,
                "collective": se.collective,
                "source": se.source,
            },
        },
        "confidence": acc.confidence,
        "sources": list(acc.sources),
        "notes": acc.notes,
    }


def model_record(preset: ModelPreset) -> dict[str, Any]:
    """One model preset: architecture, exact parameter counts, Megatron FLOPs per token, sources."""
    m = preset.model
    c = param_count(m)
    t = flops_per_token_terms(m)
    return {
        "id": preset.id,
        "name": m.name,
        "aliases": list(preset.aliases),
        "architecture": asdict(m),
        "params": {
            "total": c.total,
            "active": c.active,
            "total_without_mtp": c.total_without_mtp,
            "active_without_mtp": c.active_without_mtp,
            "embedding": c.embedding,
            "head": c.head,
            "attention": c.attention,
            "mlp": c.mlp,
            "experts": c.experts,
            "active_experts": c.active_experts,
            "shared_experts": c.shared_experts,
            "router": c.router,
            "norms": c.norms,
            "mtp": c.mtp,
        },
        "published": {
            "total": preset.published_total_params,
            "active": preset.published_active_params,
        },
        "flops_per_token": {
            "seq_len": t.seq_len,
            "training": t.training,
            "forward": t.forward,
            "gemm": t.gemm,
            "attention_core": t.attention_core,
            "logits": t.logits,
            "accounting": "Megatron-LM num_floating_point_operations (fwd+bwd = 3x fwd, "
            "causal attention halved)",
        },
        "sources": list(preset.sources),
        "notes": preset.notes,
    }


def _num(x: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if not x else fmt.format(x)


# Left out first when narrow: the highest-numbered `keep` stays longest (0: always shown).
_ACC_COLS = (
    Col("id", "left"),
    Col("vendor", "left", wrap=True, keep=4),
    Col("bf16", keep=0),
    Col("fp8", keep=8),
    Col("fp4", keep=2),
    Col("HBM\nGiB", keep=0),
    Col("HBM\nTB/s", keep=9),
    Col("scale-up", "left", wrap=True, keep=6),
    Col("GB/s", keep=5),
    Col("NIC\nGb/s", keep=3),
    Col("TDP\nW", keep=7),
    Col("price\n$", keep=1),
    Col("stack", "left", wrap=True, keep=1),
    Col("gemm\neff", keep=1),
)


def _accelerator_row(a: Accelerator) -> list[str]:
    r = accelerator_record(a)
    fp4 = _fp4(a)
    return [
        a.id,
        a.vendor,
        _num(r["peak_tflops"].get("bf16") or r["peak_tflops"].get("fp16"), "{:,.1f}"),
        _num(r["peak_tflops"].get("fp8"), "{:,.1f}"),
        _num(fp4 and fp4 / TERA, "{:,.1f}"),
        _num(r["hbm_gib"], "{:,.0f}"),
        _num(r["hbm_bw_gb_s"] / 1e3, "{:,.2f}"),
        f"{a.scaleup_name} x{a.scaleup_domain}",
        _num(r["scaleup"]["bw_gb_s_unidir"]),
        _num(r["scaleout_gbit_s"]),
        _num(a.tdp_w),
        _num(a.price_usd),
        a.software_stack,
        f"{a.software_efficiency.gemm:.2f}",
    ]


def accelerators_table(accs: list[Accelerator], *, width: int, wide: bool = False) -> Table:
    """`catalog list`: one row per accelerator; narrow terminals leave out the least-read columns."""
    return fit_table(
        _ACC_COLS,
        [_accelerator_row(a) for a in accs],
        width=width,
        wide=wide,
        title="Accelerators (dense peak TFLOP/s; HBM GiB = 2^30 B; TB/s, GB/s = 1e9 B/s; NIC Gb/s)",
    )


_MODEL_COLS = (
    Col("id", "left"),
    Col("type", "left", keep=3),
    Col("layers", keep=5),
    Col("hidden", keep=4),
    Col("heads\n/kv", keep=2),
    Col("seq", keep=6),
    Col("params\nB"),
    Col("active\nB"),
    Col("published\nB", keep=1),
    Col("GFLOP/\ntoken", keep=7),
)


def _model_row(p: ModelPreset) -> list[str]:
    m, c = p.model, param_count(p.model)
    pub = _num(p.published_total_params and p.published_total_params / 1e9, "{:,.2f}")
    if p.published_active_params:
        pub += f" / {p.published_active_params / 1e9:,.1f}"
    return [
        p.id,
        m.type + (" mla" if m.mla else ""),
        str(m.layers),
        str(m.hidden),
        f"{m.heads}/{m.kv_heads}",
        str(m.seq_len),
        f"{c.total / 1e9:,.2f}",
        f"{c.active / 1e9:,.2f}",
        pub,
        f"{flops_per_token_terms(m).training / 1e9:,.1f}",
    ]


def models_table(items: list[ModelPreset], *, width: int, wide: bool = False) -> Table:
    """`catalog list --kind models`: one row per preset."""
    return fit_table(
        _MODEL_COLS,
        [_model_row(p) for p in items],
        width=width,
        wide=wide,
        title="Model presets (params in billions; training FLOPs per token at seq, "
        "Megatron accounting)",
    )


def accelerator_card(acc: Accelerator) -> Table:
    """Every figure of one accelerator, with its sources (a two-column table)."""
    r = accelerator_record(acc)
    t = Table(title=f"{acc.name} ({acc.id})", show_header=False)
    t.add_column("field", no_wrap=True)
    t.add_column("value", overflow="fold")
    for k, v in r["peak_tflops"].items():
        t.add_row(f"peak {k} (dense)", f"{v:,.1f} TFLOP/s")
    t.add_row("HBM", f"{r['hbm_gib']:,.0f} GiB at {r['hbm_bw_gb_s']:,.0f} GB/s")
    t.add_row(
        "scale-up",
        f"{acc.scaleup_name}, {acc.scaleup_domain} accelerators, "
        f"{r['scaleup']['bw_gb_s_unidir']:,.0f} GB/s per direction",
    )
    t.add_row("scale-out NIC", f"{r['scaleout_gbit_s']:,.0f} Gb/s per accelerator")
    t.add_row("node", f"{acc.gpus_per_node} per node")
    t.add_row("TDP / price", f"{_num(acc.tdp_w)} W / {_num(acc.price_usd)} US$")
    se = acc.software_efficiency
    t.add_row("software", f"{acc.software_stack} ({acc.pytorch_device}, {acc.collectives_library})")
    t.add_row(
        "software efficiency",
        f"gemm {se.gemm:.2f}, attention {se.attention:.2f}, "
        f"memory {se.memory_bw:.2f}, collective {se.collective:.2f}",
    )
    t.add_row("efficiency source", se.source)
    t.add_row("confidence", acc.confidence)
    for s in acc.sources:
        t.add_row("source", s)
    if acc.notes:
        t.add_row("notes", acc.notes)
    return t


def model_card(p: ModelPreset) -> Table:
    """One model preset: architecture, exact parameter counts, FLOPs per token, sources."""
    r = model_record(p)
    m, pr, fl = p.model, r["params"], r["flops_per_token"]
    t = Table(title=f"{m.name} ({p.id})", show_header=False)
    t.add_column("field", no_wrap=True)
    t.add_column("value", overflow="fold")
    heads = (
        f"{m.heads} heads" if m.mla else f"{m.heads} heads / {m.kv_heads} kv, head dim {m.d_head}"
    )
    arch = (
        f"{m.layers} layers, hidden {m.hidden}, {heads}, ffn {m.ffn_hidden} ({m.activation}), "
        f"vocab {m.vocab}, seq {m.seq_len}"
    )
    t.add_row("architecture", arch)
    if m.moe:
        t.add_row(
            "MoE",
            f"{m.moe.experts} experts, top-{m.moe.top_k}, width {m.moe.expert_ffn}, "
            f"{m.moe.shared_experts} shared, {m.moe.dense_layers} dense first layers",
        )
    if m.mla:
        t.add_row(
            "MLA",
            f"q rank {m.mla.q_lora_rank}, kv rank {m.mla.kv_lora_rank}, "
            f"qk {m.mla.qk_nope_head_dim}+{m.mla.qk_rope_head_dim} rope, v {m.mla.v_head_dim}",
        )
    if m.mtp_layers:
        t.add_row("MTP layers", str(m.mtp_layers))
    if m.sliding_window:
        t.add_row(
            "sliding window",
            f"{m.sliding_window} tokens, pattern {m.attention_layer_pattern or 'all'}",
        )
    t.add_row(
        "params total",
        f"{pr['total']:,} ({pr['total'] / 1e9:,.2f} B)"
        + (f"; without MTP {pr['total_without_mtp'] / 1e9:,.2f} B" if pr["mtp"] else ""),
    )
    t.add_row("params active/token", f"{pr['active']:,} ({pr['active'] / 1e9:,.2f} B)")
    pub = r["published"]
    if pub["total"]:
        t.add_row(
            "published",
            f"{pub['total'] / 1e9:,.2f} B"
            + (f" / {pub['active'] / 1e9:,.2f} B active" if pub["active"] else ""),
        )
    gemm, attn, logits = (3 * fl[k] / 1e9 for k in ("gemm", "attention_core", "logits"))
    t.add_row(
        "training FLOPs/token",
        f"{fl['training'] / 1e9:,.2f} GFLOP at seq {fl['seq_len']} (GEMM {gemm:,.2f}, "
        f"attention {attn:,.2f}, logits {logits:,.2f}; Megatron-LM accounting)",
    )
    for s in p.sources:
        t.add_row("source", s)
    if p.notes:
        t.add_row("notes", p.notes)
    return t


def traces_table(names: list[str], *, width: int, wide: bool = False) -> Table:
    """`catalog list --kind traces`: the shipped traces, as `simulate --trace` takes them."""
    return fit_table(
        (Col("--trace", "left"),),
        [[f"builtin:{n}"] for n in names],
        width=width,
        wide=wide,
        title="Shipped traces (licences and sources: wanka/sim/data/traces/README.md); "
        "also synthetic:N",
    )
