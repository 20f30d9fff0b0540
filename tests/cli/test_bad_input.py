"""Every bad input a new user tried: a one-line `error:`, exit 1, no traceback, no file changed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()

SPEC = """model: {preset: llama3-8b%s}
hardware: {accelerator: h100-sxm, count: 8}
parallelism: {tp: 1, pp: 1, dp: 8, micro_batch_size: 1, global_batch_size: 64}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = __import__("random").Random(7)
    noise = bytes(rng.randrange(256) for _ in range(6000))
    out = {}
    for name in ("bin.yaml", "bin.json", "bin.py"):
        (tmp_path / name).write_bytes(noise)
        out[name] = tmp_path / name
    (tmp_path / "latin1.yaml").write_bytes("model: {name: caf\xe9}\n".encode("latin-1"))
    out["latin1.yaml"] = tmp_path / "latin1.yaml"
    (tmp_path / "nan.yaml").write_text(SPEC % ", seq_len: .nan")
    out["nan.yaml"] = tmp_path / "nan.yaml"
    (tmp_path / "inf.json").write_text('{"model": {"preset": "llama3-8b", "seq_len": Infinity}}')
    out["inf.json"] = tmp_path / "inf.json"
    (tmp_path / "emptylist.yaml").write_text("[]\n")
    out["emptylist.yaml"] = tmp_path / "emptylist.yaml"
    (tmp_path / "nomeasure.yaml").write_text(SPEC % "")
    out["nomeasure.yaml"] = tmp_path / "nomeasure.yaml"
    ro = tmp_path / "ro.py"
    ro.write_text("import torch\nx = torch.randn(4).cuda()\n")
    ro.chmod(0o444)
    out["ro.py"] = ro
    out["dir"] = tmp_path
    return out


CASES = [
    # (argv with {name} placeholders, a phrase the one-line error must hold)
    ("predict {bin.yaml}", "binary file"),
    ("predict {latin1.yaml}", "not UTF-8"),
    ("predict {nan.yaml}", "model.seq_len is not a finite number"),
    ("predict {inf.json}", "not a finite number"),
    ("predict {dir}", "is a directory"),
    ("predict {emptylist.yaml}", "empty list"),  # before: nothing printed, exit 0
    ("serve predict {emptylist.yaml}", "empty list"),
    ("validate {bin.yaml}", "binary file"),
    ("validate {nomeasure.yaml}", "no run has a `measured` block"),
    ("plan {bin.yaml} --no-report", "binary file"),
    ("sweep {bin.yaml}", "binary file"),
    (
        "search --model {bin.json} --accelerator h100-sxm --count 8 --global-batch-size 8",
        "binary file",
    ),
    ("port report {bin.py} --run {bin.yaml}", "binary file"),
    ("port fix {bin.py} --target npu", "binary"),
    ("port fix {ro.py} --target npu --write", "read-only"),
    (
        "search --model megatron-1t --accelerator h100-sxm --count 8 --global-batch-size 8",
        "binding constraint memory",
    ),
    ("simulate --trace synthetic:50 --gpus 1000000000000", "at most 1e+07"),
    ("simulate --trace synthetic:50 --gpus 64 --accelerator h100-sxn", "closest: h100-sxm"),
    ("fabric design -t fat-tree -n 1024 --link-gbit nan", "finite"),
    ("fabric design -t fat-tree -n 1024 --link-gbit inf", "finite"),
    ("fabric design -t fat-tree -n 1024 --link-gbit -400", "positive"),
    ("collective --op all-reduce --bytes 1e30 --accelerator h100-sxm --gpus 8", "1 PiB"),
    (
        "collective --op all-reduce --bytes 1GiB --accelerator h100-sxm --gpus 1000000000000",
        "at most 1e+07",
    ),
]


def _argv(template: str, files: dict[str, Path]) -> list[str]:
    return [
        str(files[w[1:-1]]) if w.startswith("{") and w.endswith("}") else w
        for w in template.split()
    ]


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(("template", "phrase"), CASES, ids=[c[0].split("{")[0] for c in CASES])
def test_bad_input_is_one_line_exit_1(files, template, phrase):
    """One `error:` line naming the problem, exit 1, no exception escaping, no file changed."""
    before = _digest(files["dir"])
    r = runner.invoke(app, _argv(template, files))
    assert r.exit_code == 1, (r.exit_code, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), r.stderr
    assert phrase in err[0], err[0]
    assert "Traceback" not in r.output
    assert _digest(files["dir"]) == before


def test_bad_input_in_a_real_process_is_quick(files):
    """The installed script, as a user runs it: a binary spec fails in well under 20 s, no traceback."""
    t0 = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-m", "wanka.cli.main", "predict", str(files["bin.yaml"])],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith("error:") and len(p.stderr.strip().splitlines()) == 1
    assert time.monotonic() - t0 < 20


def test_usage_error_is_exit_2():
    """A usage error (unknown option) is exit 2, as the README states."""
    r = runner.invoke(app, ["predict", "--no-such-option"])
    assert r.exit_code == 2
