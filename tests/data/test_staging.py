"""Staging for jobs: ready only once a verified replica is at the job's storage; tenants see only
their own and public datasets."""

from __future__ import annotations

from pathlib import Path

from wanka.data.ops import register_path
from wanka.data.registry import Registry
from wanka.data.staging import Stager


def test_stage_copies_then_is_ready(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """First check starts a copy (not ready); once it verified, the next check is ready."""
    register_path(Registry(db_url), corpus, name="c", version="1", tenant="acme")
    st = Stager(db_url)
    dst = str(tmp_path / "pfs")
    ready, why = st.check("acme", ("c@1",), dst)
    assert not ready and "copying c@1" in why
    st.wait()
    assert st.check("acme", ("c@1",), dst) == (True, "verified replicas in place")
    assert [r["location"] for r in Registry(db_url).get("c@1").replicas] == [f"{dst}/c/1"]
    t = Registry(db_url).transfers(tenant="acme")
    assert [x["state"] for x in t] == ["succeeded"] and t[0]["files_copied"] == 12


def test_stage_respects_tenants_and_names(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """Another tenant's private dataset is unknown to a tenant; public ones are usable."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="private", version="1", tenant="acme")
    register_path(reg, corpus, name="open", version="1", tenant="acme", public=True)
    st = Stager(db_url)
    ready, why = st.check("beta", ("private@1",), None)
    assert not ready and "unknown dataset 'private@1'" in why and "private" not in why.split("(")[1]
    assert st.check("beta", ("open@1",), None) == (True, "datasets registered")
    ready, why = st.check("beta", ("opn@1",), None)
    assert not ready and "closest: open@1" in why
    ready, why = st.check("acme", ("open@1", "private@1"), str(tmp_path / "x"))
    assert not ready and why.count("copying") == 2
    st.wait()
    assert st.check("acme", ("open@1", "private@1"), str(tmp_path / "x"))[0]


def test_failed_copy_is_reported_and_not_retried_at_once(corpus: Path, db_url: str) -> None:
    """A destination that cannot be written: not ready, with the reason, until the retry delay."""
    register_path(Registry(db_url), corpus, name="c", version="1")
    st = Stager(db_url)
    bad = str(corpus / "shard-0" / "part-000.jsonl" / "under-a-file")
    st.check(None, ("c@1",), bad)
    st.wait()
    ready, why = st.check(None, ("c@1",), bad)
    assert not ready and "failed" in why and "cannot write" in why
    assert Registry(db_url).get("c@1").replicas == ()
