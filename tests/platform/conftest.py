"""Fixtures: a fresh platform store and a running app (dispatcher thread included) per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from platform_testlib import Api, reset_pg

from wanka.platform.api import create_app
from wanka.platform.store import init_store


@pytest.fixture
def db_url(tmp_path) -> str:
    return os.environ.get("WANKA_TEST_PLATFORM_DB") or f"sqlite:///{tmp_path}/platform.db"


@pytest.fixture
def api(db_url: str, tmp_path) -> Iterator[Api]:
    from wanka.platform.store import Store

    if db_url.startswith("postgresql"):
        reset_pg(db_url)
    admin = init_store(db_url)
    assert admin
    app = create_app(db_url, workdir=str(tmp_path / "jobs"), interval_s=0.05)
    with TestClient(app) as c:
        yield Api(c, admin, db_url)
    Store(db_url).dispose()
