"""Copy+verify throughput of `wanka data copy` against `cp -r` (local) and `rclone copy` (S3).

    python benchmarks/bench_data.py [--gib 1.0] [--repeats 2] [--s3-repeats 1]

Generates one tree of mixed file sizes (by default 1 GiB: 2 x 256 MiB, 64 x 4 MiB, 512 x 384 KiB,
2048 x 32 KiB) in a temp dir, registers it, then in the same run, alternating and best of `repeats`:

1. local: `cp -r` of the tree vs `wanka data copy` to a fresh directory. wanka's figure includes
   verifying every file against the manifest (it hashes the destination bytes before renaming each
   into place); cp verifies nothing.
2. S3 (moto's server on 127.0.0.1, started here): `rclone copy` to a bucket vs `wanka data copy`
   to another bucket. wanka's figure includes reading every object back and hashing it; rclone's
   does not, so `rclone copy` + `rclone check --download` is also timed for the like-for-like case.

Both sides run as processes; for the local case the ratio is also given less wanka's program start
(`wanka --help`), as ../shared/tools/check-data does. Times are wall clock on a shared machine: read
the RATIOS, which compare tools measured seconds apart under the same load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

SIZES_MIB = [(2, 256.0), (64, 4.0), (512, 0.375), (2048, 1 / 32)]  # (count, MiB): 1 GiB in all


def make_tree(root: Path, scale: float) -> int:
    rnd = os.urandom(1 << 20)
    total = 0
    for kind, (count, mib) in enumerate(SIZES_MIB):
        n = max(1, round(count * scale))
        size = int(mib * (1 << 20))
        for i in range(n):
            d = root / f"kind{kind}" / f"d{i % 16:02d}"
            d.mkdir(parents=True, exist_ok=True)
            with open(d / f"f{i:05d}.bin", "wb") as f:
                left = size
                f.write(i.to_bytes(8, "little"))  # every file different
                left -= 8
                while left > 0:
                    f.write(rnd[: min(left, len(rnd))])
                    left -= min(left, len(rnd))
            total += size
    return total


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    os.sync()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t


def start_moto() -> tuple[subprocess.Popen, str]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    p = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url, timeout=1)
            return p, url
        except urllib.error.HTTPError:
            return p, url
        except OSError:
            time.sleep(0.25)
    p.kill()
    raise SystemExit("moto server did not come up")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0, help="tree size in GiB (file counts scale)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--s3-repeats", type=int, default=1, help="S3 runs (each moves the tree 3 times)"
    )
    ap.add_argument("--no-s3", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wanka-bench-data-"))
    moto = None
    try:
        src = tmp / "tree"
        total = make_tree(src, a.gib)
        nfiles = sum(len(fs) for _, _, fs in os.walk(src))
        db = f"sqlite:///{tmp / 'registry.db'}"
        wk = [sys.executable, "-m", "wanka.cli.main", "data"]
        subprocess.run(
            [*wk, "register", str(src), "--name", "b", "--version", "1", "--db", db],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"tree: {nfiles} files, {total / 2**30:.2f} GiB; best of {a.repeats}, alternating")
        cp_t, wk_t, start_t = [], [], []
        for k in range(a.repeats):
            start_t.append(timed([sys.executable, "-m", "wanka.cli.main", "--help"]))
            cp_t.append(timed(["cp", "-r", str(src), str(tmp / f"cp{k}")]))
            shutil.rmtree(tmp / f"cp{k}")
            wk_t.append(timed([*wk, "copy", "b@1", str(tmp / f"wk{k}"), "--db", db]))
            shutil.rmtree(tmp / f"wk{k}")
        cp_s, wk_s, start_s = min(cp_t), min(wk_t), min(start_t)
        gib = total / 2**30
        print(f"wanka program start (wanka --help)    {start_s:7.2f} s")
        print(f"local  cp -r             {cp_s:7.2f} s  {gib / cp_s:6.2f} GiB/s")
        print(
            f"local  wanka copy+verify {wk_s:7.2f} s  {gib / wk_s:6.2f} GiB/s  "
            f"ratio {wk_s / cp_s:.2f}x the time of cp -r, "
            f"{(wk_s - start_s) / cp_s:.2f}x less program start"
        )
        if a.no_s3:
            return
        if not shutil.which("rclone"):
            print("S3: rclone is not on PATH (apt-get install rclone); S3 comparison not run")
            return
        moto, url = start_moto()
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
        )
        env.update(
            RCLONE_CONFIG_M_TYPE="s3",
            RCLONE_CONFIG_M_PROVIDER="Other",
            RCLONE_CONFIG_M_ENDPOINT=url,
            RCLONE_CONFIG_M_ACCESS_KEY_ID="bench",
            RCLONE_CONFIG_M_SECRET_ACCESS_KEY="bench",
            RCLONE_CONFIG_M_REGION="us-east-1",
        )
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            region_name="us-east-1",
        )
        rc_t, rcc_t, ws_t = [], [], []
        for k in range(a.s3_repeats):
            for b in (f"rc{k}", f"wk{k}"):
                s3.create_bucket(Bucket=b)
            rc_t.append(timed(["rclone", "copy", str(src), f"m:rc{k}/t", "--transfers", "4"], env))
            rcc_t.append(
                rc_t[-1] + timed(["rclone", "check", "--download", str(src), f"m:rc{k}/t"], env)
            )
            ws_t.append(
                timed(
                    [
                        *wk,
                        "copy",
                        "b@1",
                        f"s3://wk{k}/t",
                        "--endpoint-url",
                        url,
                        "--db",
                        db,
                        "--workers",
                        "4",
                    ],
                    env,
                )
            )
        rc_s, rcc_s, ws_s = min(rc_t), min(rcc_t), min(ws_t)
        print(f"S3     rclone copy             {rc_s:7.2f} s  {gib / rc_s:6.2f} GiB/s")
        print(f"S3     rclone copy + check --download {rcc_s:7.2f} s")
        print(
            f"S3     wanka copy+verify       {ws_s:7.2f} s  {gib / ws_s:6.2f} GiB/s  "
            f"ratio {ws_s / rc_s:.2f}x rclone copy, {ws_s / rcc_s:.2f}x rclone copy+check "
            "(program start included on both sides)"
        )
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
