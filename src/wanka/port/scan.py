"""`wanka port scan`: find every CUDA-specific construct under a path and score its portability.

    result = scan(Path("my_project"))
    result.findings[0].rule, result.findings[0].line, result.score["npu"].score

A file that does not parse becomes a `FileError` (with its line and column) and the other files are
still scanned. Files without any CUDA-related token are only syntax-checked (with the C parser), which
keeps a large tree fast; the rest go through libcst (`wanka.port.analyze`).
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper

from wanka.errors import ConfigError
from wanka.port.analyze import Analyzer, Site, collect_aliases
from wanka.port.rules import PACKAGES, RULES, TARGETS, check_target, worst
from wanka.port.score import TargetScore, score_targets
from wanka.port.source import NotebookCell, SourceFile, discover, read_notebook
from wanka.userfile import read_bytes, read_source

__all__ = ["TRIGGER", "FileError", "Finding", "ScanResult", "analyze_code", "parse_code", "scan"]

#: A file without any of these tokens cannot hold a finding (used to skip the libcst pass).
_TRIGGER_TEXT = (
    r"cuda|CUDA|nccl|NCCL_|cudnn|nvtx|nvidia|apex|flash_attn|xformers|bitsandbytes|triton"
    r"|transformer_engine|pycuda|cupy|pynvml|numba|mamba_ssm|causal_conv1d|cutlass|DataParallel"
    r"|data_parallel|reduce-overhead|max-autotune|pin_memory|\.cuh?\b"
)
TRIGGER = re.compile(_TRIGGER_TEXT.encode())


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One CUDA-specific site: where it is, how bad it is, and what it becomes on each target."""

    file: str
    line: int
    col: int
    rule: str
    severity: str
    """The worst severity over the reported targets."""
    message: str
    targets: dict[str, dict[str, str]]
    """Per target: {"severity", "becomes", "fix": "auto" | "manual"}."""
    fixable: bool
    guarded: bool = False
    cell: int | None = None
    """For a notebook: the cell's index (0-based, among all cells); `line` is then within the cell."""
    manual_hours: float = 0.0

    def to_json(self) -> dict:
        d = {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "targets": self.targets,
            "fixable": self.fixable,
            "guarded": self.guarded,
        }
        if self.cell is not None:
            d["cell"] = self.cell
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class FileError:
    """A file that could not be analysed (syntax error, unreadable notebook)."""

    file: str
    line: int | None
    col: int | None
    error: str

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col, "error": self.error}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """Everything `scan` found under one path."""

    root: str
    files: tuple[str, ...]
    lines: int
    findings: tuple[Finding, ...]
    errors: tuple[FileError, ...]
    targets: tuple[str, ...]
    score: dict[str, TargetScore] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "root": self.root,
            "files": list(self.files),
            "lines": self.lines,
            "findings": [f.to_json() for f in self.findings],
            "errors": [e.to_json() for e in self.errors],
            "score": {t: s.to_json() for t, s in self.score.items()},
            "seconds": round(self.seconds, 3),
        }


def parse_code(code: bytes | str) -> cst.Module:
    """Parse with libcst; a syntax error becomes a ConfigError carrying `line:col: message`."""
    try:
        return cst.parse_module(code)
    except cst.ParserSyntaxError as e:
        raise _SyntaxProblem(
            e.editor_line, e.editor_column, e.message.strip().splitlines()[0]
        ) from None


class _SyntaxProblem(ConfigError):
    def __init__(self, line: int | None, col: int | None, message: str) -> None:
        super().__init__(f"{line}:{col}: syntax error: {message}")
        self.line, self.col, self.message = line, col, message


def analyze_code(
    code: bytes | str, aliases: dict[str, str] | None = None
) -> tuple[MetadataWrapper, list[Site]]:
    """Parse and analyse one module; returns the wrapper (whose `.module` the rewrites refer to) and sites."""
    module = parse_code(code)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    analyzer = Analyzer(aliases if aliases is not None else collect_aliases(code))
    wrapper.visit(analyzer)
    return wrapper, analyzer.sites


