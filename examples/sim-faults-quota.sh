#!/usr/bin/env bash
# Tenant quotas with borrowing/reclaim, node failures (MTBF 2,000 node-hours), 4 seeds.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
wanka simulate --trace builtin:microsoft-itp-elasticflow/raw --cluster "$HERE"/cluster-tenants.yaml \
  --policy quota --node-mtbf-h 2000 --checkpoint-interval-s 1800 --seeds 4 "$@"
