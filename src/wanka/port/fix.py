"""`wanka port fix`: lossless libcst rewrites of CUDA-specific code into device-neutral code.

What the rewrites produce (PyTorch >= 2.6 for `torch.accelerator`):

* one device, chosen once at the top of the module from `torch.accelerator` with a CPU fallback
  (`_DEVICE_TYPE`, `_DEVICE`), and `.cuda()` / `"cuda"` / `f"cuda:{i}"` rewritten to use it;
* `torch.cuda.is_available/device_count/set_device/synchronize` -> `torch.accelerator.*`; functions
  every vendor mirrors (seeding, memory statistics, events) -> `torch.get_device_module(...)`;
* `torch.cuda.amp.autocast/GradScaler` -> `torch.amp.*` with the device type;
* the `"nccl"` backend -> the default backend for the device
  (`torch.distributed.get_default_backend_for_device`);
* cuDNN flags guarded by `torch.backends.cudnn.is_available()`, TF32 matmul flags ->
  `torch.set_float32_matmul_precision`;
* for targets whose PyTorch support is a plugin (npu, mlu, musa, hpu) an `import` of the plugin,
  guarded by `try/except ImportError` so the file still runs everywhere.

Comments, blank lines and formatting outside the rewritten expressions are kept byte for byte. A
second run changes nothing. What cannot be rewritten safely (custom CUDA kernels, flash_attn calls,
CUDA graphs) is left as is and reported with the target's alternative. `--write` replaces each file
atomically (temporary file, fsync, rename) and only after the new text compiles.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from wanka.errors import ConfigError
from wanka.port.analyze import (
    CREATED_GUARDS,
    PREAMBLE_NAMES,
    Rewrite,
    Site,
    collect_aliases,
    dotted_name,
)
from wanka.port.rules import RULES, SEVERITY_ORDER, TARGET_INFO, check_target
from wanka.port.scan import FileError, _SyntaxProblem, analyze_code, parse_code
from wanka.port.source import SourceFile, discover, read_notebook, restore_magics
from wanka.userfile import check_writable, read_source

__all__ = [
    "FileFix",
    "FixResult",
    "ManualItem",
    "fix",
    "fix_code",
    "preamble_lines",
    "write_atomic",
]

_DEPENDS = {
    "_DEVICE_TYPE": ("_ACCELERATOR",),
    "_ACCEL_TYPE": ("_ACCELERATOR",),
    "_DEVICE": ("_DEVICE_TYPE",),
    "_DEVICE_MODULE": ("_DEVICE_TYPE",),
    "_DIST_BACKEND": ("_DEVICE",),
}

_DEFINITIONS = {
    "_ACCELERATOR": (
        "_ACCELERATOR = (\n"
        "    torch.accelerator.current_accelerator()\n"
        '    if hasattr(torch, "accelerator") and torch.accelerator.is_available()\n'
        "    else None\n"
        ")\n"
    ),
    "_DEVICE_TYPE": '_DEVICE_TYPE = _ACCELERATOR.type if _ACCELERATOR is not None else "cpu"\n',
    "_ACCEL_TYPE": '_ACCEL_TYPE = _ACCELERATOR.type if _ACCELERATOR is not None else "no-accelerator"\n',
    "_DEVICE": "_DEVICE = torch.device(_DEVICE_TYPE)\n",
    # Without an accelerator, keep what the CUDA code did on a CPU-only machine (torch.cuda's lazy no-ops).
    "_DEVICE_MODULE": (
        "_DEVICE_MODULE = (\n"
        "    torch.get_device_module(_DEVICE_TYPE) if _ACCELERATOR is not None else torch.cuda\n"
        ")\n"
    ),
    "_DIST_BACKEND": (
        "_DIST_BACKEND = (\n"
        "    torch.distributed.get_default_backend_for_device(_DEVICE)\n"
        "    if torch.distributed.is_available()\n"
        '    else "gloo"\n'
        ")\n"
    ),
}


def preamble_lines(names: set[str], target: str) -> list[str]:
    """Source of the preamble statements defining `names` (and what they depend on), in order."""
    need = set(names)
    changed = True
    while changed:
        changed = False
        for n in list(need):
            for dep in _DEPENDS.get(n, ()):
                if dep not in need:
                    need.add(dep)
                    changed = True
    return [_DEFINITIONS[n] for n in PREAMBLE_NAMES if n in need]


def _plugin_statement(target: str) -> str | None:
    plugin = TARGET_INFO[target].plugin
    if plugin is None:
        return None
    return (
        f"try:  # wanka port: register the {target} device with PyTorch\n"
        f"    import {plugin}  # noqa: F401\n"
        f"except ImportError:  # not installed: run on whatever device is present\n"
        f"    pass\n"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualItem:
    """A site `fix` left alone: where, what, and the target's alternative."""

    file: str
    line: int
    col: int
    rule: str
    severity: str
    message: str
    alternative: str
    cell: int | None = None

    def to_json(self) -> dict:
        d = {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "alternative": self.alternative,
        }
        if self.cell is not None:
            d["cell"] = self.cell
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class FileFix:
    """The outcome for one file."""

    file: str
    old: str
    new: str
    rewrites: int
    manual: tuple[ManualItem, ...] = ()
    new_bytes: bytes | None = None

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> str:
        if not self.changed:
            return ""
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"a/{self.file}",
                tofile=f"b/{self.file}",
            )
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FixResult:
    """Every file's outcome, plus the files that could not be processed."""

    target: str
    files: tuple[FileFix, ...]
    errors: tuple[FileError, ...] = ()
    written: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> list[FileFix]:
        return [f for f in self.files if f.changed]

    def diff(self) -> str:
        return "".join(f.diff() for f in self.files)

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "changed_files": [f.file for f in self.changed],
            "rewrites": sum(f.rewrites for f in self.files),
            "written": list(self.written),
            "diff": self.diff(),
            "manual": [m.to_json() for f in self.files for m in f.manual],
            "errors": [e.to_json() for e in self.errors],
        }