def _cuda_names(aliases: dict[str, str]) -> list[str]:
    """Local names bound to CUDA-specific modules (``from torch.cuda.amp import autocast`` -> autocast)."""
    out = []
    for local, full in aliases.items():
        if (
            full.startswith(("torch.cuda", "torch.backends.cud", "torch.utils.cpp_extension"))
            or full.split(".")[0] in PACKAGES
            or full.startswith("numba.cuda")
        ):
            out.append(local)
    return out


def reduce_source(text: str, tree: ast.Module, trigger: re.Pattern[str]) -> str:
    """Blank out the statements that cannot hold a finding, keeping every line number and column.

    A statement (with its decorators) whose text matches no trigger token becomes empty lines; a class
    or function that does match has its own direct children reduced the same way. Imports are kept.
    libcst then parses (and positions) only what matters, which is what keeps a big tree fast.
    """
    lines = text.splitlines(keepends=True)
    blank: set[int] = set()
    keep: set[int] = set()

    def span(n: ast.stmt) -> tuple[int, int]:
        start = min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", ())])
        return start, n.end_lineno or n.lineno

    def hit(n: ast.stmt) -> bool:
        a, b = span(n)
        return bool(trigger.search("".join(lines[a - 1 : b])))

    def visit(body: list[ast.stmt]) -> None:
        for n in body:
            a, b = span(n)
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                keep.update(range(a, b + 1))
            elif not hit(n):
                blank.update(range(a, b + 1))
            elif (
                isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and n.body
                and any(hit(k) for k in n.body)
            ):
                keep.update(range(a, span(n.body[0])[0]))
                visit(n.body)
            else:
                keep.update(range(a, b + 1))

    visit(tree.body)
    drop = blank - keep
    if not drop:
        return text
    out = []
    for i, line in enumerate(lines, start=1):
        if i in drop:
            out.append("\r\n" if line.endswith("\r\n") else "\n")
        else:
            out.append(line)
    return "".join(out)


def _finding(
    rel: str, site: Site, targets: tuple[str, ...], line: int | None = None, cell: int | None = None
) -> Finding:
    per = {
        t: {
            "severity": site.severity[t],
            "becomes": site.becomes[t],
            "fix": "auto" if site.rewrite is not None else "manual",
        }
        for t in targets
    }
    return Finding(
        file=rel,
        line=line if line is not None else site.line,
        col=site.col,
        rule=site.rule,
        severity=worst([site.severity[t] for t in targets]),
        message=site.message,
        targets=per,
        fixable=site.rewrite is not None,
        guarded=site.guarded,
        cell=cell,
        manual_hours=site.manual_hours,
    )


def _syntax_check(data: bytes, rel: str) -> FileError | None:
    try:
        ast.parse(data, filename=rel)
    except SyntaxError as e:
        return FileError(file=rel, line=e.lineno, col=e.offset, error=f"syntax error: {e.msg}")
    except ValueError as e:  # null bytes
        return FileError(file=rel, line=None, col=None, error=f"cannot parse: {e}")
    return None


def scan_file(
    src: SourceFile, targets: tuple[str, ...]
) -> tuple[int, list[Finding], list[FileError]]:
    """Scan one file: (line count, findings, errors)."""
    try:
        data = read_bytes(src.path) if src.kind == "cuda" else read_source(src.path)
    except ConfigError as e:  # the message starts with the path; the FileError names the file
        why = str(e).split(": ", 1)[-1]
        return 0, [], [FileError(file=src.rel, line=None, col=None, error=why)]
    if src.kind == "cuda":
        site_rule = RULES["cuda-extension"]
        per = {
            t: {"severity": site_rule.severity[t], "becomes": site_rule.becomes[t], "fix": "manual"}
            for t in targets
        }
        return (
            data.count(b"\n"),
            [
                Finding(
                    file=src.rel,
                    line=1,
                    col=1,
                    rule="cuda-extension",
                    severity=worst([site_rule.severity[t] for t in targets]),
                    message="CUDA kernel source file",
                    targets=per,
                    fixable=False,
                    manual_hours=site_rule.manual_hours,
                )
            ],
            [],
        )
    if src.kind == "notebook":
        return _scan_notebook(src, targets)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if not TRIGGER.search(data):
        err = _syntax_check(data, src.rel)
        return lines, [], [err] if err else []
    code: bytes | str = data
    aliases = None
    try:
        text = data.decode("utf-8")
        tree = ast.parse(text)
        aliases = collect_aliases(text)
        names = _cuda_names(aliases)
        trig = re.compile(_TRIGGER_TEXT + "".join(f"|\\b{re.escape(n)}\\b" for n in names))
        code = reduce_source(text, tree, trig)
    except (UnicodeDecodeError, SyntaxError, ValueError):
        code, aliases = data, None  # let libcst parse (and report) the original bytes
    try:
        try:
            _, sites = analyze_code(code, aliases)
        except _SyntaxProblem:
            if code is data:
                raise
            _, sites = analyze_code(
                data, aliases
            )  # a reduction that did not parse: use the whole file
    except _SyntaxProblem as e:
        return (
            lines,
            [],
            [FileError(file=src.rel, line=e.line, col=e.col, error=f"syntax error: {e.message}")],
        )
    return lines, [_finding(src.rel, s, targets) for s in sites], []


