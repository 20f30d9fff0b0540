"""The porting report of one scanned project, as a plain data structure (rendered by report/port).

Sections: the portability score and effort per target, the findings grouped by rule (with what each
becomes on every target and where it occurs), what `wanka port fix` leaves to a person, and — given a
chip profile and the team's run spec — the expected throughput of that training run on the target chip
with the measured software efficiency (through `wanka.perf.predict`, imported lazily).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wanka.port.rules import RULES, SEVERITY_ORDER
from wanka.port.scan import Finding, ScanResult

__all__ = ["PortReport", "build_report", "expected_throughput"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortReport:
    """Everything the report shows, renderer-independent."""

    project: str
    files: int
    lines: int
    targets: tuple[str, ...]
    scores: dict[str, dict[str, Any]]
    groups: list[dict[str, Any]]
    manual: dict[str, list[dict[str, Any]]]
    errors: list[dict[str, Any]]
    throughput: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "files": self.files,
            "lines": self.lines,
            "targets": list(self.targets),
            "scores": self.scores,
            "groups": self.groups,
            "manual": self.manual,
            "errors": self.errors,
            "throughput": self.throughput,
            "notes": self.notes,
        }


def _worst(severities: list[str]) -> str:
    """The first of the most severe (as `max` with SEVERITY_ORDER as the key)."""
    worst = severities[0]
    for sev in severities[1:]:
        if SEVERITY_ORDER[sev] > SEVERITY_ORDER[worst]:
            worst = sev
    return worst


def _where(f: Finding) -> str:
    return f"{f.file}:{f.line}" if f.cell is None else f"{f.file} cell {f.cell}:{f.line}"


def build_report(result: ScanResult, *, throughput: dict[str, Any] | None = None) -> PortReport:
    """Group a scan's findings by rule and attach scores, effort and (optionally) expected throughput."""
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_rule[f.rule].append(f)
    groups = []
    for rule_id, fs in sorted(
        by_rule.items(),
        key=lambda kv: (-max(SEVERITY_ORDER[f.severity] for f in kv[1]), -len(kv[1]), kv[0]),
    ):
        rule = RULES[rule_id]
        per_target = {}
        for t in result.targets:
            sevs: list[str] = [f.targets[t]["severity"] for f in fs]
            per_target[t] = {
                "severity": _worst(sevs),
                "becomes": sorted({f.targets[t]["becomes"] for f in fs}),
            }
        groups.append(
            {
                "rule": rule_id,
                "title": rule.title,
                "count": len(fs),
                "auto_fix": rule.fix if any(f.fixable for f in fs) else None,
                "targets": per_target,
                "locations": [_where(f) for f in fs],
            }
        )
    manual: dict[str, list[dict[str, Any]]] = {}
    for t in result.targets:
        manual[t] = [
            {
                "where": _where(f),
                "rule": f.rule,
                "severity": f.targets[t]["severity"],
                "message": f.message,
                "alternative": f.targets[t]["becomes"],
            }
            for f in result.findings
            if f.targets[t]["fix"] == "manual" and f.targets[t]["severity"] != "info"
        ]
    return PortReport(
        project=result.root,
        files=len(result.files),
        lines=result.lines,
        targets=result.targets,
        scores={t: s.to_json() for t, s in result.score.items()},
        groups=groups,
        manual=manual,
        errors=[e.to_json() for e in result.errors],
        throughput=throughput,
    )


def expected_throughput(
    run_path: str | Path,
    *,
    profile_path: str | Path | None = None,
    accelerator_id: str | None = None,
) -> dict[str, Any]:
    """Predict the team's run (a run-spec file) on the target chip, with and without the measured profile.

    The chip is `accelerator_id`, else the profile's chip, else the run's own. Returns a dict with the
    catalog-efficiency and profiled predictions, or {"unavailable": reason} when the run spec cannot
    be used.
    """
    from dataclasses import replace

    from wanka.catalogs import get_accelerator
    from wanka.errors import WankaError
    from wanka.perf import predict
    from wanka.profile import apply_profile, load_profile
    from wanka.spec import RunSpec, load_runs

    try:
        profile = load_profile(profile_path) if profile_path is not None else None
        runs = [r for r in load_runs(run_path) if isinstance(r, RunSpec)]
        if not runs:
            return {"unavailable": f"{run_path}: no valid run in the file"}
        run = runs[0]
        acc_id = (
            accelerator_id
            or (profile.accelerator if profile is not None else None)
            or run.hardware.accelerator.id
        )
        acc = get_accelerator(acc_id)
        run = replace(run, hardware=replace(run.hardware, accelerator=acc))
        base = predict(run, accelerator=acc)
        out: dict[str, Any] = {
            "run": run.id,
            "accelerator": acc.id,
            "count": run.hardware.count,
            "catalog": {
                "tokens_per_s_per_gpu": base["tokens_per_s_per_gpu"],
                "mfu": base["mfu"],
                "step_time_s": base["step_time_s"],
                "software_efficiency": acc.software_efficiency.source,
            },
        }
        if profile is not None:
            prof_acc = apply_profile(acc, profile)
            res = predict(run, accelerator=prof_acc)
            out["profiled"] = {
                "tokens_per_s_per_gpu": res["tokens_per_s_per_gpu"],
                "mfu": res["mfu"],
                "step_time_s": res["step_time_s"],
                "software_efficiency": prof_acc.software_efficiency.source,
            }
        return out
    except WankaError as e:
        return {"unavailable": str(e)}