class _Apply(cst.CSTTransformer):
    """Apply planned rewrites bottom-up: each builder gets the node with its children already rewritten."""

    def __init__(self, rewrites: list[Rewrite]) -> None:
        super().__init__()
        self.by_key: dict[int, list[Rewrite]] = defaultdict(list)
        for r in rewrites:
            self.by_key[r.key].append(r)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        updated = super().on_leave(original_node, updated_node)
        for r in self.by_key.get(id(original_node), ()):
            updated = r.build(updated)  # type: ignore[arg-type]
        return updated


class _MergeGuards(cst.CSTTransformer):
    """Join adjacent `if <same check>:` guards the rewrite created (two cuDNN flags -> one `if`)."""

    @staticmethod
    def _merge(
        original: Sequence[cst.BaseStatement], updated: Sequence[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        # Visiting rebuilds every node, so "created by us" is read off the original (same positions).
        out: list[cst.BaseStatement] = []
        prev_ours = False
        for orig, stmt in zip(original, updated):
            ours = isinstance(stmt, cst.If) and id(orig) in CREATED_GUARDS and stmt.orelse is None
            prev = out[-1] if out else None
            if (
                ours
                and prev_ours
                and isinstance(prev, cst.If)
                and isinstance(stmt, cst.If)
                and not stmt.leading_lines
                and prev.test.deep_equals(stmt.test)
                and isinstance(prev.body, cst.IndentedBlock)
                and isinstance(stmt.body, cst.IndentedBlock)
            ):
                out[-1] = prev.with_changes(
                    body=prev.body.with_changes(body=[*prev.body.body, *stmt.body.body])
                )
                continue
            out.append(stmt)
            prev_ours = ours
        return out

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        return updated_node.with_changes(body=self._merge(original_node.body, updated_node.body))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._merge(original_node.body, updated_node.body))


def _binds_torch(stmt: cst.CSTNode) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine):
        for s in stmt.body:
            if isinstance(s, cst.Import):
                for a in s.names:
                    full = dotted_name(a.name) or ""
                    if a.asname is None and full.split(".")[0] == "torch":
                        return True
    return False


def _defined_names(stmt: cst.CSTNode) -> set[str]:
    out: set[str] = set()
    if isinstance(stmt, cst.SimpleStatementLine):
        for s in stmt.body:
            if isinstance(s, cst.Assign):
                for t in s.targets:
                    if isinstance(t.target, cst.Name):
                        out.add(t.target.value)
    return out


def _is_plugin_try(stmt: cst.CSTNode, plugin: str) -> bool:
    """True for `import <plugin>` at the top level, bare or inside a `try:`."""
    if isinstance(stmt, cst.SimpleStatementLine):
        body: list[cst.CSTNode] = [stmt]
    elif isinstance(stmt, cst.Try) and isinstance(stmt.body, cst.IndentedBlock):
        body = list(stmt.body.body)
    else:
        return False
    for s in body:
        if isinstance(s, cst.SimpleStatementLine):
            for small in s.body:
                if isinstance(small, cst.Import) and any(
                    dotted_name(a.name) == plugin for a in small.names
                ):
                    return True
    return False


def _is_header(stmt: cst.CSTNode, i: int) -> bool:
    """Docstring, `from __future__` or any import: what the preamble goes after when torch is not imported."""
    if isinstance(stmt, cst.SimpleStatementLine):
        for s in stmt.body:
            if isinstance(s, cst.ImportFrom) or isinstance(s, cst.Import):
                continue
            if (
                i == 0
                and isinstance(s, cst.Expr)
                and isinstance(s.value, (cst.SimpleString, cst.ConcatenatedString))
            ):
                continue
            return False
        return True
    return False


