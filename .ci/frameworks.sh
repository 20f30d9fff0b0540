#!/usr/bin/env bash
# The training frameworks' own argument checkers, for tests/frameworks: a separate venv with PyTorch
# (CPU build), megatron-core 0.16.1, on which Megatron-LM's pinned argument definitions
# (tests/frameworks/megatron_lm) run parse_args + validate_args over every export, and torchtitan 0.3.0
# with the packages its config registries import (tests/frameworks/torchtitan_check.py). Idempotent.
set -euo pipefail
venv=.ci/frameworks-venv
probe="import torch, megatron.core, torchtitan.models.llama3.config_registry, torchtitan.models.deepseek_v3.config_registry, torchao"
if ! "$venv/bin/python" -c "$probe" 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python -m venv "$venv"
  "$venv/bin/pip" install -q torch==2.13.0 numpy packaging pyyaml
  "$venv/bin/pip" install -q --no-deps megatron-core==0.16.1 torchtitan==0.3.0
  # torchtitan 0.3.0's own requirements that its config functions import (wandb and the checkpoint
  # and safetensors readers are not touched by the config parser); torchao for the fp8 converters.
  "$venv/bin/pip" install -q tyro==1.0.17 spmd_types==0.2.3 triton==3.9.0 tensorboard==2.21.0 \
    torchdata==0.11.0 tokenizers==0.23.3 "datasets>=3.6.0,<4.8.0" torchao==0.18.0
fi
"$venv/bin/python" -c "$probe" 2>/dev/null || { echo "frameworks venv did not come up" >&2; exit 1; }
