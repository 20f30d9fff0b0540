# Subset of Megatron-LM core_v0.16.1 megatron/training/utils.py: the functions arguments.py imports,
# copied verbatim (the rest of that module needs a GPU training runtime).
import warnings

import torch

from megatron.core._rank_utils import safe_get_rank as _safe_get_rank


def print_rank_0(message, rank=None):
    """If distributed is initialized or rank is specified, print only on rank 0."""
    if rank is not None:
        if rank == 0:
            print(message, flush=True)
    else:
        if _safe_get_rank() == 0:
            print(message, flush=True)


def warn_rank_0(message, rank=None):
    """If distributed is initialized or rank is specified, warn only on rank 0."""
    if rank is not None:
        if rank == 0:
            warnings.warn(message)
    else:
        if _safe_get_rank() == 0:
            warnings.warn(message)


def is_rank0():
    """Returns true if called in the rank0, false otherwise."""
    return _safe_get_rank() == 0


def get_device_arch_version():
    """Returns GPU arch version (8: Ampere, 9: Hopper, 10: Blackwell, ...)"""
    return torch.cuda.get_device_properties(torch.device("cuda:0")).major


def update_use_dist_ckpt(args):
    args.use_dist_ckpt = args.ckpt_format != "torch"
