"""wanka (万卡): plan, build, share and port ten-thousand-accelerator AI compute centres.

Library layers (lower never imports higher): units, errors < catalogs, hardware, workload <
topology, cluster, parallel < perf < search, sim, port < plan < report < cli.
"""

__version__ = "0.1.0"
