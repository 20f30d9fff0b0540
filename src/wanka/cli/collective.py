"""`wanka collective`: price one collective (time, nccl-tests algbw and busbw) with the communication model."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wanka.catalogs import get_accelerator
from wanka.cli.common import FormatOpt, console, handle_errors, print_json, use_format
from wanka.errors import ConfigError
from wanka.hardware import Accelerator
from wanka.report.collective import collective_table
from wanka.topology.collective import ALGORITHMS, OPS, TOPOLOGIES, FabricTier, estimate
from wanka.units import GB, parse_size
from wanka.userfile import MAX_MESSAGE_BYTES, check_count, check_number

__all__ = ["collective", "ranks_per_domain", "register"]


def register(root: typer.Typer) -> None:
    """Attach `wanka collective` (a single command) to the root app."""
    root.command(name="collective")(collective)


def ranks_per_domain(acc: Accelerator, gpus: int, gpus_per_node: int | None) -> int:
    """Group members sharing one scale-up domain.

    An explicit --gpus-per-node is taken as the members per domain (e.g. NVL partitions on different
    racks). The default is the accelerator's node, or its scale-up domain where that spans several nodes
    (GB200 NVL72: 18 trays of 4 GPUs on one NVLink switch fabric). A smaller group lives in one domain.
    """
    if gpus_per_node is not None:
        return min(gpus, gpus_per_node)
    return min(gpus, max(acc.gpus_per_node, acc.scaleup_domain))


@handle_errors
def collective(
    op: Annotated[str, typer.Option("--op", help=f"Collective: {', '.join(OPS)}.")],
    size: Annotated[
        str, typer.Option("--bytes", help="nccl-tests size: bytes, or 512MB, 8GiB, 1.5e9 ...")
    ],
    accelerator: Annotated[
        str, typer.Option("--accelerator", help="Accelerator id from the catalog.")
    ],
    gpus: Annotated[int, typer.Option("--gpus", help="Ranks in the group.")],
    gpus_per_node: Annotated[
        int | None,
        typer.Option(
            "--gpus-per-node",
            help="Ranks sharing one node / scale-up domain (default: the accelerator's "
            "node, or its larger scale-up domain such as NVL72).",
        ),
    ] = None,
    algorithm: Annotated[
        str, typer.Option("--algorithm", help="ring | tree | nvls | auto.")
    ] = "auto",
    in_network_reduction: Annotated[
        bool,
        typer.Option("--in-network-reduction", help="Reduce in the scale-out switches (SHARP)."),
    ] = False,
    topology: Annotated[
        str, typer.Option("--topology", help=f"Scale-out topology: {', '.join(TOPOLOGIES)}.")
    ] = "fat-tree",
    oversubscription: Annotated[
        float,
        typer.Option(
            "--oversubscription", help="Down:up taper for traffic leaving a pod (1 = non-blocking)."
        ),
    ] = 1.0,
    pod_size: Annotated[
        int | None,
        typer.Option(
            "--pod-size",
            help="Accelerators under full bisection (default: a 32-node scalable unit).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Time one collective on N accelerators: seconds, algbw and busbw as nccl-tests reports them."""
    as_json = use_format(fmt, as_json)
    nbytes = parse_size(size)
    check_number("--bytes", nbytes, maximum=MAX_MESSAGE_BYTES, unit="bytes", why_max="1 PiB")
    check_count("--gpus", gpus)
    if gpus_per_node is not None:
        check_count("--gpus-per-node", gpus_per_node)
    if op not in OPS:
        raise ConfigError(f"unknown --op {op!r}; choose from {', '.join(OPS)}")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown --algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    check_number("--oversubscription", oversubscription, minimum=1, inclusive_min=True)
    if not oversubscription >= 1.0:
        raise ConfigError(f"--oversubscription must be >= 1 (down:up), got {oversubscription}")
    if pod_size is not None:
        check_count("--pod-size", pod_size)
    acc = get_accelerator(accelerator)
    g = ranks_per_domain(acc, gpus, gpus_per_node)
    # A DGX SuperPOD scalable unit (32 nodes) is the usual full-bisection block under a tapered spine.
    pod = pod_size if pod_size is not None else 32 * acc.gpus_per_node
    fabric = FabricTier.for_topology(
        topology, oversubscription=oversubscription, pod_accelerators=pod
    )
    e = estimate(
        op,
        nbytes,
        gpus,
        g,
        acc,
        algorithm=algorithm,
        in_network_reduction=in_network_reduction,
        fabric=fabric,
    )
    out: dict[str, Any] = {
        "op": op,
        "bytes": nbytes,
        "accelerator": acc.id,
        "gpus": gpus,
        "gpus_per_domain": g,
        "time_s": e.time_s,
        "algbw_gb_s": e.algbw_bytes_per_s / GB,
        "busbw_gb_s": e.busbw_bytes_per_s / GB,
        "algorithm": e.algorithm,
        "protocol": e.protocol,
        "tier": e.tier,
        "topology": topology,
        "oversubscription": oversubscription,
        "in_network_reduction": in_network_reduction,
    }
    if as_json:
        print_json(out)
        return
    console.print(collective_table(out))
