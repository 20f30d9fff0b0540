#!/usr/bin/env bash
# All ten Microsoft ITP clusters (69,351 jobs) on 2,048 GPUs: FIFO vs Tiresias (< 60 s each).
set -euo pipefail
wanka simulate compare --policies fifo,tiresias,fifo-backfill \
  --trace builtin:microsoft-itp-elasticflow/raw --gpus 2048 --gpus-per-node 8 "$@"
