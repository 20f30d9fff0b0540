"""Fusing a site's idle existing chips into a design's training job (`plan.fuse`)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from wanka.plan.center import design_center, parse_center
from wanka.plan.fuse import FUSE_TOP, _idle
from wanka.plan.site import parse_site

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "retrofit-existing-dc.yaml").read_text())


def _centre(**site) -> dict:
    d = copy.deepcopy(EXAMPLE)
    d["goals"][0].update(model="llama2-7b", tokens=2.0e11, global_batch_size=256)
    d["candidates"] = [c for c in d["candidates"] if c["accelerator"] == "h100-sxm"]
    d["counts_per_candidate"] = 2
    d["site"].update(site)
    return d


def test_idle_existing_chips_of_other_kinds() -> None:
    site = parse_site(EXAMPLE["site"])
    design = {"jobs": [{"accelerator": "ascend-910b", "count": 512}]}
    idle = {e.accelerator.id: n for e, n in _idle(site, design, "ascend-910b")}
    assert idle == {"v100-sxm": 1024}  # the job's own kind is not fused with itself
    design = {"jobs": [{"accelerator": "h100-sxm", "count": 64}]}
    idle = {e.accelerator.id: n for e, n in _idle(site, design, "h100-sxm")}
    assert idle == {"v100-sxm": 1024, "ascend-910b": 2048}


def test_top_designs_try_the_idle_existing_chips() -> None:
    res = design_center(parse_center(_centre()))
    tried = res["designs"][:FUSE_TOP]
    assert any("fused_existing" in a for a in res["assumptions"])
    for d in tried:
        job = d["jobs"][0]
        f = job["fused_existing"]
        assert d["fused_existing"] == f["helps"]
        if "reason" in f:
            continue
        own = job["accelerator"]
        assert f["accelerators"][own] <= job["count"]
        others = {k: v for k, v in f["accelerators"].items() if k != own}
        assert others and all(k in ("v100-sxm", "ascend-910b") for k in others)
        assert f["speedup"] == pytest.approx(f["tokens_per_s"] / f["alone_tokens_per_s"])
        assert f["alone_tokens_per_s"] >= job["tokens_per_s"]
        assert f["helps"] == (f["speedup"] > 1)
        if f["helps"]:
            assert f["time_to_train_days"] < job["time_to_train_days"]
    # a handful of H100s beside 2,048 idle Ascend 910B: fusing them pays
    assert any(d["jobs"][0]["fused_existing"].get("helps") for d in tried)
    for d in res["designs"][FUSE_TOP:]:
        assert "fused_existing" not in d


def test_no_existing_chips_nothing_to_fuse() -> None:
    res = design_center(parse_center(_centre(existing=[])))
    assert not any("fused_existing" in d for d in res["designs"])
