"""`wanka platform`: run the pooled-compute service and talk to it.

Service: `init` (schema + first admin token), `serve` (HTTP on host:port).
Client (against `--url`, default $WANKA_PLATFORM_URL or http://127.0.0.1:8000, with `--token` or
$WANKA_PLATFORM_TOKEN): `submit`, `jobs`, `cancel`, `quota`, `usage`; admin: `pool`, `tenant`.
Every client command takes `--json` and then prints the service's JSON answer as is.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from wanka.cli.common import console, handle_errors, print_json
from wanka.report.platform import records_table

__all__ = ["register"]

app = typer.Typer(
    help="Run the pooled-compute platform service and use it (tenants, quotas, jobs, usage).",
    no_args_is_help=True,
)

DbOpt = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: $WANKA_PLATFORM_DB or ~/.wanka)")
]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Service URL (default $WANKA_PLATFORM_URL)")
]
TokOpt = Annotated[str | None, typer.Option("--token", help="API token ($WANKA_PLATFORM_TOKEN)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the service's JSON answer.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="platform")


def _client(url: str | None, token: str | None) -> Any:
    from wanka.platform.client import Client

    return Client(url, token)


@app.command()
@handle_errors
def init(db: DbOpt = None) -> None:
    """Create or upgrade the schema; prints {"admin_token": ...} the first time only."""
    from wanka.platform.store import default_url, init_store

    url = db or default_url()
    token = init_store(url)
    print_json({"admin_token": token} if token else {"initialised": True, "db": _safe(url)})


def _safe(url: str) -> str:
    """The URL without a password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(database)"


