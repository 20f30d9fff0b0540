"""The chips existing centres hold: each is in the catalog with sourced peaks, memory and a server."""

import pytest

from wanka.catalogs import accelerators, load_data
from wanka.hardware import COOLING

EXISTING = [
    "t4",
    "a10",
    "l4",
    "l40s",
    "a6000",
    "p100",
    "rtx-2080",
    "titan-rtx",
    "rtx-3090",
    "rtx-4090",
]
DOMESTIC = ["iluvatar-bi-v100", "hygon-k100-ai"]


@pytest.mark.parametrize("cid", EXISTING + DOMESTIC)
def test_chip_has_sourced_peaks_memory_and_bandwidth(cid: str) -> None:
    acc = accelerators()[cid]
    assert acc.sources and all(s.startswith("https://") for s in acc.sources)
    assert acc.peak("fp16") > acc.peak_flops["fp32"] > 0
    assert acc.hbm_bytes > 0 and acc.hbm_bw_bytes_per_s > 0


def test_every_server_states_power_units_cooling_and_source() -> None:
    with_server = [a for a in accelerators().values() if a.server is not None]
    assert len(with_server) >= 30
    for a in with_server:
        s = a.server
        assert s.kw > 0 and 1 <= s.rack_units <= 48 and s.cooling in COOLING and s.source
        if s.confidence == "derived":  # accelerators x TDP x host factor
            assert s.kw == pytest.approx(s.accelerators * a.tdp_w * 1.805 / 1000, abs=0.01)


def test_server_facts_of_the_issue() -> None:
    accs = accelerators()
    assert accs["h100-sxm"].server.kw == 10.2 and accs["h100-sxm"].server.cooling == "air"
    nvl = accs["gb200"].server
    assert nvl.cooling == "liquid" and 120 <= nvl.kw <= 145 and nvl.accelerators == 72
    sites = load_data("sites.yaml")
    assert (
        sites["cooling"]["air"]["max_rack_kw"] <= 20 < sites["cooling"]["rear-door"]["max_rack_kw"]
    )
    assert all(v["source"] for v in sites["cooling"].values())