def _cell_of(cells: list[NotebookCell], line: int) -> NotebookCell | None:
    for c in cells:
        if c.first_line <= line < c.first_line + max(c.line_count, 1):
            return c
    return None


def _scan_notebook(
    src: SourceFile, targets: tuple[str, ...]
) -> tuple[int, list[Finding], list[FileError]]:
    try:
        _, cells, joined = read_notebook(src.path)
    except ConfigError as e:
        return (
            0,
            [],
            [FileError(file=src.rel, line=None, col=None, error=str(e).split(": ", 1)[-1])],
        )
    lines = joined.count("\n")
    try:
        _, sites = analyze_code(joined)
    except _SyntaxProblem as e:
        cell = _cell_of(cells, e.line or 1)
        where = f"cell {cell.index}, " if cell else ""
        line = (e.line - cell.first_line + 1) if cell and e.line else e.line
        return (
            lines,
            [],
            [
                FileError(
                    file=src.rel, line=line, col=e.col, error=f"{where}syntax error: {e.message}"
                )
            ],
        )
    out = []
    for s in sites:
        cell = _cell_of(cells, s.line)
        line = s.line - cell.first_line + 1 if cell else s.line
        out.append(_finding(src.rel, s, targets, line=line, cell=cell.index if cell else None))
    return lines, out, []


PARALLEL_MIN_BYTES = 256 * 1024  # below this, starting worker processes costs more than it saves


def _scan_all(
    sources: list[SourceFile], targets: tuple[str, ...]
) -> list[tuple[int, list[Finding], list[FileError]]]:
    """Scan every file; big trees are spread over worker processes (libcst is CPU-bound)."""
    workers = min(os.cpu_count() or 1, 8)
    if workers < 4:  # on 2-3 cores the worker start-up and contention cost more than they save
        workers = 1
    try:
        size = sum(s.path.stat().st_size for s in sources)
    except OSError:
        size = 0
    if workers < 2 or size < PARALLEL_MIN_BYTES or len(sources) < 4:
        return [scan_file(s, targets) for s in sources]
    from concurrent.futures import ProcessPoolExecutor

    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(scan_file, sources, [targets] * len(sources), chunksize=4))
    except (OSError, RuntimeError):  # no process support here: do it in this process
        return [scan_file(s, targets) for s in sources]


def scan(path: Path | str, targets: tuple[str, ...] | list[str] | None = None) -> ScanResult:
    """Scan a file or a directory tree; `targets` limits the per-target columns (default: all)."""
    import time

    t0 = time.perf_counter()
    chosen = tuple(check_target(t) for t in targets) if targets else TARGETS
    root = Path(path)
    sources = discover(root)
    total_lines = 0
    findings: list[Finding] = []
    errors: list[FileError] = []
    for n, f, e in _scan_all(sources, chosen):
        total_lines += n
        findings.extend(f)
        errors.extend(e)
    findings.sort(
        key=lambda f: (f.file, f.cell if f.cell is not None else -1, f.line, f.col, f.rule)
    )
    return ScanResult(
        root=str(root),
        files=tuple(s.rel for s in sources),
        lines=total_lines,
        findings=tuple(findings),
        errors=tuple(errors),
        targets=chosen,
        score=score_targets(findings, chosen),
        seconds=time.perf_counter() - t0,
    )
