"""The porting pass's rules on attributes and strings: torch.cuda.* attributes, `.is_cuda`, TF32
flags, "cuda" device strings, CUDA/NCCL environment variables."""

from __future__ import annotations

import libcst as cst

from wanka.port.builders import (
    _const_builder,
    _is_cuda_builder,
)
from wanka.port.constructs import (
    _ACCEL,
    _CAPABILITY_MANUAL,
    _DEVICE_STR,
    _ENV_VAR,
    _GRAPH,
    _MIRROR_RULE,
    _TENSOR_TYPES,
    Rewrite,
)
from wanka.port.cst_names import (
    _fstring_device,
    _string_value,
    dotted_name,
)
from wanka.port.rules import RULES, TARGETS
from wanka.port.visitor import _AnalyzerBase


class _AttrStringRules(_AnalyzerBase):
    """Rules matched on `cst.Attribute`, `cst.SimpleString` and `cst.FormattedString` nodes."""

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
