"""One home for layout validity: predict, the run-spec check, the search and the simulator's job-speed
model give the same verdicts and the same reasons on the same 10,000 random layouts, and the search enumerates exactly the layouts
that its rules (validity + its own space rules) admit."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.parallel import ParallelPlan, layout_reasons
from wanka.perf import PlanArrays, evaluate
from wanka.perf.step import plan_problems
from wanka.search.rules import space_problems
from wanka.search.space import space_dims, structural_candidates
from wanka.sim.speed import layout_speeds
from wanka.workload.presets import get_model

# (preset, accelerators, global batch): a GQA dense model, an MoE, an MLA MoE with MTP, a hybrid Mamba
CASES = [
    ("llama3-8b", 64, 256),
    ("mixtral-8x7b", 64, 512),
    ("deepseek-v3", 256, 1024),
    ("nemotron3-nano-30b-a3b", 64, 512),
]
N_PER_CASE = 2500  # 10,000 layouts in all
DEGREES = ("tp", "pp", "vpp", "cp", "ep", "etp", "dp", "micro_batch_size")


def random_layouts(rng: np.random.Generator, n: int, count: int) -> dict[str, np.ndarray]:
    """Degrees drawn from divisors and non-divisors; dp mostly completes the count, sometimes not."""
    pick = lambda vals: rng.choice(np.asarray(vals, dtype=np.int64), n)
    c = {
        "tp": pick([1, 2, 3, 4, 6, 8, 16, 32]),
        "pp": pick([1, 2, 3, 4, 5, 8, 16, 32, 64]),
        "vpp": pick([1, 1, 1, 2, 3, 4, 5, 8, 16]),
        "cp": pick([1, 1, 2, 3, 4, 8]),
        "ep": pick([1, 1, 2, 3, 4, 8, 16, 32, 64]),
        "etp": pick([1, 1, 2, 4, 8]),
        "micro_batch_size": pick([1, 2, 3, 4]),
    }
    fill = np.maximum(count // (c["tp"] * c["pp"] * c["cp"]), 1)
    c["dp"] = np.where(rng.random(n) < 0.7, fill, pick([1, 2, 3, 4, 8]))
    return c


def _check_reasons(model, row: dict[str, int], count: int, gbs: int) -> list[str]:
    """What the run-spec path (`ParallelPlan.check`, strict) says about one layout."""
    plan = ParallelPlan(**row, global_batch_size=gbs)
    try:
        plan.check(count=count, model=model, strict_experts=True)
    except ConfigError as e:
        return str(e).split("; ")
    return []


@pytest.mark.parametrize(("preset", "count", "gbs"), CASES)
def test_predict_and_search_agree_on_random_layouts(preset: str, count: int, gbs: int) -> None:
    model = get_model(preset)
    acc = get_accelerator("h100-sxm")
    rng = np.random.default_rng(sum(preset.encode()))
    cols = random_layouts(rng, N_PER_CASE, count)
    plans = PlanArrays.of(**cols)
    seq = model.seq_len
    dims = space_dims(model, count=count, global_batch_size=gbs, max_etp=acc.scaleup_domain)
    for strict in (True, False):
        res = evaluate(
            model,
            acc,
            plans,
            count=count,
            gpus_per_node=8,
            global_batch_size=gbs,
            seq_len=seq,
            precision="bf16",
            strict_experts=strict,
        )
        sdims = dims if strict else type(dims)(**{**_fields(dims), "strict_experts": False})
        search = [
            p
            for p in space_problems(
                model, sdims, cols, count=count, global_batch_size=gbs, seq_len=seq
            )
            if not p.rule.startswith("space:")
        ]
        search_valid = ~np.logical_or.reduce([p.bad for p in search if p.fatal] or [[False]])
        assert np.array_equal(res.valid, np.broadcast_to(search_valid, res.valid.shape))
        sim = layout_speeds(
            model, acc, plans, count=count, global_batch_size=gbs, strict_experts=strict
        )
        assert np.array_equal(sim.valid, res.valid)
        assert np.array_equal(sim.tokens_per_s_per_gpu, res.tokens_per_s_per_gpu, equal_nan=True)
        for i in range(N_PER_CASE):
            predict_reasons = plan_problems(
                model,
                plans,
                i,
                count=count,
                global_batch_size=gbs,
                seq_len=seq,
                strict_experts=strict,
            )
            assert predict_reasons == layout_reasons(search, i, fatal=True)
            assert list(sim.reasons[i]) == predict_reasons
            assert bool(res.valid[i]) == (not predict_reasons)
            if strict and i % 5 == 0:  # the run-spec path, on a fifth of the rows (it is slower)
                row = {k: int(cols[k][i]) for k in DEGREES}
                assert _check_reasons(model, row, count, gbs) == predict_reasons
    assert (~res.valid).sum() > N_PER_CASE // 10 and res.valid.sum() > 0  # both verdicts occur


def _fields(dims) -> dict:
    return {f: getattr(dims, f) for f in dims.__dataclass_fields__}


@pytest.mark.parametrize(("preset", "count", "gbs"), [CASES[0], CASES[3]])
def test_search_enumerates_exactly_what_its_rules_admit(preset: str, count: int, gbs: int) -> None:
    """structural_candidates (built column by column) == the layouts with no problem at all, and
    every layout it enumerates is valid for predict."""
    model = get_model(preset)
    acc = get_accelerator("h100-sxm")
    seq = model.seq_len
    dims = space_dims(model, count=count, global_batch_size=gbs, max_etp=acc.scaleup_domain)
    s = structural_candidates(model, dims, count=count, global_batch_size=gbs, seq_len=seq)
    enumerated = set(zip(*(s[k].tolist() for k in DEGREES)))
    cols = random_layouts(np.random.default_rng(7), 4000, count)
    problems = space_problems(model, dims, cols, count=count, global_batch_size=gbs, seq_len=seq)
    admitted = ~np.logical_or.reduce([p.bad for p in problems if p.fatal])
    rows = list(zip(*(cols[k].tolist() for k in DEGREES)))
    assert [r in enumerated for r in rows] == admitted.tolist()
    assert admitted.sum() > 0
    res = evaluate(
        model,
        acc,
        PlanArrays.of(**s),
        count=count,
        gpus_per_node=8,
        global_batch_size=gbs,
        seq_len=seq,
        precision="bf16",
    )
    assert res.valid.all()
