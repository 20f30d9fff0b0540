"""Fixtures for the data tests: a small corpus, a registry, and a REAL S3-compatible server.

The S3 endpoint is moto's server mode on 127.0.0.1: the one `.ci/run` starts (its URL in
$WANKA_TEST_S3_ENDPOINT), else one started here in a thread. If it does not answer, the S3 tests
fail (never skip): they test the mover against a server speaking the S3 protocol, not a mock.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def make_corpus(root: Path, *, files: int = 12, big_bytes: int = 0, seed: int = 3) -> Path:
    """jsonl shards of random sizes (one with a non-ASCII name), plus one big binary if asked."""
    rnd = random.Random(seed)
    for i in range(files):
        d = root / f"shard-{i // 4}"
        d.mkdir(parents=True, exist_ok=True)
        name = f"part-{i:03d}.jsonl" if i != 2 else "partie-é-002.jsonl"
        lines = (
            json.dumps({"text": "word " * rnd.randint(1, 60), "i": k})
            for k in range(rnd.randint(5, 80))
        )
        (d / name).write_text("\n".join(lines) + "\n")
    if big_bytes:
        (root / "big.bin").write_bytes(rnd.randbytes(big_bytes))
    return root


@pytest.fixture
def corpus_factory():
    """`make_corpus` as a fixture, for tests that need a corpus of their own shape."""
    return make_corpus


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh registry database: SQLite, or the emptied PostgreSQL of $WANKA_TEST_DATA_DB (the
    second pass of tests/data/test_registry.py in .ci/run)."""
    url = os.environ.get("WANKA_TEST_DATA_DB")
    if not url:
        return f"sqlite:///{tmp_path / 'registry.db'}"
    from sqlalchemy import create_engine, text

    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    return url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a running S3-compatible server (moto server mode) on 127.0.0.1."""
    os.environ.update(S3_ENV)
    url = os.environ.get("WANKA_TEST_S3_ENDPOINT")
    server = None
    if not url:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
    import boto3

    try:
        boto3.client("s3", endpoint_url=url).list_buckets()
    except Exception as e:  # noqa: BLE001 - the server did not come up: fail, do not skip
        pytest.fail(f"S3 test server at {url} is not answering: {e}")
    yield url
    if server is not None:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A fresh bucket on the test S3 server."""
    import boto3

    name = f"wanka-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def rclone_remote(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of an rclone remote `m` on the test S3 server (rclone configured by variables).

    rclone is installed by .ci/run; without it the rclone tests fail in CI and skip elsewhere.
    """
    import shutil

    if not shutil.which("rclone"):
        if os.environ.get("CI"):
            pytest.fail("rclone is not on PATH in CI (.ci/run installs it)")
        pytest.skip("rclone is not on PATH")
    for key, value in {
        "TYPE": "s3",
        "PROVIDER": "Other",
        "ENDPOINT": s3_endpoint,
        "ACCESS_KEY_ID": S3_ENV["AWS_ACCESS_KEY_ID"],
        "SECRET_ACCESS_KEY": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "REGION": S3_ENV["AWS_DEFAULT_REGION"],
    }.items():
        monkeypatch.setenv(f"RCLONE_CONFIG_M_{key}", value)
    return "m"
