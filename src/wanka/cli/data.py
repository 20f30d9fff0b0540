"""`wanka data`: register datasets, copy them with verification, verify replicas, list them.

The registry and the movers are imported inside each command so `wanka --help` stays fast.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Self

import typer

from wanka.cli.common import (
    WIDE_HELP,
    console,
    err_console,
    fail,
    handle_errors,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from wanka.data.registry import Registry

__all__ = ["register"]

app = typer.Typer(
    help="Register training datasets, copy them with verification, and track their replicas.",
    no_args_is_help=True,
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="Registry database URL (default $WANKA_DB, else sqlite:///wanka.db)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Files processed at once.", min=1)]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="S3-compatible endpoint for s3:// locations (default $AWS_ENDPOINT_URL).",
    ),
]


def _registry(db: str | None) -> Registry:
    from wanka.data.registry import Registry

    return Registry(db)


class _Bar:
    """A bytes progress bar on stderr, shown only on a terminal after the first second."""

    def __init__(self, description: str, enabled: bool) -> None:
        import time

        self.enabled = enabled and err_console.is_terminal
        self.description, self.t0, self.clock = description, time.monotonic(), time.monotonic
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if self.clock() - self.t0 < 1.0 or done >= total:
                return
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        self.bar.update(self.task, completed=done)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _gib(n: int) -> str:
    from wanka.report.data import human_bytes

    return human_bytes(n)


@app.command("register")
@handle_errors
def register_cmd(
    path: Annotated[Path, typer.Argument(help="Directory (or file) holding the dataset version.")],
    name: Annotated[str, typer.Option("--name", help="Dataset name.")],
    version: Annotated[str, typer.Option("--version", help="Version label (immutable).")],
    license: Annotated[str | None, typer.Option("--license", help="SPDX license id.")] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option("--tokenizer", help="Hugging Face tokenizer.json to count tokens exactly."),
    ] = None,
    text_field: Annotated[
        str, typer.Option("--text-field", help="Text field of records.")
    ] = "text",
    parent: Annotated[
        list[str] | None, typer.Option("--parent", help="NAME@VERSION this one derives from.")
    ] = None,
    derived_by: Annotated[
        str | None, typer.Option("--derived-by", help="The command that derived it from --parent.")
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Owner tenant.")] = None,
    public: Annotated[bool, typer.Option("--public", help="Visible to every tenant.")] = False,
    workers: WorkersOpt = 4,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Hash every file of PATH into a manifest and record it as NAME@VERSION."""
    from wanka.data.ops import register_path

    reg = _registry(db)
    rec = register_path(
        reg,
        path,
        name=name,
        version=version,
        license=license,
        tokenizer=tokenizer,
        text_field=text_field,
        parents=tuple(parent or ()),
        command=derived_by or (" ".join(shlex.quote(a) for a in sys.argv[1:]) if parent else None),
        tenant=tenant,
        public=public,
        workers=workers,
    )
    d = rec.to_dict()
    if json_out:
        print_json({"ref": rec.ref, **d})
        return
    tokens = (
        "-" if rec.tokens is None else f"{rec.tokens:,}" + (" (estimate)" * rec.tokens_estimated)
    )
    console.print(
        f"registered {rec.ref}: {rec.files} files, {_gib(rec.bytes)}, {rec.format}, "
        f"{rec.samples if rec.samples is not None else '-'} samples, {tokens} tokens\n"
        f"manifest sha256 {rec.manifest_sha256}",
        highlight=False,
    )


