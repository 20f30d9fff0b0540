"""Time `wanka port scan` on a 50,000-line tree assembled from the real scripts in tests/port/data.

    python benchmarks/bench_port.py [--lines 50000]

The tree replicates the test-data scripts (unchanged) into numbered package directories until it holds
the requested number of lines, then times `wanka.port.scan` on it (the same code path as the CLI) and
prints lines/s. The acceptance bar is 50,000 lines in under 30 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from wanka.port.scan import scan

DATA = Path(__file__).resolve().parent.parent / "tests" / "port" / "data"


def build_tree(root: Path, lines: int) -> int:
    """Copy the test scripts into `root/pkgNNN/...` until at least `lines` lines; returns the count."""
    sources = sorted(p for p in DATA.rglob("*.py"))
    total, i = 0, 0
    while total < lines:
        for src in sources:
            dst = root / f"pkg{i:04d}" / src.relative_to(DATA)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            total += src.read_bytes().count(b"\n")
        i += 1
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=50_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wanka-bench-port-") as tmp:
        root = Path(tmp)
        n = build_tree(root, args.lines)
        t0 = time.perf_counter()
        result = scan(root)
        dt = time.perf_counter() - t0
        print(
            f"scanned {len(result.files)} files, {result.lines:,} lines ({n:,} copied), "
            f"{len(result.findings):,} findings, {len(result.errors)} errors in {dt:.2f} s: "
            f"{result.lines / dt:,.0f} lines/s"
        )
        return 0 if dt < 30 else 1


if __name__ == "__main__":
    sys.exit(main())
