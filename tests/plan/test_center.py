"""The centre designer: parsing, count selection, designs, binding constraints and ranking."""

from __future__ import annotations

import copy

import pytest

from wanka.errors import CatalogError, ConfigError
from wanka.plan.center import CONSTRAINTS, design_center, nice_counts, parse_center

BASE = {
    "name": "t",
    "goals": [
        {
            "id": "g",
            "model": "llama2-7b",
            "tokens": 2.0e10,
            "deadline_days": 30,
            "global_batch_size": 256,
            "seq_len": 2048,
        }
    ],
    "candidates": [
        {"accelerator": "h100-sxm", "available": 64, "unit_price_usd": 25000},
        {"accelerator": "a100-80gb", "available": 64, "unit_price_usd": 15000},
    ],
    "network": {"options": ["fat-tree"]},
    "limits": {"power_mw": 1.0, "budget_usd": 1.0e8},
    "counts_per_candidate": 3,
}


def spec(**over):
    d = copy.deepcopy(BASE)
    d.update(over)
    return parse_center(d)


def test_nice_counts():
    assert nice_counts(8, 100) == [8, 16, 24, 32, 40, 48, 64, 80, 96]
    assert nice_counts(8, 7) == []


@pytest.mark.parametrize(
    "over, err",
    [
        ({"goals": []}, ConfigError),  # no goal
        ({"colour": 1}, ConfigError),  # unknown key
        (
            {"candidates": [{"accelerator": "h100-typo", "available": 8}]},
            CatalogError,
        ),  # unknown chip
        ({"candidates": [{"accelerator": "h100-sxm", "available": 0}]}, ConfigError),  # zero count
        (
            {"candidates": [{"accelerator": "h800", "available": 8}]},
            ConfigError,
        ),  # no catalog price
        ({"network": {"options": ["hypercube"]}}, ConfigError),  # unknown topology
        ({"limits": {"power_mw": -3}}, ConfigError),  # negative limit
    ],
)
def test_bad_centres(over, err):
    with pytest.raises(err):
        spec(**over)


def test_designs_are_ranked_and_complete():
    """Every design carries the contract keys; those meeting all constraints come first, cheapest first."""
    r = design_center(spec())
    ds = r["designs"]
    assert {d["accelerator"] for d in ds} >= {"h100-sxm", "a100-80gb"}
    for d in ds:
        for k in (
            "accelerator",
            "count",
            "fabric",
            "parallelism",
            "time_to_train_days",
            "capex_usd",
            "power_mw",
            "cost_per_million_tokens_usd",
            "binding_constraint",
        ):
            assert k in d
        assert d["binding_constraint"] in CONSTRAINTS
    meets = [d["meets_all_constraints"] for d in ds]
    assert meets == sorted(meets, reverse=True)
    ok = [d["cost_per_million_tokens_usd"] for d in ds if d["meets_all_constraints"]]
    assert ok == sorted(ok)
    best = ds[0]
    assert best["meets_all_constraints"]
    p = best["parallelism"]
    assert p["tp"] * p["pp"] * p["cp"] * p["dp"] == best["jobs"][0]["count"]
    # capex = accelerators + nodes + fabric
    assert best["capex_usd"] == pytest.approx(sum(best["capex_breakdown"].values()))


def test_cost_per_million_tokens_follows_price_and_depreciation():
    """Moving one economic input moves the cost by exactly its part: the energy price scales only the
    energy term (the design itself does not change), the depreciation period only the capex term."""

    def best(**eco):
        r = design_center(spec(serving=None, economics=eco))
        return r["designs"][0]

    base = best(electricity_usd_per_kwh=0.05, depreciation_years=4)
    dearer = best(electricity_usd_per_kwh=0.15, depreciation_years=4)
    shorter = best(electricity_usd_per_kwh=0.05, depreciation_years=2)
    assert dearer["id"] == base["id"] == shorter["id"]
    mtok = 2.0e10 / 1e6
    energy_per_mtok = base["energy_mwh"] * 1000 * 0.10 / mtok  # the $0.10/kWh difference
    assert dearer["cost_per_million_tokens_usd"] - base["cost_per_million_tokens_usd"] == (
        pytest.approx(energy_per_mtok, rel=1e-9)
    )
    capex_per_mtok_4y = base["capex_usd"] * base["time_to_train_days"] / (4 * 365) / mtok
    assert shorter["cost_per_million_tokens_usd"] - base["cost_per_million_tokens_usd"] == (
        pytest.approx(capex_per_mtok_4y, rel=1e-9)
    )  # 2 years instead of 4: the capex share doubles
    assert base["energy_mwh"] == pytest.approx(base["power_mw"] * base["time_to_train_days"] * 24)


