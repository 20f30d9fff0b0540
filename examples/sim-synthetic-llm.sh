#!/usr/bin/env bash
# 1,000,000 synthetic LLM training/inference jobs on 10,240 H100 (< 5 minutes, FIFO).
set -euo pipefail
wanka simulate --trace synthetic:1000000 --gpus 10240 --gpus-per-node 8 \
  --accelerator h100-sxm --policy fifo --json "$@"
