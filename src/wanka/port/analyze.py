"""The libcst pass that finds CUDA-specific constructs in one Python module and plans their rewrites.

One visitor does both jobs: every match becomes a `Site` (rule, position, per-target severity) and, when
a safe device-neutral rewrite exists, carries a `Rewrite` that `wanka.port.fix` applies bottom-up.

Names are resolved through the module's own imports (``import torch.distributed as dist``,
``from torch.cuda.amp import autocast``), so aliases are followed without executing anything.
Comments are never visited (libcst keeps them as whitespace) and string statements (docstrings) are
skipped. Code under a CUDA device-type check (``if torch.cuda.is_available():``,
``if device.type == "cuda":``, the true branch of ``'cuda' if ... else 'cpu'``) is capped at severity
``info``: it is written for several devices already. Imports of CUDA-only packages inside
``try: ... except ImportError:`` are capped at ``degrades``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider

from wanka.port.rules import PACKAGES, RULES, SEVERITY_ORDER, TARGETS

__all__ = ["PREAMBLE_NAMES", "Analyzer", "Rewrite", "Site", "collect_aliases", "dotted_name"]

#: Names the fixer defines once per module (see `wanka.port.fix.preamble`).
PREAMBLE_NAMES = (
    "_ACCELERATOR",
    "_DEVICE_TYPE",
    "_ACCEL_TYPE",
    "_DEVICE",
    "_DEVICE_MODULE",
    "_DIST_BACKEND",
)

_DEVICE_STR = re.compile(
    r"^cuda(:(\d*|%[dis]|\{[^{}]*\}))?$"
)  # "cuda", "cuda:0", "cuda:%d", "cuda:{}"
_ENV_VAR = re.compile(
    r"^(CUDA_[A-Z_]+|NCCL_[A-Z_0-9]+|CUBLAS_WORKSPACE_CONFIG|PYTORCH_CUDA_ALLOC_CONF)$"
)
_TENSOR_TYPES = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
    "ByteTensor": "uint8",
    "CharTensor": "int8",
    "ShortTensor": "int16",
    "IntTensor": "int32",
    "LongTensor": "int64",
    "BoolTensor": "bool",
}

# torch.cuda.X -> (rule, replacement dotted name); "" = no automatic rewrite.
_ACCEL = {
    "is_available": ("cuda-availability", "torch.accelerator.is_available"),
    "device_count": ("cuda-availability", "torch.accelerator.device_count"),
    "current_device": ("cuda-availability", "torch.accelerator.current_device_index"),
    "set_device": ("cuda-device-select", "torch.accelerator.set_device_index"),
    "synchronize": ("cuda-sync", "torch.accelerator.synchronize"),
    "current_stream": ("cuda-sync", "torch.accelerator.current_stream"),
    "Stream": ("cuda-sync", "torch.Stream"),
    "OutOfMemoryError": ("cuda-memory", "torch.OutOfMemoryError"),
}
_MIRRORED = {  # functions every vendor's device module mirrors: torch.cuda.X -> _DEVICE_MODULE.X
    "cuda-seed": (
        "manual_seed",
        "manual_seed_all",
        "seed",
        "seed_all",
        "initial_seed",
        "get_rng_state",
        "set_rng_state",
        "get_rng_state_all",
        "set_rng_state_all",
    ),
    "cuda-memory": (
        "empty_cache",
        "memory_allocated",
        "max_memory_allocated",
        "memory_reserved",
        "max_memory_reserved",
        "reset_peak_memory_stats",
        "reset_max_memory_allocated",
        "memory_stats",
        "memory_summary",
        "mem_get_info",
        "memory_cached",
        "max_memory_cached",
        "set_per_process_memory_fraction",
        "ipc_collect",
        "reset_accumulated_memory_stats",
        "memory_snapshot",
        "list_gpu_processes",
        "utilization",
    ),
    "cuda-availability": ("is_initialized", "init"),
    "cuda-capability": (
        "get_device_name",
        "get_device_properties",
        "is_bf16_supported",
        "get_device_capability",
    ),
    "cuda-sync": (
        "Event",
        "stream",
        "default_stream",
        "set_stream",
        "StreamContext",
        "is_current_stream_capturing",
    ),
    "cuda-device-select": ("device", "device_of"),
}
_MIRROR_RULE = {name: rule for rule, names in _MIRRORED.items() for name in names}
_GRAPH = {"CUDAGraph", "graph", "graphs", "make_graphed_callables", "graph_pool_handle"}
_CAPABILITY_MANUAL = {"get_arch_list", "is_tf32_supported", "get_gencode_flags"}
_SIDE_EFFECT_ONLY = {  # CUDA-only calls with no result: safe to run only on CUDA
    "torch.cuda.nvtx.range_push",
    "torch.cuda.nvtx.range_pop",
    "torch.cuda.nvtx.mark",
    "torch.cuda.profiler.start",
    "torch.cuda.profiler.stop",
    "torch.cuda.profiler.init",
}


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _const_builder(dotted: str) -> Callable[[cst.CSTNode], cst.CSTNode]:
    """A rewrite that replaces the node by the dotted name `dotted`."""
    return lambda n: _attr(dotted)


def _attr(dotted: str) -> cst.BaseExpression:
    """Build a Name/Attribute chain from `a.b.c`."""
    parts = dotted.split(".")
    expr: cst.BaseExpression = cst.Name(parts[0])
    for p in parts[1:]:
        expr = cst.Attribute(value=expr, attr=cst.Name(p))
    return expr


def _import_name(node: cst.BaseExpression) -> str:
    return dotted_name(node) or ""


def collect_aliases(module: cst.Module | str | bytes) -> dict[str, str]:
    """Local name -> fully qualified dotted name, from every absolute import in the module.

    Uses the C `ast` parser on the source (much faster than a libcst pass); a module the C parser
    rejects falls back to walking the libcst tree.
    """
    import ast

    code = module.code if isinstance(module, cst.Module) else module
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _collect_aliases_cst(module) if isinstance(module, cst.Module) else {}
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    head = a.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for a in node.names:
                if a.name != "*":
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _collect_aliases_cst(module: cst.Module) -> dict[str, str]:
    aliases: dict[str, str] = {}

    class _V(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> bool:
            for a in node.names:
                full = _import_name(a.name)
                if a.asname is not None and isinstance(a.asname.name, cst.Name):
                    aliases[a.asname.name.value] = full
                else:
                    head = full.split(".")[0]
                    aliases[head] = head
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
                return False
            mod = _import_name(node.module)
            for a in node.names:
                name = _import_name(a.name)
                local = (
                    a.asname.name.value
                    if a.asname is not None and isinstance(a.asname.name, cst.Name)
                    else name
                )
                aliases[local] = f"{mod}.{name}"
            return False

    module.visit(_V())
    return aliases


@dataclass(slots=True, kw_only=True)
class Rewrite:
    """A planned change: `build(updated_node)` returns the replacement of the node with id `key`."""

    key: int
    build: Callable[[cst.CSTNode], cst.CSTNode]
    needs: frozenset[str] = frozenset()
    """Preamble names the replacement refers to."""
    description: str = ""


@dataclass(slots=True, kw_only=True)
class Site:
    """One match of a rule in one module."""

    rule: str
    line: int
    col: int
    message: str
    severity: dict[str, str]
    becomes: dict[str, str]
    guarded: bool = False
    rewrite: Rewrite | None = None
    manual_hours: float = 0.0


def _cap(sev: dict[str, str], cap: str) -> dict[str, str]:
    return {t: (s if SEVERITY_ORDER[s] <= SEVERITY_ORDER[cap] else cap) for t, s in sev.items()}


def _string_value(node: cst.SimpleString) -> str | None:
    if "b" in node.prefix.lower():
        return None
    try:
        v = node.evaluated_value
    except Exception:  # noqa: BLE001 - odd escapes: not a device string
        return None
    return v if isinstance(v, str) else None


def _fstring_device(node: cst.FormattedString) -> bool:
    """True for f"cuda:{rank}" (text 'cuda:' followed only by expressions)."""
    if not node.parts or not isinstance(node.parts[0], cst.FormattedStringText):
        return False
    first = node.parts[0].value
    if not re.fullmatch(r"cuda:\d*", first):
        return False
    return (
        all(isinstance(p, cst.FormattedStringExpression) for p in node.parts[1:])
        and len(node.parts) > 1
    )


class Analyzer(cst.CSTVisitor):
    """Collect `Site`s (and their rewrites) for one module; run it through a MetadataWrapper."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, aliases: dict[str, str]) -> None:
        super().__init__()
        self.aliases = aliases
        self.sites: list[Site] = []
        self._stack: list[cst.CSTNode] = []
        self._handled: set[int] = set()
        self._guard_blocks: set[int] = set()
        self._import_guard_blocks: set[int] = set()
        self._guard_depth = 0
        self._import_guard_depth = 0
        self.torch_bound = "torch" in aliases and aliases["torch"] == "torch"

    # --- traversal bookkeeping ------------------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        self._stack.append(node)
        if id(node) in self._guard_blocks:
            self._guard_depth += 1
        if id(node) in self._import_guard_blocks:
            self._import_guard_depth += 1
        return super().on_visit(node)  # on_leave runs (and pops) even when children are skipped

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self._pop(original_node)

    def _pop(self, node: cst.CSTNode) -> None:
        self._stack.pop()
        if id(node) in self._guard_blocks:
            self._guard_depth -= 1
        if id(node) in self._import_guard_blocks:
            self._import_guard_depth -= 1

    def _parent(self, level: int = 1) -> cst.CSTNode | None:
        i = len(self._stack) - 1 - level
        return self._stack[i] if i >= 0 else None

    # --- helpers ----------------------------------------------------------------------------------
    def qualname(self, node: cst.BaseExpression) -> str | None:
        d = dotted_name(node)
        if d is None:
            return None
        head, _, rest = d.partition(".")
        if head in self.aliases:
            full = self.aliases[head]
        elif head == "torch":
            full = "torch"
        else:
            return None
        return f"{full}.{rest}" if rest else full

    def _pos(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def add(
        self,
        rule: str,
        node: cst.CSTNode,
        message: str,
        *,
        rewrite: Rewrite | None = None,
        severity: dict[str, str] | None = None,
        becomes: dict[str, str] | None = None,
        manual_hours: float | None = None,
    ) -> None:
        r = RULES[rule]
        sev = dict(severity or r.severity)
        guarded = self._guard_depth > 0
        if guarded:
            sev = _cap(sev, "info")
        pos = self._pos(node).start
        self.sites.append(
            Site(
                rule=rule,
                line=pos.line,
                col=pos.column + 1,
                message=message,
                severity=sev,
                becomes=dict(becomes or r.becomes),
                guarded=guarded,
                rewrite=rewrite,
                manual_hours=r.manual_hours if manual_hours is None else manual_hours,
            )
        )

    def _enclosing_statement(self, node: cst.CSTNode) -> cst.SimpleStatementLine | None:
        """The SimpleStatementLine whose only statement holds `node` directly (Expr/Assign)."""
        for i in range(len(self._stack) - 1, -1, -1):
            n = self._stack[i]
            if isinstance(n, cst.SimpleStatementLine):
                if len(n.body) != 1:
                    return None
                parent = self._stack[i - 1] if i > 0 else None
                if isinstance(parent, (cst.Module, cst.IndentedBlock)):
                    return n
                return None
            if isinstance(n, (cst.BaseCompoundStatement, cst.SimpleStatementSuite, cst.Lambda)):
                return None
        return None

    # --- guards -------------------------------------------------------------------------------
    def _polarity(self, test: cst.BaseExpression) -> str | None:
        """'pos' if `test` is true only on CUDA, 'neg' if only off CUDA, else None."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            p = self._polarity(test.expression)
            return {"pos": "neg", "neg": "pos"}.get(p or "", None)
        if isinstance(test, cst.BooleanOperation):
            left, right = self._polarity(test.left), self._polarity(test.right)
            if isinstance(test.operator, cst.And):
                return "pos" if "pos" in (left, right) else None
            return "pos" if left == right == "pos" else ("neg" if left == right == "neg" else None)
        if isinstance(test, cst.Comparison):
            has_cuda = self._mentions_cuda_literal(test)
            if has_cuda:
                op = test.comparisons[0].operator
                if isinstance(op, (cst.NotEqual, cst.NotIn, cst.IsNot)):
                    return "neg"
                return "pos"
            return "pos" if self._contains_cuda_check(test) else None
        if self._contains_cuda_check(test):
            return "pos"
        return None

    def _mentions_cuda_literal(self, node: cst.Comparison) -> bool:
        operands = [node.left] + [c.comparator for c in node.comparisons]
        for o in operands:
            if isinstance(o, cst.SimpleString) and _DEVICE_STR.match(_string_value(o) or ""):
                return True
            if isinstance(o, cst.Name) and o.value in ("_DEVICE_TYPE", "_ACCEL_TYPE"):
                return True
        return False

    def _contains_cuda_check(self, expr: cst.BaseExpression) -> bool:
        found = False
        outer = self

        class _V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                nonlocal found
                qn = outer.qualname(node.func)
                if qn in (
                    "torch.cuda.is_available",
                    "torch.backends.cudnn.is_available",
                    "torch.cuda.device_count",
                    "torch.cuda.is_bf16_supported",
                ):
                    found = True
                if (
                    isinstance(node.func, cst.Attribute)
                    and node.func.attr.value in ("startswith", "endswith")
                    and node.args
                    and isinstance(node.args[0].value, cst.SimpleString)
                    and _DEVICE_STR.match(_string_value(node.args[0].value) or "")
                ):
                    found = True
                return True

            def visit_Attribute(self, node: cst.Attribute) -> bool:
                nonlocal found
                if node.attr.value == "is_cuda" or outer.qualname(node) in (
                    "torch.version.hip",
                    "torch.version.cuda",
                ):
                    found = True
                return True

        expr.visit(_V())
        return found

    def visit_If(self, node: cst.If) -> None:
        p = self._polarity(node.test)
        if p == "pos":
            self._guard_blocks.add(id(node.body))
        elif p == "neg" and node.orelse is not None:
            self._guard_blocks.add(id(node.orelse))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        p = self._polarity(node.test)
        if p == "pos":
            self._guard_blocks.add(id(node.body))
        elif p == "neg":
            self._guard_blocks.add(id(node.orelse))

    def visit_Try(self, node: cst.Try) -> None:
        for h in node.handlers:
            names = {dotted_name(e) for e in ([h.type] if h.type is not None else [])}
            if isinstance(h.type, cst.Tuple):
                names = {dotted_name(e.value) for e in h.type.elements}
            if h.type is None or names & {
                "ImportError",
                "ModuleNotFoundError",
                "Exception",
                "BaseException",
            }:
                self._import_guard_blocks.add(id(node.body))

    # --- statements -----------------------------------------------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        if len(node.body) != 1:
            return True
        stmt = node.body[0]
        # A bare string statement is a docstring or a comment in disguise: never a finding.
        if isinstance(stmt, cst.Expr) and isinstance(
            stmt.value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
        ):
            return False
        # The preamble `wanka port fix` writes (its CPU fallback names torch.cuda on purpose).
        if (
            isinstance(stmt, cst.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0].target, cst.Name)
            and stmt.targets[0].target.value in PREAMBLE_NAMES
            and isinstance(self._parent(), cst.Module)
        ):
            return False
        return True

    def visit_Decorator(self, node: cst.Decorator) -> None:
        qn = self.qualname(node.decorator)
        if qn in ("torch.cuda.amp.custom_fwd", "torch.cuda.amp.custom_bwd"):
            self._handled.add(id(node.decorator))
            name = qn.rsplit(".", 1)[1]
            keep = not (dotted_name(node.decorator) or "").startswith("torch.")

            def build(n: cst.CSTNode, name: str = name, keep: bool = keep) -> cst.CSTNode:
                assert isinstance(n, cst.Decorator)
                func = n.decorator if keep else _attr(f"torch.amp.{name}")
                call = cst.Call(
                    func=func,
                    args=[
                        cst.Arg(
                            keyword=cst.Name("device_type"),
                            value=cst.Name("_DEVICE_TYPE"),
                            equal=cst.AssignEqual(
                                whitespace_before=cst.SimpleWhitespace(""),
                                whitespace_after=cst.SimpleWhitespace(""),
                            ),
                        )
                    ],
                )
                return n.with_changes(decorator=call)

            self.add(
                "cuda-amp",
                node.decorator,
                f"decorates with torch.cuda.amp.{name}",
                rewrite=Rewrite(
                    key=id(node),
                    build=build,
                    needs=frozenset({"_DEVICE_TYPE"}),
                    description=f"torch.amp.{name}(device_type=_DEVICE_TYPE)",
                ),
            )

    def visit_Import(self, node: cst.Import) -> bool:
        for a in node.names:
            self._check_package(_import_name(a.name), a)
            full = _import_name(a.name)
            if full == "torch.cuda.amp" or full.startswith("torch.cuda.amp."):
                self._amp_import(a)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if node.relative or node.module is None:
            return False
        mod = _import_name(node.module)
        if isinstance(node.names, cst.ImportStar):
            self._check_package(mod, node)
            return False
        if not self._check_package(mod, node):
            for a in node.names:
                if self._check_package(f"{mod}.{_import_name(a.name)}", a):
                    break
        names = [_import_name(a.name) for a in node.names]
        if mod == "torch.cuda.amp" or (mod == "torch.cuda" and "amp" in names):
            self._amp_from_import(node, mod)
        return False

    def _check_package(self, dotted: str, node: cst.CSTNode) -> bool:
        for name, pkg in PACKAGES.items():
            if dotted == name or dotted.startswith(name + "."):
                sev = dict(pkg.severity)
                if self._import_guard_depth > 0:
                    sev = _cap(sev, "degrades")
                self.add(
                    "cuda-only-package",
                    node,
                    f"imports {name}, a CUDA-only package"
                    + (" (guarded by an ImportError fallback)" if self._import_guard_depth else ""),
                    severity=sev,
                    becomes=pkg.becomes,
                    manual_hours=pkg.manual_hours,
                )
                return True
        return False

    def _amp_import(self, alias: cst.ImportAlias) -> None:
        def build(n: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(n, cst.ImportAlias)
            full = _import_name(n.name).replace("torch.cuda.amp", "torch.amp", 1)
            return n.with_changes(name=_attr(full))

        self.add(
            "cuda-amp",
            alias,
            "imports torch.cuda.amp (deprecated, CUDA-only AMP)",
            severity={t: "info" for t in TARGETS},
            rewrite=Rewrite(key=id(alias), build=build, description="import torch.amp"),
        )

    def _amp_from_import(self, node: cst.ImportFrom, mod: str) -> None:
        def build(n: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(n, cst.ImportFrom)
            new_mod = "torch.amp" if mod == "torch.cuda.amp" else "torch"
            return n.with_changes(module=_attr(new_mod))

        if mod == "torch.cuda" and any(_import_name(a.name) != "amp" for a in node.names):  # type: ignore[union-attr]
            self.add(
                "cuda-amp",
                node,
                "imports amp from torch.cuda together with other names",
                severity={t: "info" for t in TARGETS},
            )
            return
        self.add(
            "cuda-amp",
            node,
            f"imports from {mod} (deprecated, CUDA-only AMP)",
            severity={t: "info" for t in TARGETS},
            rewrite=Rewrite(key=id(node), build=build, description="import from torch.amp"),
        )

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._flag_target(t.target, node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._flag_target(node.target, node)

    def _flag_target(self, target: cst.BaseExpression, node: cst.BaseSmallStatement) -> None:
        qn = self.qualname(target)
        if qn is None:
            return
        self._handled.add(id(target))
        stmt = self._enclosing_statement(node)
        if qn.startswith("torch.backends.cudnn."):
            rewrite = None
            if stmt is not None and self._guard_depth == 0:
                prefix = dotted_name(target).rsplit(".", 1)[0]  # type: ignore[union-attr]
                rewrite = Rewrite(
                    key=id(stmt),
                    build=_guard_builder(f"{prefix}.is_available"),
                    description="guard the cuDNN flag",
                )
            self.add("cudnn-flag", target, f"sets {qn}", rewrite=rewrite)
        elif qn.startswith("torch.backends.cuda."):
            rewrite = None
            value = node.value if isinstance(node, (cst.Assign, cst.AnnAssign)) else None
            if (
                qn == "torch.backends.cuda.matmul.allow_tf32"
                and isinstance(value, cst.Name)
                and value.value in ("True", "False")
                and stmt is not None
            ):
                precision = "high" if value.value == "True" else "highest"
                rewrite = Rewrite(
                    key=id(stmt),
                    build=_tf32_builder(precision),
                    description="torch.set_float32_matmul_precision",
                )
            self.add("cuda-backend-flag", target, f"sets {qn}", rewrite=rewrite)

    # --- expressions --------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "cuda"
            and not (self.qualname(func) or "").startswith("torch.cuda")
        ):
            self._handled.add(id(func))
            self.add(
                "cuda-method",
                func.attr,
                "`.cuda()` moves data to a CUDA device",
                rewrite=Rewrite(
                    key=id(node),
                    build=_cuda_method_builder,
                    needs=frozenset({"_DEVICE", "_DEVICE_TYPE"}),
                    description=".to(_DEVICE)",
                ),
            )
            return
        if isinstance(func, cst.Name) and func.value == "isinstance" and len(node.args) == 2:
            self._isinstance_call(node)
            return
        qn = self.qualname(func)
        if qn is None:
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value == "type"
                and len(node.args) == 1
            ):
                self._tensor_type_call(node)
            elif (
                isinstance(func, cst.Attribute)
                and func.attr.value == "pin_memory"
                and not node.args
            ):
                self.add("pin-memory", func.attr, "pins host memory (.pin_memory())")
            return
        if qn.startswith("torch.cuda.amp."):
            self._amp_call(node, qn)
        elif qn in _SIDE_EFFECT_ONLY:
            self._handled.add(id(func))
            stmt = self._enclosing_statement(node)
            ok = (
                stmt is not None
                and isinstance(stmt.body[0], cst.Expr)
                and stmt.body[0].value is node
                and self._guard_depth == 0
            )
            self.add(
                "nvtx" if ".nvtx." in qn else "cuda-api",
                func,
                f"calls {qn} (CUDA-only profiler hook)",
                rewrite=Rewrite(
                    key=id(stmt),
                    build=_device_guard_builder,
                    needs=frozenset({"_DEVICE_TYPE"}),
                    description="run only on CUDA",
                )
                if ok and stmt is not None
                else None,
            )
        elif qn == "torch.cuda.nvtx.range":
            self._handled.add(id(func))
            self.add(
                "nvtx",
                func,
                "opens an NVTX range",
                rewrite=Rewrite(
                    key=id(func),
                    build=lambda n: _attr("torch.profiler.record_function"),
                    description="torch.profiler.record_function",
                ),
            )
        elif (
            qn.startswith("torch.cuda.")
            and qn.rsplit(".", 1)[1] in _TENSOR_TYPES
            and qn.count(".") == 2
        ):
            self._handled.add(id(func))
            legacy = qn.rsplit(".", 1)[1]

            def build_ctor(n: cst.CSTNode, legacy: str = legacy) -> cst.CSTNode:
                assert isinstance(n, cst.Call)
                cpu = n.with_changes(func=_attr(f"torch.{legacy}"))
                return cst.Call(
                    func=cst.Attribute(value=cpu, attr=cst.Name("to")),
                    args=[cst.Arg(value=cst.Name("_DEVICE"))],
                )

            self.add(
                "cuda-tensor-type",
                func,
                f"constructs a legacy {qn}",
                rewrite=Rewrite(
                    key=id(node),
                    build=build_ctor,
                    needs=frozenset({"_DEVICE"}),
                    description=f"torch.{legacy}(...).to(_DEVICE)",
                ),
            )
        elif qn == "torch.cuda.Event" and any(a.keyword is None for a in node.args):
            self._handled.add(id(func))
            self.add(
                "cuda-sync",
                func,
                "creates a torch.cuda.Event",
                rewrite=Rewrite(
                    key=id(func),
                    build=lambda n: _attr("_DEVICE_MODULE.Event"),
                    needs=frozenset({"_DEVICE_MODULE"}),
                    description="_DEVICE_MODULE.Event",
                ),
            )
        elif qn == "torch.cuda.Event":
            self._handled.add(id(func))
            self.add(
                "cuda-sync",
                func,
                "creates a torch.cuda.Event",
                rewrite=Rewrite(
                    key=id(func), build=lambda n: _attr("torch.Event"), description="torch.Event"
                ),
            )
        elif qn in (
            "torch.utils.cpp_extension.CUDAExtension",
            "torch.utils.cpp_extension.load",
            "torch.utils.cpp_extension.load_inline",
        ):
            if qn.endswith("CUDAExtension") or self._builds_cuda(node):
                self.add(
                    "cuda-extension",
                    func,
                    f"builds a custom CUDA extension ({qn.rsplit('.', 1)[1]})",
                )
        elif qn in (
            "torch.nn.DataParallel",
            "torch.nn.parallel.DataParallel",
            "torch.nn.parallel.data_parallel",
        ):
            self.add("data-parallel", func, "uses single-process DataParallel")
        elif qn == "torch.compile":
            for a in node.args:
                if (
                    a.keyword is not None
                    and a.keyword.value == "mode"
                    and isinstance(a.value, cst.SimpleString)
                    and _string_value(a.value) in ("reduce-overhead", "max-autotune")
                ):
                    self.add(
                        "cuda-graph-compile",
                        a.value,
                        f"torch.compile(mode={_string_value(a.value)!r})",
                    )

    def visit_Arg(self, node: cst.Arg) -> None:
        if (
            node.keyword is not None
            and node.keyword.value == "pin_memory"
            and isinstance(node.value, cst.Name)
            and node.value.value == "True"
        ):
            self.add("pin-memory", node, "pins host memory (pin_memory=True)")

    def _builds_cuda(self, node: cst.Call) -> bool:
        for a in node.args:
            if a.keyword is not None and a.keyword.value in ("cuda_sources", "with_cuda"):
                return not (isinstance(a.value, cst.Name) and a.value.value in ("None", "False"))
            for s in _strings_in(a.value):
                if s.endswith((".cu", ".cuh")):
                    return True
        return False

    def _amp_call(self, node: cst.Call, qn: str) -> None:
        name = qn.rsplit(".", 1)[1]
        self._handled.add(id(node.func))
        if name in ("autocast", "GradScaler"):
            replace_func = (dotted_name(node.func) or "").startswith("torch.")
            self.add(
                "cuda-amp",
                node.func,
                f"uses torch.cuda.amp.{name}",
                rewrite=Rewrite(
                    key=id(node),
                    build=_amp_builder(f"torch.amp.{name}" if replace_func else None, kw=None),
                    needs=frozenset({"_DEVICE_TYPE"}),
                    description=f"torch.amp.{name}(_DEVICE_TYPE)",
                ),
            )
        elif name in ("custom_fwd", "custom_bwd"):
            replace_func = (dotted_name(node.func) or "").startswith("torch.")
            self.add(
                "cuda-amp",
                node.func,
                f"uses torch.cuda.amp.{name}",
                rewrite=Rewrite(
                    key=id(node),
                    build=_amp_builder(
                        f"torch.amp.{name}" if replace_func else None, kw="device_type"
                    ),
                    needs=frozenset({"_DEVICE_TYPE"}),
                    description=f"torch.amp.{name}",
                ),
            )
        else:
            self.add("cuda-amp", node.func, f"uses torch.cuda.amp.{name}")

    def _isinstance_call(self, node: cst.Call) -> None:
        cls = node.args[1].value
        qn = self.qualname(cls)
        if (
            qn is None
            or not qn.startswith("torch.cuda.")
            or qn.rsplit(".", 1)[1] not in _TENSOR_TYPES
        ):
            return
        self._handled.add(id(cls))
        dtype = _TENSOR_TYPES[qn.rsplit(".", 1)[1]]

        def build(n: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(n, cst.Call)
            obj = n.args[0].value
            code = (
                f"(isinstance(__X__, torch.Tensor) and __X__.dtype == torch.{dtype}"
                f" and __X__.device.type == _ACCEL_TYPE)"
            )
            expr = cst.parse_expression(code)
            return expr.visit(_Substitute(obj))  # type: ignore[return-value]

        self.add(
            "cuda-tensor-type",
            cls,
            f"tests isinstance(..., {qn})",
            rewrite=Rewrite(
                key=id(node),
                build=build,
                needs=frozenset({"_ACCEL_TYPE"}),
                description="dtype and device test",
            ),
        )

    def _tensor_type_call(self, node: cst.Call) -> None:
        arg = node.args[0].value
        qn = self.qualname(arg)
        if isinstance(arg, cst.SimpleString) and (_string_value(arg) or "").startswith(
            "torch.cuda."
        ):
            qn = _string_value(arg)
        if (
            qn is None
            or not qn.startswith("torch.cuda.")
            or qn.rsplit(".", 1)[1] not in _TENSOR_TYPES
        ):
            return
        self._handled.add(id(arg))
        dtype = _TENSOR_TYPES[qn.rsplit(".", 1)[1]]

        def build(n: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
            args = [
                cst.Arg(
                    keyword=cst.Name("device"),
                    value=cst.Name("_DEVICE"),
                    equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""),
                        whitespace_after=cst.SimpleWhitespace(""),
                    ),
                ),
                cst.Arg(
                    keyword=cst.Name("dtype"),
                    value=_attr(f"torch.{dtype}"),
                    equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""),
                        whitespace_after=cst.SimpleWhitespace(""),
                    ),
                ),
            ]
            return n.with_changes(
                func=n.func.with_changes(attr=cst.Name("to")), args=_comma_args(args)
            )

        self.add(
            "cuda-tensor-type",
            arg,
            f"converts with .type({qn})",
            rewrite=Rewrite(
                key=id(node),
                build=build,
                needs=frozenset({"_DEVICE"}),
                description=".to(device=_DEVICE, dtype=...)",
            ),
        )

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if id(node) in self._handled:
            return dotted_name(node) is None  # still look inside `f(x).cuda`
        qn = self.qualname(node)
        if qn is None:
            if node.attr.value == "is_cuda":
                self.add(
                    "is-cuda-attr",
                    node.attr,
                    "tests tensor.is_cuda",
                    rewrite=Rewrite(
                        key=id(node), build=_is_cuda_builder, description="device.type != 'cpu'"
                    ),
                )
                return True
            return True
        if qn in ("torch.Tensor.cuda", "torch.nn.Module.cuda"):
            self.add("cuda-method", node, f"refers to {qn}")
            return False
        if qn == "torch.distributed.Backend.NCCL":
            self.add(
                "nccl-backend",
                node,
                "names the NCCL backend (Backend.NCCL)",
                rewrite=Rewrite(
                    key=id(node),
                    build=lambda n: cst.Name("_DIST_BACKEND"),
                    needs=frozenset({"_DIST_BACKEND"}),
                    description="_DIST_BACKEND",
                ),
            )
            return False
        if qn == "torch.version.cuda":
            self.add("cuda-version-check", node, "reads torch.version.cuda")
            return False
        if qn == "torch.cuda" or qn.startswith("torch.cuda."):
            self._torch_cuda_attr(node, qn)
            return False
        if qn.startswith(("torch.backends.cudnn.", "torch.backends.cuda.")):
            parent = self._parent()
            if (
                isinstance(parent, cst.Call)
                and parent.func is node
                and qn.startswith("torch.backends.cuda.")
                and not qn.endswith(".is_available")
            ):
                self.add(
                    "cuda-backend-flag", node, f"calls {qn}", severity={t: "info" for t in TARGETS}
                )
            return False
        return True

    def _torch_cuda_attr(self, node: cst.Attribute, qn: str) -> None:
        parts = qn.split(".")
        name = parts[2] if len(parts) > 2 else ""
        rest = ".".join(parts[2:])
        if rest in _ACCEL or (name in _ACCEL and len(parts) == 3):
            rule, repl = _ACCEL[name]
            self.add(
                rule,
                node,
                f"uses {qn}",
                rewrite=Rewrite(key=id(node), build=_const_builder(repl), description=repl),
            )
        elif len(parts) == 3 and name in _MIRROR_RULE:
            self.add(
                _MIRROR_RULE[name],
                node,
                f"uses {qn}",
                rewrite=Rewrite(
                    key=id(node),
                    build=_const_builder(f"_DEVICE_MODULE.{name}"),
                    needs=frozenset({"_DEVICE_MODULE"}),
                    description=f"_DEVICE_MODULE.{name}",
                ),
            )
        elif name in _GRAPH:
            self.add("cuda-graph", node, f"uses CUDA graphs ({qn})")
        elif name == "nvtx":
            self.add("nvtx", node, f"uses {qn}")
        elif name == "amp":
            self.add("cuda-amp", node, f"uses {qn}")
        elif name in _TENSOR_TYPES:
            self.add("cuda-tensor-type", node, f"uses the legacy type {qn}")
        elif name in _CAPABILITY_MANUAL:
            self.add(
                "cuda-capability",
                node,
                f"uses {qn} (an NVIDIA architecture check)",
                severity=dict(RULES["cuda-capability"].severity, rocm="degrades"),
            )
        else:
            self.add("cuda-api", node, f"uses {qn}")

    # --- strings ----------------------------------------------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = _string_value(node)
        if (
            value is None
            or id(node) in self._handled
            or isinstance(self._parent(), cst.ConcatenatedString)
        ):
            return
        if _DEVICE_STR.match(value):
            self._device_string(node, value)
        elif value == "nccl":
            compare = self._compare_context(node)
            if compare == "wanka":
                return
            sev = dict(RULES["nccl-backend"].severity)
            if compare:
                sev = {t: ("degrades" if s == "breaks" else s) for t, s in sev.items()}
            self.add(
                "nccl-backend",
                node,
                "names the NCCL backend" + (" in a comparison" if compare else ""),
                severity=sev,
                rewrite=Rewrite(
                    key=id(node),
                    build=lambda n: cst.Name("_DIST_BACKEND"),
                    needs=frozenset({"_DIST_BACKEND"}),
                    description="_DIST_BACKEND",
                ),
            )
        elif _ENV_VAR.match(value):
            env_sev = {t: "info" for t in TARGETS} if value.startswith("NCCL_") else None
            self.add(
                "cuda-env-var", node, f"uses the environment variable {value}", severity=env_sev
            )
        elif value.startswith("nvidia-smi"):
            self.add("nvidia-smi", node, "runs nvidia-smi")
        elif value.startswith("torch.cuda.") and value.rsplit(".", 1)[1] in _TENSOR_TYPES:
            self.add("cuda-tensor-type", node, f"names the legacy type {value}")

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        if _fstring_device(node) and not isinstance(self._parent(), cst.ConcatenatedString):
            compare = self._compare_context(node)
            if compare == "wanka":
                return
            rule = "device-type-compare" if compare else "cuda-device-string"
            name = "_ACCEL_TYPE" if compare else "_DEVICE_TYPE"

            def build(n: cst.CSTNode) -> cst.CSTNode:
                assert isinstance(n, cst.FormattedString)
                first = n.parts[0]
                assert isinstance(first, cst.FormattedStringText)
                parts = [
                    cst.FormattedStringExpression(expression=cst.Name(name)),
                    cst.FormattedStringText(value=first.value[len("cuda") :]),
                    *n.parts[1:],
                ]
                return n.with_changes(parts=parts)

            self.add(
                rule,
                node,
                'builds a "cuda:N" device string',
                rewrite=Rewrite(
                    key=id(node), build=build, needs=frozenset({name}), description=name
                ),
            )

    def _compare_context(self, node: cst.CSTNode) -> str | None:
        """'compare' when the string is compared with something, 'wanka' for the fixer's own guard."""
        parent, grand = self._parent(), self._parent(2)
        comp = (
            parent
            if isinstance(parent, cst.Comparison)
            else (
                grand
                if isinstance(parent, cst.ComparisonTarget) and isinstance(grand, cst.Comparison)
                else None
            )
        )
        if comp is not None:
            operands = [comp.left] + [c.comparator for c in comp.comparisons]
            if any(
                isinstance(o, cst.Name) and o.value in ("_DEVICE_TYPE", "_ACCEL_TYPE")
                for o in operands
            ):
                return "wanka"
            return "compare"
        if (
            isinstance(parent, cst.Arg)
            and isinstance(grand, cst.Call)
            and isinstance(grand.func, cst.Attribute)
            and grand.func.attr.value in ("startswith", "endswith")
        ):
            return "compare"
        if isinstance(parent, (cst.Element, cst.Tuple, cst.List, cst.Set)):
            # 'cuda' in ('cuda', 'xpu') style membership lists
            for i in range(2, 4):
                anc = self._parent(i)
                if isinstance(anc, cst.ComparisonTarget):
                    return "compare"
        return None

    def _device_string(self, node: cst.SimpleString, value: str) -> None:
        compare = self._compare_context(node)
        if compare == "wanka":
            return
        name = "_ACCEL_TYPE" if compare else "_DEVICE_TYPE"
        suffix = value[len("cuda") :]

        def build(n: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(n, cst.SimpleString)
            if not suffix:
                return cst.Name(name)
            q = n.quote
            escaped = suffix.replace("{", "{{").replace("}", "}}")
            return cst.parse_expression(f"f{q}{{{name}}}{escaped}{q}")

        if compare:
            self.add(
                "device-type-compare",
                node,
                f"compares a device with {value!r}",
                rewrite=Rewrite(
                    key=id(node), build=build, needs=frozenset({name}), description=name
                ),
            )
        else:
            self.add(
                "cuda-device-string",
                node,
                f"hard-codes the device {value!r}",
                rewrite=Rewrite(
                    key=id(node), build=build, needs=frozenset({name}), description=name
                ),
            )


def _strings_in(expr: cst.BaseExpression) -> list[str]:
    out: list[str] = []

    class _V(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            v = _string_value(node)
            if v is not None:
                out.append(v)

    expr.visit(_V())
    return out


class _Substitute(cst.CSTTransformer):
    """Replace the placeholder name `__X__` with an expression."""

    def __init__(self, expr: cst.BaseExpression) -> None:
        super().__init__()
        self.expr = expr

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.expr if updated_node.value == "__X__" else updated_node


def _comma_args(args: Sequence[cst.Arg]) -> list[cst.Arg]:
    out = []
    for i, a in enumerate(args):
        if i < len(args) - 1:
            a = a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        else:
            a = a.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        out.append(a)
    return out


def _cuda_method_builder(n: cst.CSTNode) -> cst.CSTNode:
    """x.cuda() -> x.to(_DEVICE); x.cuda(i, non_blocking=b) -> x.to(torch.device(_DEVICE_TYPE, i), non_blocking=b)."""
    assert isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
    device: cst.BaseExpression = cst.Name("_DEVICE")
    rest: list[cst.Arg] = []
    for i, a in enumerate(n.args):
        kw = a.keyword.value if a.keyword is not None else None
        if (kw is None and i == 0 and not a.star) or kw == "device":
            device = _index_device(a.value)
        elif kw == "async":  # Python 2-era spelling of non_blocking
            rest.append(a.with_changes(keyword=cst.Name("non_blocking")))
        else:
            rest.append(a)
    return n.with_changes(
        func=n.func.with_changes(attr=cst.Name("to")),
        args=_comma_args([cst.Arg(value=device), *rest]),
    )


def _index_device(value: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(value, (cst.SimpleString, cst.FormattedString)):
        return value  # a device string: the string rule rewrites it
    return cst.parse_expression("torch.device(_DEVICE_TYPE, __X__)").visit(_Substitute(value))  # type: ignore[return-value]


def _amp_builder(new_func: str | None, kw: str | None) -> Callable[[cst.CSTNode], cst.CSTNode]:
    def build(n: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(n, cst.Call)
        func = _attr(new_func) if new_func else n.func
        if kw is None:
            dev = cst.Arg(value=cst.Name("_DEVICE_TYPE"))
            args = [dev, *n.args]
        else:
            args = [
                *n.args,
                cst.Arg(
                    keyword=cst.Name(kw),
                    value=cst.Name("_DEVICE_TYPE"),
                    equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""),
                        whitespace_after=cst.SimpleWhitespace(""),
                    ),
                ),
            ]
        if len(args) > 1:
            fixed = []
            for i, a in enumerate(args):
                if i < len(args) - 1 and a.comma is cst.MaybeSentinel.DEFAULT:
                    a = a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                fixed.append(a)
            args = fixed
        return n.with_changes(func=func, args=args)

    return build


def _is_cuda_builder(n: cst.CSTNode) -> cst.CSTNode:
    assert isinstance(n, cst.Attribute)
    expr = cst.parse_expression('(__X__.device.type != "cpu")').visit(_Substitute(n.value))
    assert isinstance(expr, cst.CSTNode)
    return expr


def _guard_builder(check: str) -> Callable[[cst.CSTNode], cst.CSTNode]:
    def build(n: cst.CSTNode) -> cst.CSTNode:
        return _wrap_in_if(n, cst.parse_expression(f"{check}()"))

    return build


def _device_guard_builder(n: cst.CSTNode) -> cst.CSTNode:
    return _wrap_in_if(n, cst.parse_expression('_DEVICE_TYPE == "cuda"'))


#: Ids of the `if` guards created during the current rewrite (the fixer merges adjacent ones).
CREATED_GUARDS: set[int] = set()


def _wrap_in_if(n: cst.CSTNode, test: cst.BaseExpression) -> cst.CSTNode:
    assert isinstance(n, cst.SimpleStatementLine)
    inner = n.with_changes(leading_lines=())
    guard = cst.If(test=test, body=cst.IndentedBlock(body=[inner]), leading_lines=n.leading_lines)
    CREATED_GUARDS.add(id(guard))
    return guard


def _tf32_builder(precision: str) -> Callable[[cst.CSTNode], cst.CSTNode]:
    def build(n: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(n, cst.SimpleStatementLine)
        call = cst.parse_statement(f'torch.set_float32_matmul_precision("{precision}")\n')
        assert isinstance(call, cst.SimpleStatementLine)
        return n.with_changes(body=call.body)  # keeps the line's comment and leading lines

    return build
