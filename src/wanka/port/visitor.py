"""The porting pass's visitor base: traversal bookkeeping, device-type guards, and the rules on
statements, decorators, imports and assignments."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider

from wanka.port.builders import (
    _guard_builder,
    _tf32_builder,
)
from wanka.port.constructs import (
    _DEVICE_STR,
    PREAMBLE_NAMES,
    Rewrite,
    Site,
    _cap,
)
from wanka.port.cst_names import (
    _attr,
    _import_name,
    _string_value,
    dotted_name,
)
from wanka.port.rules import PACKAGES, RULES, TARGETS


class _AnalyzerBase(cst.CSTVisitor):
    """The pass's bookkeeping (node stack, device-type guards, `add`) and its statement, import and
    assignment rules; `Analyzer` adds the call, attribute and string rules."""

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
