"""The new-user figures: bad inputs refused cleanly, tables readable at 80 columns, README runnable.

    python benchmarks/new_user.py            # from the repository root, `wanka` beside this python

1. every bad input of the new-user issue: exit 1, one `error:` line, under 20 s, no traceback,
   the read-only file unchanged;
2. the main tables at COLUMNS=80: no line cut with `…`, no line over 80;
3. every `wanka ...` command of the README's command table, run as written.

Also runs the issue's bad-input cases and the 80-column commands (the same lists as the contract
checks), so one run measures the "Done when" figures of the new-user issue. Timings are wall clock
on a shared machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = tempfile.mkdtemp(prefix="wanka-new-user-home-")


def readme_commands() -> list[str]:
    """Every `wanka ...` in backticks in the README's question/command table."""
    cmds = []
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("|") and "`wanka " in line:
            cmds += re.findall(r"`(wanka [^`]+)`", line)
    return cmds


def run(cmd: str, cwd: Path, timeout: float = 300) -> tuple[int, float, str]:
    t0 = time.monotonic()
    try:
        p = subprocess.run(
            f"exec {cmd}",  # exec: a timeout kills wanka itself, not only the shell
            shell=True,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={
                "COLUMNS": "80",
                "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
                "HOME": HOME,  # `platform init` keeps its database under ~/.wanka
            },
        )
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        rc, out = 124, ""
    return rc, time.monotonic() - t0, out


NARROW = [
    "wanka catalog list",
    "wanka catalog list --kind models",
    "wanka search --model llama3-70b --accelerator h100-sxm --count 64 --global-batch-size 512 --top 5",
    "wanka predict examples/llama3-70b-h100.yaml",
    "wanka plan examples/center-10k.yaml --no-report --top 5",
    "wanka fabric compare -n 1024 -a h100-sxm",
    "wanka port scan tests/port/data/nanogpt --target npu --target rocm",
    "wanka simulate --trace synthetic:200 --gpus 64",
]
BAD = [  # the cases; {bin} is 6,000 random bytes, {ro} a read-only Python file
    "wanka predict {bin}.yaml",
    "wanka validate {bin}.yaml",
    "wanka plan {bin}.yaml --no-report",
    "wanka sweep {bin}.yaml",
    "wanka search --model {bin}.json --accelerator h100-sxm --count 8 --global-batch-size 8",
    "wanka port report {bin}.py --run {bin}.yaml",
    "wanka port fix {bin}.py --target npu",
    "wanka predict {nan}",
    "wanka validate {nomeasure}",
    "wanka search --model megatron-1t --accelerator h100-sxm --count 8 --global-batch-size 8",
    "wanka simulate --trace synthetic:50 --gpus 1000000000000",
    "wanka simulate --trace synthetic:50 --gpus 64 --accelerator h100-sxn",
    "wanka fabric design -t fat-tree -n 1024 --link-gbit nan",
    "wanka fabric design -t fat-tree -n 1024 --link-gbit inf",
    "wanka collective --op all-reduce --bytes 1e30 --accelerator h100-sxm --gpus 8",
    "wanka collective --op all-reduce --bytes 1GiB --accelerator h100-sxm --gpus 1000000000000",
    "wanka port fix {ro} --target npu --write",
]
SPEC = """model: {preset: llama3-8b%s}
hardware: {accelerator: h100-sxm, count: 8}
parallelism: {tp: 1, pp: 1, dp: 8, micro_batch_size: 1, global_batch_size: 64}
"""


def bad_inputs(tmp: Path) -> int:
    """The issue's bad inputs: one `error:` line, exit 1, under 20 s, no traceback, no file changed."""
    noise = bytes(range(256)) * 24
    for ext in ("yaml", "json", "py"):
        (tmp / f"bin.{ext}").write_bytes(noise)
    (tmp / "nan.yaml").write_text(SPEC % ", seq_len: .nan")
    (tmp / "nomeasure.yaml").write_text(SPEC % "")
    ro = tmp / "ro.py"
    ro.write_text("import torch\nx = torch.randn(4).cuda()\n")
    ro.chmod(0o444)
    before = ro.read_bytes()
    names = {"bin": tmp / "bin", "nan": tmp / "nan.yaml", "nomeasure": tmp / "nomeasure.yaml"}
    bad = 0
    print("Bad input (the issue's list):")
    for case in BAD:
        cmd = case.format(**names, ro=ro)
        rc, s, out = run(cmd, ROOT, timeout=20)
        lines = [ln for ln in out.strip().splitlines() if ln.startswith("error:")]
        ok = rc == 1 and len(lines) == 1 and "Traceback" not in out and s < 20
        bad += not ok
        print(f"  {'ok ' if ok else 'BAD'} exit {rc:3d} {s:5.1f} s  {case}")
        print(f"        {lines[0] if lines else out.strip()[-120:]}")
    ok = ro.read_bytes() == before
    bad += not ok
    print(f"  read-only file unchanged: {ok}")
    print(f"bad input: {len(BAD) - bad} of {len(BAD)} refused cleanly")
    return bad


def narrow() -> int:
    bad = 0
    print("80 columns (COLUMNS=80): lines cut with '…', widest line")
    for cmd in NARROW:
        rc, _, out = run(cmd, ROOT)
        cut = sum("…" in ln for ln in out.splitlines())
        widest = max((len(ln) for ln in out.splitlines()), default=0)
        ok = rc == 0 and cut == 0 and widest <= 80
        bad += not ok
        print(f"  {'ok ' if ok else 'BAD'} exit {rc} cut {cut} widest {widest:3d}  {cmd}")
    return bad


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        failed = bad_inputs(Path(tmp)) + narrow()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        print("README commands (run from the repository root, COLUMNS=80):")
        for cmd in readme_commands():
            out_dir = f" --out {tmp}/plan" if cmd.startswith("wanka plan") else ""
            out_dir = f" --out {tmp}/sweep.csv" if cmd.startswith("wanka sweep") else out_dir
            out_dir = f" --out {tmp}/profile.yaml" if cmd.startswith("wanka profile") else out_dir
            server = " serve" in cmd  # a service: it should still be up after 15 s
            rc, s, out = run(cmd + out_dir, ROOT, timeout=15 if server else 300)
            cut = out.count("…")
            ok = (rc == 0 or (server and rc == 124)) and cut == 0 and "Traceback" not in out
            bad += not ok
            print(f"  {'ok ' if ok else 'BAD'} exit {rc:3d} {s:6.1f} s  cut {cut}  {cmd}")
    print(
        f"README: {len(readme_commands()) - bad} of {len(readme_commands())} commands run as written"
    )
    return 1 if bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
