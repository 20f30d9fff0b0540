"""Folded Clos in closed form (`clos_counts`), the rule (fat-tree, rail-optimized, rail-only, multi-plane): a tier-t block groups up to
`down_t` tier-(t-1) blocks; switch j of every sub-block connects to "plane" j of the block. Below the
top, a plane always has u switches (one link from each sub-block switch to each: Al-Fares pods keep
k/2 aggregation switches). The TOP tier of a plane joining n_sub lower switches with u uplinks each
follows one of two rules (`spread`):
    "fewest": c = ceil(n_sub * u / k)                                              (fewest rule)
        the fewest top switches with enough ports: each lower switch deals its u uplinks round-robin
        over the c top switches (one shared counter per plane), so when c does not divide u some top
        switches get one more parallel link from a given lower switch than others, and no top switch
        has more than k links. This is the textbook folded-Clos arithmetic: at full pods it is the
        pro-rata count (2n-1)(k/2)^(n-1) x N / (2(k/2)^n) of Al-Fares et al. (SIGCOMM 2008), e.g.
        10,240 endpoints on k=64 in 3 tiers = 10 pods -> 320 + 320 + 160 = 800 switches, and
        10,000 on k=144 in 2 tiers -> 139 leaf + 70 spine = 209 (research/network.md §1.1).
    "even": c = min{d | u mod d == 0, d >= ceil(n_sub * u / k)}                    (balance rule)
        the smallest divisor of u with enough ports, so every lower switch spreads its uplinks evenly
        (u/c parallel links per top switch). This is NVIDIA DGX SuperPOD practice: H100 RA Table 4:
        760 GPUs -> 24 leaf + 16 spine (fewest: 12); B300 XDR k=144 RA Table 3: 4 SU -> 32 leaf +
        18 spine (fewest: 16), 8 SU -> 64 + 36 (fewest: 32). Same numbers: 10,240 -> 896, 10,000 -> 211.
Defaults (`DEFAULT_SPREAD`): fat-tree "fewest" (textbook Clos); rail-optimized "even" (the SuperPOD
tables it reproduces); rail-only and multi-plane "fewest" (each rail / plane is a plain fat-tree; their
published rows are full rails, where both rules agree). Both rules agree whenever c divides u, e.g. at
full blocks (Al-Fares exactly: 2(k/2)^n hosts on (2n-1)(k/2)^(n-1) switches) and for B200: 8,192 GPUs
-> 256 + 256 + 128. With the balance rule the top tier is non-blocking; with the fewest rule the uneven
multiplicities can block saturated lower switches, and the bisection closed form (`bisection.clos_bisection_links`)
then takes the exact max-flow of one top plane. Both equal the networkx max-flow of the built graph
(`graphs.build_graph`, same round-robin wiring; property tests draw both rules).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from wanka.errors import ConfigError

__all__ = ["DEFAULT_SPREAD", "MAX_TIERS", "SPREADS", "ClosCounts", "clos_counts"]

MAX_TIERS = 6
"""Deepest folded Clos searched when `tiers` is not given."""
SPREADS = ("fewest", "even")
"""Top-tier rules of a folded Clos (module docstring): fewest top switches, or uplinks spread evenly."""
DEFAULT_SPREAD = {
    "fat-tree": "fewest",
    "rail-optimized": "even",
    "rail-only": "fewest",
    "multi-plane": "fewest",
}
"""Top-tier rule per Clos-based topology when `spread` is not given (module docstring: why)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosCounts:
    """Switch and link counts of one folded Clos (closed form)."""

    tiers: int
    switches_per_tier: tuple[int, ...]
    """Leaf tier first."""
    links_per_tier: tuple[int, ...]
    """Host-leaf links first, then leaf-spine, spine-core, ..."""
    max_leaves: int
    """Leaves the chosen tiers can hold."""
    spread: str = "even"
    """Top-tier rule used: "fewest" or "even" (module docstring)."""


def _split(k: int, r: float) -> tuple[int, int]:
    """(down, up) ports of a radix-k switch with down:up taper r (r = 1: k/2 and k/2)."""
    down = math.floor(k * r / (r + 1.0) + 1e-9)  # 1e-9: floor tolerance for r = 1
    return down, k - down


def _balanced(u: int, need: int) -> int:
    """Smallest divisor of u that is >= need (the balance rule in the module docstring)."""
    for d in range(max(need, 1), u + 1):
        if u % d == 0:
            return d
    return u


def _top_switches(u: int, need: int, spread: str) -> int:
    """Top switches of one plane whose lower switches need `need` top switches' worth of ports."""
    return max(need, 1) if spread == "fewest" else _balanced(u, need)


def _check_spread(spread: str) -> str:
    if spread not in SPREADS:
        raise ConfigError(f"unknown spread {spread!r}; choose from {', '.join(SPREADS)}")
    return spread