def add_preamble(
    module: cst.Module, names: set[str], target: str, *, need_torch: bool
) -> cst.Module:
    """Insert the device preamble (only the missing names) after `import torch`; idempotent."""
    body = list(module.body)
    existing: set[str] = set()
    last_pre = -1
    torch_at = -1
    plugin = TARGET_INFO[target].plugin
    has_plugin = plugin is None
    for i, stmt in enumerate(body):
        defined = _defined_names(stmt) & set(PREAMBLE_NAMES)
        if defined:
            existing |= defined
            last_pre = i
        if torch_at < 0 and _binds_torch(stmt):
            torch_at = i
        if plugin is not None and _is_plugin_try(stmt, plugin):
            has_plugin = True
    missing = [
        src
        for src in (preamble_lines(names, target) if names else [])
        if src.split(" ", 1)[0] not in existing
    ]
    new_stmts: list[cst.BaseStatement] = []
    if (need_torch or names) and torch_at < 0:
        new_stmts.append(cst.parse_statement("import torch\n"))
    if names and not has_plugin and not existing:
        new_stmts.append(cst.parse_statement(_plugin_statement(target) or ""))
    for src in missing:
        new_stmts.append(cst.parse_statement(src))
    if not new_stmts:
        return module
    if last_pre >= 0:
        at = last_pre + 1
    elif torch_at >= 0:
        at = torch_at + 1  # after `import torch` and the imports that directly follow it
        while (
            at < len(body)
            and isinstance(body[at], cst.SimpleStatementLine)
            and all(
                isinstance(s, (cst.Import, cst.ImportFrom)) for s in getattr(body[at], "body", ())
            )
        ):
            at += 1
    else:
        at = 0
        while at < len(body) and _is_header(body[at], at):
            at += 1
    if not existing and new_stmts:
        comment = cst.EmptyLine(
            comment=cst.Comment(
                "# wanka port: the device is chosen once, from torch.accelerator, with a CPU fallback."
            )
        )
        first = new_stmts[0]
        lead = [cst.EmptyLine(), comment] if at > 0 else [comment]
        if _binds_torch(first) and len(new_stmts) > 1:
            new_stmts[1] = new_stmts[1].with_changes(leading_lines=lead)
        else:
            new_stmts[0] = first.with_changes(leading_lines=lead)
        if at < len(body):
            nxt = body[at]
            if not any(
                isinstance(ll, cst.EmptyLine) and ll.comment is None
                for ll in getattr(nxt, "leading_lines", ())[:1]
            ):
                body[at] = nxt.with_changes(leading_lines=[cst.EmptyLine(), *nxt.leading_lines])
    return module.with_changes(body=body[:at] + new_stmts + body[at:])


def _manual(rel: str, sites: list[Site], target: str, line_map=None) -> list[ManualItem]:
    out = []
    for s in sites:
        sev = s.severity[target]
        if s.rewrite is None and SEVERITY_ORDER[sev] >= SEVERITY_ORDER["degrades"]:
            line, cell = (s.line, None) if line_map is None else line_map(s.line)
            out.append(
                ManualItem(
                    file=rel,
                    line=line,
                    col=s.col,
                    rule=s.rule,
                    severity=sev,
                    message=s.message,
                    alternative=s.becomes[target],
                    cell=cell,
                )
            )
    return out


def fix_code(
    code: bytes | str, target: str, *, aliases: dict[str, str] | None = None, preamble: bool = True
) -> tuple[cst.Module, cst.Module, list[Site], set[str]]:
    """Rewrite one module's source; returns (original module, new module, sites, preamble names used)."""
    check_target(target)
    wrapper, sites = analyze_code(code, aliases)
    original = wrapper.module
    rewrites = [s.rewrite for s in sites if s.rewrite is not None]
    if not rewrites:
        return original, original, sites, set()
    CREATED_GUARDS.clear()
    new = original.visit(_Apply(rewrites))
    if CREATED_GUARDS:
        new = new.visit(_MergeGuards())
        CREATED_GUARDS.clear()
    names: set[str] = set()
    for r in rewrites:
        names |= set(r.needs)
    if preamble:
        new = add_preamble(new, names, target, need_torch=True)
    return original, new, sites, names


def _check_compiles(text: str, rel: str) -> None:
    try:
        compile(text, rel, "exec", dont_inherit=True)
    except SyntaxError as e:  # a bug in a rewrite: never write such a file
        raise ConfigError(
            f"{rel}: the rewritten code does not compile ({e.msg}, line {e.lineno}); "
            "nothing was changed"
        ) from None


