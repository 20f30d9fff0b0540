"""Model FLOPs per training step, Megatron-LM accounting (for model TFLOP/s and MFU).

Uses `wanka.workload.counts.flops_per_step` when it exists (the project's single FLOP count), else the
same formula written here (`megatron_flops_per_step`).
"""

from __future__ import annotations

from wanka.workload.model import ModelSpec

__all__ = ["megatron_flops_per_step", "model_flops_per_step"]


def megatron_flops_per_step(model: ModelSpec, global_batch_size: int, seq_len: int) -> float:
    """Megatron-LM `num_floating_point_operations` (training/training.py), no recompute FLOPs.

    FLOPs = 3 (forward, dgrad, wgrad) * 2 (multiply-add) * B * s * [ sum over layers of
        attention projections  h * (q_width + kv_width) + o_width * h
      + core attention          s * heads * (d_qk + d_v) / 2          (causal: half the score matrix)
      + dense MLP               n_gate * h * ffn      (n_gate = 3 for SwiGLU/GeGLU, 2 otherwise)
      | MoE MLP                 n_gate * h * (top_k * expert_ffn + shared_experts * shared_ffn)
      ] + logits h * V.

    Hybrid Mamba/attention models (`layer_pattern`) take Megatron's hybrid branch, which lives in
    `wanka.workload.counts.flops_per_step`.
    """
    if model.layer_pattern is not None:
        from wanka.workload.counts import flops_per_step

        return float(flops_per_step(model, global_batch_size, seq_len))
    h, a, s = model.hidden, model.heads, seq_len
    ng = 3 if model.gated else 2
    if model.mla is not None:
        m = model.mla
        dq, dv = m.qk_nope_head_dim + m.qk_rope_head_dim, m.v_head_dim
        q = (
            (h * m.q_lora_rank + m.q_lora_rank * a * dq) if m.q_lora_rank else h * a * dq
        )  # query projection(s)
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank * a * (
            m.qk_nope_head_dim + dv
        )  # kv down/up
        attn = q + kv + a * dv * h  # + output projection
        core = s * a * (dq + dv) / 2  # QK^T and AV, causal half
    else:
        d = model.d_head
        attn = h * (a + 2 * model.kv_heads) * d + a * d * h  # QKV + output projection
        core = s * a * 2 * d / 2  # QK^T and AV, causal half
    dense_mlp = ng * h * model.ffn_hidden
    per_layer_dense = attn + core + dense_mlp
    total = model.dense_mlp_layers * per_layer_dense
    if model.moe is not None:
        moe = model.moe
        moe_mlp = ng * h * (moe.top_k * moe.expert_ffn + moe.shared_experts * moe.shared_ffn)
        total += model.moe_layers * (attn + core + moe_mlp)
        total += model.mtp_layers * (
            attn + core + moe_mlp + 2 * h * h
        )  # MTP block + its projection
    total += h * model.vocab  # logits
    return 6.0 * global_batch_size * s * total


def model_flops_per_step(model: ModelSpec, global_batch_size: int, seq_len: int) -> float:
    """Model FLOPs per optimizer step; the project's `workload.counts` when available."""
    try:
        from wanka.workload.counts import flops_per_step
    except ImportError:
        return megatron_flops_per_step(model, global_batch_size, seq_len)
    return float(flops_per_step(model, global_batch_size, seq_len))
