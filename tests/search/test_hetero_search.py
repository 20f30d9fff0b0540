"""Mixed-fleet search: the JSON contract, the references, and bad fleets."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.errors import CatalogError, ConfigError
from wanka.search.hetero import parse_fleet, search_hetero
from wanka.search.models import load_model
from wanka.spec_hetero import parse_hetero_run

runner = CliRunner()


def test_search_json_contract_and_references() -> None:
    r = runner.invoke(
        app,
        [
            "search",
            "--model",
            "llama2-7b",
            "--accelerator",
            "v100-sxm:12,t4:4",
            "--global-batch-size",
            "64",
            "--precision",
            "fp16",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    best, ref = res["best"], res["references"]
    assert best["fits"] and best["stages"] and best["tokens_per_s"] > 0
    assert {
        "best_homogeneous_tokens_per_s",
        "sum_of_parts_tokens_per_s",
        "equal_split_tokens_per_s",
    } <= set(ref)
    # the best is the best of everything the mixed search tried, single kinds included
    assert best["tokens_per_s"] >= max(ref["per_kind_hetero_model_tokens_per_s"].values())
    # each kind alone is also answered by the homogeneous search (the strongest reference)
    homo = ref["per_kind_homogeneous_search_tokens_per_s"]
    assert set(homo) == {"v100-sxm", "t4"} and homo["v100-sxm"] > 0
    assert homo["t4"] is None  # 7B with Adam states does not fit on 4 T4 (64 GB) by itself
    assert ref["best_homogeneous_tokens_per_s"] == max(ref["per_kind_alone_tokens_per_s"].values())
    assert ref["best_homogeneous_tokens_per_s"] >= homo["v100-sxm"]
    assert ref["sum_of_parts_tokens_per_s"] == pytest.approx(
        sum(ref["per_kind_alone_tokens_per_s"].values())
    )
    assert sum(s["layers"] for s in best["stages"]) == 32


def test_best_plan_round_trips_through_the_run_spec() -> None:
    res = search_hetero(
        load_model("llama2-7b"),
        parse_fleet("v100-sxm:12,t4:4"),
        global_batch_size=64,
        precision="fp16",
    )
    plan = res["best"]["plan"]
    run = parse_hetero_run({"model": {"preset": "llama2-7b"}, **plan})
    from wanka.perf.hetero import predict_hetero

    again = predict_hetero(run)
    assert again["step_time_s"] == pytest.approx(res["best"]["step_time_s"], rel=0.02)


@pytest.mark.parametrize(
    ("fleet", "error", "text"),
    [
        ("v100-sxm:12,t5:4", CatalogError, "closest: t4"),
        ("v100-sxm:12,t4", ConfigError, "kind:count"),
        ("v100-sxm:0", ConfigError, "positive"),
        ("t4:2,t4:2", ConfigError, "twice"),
    ],
)
def test_bad_fleets(fleet: str, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        parse_fleet(fleet)


def test_typo_on_the_command_line_is_one_line_exit_1() -> None:
    r = runner.invoke(
        app,
        [
            "search",
            "--model",
            "llama2-7b",
            "--accelerator",
            "h100-sxm:8,ascend-91b:8",
            "--global-batch-size",
            "64",
        ],
    )
    assert r.exit_code == 1 and "ascend-910b" in r.output and "Traceback" not in r.output


def test_references_are_the_homogeneous_search_on_each_kind() -> None:
    from wanka.search import search

    model = load_model("llama2-7b")
    res = search_hetero(model, parse_fleet("a100-80gb:32,l40s:16"), global_batch_size=128)
    for acc, n in (("a100-80gb", 32), ("l40s", 16)):
        from wanka.catalogs import get_accelerator

        alone = search(
            model,
            get_accelerator(acc),
            count=n,
            global_batch_size=128,
            seq_len=model.seq_len,
            top_k=1,
        ).best
        got = res["references"]["per_kind_homogeneous_search_tokens_per_s"][acc]
        assert got == pytest.approx(alone["tokens_per_s_per_gpu"] * n)
    plan = res["best"]["plan"]["parallelism"]
    assert {"vpp", "cp", "overlap_grad_reduce", "fused_kernels"} <= set(plan)


def test_uneven_batch_shares_round_trip_through_the_run_spec() -> None:
    """Shares like 1/7 and 2/7 over many pipelines still sum to 1 when read back."""
    from wanka.catalogs import get_accelerator
    from wanka.search.hetero_answer import plan_dict
    from wanka.spec_hetero import Group, HeteroRunSpec, Replica, Stage

    def group(acc: str, n: int) -> Group:
        a = get_accelerator(acc)
        return Group(
            name=acc,
            accelerator=a,
            count=n,
            gpus_per_node=8,
            node_scale_out_bytes_per_s=a.scaleout_bw_bytes_per_s * 8,
        )

    reps = tuple(Replica(group=g, tp=1) for g in (0,) * 3 + (1,) * 4)
    counts = (2, 2, 2, 1, 1, 1, 5)  # micro-batches per pipeline out of 14
    spec = HeteroRunSpec(
        id=None,
        model=load_model("llama2-7b"),
        groups=(group("a100-80gb", 8), group("l40s", 8)),
        stages=(Stage(layers=16, replicas=reps), Stage(layers=16, replicas=reps)),
        batch_shares=tuple(c / 14 for c in counts),
        micro_batch_size=1,
        global_batch_size=14,
        precision="bf16",
    )
    back = parse_hetero_run({"model": {"preset": "llama2-7b"}, **plan_dict(spec)})
    assert back.batch_shares == pytest.approx(spec.batch_shares, abs=1e-12)
