#!/usr/bin/env bash
# One Pollux workload (160 jobs) on the artifact's 64-GPU cluster, every policy, with plots.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
wanka simulate compare --policies fifo,fifo-backfill,sjf,tiresias,gavel,quota \
  --trace builtin:philly-pollux/workloads/workload-1.csv.gz \
  --cluster "$HERE"/cluster-pollux.yaml --plots sim-pollux-plots "$@"