@app.command()
@handle_errors
def serve(
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workdir: Annotated[
        Path | None, typer.Option(help="Where local jobs run (default: next to the database).")
    ] = None,
) -> None:
    """Serve the API, the dashboard (/ui) and /metrics until interrupted."""
    import uvicorn

    from wanka.platform.api import create_app
    from wanka.platform.store import default_url

    app_ = create_app(db or default_url(), workdir=str(workdir) if workdir else None)
    console.print(f"wanka platform on http://{host}:{port} (dashboard: /ui)", highlight=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def _show(data: Any, as_json: bool, columns: list[str], title: str) -> None:
    if as_json:
        print_json(data)
        return
    console.print(records_table(data, columns, title))


@app.command()
@handle_errors
def submit(
    command: Annotated[str, typer.Argument(help="Shell command the job runs.")],
    pool: Annotated[str, typer.Option(help="Pool name.")],
    accelerators: Annotated[int, typer.Option(min=1, help="Accelerators (gang).")] = 1,
    name: Annotated[str | None, typer.Option(help="Job name (default: the command).")] = None,
    run: Annotated[Path | None, typer.Option(help="Run spec (YAML/JSON) for the gate.")] = None,
    steps: Annotated[
        int | None, typer.Option(min=1, help="Training steps (for the quote).")
    ] = None,
    priority: Annotated[int, typer.Option(help="Higher is admitted first.")] = 0,
    key: Annotated[str | None, typer.Option(help="Idempotency key (default: random).")] = None,
    whatif: Annotated[
        bool, typer.Option("--whatif", help="Quote and expected start only.")
    ] = False,
    url: UrlOpt = None,
    token: TokOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit a job (or ask what-if): 202 with its id, state and quote."""
    from wanka.userfile import read_data

    body: dict[str, Any] = {
        "name": name or command[:128],
        "pool": pool,
        "accelerators": accelerators,
        "command": command,
        "priority": priority,
    }
    if run is not None:
        body["run"] = read_data(run, what="a run spec (YAML or JSON)")
    if steps is not None:
        body["steps"] = steps
    c = _client(url, token)
    if whatif:
        _show(
            c.call("POST", "/jobs:whatif", body),
            as_json,
            ["admissible", "expected_wait_s", "expected_duration_s", "reason"],
            "what-if",
        )
        return
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    _show(c.call("POST", "/jobs", body, headers), as_json, ["id", "name", "state", "reason"], "job")


@app.command()
@handle_errors
def jobs(
    job_id: Annotated[str | None, typer.Argument(help="One job's id (default: list).")] = None,
    state: Annotated[str | None, typer.Option(help="Only jobs in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    url: UrlOpt = None,
    token: TokOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List your jobs, newest first (or show one)."""
    c = _client(url, token)
    cols = ["id", "name", "pool", "accelerators", "state", "reason"]
    if job_id:
        _show(c.call("GET", f"/jobs/{job_id}"), as_json, cols, "job")
    else:
        _show(
            c.call("GET", "/jobs", params={"state": state, "limit": limit}), as_json, cols, "jobs"
        )


@app.command()
@handle_errors
def cancel(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    url: UrlOpt = None,
    token: TokOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a job (queued: at once; running: the engine stops it)."""
    _show(
        _client(url, token).call("POST", f"/jobs/{job_id}/cancel"),
        as_json,
        ["id", "name", "state"],
        "job",
    )


@app.command()
@handle_errors
def quota(
    tenant: Annotated[str | None, typer.Option(help="Admin: set this tenant's quota (id).")] = None,
    pool: Annotated[str | None, typer.Option(help="Admin: pool of the quota.")] = None,
    accelerators: Annotated[int | None, typer.Option(min=0, help="Nominal quota.")] = None,
    borrow_limit: Annotated[int, typer.Option(min=0, help="Borrowable beyond nominal.")] = 0,
    url: UrlOpt = None,
    token: TokOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show quotas and their use; an admin with --tenant/--pool/--accelerators sets one."""
    c = _client(url, token)
    if tenant is not None:
        if pool is None or accelerators is None:
            from wanka.errors import ConfigError

            raise ConfigError("setting a quota needs --tenant, --pool and --accelerators")
        body = {"pool": pool, "accelerators": accelerators, "borrow_limit": borrow_limit}
        c.call("PUT", f"/tenants/{tenant}/quotas", body)
    cols = ["tenant", "pool", "accelerators", "borrow_limit", "in_use", "borrowed", "queued_jobs"]
    _show(c.call("GET", "/quotas"), as_json, cols, "quotas")


@app.command()
@handle_errors
def usage(
    group_by: Annotated[str, typer.Option(help="pool | job | day")] = "pool",
    invoice: Annotated[str | None, typer.Option(help="Monthly invoice for YYYY-MM.")] = None,
    url: UrlOpt = None,
    token: TokOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Metered accelerator-hours and cost (or one month's invoice)."""
    c = _client(url, token)
    if invoice:
        data = c.call("GET", f"/invoices/{invoice}")
        if as_json:
            print_json(data)
            return
        _show(
            data["lines"],
            False,
            ["pool", "tier", "accel_hours", "price_per_accel_hour", "amount"],
            f"invoice {invoice}: total {data['total']:.2f}",
        )
        return
    data = c.call("GET", "/usage", params={"group_by": group_by})
    if as_json:
        print_json(data)
        return
    _show(
        data["lines"],
        False,
        [group_by, "accel_hours", "cost", "cost_per_million_tokens"],
        f"usage: {data['total_accel_hours']:.3f} accelerator-hours, cost {data['total_cost']:.2f}",
    )


@app.command("pool")
@handle_errors
def pool_cmd(
    name: Annotated[str, typer.Argument(help="Pool name.")],
    accelerator: Annotated[str, typer.Option(help="Accelerator id, e.g. h100-sxm.")],
    accelerators: Annotated[int, typer.Option(min=1, help="Accelerators in the pool.")],
    executor: Annotated[str, typer.Option(help="local | ray | slurm | kubernetes")] = "local",
    price: Annotated[float | None, typer.Option(help="Price per accelerator-hour.")] = None,
    url: UrlOpt = None,
    token: TokOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Admin: create a pool."""
    body: dict[str, Any] = {
        "name": name,
        "accelerator": accelerator,
        "accelerators": accelerators,
        "executor": executor,
    }
    if price is not None:
        body["price_per_accel_hour"] = price
    _show(
        _client(url, token).call("POST", "/pools", body),
        as_json,
        ["name", "accelerator", "accelerators", "executor"],
        "pool",
    )


@app.command("tenant")
@handle_errors
def tenant_cmd(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    weight: Annotated[float, typer.Option(help="Fair-share weight.")] = 1.0,
    pool: Annotated[str | None, typer.Option(help="Give a quota in this pool.")] = None,
    accelerators: Annotated[int, typer.Option(min=0, help="Nominal quota.")] = 0,
    borrow_limit: Annotated[int, typer.Option(min=0, help="Borrowable beyond nominal.")] = 0,
    url: UrlOpt = None,
    token: TokOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Admin: create a tenant, its first token (shown once) and optionally a quota."""
    c = _client(url, token)
    t = c.call("POST", "/tenants", {"name": name, "weight": weight})
    k = c.call("POST", f"/tenants/{t['id']}/tokens", {})
    if pool is not None:
        body = {"pool": pool, "accelerators": accelerators, "borrow_limit": borrow_limit}
        c.call("PUT", f"/tenants/{t['id']}/quotas", body)
    out = {"id": t["id"], "name": name, "token": k["token"]}
    _show(out, as_json, ["id", "name", "token"], "tenant (the token is shown once)")
