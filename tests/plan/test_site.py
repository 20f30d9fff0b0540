"""Existing sites in `plan`: rack power, cooling, racks, existing hardware, upgrades."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.plan.center import design_center, parse_center
from wanka.plan.site import parse_site, place

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "retrofit-existing-dc.yaml").read_text())


def _small(**site) -> dict:
    d = copy.deepcopy(EXAMPLE)
    d["goals"][0].update(model="llama2-7b", tokens=2.0e11, global_batch_size=256)
    d["candidates"] = [c for c in d["candidates"] if c["accelerator"] in ("h100-sxm", "gb200")]
    d["counts_per_candidate"] = 2
    d["site"].update(site)
    return d


def test_place_by_rack_power_units_and_cooling() -> None:
    h100 = get_accelerator("h100-sxm")
    p = place(h100, 64, rack_kw=12, cooling="air")  # one 10.2 kW DGX per 12 kW rack
    assert p["servers"] == 8 and p["servers_per_rack"] == 1 and p["racks"] == 8
    assert place(h100, 64, rack_kw=35, cooling="rear-door")["servers_per_rack"] == 3
    assert "10.2 kW" in place(h100, 8, rack_kw=8, cooling="air")["problem"]
    nvl = place(get_accelerator("gb200"), 144, rack_kw=12, cooling="air")
    assert "liquid" in nvl["problem"]
    assert place(get_accelerator("gb200"), 144, rack_kw=132, cooling="liquid")["racks"] == 2


def test_air_site_excludes_nvl72_and_liquid_admits_it() -> None:
    air = design_center(parse_center(_small()))
    assert all(d["site"]["fits_site"] for d in air["designs"])
    assert not any("gb200" in d["accelerator"] for d in air["designs"])
    assert any("liquid" in e["reason"] for e in air["excluded_by_site"])
    for d in air["designs"]:
        assert d["site"]["rack_kw_max"] <= 12 and d["site"]["cooling"] == "air"
    liquid = design_center(parse_center(_small(cooling="liquid", rack_kw=132)))
    assert any("gb200" in d["accelerator"] for d in liquid["designs"])


def test_existing_chips_are_free_kept_or_retired() -> None:
    d = _small()
    d["candidates"].append(
        {"accelerator": "ascend-910b", "available": 256, "unit_price_usd": 16000}
    )
    res = design_center(parse_center(d))
    for des in res["designs"]:
        for f in des["fleet"]:
            if f["accelerator"] == "ascend-910b":
                assert f["existing"] == min(f["count"], 2048)
        used_v100 = sum(f["count"] for f in des["fleet"] if f["accelerator"] == "v100-sxm")
        retired = {r["accelerator"]: r["count"] for r in des["retired"]}
        assert retired.get("v100-sxm", 0) == 1024 - used_v100
    v100_only = [x for x in res["designs"] if x["accelerator"] == "v100-sxm"]
    assert v100_only and all(x["capex_breakdown"]["accelerators_usd"] == 0 for x in v100_only)


def test_site_where_nothing_fits_names_the_limit() -> None:
    d = _small(rack_kw=3, upgrades=[])
    with pytest.raises(ConfigError, match="no design fits the site: .*kW"):
        design_center(parse_center(d))


@pytest.mark.parametrize(
    ("site", "text"),
    [
        ({"rack_kw": 12, "cooling": "water"}, "air, rear-door, liquid"),
        ({"rack_kw": -1, "cooling": "air"}, "positive"),
        ({"cooling": "air"}, "missing key"),
        (
            {"rack_kw": 12, "cooling": "air", "existing": [{"accelerator": "v10", "count": 8}]},
            "closest",
        ),
    ],
)
def test_bad_site_blocks(site: dict, text: str) -> None:
    with pytest.raises(Exception, match=text):
        parse_site(site)
