"""Porting PyTorch code off CUDA: find what ties it to CUDA, rewrite it device-neutral, report the effort.

`scan(path)` -> `ScanResult` (findings with per-target severity and alternative, portability scores);
`fix(path, target, write=...)` -> `FixResult` (unified diffs, files written atomically);
`build_report(result, ...)` -> Markdown/HTML report. Rules and targets live in `wanka.port.rules`.
"""

from __future__ import annotations

from wanka.port.fix import FixResult, fix
from wanka.port.rules import RULES, TARGET_INFO, TARGETS, check_target
from wanka.port.scan import FileError, Finding, ScanResult, scan

__all__ = [
    "RULES",
    "TARGETS",
    "TARGET_INFO",
    "FileError",
    "Finding",
    "FixResult",
    "ScanResult",
    "check_target",
    "fix",
    "scan",
]