def test_unreachable_deadline_is_an_answer():
    """A deadline no available count reaches names availability (or the deadline) and the shortfall."""
    r = design_center(spec(goals=[{**BASE["goals"][0], "tokens": 1e13, "deadline_days": 1}]))
    assert not any(d["meets_all_constraints"] for d in r["designs"])
    top = r["designs"][0]
    assert top["binding_constraint"] in ("availability", "deadline") and top["binding_margin"] < 0
    assert "available" in top["binding_detail"] or "deadline" in top["binding_detail"]


def test_model_that_never_fits_is_an_answer():
    """A 1T model on 8 accelerators: memory binds, and the report says by how much."""
    r = design_center(
        spec(
            goals=[
                {
                    "id": "huge",
                    "model": "megatron-1t",
                    "tokens": 1e11,
                    "deadline_days": 30,
                    "global_batch_size": 8,
                }
            ],
            candidates=[{"accelerator": "h100-sxm", "available": 8, "unit_price_usd": 25000}],
        )
    )
    d = r["designs"][0]
    assert d["binding_constraint"] == "memory" and not d["meets_all_constraints"]
    assert "GiB" in d["binding_detail"]


def test_mixed_fleet_with_serving():
    """With serving demand, designs that train on one chip and serve on the other appear."""
    serving = [{"model": "llama2-7b", "tokens_per_s": 5e4, "input_len": 512, "output_len": 256}]
    r = design_center(spec(serving=serving))
    mixed = [d for d in r["designs"] if d.get("mixed")]
    assert mixed and all("+" in d["accelerator"] for d in mixed)
    roles = {tuple(f["roles"]) for d in mixed for f in d["fleet"]}
    assert ("training",) in roles and ("serving",) in roles


def test_typed_plan_is_the_json_object():
    """plan_center's typed designs are ranked by rank_key, priced consistently, and to_dict is exactly
    the design_center object (no site: nothing is applied after it)."""
    from wanka.plan.center import plan_center
    from wanka.plan.design import rank_key
    from wanka.plan.records import TrainingJob

    s = spec(candidates=[BASE["candidates"][0]])
    typed = plan_center(s)
    assert typed.designs and list(typed.designs) == sorted(typed.designs, key=rank_key)
    for d in typed.designs:
        assert d.capex_breakdown is not None
        assert d.capex_usd == pytest.approx(sum(d.capex_breakdown.values()))
        assert d.count == sum(f["count"] for f in d.fleet)
        train = [j for j in d.jobs if isinstance(j, TrainingJob)]
        assert train and d.time_to_train_days == max(j.time_to_train_days for j in train)
    out, ref = typed.to_dict(), design_center(s)
    out.pop("seconds"), ref.pop("seconds")
    for a, b in zip(out["designs"], ref["designs"]):
        for j, k in zip(a["jobs"], b["jobs"]):
            j["search"].pop("seconds"), k["search"].pop("seconds")
    assert out == ref
    assert [d["rank"] for d in out["designs"]] == list(range(1, len(out["designs"]) + 1))


def test_serve_and_plan_share_one_economics():
    """serve.plan prices deployments with the same Economics a centre file states (one home)."""
    from wanka.catalogs.economics import Economics
    from wanka.serve.plan import CostAssumptions

    assert CostAssumptions is Economics
    eco = spec(economics={"pue": 1.5, "electricity_usd_per_kwh": 0.1}).economics
    assert isinstance(eco, Economics) and (eco.pue, eco.electricity_usd_per_kwh) == (1.5, 0.1)
    hot, cool = Economics(pue=1.5), Economics(pue=1.1)
    assert hot.hourly_usd(25_000, 700) > cool.hourly_usd(25_000, 700)
    free = dict(electricity_usd_per_kwh=1e-12)  # energy (nearly) free: the PUE no longer matters
    assert Economics(pue=1.5, **free).hourly_usd(25_000, 700) == pytest.approx(
        Economics(pue=1.1, **free).hourly_usd(25_000, 700)
    )


def test_serving_demand_no_candidate_can_host_names_the_job_and_why():
    """A serving demand beyond every candidate's availability: no design can host it, and the error
    says which job and why on each chip (before, the training goal was blamed: 'no count admits a
    layout'). A TTFT limit no chip reaches names the binding limit instead."""
    big = [{"id": "chat", "model": "llama2-7b", "tokens_per_s": 5e7, "input_len": 512,
            "output_len": 256}]  # fmt: skip
    with pytest.raises(ConfigError, match="serving job 'chat' fits on no candidate chip") as e:
        design_center(spec(serving=big))
    assert "capacity binds" in str(e.value) and "within the 64 available" in str(e.value)
    tight = [{**big[0], "tokens_per_s": 5e4, "ttft_ms": 0.5}]
    with pytest.raises(ConfigError, match="ttft binds"):
        design_center(spec(serving=tight))
