"""Enumeration invariants of the search space (space.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wanka.errors import ConfigError
from wanka.parallel import ParallelPlan
from wanka.search.space import (
    COLUMNS,
    contains,
    count_candidates,
    divisors,
    iter_candidates,
    space_dims,
    structural_candidates,
)
from wanka.workload.model import ModelSpec, MoESpec


def test_divisors():
    """divisors() lists every divisor once, ascending."""
    assert divisors(1) == [1]
    assert divisors(36) == [1, 2, 3, 4, 6, 9, 12, 18, 36]
    with pytest.raises(ConfigError):
        divisors(0)


def test_space_is_product_of_dimensions(tiny_model):
    """`space` counts the cartesian product of every candidate list before pruning."""
    d = space_dims(tiny_model, count=16, global_batch_size=32)
    n_div = len(divisors(16))
    assert d.size() == n_div**3 * 12 * 1 * 1 * len(divisors(32)) * 3 * 2 * 2 * 3


def _check_chunk(model, c, *, count, gbs, seq):
    tp, pp, cp, dp, vpp, ep, etp, mbs = (
        c[k] for k in ("tp", "pp", "cp", "dp", "vpp", "ep", "etp", "micro_batch_size")
    )
    assert np.all(tp * pp * cp * dp == count)
    assert np.all(model.heads % tp == 0)
    assert np.all((model.kv_heads % tp == 0) | (tp % model.kv_heads == 0))
    assert np.all((cp == 1) | (seq % (2 * cp) == 0))
    assert np.all(gbs % (mbs * dp) == 0)
    assert np.all(pp <= model.layers)
    assert np.all((vpp == 1) | (pp > 1))
    even = np.zeros(len(tp), dtype=bool)
    for e in range(4 + model.mtp_layers):
        even |= (model.layers + e) % (pp * vpp) == 0
    assert even.all()
    if model.moe is None:
        assert np.all((ep == 1) & (etp == 1))
    else:
        assert np.all(model.moe.experts % ep == 0)
        assert np.all((tp * cp * dp) % (ep * etp) == 0)
    assert np.all(~c["sequence_parallel"] | (tp > 1))
    assert np.all(~c["distributed_optimizer"] | (c["fsdp"] == 0))


@settings(max_examples=40, deadline=None)
@given(
    count_exp=st.tuples(st.integers(0, 6), st.integers(0, 1), st.integers(0, 1)),
    layers=st.integers(1, 40),
    heads_exp=st.integers(0, 5),
    kv_div=st.integers(0, 2),
    gbs_exp=st.integers(0, 8),
    seq_exp=st.integers(6, 12),
    moe=st.booleans(),
)
def test_every_candidate_obeys_the_rules(
    count_exp, layers, heads_exp, kv_div, gbs_exp, seq_exp, moe
):
    """Every emitted plan has tp*pp*cp*dp == count and satisfies each divisibility rule; counts agree."""
    count = 2 ** count_exp[0] * 3 ** count_exp[1] * 5 ** count_exp[2]
    heads = 2**heads_exp * 3
    kv = max(1, heads // 2**kv_div) if heads % 2**kv_div == 0 else heads
    gbs, seq = 2**gbs_exp * 3, 2**seq_exp
    model = ModelSpec(
        name="h",
        layers=layers,
        hidden=heads * 16,
        heads=heads,
        kv_heads=kv,
        ffn_hidden=64,
        vocab=100,
        seq_len=seq,
        moe=MoESpec(experts=8, top_k=2, expert_ffn=64) if moe else None,
        type="moe" if moe else "dense",
    )
    dims = space_dims(model, count=count, global_batch_size=gbs)
    n = 0
    for c in iter_candidates(
        model, dims, count=count, global_batch_size=gbs, seq_len=seq, chunk_size=5000
    ):
        assert set(c) == set(COLUMNS)
        _check_chunk(model, c, count=count, gbs=gbs, seq=seq)
        n += len(c["tp"])
    assert n == count_candidates(model, dims, count=count, global_batch_size=gbs, seq_len=seq)
    assert n <= dims.size()


def test_no_duplicates(tiny_model):
    """No candidate is emitted twice."""
    dims = space_dims(tiny_model, count=16, global_batch_size=64)
    rows = set()
    for c in iter_candidates(tiny_model, dims, count=16, global_batch_size=64, seq_len=256):
        for i in range(len(c["tp"])):
            key = tuple(c[k][i].item() for k in COLUMNS)
            assert key not in rows
            rows.add(key)


def test_brute_force_agrees(tiny_model):
    """The vectorised stages keep exactly the candidates a plain loop over the product would keep."""
    count, gbs, seq = 8, 16, 256
    dims = space_dims(
        tiny_model,
        count=count,
        global_batch_size=gbs,
        fsdp=("none",),
        recompute=("none",),
        distributed_optimizer=(True,),
        sequence_parallel=(False,),
    )
    got = {
        (int(a), int(b), int(c_), int(v), int(m))
        for c in iter_candidates(tiny_model, dims, count=count, global_batch_size=gbs, seq_len=seq)
        for a, b, c_, v, m in zip(c["tp"], c["pp"], c["cp"], c["vpp"], c["micro_batch_size"])
    }
    want = set()
    L = tiny_model.layers
    for tp, pp, cp, v, m in itertools.product(
        dims.tp, dims.pp, dims.cp, dims.vpp, dims.micro_batch_size
    ):
        if (
            count % (tp * pp * cp)
            or tiny_model.heads % tp
            or (tiny_model.kv_heads % tp and tp % tiny_model.kv_heads)
        ):
            continue
        dp = count // (tp * pp * cp)
        if (cp > 1 and seq % (2 * cp)) or pp > L or (v > 1 and pp == 1) or gbs % (m * dp):
            continue
        if not any((L + e) % (pp * v) == 0 for e in range(4)):
            continue
        want.add((tp, pp, cp, v, m))
    assert got == want


def test_contains_and_overrides(tiny_model):
    """A plan in the space is found; restricting a dimension removes it."""
    plan = ParallelPlan(
        tp=2,
        pp=2,
        vpp=2,
        cp=1,
        dp=4,
        micro_batch_size=2,
        global_batch_size=64,
        sequence_parallel=True,
        distributed_optimizer=True,
    )
    dims = space_dims(tiny_model, count=16, global_batch_size=64)
    assert contains(tiny_model, dims, plan, count=16, seq_len=256)
    dims2 = space_dims(tiny_model, count=16, global_batch_size=64, tp=(1, 4))
    assert not contains(tiny_model, dims2, plan, count=16, seq_len=256)


def test_bad_dimension_values(tiny_model):
    """Unknown modes and non-positive values are one-line ConfigErrors."""
    with pytest.raises(ConfigError):
        space_dims(tiny_model, count=8, global_batch_size=8, fsdp=("zero9",))
    with pytest.raises(ConfigError):
        space_dims(tiny_model, count=8, global_batch_size=8, tp=(0,))
    with pytest.raises(ConfigError):
        space_dims(tiny_model, count=0, global_batch_size=8)


def test_1t_space_at_least_calculon():
    """The 1T / 4096 A100 case has a larger space than Calculon's 7,276,848 (perf_tools.md)."""
    from wanka.workload.presets import get_model

    m = get_model("megatron-1t")
    d = space_dims(m, count=4096, global_batch_size=4096)
    assert d.size() >= 7_276_848
    s = structural_candidates(m, d, count=4096, global_batch_size=4096, seq_len=2048)
    assert len(s["tp"]) > 1000


