"""The input-file schemas (wanka.schemas): published files current, shipped files valid, one number rule."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from wanka.errors import ConfigError
from wanka.schemas import NAMES, as_number, check_input, json_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]

#: Every shipped input file of the four kinds: examples/, validation/ and the golden inputs.
FILES: dict[str, list[str]] = {
    "run": [
        "examples/llama3-70b-h100.yaml",
        "examples/deepseek-v3-h800.yaml",
        "examples/published-runs.yaml",
        "examples/search-llama3-70b.yaml",
        *sorted(glob.glob("validation/*_runs.yaml", root_dir=ROOT)),
    ],
    "center": [
        "examples/center-10k.yaml",
        "examples/retrofit-existing-dc.yaml",
        "tests/golden/inputs/center-small.yaml",
    ],
    "cluster": sorted(glob.glob("examples/cluster-*.yaml", root_dir=ROOT)),
    "serve": ["validation/inference_runs.yaml"],
}
FILES["run"].remove("validation/inference_runs.yaml")  # a serving-spec file


def _load(rel: str) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the same reading, 8x faster
    return yaml.load((ROOT / rel).read_text(encoding="utf-8"), Loader=loader)  # noqa: S506


def test_published_schemas_match_the_models() -> None:
    for name in NAMES:
        committed = (ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
        assert committed == schema_text(name), f"run python tools/schemas.py --write ({name})"


@pytest.mark.parametrize("name,rel", [(n, f) for n, fs in FILES.items() for f in fs])
def test_shipped_file_validates(name: str, rel: str) -> None:
    data = _load(rel)
    records = data if isinstance(data, list) else [data]
    # What an editor checks: whole files under examples/ and tests/; the first records of the large
    # validation/ files (jsonschema takes seconds on hundreds of runs).
    sample = records if not rel.startswith("validation/") else records[:8]
    jsonschema.Draft202012Validator(json_schema(name)).validate(
        sample if isinstance(data, list) else data
    )
    for rec in records:
        check_input(name, rec)  # what the loader checks, every record


def test_every_example_is_covered() -> None:
    """A new example of one of the four kinds must be added to FILES (so it is checked)."""
    kinds = ("model:", "node_groups:", "goals:", "workload:")
    for p in sorted((ROOT / "examples").glob("*.yaml")):
        text = p.read_text(encoding="utf-8")
        if any(line.startswith(kinds) for line in text.splitlines()):
            rel = f"examples/{p.name}"
            assert any(rel in fs for fs in FILES.values()), rel


@pytest.mark.parametrize("name,rel", [(n, f) for n, fs in FILES.items() for f in fs])
def test_examples_name_their_schema_for_editors(name: str, rel: str) -> None:
    if rel.startswith("examples/"):
        first = (ROOT / rel).read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../schemas/{name}.schema.json"


def test_schema_rejects_an_unknown_key() -> None:
    data = _load("examples/cluster-gavel.yaml")
    data["network"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema("cluster"))


def test_one_number_rule() -> None:
    assert as_number("1e13") == 1e13 and as_number(" 8 ") == 8 and isinstance(as_number("8"), int)
    assert as_number(7) == 7 and as_number(2.5) == 2.5
    for bad in (True, "lots", "1e13 tokens", [1], None, "nan", "inf"):
        with pytest.raises(ValueError):
            as_number(bad)


def _run() -> dict[str, Any]:
    return {"model": {"preset": "llama3-8b"}, "hardware": {"accelerator": "h100-sxm", "count": 8}}


def test_all_four_loaders_read_a_numeric_string_the_same_way() -> None:
    from wanka.plan.parse import parse_center
    from wanka.serve.spec import parse_serve_spec
    from wanka.sim.cluster import ClusterSpec
    from wanka.spec import parse_run

    run = _run()
    run["hardware"]["count"] = "8"
    assert parse_run(run).hardware.count == 8
    center = _load("tests/golden/inputs/center-small.yaml")
    center["goals"][0]["tokens"] = "1e12"
    center["counts_per_candidate"] = "3"
    c = parse_center(center, base_dir=ROOT / "tests/golden/inputs")
    assert c.goals[0].tokens == 1e12 and c.counts_per_candidate == 3
    cluster = _load("examples/cluster-gavel.yaml")
    cluster["node_groups"][0]["nodes"] = 20
    n = ClusterSpec.from_dict(cluster).n_nodes
    cluster["node_groups"][0]["nodes"] = "2e1"
    assert ClusterSpec.from_dict(cluster).n_nodes == n
    serve = _load("validation/inference_runs.yaml")[0]
    serve["hardware"]["count"] = "1"
    serve["workload"]["input_len"] = "1000"
    s = parse_serve_spec(serve)
    assert s.count == 1 and s.input_len == 1000.0


@pytest.mark.parametrize(
    "name,edit,expect",
    [
        ("run", lambda d: d["hardware"].update(count="eight"), "hardware.count: must be a number"),
        ("run", lambda d: d["hardware"].update(count=8.5), "hardware.count: must be an integer"),
        ("run", lambda d: d["model"].update(colour=1), "model: unknown key 'colour'"),
        ("run", lambda d: d.update(parallelism={"tpp": 2}), "'tpp' (closest: tp"),
        (
            "run",
            lambda d: d["hardware"].update(cnt=2),
            "hardware: unknown key 'cnt' (closest: count",
        ),
        ("run", lambda d: d.update(parallelism={"tp": True}), "parallelism.tp: must be a number"),
        ("run", lambda d: d["model"].update(gated_mlp="yes"), "model.gated_mlp: "),
    ],
)
def test_bad_values_are_one_line_with_the_key_path(name: str, edit: Any, expect: str) -> None:
    d = _run()
    edit(d)
    with pytest.raises(ConfigError) as e:
        check_input(name, d)
    msg = str(e.value)
    assert expect in msg and "\n" not in msg, msg


def test_cluster_error_names_the_file_and_the_key() -> None:
    from wanka.sim.cluster import ClusterSpec

    d = _load("examples/cluster-gavel.yaml")
    d["node_groups"][0]["gpus_per_node"] = "four"
    with pytest.raises(ConfigError, match=r"^c\.yaml: node_groups\[0\]\.gpus_per_node: must be"):
        ClusterSpec.from_dict(d, source="c.yaml")


def test_cli_schema_prints_json_and_refuses_an_unknown_name() -> None:
    from wanka.cli.main import build_app

    app = build_app(["schema"])
    r = CliRunner().invoke(app, ["schema", "serve"])
    assert r.exit_code == 0 and json.loads(r.output)["title"] == "wanka serving spec"
    r = CliRunner().invoke(app, ["schema", "runs"])
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        "error: unknown schema 'runs'; choose from run, center, cluster, serve"
    ]
