"""Exported framework configurations carry every degree of the plan."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from wanka.errors import ConfigError
from wanka.parallel import ParallelPlan
from wanka.search.export import export_plan

PLAN = ParallelPlan(
    tp=8,
    pp=4,
    vpp=2,
    cp=2,
    ep=8,
    etp=1,
    dp=16,
    sequence_parallel=True,
    distributed_optimizer=True,
    recompute="selective",
    micro_batch_size=1,
    global_batch_size=1024,
)


def test_megatron_flags():
    """Megatron-LM flags name each degree, the interleaving, fp8 and the batch sizes."""
    text = export_plan(PLAN, "megatron", precision="fp8", seq_len=4096, num_layers=64)
    for flag in (
        "--tensor-model-parallel-size 8",
        "--pipeline-model-parallel-size 4",
        "--num-layers-per-virtual-pipeline-stage 8",
        "--context-parallel-size 2",
        "--expert-model-parallel-size 8",
        "--expert-tensor-parallel-size 1",
        "--sequence-parallel",
        "--use-distributed-optimizer",
        "--recompute-granularity selective",
        "--micro-batch-size 1",
        "--global-batch-size 1024",
        "--fp8-format hybrid",
        "--seq-length 4096",
    ):
        assert flag in text
    full = export_plan(
        ParallelPlan(pp=2, vpp=3, dp=4, recompute="full", global_batch_size=8), "megatron"
    )
    assert (
        "--virtual-pipeline-model-parallel-size 3" in full and "--recompute-method uniform" in full
    )


def test_torchtitan_toml():
    """The TorchTitan job config parses as TOML with the [parallelism] degrees."""
    cfg = tomllib.loads(export_plan(PLAN, "torchtitan", seq_len=4096, num_layers=64))
    par = cfg["parallelism"]
    assert par["tensor_parallel_degree"] == 8 and par["pipeline_parallel_degree"] == 4
    assert par["context_parallel_degree"] == 2 and par["expert_parallel_degree"] == 8
    assert par["data_parallel_shard_degree"] * par["data_parallel_replicate_degree"] == 16
    assert par["pipeline_parallel_schedule"] == "Interleaved1F1B"
    assert (
        cfg["training"]["global_batch_size"] == 1024
        and cfg["activation_checkpoint"]["mode"] == "selective"
    )


def test_nemo_yaml():
    """The NeMo / Megatron-Bridge override is YAML with the ConfigContainer field names."""
    cfg = yaml.safe_load(export_plan(PLAN, "nemo", precision="bf16"))
    m = cfg["model"]
    assert (
        m["tensor_model_parallel_size"],
        m["pipeline_model_parallel_size"],
        m["context_parallel_size"],
    ) == (8, 4, 2)
    assert m["virtual_pipeline_model_parallel_size"] == 2 and m["expert_model_parallel_size"] == 8
    assert (
        cfg["train"]["global_batch_size"] == 1024
        and cfg["ddp"]["use_distributed_optimizer"] is True
    )


def test_unknown_format():
    with pytest.raises(ConfigError):
        export_plan(PLAN, "deepspeed")
