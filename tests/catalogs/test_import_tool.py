"""tools/import_accelerators.py reproduces the shipped accelerator catalog (see its docstring)."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CATALOG = ROOT / "src" / "wanka" / "catalogs" / "data" / "accelerators.yaml"
RESEARCH = ROOT.parent / "shared" / "research" / "accelerators.yaml"
TOOLS = ROOT / "tools"


def _tool():
    spec = importlib.util.spec_from_file_location(
        "import_accelerators", TOOLS / "import_accelerators.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _shipped() -> dict[str, dict]:
    return {a["id"]: a for a in yaml.safe_load(CATALOG.read_text())["accelerators"]}


def test_every_amendment_is_in_the_shipped_catalog() -> None:
    """Each figure tools/accelerators_amend.yaml adds is in the catalog, so a hand edit of the
    catalog that the amend file lacks would be undone by the next import, and shows here."""
    amend = yaml.safe_load((TOOLS / "accelerators_amend.yaml").read_text())
    ids = _tool().IDS
    shipped = _shipped()
    for rid, patch in amend["amend"].items():
        chip = shipped[ids[rid]]
        for key, value in (patch.get("tflops") or {}).items():
            assert chip["peak_tflops"][key] == value, (rid, key)
        for url in patch.get("sources_add") or []:
            assert url in chip["sources"], (rid, url)
        assert chip.get("aliases") == patch.get("aliases", chip.get("aliases")), rid
        if "notes_compute" in patch:
            assert " ".join(patch["notes_compute"].split()) in chip["notes"], rid
    for extra in amend["accelerators"]:
        assert ids[extra["id"]] in shipped, extra["id"]


@pytest.mark.skipif(not RESEARCH.exists(), reason="the research table lives outside the project")
def test_import_reproduces_the_catalog_byte_for_byte() -> None:
    out = subprocess.run(
        [sys.executable, str(TOOLS / "import_accelerators.py"), str(RESEARCH),
         str(TOOLS / "accelerators_extra.yaml"), str(TOOLS / "accelerators_amend.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out == CATALOG.read_text()