def _fix_python(src: SourceFile, target: str) -> FileFix:
    data = read_source(src.path)
    original, new, sites, _ = fix_code(data, target)
    old_text = data.decode(original.encoding, errors="replace")
    new_bytes = new.bytes
    new_text = new_bytes.decode(new.encoding, errors="replace")
    if new_text != old_text:
        _check_compiles(new_text, src.rel)
    return FileFix(
        file=src.rel,
        old=old_text,
        new=new_text,
        rewrites=sum(1 for s in sites if s.rewrite is not None),
        manual=tuple(_manual(src.rel, sites, target)),
        new_bytes=new_bytes,
    )


def _fix_notebook(src: SourceFile, target: str) -> FileFix:
    nb, cells, joined = read_notebook(src.path)
    old_text = src.path.read_text(encoding="utf-8")
    try:
        aliases = collect_aliases(parse_code(joined))
    except _SyntaxProblem:
        aliases = {}
    names: set[str] = set()
    new_sources: dict[int, str] = {}
    all_manual: list[ManualItem] = []
    rewrites = 0
    modules: dict[int, cst.Module] = {}
    for c in cells:
        if c.magic_cell:
            continue
        _, new, sites, used = fix_code(c.source, target, aliases=aliases, preamble=False)
        names |= used
        rewrites += sum(1 for s in sites if s.rewrite is not None)
        all_manual += _manual(src.rel, sites, target, line_map=lambda ln, c=c: (ln, c.index))
        modules[c.index] = new
    if names:
        # The preamble goes into the cell that imports torch (else the first code cell).
        host = next(
            (
                c.index
                for c in cells
                if not c.magic_cell and any(_binds_torch(s) for s in modules[c.index].body)
            ),
            next((c.index for c in cells if not c.magic_cell), None),
        )
        if host is not None:
            modules[host] = add_preamble(modules[host], names, target, need_torch=True)
    for c in cells:
        if c.index in modules:
            text = restore_magics(modules[c.index].code)
            original = restore_magics(c.source)
            if text != original:
                _check_compiles(modules[c.index].code, f"{src.rel} (cell {c.index})")
                new_sources[c.index] = text
    if not new_sources:
        return FileFix(
            file=src.rel, old=old_text, new=old_text, rewrites=rewrites, manual=tuple(all_manual)
        )
    for idx, text in new_sources.items():
        lines = text.splitlines(keepends=True)
        nb["cells"][idx]["source"] = lines
    new_text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    return FileFix(
        file=src.rel,
        old=old_text,
        new=new_text,
        rewrites=rewrites,
        manual=tuple(all_manual),
        new_bytes=new_text.encode("utf-8"),
    )


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: temporary file in the same directory, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".wanka-tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fix(path: Path | str, target: str, *, write: bool = False) -> FixResult:
    """Plan (and with `write=True` apply) the rewrites for every file under `path`."""
    check_target(target)
    root = Path(path)
    files: list[FileFix] = []
    errors: list[FileError] = []
    for src in discover(root):
        if src.kind == "cuda":
            rule = RULES["cuda-extension"]
            files.append(
                FileFix(
                    file=src.rel,
                    old="",
                    new="",
                    rewrites=0,
                    manual=(
                        ManualItem(
                            file=src.rel,
                            line=1,
                            col=1,
                            rule="cuda-extension",
                            severity=rule.severity[target],
                            message="CUDA kernel source file",
                            alternative=rule.becomes[target],
                        ),
                    ),
                )
            )
            continue
        try:
            ff = _fix_notebook(src, target) if src.kind == "notebook" else _fix_python(src, target)
        except _SyntaxProblem as e:
            errors.append(
                FileError(file=src.rel, line=e.line, col=e.col, error=f"syntax error: {e.message}")
            )
            continue
        except (
            ConfigError
        ) as e:  # the message may start with the path; the FileError names the file
            why = str(e)
            for prefix in (f"{src.path}: ", f"{src.rel}: "):
                why = why.removeprefix(prefix)
            errors.append(FileError(file=src.rel, line=None, col=None, error=why))
            continue
        except OSError as e:
            errors.append(
                FileError(file=src.rel, line=None, col=None, error=f"cannot read: {e.strerror}")
            )
            continue
        files.append(ff)
    written: list[str] = []
    if write:
        changed = [ff for ff in files if ff.changed and ff.new_bytes is not None]
        for ff in changed:  # refuse before writing anything: all or nothing
            check_writable(root / ff.file if root.is_dir() else root)
        for ff in changed:
            write_atomic(root / ff.file if root.is_dir() else root, ff.new_bytes or b"")
            written.append(ff.file)
    return FixResult(
        target=target, files=tuple(files), errors=tuple(errors), written=tuple(written)
    )
