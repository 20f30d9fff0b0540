"""The exception hierarchy. The CLI catches `WankaError` only; anything else is a bug.

WankaError
 ├── ConfigError        bad user input: a spec file, an option, a size
 ├── CatalogError       unknown id or malformed catalog data
 ├── InfeasiblePlan     a plan that cannot run (divisibility, memory); expected during search
 ├── SimulationError    a simulator state that cannot proceed
 └── DataError          a dataset copy or replica that does not match its manifest
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConfigError",
    "DataError",
    "InfeasiblePlan",
    "SimulationError",
    "WankaError",
]


class WankaError(Exception):
    """Root of every error wanka raises on purpose; the message is one line meant for the user."""


class ConfigError(WankaError, ValueError):
    """Raised for bad user input: a spec file, a command-line option or a size."""


class CatalogError(WankaError, KeyError):
    """Raised for an unknown catalog id or malformed catalog data."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it one plain line
        return str(self.args[0]) if self.args else ""


class InfeasiblePlan(WankaError):
    """Raised when a parallel plan cannot run (divisibility or memory)."""


class SimulationError(WankaError):
    """Raised when the scheduling simulator cannot proceed."""


class DataError(WankaError):
    """Raised when a dataset, a copy or a replica does not match its manifest, or cannot be written."""
