"""libcst helpers of the porting pass: dotted names, the module's import aliases, string values."""

from __future__ import annotations

import re

import libcst as cst


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


def _strings_in(expr: cst.BaseExpression) -> list[str]:
    out: list[str] = []

    class _V(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            v = _string_value(node)
            if v is not None:
                out.append(v)

    expr.visit(_V())
    return out
