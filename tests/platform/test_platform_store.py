"""The store: migrations under their own version table, init twice, the CLI's init/serve path."""

from __future__ import annotations

import json

from sqlalchemy import inspect, text
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.platform.store import Store, init_store

runner = CliRunner()


def test_init_twice_prints_the_token_once(db_url) -> None:
    """`wanka platform init` is idempotent and prints the admin token the first time only."""
    if db_url.startswith("postgresql"):
        from platform_testlib import reset_pg

        reset_pg(db_url)
    first = runner.invoke(app, ["platform", "init", "--db", db_url])
    second = runner.invoke(app, ["platform", "init", "--db", db_url])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert json.loads(first.stdout)["admin_token"].startswith("wk_")
    assert "admin_token" not in second.stdout


def test_own_version_table(db_url) -> None:
    """The platform's Alembic history lives in alembic_version_platform, next to other histories."""
    if db_url.startswith("postgresql"):
        from platform_testlib import reset_pg

        reset_pg(db_url)
    init_store(db_url)
    store = Store(db_url)
    tables = set(inspect(store.engine).get_table_names())
    with store.read() as s:
        version = s.execute(text("SELECT version_num FROM alembic_version_platform")).scalar()
    store.dispose()
    assert {"jobs", "tenants", "pools", "quotas", "usage_records", "outbox"} <= tables
    assert "alembic_version" not in tables and version == "0001"


def test_serve_refuses_an_uninitialised_db(tmp_path) -> None:
    """serve on an empty database: a one-line error that says to run init, exit 1."""
    r = runner.invoke(app, ["platform", "serve", "--db", f"sqlite:///{tmp_path}/none.db"])
    assert r.exit_code == 1 and "wanka platform init" in r.output


def test_bad_db_url_is_one_line(tmp_path) -> None:
    """An unusable URL is a one-line error, not a traceback."""
    r = runner.invoke(app, ["platform", "init", "--db", "nosuchdb://x"])
    assert r.exit_code == 1 and "error" in r.output and "Traceback" not in r.output


def test_cli_client_against_the_app(api, monkeypatch) -> None:
    """submit / jobs / quota / usage / cancel from the CLI (--json) against a live app."""
    import httpx

    api.pool()
    _, tok = api.tenant("alpha")

    def fake(method, url, **kw):  # route the CLI's httpx call into the TestClient
        return api.c.request(
            method,
            url.replace("http://t", ""),
            json=kw.get("json"),
            headers=kw.get("headers"),
            params=kw.get("params"),
        )

    monkeypatch.setattr(httpx, "request", fake)
    env = {"WANKA_PLATFORM_URL": "http://t", "WANKA_PLATFORM_TOKEN": tok}
    r = runner.invoke(app, ["platform", "submit", "sleep 20", "--pool", "h100", "--json"], env=env)
    assert r.exit_code == 0, r.output
    jid = json.loads(r.stdout)["id"]
    r = runner.invoke(app, ["platform", "jobs", "--json"], env=env)
    assert [j["id"] for j in json.loads(r.stdout)] == [jid]
    r = runner.invoke(app, ["platform", "quota", "--json"], env=env)
    assert json.loads(r.stdout)[0]["pool"] == "h100"
    r = runner.invoke(app, ["platform", "cancel", jid, "--json"], env=env)
    assert json.loads(r.stdout)["state"] == "cancelled"
    r = runner.invoke(app, ["platform", "usage", "--json"], env=env)
    assert r.exit_code == 0 and "total_cost" in json.loads(r.stdout)
    r = runner.invoke(app, ["platform", "submit", "x", "--pool", "nope"], env=env)
    assert r.exit_code == 1 and "unknown pool" in r.output
