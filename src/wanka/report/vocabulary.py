"""One JSON vocabulary for every `--json` output (docs/json.md).

Contract keys (docs/design.md, the checks in CI) never change. Where a contract or an older output
names an idea with another word, the canonical key is written beside it with the same value, so a
script can use one word everywhere:

| alias (kept) | canonical | idea |
|---|---|---|
| `gpus`, `endpoints` | `accelerators` | accelerators in the cluster or group |
| `seconds` | `wall_s` | wall-clock time the command took |

`canonical(obj)` adds those keys everywhere in a JSON object; `cli.common.print_json` calls it, so
every command's `--json` carries them. `count` (the run spec's `hardware.count`) gets no
`accelerators` beside it: objects shaped like a run spec (`import --json`, the search, sweep and
plan rows that echo one) must stay valid run specs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALIASES", "FRACTION_KEYS", "canonical"]

ALIASES: tuple[tuple[str, str, str | None], ...] = (
    ("gpus", "accelerators", None),
    ("endpoints", "accelerators", None),
    ("seconds", "wall_s", None),
)
"""(alias, canonical key, a key that must sit beside the alias for it to mean this idea)."""

FRACTION_KEYS = frozenset(
    {
        "mfu",
        "utilization",
        "share",
        "network_share_of_capex",
        "goodput_lost_frac",
        "host_power_fraction",
        "node_overhead_fraction",
        "serving_efficiency",
    }
)
"""Keys whose values are fractions (0.47 means 47 %), never percentages; also any `*_frac(tion)`
and every number inside an `efficiency` object (the software efficiencies `gemm`, `attention`, ...)."""


def canonical(obj: Any) -> Any:
    """A copy of `obj` in which every dict holding an alias also holds its canonical key."""
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: canonical(v) for k, v in obj.items()}
    for alias, key, beside in ALIASES:
        v = out.get(alias)
        if beside is not None and beside not in out:
            continue
        if key not in out and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = v
    return out
