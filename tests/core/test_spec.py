"""Run-spec loading: documented defaults, strict keys and one-line errors per run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from wanka.errors import CatalogError, ConfigError
from wanka.parallel import ParallelPlan
from wanka.spec import RunError, RunSpec, load_runs, parse_run

BASE = {
    "id": "r1",
    "model": {
        "layers": 4,
        "hidden": 256,
        "heads": 8,
        "kv_heads": 2,
        "ffn_hidden": 1024,
        "vocab": 1000,
        "seq_len": 512,
    },
    "hardware": {"accelerator": "h100-sxm", "count": 16, "gpus_per_node": 8},
    "parallelism": {"tp": 2, "pp": 2, "global_batch_size": 32},
    "precision": "bf16",
}


def _with(**over):
    d = json.loads(json.dumps(BASE))
    for path, v in over.items():
        node = d
        *head, last = path.split("__")
        for k in head:
            node = node[k]
        node[last] = v
    return d


def test_defaults_are_applied_and_recorded():
    """Nulls take the documented defaults and each is named in the assumptions."""
    run = parse_run(BASE)
    assert run.parallelism == ParallelPlan(
        tp=2, pp=2, dp=4, sequence_parallel=True, distributed_optimizer=True, global_batch_size=32
    )
    text = " ".join(run.assumptions)
    assert "sequence_parallel null" in text and "distributed_optimizer null" in text
    assert run.hardware.accelerator.id == "h100-sxm"


def test_gpt_style_activation_default():
    """ffn_hidden = 4*hidden without experts is read as a GPT-style (gelu) MLP."""
    run = parse_run(_with(model__ffn_hidden=1024, model__hidden=256))
    assert run.model.activation == "gelu"
    run = parse_run(_with(model__ffn_hidden=688))
    assert run.model.activation == "swiglu"


@pytest.mark.parametrize(
    ("over", "fragment"),
    [
        (
            {"hardware__count": 12, "parallelism__dp": 4},
            "does not equal the accelerator count",
        ),  # degrees do not multiply
        (
            {
                "model__heads": 6,
                "model__kv_heads": 6,
                "model__hidden": 384,
                "parallelism__tp": 4,
                "hardware__count": 32,
            },
            "divisible by tp",
        ),
        ({"hardware__count": -8}, "must be positive"),  # negative size
        ({"model__hidden": 0}, "must be positive"),  # zero size
        ({"parallelism__bogus": 1}, "unknown key"),  # unknown key
        ({"precision": "fp64"}, "unknown precision"),
    ],
)
def test_bad_runs_raise_one_line_config_errors(over, fragment):
    """Each malformed run raises a ConfigError whose single line says what is wrong."""
    with pytest.raises(ConfigError) as e:
        parse_run(_with(**over))
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_unknown_accelerator_names_closest_ids():
    """An unknown accelerator id suggests the nearest catalog ids."""
    with pytest.raises(CatalogError) as e:
        parse_run(_with(hardware__accelerator="h100"))
    assert "closest" in str(e.value) and "h100-sxm" in str(e.value)


def test_precision_the_chip_lacks_is_an_error():
    """An A100 has no fp8 tensor cores: asking for fp8 is a clear error."""
    with pytest.raises(ConfigError, match="no fp8 peak"):
        parse_run(_with(hardware__accelerator="a100-80gb", precision="fp8"))


def test_load_runs_keeps_going_after_a_bad_run(tmp_path: Path):
    """One bad run gives a RunError; the others in the file still load."""
    p = tmp_path / "runs.yaml"
    p.write_text(yaml.safe_dump([BASE, _with(id="bad", hardware__count=3), _with(id="r3")]))
    out = load_runs(p)
    assert [type(r) for r in out] == [RunSpec, RunError, RunSpec]
    assert out[1].id == "bad" and "not divisible by tp*pp*cp" in out[1].error


def test_single_mapping_file_is_a_list_of_one(tmp_path: Path):
    """A file holding one mapping loads as one run."""
    p = tmp_path / "run.json"
    p.write_text(json.dumps(BASE))
    (run,) = load_runs(p)
    assert isinstance(run, RunSpec) and run.id == "r1"


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.yaml", "- id: a\n  model: [1, 2\n", ":3:1"),
        ("bad.json", '[{"id": "a",}]', ":1:13"),
    ],
)
def test_malformed_files_report_line_and_column(tmp_path: Path, name, text, where):
    """Syntax errors name the file, line and column."""
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_runs(p)
    assert where in str(e.value) and "malformed" in str(e.value)


def test_every_validation_run_parses():
    """Every published run in the bundled validation copy is a valid run spec."""
    path = Path(__file__).resolve().parents[2] / "validation" / "training_runs.yaml"
    out = load_runs(path)
    errors = [r for r in out if isinstance(r, RunError)]
    assert len(out) == 382 and not errors, errors[:3]