def _tapers(oversubscription: float | Sequence[float], n: int) -> tuple[float, ...]:
    """Per-tier taper for tiers 1..n-1: a scalar applies to the leaf only; a list from the leaf up."""
    if isinstance(oversubscription, (int, float)):
        seq = [float(oversubscription)]
    else:
        seq = [float(x) for x in oversubscription]
    if len(seq) > max(n - 1, 1):
        raise ConfigError(
            f"{len(seq)} oversubscription values given for a {n}-tier fabric "
            f"(at most {max(n - 1, 1)}: one per tier below the top)"
        )
    seq += [1.0] * (n - 1 - len(seq))
    return tuple(seq[: max(n - 1, 0)])


def _ports(k: int, tapers: tuple[float, ...]) -> tuple[list[int], list[int]]:
    """down[t], up[t] for t = 1..n-1 (index 0 unused); the top tier has k down ports."""
    down, up = [0], [0]
    for r in tapers:
        d, u = _split(k, r)
        down.append(d)
        up.append(u)
    return down, up


def _cap_leaves(k: int, down: list[int], n: int) -> list[int]:
    """cap[t]: leaves one tier-t block holds (cap[1] = 1; the top tier holds k sub-blocks)."""
    cap = [0, 1]
    for t in range(2, n + 1):
        cap.append(cap[t - 1] * (k if t == n else down[t]))
    return cap


def clos_counts(
    leaves: int,
    hosts: int,
    *,
    radix: int,
    tiers: int,
    oversubscription: float | Sequence[float] = 1.0,
    spread: str = "even",
) -> ClosCounts:
    """Switches and links per tier of an n-tier folded Clos holding `leaves` leaf switches.

    Args:
        leaves: leaf switches (tier 1) that must be joined, >= 1.
        hosts: endpoints on those leaves (the host-leaf link count).
        radix: switch ports k (even).
        tiers: n >= 1; with n = 1 the single switch is the leaf (`leaves` must be 1).
        oversubscription: taper per tier below the top (scalar: leaf only).
        spread: top-tier rule, "even" (balance rule, the default here: NVIDIA SuperPOD tables) or
            "fewest" (ceil(n_sub u / k) per plane: textbook Clos); see the module docstring.

    Full blocks: (2n-1)(k/2)^(n-1) switches for 2(k/2)^n hosts (Al-Fares et al. SIGCOMM 2008,
    generalised, either rule); partial blocks by the chosen top-tier rule.
    """
    n, k = tiers, radix
    _check_spread(spread)
    if n == 1:
        if leaves != 1:
            raise ConfigError(f"a 1-tier fabric is one switch; {leaves} leaves need more tiers")
        return ClosCounts(
            tiers=1, switches_per_tier=(1,), links_per_tier=(hosts,), max_leaves=1, spread=spread
        )
    tapers = _tapers(oversubscription, n)
    down, up = _ports(k, tapers)
    cap = _cap_leaves(k, down, n)
    if leaves > cap[n]:
        raise ConfigError(f"{leaves} leaves exceed the {cap[n]} a {n}-tier radix-{k} Clos can join")
    memo: dict[tuple[int, int], tuple[tuple[int, ...], int]] = {}

    def block(t: int, m: int) -> tuple[tuple[int, ...], int]:
        """(switches per tier 1..t, tier-t switches) of a tier-t block joining m leaves."""
        if t == 1:
            return (1,), 1
        if (t, m) in memo:
            return memo[(t, m)]
        nfull, rem = divmod(m, cap[t - 1])
        full, p_full = block(t - 1, cap[t - 1]) if nfull else ((0,) * (t - 1), 0)
        part, p_part = block(t - 1, rem) if rem else ((0,) * (t - 1), 0)
        u, d_t = up[t - 1], (k if t == n else down[t])
        planes = p_full if nfull else p_part
        hi = p_part if rem else 0  # planes that also reach the partial sub-block
        lo = planes - hi
        if (
            t < n
        ):  # a pod (any non-top block) keeps all u switches per plane: Al-Fares pods, SuperPOD
            c_hi, c_lo = (u if hi else 0), (u if lo else 0)
        else:  # the top tier: fewest or balance rule (`spread`)
            c_hi = _top_switches(u, -(-(nfull + 1) * u // d_t), spread) if hi else 0
            c_lo = _top_switches(u, -(-nfull * u // d_t), spread) if lo else 0
        top = hi * c_hi + lo * c_lo
        counts = tuple(nfull * a + b for a, b in zip(full, part)) + (top,)
        memo[(t, m)] = (counts, top)
        return counts, top

    sw, _ = block(n, leaves)
    links = (hosts,) + tuple(sw[t - 1] * up[t] for t in range(1, n))
    return ClosCounts(
        tiers=n, switches_per_tier=sw, links_per_tier=links, max_leaves=cap[n], spread=spread
    )


def _clos_capacity(
    k: int, n: int, d1: int, oversubscription: float | Sequence[float], rails: int = 1
) -> int:
    """Endpoints an n-tier Clos holds with d1 hosts per leaf (rail-optimized: rails leaves per SU)."""
    if n == 1:
        return k if rails == 1 else 0
    down, _ = _ports(k, _tapers(oversubscription, n))
    cap = _cap_leaves(k, down, n)[n]
    return (cap // rails) * rails * d1
