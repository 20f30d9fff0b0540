"""Parallel plans: Megatron-named degrees, validated against a model and an accelerator count.

Glossary (Megatron-LM names): tp tensor, pp pipeline, vpp virtual pipeline stages per rank (1 = plain 1F1B),
cp context, ep expert, etp expert-tensor, dp data parallel. `fsdp` none|grad_op|full (ZeRO-2/ZeRO-3-like
sharding), `recompute` none|selective|full. tp*pp*cp*dp = world size; the expert layers reuse the same ranks
as etp*ep*edp = tp*cp*dp (Megatron's "MoE parallel folding").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wanka.errors import ConfigError

__all__ = ["FSDP_MODES", "RECOMPUTE_MODES", "ParallelPlan"]

FSDP_MODES = ("none", "grad_op", "full")
RECOMPUTE_MODES = ("none", "selective", "full")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelPlan:
    """One parallel layout with every degree resolved (no nulls)."""

    tp: int = 1
    pp: int = 1
    vpp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int = 1
    dp: int = 1
    fsdp: Literal["none", "grad_op", "full"] = "none"
    distributed_optimizer: bool = True
    sequence_parallel: bool = False
    recompute: Literal["none", "selective", "full"] = "none"
    micro_batch_size: int = 1
    global_batch_size: int = 1

    def __post_init__(self) -> None:
        for name in (
            "tp",
            "pp",
            "vpp",
            "cp",
            "ep",
            "etp",
            "dp",
            "micro_batch_size",
            "global_batch_size",
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"parallelism.{name} must be a positive integer, got {v!r}")
        if self.fsdp not in FSDP_MODES:
            raise ConfigError(
                f"parallelism.fsdp must be one of {', '.join(FSDP_MODES)}, got {self.fsdp!r}"
            )
        if self.recompute not in RECOMPUTE_MODES:
            raise ConfigError(
                f"parallelism.recompute must be one of {', '.join(RECOMPUTE_MODES)}, "
                f"got {self.recompute!r}"
            )

    @property
    def world_size(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    @property
    def num_microbatches(self) -> int:
        """Micro-batches per step per data-parallel rank: global / (micro * dp)."""
        return self.global_batch_size // (self.micro_batch_size * self.dp)

    def check(
        self,
        *,
        count: int,
        heads: int,
        kv_heads: int,
        layers: int,
        experts: int | None,
        strict_experts: bool = True,
    ) -> list[str]:
        """Raise ConfigError if this plan cannot run the model on `count` accelerators.

        With `strict_experts=False` an expert layout that Megatron-LM would reject (etp*ep not dividing
        tp*cp*dp) is returned as a warning instead, so a published run that states it is still predicted.
        """
        warnings: list[str] = []
        if self.world_size != count:
            raise ConfigError(
                f"tp*pp*cp*dp = {self.tp}*{self.pp}*{self.cp}*{self.dp} = {self.world_size} "
                f"does not equal the accelerator count {count}"
            )
        if heads % self.tp:
            raise ConfigError(f"heads ({heads}) must be divisible by tp ({self.tp})")
        if kv_heads % self.tp and self.tp % kv_heads:
            raise ConfigError(f"kv_heads ({kv_heads}) and tp ({self.tp}) must divide one another")
        if self.global_batch_size % (self.micro_batch_size * self.dp):
            raise ConfigError(
                f"global_batch_size ({self.global_batch_size}) must be divisible by "
                f"micro_batch_size*dp ({self.micro_batch_size}*{self.dp})"
            )
        if self.pp > layers:
            raise ConfigError(f"pp ({self.pp}) exceeds the number of layers ({layers})")
        if self.vpp > 1 and self.pp == 1:
            raise ConfigError(
                "vpp > 1 needs pp > 1 (interleaving splits each pipeline rank's layers)"
            )
        # Megatron-LM may count the embedding and the loss as pipeline layers
        # (account_for_embedding_in_pipeline_split / account_for_loss_in_pipeline_split): up to layers + 2 chunks.
        if self.pp * self.vpp > layers + 2:
            raise ConfigError(
                f"pp*vpp ({self.pp}*{self.vpp}) exceeds the number of layers ({layers}) + 2"
            )
        if experts is None:
            if self.ep > 1:
                raise ConfigError(f"ep ({self.ep}) > 1 needs a mixture-of-experts model")
        else:
            if experts % self.ep:
                raise ConfigError(f"experts ({experts}) must be divisible by ep ({self.ep})")
            if (self.tp * self.cp * self.dp) % (self.etp * self.ep):
                msg = f"etp*ep ({self.etp}*{self.ep}) must divide tp*cp*dp ({self.tp}*{self.cp}*{self.dp})"
                if strict_experts:
                    raise ConfigError(msg)
                warnings.append(msg + "; modelled as stated (experts spread over ep ranks)")
        return warnings
