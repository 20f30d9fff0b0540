"""The libcst pass that finds CUDA-specific constructs in one Python module and plans their rewrites.

One visitor does both jobs: every match becomes a `Site` (rule, position, per-target severity) and, when
a safe device-neutral rewrite exists, carries a `Rewrite` that `wanka.port.fix` applies bottom-up.

Names are resolved through the module's own imports (``import torch.distributed as dist``,
``from torch.cuda.amp import autocast``), so aliases are followed without executing anything.
Comments are never visited (libcst keeps them as whitespace) and string statements (docstrings) are
skipped. Code under a CUDA device-type check (``if torch.cuda.is_available():``,
``if device.type == "cuda":``, the true branch of ``'cuda' if ... else 'cpu'``) is capped at severity
``info``: it is written for several devices already. Imports of CUDA-only packages inside
``try: ... except ImportError:`` are capped at ``degrades``.
"""

from __future__ import annotations

from wanka.port.builders import CREATED_GUARDS
from wanka.port.calls import _CallRules
from wanka.port.constructs import PREAMBLE_NAMES, Rewrite, Site
from wanka.port.cst_names import collect_aliases, dotted_name
from wanka.port.strings import _AttrStringRules

__all__ = [
    "CREATED_GUARDS",
    "PREAMBLE_NAMES",
    "Analyzer",
    "Rewrite",
    "Site",
    "collect_aliases",
    "dotted_name",
]


class Analyzer(_CallRules, _AttrStringRules):
    """Collect `Site`s (and their rewrites) for one module; run it through a MetadataWrapper.

    The rules live by the kind of node they match: `visitor` (statements, imports, assignments and
    the guards), `calls` (calls and arguments), `strings` (attributes and strings).
    """