@app.command("copy")
@handle_errors
def copy_cmd(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION.")],
    dest: Annotated[str, typer.Argument(help="Destination: a path or s3://BUCKET/PREFIX.")],
    source: Annotated[
        str | None,
        typer.Option("--from", help="Copy from this replica instead of the registered source."),
    ] = None,
    bwlimit: Annotated[
        str | None,
        typer.Option("--bwlimit", help="Bytes/s for all files together: 100M = 100 MiB/s."),
    ] = None,
    workers: WorkersOpt = 4,
    endpoint_url: EndpointOpt = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant the transfer is for.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy NAME@VERSION to DEST, verify every file, and record DEST as a replica."""
    from wanka.data.fastpath import open_copy_registry
    from wanka.data.mover import parse_bwlimit
    from wanka.data.names import default_db_url
    from wanka.data.ops import copy_version

    limit = parse_bwlimit(bwlimit)
    reg = open_copy_registry(db or default_db_url(), ref) or _registry(db)
    with _Bar(f"copy {ref}", not json_out) as bar:
        res = copy_version(
            reg,
            ref,
            dest,
            source=source,
            endpoint_url=endpoint_url,
            workers=workers,
            bwlimit=limit,
            tenant=tenant,
            progress=bar,
        )
    out = {
        "ref": ref,
        "destination": dest,
        "files_copied": res.files_copied,
        "files_skipped": res.files_skipped,
        "bytes": res.bytes,
        "verified": res.verified,
        "extra": res.extra,
        "seconds": round(res.seconds, 3),
    }
    if json_out:
        print_json(out)
        return
    console.print(
        f"copied {ref} to {dest}: {res.files_copied} files copied ({_gib(res.bytes)}), "
        f"{res.files_skipped} already there, all verified in {res.seconds:.1f} s",
        highlight=False,
    )
    if res.extra:
        err_console.print(f"note: {len(res.extra)} files at {dest} are not in the manifest")


@app.command("verify")
@handle_errors
def verify_cmd(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION.")],
    location: Annotated[str, typer.Argument(help="A path or s3://BUCKET/PREFIX.")],
    workers: WorkersOpt = 4,
    endpoint_url: EndpointOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-read LOCATION and compare it with the manifest; exit 1 naming every file that differs."""
    from wanka.data.ops import verify_version

    reg = _registry(db)
    with _Bar(f"verify {ref}", not json_out) as bar:
        res = verify_version(
            reg, ref, location, endpoint_url=endpoint_url, workers=workers, progress=bar
        )
    if json_out:
        print_json(
            {
                "ref": ref,
                "location": location,
                "ok": res.ok,
                "files": res.files,
                "bytes": res.bytes,
                "mismatched": res.mismatched,
                "missing": res.missing,
                "extra": res.extra,
            }
        )
    if not res.ok:
        fail(res.message(location))
    if not json_out:
        console.print(f"{location} matches {ref}: {res.files} files, {_gib(res.bytes)}")


@app.command("list")
@handle_errors
def list_cmd(
    wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every registered dataset version."""
    from wanka.report.data import versions_table

    reg = _registry(db)
    recs = [reg.get(r.ref) for r in reg.versions()]
    if json_out:
        print_json([{"ref": r.ref, **r.to_dict()} for r in recs])
        return
    print_table(versions_table(recs, width=console.width, wide=wide))


@app.command("show")
@handle_errors
def show_cmd(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION, or NAME for all its versions.")],
    files: Annotated[bool, typer.Option("--files", help="Also list the manifest.")] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A dataset version: counts, license, source, replicas (and its manifest with --files)."""
    from wanka.data.registry import parse_ref

    reg = _registry(db)
    name, version = parse_ref(ref)
    recs = [reg.get(ref)] if version else [reg.get(r.ref) for r in reg.versions(name)]
    out = []
    for r in recs:
        d = {"ref": r.ref, **r.to_dict()}
        if files:
            d["manifest"] = [
                {"path": e.path, "size_bytes": e.size_bytes, "sha256": e.sha256}
                for e in reg.manifest(r.ref).entries
            ]
        out.append(d)
    if json_out:
        print_json(out[0] if version else out)
        return
    for d in out:
        console.print(f"[bold]{d['ref']}[/]", highlight=False)
        for k, v in d.items():
            if k not in ("ref", "manifest", "replicas"):
                console.print(f"  {k}: {v}", highlight=False, markup=False)
        for rep in d["replicas"]:
            console.print(
                f"  replica: {rep['location']} (verified {rep['verified_at']})", markup=False
            )
        for e in d.get("manifest", []):
            console.print(f"  {e['sha256'][:12]} {e['size_bytes']:>12} {e['path']}", markup=False)


@app.command("lineage")
@handle_errors
def lineage_cmd(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Which versions a version derives from (recursively), and which derive from it."""
    tree = _registry(db).lineage(ref)
    if json_out:
        print_json(tree)
        return

    def show(nodes: list[dict[str, Any]], depth: int) -> None:
        for n in nodes:
            how = f"  (by: {n['command']})" if n.get("command") else ""
            console.print("  " * depth + f"<- {n['ref']}{how}", markup=False, highlight=False)
            show(n.get("parents", []), depth + 1)

    console.print(tree["ref"], markup=False)
    show(tree["parents"], 1)
    for c in tree["children"]:
        console.print(f"  -> {c['ref']}", markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
