"""The rewrites `wanka port fix` applies: each builder returns the replacement of one matched node."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst

from wanka.port.cst_names import (
    _attr,
)


def _const_builder(dotted: str) -> Callable[[cst.CSTNode], cst.CSTNode]:
    """A rewrite that replaces the node by the dotted name `dotted`."""
    return lambda n: _attr(dotted)


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
