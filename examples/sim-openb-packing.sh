#!/usr/bin/env bash
# Alibaba openb pods on a 1/16-scale openb cluster with arrivals compressed 33x:
# topology-aware packing vs naive first-fit.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
wanka simulate compare --policies fifo-backfill,tiresias --placement packed,first-fit \
  --trace builtin:alibaba-gpu-2023-openb/openb_pod_list_default.csv.gz \
  --cluster "$HERE"/cluster-openb-mini.yaml --arrival-scale 0.03 "$@"