def test_published_layouts_are_in_the_space():
    """For every validation run, `search --run`'s space contains the published layout."""
    import os

    from wanka.search.core import published_dims
    from wanka.spec import RunError, load_runs

    path = os.path.join(os.path.dirname(__file__), "..", "..", "validation", "training_runs.yaml")
    runs = [r for r in load_runs(path) if not isinstance(r, RunError)]
    # one run per distinct (model, count, layout) keeps this fast
    seen, missing = set(), []
    for r in runs:
        key = (r.model.name, r.hardware.count, r.parallelism)
        if key in seen:
            continue
        seen.add(key)
        d = published_dims(r)
        if not contains(r.model, d, r.parallelism, count=r.hardware.count, seq_len=r.model.seq_len):
            missing.append(r.id)
    assert not missing
    assert len(seen) > 50
    assert math.isfinite(len(runs))


def test_etp_capped_by_scaleup_domain(tiny_moe):
    """Expert tensor parallelism stays inside one scale-up domain; ep spans every divisor."""
    d = space_dims(tiny_moe, count=64, global_batch_size=64, max_etp=8)
    assert max(d.etp) == 8 and max(d.ep) == 64
    dense = space_dims(
        ModelSpec(
            name="d", layers=2, hidden=64, heads=4, kv_heads=4, ffn_hidden=128, vocab=10, seq_len=16
        ),
        count=64,
        global_batch_size=64,
        max_etp=8,
    )
    assert dense.ep == (1,) and dense.etp == (1,)
