"""Portability score and porting effort per target.

The score is the share of CUDA-specific sites that keep working on the target, counting a site that
runs degraded as half:

    score     = 100 * (n_info + 0.5 * n_degrades) / n_sites          (100 when there is no site)
    after_fix = the same, counting every site `wanka port fix` rewrites as working

Effort (engineer-hours) adds, per site, 0.05 h to review an automatic rewrite, or the rule's
`manual_hours` for a site left to a person (half of it when the site only degrades), plus a fixed
4 h of smoke and accuracy testing on the target when anything breaks there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["REVIEW_HOURS", "VALIDATION_HOURS", "TargetScore", "score_targets"]

REVIEW_HOURS = 0.05  # reading one automatic rewrite in a diff
VALIDATION_HOURS = 4.0  # run the training step on the target and compare losses with the CUDA run


class _FindingLike(Protocol):
    @property
    def targets(self) -> dict[str, dict[str, str]]: ...
    @property
    def manual_hours(self) -> float: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetScore:
    """How portable the scanned code is to one target."""

    target: str
    sites: int
    breaks: int
    degrades: int
    info: int
    auto_fixable: int
    manual: int
    """Sites that break or degrade and have no automatic rewrite."""
    score: float
    after_fix: float
    effort_hours: float

    @property
    def explanation(self) -> str:
        if self.sites == 0:
            return "no CUDA-specific code found: 100"
        return (
            f"{self.info} of {self.sites} CUDA-specific sites run as is and {self.degrades} run degraded "
            f"(counted as half): score {self.score:.0f}; {self.auto_fixable} sites are rewritten by "
            f"`wanka port fix`, {self.manual} need a person: {self.after_fix:.0f} after the fix"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 1),
            "after_fix": round(self.after_fix, 1),
            "sites": self.sites,
            "breaks": self.breaks,
            "degrades": self.degrades,
            "info": self.info,
            "auto_fixable": self.auto_fixable,
            "manual": self.manual,
            "effort_hours": round(self.effort_hours, 2),
            "explanation": self.explanation,
        }


def score_targets(
    findings: Iterable[_FindingLike], targets: Iterable[str]
) -> dict[str, TargetScore]:
    """One `TargetScore` per target from findings carrying per-target severities."""
    findings = list(findings)
    out: dict[str, TargetScore] = {}
    for t in targets:
        n = b = d = i = auto = manual = 0
        ok_after = 0.0
        hours = 0.0
        for f in findings:
            per = f.targets.get(t)
            if per is None:
                continue
            n += 1
            sev, fix = per["severity"], per["fix"]
            b += sev == "breaks"
            d += sev == "degrades"
            i += sev == "info"
            if sev == "info":
                ok_after += 1
            elif fix == "auto":
                auto += 1
                ok_after += 1
                hours += REVIEW_HOURS
            else:
                manual += 1
                ok_after += 0.5 if sev == "degrades" else 0.0
                hours += f.manual_hours * (0.5 if sev == "degrades" else 1.0)
        if b:
            hours += VALIDATION_HOURS
        score = 100.0 if n == 0 else 100.0 * (i + 0.5 * d) / n
        after = 100.0 if n == 0 else 100.0 * ok_after / n
        out[t] = TargetScore(
            target=t,
            sites=n,
            breaks=b,
            degrades=d,
            info=i,
            auto_fixable=auto,
            manual=manual,
            score=score,
            after_fix=after,
            effort_hours=hours,
        )
    return out
