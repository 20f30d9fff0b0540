"""The stated economics of a centre: node overhead, host power, PUE, electricity price, depreciation.

One home for the constants `wanka plan` (capex, energy, cost per million training tokens) and
`wanka serve plan` (hourly cost of a deployment) both use. Each default is overridable in a centre file's
`economics` block. Sources:
- node overhead 40% of the accelerator price: an 8xH100 server with 8x400G NICs costs ~$310k (network.md
  sec. 2.1, Aug-2024 sheet / Thinkmate quote) against 8 x $25k of GPUs, i.e. +55%; NICs and the NVSwitch
  baseboard (~15 points) are priced in the fabric design, so 40% remains for chassis, CPUs, DRAM, storage;
- host power 0.82 x accelerator TDP: ~575 W per H100 of CPU, NIC and PSU on top of its 700 W (network.md
  sec. 2.2, SemiAnalysis "100,000 H100 Clusters");
- PUE 1.3 (assumption: a modern AI hall; the 100k-H100 figure in network.md implies ~1.3-1.5);
- electricity $0.078/kWh (network.md sec. 2.2, SemiAnalysis: $123.9M/yr for 1.59 TWh);
- capex depreciated straight-line over 4 years (assumption; hyperscalers state 5-6 years for servers).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HOURS_PER_YEAR", "Economics"]

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Economics:
    node_overhead_fraction: float = 0.40
    host_power_fraction: float = 0.82
    pue: float = 1.3
    electricity_usd_per_kwh: float = 0.078
    depreciation_years: float = 4.0
    facility_usd_per_mw: float = 0.0
    """Optional building/power capex per MW of facility power (0 = not counted)."""
    serving_efficiency: float = 0.15
    """Unused since serving demand is sized by `wanka.serve`; kept so existing centre files still read."""

    def hourly_usd(self, price_usd: float, tdp_w: float) -> float:
        """One accelerator's cost per hour: its node-inclusive capex over the depreciation period plus
        the energy of its share of the hall (chip + host power, times PUE)."""
        capex = (
            price_usd
            * (1.0 + self.node_overhead_fraction)
            / (self.depreciation_years * HOURS_PER_YEAR)
        )
        power_kw = tdp_w * (1.0 + self.host_power_fraction) * self.pue / 1000.0
        return capex + power_kw * self.electricity_usd_per_kwh
