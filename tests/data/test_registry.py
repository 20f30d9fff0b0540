"""The registry: its own Alembic history, lineage, visibility per tenant, counts, manifests."""

from __future__ import annotations

import hashlib
import json
import struct
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.data.manifest import Entry, Manifest, build_manifest, detect_format
from wanka.data.ops import register_path
from wanka.data.registry import HEAD_REVISION, Registry

runner = CliRunner()


def test_schema_has_its_own_version_table(db_url: str) -> None:
    """The data history lives in alembic_version_data, at the newest script; tables are data_*."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import wanka.data.registry as r

    eng = Registry(db_url).engine
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(r.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION
    names = set(inspect(eng).get_table_names())
    assert "alembic_version_data" in names and "alembic_version" not in names
    assert {n for n in names if not n.startswith("alembic")} <= {
        n for n in names if n.startswith("data_")
    }
    with eng.connect() as c:
        assert (
            c.execute(text("SELECT version_num FROM alembic_version_data")).scalar()
            == HEAD_REVISION
        )


def test_shares_a_database_with_another_history(tmp_path: Path) -> None:
    """Another Alembic history's version table in the same database does not block ours."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(
            text("CREATE TABLE alembic_version_platform (version_num VARCHAR(32) PRIMARY KEY)")
        )
        c.execute(text("INSERT INTO alembic_version_platform VALUES ('platform_0007')"))
    Registry(url)
    Registry(url)  # opening twice is a no-op
    with eng.connect() as c:
        assert (
            c.execute(text("SELECT version_num FROM alembic_version_platform")).scalar()
            == "platform_0007"
        )


def test_manifest_sha_is_the_canonical_text() -> None:
    """The manifest's sha256 is that of its sorted `sha  size  path` lines, whatever the order given."""
    a = Entry(path="b/x", size_bytes=3, sha256="0" * 64)
    b = Entry(path="a", size_bytes=1, sha256="f" * 64)
    text_ = f"{'f' * 64}  1  a\n{'0' * 64}  3  b/x\n"
    assert Manifest.of([a, b]).sha256 == hashlib.sha256(text_.encode()).hexdigest()
    assert Manifest.of([b, a]).sha256 == Manifest.of([a, b]).sha256


def test_lineage_and_tenant_visibility(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """A derived version names its parent and command; tenants see their own and public data."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="raw", version="1", tenant="acme")
    dedup = tmp_path / "dedup"
    dedup.mkdir()
    (dedup / "x.jsonl").write_text('{"text": "one"}\n')
    register_path(
        reg,
        dedup,
        name="dedup",
        version="1",
        parents=("raw@1",),
        command="dedup.py --exact",
        tenant="acme",
    )
    register_path(reg, dedup, name="open", version="1", public=True, tenant="beta")
    tree = reg.lineage("dedup@1")
    assert tree["parents"] == [{"ref": "raw@1", "command": "dedup.py --exact", "parents": []}]
    assert reg.lineage("raw@1")["children"] == [{"ref": "dedup@1", "command": "dedup.py --exact"}]
    assert {r.ref for r in reg.versions(tenant="acme")} == {"raw@1", "dedup@1", "open@1"}
    assert {r.ref for r in reg.versions(tenant="beta")} == {"open@1"}
    r = runner.invoke(app, ["data", "lineage", "dedup@1", "--db", db_url, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["parents"][0]["ref"] == "raw@1"
    r = runner.invoke(app, ["data", "list", "--db", db_url, "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 3


def test_jsonl_counts_estimate_and_tokenizer(tmp_path: Path, db_url: str) -> None:
    """jsonl samples are exact; tokens are an estimate without a tokenizer, exact with one."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    d = tmp_path / "ds"
    d.mkdir()
    texts = ["the cat sat", "on the mat", "the end"]
    (d / "a.jsonl").write_text(
        "".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(texts))
    )
    words = sorted({w for t in texts for w in t.split()})
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=words[0]))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    reg = Registry(db_url)
    est = register_path(reg, d, name="e", version="1")
    assert est.samples == 3 and est.tokens_estimated and est.format == "jsonl"
    text_bytes = sum(len(t) for t in texts)
    assert est.tokens == pytest.approx(text_bytes / 4, abs=1.5)
    exact = register_path(reg, d, name="x", version="1", tokenizer=tmp_path / "tokenizer.json")
    assert exact.samples == 3 and exact.tokens == 8 and not exact.tokens_estimated


def test_parquet_megatron_and_webdataset_counts(tmp_path: Path, db_url: str) -> None:
    """Rows from the parquet footer; sequences and tokens from a Megatron .idx; tar sample keys."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pqd = tmp_path / "pq"
    pqd.mkdir()
    pq.write_table(pa.table({"text": ["a b", "c d e", "f"] * 10}), pqd / "p.parquet")
    reg = Registry(db_url)
    assert register_path(reg, pqd, name="p", version="1").samples == 30

    meg = tmp_path / "meg"
    meg.mkdir()
    lengths = [5, 7, 3]
    (meg / "d.bin").write_bytes(b"\0\0" * sum(lengths))  # uint16 token ids
    head = b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", 8)  # version 1, uint16
    head += struct.pack("<QQ", len(lengths), len(lengths) + 1)
    (meg / "d.idx").write_bytes(head + struct.pack(f"<{len(lengths)}i", *lengths))
    m = register_path(reg, meg, name="m", version="1")
    assert (m.samples, m.tokens, m.tokens_estimated, m.format) == (3, 15, False, "megatron")

    wd = tmp_path / "wd"
    wd.mkdir()
    with tarfile.open(wd / "shard-000.tar", "w") as t:
        for key in ("s0", "s1"):
            for ext in ("jpg", "txt"):
                p = tmp_path / f"{key}.{ext}"
                p.write_bytes(b"x")
                t.add(p, arcname=f"{key}.{ext}")
    w = register_path(reg, wd, name="w", version="1")
    assert (w.samples, w.format) == (2, "webdataset")


def test_format_needs_bin_and_idx() -> None:
    """A lone .bin is plain files; a .bin with its .idx is a Megatron dataset."""
    e = lambda p: Entry(path=p, size_bytes=10, sha256="0" * 64)
    assert detect_format(Manifest.of([e("x.bin")])) == "files"
    assert detect_format(Manifest.of([e("x.bin"), e("x.idx")])) == "megatron"


def test_register_a_single_file(tmp_path: Path) -> None:
    f = tmp_path / "one.jsonl"
    f.write_text('{"text": "x"}\n')
    m = build_manifest(f)
    assert [e.path for e in m.entries] == ["one.jsonl"]
