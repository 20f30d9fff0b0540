"""Units: SI inside (seconds, bytes, FLOP, FLOP/s, bytes/s, watts, USD); converters for the edges.

GB = 1e9 bytes, GiB = 2**30 bytes. Catalogs and the CLI speak TFLOP/s, GB/s and Gb/s; everything
else speaks base units.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from wanka.errors import ConfigError

__all__ = [
    "GB",
    "KB",
    "MB",
    "PETA",
    "TB",
    "TERA",
    "GiB",
    "KiB",
    "MiB",
    "TiB",
    "difflib_closest",
    "gb_per_s",
    "gbit_per_s",
    "leading_word",
    "parse_size",
    "squash",
    "tflops",
    "unambiguous",
    "without_remarks",
]

KB, MB, GB, TB = 1e3, 1e6, 1e9, 1e12
KiB, MiB, GiB, TiB = 2**10, 2**20, 2**30, 2**40
TERA, PETA = 1e12, 1e15


def tflops(x: float) -> float:
    """TFLOP/s to FLOP/s."""
    return x * TERA


def gb_per_s(x: float) -> float:
    """GB/s (1e9 bytes per second) to bytes/s."""
    return x * GB


def gbit_per_s(x: float) -> float:
    """Gb/s (1e9 bits per second) to bytes/s."""
    return x * 1e9 / 8


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": KB,
    "kb": KB,
    "m": MB,
    "mb": MB,
    "g": GB,
    "gb": GB,
    "t": TB,
    "tb": TB,
    "kib": KiB,
    "mib": MiB,
    "gib": GiB,
    "tib": TiB,
}
_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | float) -> int:
    """Parse a byte count: a number of bytes, or with a unit (`512MB`, `8GiB`, `1.5e9`).

    >>> parse_size("8GiB")
    8589934592
    >>> parse_size(1024)
    1024
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _SIZE_RE.match(str(text))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _SIZE_UNITS:
            raise ConfigError(
                f"cannot read size {text!r}: give bytes or a number with a unit "
                "such as 512MB, 8GiB, 1.5GB"
            )
        value = float(m.group(1)) * _SIZE_UNITS[unit]
    if value <= 0:
        raise ConfigError(f"size must be positive, got {text!r}")
    return int(round(value))


def squash(text: str) -> str:
    """Lower case without separators ("Llama-3.1-405B" -> "llama3.1405b", "Gaudi 3" -> "gaudi3"):
    names written different ways compare alike."""
    return re.sub(r"[^a-z0-9.]", "", text.lower())


def without_remarks(text: str) -> str:
    """A published name without its bracketed remarks: "Llama-2-70B-chat (MLPerf llama2-70b)" ->
    "Llama-2-70B-chat  ", "H100 (SXM5)" -> "H100  "."""
    return re.sub(r"\(.*?\)", " ", text)


def unambiguous(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """key -> value from (key, value) pairs, leaving out empty keys and keys paired with two
    different values (so no lookup is ambiguous)."""
    seen: dict[str, set[str]] = {}
    for key, value in pairs:
        seen.setdefault(key, set()).add(value)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1 and k}


def difflib_closest(name: str, choices: list[str] | tuple[str, ...], n: int = 3) -> str:
    """A ' (closest: a, b)' hint naming the valid ids nearest to `name`, or the first few ids."""
    import difflib

    prefixed = sorted(
        c for c in choices if c.startswith(name) and c != name
    )  # "h100" -> "h100-sxm"
    close = prefixed[:n] + [
        c
        for c in difflib.get_close_matches(name, list(choices), n=n, cutoff=0.3)
        if c not in prefixed
    ]
    close = close[:n]
    if not close:
        close = sorted(choices)[:n]
    return f" (closest: {', '.join(close)})"


def leading_word(text: object) -> str:
    """The first word of a free-text field, lower case: "Server (Poisson)" -> "server",
    "FP8 (blockwise)" -> "fp8", "W8A8/FP8" -> "w8a8"."""
    return re.split(r"[\s(,;/]+", str(text).strip().lower(), maxsplit=1)[0]
