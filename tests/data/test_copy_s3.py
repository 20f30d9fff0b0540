"""The same loop against a real S3-compatible server (moto in server mode on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.data.ops import copy_version, register_path, verify_version
from wanka.data.registry import Registry

runner = CliRunner()


def wanka(*args: str) -> tuple[int, dict | None, str]:
    r = runner.invoke(app, ["data", *args])
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    return r.exit_code, out, r.output


def objects(endpoint: str, bucket: str, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {k[len(prefix) :]: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_s3_register_copy_verify_corrupt_repair(
    corpus_factory, tmp_path: Path, db_url: str, s3_endpoint: str, bucket: str
) -> None:
    """Copy to S3 (one multipart object), verify, corrupt one byte, verify names it, recopy only it."""
    src = corpus_factory(tmp_path / "src", files=8, big_bytes=9 << 20)  # > one 8 MiB part
    ep = ["--endpoint-url", s3_endpoint, "--db", db_url]
    rc, reg, _ = wanka(
        "register", str(src), "--name", "c", "--version", "1", "--db", db_url, "--json"
    )
    assert rc == 0 and reg["files"] == 9
    url = f"s3://{bucket}/datasets/c/1"
    rc, cp, _ = wanka("copy", "c@1", url, *ep, "--json")
    assert rc == 0 and cp["files_copied"] == 9 and cp["verified"] is True
    stored = objects(s3_endpoint, bucket, "datasets/c/1/")
    assert {k: hashlib.sha256(v).hexdigest() for k, v in stored.items()} == {
        e.path: e.sha256 for e in Registry(db_url).manifest("c@1").entries
    }
    rc, v, _ = wanka("verify", "c@1", url, *ep, "--json")
    assert rc == 0 and v["ok"]
    key = "datasets/c/1/shard-1/part-004.jsonl"
    body = bytearray(stored["shard-1/part-004.jsonl"])
    body[5] ^= 1
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=bucket, Key=key, Body=bytes(body)
    )
    rc, v, out = wanka("verify", "c@1", url, *ep, "--json")
    assert rc == 1 and v["mismatched"] == ["shard-1/part-004.jsonl"] and "part-004.jsonl" in out
    rc, cp, _ = wanka("copy", "c@1", url, *ep, "--json")
    assert rc == 0 and cp["files_copied"] == 1 and cp["files_skipped"] == 8
    reps = Registry(db_url).get("c@1").replicas
    assert [(r["location"], r["endpoint"]) for r in reps] == [(url, s3_endpoint)]


def test_s3_back_to_local_and_changed_source(
    corpus: Path, tmp_path: Path, db_url: str, s3_endpoint: str, bucket: str
) -> None:
    """Stage from the S3 replica to a local path; a changed source never lands in the bucket."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="c", version="1")
    url = f"s3://{bucket}/c1"
    copy_version(reg, "c@1", url, endpoint_url=s3_endpoint)
    local = tmp_path / "staged"
    copy_version(reg, "c@1", str(local), source=url, endpoint_url=s3_endpoint)
    assert verify_version(reg, "c@1", str(local)).ok
    p = corpus / "shard-0" / "part-000.jsonl"
    p.write_bytes(p.read_bytes().replace(b"word", b"wore", 1))
    url2 = f"s3://{bucket}/c2"
    rc, _, out = wanka("copy", "c@1", url2, "--endpoint-url", s3_endpoint, "--db", db_url)
    assert rc == 1 and "part-000.jsonl" in out
    assert "shard-0/part-000.jsonl" not in objects(s3_endpoint, bucket, "c2/")
    assert all(r["location"] != url2 for r in reg.get("c@1").replicas)


def test_s3_missing_bucket_is_one_line(corpus: Path, db_url: str, s3_endpoint: str) -> None:
    register_path(Registry(db_url), corpus, name="c", version="1")
    r = runner.invoke(
        app,
        [
            "data",
            "copy",
            "c@1",
            "s3://no-such-bucket/x",
            "--endpoint-url",
            s3_endpoint,
            "--db",
            db_url,
        ],
    )
    assert r.exit_code == 1 and "no-such-bucket" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_s3_kill_9_mid_copy_then_resume(
    corpus_factory, tmp_path: Path, db_url: str, s3_endpoint: str, bucket: str
) -> None:
    """kill -9 of an upload: no object with wrong bytes; the rerun resumes and verifies."""
    src = corpus_factory(tmp_path / "src", files=8, big_bytes=10 << 20)  # > 10 s at 1 MiB/s
    reg = Registry(db_url)
    register_path(reg, src, name="c", version="1")
    man = reg.manifest("c@1").by_path()
    url = f"s3://{bucket}/k"
    cmd = [sys.executable, "-m", "wanka.cli.main", "data", "copy", "c@1", url, "--db", db_url]
    p = subprocess.Popen(
        [*cmd, "--endpoint-url", s3_endpoint, "--bwlimit", "1M", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ},
    )
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not s3.list_objects_v2(Bucket=bucket).get("Contents"):
        time.sleep(0.1)
    assert p.poll() is None, "the copy ended before it could be killed"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    landed = objects(s3_endpoint, bucket, "k/")
    assert 0 < len(landed) < len(man)
    assert all(hashlib.sha256(b).hexdigest() == man[k].sha256 for k, b in landed.items())
    res = copy_version(reg, "c@1", url, endpoint_url=s3_endpoint)
    assert res.files_skipped >= len(landed) and res.files_copied + res.files_skipped == len(man)
    assert verify_version(reg, "c@1", url, endpoint_url=s3_endpoint).ok


def test_rclone_backend_copy_verify_repair(
    corpus: Path, db_url: str, s3_endpoint: str, bucket: str, rclone_remote: str
) -> None:
    """The rclone backend (here to the same S3 server): copy, verify, corrupt, recopy only it."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="c", version="1")
    loc = f"rclone:{rclone_remote}:{bucket}/rc"
    res = copy_version(reg, "c@1", loc)
    assert res.files_copied == 12 and res.verified
    assert verify_version(reg, "c@1", loc).ok
    stored = objects(s3_endpoint, bucket, "rc/")
    assert sorted(stored) == sorted(e.path for e in reg.manifest("c@1").entries)
    body = bytearray(stored["shard-0/part-001.jsonl"])
    body[2] ^= 1
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=bucket, Key="rc/shard-0/part-001.jsonl", Body=bytes(body)
    )
    assert verify_version(reg, "c@1", loc).mismatched == ["shard-0/part-001.jsonl"]
    res = copy_version(reg, "c@1", loc)
    assert (res.files_copied, res.files_skipped) == (1, 11)
    assert verify_version(reg, "c@1", loc).ok
