#!/usr/bin/env bash
# The training frameworks' own argument checkers, for tests/frameworks: a separate venv with PyTorch
# (CPU build) and megatron-core 0.16.1, on which Megatron-LM's pinned argument definitions
# (tests/frameworks/megatron_lm) run parse_args + validate_args over every export. Idempotent.
set -euo pipefail
venv=.ci/frameworks-venv
if ! "$venv/bin/python" -c "import torch, megatron.core" 2>/dev/null; then
  python -m venv "$venv"
  "$venv/bin/pip" install -q torch==2.13.0 numpy packaging pyyaml
  "$venv/bin/pip" install -q --no-deps megatron-core==0.16.1
fi
"$venv/bin/python" -c "import torch, megatron.core" 2>/dev/null || { echo "frameworks venv did not come up" >&2; exit 1; }
