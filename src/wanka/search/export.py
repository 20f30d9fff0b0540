"""Write a parallel plan as a training framework's own configuration.

- `megatron`: a complete Megatron-LM launch (`wanka.frameworks.megatron`, checked in the test suite by
  Megatron-LM's own `parse_args` + `validate_args`);
- `torchtitan`: a torchtitan 0.3 config function (`wanka.frameworks.torchtitan`, checked in the test suite
  by torchtitan's own `ConfigManager`, `ParallelDims` and model checks);
- `nemo`: Megatron-Bridge `ConfigContainer` overrides, YAML (`wanka.frameworks.bridge`, checked in the
  test suite by the megatron-core config classes Bridge's `ConfigContainer` is made of).

Names come from each framework's documented arguments (Megatron-LM `megatron/training/arguments.py`,
torchtitan `torchtitan/config/configs.py`, Megatron-Bridge `ConfigContainer`); options a framework lacks
are written as comments so nothing is silently lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wanka.errors import ConfigError
from wanka.frameworks.bridge import to_bridge
from wanka.frameworks.megatron import Overlaps, megatron_problems, to_megatron
from wanka.frameworks.torchtitan import TORCHTITAN_DIMS, to_torchtitan, torchtitan_problems
from wanka.hardware import Accelerator
from wanka.parallel import ParallelPlan
from wanka.perf.comm import scaleup_domain_size
from wanka.workload.model import ModelSpec

__all__ = [
    "FORMATS",
    "export_plan",
    "export_top",
    "framework_dims",
    "framework_problems",
]

FORMATS = ("megatron", "torchtitan", "nemo")
EXTENSIONS = {"megatron": "sh", "torchtitan": "py", "nemo": "yaml"}


def framework_problems(
    plan: ParallelPlan, model: ModelSpec, fmt: str, precision: str = "bf16"
) -> list[str]:
    """Why framework `fmt` refuses this layout (empty if it accepts it)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt in ("megatron", "nemo"):  # Megatron-Bridge builds on Megatron-LM's argument checks
        return megatron_problems(plan, model)
    return torchtitan_problems(plan, model, precision)


def framework_dims(fmt: str | None) -> dict[str, tuple[Any, ...]]:
    """Search-space restrictions for layouts framework `fmt` can run at all (`search --export`), so
    its top plans are ones it accepts; model-dependent refusals are still checked per plan."""
    return dict(TORCHTITAN_DIMS) if fmt == "torchtitan" else {}


def credited_overlaps(plan: ParallelPlan, acc: Accelerator, gpus_per_node: int) -> Overlaps:
    """The overlaps the step model credits this plan with (`perf.step`: TE userbuffer TP overlap needs
    sequence parallelism and a TP group inside one scale-up domain; DP overlap is on by default)."""
    domain = scaleup_domain_size(acc, gpus_per_node)
    return Overlaps(tp=plan.sequence_parallel and plan.tp <= domain, dp=True)


def export_plan(
    plan: ParallelPlan,
    fmt: str,
    *,
    model: ModelSpec,
    accelerator: Accelerator,
    precision: str = "bf16",
    gpus_per_node: int = 8,
) -> str:
    """The plan in framework `fmt` (one of FORMATS); a layout the framework refuses is a ConfigError."""
    problems = framework_problems(plan, model, fmt, precision)
    if problems:
        raise ConfigError(f"{fmt} cannot run this plan: " + "; ".join(problems))
    if fmt == "megatron":
        overlaps = credited_overlaps(plan, accelerator, gpus_per_node)
        return to_megatron(
            plan, model, precision=precision, gpus_per_node=gpus_per_node, overlaps=overlaps
        )
    if fmt == "torchtitan":
        tp_overlap = credited_overlaps(plan, accelerator, gpus_per_node).tp and plan.tp > 1
        return to_torchtitan(
            plan, model, precision=precision, gpus_per_node=gpus_per_node, tp_overlap=tp_overlap
        )
    overlaps = credited_overlaps(plan, accelerator, gpus_per_node)
    return to_bridge(plan, model, precision=precision, overlaps=overlaps)


def export_top(
    result: dict[str, Any],
    fmt: str,
    *,
    model: ModelSpec,
    accelerator: Accelerator,
    out: Path | None = None,
    count: int = 1,
) -> tuple[list[Path], list[str]]:
    """Write the first `count` plans of a search result that framework `fmt` accepts.

    Returns the files written and, for each better-ranked plan the framework refuses, the reason it was
    passed over. The first file is `out` (default `wanka-best-plan.<fmt>.<ext>`; `wanka_plan.py` for
    torchtitan, whose config is an importable module), later ones get `-2`, `-3`, ... (`_2` for a
    Python module) before the extension.
    """
    written: list[Path] = []
    skipped: list[str] = []
    gpn = int(result.get("gpus_per_node") or accelerator.gpus_per_node)
    for rank, row in enumerate(result.get("top") or [], 1):
        plan = ParallelPlan(**row["parallelism"])
        problems = framework_problems(plan, model, fmt, row["precision"])
        if problems:
            skipped.append(f"plan {rank}: " + "; ".join(problems))
            continue
        text = export_plan(
            plan,
            fmt,
            model=model,
            accelerator=accelerator,
            precision=row["precision"],
            gpus_per_node=gpn,
        )
        path = _numbered(out or _default_path(fmt), len(written) + 1)
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if len(written) == count:
            break
    return written, skipped


def _default_path(fmt: str) -> Path:
    # a torchtitan config is a Python module named by `--module`: its file name must be importable
    if fmt == "torchtitan":
        return Path("wanka_plan.py")
    return Path(f"wanka-best-plan.{fmt}.{EXTENSIONS[fmt]}")


def _numbered(path: Path, i: int) -> Path:
    sep = "_" if path.suffix == ".py" else "-"
    return path if i == 1 else path.with_name(f"{path.stem}{sep}{i}{path.suffix}")
