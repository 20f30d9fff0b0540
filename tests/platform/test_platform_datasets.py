"""Datasets in the service: jobs wait in `staging` until a verified replica is at their storage;
tenants list only their own and public datasets and their own transfers."""

from __future__ import annotations

import json
import random
from pathlib import Path

from wanka.data.ops import register_path
from wanka.data.registry import Registry


def _corpus(root: Path, files: int = 6) -> Path:
    rnd = random.Random(5)
    for i in range(files):
        d = root / f"shard-{i // 3}"
        d.mkdir(parents=True, exist_ok=True)
        rows = (
            json.dumps({"text": "tok " * rnd.randint(1, 50)}) for _ in range(rnd.randint(3, 40))
        )
        (d / f"part-{i}.jsonl").write_text("\n".join(rows) + "\n")
    return root


def test_job_stages_its_dataset_then_runs(api, tmp_path: Path) -> None:
    """staging -> (verified copy at STORAGE/NAME/VERSION) -> runs; the transfer is the tenant's."""
    api.pool()
    _, tok_a = api.tenant("acme")
    _, tok_b = api.tenant("beta")
    reg = Registry(api.url)
    register_path(reg, _corpus(tmp_path / "web"), name="web", version="1", tenant="acme")
    pfs = tmp_path / "pfs"
    st, job = api.submit(tok_a, "train", datasets=["web@1"], storage=str(pfs))
    assert st == 202 and job["state"] == "staging"
    assert api.wait(tok_a, job["id"], ("succeeded",), seconds=60) == "succeeded"
    reps = reg.get("web@1").replicas
    assert [r["location"] for r in reps] == [str(pfs / "web" / "1")]
    assert all((pfs / "web" / "1" / e.path).is_file() for e in reg.manifest("web@1").entries)
    st, tr = api.call("GET", "/transfers", tok_a)
    assert st == 200 and [t["state"] for t in tr] == ["succeeded"] and tr[0]["dataset"] == "web@1"
    st, tr = api.call("GET", "/transfers", tok_b)
    assert st == 200 and tr == []


def test_unknown_or_foreign_dataset_keeps_the_job_staging(api, tmp_path: Path) -> None:
    """Another tenant's private dataset is unknown to a job: it stays staging, saying so."""
    api.pool()
    api.tenant("acme")
    _, tok_b = api.tenant("beta")
    register_path(
        Registry(api.url), _corpus(tmp_path / "secret"), name="secret", version="1", tenant="acme"
    )
    st, job = api.submit(tok_b, "steal", datasets=["secret@1"], storage=str(tmp_path / "pfs"))
    assert st == 202
    api.wait(tok_b, job["id"], ("running", "succeeded"), seconds=1.5)
    j = api.job(tok_b, job["id"])
    assert j["state"] == "staging" and "unknown dataset 'secret@1'" in j["reason"]
    assert not (tmp_path / "pfs").exists()


def test_dataset_list_is_per_tenant(api, tmp_path: Path) -> None:
    """A tenant lists its own and public datasets; an admin lists all; no token is a 401."""
    api.pool()
    _, tok_a = api.tenant("acme")
    _, tok_b = api.tenant("beta")
    reg = Registry(api.url)
    c = _corpus(tmp_path / "c")
    register_path(reg, c, name="a-private", version="1", tenant="acme")
    register_path(reg, c, name="b-private", version="1", tenant="beta")
    register_path(reg, c, name="open", version="1", tenant="beta", public=True)
    refs = lambda tok: sorted(d["ref"] for d in api.call("GET", "/datasets", tok)[1])
    assert refs(tok_a) == ["a-private@1", "open@1"]
    assert refs(tok_b) == ["b-private@1", "open@1"]
    assert refs(api.admin) == ["a-private@1", "b-private@1", "open@1"]
    assert api.call("GET", "/datasets")[0] == 401
    assert api.call("GET", "/transfers")[0] == 401
