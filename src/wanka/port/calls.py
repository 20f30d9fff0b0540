"""The porting pass's rules on calls: `.cuda()`, torch.cuda.* calls, AMP, isinstance and legacy
tensor types, CUDA extensions, DataParallel, torch.compile modes, pin_memory."""

from __future__ import annotations

import libcst as cst

from wanka.port.builders import (
    _amp_builder,
    _comma_args,
    _cuda_method_builder,
    _device_guard_builder,
    _Substitute,
)
from wanka.port.constructs import (
    _SIDE_EFFECT_ONLY,
    _TENSOR_TYPES,
    Rewrite,
)
from wanka.port.cst_names import (
    _attr,
    _string_value,
    _strings_in,
    dotted_name,
)
from wanka.port.visitor import _AnalyzerBase


class _CallRules(_AnalyzerBase):
    """Rules matched on `cst.Call` and `cst.Arg` nodes."""

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "cuda"
            and not (self.qualname(func) or "").startswith("torch.cuda")
        ):
            self._cuda_method(node, func)
            return
        if isinstance(func, cst.Name) and func.value == "isinstance" and len(node.args) == 2:
            self._isinstance_call(node)
            return
        qn = self.qualname(func)
        if qn is None:
            self._unresolved_call(node, func)
        elif qn.startswith("torch.cuda.amp."):
            self._amp_call(node, qn)
        elif qn in _SIDE_EFFECT_ONLY:
            self._side_effect_call(node, func, qn)
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
            self._legacy_constructor(node, func, qn)
        elif qn == "torch.cuda.Event":
            self._event_call(node, func)
        else:
            self._other_call(node, func, qn)

    def _cuda_method(self, node: cst.Call, func: cst.Attribute) -> None:
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

    def _unresolved_call(self, node: cst.Call, func: cst.BaseExpression) -> None:
        """A method call on a value the imports do not name: `.type(...)`, `.pin_memory()`."""
        if isinstance(func, cst.Attribute) and func.attr.value == "type" and len(node.args) == 1:
            self._tensor_type_call(node)
        elif isinstance(func, cst.Attribute) and func.attr.value == "pin_memory" and not node.args:
            self.add("pin-memory", func.attr, "pins host memory (.pin_memory())")

    def _side_effect_call(self, node: cst.Call, func: cst.BaseExpression, qn: str) -> None:
        """A CUDA-only call whose result is unused: guarded to run only on CUDA when it is a
        statement of its own outside any device-type guard."""
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

    def _legacy_constructor(self, node: cst.Call, func: cst.BaseExpression, qn: str) -> None:
        """torch.cuda.FloatTensor(...) -> torch.FloatTensor(...).to(_DEVICE)."""
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

    def _event_call(self, node: cst.Call, func: cst.BaseExpression) -> None:
        """torch.cuda.Event: the device module's Event when given positional arguments (which
        torch.Event does not take the same way), else torch.Event."""
        self._handled.add(id(func))
        if any(a.keyword is None for a in node.args):
            rewrite = Rewrite(
                key=id(func),
                build=lambda n: _attr("_DEVICE_MODULE.Event"),
                needs=frozenset({"_DEVICE_MODULE"}),
                description="_DEVICE_MODULE.Event",
            )
        else:
            rewrite = Rewrite(
                key=id(func), build=lambda n: _attr("torch.Event"), description="torch.Event"
            )
        self.add("cuda-sync", func, "creates a torch.cuda.Event", rewrite=rewrite)

    def _other_call(self, node: cst.Call, func: cst.BaseExpression, qn: str) -> None:
        """CUDA extensions, single-process DataParallel, torch.compile's CUDA-graph modes."""
        if qn in (
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
        """torch.cuda.amp.X: autocast/GradScaler take the device type first, custom_fwd/custom_bwd
        as `device_type=`; the call moves to torch.amp when it was spelled through torch."""
        name = qn.rsplit(".", 1)[1]
        self._handled.add(id(node.func))
        if name not in ("autocast", "GradScaler", "custom_fwd", "custom_bwd"):
            self.add("cuda-amp", node.func, f"uses torch.cuda.amp.{name}")
            return
        positional = name in ("autocast", "GradScaler")
        replace_func = (dotted_name(node.func) or "").startswith("torch.")
        self.add(
            "cuda-amp",
            node.func,
            f"uses torch.cuda.amp.{name}",
            rewrite=Rewrite(
                key=id(node),
                build=_amp_builder(
                    f"torch.amp.{name}" if replace_func else None,
                    kw=None if positional else "device_type",
                ),
                needs=frozenset({"_DEVICE_TYPE"}),
                description=f"torch.amp.{name}(_DEVICE_TYPE)"
                if positional
                else f"torch.amp.{name}",
            ),
        )

    def _isinstance_call(self, node: cst.Call) -> None:
        cls = node.args[1].value
        qn = self.qualname(cls)
        dtype = _legacy_dtype(qn)
        if dtype is None:
            return
        self._handled.add(id(cls))

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
        dtype = _legacy_dtype(qn)
        if dtype is None:
            return
        self._handled.add(id(arg))

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


def _legacy_dtype(qn: str | None) -> str | None:
    """The dtype of a legacy CUDA tensor type (`torch.cuda.FloatTensor` -> "float32"), else None."""
    if qn is None or not qn.startswith("torch.cuda."):
        return None
    return _TENSOR_TYPES.get(qn.rsplit(".", 1)[1])
