"""What a centre file states, typed: training goals, serving demand, candidate chips, network options,
limits and economics (`plan.parse` reads them; `plan.center` designs from them)."""

from __future__ import annotations

from dataclasses import dataclass

from wanka.catalogs.economics import Economics
from wanka.hardware import Accelerator
from wanka.plan.goodput import Reliability
from wanka.workload.model import ModelSpec

__all__ = [
    "CONSTRAINTS",
    "Candidate",
    "CenterSpec",
    "Economics",
    "Goal",
    "Limits",
    "NetworkOption",
    "Serving",
    "Site",
]

CONSTRAINTS = ("deadline", "budget", "power", "availability", "memory")
SECONDS_PER_DAY = 86_400.0
#: Global batch when a goal states none: the power of two nearest to 4M tokens per step (GPT-3 used 3.2M,
#: Llama 3 405B 4M rising to 16M; Brown et al. 2020 Table 2.1, Dubey et al. 2024 sec. 3.4.1).
DEFAULT_TOKENS_PER_STEP = 4_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Goal:
    id: str
    model: ModelSpec
    tokens: float
    deadline_days: float
    global_batch_size: int
    precision: str = "bf16"


@dataclass(frozen=True, slots=True, kw_only=True)
class Serving:
    id: str
    model: ModelSpec
    tokens_per_s: float
    """Output tokens/s to serve (= rate * output_len)."""
    precision: str = "bf16"
    rate: float | None = None
    """Requests/s; null = tokens_per_s / output_len."""
    input_len: float = 2048.0
    """Prompt tokens per request (stated default when the centre file gives none)."""
    output_len: float = 256.0
    """Output tokens per request (stated default when the centre file gives none)."""
    ttft_ms: float | None = None
    """p99 time-to-first-token limit; null = none."""
    tpot_ms: float | None = None
    """p99 time-per-output-token limit; null = none."""
    framework: str = "TensorRT-LLM"
    """The engine whose defaults size it (`wanka.serve.params.engine_defaults`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    accelerator: Accelerator
    available: int
    unit_price_usd: float
    tdp_w: float
    reliability: Reliability
    existing: int = 0
    """Accelerators of this kind already on the site (`site.existing`): no capital cost."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkOption:
    topology: str
    radix: int = 64
    oversubscription: float = 1.0
    tiers: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    power_mw: float | None = None
    budget_usd: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Existing:
    """Accelerators already on the site."""

    accelerator: Accelerator
    count: int
    gpus_per_node: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Upgrade:
    """A hall upgrade the centre file offers: cooling and rack power at a price per rack."""

    name: str
    cooling: str
    rack_kw: float
    usd_per_rack: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """An existing data centre: power, rack power, cooling, racks, existing chips, upgrades."""

    power_mw: float | None
    rack_kw: float
    cooling: str
    racks: int | None
    existing: tuple[Existing, ...] = ()
    upgrades: tuple[Upgrade, ...] = ()

    def existing_of(self, acc_id: str) -> int:
        return sum(e.count for e in self.existing if e.accelerator.id == acc_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class CenterSpec:
    name: str
    goals: tuple[Goal, ...]
    serving: tuple[Serving, ...]
    candidates: tuple[Candidate, ...]
    networks: tuple[NetworkOption, ...]
    limits: Limits
    economics: Economics
    counts_per_candidate: int = 5
    mixed_fleets: bool = True
    site: Site | None = None
    """An existing data centre (`plan.site.Site`): rack power, cooling, racks and existing hardware."""
