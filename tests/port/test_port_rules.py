"""Rule-by-rule checks of `wanka port` on small snippets: what is found, what is not, and the rewrites."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wanka.errors import ConfigError
from wanka.port import fix, scan
from wanka.port.fix import fix_code
from wanka.port.rules import RULES, TARGET_INFO, TARGETS


def _write(tmp_path: Path, code: str, name: str = "m.py") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(code))
    return p


def found(tmp_path: Path, code: str, target: str = "npu") -> list[tuple[int, str, str]]:
    """(line, rule, severity on target) for a snippet."""
    res = scan(_write(tmp_path, code), [target])
    assert not res.errors, res.errors
    return [(f.line, f.rule, f.targets[target]["severity"]) for f in res.findings]


def fixed(tmp_path: Path, code: str, target: str = "npu") -> str:
    """Fix a snippet in place; check it compiles, rescans without `breaks` and is idempotent."""
    p = _write(tmp_path, code)
    fix(p, target, write=True)
    new = p.read_text()
    compile(new, "m.py", "exec")
    res = scan(p, [target])
    assert [f for f in res.findings if f.targets[target]["severity"] == "breaks"] == [], new
    assert fix(p, target).diff() == ""
    return new


def test_rule_tables_cover_every_target():
    """Every rule says what it becomes and how bad it is on every target."""
    for rule in RULES.values():
        assert set(rule.severity) == set(TARGETS) == set(rule.becomes)
        assert set(rule.severity.values()) <= {"breaks", "degrades", "info"}
    assert TARGET_INFO["rocm"].device_type == "cuda"  # HIP keeps the device string


def test_contract_snippet(tmp_path):
    """The check-contracts example: findings on lines 4 and 5 only (not the docstring or comment)."""
    code = (
        '"""Train on cuda."""\nimport torch\n# move to cuda\nmodel = torch.nn.Linear(2, 2).cuda()\n'
        'torch.distributed.init_process_group("nccl")\n'
    )
    got = found(tmp_path, code)
    assert {ln for ln, _, _ in got} == {4, 5}
    assert {r for _, r, _ in got} == {"cuda-method", "nccl-backend"}


def test_device_neutral_code_is_not_reported(tmp_path):
    """torch.accelerator, torch.amp with a device_type variable and torch.get_device_module are fine."""
    code = """
        import torch
        dev = torch.accelerator.current_accelerator()
        n = torch.accelerator.device_count()
        with torch.amp.autocast(device_type=dev.type, dtype=torch.bfloat16):
            pass
        scaler = torch.amp.GradScaler(dev.type)
        torch.get_device_module(dev).synchronize()
        x = torch.ones(2, device=dev)
        msg = "we used to run on cuda"
    """
    assert found(tmp_path, code) == []


def test_guarded_branches_are_not_breaking(tmp_path):
    """Code under a CUDA device-type check is capped at info; the check itself is reported."""
    code = """
        import torch
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        def f(x, device):
            if device.type == "cuda":
                x = x.pin_memory()
            return x
    """
    got = found(tmp_path, code)
    by_line = {}
    for ln, rule, sev in got:
        by_line.setdefault(ln, []).append((rule, sev))
    assert ("cuda-sync", "info") in by_line[4]
    assert ("cuda-device-string", "info") in by_line[5]
    assert ("cuda-availability", "breaks") in by_line[3]
    assert ("device-type-compare", "degrades") in by_line[7]


def test_aliases_are_followed(tmp_path):
    """Imports under other names still resolve: dist, cudnn, amp names, torch.cuda as a module."""
    code = """
        import torch.distributed as dist
        import torch.backends.cudnn as cudnn
        from torch.cuda.amp import autocast, GradScaler
        from torch.distributed import init_process_group
        import torch.cuda as tc
        dist.init_process_group(backend="nccl")
        init_process_group("nccl")
        cudnn.benchmark = True
        scaler = GradScaler()
        with autocast(dtype=None):
            pass
        tc.synchronize()
    """
    rules = {(ln, r) for ln, r, _ in found(tmp_path, code)}
    assert {
        (7, "nccl-backend"),
        (8, "nccl-backend"),
        (9, "cudnn-flag"),
        (10, "cuda-amp"),
        (11, "cuda-amp"),
        (13, "cuda-sync"),
        (4, "cuda-amp"),
    } <= rules


def test_fix_rewrites_common_patterns(tmp_path):
    """The usual CUDA idioms become device-neutral code that rescans clean."""
    code = """
        # top comment
        import os
        import torch
        import torch.backends.cudnn as cudnn
        from torch.cuda.amp import autocast, GradScaler

        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)  # pick the GPU
        device = torch.device("cuda", local_rank)
        model = torch.nn.Linear(2, 2).cuda(local_rank)
        x = torch.ones(2).cuda(non_blocking=True)
        torch.distributed.init_process_group(backend="nccl")
        cudnn.benchmark = True  # autotune
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.cuda.manual_seed_all(0)
        scaler = GradScaler(enabled=True)
        with autocast(dtype=torch.float16):
            y = model(x)
        start = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        print(torch.cuda.max_memory_allocated() / 2**30, torch.cuda.device_count())
        ckpt = torch.load("ckpt.pt", map_location=f"cuda:{local_rank}")
        on_gpu = x.is_cuda
        torch.cuda.nvtx.range_push("step")
        torch.cuda.nvtx.range_pop()
    """
    new = fixed(tmp_path, code)
    for expected in (
        "torch.accelerator.set_device_index(local_rank)  # pick the GPU",
        "torch.device(_DEVICE_TYPE, local_rank)",
        ".to(torch.device(_DEVICE_TYPE, local_rank))",
        ".to(_DEVICE, non_blocking=True)",
        "init_process_group(backend=_DIST_BACKEND)",
        "if cudnn.is_available():\n    cudnn.benchmark = True  # autotune",
        'torch.set_float32_matmul_precision("high")',
        "_DEVICE_MODULE.manual_seed_all(0)",
        "from torch.amp import autocast, GradScaler",
        "GradScaler(_DEVICE_TYPE, enabled=True)",
        "autocast(_DEVICE_TYPE, dtype=torch.float16)",
        "torch.Event(enable_timing=True)",
        "torch.accelerator.synchronize()",
        "_DEVICE_MODULE.max_memory_allocated()",
        "torch.accelerator.device_count()",
        'f"{_DEVICE_TYPE}:{local_rank}"',
        '(x.device.type != "cpu")',
        'if _DEVICE_TYPE == "cuda":\n    torch.cuda.nvtx.range_push("step")',
        "import torch_npu  # noqa: F401",
        "# top comment",
    ):
        assert expected in new, expected
    assert new.index("_ACCELERATOR =") > new.index("import torch\n")


def test_fix_adds_import_torch_when_missing(tmp_path):
    """A module that never binds `torch` gets `import torch` before the preamble."""
    code = '"""Doc."""\nfrom __future__ import annotations\nfrom torch import nn\nm = nn.Linear(1, 1).cuda()\n'
    new = fixed(tmp_path, code, "xpu")
    assert new.startswith('"""Doc."""\nfrom __future__ import annotations\nfrom torch import nn\n')
    assert "import torch\n" in new and "torch_npu" not in new


def test_unfixable_sites_are_reported_with_the_alternative(tmp_path):
    """flash_attn, CUDA extensions and CUDA graphs stay as they are and are listed with the alternative."""
    code = """
        import torch
        from flash_attn import flash_attn_func
        from torch.utils.cpp_extension import load
        ext = load(name="k", sources=["k.cpp", "k.cu"])
        g = torch.cuda.CUDAGraph()
    """
    p = _write(tmp_path, code)
    res = fix(p, "npu")
    manual = {m.rule: m.alternative for f in res.files for m in f.manual}
    assert "npu_fusion_attention" in manual["cuda-only-package"]
    assert "Ascend C" in manual["cuda-extension"]
    assert "NPUGraph" in manual["cuda-graph"]
    assert "flash_attn_func" in p.read_text()


def test_import_fallback_degrades(tmp_path):
    """A CUDA-only import inside try/except ImportError only degrades."""
    code = """
        try:
            import xformers.ops as xops
        except ImportError:
            xops = None
        import bitsandbytes
    """
    got = found(tmp_path, code)
    assert (3, "cuda-only-package", "degrades") in got
    assert (6, "cuda-only-package", "breaks") in got


def test_strings_only_match_whole_device_names(tmp_path):
    """Help texts mentioning CUDA are not device strings; env vars and nvidia-smi are their own rules."""
    code = """
        import os, subprocess
        HELP = "use cuda if you can"
        os.environ["CUDA_VISIBLE_DEVICES"] = "0"
        subprocess.run("nvidia-smi")
        dev = "cuda:1"
    """
    got = {(ln, r) for ln, r, _ in found(tmp_path, code)}
    assert got == {(4, "cuda-env-var"), (5, "nvidia-smi"), (6, "cuda-device-string")}


def test_rocm_keeps_cuda_code(tmp_path):
    """On ROCm, torch.cuda and "cuda" work as they are: nothing breaks."""
    code = 'import torch\nx = torch.ones(1).cuda()\ntorch.cuda.synchronize()\nd = "cuda:0"\n'
    assert {sev for _, _, sev in found(tmp_path, code, "rocm")} == {"info"}


def test_notebook_scan_and_fix(tmp_path):
    """Notebooks: findings carry the cell; magics survive a rewrite; the preamble lands in the torch cell."""
    import json

    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# uses cuda"]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": ["!nvidia-smi\n", "import torch\n", "%matplotlib inline"],
            },
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": [
                    "# comment about cuda\n",
                    "x = torch.ones(3).cuda()\n",
                    "torch.cuda.synchronize()",
                ],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    p = tmp_path / "nb.ipynb"
    p.write_text(json.dumps(nb))
    res = scan(p, ["npu"])
    assert [(f.cell, f.line, f.rule) for f in res.findings] == [
        (2, 2, "cuda-method"),
        (2, 3, "cuda-sync"),
    ]
    fix(p, "npu", write=True)
    new = json.loads(p.read_text())
    first, second = "".join(new["cells"][1]["source"]), "".join(new["cells"][2]["source"])
    assert first.startswith("!nvidia-smi\nimport torch\n") and "%matplotlib inline" in first
    assert "_DEVICE =" in first
    assert "x = torch.ones(3).to(_DEVICE)" in second and "# comment about cuda" in second
    assert fix(p, "npu").diff() == ""
    assert not [f for f in scan(p, ["npu"]).findings if f.severity == "breaks"]


def test_syntax_error_is_located_and_others_still_scanned(tmp_path):
    """A file that does not parse is an error entry with line and column; the rest is scanned."""
    (tmp_path / "good.py").write_text("import torch\nx = torch.ones(1).cuda()\n")
    (tmp_path / "bad.py").write_text("import torch\n\ndef f(:\n    pass\n")
    res = scan(tmp_path)
    assert [(e.file, e.line) for e in res.errors] == [("bad.py", 3)]
    assert [f.file for f in res.findings] == ["good.py"]
    fres = fix(tmp_path, "npu", write=True)
    assert [e.file for e in fres.errors] == ["bad.py"]
    assert "to(_DEVICE)" in (tmp_path / "good.py").read_text()
    assert (tmp_path / "bad.py").read_text() == "import torch\n\ndef f(:\n    pass\n"


def test_unknown_target_and_missing_path(tmp_path):
    with pytest.raises(ConfigError, match="unknown target 'tpu'"):
        fix(tmp_path, "tpu")
    with pytest.raises(ConfigError, match="no such file"):
        scan(tmp_path / "nope")


def test_write_is_atomic(tmp_path, monkeypatch):
    """If the final rename fails, the original file is intact and no temporary file is left."""
    import os

    p = _write(tmp_path, "import torch\nx = torch.ones(1).cuda()\n")
    old = p.read_text()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        fix(p, "npu", write=True)
    assert p.read_text() == old
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.py"]


_LINES = [
    "x = torch.ones(2).cuda()",
    "torch.cuda.synchronize()",
    "dev = torch.device('cuda:0')",
    "torch.backends.cudnn.benchmark = True",
    "if torch.cuda.is_available():\n    torch.cuda.manual_seed(1)",
    "torch.distributed.init_process_group('nccl')",
    "y = 'cuda' if torch.cuda.is_available() else 'cpu'",
    "s = torch.cuda.amp.GradScaler()",
    "# a comment about cuda",
    "print(torch.cuda.memory_allocated())",
    "z = x.cuda(non_blocking=True) if x.is_cuda else x",
    "r = f'cuda:{3}'",
]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(_LINES), min_size=1, max_size=6), st.sampled_from(TARGETS))
def test_fix_properties(lines, target):
    """Any mix of idioms: the fix compiles, is idempotent and leaves nothing that breaks."""
    code = "import torch\n" + "\n".join(lines) + "\n"
    _, new, _, _ = fix_code(code, target)
    text = new.code
    compile(text, "m.py", "exec")
    _, again, sites, _ = fix_code(text, target)
    assert again.code == text
    assert not [s for s in sites if s.severity[target] == "breaks"]


def test_fix_rewrites_legacy_and_formatted_forms(tmp_path):
    """printf/format device strings, Backend.NCCL, legacy tensor types and amp decorators are rewritten."""
    code = """
        import torch
        import torch.distributed as dist
        from torch.cuda.amp import custom_fwd
        dev = "cuda:%d" % 3
        dev2 = "cuda:{}".format(1)
        b = dist.Backend.NCCL
        x = torch.cuda.LongTensor([1, 2])
        y = x.type('torch.cuda.FloatTensor')

        class F(torch.autograd.Function):
            @staticmethod
            @custom_fwd
            def forward(ctx, a):
                return a

            @staticmethod
            @torch.cuda.amp.custom_bwd
            def backward(ctx, g):
                return g
    """
    new = fixed(tmp_path, code, "mlu")
    for expected in (
        'f"{_DEVICE_TYPE}:%d" % 3',
        'f"{_DEVICE_TYPE}:{{}}".format(1)',
        "b = _DIST_BACKEND",
        "torch.LongTensor([1, 2]).to(_DEVICE)",
        "x.to(device=_DEVICE, dtype=torch.float32)",
        "@custom_fwd(device_type=_DEVICE_TYPE)",
        "@torch.amp.custom_bwd(device_type=_DEVICE_TYPE)",
        "import torch_mlu  # noqa: F401",
    ):
        assert expected in new, expected
    ns: dict = {}
    exec(compile('dev = f"{_DEVICE_TYPE}:%d" % 3', "x", "exec"), {"_DEVICE_TYPE": "mlu"}, ns)
    assert ns["dev"] == "mlu:3"


def test_preamble_cpu_fallback_is_not_a_finding(tmp_path):
    """The generated preamble names torch.cuda only as the no-accelerator fallback: never reported."""
    new = fixed(tmp_path, "import torch\ntorch.cuda.empty_cache()\n", "npu")
    assert "else torch.cuda" in new and "_DEVICE_MODULE.empty_cache()" in new


def test_adjacent_guards_are_merged(tmp_path):
    """Consecutive cuDNN flags share one `if cudnn.is_available():`; a comment between them is kept."""
    code = """
        import torch.backends.cudnn as cudnn
        cudnn.benchmark = True  # fast
        cudnn.deterministic = False
        # keep this comment
        cudnn.enabled = True
    """
    new = fixed(tmp_path, code)
    assert (
        "if cudnn.is_available():\n    cudnn.benchmark = True  # fast\n    cudnn.deterministic = False\n"
        "# keep this comment\nif cudnn.is_available():\n    cudnn.enabled = True\n" in new
    )
